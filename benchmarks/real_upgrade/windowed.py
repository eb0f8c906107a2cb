"""The machinery shared by the windowed, unlabelled real-upgrade benchmarks (make_zookeeper.py, make_spark.py).

Each generator reads its loghub sample, rewrites the records as the new release prints them and
builds its failures' lines from the new release's statements; this module does the rest, alike for
both: where failures go (seeded blocks of BLOCK records), the rolling upgrade's old blocks, the
stream with the injected lines, the labelled files and ground truth, the dataset YAMLs, the combined
history + upgrade files, the counts, and the command line.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from collaborlog.errors import DataError

BLOCK = 10
"""Records per block (where failures and the rolling upgrade's old wording go) and lines per window."""
NORMAL_MARK, INJECTED_MARK, HISTORY_MARK = "-", "INJECTED", "?"
"""A labelled line's first token: an upgraded line, an injected failure line, a history line (unlabelled)."""
LINE_LABELS = '{kind: line, field: Label, normal_values: ["-"], anomalous_values: ["INJECTED"]}'
"""The ``labels`` of a labelled file's dataset YAML."""


class UnmappedLineError(DataError):
    """A line that no rule of the table matches (the table must cover every event of the input)."""


class SourceLine(Protocol):
    """A record of the sample: ``raw`` is the line as the old release printed it."""

    @property
    def raw(self) -> str: ...


class Rewritten(Protocol):
    """A record and what the new release prints for it (``lines``: none, one or several lines)."""

    @property
    def record(self) -> SourceLine: ...

    @property
    def event(self) -> str: ...

    @property
    def lines(self) -> tuple[str, ...]: ...


R = TypeVar("R", bound=Rewritten)
F = TypeVar("F")


@dataclass(frozen=True)
class OutLine:
    """A line of the upgraded stream."""

    text: str
    injected: str | None = None
    """The fault's name for an injected line; the other fields describe its statement."""
    level: str = ""
    logger: str = ""
    source: str = ""
    message: str = ""


@dataclass(frozen=True)
class Injection(Generic[F]):
    """A failure placed in the upgraded part: its lines follow record ``after`` of block ``block``."""

    block: int
    after: int
    """Position in the block of the record the failure follows."""
    fault: F
    lines: tuple[OutLine, ...]


@dataclass(frozen=True)
class Benchmark:
    """What the writers need to know of one benchmark: names, layouts and the words of its descriptions."""

    name: str
    """Prefix of the dataset names: ``{name}-history``, ``{name}-upgraded``, ..."""
    old_format: str
    """``log_format`` of history.log (the old release's layout)."""
    labelled_format: str
    """``log_format`` of the labelled files (a ``Label`` field, then both releases' layouts)."""
    timestamp_format: str
    """``strptime`` format of the Date and Time fields (both layouts)."""
    source: str
    """What the history and the upgraded part are cut from, e.g. 'Spark 1.6 executor log from the loghub ...'."""
    old_release: str
    """As the rolling variant's descriptions name it, e.g. '1.6'."""
    new_release: str
    """With the product's name, e.g. 'Spark 3.5.0'."""
    source_pronoun: str = "it"
    """'them' when ``source`` is plural."""


# -- messages ----------------------------------------------------------------------------------


def fill(fmt: str, values: Sequence[str]) -> str:
    """Fill the ``{}`` placeholders of a rule table's format in order, as SLF4J does."""
    parts = fmt.split("{}")
    if len(parts) - 1 != len(values):
        raise ValueError(f"{fmt!r} has {len(parts) - 1} placeholders but {len(values)} values were given")
    out = parts[0]
    for value, part in zip(values, parts[1:]):
        out += value + part
    return out


# -- planning and assembling -------------------------------------------------------------------


def injection_count(upgrade: Sequence[Rewritten], share: float) -> int:
    """``share`` of the windows of BLOCK lines that the upgraded log prints (at least one)."""
    printed = sum(len(w.lines) for w in upgrade)
    return max(1, round(share * -(-printed // BLOCK)))


def place_injections(upgrade: Sequence[Rewritten], faults: Sequence[F], seed: int, share: float,
                     lines_for: Callable[[int, F, random.Random], tuple[OutLine, ...]]) -> list[Injection[F]]:
    """Place ``injection_count`` failures, each after a seeded record of its own seeded block of BLOCK records.

    Faults come in a seeded order, cycled, so that each occurs before any repeats. ``lines_for(index,
    fault, rng)`` writes a failure's lines after ``upgrade[index]``, drawing its values from the same
    generator."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"--inject-share must be in (0, 1]; it was {share}")
    rng = random.Random(f"{seed}:inject")
    blocks = [upgrade[i: i + BLOCK] for i in range(0, len(upgrade), BLOCK)]
    count = min(injection_count(upgrade, share), len(blocks))
    chosen = sorted(rng.sample(range(len(blocks)), count))
    order = rng.sample(faults, len(faults))
    plans = []
    for n, b in enumerate(chosen):
        after = rng.randrange(len(blocks[b]))
        fault = order[n % len(order)]
        plans.append(Injection(b, after, fault, lines_for(b * BLOCK + after, fault, rng)))
    return plans


def choose_old_blocks(n_blocks: int, share: float, seed: int) -> set[int]:
    """The blocks a rolling upgrade leaves in the old wording: round(share * n_blocks) of them, seeded."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"--rolling must be a share between 0 and 1; it was {share}")
    rng = random.Random(f"{seed}:rolling")
    return set(rng.sample(range(n_blocks), round(share * n_blocks)))


def assemble(upgrade: Sequence[Rewritten], plans: Sequence[Injection[Any]],
             old_blocks: Collection[int] = ()) -> list[OutLine]:
    """The upgraded log: each record as the new release prints it (or as the old did in ``old_blocks``), plus the
    failures."""
    after = {(p.block, p.after): p for p in plans}
    out: list[OutLine] = []
    for i, w in enumerate(upgrade):
        block, position = divmod(i, BLOCK)
        texts = (w.record.raw,) if block in old_blocks else w.lines
        out.extend(OutLine(t) for t in texts)
        plan = after.get((block, position))
        if plan is not None:
            out.extend(plan.lines)
    return out


def anomalous_windows(lines: Sequence[OutLine]) -> int:
    """Windows of BLOCK lines (step BLOCK) that hold an injected line."""
    return len({i // BLOCK for i, l in enumerate(lines) if l.injected})


def coverage(history: Sequence[Rewritten], upgrade: Sequence[Rewritten]) -> dict[str, int]:
    """How much of the upgrade's events the history saw (in the old wording)."""
    seen = {w.event for w in history}
    unseen = [w.event for w in upgrade if w.event not in seen]
    return {"history_events": len(seen), "upgrade_events": len({w.event for w in upgrade}),
            "upgrade_events_unseen_in_history": len(set(unseen)), "upgrade_records_of_unseen_events": len(unseen)}


def event_counts(upgrade: Sequence[Rewritten]) -> dict[str, int]:
    """Records per event, in order of first occurrence."""
    counts: dict[str, int] = {}
    for w in upgrade:
        counts[w.event] = counts.get(w.event, 0) + 1
    return counts


# -- reading and writing -----------------------------------------------------------------------


def read_sample(data_dir: Path, sample: Path, history_share: float) -> list[str]:
    """The lines of ``data_dir / sample``, once ``history_share`` is known to cut them (both ends excluded)."""
    if not 0.0 < history_share < 1.0:
        raise ValueError(f"--history-share must be between 0 and 1 (both excluded); it was {history_share}")
    path = data_dir / sample
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass --data-dir, the folder that holds {sample}")
    return path.read_text(encoding="utf-8").splitlines()


def split_history(ordered: list[R], history_share: float) -> tuple[list[R], list[R]]:
    """The first ``history_share`` of the records (the history) and the rest (the upgraded part)."""
    cut = round(history_share * len(ordered))
    return ordered[:cut], ordered[cut:]


def write_lines(path: Path, lines: Sequence[str]) -> None:
    """Write ``lines``, each ended by a newline, in UTF-8."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_labelled(out: Path, stem: str, lines: Sequence[OutLine]) -> None:
    """``stem``.log, ``stem``.labelled.log (first token NORMAL_MARK or INJECTED_MARK) and the injected lines' CSV
    (``injected.csv`` for the upgraded stream, ``stem``_injected.csv otherwise)."""
    write_lines(out / f"{stem}.log", [l.text for l in lines])
    marked = [f"{INJECTED_MARK if l.injected else NORMAL_MARK} {l.text}" for l in lines]
    write_lines(out / f"{stem}.labelled.log", marked)
    truth = out / (f"{stem}_injected.csv" if stem != "upgraded" else "injected.csv")
    with open(truth, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "window", "fault", "level", "logger", "source", "message"])
        for number, l in enumerate(lines, start=1):
            if l.injected:
                writer.writerow([number, (number - 1) // BLOCK, l.injected, l.level, l.logger, l.source, l.message])


def dataset_yaml(name: str, path: str, log_format: str, timestamp_format: str, labels: str,
                 ratios: tuple[float, float, float], description: str) -> str:
    """A dataset YAML: the text file at ``path``, windows of BLOCK lines, a chronological split by ``ratios``."""
    return (
        f"name: {name}\n"
        f"description: >-\n  {description} Data: loghub (Zhu et al., ISSRE 2023), https://github.com/logpai/loghub\n"
        f"source:\n  kind: text\n  path: {path}\n  log_format: \"{log_format}\"\n"
        f"  timestamp: {{fields: [Date, Time], format: \"{timestamp_format}\"}}\n"
        f"grouping: {{kind: count, size: {BLOCK}, step: {BLOCK}}}\n"
        f"labels: {labels}\n"
        f"split: {{kind: chronological, ratios: [{ratios[0]!r}, {ratios[1]!r}, {ratios[2]!r}]}}\n"
        f"parser: {{masking: default}}\n"
    )


def write_labelled_yaml(out: Path, bench: Benchmark, stem: str, ratios: tuple[float, float, float],
                        description: str) -> None:
    """``stem``.yaml over ``stem``.labelled.log, named ``{bench.name}-{stem}`` (underscores as hyphens)."""
    (out / f"{stem}.yaml").write_text(dataset_yaml(
        f"{bench.name}-{stem.replace('_', '-')}", f"{stem}.labelled.log", bench.labelled_format, bench.timestamp_format,
        LINE_LABELS, ratios, description))


def write_combined(out: Path, bench: Benchmark, stem: str, history: Sequence[Rewritten], lines: Sequence[OutLine],
                   what: str) -> None:
    """History then the upgraded part in one labelled log, split so that train is exactly the history."""
    marked = [f"{HISTORY_MARK} {w.record.raw}" for w in history]
    marked += [f"{INJECTED_MARK if l.injected else NORMAL_MARK} {l.text}" for l in lines]
    write_lines(out / f"{stem}.labelled.log", marked)
    train = len(history) / len(marked)
    write_labelled_yaml(out, bench, stem, (train, 0.0, 1.0 - train),
                        f"Train: the history ({len(history)} unlabelled lines, first token ?). Test: {what} "
                        f"({len(lines)} lines; a line is anomalous when its first token is INJECTED).")


def write_benchmark(out: Path, bench: Benchmark, history: Sequence[Rewritten], upgrade: Sequence[Rewritten],
                    plans: Sequence[Injection[Any]], *, seed: int, rolling: float | None,
                    history_share: float) -> dict[str, int]:
    """Write the history, the upgraded stream, the combined files and their YAMLs (and, with ``rolling``, the
    rolling variant's) into ``out``; returns their counts."""
    out.mkdir(parents=True, exist_ok=True)
    write_lines(out / "history.log", [w.record.raw for w in history])
    upgraded = assemble(upgrade, plans)
    write_labelled(out, "upgraded", upgraded)
    (out / "history.yaml").write_text(dataset_yaml(
        f"{bench.name}-history", "history.log", bench.old_format, bench.timestamp_format, "{kind: none}",
        (0.9, 0.1, 0.0), f"The first {history_share:.0%} in time of the {bench.source}, unlabelled, for fitting (all of it: no test part)."))
    write_labelled_yaml(
        out, bench, "upgraded", (0.1, 0.0, 0.9),
        f"The last {1 - history_share:.0%} in time of the {bench.source}, rewritten as {bench.new_release} "
        f"prints {bench.source_pronoun}, with injected failures; a line is anomalous when it is injected "
        "(first token INJECTED).")
    write_combined(out, bench, "history_upgraded", history, upgraded,
                   f"the rest, as {bench.new_release} prints it, with injected failures")
    counts = {"history_lines": len(history), "upgrade_records": len(upgrade), "upgraded_lines": len(upgraded),
              "injected_lines": sum(1 for l in upgraded if l.injected), "injections": len(plans),
              "windows": -(-len(upgraded) // BLOCK), "anomalous_windows": anomalous_windows(upgraded),
              "blocks": -(-len(upgrade) // BLOCK), **coverage(history, upgrade)}
    if rolling is not None:
        old = choose_old_blocks(counts["blocks"], rolling, seed)
        lines = assemble(upgrade, plans, old)
        write_labelled(out, "rolling", lines)
        write_combined(out, bench, "history_rolling", history, lines,
                       f"the rest, in a rolling upgrade ({rolling:.0%} of its blocks still {bench.old_release})")
        write_labelled_yaml(
            out, bench, "rolling", (0.1, 0.0, 0.9),
            f"As {bench.name}-upgraded, but a seeded {rolling:.0%} of its blocks of {BLOCK} lines keep the "
            f"{bench.old_release} wording (a rolling upgrade).")
        counts.update(rolling_lines=len(lines), rolling_old_blocks=len(old),
                      rolling_windows=-(-len(lines) // BLOCK), rolling_anomalous_windows=anomalous_windows(lines))
    return counts


def notice(sample: Path, system: str, new_release: str, formats_from: str) -> str:
    """NOTICE.md: the logs derive from the loghub ``system`` 2k ``sample`` (the licence and the paper to cite), and
    the upgraded ones print ``new_release``'s message formats, read ``formats_from``."""
    return f"""# Data notice

The logs in this folder are derived from the loghub {system} 2k sample
({sample.as_posix()}, https://github.com/logpai/loghub). The loghub licence in
LICENSE_loghub.txt applies to them: research use, and cite

  Jieming Zhu, Shilin He, Pinjia He, Jinyang Liu, Michael R. Lyu. Loghub: A Large Collection of
  System Log Datasets for AI-driven Log Analytics. ISSRE 2023.

history.log holds original lines. upgraded*.log and rolling*.log are the remaining lines rewritten
as {new_release} prints the same events, with injected failure lines (injected*.csv);
message formats from {formats_from}.
"""


def write_provenance(out: Path, mapping: dict[str, Any], licence: Path, notice_text: str) -> None:
    """mapping.json (the ground truth ``score.py`` reads), the loghub licence and NOTICE.md (from ``notice``)."""
    (out / "mapping.json").write_text(json.dumps(mapping, indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(licence, out / "LICENSE_loghub.txt")
    (out / "NOTICE.md").write_text(notice_text, encoding="utf-8")


# -- command line ------------------------------------------------------------------------------


Generate = Callable[[Path, Path, int, float | None, float, float], dict[str, int]]
"""``generate(data_dir, out, seed, rolling, history_share, inject_share)`` of a generator."""


def run_cli(argv: list[str] | None, doc: str | None, generate: Generate, history_share: float,
            inject_share: float) -> int:
    """A generator's command line: parse ``argv``, generate, print the counts (exit status 2 on bad input)."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rolling", type=float, default=None, help="share of blocks left in the old wording")
    parser.add_argument("--inject-share", type=float, default=inject_share, help="failures per window of printed lines")
    parser.add_argument("--history-share", type=float, default=history_share,
                        help="share of the lines, in time order, kept as history")
    args = parser.parse_args(argv)
    try:
        counts = generate(args.data_dir, args.out, args.seed, args.rolling, args.history_share, args.inject_share)
    except (FileNotFoundError, DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for key, value in counts.items():
        print(f"{key}: {value}")
    return 0
