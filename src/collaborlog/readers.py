"""Readers: a declared log file (raw text, CSV, parquet, JSON Lines; gzip too) becomes a :class:`LogFrame`.

Nothing is dropped silently: lines that miss the format are kept as raw content, undecodable
bytes are replaced, runaway lines are cut, and each case is counted in :class:`ReadStats`.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from collaborlog.config import SourceConfig, TimestampSpec
from collaborlog.errors import ConfigError, DataError
from collaborlog.records import UNLABELLED, LogFrame, ReadStats

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 65_536
_TEXT_CONTROL_OK = {9, 10, 11, 12, 13, 27}


def format_regex(log_format: str) -> tuple[re.Pattern[str], list[str]]:
    """Compile a loghub-style format string such as ``<Date> <Time> <Level>: <Content>``.

    Runs of spaces in the format match any run of whitespace; every other character matches
    itself. The last field takes the rest of the line.
    """
    parts = re.split(r"(<[^<>]+>)", log_format)
    headers: list[str] = []
    pattern = ""
    for part in parts:
        if part.startswith("<") and part.endswith(">") and len(part) > 2:
            name = part[1:-1]
            if not name.isidentifier():
                raise ConfigError(f"log_format field <{name}> must be a plain identifier (letters, digits, _)")
            if name in headers:
                raise ConfigError(f"log_format names the field <{name}> twice")
            headers.append(name)
            pattern += f"(?P<{name}>.*?)"
        elif part:
            pattern += r"\s+".join(re.escape(chunk) for chunk in re.split(r" +", part))
    if not headers:
        raise ConfigError(f"log_format {log_format!r} names no field; write fields as <Name>")
    # The last field is greedy so that it takes the rest of the line.
    last = f"(?P<{headers[-1]}>.*?)"
    if pattern.endswith(last):
        pattern = pattern[: -len(last)] + f"(?P<{headers[-1]}>.*)"
    return re.compile("^" + pattern + "$", re.DOTALL), headers


def _looks_binary(head: bytes) -> bool:
    if not head:
        return False
    bad = sum(1 for b in head if b < 32 and b not in _TEXT_CONTROL_OK)
    return b"\x00" in head[:1024] or bad / len(head) > 0.10


def _raw_lines(path: Path, stats: ReadStats) -> Iterator[bytes]:
    """Yield the file's lines as bytes, decompressing gzip; a truncated stream keeps what came before."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    opener = gzip.open if magic == _GZIP_MAGIC else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
            if _looks_binary(head):
                raise DataError(
                    f"{path} does not look like a text log (it holds NUL or control bytes); "
                    "give a text, CSV, JSON Lines or parquet file, optionally gzip-compressed"
                )
            carry = b""
            chunk = head
            while chunk:
                lines = (carry + chunk).split(b"\n")
                carry = lines.pop()
                yield from lines
                chunk = fh.read(1 << 20)
            if carry:
                yield carry
    except (EOFError, gzip.BadGzipFile, zlib.error):
        stats.truncated = True


def _decode(raw: bytes, encoding: str, stats: ReadStats) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        stats.undecodable += 1
        return raw.decode(encoding, errors="replace")


def _read_text(path: Path, source: SourceConfig, stats: ReadStats) -> pd.DataFrame:
    regex, headers = format_regex(source.log_format or "")
    columns: dict[str, list[str]] = {h: [] for h in headers}
    matched: list[bool] = []
    content_col = columns[source.content]
    others = [(h, columns[h]) for h in headers if h != source.content]
    for raw in _raw_lines(path, stats):
        line = _decode(raw.rstrip(b"\r"), source.encoding, stats)
        if not line.strip():
            stats.blank += 1
            continue
        if len(line) > source.max_line_chars:
            stats.oversized += 1
            line = line[: source.max_line_chars]
        m = regex.match(line)
        if m is None:
            stats.unmatched += 1
            content_col.append(line)
            for _, col in others:
                col.append("")
            matched.append(False)
        else:
            groups = m.groupdict()
            content_col.append(groups[source.content].strip())
            for h, col in others:
                col.append(groups[h])
            matched.append(True)
    table = pd.DataFrame(columns, dtype=object)
    table["__matched__"] = np.asarray(matched, dtype=bool)
    return table


def _read_table(path: Path, source: SourceConfig, stats: ReadStats) -> pd.DataFrame:
    try:
        if source.kind == "parquet":
            table = pd.read_parquet(path)
        elif source.kind == "csv":
            table = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding=source.encoding, encoding_errors="replace"
            )
        else:
            table = _read_jsonl(path, source, stats)
    except DataError:
        raise
    except (ValueError, OSError, pd.errors.ParserError, EOFError) as err:
        raise DataError(f"cannot read {path} as {source.kind}: {err}") from None
    if source.content not in table.columns:
        raise DataError(
            f"{path} has no column {source.content!r} to use as content; its columns are {list(table.columns)}. "
            "Set source.content to one of them."
        )
    content = table[source.content].astype(str).where(table[source.content].notna(), "")
    stats.undecodable += int(content.str.contains("\ufffd", regex=False).sum())
    long = content.str.len() > source.max_line_chars
    stats.oversized += int(long.sum())
    if long.any():
        content = content.where(~long, content.str.slice(0, source.max_line_chars))
    blank = content.str.strip() == ""
    stats.blank += int(blank.sum())
    table = table.loc[~blank.to_numpy()].reset_index(drop=True)
    table[source.content] = content[~blank].to_numpy()
    table["__matched__"] = True
    return table


def _read_jsonl(path: Path, source: SourceConfig, stats: ReadStats) -> pd.DataFrame:
    import json

    rows = []
    for number, raw in enumerate(_raw_lines(path, stats), start=1):
        text = _decode(raw, source.encoding, stats).strip()
        if not text:
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict):
            # Keep the line: it becomes a record whose content is the raw text.
            stats.unmatched += 1
            row = {source.content: text}
        rows.append(row)
    if not rows:
        raise DataError(f"{path} holds no JSON object lines")
    return pd.DataFrame(rows)


def parse_timestamps(table: pd.DataFrame, spec: TimestampSpec) -> np.ndarray:
    """Seconds since the epoch for each row (NaN where a value does not parse)."""
    missing = [f for f in spec.fields if f not in table.columns]
    if missing:
        raise ConfigError(f"timestamp fields {missing} are not among the fields {list(table.columns)}")
    if len(spec.fields) == 1 and pd.api.types.is_datetime64_any_dtype(table[spec.fields[0]]):
        values = table[spec.fields[0]]
    else:
        joined = table[spec.fields[0]].astype(str)
        for f in spec.fields[1:]:
            joined = joined + " " + table[f].astype(str)
        if spec.format == "unix":
            return pd.to_numeric(joined, errors="coerce").to_numpy(dtype=np.float64)
        fmt = None if spec.format == "auto" else spec.format
        values = pd.to_datetime(joined, format=fmt, errors="coerce")
    seconds = values.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    seconds[values.isna().to_numpy()] = np.nan
    return seconds


def read_log(path: Path, source: SourceConfig, keep_fields: set[str] | None = None) -> LogFrame:
    """Read ``path`` as described by ``source``.

    ``keep_fields`` limits the non-content fields kept in memory (``None`` keeps all).
    Raises :class:`DataError` for a missing, empty, binary or wholly unmatched file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"log file {path} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"log file {path} is empty: there is nothing to read")
    stats = ReadStats()
    table = _read_text(path, source, stats) if source.kind == "text" else _read_table(path, source, stats)
    stats.lines = len(table)
    if stats.lines == 0:
        raise DataError(f"{path} holds no log lines (only blank lines{' before a truncated end' if stats.truncated else ''})")
    matched = table.pop("__matched__").to_numpy(dtype=bool)
    if not matched.any():
        first = table[source.content].iloc[0][:200]
        raise DataError(
            f"the log_format {source.log_format!r} matched none of the {stats.lines} lines of {path}; "
            f"the first line is {first!r}. Fix the format string (fields are <Name>, spaces match any whitespace)."
        )
    if source.timestamp is not None:
        ts = parse_timestamps(table, source.timestamp)
        stats.bad_timestamps = int(np.isnan(ts[matched]).sum())
        ts = pd.Series(ts).ffill().bfill().to_numpy(dtype=np.float64)
    else:
        ts = np.full(stats.lines, np.nan)
    content = table.pop(source.content).astype(str).tolist()
    names = [c for c in table.columns if keep_fields is None or c in keep_fields]
    fields = {str(c): table[c].astype(str).tolist() for c in names}
    return LogFrame(
        content=content,
        timestamp=ts,
        label=np.full(stats.lines, UNLABELLED, dtype=np.int8),
        fields=fields,
        matched=matched,
        stats=stats,
    )
