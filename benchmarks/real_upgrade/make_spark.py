"""A real-upgrade benchmark from the loghub Spark 2k sample: Spark 1.6 -> 3.5.0.

    python benchmarks/real_upgrade/make_spark.py --out DIR [--data-dir /work/shared/data]
        [--seed 0] [--rolling 0.3]

The sample (one YARN executor, 2017) is kept in time order. The first 45 % of its lines
(``--history-share``) are the history, unchanged and unlabelled. The rest is printed as Spark
3.5.0 prints the same events (spark_rules.RULES: reworded and split statements, binary size
units, 3.5.0 id formats, the log4j2 ``%c{1}`` layout, removed Akka/CacheManager/deprecation lines),
with failures from real 3.5.0 ERROR/WARN statements (spark_rules.FAULTS) injected at seeded places:
one per 5 windows of 10 printed lines (``--inject-share 0.2``). ``--rolling F`` also writes a rolling
upgrade: a seeded share F of the upgraded part's blocks of 10 source lines keep the 1.6 wording.

Same design, files and CLI as make_zookeeper.py (both use windowed.py for what they share); everything is
deterministic under ``--seed``.
See SPARK.md for the files written.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import spark_rules as sr  # beside this script, which runs as a file
import windowed as wd

SAMPLE = Path("loghub_2k/Spark/Spark_2k.log")
LICENCE = Path("loghub_2k/LICENSE_loghub.txt")
HISTORY_SHARE = 0.45
"""Not ZooKeeper's 0.75. The sample is 31 seconds of one executor: start-up (lines 1-20), then 37
stages of PySpark tasks; the stages that save to HDFS (lines 861-1,094) and cache RDDs are where
3.5.0's changes show (split committer lines, CacheManager lines gone, new attempt ids, KiB/MiB
sizes). 0.45 is the smallest cut, in steps of 0.05, at which every event of the upgraded part also
occurs in the history (the first save task falls in it), so the benchmark measures the upgrade,
not unseen routine events: 14 events, 173 of the 1,100 source lines change their text. Cut at 0.75
the upgraded part is 500 lines of task chatter of which 6 change (``--history-share 0.75``)."""
INJECT_SHARE = 0.2
"""Failures per window of BLOCK printed lines, as the ZooKeeper benchmark (the bgl-2k preset's share)."""

OLD_LINE = re.compile(
    r"^(?P<date>\d\d/\d\d/\d\d) (?P<time>\d\d:\d\d:\d\d) (?P<level>[A-Z]+) (?P<logger>[^\s:]+): (?P<content>.*)$"
)
OLD_FORMAT = "<Date> <Time> <Level> <Component>: <Content>"
"""The layout of both releases (``%d{yy/MM/dd HH:mm:ss} %p %c{n}: %m``): one format reads old and new lines."""
LABELLED_FORMAT = "<Label> " + OLD_FORMAT
TIMESTAMP_FORMAT = "%y/%m/%d %H:%M:%S"
CONTEXT_VALUES = (
    "new_attempt", "new_path", "commit_ms", "size_iec", "free_iec", "capacity_iec", "view_users", "modify_users",
    "host", "block_manager_id", "process_name", "pieces", "pieces_size",
)
BROADCAST_PIECE_SIZE = 4 << 20
"""spark.broadcast.blockSize default (4m)."""
DEFAULT_CAPACITY = "366.3 MB"
"""MemoryStore capacity when a log names none (the sample names its own: 17.7 GB)."""
_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50, "EB": 1 << 60}
_IEC = ((1 << 60, "EiB"), (1 << 50, "PiB"), (1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"),
        (1, "B"))


@dataclass(frozen=True)
class Record:
    """One line of the 2017 sample."""

    index: int
    date: str
    time: str
    level: str
    logger: str
    content: str
    raw: str

    @property
    def stamp(self) -> str:
        return f"{self.date} {self.time}"


@dataclass(frozen=True)
class Rewrite:
    """What 3.5.0 prints for one record (``lines`` is empty when it prints nothing)."""

    record: Record
    event: str
    lines: tuple[str, ...]
    last_task: str
    """The newest task started at this line ('task 0.0 in stage 0.0 (TID 0)'): failures near it name it."""
    last_block: str
    last_broadcast: str


@dataclass
class Container:
    """What the executor's log says about itself; values 3.5.0 prints where 1.6 did not."""

    exec_id: str = "1"
    host: str = "localhost"
    block_port: str = "0"
    driver_url: str = "spark://CoarseGrainedScheduler@localhost:0"
    capacity: str = DEFAULT_CAPACITY
    pid: int = 0

    @property
    def block_manager_id(self) -> str:
        return f"BlockManagerId({self.exec_id}, {self.host}, {self.block_port}, None)"

    @property
    def driver_address(self) -> str:
        return self.driver_url.rpartition("@")[2]


@dataclass
class _State:
    last_task: str = "task 0.0 in stage 0.0 (TID 0)"
    last_block: str = "rdd_0_0"
    last_broadcast: str = "0"
    pieces_ahead: dict[str, int] = field(default_factory=dict)


# -- reading -----------------------------------------------------------------------------------


def parse_records(lines: list[str]) -> list[Record]:
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        m = OLD_LINE.match(line.rstrip("\n"))
        if m is None:
            raise wd.UnmappedLineError(f"line {number} is not in the 1.6 layout {sr.OLD_LAYOUT!r}: {line[:200]!r}")
        records.append(Record(len(records), m["date"], m["time"], m["level"], m["logger"], m["content"].rstrip(),
                              line.rstrip("\n")))
    return records


_COMPILED = tuple((rule, re.compile(rule.old_regex)) for rule in sr.RULES)


def match_rule(content: str) -> tuple[sr.Rule, dict[str, str]]:
    for rule, regex in _COMPILED:
        m = regex.match(content)
        if m:
            return rule, m.groupdict()
    raise wd.UnmappedLineError(f"no rule of spark_rules.RULES matches {content[:200]!r}; add one")


def read_container(records: list[Record], seed: int) -> Container:
    """The executor's id, host, block-manager port, driver and memory, from the lines that name them."""
    c = Container(pid=random.Random(f"{seed}:pid").randint(10000, 60000))
    for rec in records:
        rule, groups = match_rule(rec.content)
        if rule.event == "E30":
            c.exec_id, c.host = groups["exec_id"], groups["host"]
        elif rule.event in ("E27", "E33"):
            c.block_port = groups["port"]
        elif rule.event == "E6":
            c.driver_url = groups["url"]
        elif rule.event == "E18":
            c.capacity = groups["capacity"]
    return c


# -- values ------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """'5.2 KB' -> bytes (1.6 printed sizes in binary multiples with SI-looking names)."""
    number, _, unit = text.partition(" ")
    return round(float(number) * _UNITS[unit])


def bytes_to_string(size: int) -> str:
    """Utils.bytesToString of 3.5.0: the largest binary unit with at least 2 of it, one decimal."""
    for scale, suffix in _IEC:
        if size >= 2 * scale or scale == 1:
            return f"{size / scale:.1f} {suffix}"
    raise AssertionError("unreachable")


def iec(text: str) -> str:
    """Rename an old size's unit ('5.2 KB' -> '5.2 KiB'): both releases divide by powers of 1024."""
    number, _, unit = text.partition(" ")
    return f"{number} {unit[0]}iB" if unit != "B" else text


_ATTEMPT = re.compile(r"(attempt|task)_(\d{12})_(\d{4})_([mr])_(\d{6})(?:_(\d+))?")


def new_task_ids(text: str) -> str:
    """1.6 -> 3.5.0 Hadoop ids: the job tracker id gains seconds, a task attempt number is (stageAttempt << 16) | attempt."""
    def sub(m: re.Match[str]) -> str:
        kind, tracker, job, kind_mr, part, attempt = m.groups()
        tail = "_0" if attempt is not None else ""
        return f"{kind}_{tracker}00_{job}_{kind_mr}_{part}{tail}"
    return _ATTEMPT.sub(sub, text)


def _users(text: str) -> str:
    return text if text else "EMPTY"


def _context(name: str, rec: Record, groups: dict[str, str], c: Container, state: _State, rng: random.Random) -> str:
    if name == "new_attempt":
        return new_task_ids(groups["attempt"])
    if name == "new_path":
        return new_task_ids(groups["path"])
    if name == "commit_ms":
        return str(rng.randint(2, 40))
    if name == "size_iec":
        return iec(groups["size"])
    if name == "free_iec":
        # 1.6.0 printed the memory its blocks used as 'free'; 3.5.0 prints capacity minus that.
        return bytes_to_string(max(parse_size(c.capacity) - parse_size(groups["free"]), 0))
    if name == "capacity_iec":
        return iec(groups["capacity"])
    if name == "view_users":
        return _users(groups["view"])
    if name == "modify_users":
        return _users(groups["modify"])
    if name == "host":
        return c.host
    if name == "block_manager_id":
        return c.block_manager_id
    if name == "process_name":
        return f"{c.pid}@{c.host}"
    if name == "pieces":
        return str(state.pieces_ahead.get(groups["id"], 1))
    if name == "pieces_size":
        return bytes_to_string(state.pieces_ahead.get(groups["id"], 1) * BROADCAST_PIECE_SIZE)
    raise KeyError(f"unknown value {name!r} in an args list; known: groups of old_regex, {CONTEXT_VALUES}")


def _value(spec: str, rec: Record, groups: dict[str, str], c: Container, state: _State, rng: random.Random) -> str:
    if spec.startswith("="):
        return spec[1:]
    return groups[spec] if spec in groups else _context(spec, rec, groups, c, state, rng)


def new_line(stamp: str, level: str, logger: str, message: str) -> str:
    """One line in the 3.5.0 layout ``%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m``."""
    return f"{stamp} {level} {logger}: {message}"


_PIECE = re.compile(r"^Block broadcast_(\d+)_piece\d+ stored as bytes")


def _count_pieces(records: list[Record]) -> dict[int, int]:
    """For each 'Started reading broadcast variable N' record: how many pieces of N are stored before it is read."""
    counts: dict[int, int] = {}
    for i, rec in enumerate(records):
        m = re.match(r"^Started reading broadcast variable (\d+)$", rec.content)
        if not m:
            continue
        n = 0
        for later in records[i + 1:]:
            if later.content.startswith(f"Reading broadcast variable {m.group(1)} took"):
                break
            p = _PIECE.match(later.content)
            n += bool(p and p.group(1) == m.group(1))
        counts[rec.index] = max(n, 1)
    return counts


def rewrite(records: list[Record], seed: int) -> list[Rewrite]:
    """Rewrite every record as 3.5.0 prints it, in the log's order."""
    rng = random.Random(f"{seed}:values")
    container = read_container(records, seed)
    pieces = _count_pieces(records)
    state = _State()
    out = []
    for rec in records:
        rule, groups = match_rule(rec.content)
        lines: tuple[str, ...] = ()
        if rec.index in pieces:
            state.pieces_ahead = {groups["id"]: pieces[rec.index]}
        if rule.status in (sr.Status.SAME, sr.Status.REWORDED, sr.Status.SPLIT):
            lines = tuple(
                new_line(rec.stamp, line.level, line.logger,
                         wd.fill(line.new_format, [_value(a, rec, groups, container, state, rng) for a in line.args]))
                for line in rule.lines
            )
        if rule.event == "E24":
            state.last_task = groups["task"]
        if "block" in groups and groups["block"].startswith("rdd_"):
            state.last_block = groups["block"]
        if rule.event in ("E20", "E29"):
            state.last_broadcast = groups["id"]
        out.append(Rewrite(rec, rule.event, lines, state.last_task, state.last_block, state.last_broadcast))
    return out


def in_time_order(rewrites: list[Rewrite]) -> list[Rewrite]:
    """Stable sort by timestamp (the sample is one file already in time order; yy/MM/dd sorts as text)."""
    return sorted(rewrites, key=lambda w: (w.record.stamp, w.record.index))


# -- injecting ---------------------------------------------------------------------------------


def _fault_values(host: Rewrite, container: Container, rng: random.Random) -> dict[str, str]:
    task = host.last_task
    m = re.search(r"\(TID (\d+)\)", task)
    tid = m.group(1) if m else "0"
    return {
        "task": task,
        "tid": tid,
        "task_thread": f"Thread[Executor task launch worker for {task},5,main]",
        "rdd_block": host.last_block,
        "computed_size": bytes_to_string(rng.randint(200, 4000)),
        "broadcast_piece": f"broadcast_{host.last_broadcast}_piece0",
        "driver_block_manager": f"BlockManagerId(driver, {container.driver_address.rpartition(':')[0]}, "
                                f"{rng.randint(32768, 60999)}, None)",
        "driver_address": container.driver_address,
        "stuck_ms": str(rng.randint(10000, 60000)),
    }


def plan_injections(upgrade: list[Rewrite], container: Container, seed: int,
                    share: float = INJECT_SHARE) -> list[wd.Injection[sr.Fault]]:
    """Place ``injection_count`` failures (windowed.place_injections): each fault's statements at the host line's
    time, naming the task, block and broadcast the executor last started."""
    def lines_for(index: int, fault: sr.Fault, rng: random.Random) -> tuple[wd.OutLine, ...]:
        host = upgrade[index]
        values = _fault_values(host, container, rng)
        lines = []
        for st in fault.statements:
            message = wd.fill(st.new_format, [a[1:] if a.startswith("=") else values[a] for a in st.args])
            text = new_line(host.record.stamp, st.level, st.logger, message)
            lines.append(wd.OutLine(text, fault.name, st.level, st.logger, st.source, message))
        return tuple(lines)

    return wd.place_injections(upgrade, sr.FAULTS, seed, share, lines_for)


# -- writing -----------------------------------------------------------------------------------


def _line_json(line: sr.Line) -> dict[str, str]:
    where = sr.HADOOP_SOURCE if line.source.startswith("hadoop-") else sr.SOURCE_TREE
    return {"level": line.level, "logger": line.logger, "template": line.new_format, "source": f"{where}:{line.source}"}


def mapping(upgrade: list[Rewrite]) -> dict:
    """The ground truth ``score.py`` reads: every rule with its 1.6 logger and 3.5.0 statements, and the faults'."""
    counts = wd.event_counts(upgrade)
    rules = [
        {
            "event": r.event, "old_template": r.old_template, "old_source": f"logger {r.old_logger} (Spark {sr.OLD_RELEASE})",
            "status": r.status.value, "new_templates": r.new_formats,
            "level": r.lines[0].level if r.lines else None, "logger": r.lines[0].logger if r.lines else None,
            "source": (_line_json(r.lines[0])["source"] if r.lines else f"{sr.SOURCE_TREE}:{r.evidence}"),
            "lines": [_line_json(line) for line in r.lines], "note": r.note,
            "lines_in_upgraded_part": counts.get(r.event, 0),
        }
        for r in sr.RULES
    ]
    return {
        "old_release": sr.OLD_RELEASE, "old_commit": None,
        "new_release": sr.NEW_RELEASE, "new_commit": sr.NEW_COMMIT, "repository": sr.REPOSITORY,
        "source_tree": sr.SOURCE_TREE, "index_cross_checks": sr.INDEX_CROSS_CHECKS, "hadoop_source": sr.HADOOP_SOURCE,
        "old_layout": sr.OLD_LAYOUT, "new_layout": sr.NEW_LAYOUT,
        "rules": rules,
        "dropped": [r.event for r in sr.RULES if r.status in (sr.Status.DEMOTED, sr.Status.REMOVED)],
        "new_only": [
            {"fault": f.name, "level": s.level, "logger": s.logger, "source": f"{sr.SOURCE_TREE}:{s.source}",
             "template": s.new_format}
            for f in sr.FAULTS for s in f.statements
        ],
    }


BENCHMARK = wd.Benchmark(
    name="spark", old_format=OLD_FORMAT, labelled_format=LABELLED_FORMAT, timestamp_format=TIMESTAMP_FORMAT,
    source=f"Spark {sr.OLD_RELEASE} executor log from the loghub Spark 2k sample",
    old_release=sr.OLD_RELEASE, new_release=f"Spark {sr.NEW_RELEASE}",
)


def generate(data_dir: Path, out: Path, seed: int = 0, rolling: float | None = None,
             history_share: float = HISTORY_SHARE, inject_share: float = INJECT_SHARE) -> dict[str, int]:
    """Write the benchmark into ``out``; returns its counts."""
    records = parse_records(wd.read_sample(data_dir, SAMPLE, history_share))
    container = read_container(records, seed)
    history, upgrade = wd.split_history(in_time_order(rewrite(records, seed)), history_share)
    plans = plan_injections(upgrade, container, seed, inject_share)
    counts = wd.write_benchmark(out, BENCHMARK, history, upgrade, plans, seed=seed, rolling=rolling,
                                history_share=history_share)
    wd.write_provenance(out, mapping(upgrade), data_dir / LICENCE,
                        wd.notice(SAMPLE, "Spark", f"Apache Spark {sr.NEW_RELEASE}",
                                  f"https://github.com/apache/spark, tag v{sr.NEW_RELEASE} (commit {sr.NEW_COMMIT})"))
    return counts


def main(argv: list[str] | None = None) -> int:
    return wd.run_cli(argv, __doc__, generate, HISTORY_SHARE, INJECT_SHARE)


if __name__ == "__main__":
    raise SystemExit(main())
