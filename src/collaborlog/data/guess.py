"""``collaborlog init``: guess a dataset YAML from a sample of a log, and show what it reads.

The guess walks the first whitespace-separated tokens of the sampled lines, column by column: a
timestamp of a common shape, a log level, a ``[bracketed]`` part, a ``component:`` before the
message, and plain header fields between them; the rest of the line is the content. A column is
taken as one of these when most sampled lines agree (:data:`AGREEMENT`), so a few odd lines stay
unmatched (and counted) instead of spoiling the format for the rest. The sequences are sessions
when one id-like key occurs in most lines, else windows. The YAML is written with comments that
say what each guess rests on, then loaded back on the sample so mistakes show before training.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from collaborlog.data.config import DatasetConfig, TimestampSpec, parse_model
from collaborlog.data.dataset import Dataset, load_dataset
from collaborlog.data.levels import normalize
from collaborlog.data.readers import SNIFF_BYTES, format_regex, parse_timestamps, refuse_binary, without_padding
from collaborlog.errors import CollaborLogError

SAMPLE_LINES = 2_000
AGREEMENT = 0.95
"""Share of the sampled lines that must agree for a column to be read as a timestamp, level, etc."""
SESSION_SHARE = 0.5
"""A session key must occur in more than this share of the sampled lines ("most lines")."""
MIN_LINES_PER_SESSION = 2.0
"""...and its ids must span this many lines on average: a sample can cut long sessions into one-line stubs."""
MAX_HEADER_TOKENS = 12
WINDOW_LINES = 10
"""Lines per window: count windows hold this many, time windows this many on average."""
BURST_FACTOR = 10
"""Time windows are dropped for count windows when one would hold this many times the average."""
_NICE_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
_YMD = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"


@dataclass(frozen=True)
class TimestampShape:
    """A timestamp spread over ``len(tokens)`` whitespace tokens, each matching its regex."""

    description: str
    tokens: tuple[str, ...]
    fields: tuple[str, ...]
    format: str
    rank: int
    """Preferred when several shapes fit: a full date and time (3) over epoch seconds (2) over a
    syslog stamp without year (1) over a date alone (0)."""


TIMESTAMP_SHAPES = (
    TimestampShape("date and time with comma milliseconds (2015-07-29 17:41:44,747)",
                   (_YMD, _TIME + r",\d{1,6}"), ("Date", "Time"), "%Y-%m-%d %H:%M:%S,%f", 3),
    TimestampShape("date and time with fractional seconds (2017-05-16 00:00:00.008)",
                   (_YMD, _TIME + r"\.\d{1,6}"), ("Date", "Time"), "%Y-%m-%d %H:%M:%S.%f", 3),
    TimestampShape("date and time (2015-07-29 17:41:44)", (_YMD, _TIME), ("Date", "Time"), "%Y-%m-%d %H:%M:%S", 3),
    TimestampShape("ISO 8601 date-time (2015-07-29T17:41:44Z)",
                   (_YMD + r"T" + _TIME + r"(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?",), ("Timestamp",), "auto", 3),
    TimestampShape("compact yymmdd hhmmss (081109 203518)",
                   (r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])", r"(?:[01]\d|2[0-3])[0-5]\d[0-5]\d"),
                   ("Date", "Time"), "%y%m%d %H%M%S", 3),
    TimestampShape("yy/mm/dd hh:mm:ss (17/06/09 20:10:40)", (r"\d{2}/(?:0[1-9]|1[0-2])/\d{2}", _TIME),
                   ("Date", "Time"), "%y/%m/%d %H:%M:%S", 3),
    TimestampShape("yyyy/mm/dd hh:mm:ss (2017/06/09 20:10:40)", (r"\d{4}/(?:0[1-9]|1[0-2])/\d{2}", _TIME),
                   ("Date", "Time"), "%Y/%m/%d %H:%M:%S", 3),
    TimestampShape("dotted date-time (2005-06-03-15.42.50.675872)",
                   (_YMD + r"-(?:[01]\d|2[0-3])\.[0-5]\d\.[0-5]\d\.\d{1,6}",), ("Timestamp",), "%Y-%m-%d-%H.%M.%S.%f", 3),
    TimestampShape("unix epoch seconds (1117838570)", (r"[1-3]\d{8,9}(?:\.\d+)?",), ("Timestamp",), "unix", 2),
    TimestampShape("syslog month day time, no year (Jun 14 15:16:01)", (f"(?:{_MONTHS})", r"\d{1,2}", _TIME),
                   ("Month", "Day", "Time"), "%b %d %H:%M:%S", 1),
    TimestampShape("date alone (2005-06-03)", (_YMD,), ("Date",), "%Y-%m-%d", 0),
)

SESSION_KEYS = (
    ("HDFS-style block id", r"blk_-?\d+"),
    ("request id", r"req-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"),
    ("UUID", r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    ("YARN application id", r"application_\d+_\d+"),
    ("YARN container id", r"container_\d+_\d+_\d+_\d+"),
    ("MapReduce job id", r"job_\d+_\d+"),
)
"""Id-like keys a session can hang on, most specific first (a request id also holds a UUID)."""


@dataclass(frozen=True)
class Column:
    """One part of the guessed format, and the evidence for it (a comment in the YAML)."""

    text: str
    """As written in the format string, e.g. ``<Level>`` or ``\\[<Context>\\]``."""
    why: str


@dataclass
class Guess:
    """The guessed dataset, with what each part rests on."""

    config: DatasetConfig
    columns: list[Column]
    timestamp_why: str
    grouping_why: str
    sample_lines: int

    @property
    def log_format(self) -> str:
        return self.config.source.log_format or ""


@dataclass
class Validation:
    """The guessed YAML loaded back on the sample."""

    lines: int
    matched: int
    records: list[dict[str, str]]
    sequences: list[tuple[str, list[str]]]
    warnings: list[str] = field(default_factory=list)

    @property
    def matched_share(self) -> float:
        return self.matched / self.lines if self.lines else 0.0


def read_sample(path: Path, limit: int = SAMPLE_LINES) -> list[str]:
    """The first ``limit`` non-blank lines of ``path`` (plain or gzip), undecodable bytes replaced."""
    path = Path(path)
    if not path.is_file():
        raise CollaborLogError(f"sample log {path} does not exist (or is not a file); give the path of a log file")
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    lines: list[str] = []
    head = b""
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
            # Read in bounded pieces: a copy-truncated log may start with gigabytes of NULs and no newline.
            while len(lines) < limit and (raw := fh.readline(SNIFF_BYTES)):
                if len(head) < SNIFF_BYTES:
                    head += without_padding(raw)
                # NUL bytes are removed, as the readers remove them (padding, not text).
                text = raw.replace(b"\x00", b"").decode("utf-8", errors="replace").rstrip("\r\n")
                if text.strip():
                    lines.append(text)
    except (OSError, EOFError) as err:
        if not lines:
            raise CollaborLogError(f"cannot read {path}: {err}; give an intact plain or gzip log") from None
    refuse_binary(path, head[:SNIFF_BYTES])
    if not lines:
        raise CollaborLogError(f"{path} holds no non-blank line to guess a format from")
    return lines


def tokenize(line: str, limit: int = MAX_HEADER_TOKENS) -> list[str]:
    """The first ``limit`` tokens: runs of non-whitespace, a ``[...]`` part being one token up to
    the first ``]`` that ends a word (as the reader reads ``\\[<Field>\\]``), inner spaces included."""
    tokens: list[str] = []
    i, n = 0, len(line)
    while i < n and len(tokens) < limit:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            break
        if line[i] == "[":
            end = re.compile(r"\](?=\s|\Z)").search(line, i + 1)
            if end is not None:
                tokens.append(line[i : end.end()])
                i = end.end()
                continue
        j = i
        while j < n and not line[j].isspace():
            j += 1
        tokens.append(line[i:j])
        i = j
    return tokens


def _share(rows: list[list[str]], pos: int, test) -> float:
    return sum(1 for r in rows if pos < len(r) and test(r[pos])) / len(rows)


def _find_timestamp(rows: list[list[str]]) -> tuple[TimestampShape, int] | None:
    """The best-ranked timestamp shape that most lines carry at one position (earliest wins a tie)."""
    best: tuple[TimestampShape, int] | None = None
    for shape in TIMESTAMP_SHAPES:
        compiled = [re.compile(t + r"\Z") for t in shape.tokens]
        for pos in range(MAX_HEADER_TOKENS - len(compiled) + 1):
            hits = sum(1 for r in rows if len(r) >= pos + len(compiled)
                       and all(c.match(r[pos + k]) for k, c in enumerate(compiled)))
            if hits / len(rows) >= AGREEMENT:
                if best is None or shape.rank > best[0].rank:
                    best = (shape, pos)
                break
    return best


def _is_level(token: str) -> bool:
    return token.isalpha() and normalize(token) is not None


def _is_bracket(token: str) -> bool:
    return len(token) >= 2 and token.startswith("[") and token.endswith("]")


def _is_component(token: str) -> bool:
    return len(token) > 1 and token.endswith(":") and not token.startswith("[")


def _unique(name: str, used: set[str]) -> str:
    out, k = name, 2
    while out in used:
        out, k = f"{name}{k}", k + 1
    used.add(out)
    return out


def guess_format(lines: list[str]) -> tuple[str, list[Column], tuple[TimestampShape, TimestampSpec] | None]:
    """A loghub-style format for ``lines``, its columns with their evidence, and the timestamp found."""
    rows = [tokenize(line) for line in lines]
    stamp = _find_timestamp(rows)
    ts_span = range(stamp[1], stamp[1] + len(stamp[0].tokens)) if stamp else range(0)
    level = {p for p in range(MAX_HEADER_TOKENS) if p not in ts_span and _share(rows, p, _is_level) >= AGREEMENT}
    bracket = {p for p in range(MAX_HEADER_TOKENS) if _share(rows, p, _is_bracket) >= AGREEMENT}
    component = next((p for p in range(MAX_HEADER_TOKENS) if p not in ts_span
                      and _share(rows, p, _is_component) >= AGREEMENT), None)
    # The header runs to the last of these anchors; plain columns before it are fields whatever they hold.
    anchors = [p for p in (*ts_span, *level, *bracket) if component is None or p < component]
    header_end = max(anchors, default=-1) + 1 if component is None else component + 1

    used: set[str] = {"Content"}
    columns: list[Column] = []
    spec: TimestampSpec | None = None
    pos = 0
    while pos < MAX_HEADER_TOKENS:
        values = [r[pos] for r in rows if pos < len(r)]
        if not values:
            break
        example = Counter(values).most_common(1)[0][0]
        width = len(stamp[0].tokens) if stamp and pos == stamp[1] else 1
        if sum(1 for r in rows if len(r) > pos + width) < AGREEMENT * len(rows):
            # A header column must leave a message after it on most lines, or those lines cannot match.
            break
        if stamp and pos == stamp[1]:
            shape = stamp[0]
            names = tuple(_unique(f, used) for f in shape.fields)
            spec = TimestampSpec(fields=names, format=shape.format)
            columns += [Column(f"<{f}>", f"timestamp: {shape.description}") for f in names]
            pos += len(shape.tokens)
            continue
        if pos in level:
            columns.append(Column(f"<{_unique('Level', used)}>", f"log level in {_share(rows, pos, _is_level):.0%} "
                                  f"of lines (e.g. {example})"))
        elif pos in bracket and (component is None or pos < component):
            name = _unique("Context", used)
            columns.append(Column(f"\\[<{name}>\\]", f"[bracketed] in {_share(rows, pos, _is_bracket):.0%} of lines "
                                  f"(e.g. {example[:60]})"))
        elif pos == component:
            columns.append(Column(f"<{_unique('Component', used)}>:", f"'name:' before the message in "
                                  f"{_share(rows, pos, _is_component):.0%} of lines (e.g. {example[:60]})"))
            pos += 1
            break
        elif pos > 0 and len(set(values)) == 1 and len(values) == len(rows) and not any(c.isalnum() for c in example):
            # Not at the start of the line: a constant first column ('-') is more often a label that the
            # sample happens not to vary (BGL-style alert columns) than a separator.
            columns.append(Column("".join("\\" + c if c in "[]<>\\" else c for c in example),
                                  "the same punctuation on every line, kept as a literal"))
        elif pos < header_end:
            digits = _share(rows, pos, str.isdigit) >= AGREEMENT
            after_level = pos - 1 in level and "Component" not in used
            name = _unique("Number" if digits else "Component" if after_level else "Field", used)
            columns.append(Column(f"<{name}>", f"a header column before the message (e.g. {example[:60]})"))
        elif _share(rows, pos, str.isdigit) >= AGREEMENT:
            # A number right after the header (a pid, a flag) is a column; a message rarely starts with one.
            columns.append(Column(f"<{_unique('Number', used)}>", f"a number on {_share(rows, pos, str.isdigit):.0%} "
                                  f"of lines after the header (e.g. {example})"))
        else:
            break
        pos += 1
    columns.append(Column("<Content>", "the rest of the line: the message"))
    return " ".join(c.text for c in columns), columns, (stamp[0], spec) if stamp and spec else None


def _nice(seconds: float) -> float:
    return next((s for s in _NICE_SECONDS if s >= seconds), float(math.ceil(seconds / 86400) * 86400))


def guess_grouping(contents: list[str], timestamps: np.ndarray) -> tuple[dict, str]:
    """Sessions on the id-like key most lines carry, else time windows (timestamps), else count windows."""
    skipped = ""
    for name, regex in SESSION_KEYS:
        pattern = re.compile(regex)
        found = [pattern.findall(text) for text in contents]
        share = sum(1 for f in found if f) / len(contents)
        keys = {k for f in found for k in f}
        per_id = sum(len(set(f)) for f in found) / max(len(keys), 1)
        if share > SESSION_SHARE and len(keys) > 1 and per_id < MIN_LINES_PER_SESSION:
            skipped = (f"a {name} ({regex}) occurs in {share:.0%} of the sampled messages, but with {per_id:.1f} lines "
                       "per id a session would be about one line, which has no order to learn; ")
            continue
        if share > SESSION_SHARE and len(keys) > 1:
            return ({"kind": "session", "regex": regex},
                    f"a {name} ({regex}) occurs in {share:.0%} of the sampled messages, {len(keys):,} distinct "
                    f"({per_id:.1f} lines per id on average): one sequence per id")
    finite = timestamps[np.isfinite(timestamps)]
    if finite.size >= 2 and finite.size >= AGREEMENT * len(timestamps) and finite.max() > finite.min():
        span = float(finite.max() - finite.min())
        seconds = _nice(span * WINDOW_LINES / len(contents))
        per_window = np.bincount(np.floor((finite - finite.min()) / seconds).astype(np.int64))
        largest = int(per_window.max())
        if largest > BURST_FACTOR * WINDOW_LINES:
            return ({"kind": "count", "size": WINDOW_LINES, "step": WINDOW_LINES},
                    f"{skipped or 'no id-like key in most lines; '}time windows of {seconds:g} s would hold "
                    f"{WINDOW_LINES} lines on average but up to {largest:,} (the log comes in bursts), so windows "
                    f"of {WINDOW_LINES} consecutive lines instead")
        return ({"kind": "time", "seconds": seconds, "step": seconds},
                f"{skipped or 'no id-like key in most lines; '}the timestamps span {span:,.0f} s over {len(contents):,} lines, so "
                f"windows of {seconds:g} s hold about {WINDOW_LINES} lines on average and at most {largest:,} (time "
                "windows keep what happened together in time together, however many lines it printed)")
    return ({"kind": "count", "size": WINDOW_LINES, "step": WINDOW_LINES},
            f"{skipped or 'no id-like key in most lines; '}no usable timestamp: windows of {WINDOW_LINES} consecutive lines")


def guess_dataset(path: Path, name: str | None = None, yaml_dir: Path | None = None,
                  limit: int = SAMPLE_LINES) -> tuple[Guess, list[str]]:
    """Guess the dataset that reads ``path`` from its first ``limit`` lines; returns the guess and the sample."""
    path = Path(path)
    lines = read_sample(path, limit)
    log_format, columns, stamp = guess_format(lines)
    pattern, headers = format_regex(log_format)
    matches = [pattern.match(line) for line in lines]
    table = pd.DataFrame([m.groupdict() for m in matches if m], columns=headers)
    contents = [m.group("Content") if m else line for m, line in zip(matches, lines)]
    timestamp = None
    timestamp_why = "no timestamp of a known shape leads most lines: none configured (time order = file order)"
    stamps = np.full(len(lines), np.nan)
    if stamp is not None:
        shape, timestamp = stamp
        timestamp_why = f"{shape.description}, on {len(table):,} of {len(lines):,} sampled lines"
        if shape.format == "%y/%m/%d %H:%M:%S":
            timestamp_why += "; yy/mm/dd and dd/mm/yy look alike: check the year comes first"
        if len(table):
            stamps = parse_timestamps(table, timestamp, str(path))
    grouping, grouping_why = guess_grouping(contents, stamps)
    folder = (yaml_dir or Path.cwd()).resolve()
    source_path = Path(os.path.relpath(path.resolve(), folder)) if path.resolve().is_relative_to(folder) else path.resolve()
    data = {
        "name": name or re.sub(r"[^A-Za-z0-9_-]+", "-", path.name.split(".")[0]).strip("-").lower() or "dataset",
        "source": {"kind": "text", "path": source_path.as_posix(), "log_format": log_format,
                   **({"timestamp": timestamp.model_dump()} if timestamp else {})},
        "grouping": grouping,
        "labels": {"kind": "none"},
        "split": {"kind": "chronological", "ratios": [0.6, 0.2, 0.2]},
    }
    config = parse_model(DatasetConfig, data, "the guessed dataset")
    return Guess(config, columns, timestamp_why, grouping_why, len(lines)), lines


def _flow(value) -> str:
    """One value as YAML on one line: a string single-quoted (backslashes stay as written), else flow style."""
    if isinstance(value, str):
        if not value.isprintable():
            # Double-quoted with escapes: YAML would fold a line break (U+2028, NEL) inside single quotes.
            return json.dumps(value)
        return "'" + value.replace("'", "''") + "'"
    return yaml.safe_dump(value, default_flow_style=True, width=1_000_000, allow_unicode=True).strip()


def _comment(text: str) -> str:
    """``text`` safe inside a YAML comment: a character YAML reads as a line break (U+2028, NEL) would end it."""
    return "".join(c if c.isprintable() else "?" for c in text)


def render_yaml(guess: Guess, sample_path: Path) -> str:
    """The guessed dataset as YAML, with a comment on what each guess rests on."""
    cfg, src = guess.config, guess.config.source
    out = [f"# Guessed by `collaborlog init` from the first {guess.sample_lines:,} lines of {_comment(str(sample_path))}.",
           "# Check each guess below (and the parsed records `init` printed) before training on it.",
           f"name: {_flow(cfg.name)}",
           "source:",
           "  kind: text",
           f"  path: {_flow(src.path)}",
           "  # The format, column by column:"]
    out += [f"  #   {c.text:<22} {_comment(c.why)}" for c in guess.columns]
    out += ["  # (\\[ and \\] are a literal [ and ]; runs of spaces match any whitespace.)",
            f"  log_format: {_flow(src.log_format)}"]
    out.append(f"  # Timestamp: {_comment(guess.timestamp_why)}.")
    if src.timestamp is not None:
        out.append(f"  timestamp: {_flow(src.timestamp.model_dump(mode='json'))}")
    out += [f"# Grouping: {_comment(guess.grouping_why)}.",
            f"grouping: {_flow(cfg.grouping.model_dump(mode='json', exclude_none=True))}",
            "# No labels: the detector is fitted label-free (the history is taken as mostly normal).",
            "labels: {kind: none}",
            "# Chronological: train on the past, judge the future (as a deployed detector would).",
            f"split: {_flow(cfg.split.model_dump(mode='json', exclude_unset=True))}",
            ""]
    return "\n".join(out)


def validate(config: DatasetConfig, sample: list[str], shown_records: int = 5, shown_sequences: int = 3) -> Validation:
    """Load ``config`` on the sampled lines (not the whole file: a large log is judged as fast as a small one)."""
    with tempfile.TemporaryDirectory() as tmp:
        sample_file = Path(tmp) / "sample.log"
        sample_file.write_text("\n".join(sample) + "\n", encoding="utf-8")
        cfg = config.model_copy(update={"source": config.source.model_copy(update={"path": str(sample_file)})})
        ds: Dataset = load_dataset(cfg, None)
    log = ds.log
    # Every field of the format, not only those the loader keeps in memory, so each column can be checked.
    pattern, _ = format_regex(config.source.log_format or f"<{config.source.content}>")
    records = []
    for line in sample[:shown_records]:
        match = pattern.match(line)
        records.append(match.groupdict() if match else {"(unmatched)": line})
    seqs = sorted(ds.splits.all(), key=lambda s: (s.start, s.id))[:shown_sequences]
    return Validation(lines=len(log), matched=int(log.matched.sum()), records=records,
                      sequences=[(s.id, [log.content[int(i)] for i in s.lines]) for s in seqs],
                      warnings=log.stats.warnings())


def init(sample: Path, out: Path, name: str | None = None, force: bool = False,
         limit: int = SAMPLE_LINES) -> tuple[Guess, Validation]:
    """Guess the dataset of ``sample``, write it to ``out`` (commented YAML) and load it back on the sample."""
    out = Path(out)
    if out.exists() and not force:
        raise CollaborLogError(f"{out} already exists; pass --force to overwrite it, or choose another --out")
    if out.is_dir():
        raise CollaborLogError(f"--out {out} is a folder: give a file name such as {out / 'dataset.yaml'}")
    structured = [x.lower() for x in Path(sample).suffixes if x.lower() != ".gz"][-1:]
    if structured and structured[0] in (".csv", ".jsonl", ".parquet"):
        kind = structured[0][1:]
        raise CollaborLogError(
            f"init guesses the layout of a text log, and {sample} is a {kind} file whose columns say it already: "
            f"write the dataset by hand, e.g. source: {{kind: {kind}, path: {Path(sample).name}, content: <the "
            "message column>}, then grouping, labels and split (the README's 'Your own logs')")
    guess, lines = guess_dataset(sample, name, out.parent, limit)
    text = render_yaml(guess, sample)
    # What was written must read back as the same configuration: the comments are no part of it.
    if parse_model(DatasetConfig, yaml.safe_load(text), str(out)) != guess.config:
        raise CollaborLogError(f"the YAML written for {sample} does not read back as guessed; please report this bug")
    check = validate(guess.config, lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return guess, check
