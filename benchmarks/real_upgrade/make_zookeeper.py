"""A real-upgrade benchmark from the loghub Zookeeper 2k sample: ZooKeeper 3.4.5 -> 3.8.4.

    python benchmarks/real_upgrade/make_zookeeper.py --out DIR [--data-dir /work/shared/data]
        [--seed 0] [--rolling 0.3]

The sample (three servers' logs, one after the other) is put in time order. The first 75 % of its
lines (``--history-share``) are the history, unchanged and unlabelled. The rest is printed as
ZooKeeper 3.8.4 prints the same events (zookeeper_rules.RULES: reworded statements, the logback
layout, DEBUG-demoted statements gone), with failures from real 3.8.4 ERROR/WARN statements
(zookeeper_rules.FAULTS) injected at seeded places: one per 5 windows of 10 printed lines
(``--inject-share 0.2``). ``--rolling F`` also writes a rolling upgrade: a seeded share F of the
upgraded part's blocks of 10 lines keeps the 3.4.5 wording and layout.

Everything is deterministic under ``--seed``. What it shares with make_spark.py (placing failures,
rolling blocks, labelled files, YAMLs, counts, CLI) is windowed.py. See ZOOKEEPER.md for the files written.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import windowed as wd  # beside this script, which runs as a file
import zookeeper_rules as zr

SAMPLE = Path("loghub_2k/Zookeeper/Zookeeper_2k.log")
LICENCE = Path("loghub_2k/LICENSE_loghub.txt")
HISTORY_SHARE = 0.75
"""Not 0.6: three quarters of the sample fall on 2015-07-29, most in one 30-minute storm of broken
election connections. Cut at 60 % (mid-storm) the history holds 11 events and 39 of the upgrade's 49
events never occur in it (398 of its 800 lines); cut at 75 % (that evening) it holds 23 and the
unseen events are 41 of 500 lines, so the benchmark measures the upgrade, not unseen routine events."""
INJECT_SHARE = 0.2
"""Failures per window of BLOCK printed lines. 0.2 as in the bgl-2k preset (40 of 200 windows): the
upgraded part prints only ~300 lines (3.8.4 logs client connections at DEBUG), so 0.1 would leave 3
failures, too few to score."""
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S,%f"

OLD_LINE = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (?P<level>[A-Z]+)\s+\[(?P<origin>.*?)\] - (?P<content>.*)$"
)
CLIENT_ADDRESS_EVENTS = {"E2", "E7", "E8", "E9", "E10", "E12", "E13"}
"""Events whose ``addr`` is a client's (not a peer's): the end-of-stream message names one."""
CLOSE_LOOKAHEAD = 3
"""How many of a node's next lines may hold the 'Closed socket' line that ends an end-of-stream."""
CONTEXT_VALUES = (
    "myid", "thread_sid", "peer_sid", "last_zxid", "quorum_server", "supporters", "eos_message", "request",
    "env_entry",
)
OLD_FORMAT = "<Date> <Time> - <Level> [<Origin>] - <Content>"
LABELLED_FORMAT = "<Label> <Date> <Time> <Head>- <Level> [<Origin>] - <Content>"
"""Reads both layouts: ``Head`` is empty in a 3.4.5 line and ``[myid:N] `` in a 3.8.4 one."""


@dataclass(frozen=True)
class Record:
    """One line of the 2015 sample."""

    index: int
    node: int
    stamp: str
    level: str
    thread: str
    logger: str
    content: str
    raw: str


@dataclass(frozen=True)
class Rewrite:
    """What 3.8.4 prints for one record (``text`` is None when it prints nothing)."""

    record: Record
    event: str
    text: str | None
    last_zxid: str
    """The node's newest zxid (hex) known at this line: injected failures near it quote it."""

    @property
    def lines(self) -> tuple[str, ...]:
        """What 3.8.4 prints for the record: ``text``, or nothing."""
        return () if self.text is None else (self.text,)


@dataclass
class _NodeState:
    last_zxid: str = "0"
    last_session: str = "0"
    last_client: str | None = None


# -- reading -----------------------------------------------------------------------------------


def parse_records(lines: list[str]) -> list[Record]:
    """Parse 2015 lines; a new node starts wherever the time goes backwards (the files are concatenated)."""
    records: list[Record] = []
    segments: list[list[int]] = [[]]
    previous = ""
    for number, line in enumerate(lines, start=1):
        m = OLD_LINE.match(line.rstrip("\n"))
        if m is None:
            raise wd.UnmappedLineError(f"line {number} is not in the 3.4.5 layout {zr.OLD_LAYOUT!r}: {line[:200]!r}")
        if previous and m["stamp"] < previous:
            segments.append([])
        previous = m["stamp"]
        segments[-1].append(len(records))
        thread, _, logger = m["origin"].rpartition(":")
        content, raw = m["content"].rstrip(), line.rstrip("\n")
        records.append(Record(len(records), 0, m["stamp"], m["level"], thread, logger, content, raw))
    for number, members in enumerate(segments, start=1):
        node = _node_id([records[i] for i in members], number)
        for i in members:
            records[i] = replace(records[i], node=node)
    return records


def _node_id(records: list[Record], fallback: int) -> int:
    for r in records:
        m = re.search(r"myid=(\d+)", r.thread) or re.search(r"my id = (\d+)", r.content)
        if m:
            return int(m.group(1))
    return fallback


# -- rewriting ---------------------------------------------------------------------------------

_COMPILED = tuple((rule, re.compile(rule.old_regex)) for rule in zr.RULES)
_THREADS = tuple((re.compile(pattern), new) for pattern, new in zr.THREAD_RENAMES)
_ENV = tuple((re.compile(pattern), new) for pattern, new in zr.ENV_REWRITES)


def match_rule(content: str) -> tuple[zr.Rule, dict[str, str]]:
    for rule, regex in _COMPILED:
        m = regex.match(content)
        if m:
            return rule, m.groupdict()
    raise wd.UnmappedLineError(f"no rule of zookeeper_rules.RULES matches {content[:200]!r}; add one")


def new_line(stamp: str, level: str, thread: str, logger: str, message: str, myid: int) -> str:
    """One line in the 3.8.4 logback layout; only MDC_THREADS carry the MDC's myid."""
    mdc = str(myid) if thread in zr.MDC_THREADS else ""
    return f"{stamp} [myid:{mdc}] - {level:<5} [{thread}:{logger}] - {message}"


def _peer_sid(thread: str) -> str:
    m = re.search(r"/([\d.]+):\d+", thread)
    for sid, address in zr.ENSEMBLE.items():
        if m and m.group(1) == address:
            return str(sid)
    return "0"


def _context(name: str, rec: Record, groups: dict[str, str], state: _NodeState, ahead: list[Record]) -> str:
    if name == "myid":
        return str(rec.node)
    if name == "thread_sid":
        return rec.thread.rpartition(":")[2]
    if name == "peer_sid":
        return _peer_sid(rec.thread)
    if name == "last_zxid":
        return state.last_zxid
    if name == "quorum_server":
        address = zr.ENSEMBLE.get(int(groups["sid"]), "0.0.0.0")
        return f"{address}:{zr.QUORUM_PORT}:{zr.ELECTION_PORT}:participant"
    if name == "supporters":
        sids = sorted({rec.node, int(_peer_sid(rec.thread))} - {0})
        return "[" + ", ".join(str(s) for s in sids) + "]"
    if name == "eos_message":
        # The 3.4.5 'Closed socket' line that followed named the client; 3.8.4 puts it here. The
        # sample skips lines, so failing that: the node's last client and session, else its next client.
        addr, session = state.last_client, state.last_session
        for nxt in ahead[:CLOSE_LOOKAHEAD]:
            rule, values = match_rule(nxt.content)
            if rule.event in {"E9", "E10"}:
                return zr.EOS_MESSAGE.format(addr=values["addr"], session=values.get("session", "0"))
        if addr is None:
            addr = next((values["addr"] for rule, values in map(match_rule, (n.content for n in ahead))
                         if rule.event in CLIENT_ADDRESS_EVENTS), "/0.0.0.0:0")
        return zr.EOS_MESSAGE.format(addr=addr, session=session)
    if name == "request":
        return (f"sessionid:{groups['session']} type:{groups['type']} cxid:{groups['cxid']} zxid:{groups['zxid']} "
                f"txntype:{groups['txntype']} reqpath:{groups['path']}")
    if name == "env_entry":
        entry = groups["entry"]
        for regex, new in _ENV:
            entry = regex.sub(new, entry)
        return entry
    raise KeyError(f"unknown value {name!r} in an args list; known: groups of old_regex, {CONTEXT_VALUES}")


def _value(spec: str, rec: Record, groups: dict[str, str], state: _NodeState, ahead: list[Record]) -> str:
    if spec.startswith("="):
        return spec[1:]
    return groups[spec] if spec in groups else _context(spec, rec, groups, state, ahead)


def _thread(rule: zr.Rule, rec: Record, groups: dict[str, str], rng: random.Random) -> str:
    names = {"thread": rec.thread, "myid": rec.node, "worker": rng.randint(1, 8), "conn": rng.randint(1, 3), **groups}
    if rule.thread is not None:
        return rule.thread.format(**names)
    for regex, new in _THREADS:
        m = regex.match(rec.thread)
        if m:
            return new.format(**{**names, **m.groupdict()})
    return rec.thread


def rewrite(records: list[Record], seed: int) -> list[Rewrite]:
    """Rewrite every record as 3.8.4 prints it, walking each node's lines in their own order."""
    rng = random.Random(f"{seed}:threads")
    by_node: dict[int, list[Record]] = {}
    for r in records:
        by_node.setdefault(r.node, []).append(r)
    out: dict[int, Rewrite] = {}
    for mine in by_node.values():
        state = _NodeState(last_zxid=_first_zxid(mine))
        for position, rec in enumerate(mine):
            rule, groups = match_rule(rec.content)
            text = None
            if rule.status in (zr.Status.SAME, zr.Status.REWORDED):
                ahead = mine[position + 1:]
                values = [_value(a, rec, groups, state, ahead) for a in rule.args]
                message = wd.fill(rule.new_format or "", values)
                text = new_line(rec.stamp, rule.level or rec.level, _thread(rule, rec, groups, rng), rule.logger or "",
                                message, rec.node)
            out[rec.index] = Rewrite(rec, rule.event, text, state.last_zxid)
            if "zxid" in groups:
                state.last_zxid = groups["zxid"].removeprefix("0x")
            if "session" in groups:
                state.last_session = groups["session"].removeprefix("0x")
            if rule.event in CLIENT_ADDRESS_EVENTS and "addr" in groups:
                state.last_client = groups["addr"]
    return [out[r.index] for r in records]


def _first_zxid(records: list[Record]) -> str:
    """The first zxid a node's log names: what it held before its first line that names one."""
    for rec in records:
        zxid = match_rule(rec.content)[1].get("zxid")
        if zxid:
            return zxid.removeprefix("0x")
    return "0"


def in_time_order(rewrites: list[Rewrite]) -> list[Rewrite]:
    """Stable sort by timestamp: the three servers' files become one log, as a collector would merge them."""
    return sorted(rewrites, key=lambda w: (w.record.stamp, w.record.index))


# -- injecting ---------------------------------------------------------------------------------


def _fault_values(node: int, last_zxid: str, rng: random.Random) -> dict[str, str]:
    others = [sid for sid in sorted(zr.ENSEMBLE) if sid != node] or [node]
    peer = rng.choice(others)
    zxid = int(last_zxid, 16)
    epoch = zxid >> 32
    remaining = rng.randint(4000, 9000)
    high = zxid + rng.randint(5, 50)
    return {
        "myid": str(node),
        "conn": str(rng.randint(1, 3)),
        "leader_addr": f"/{zr.ENSEMBLE[peer]}:{zr.QUORUM_PORT}",
        "remaining_ms": str(remaining),
        "remaining_ms_later": str(remaining - rng.randint(1000, 2000)),
        "snap_path": f"/var/lib/zookeeper/version-2/snapshot.{last_zxid}",
        "high_zxid_dec": str(high),
        "next_zxid_dec": str(high - rng.randint(1, 5)),
        "txn_type": str(rng.choice([1, 2, 5, -10, -11])),
        "sync_thread": f"SyncThread:{node}",
        "fsync_ms": str(rng.randint(1200, 25000)),
        "peer_sid": str(peer),
        "learner_addr": f"/{zr.ENSEMBLE[peer]}:{rng.randint(32768, 60999)}",
        "peer_election_addr": f"/{zr.ENSEMBLE[peer]}:{zr.ELECTION_PORT}",
        "epoch_zxid": format((epoch + 1) << 32, "x"),
        "stale_epoch_zxid": format(epoch << 32, "x"),
        "got_zxid": format(zxid + rng.randint(2, 9), "x"),
        "expected_zxid": format(zxid + 1, "x"),
        "trunc_zxid": format(max(zxid - rng.randint(1, 20), 0), "x"),
    }


def _stamp_after(stamp: str, ms: int, limit: str | None) -> str:
    moved = (datetime.strptime(stamp, STAMP_FORMAT) + timedelta(milliseconds=ms)).strftime(STAMP_FORMAT)[:-3]
    return min(moved, limit) if limit is not None and limit >= stamp else moved


def plan_injections(upgrade: list[Rewrite], seed: int, share: float = INJECT_SHARE) -> list[wd.Injection[zr.Fault]]:
    """Place ``injection_count`` failures (windowed.place_injections): each fault's statements as the host's node
    logs them, a millisecond apart after the host line (not past the next line's time), quoting its newest zxid."""
    def lines_for(index: int, fault: zr.Fault, rng: random.Random) -> tuple[wd.OutLine, ...]:
        host = upgrade[index]
        following = upgrade[index + 1].record.stamp if index + 1 < len(upgrade) else None
        values = _fault_values(host.record.node, host.last_zxid, rng)
        lines = []
        for k, st in enumerate(fault.statements, start=1):
            message = wd.fill(st.new_format, [a[1:] if a.startswith("=") else values[a] for a in st.args])
            stamp = _stamp_after(host.record.stamp, k, following)
            text = new_line(stamp, st.level, st.thread.format(**values), st.logger, message, host.record.node)
            lines.append(wd.OutLine(text, fault.name, st.level, st.logger, st.source, message))
        return tuple(lines)

    return wd.place_injections(upgrade, zr.FAULTS, seed, share, lines_for)


# -- writing -----------------------------------------------------------------------------------


def mapping(upgrade: list[Rewrite]) -> dict:
    """The ground truth ``score.py`` reads: every rule with its 3.4.5 and 3.8.4 statements, and the faults'."""
    counts = wd.event_counts(upgrade)
    rules = [
        {
            "event": r.event, "old_template": r.old_template, "old_source": f"{zr.OLD_COMMIT}:{r.old_source}",
            "status": r.status.value, "new_templates": [r.new_format] if r.new_format is not None else [],
            "level": r.level, "logger": r.logger, "source": f"{zr.NEW_COMMIT}:{r.source}", "note": r.note,
            "lines_in_upgraded_part": counts.get(r.event, 0),
        }
        for r in zr.RULES
    ]
    return {
        "old_release": zr.OLD_RELEASE, "old_commit": zr.OLD_COMMIT,
        "new_release": zr.NEW_RELEASE, "new_commit": zr.NEW_COMMIT, "repository": zr.REPOSITORY,
        "old_layout": zr.OLD_LAYOUT, "new_layout": zr.NEW_LAYOUT,
        "rules": rules,
        "dropped": [r.event for r in zr.RULES if r.status in (zr.Status.DEMOTED, zr.Status.REMOVED)],
        "new_only": [
            {"fault": f.name, "level": s.level, "logger": s.logger, "source": f"{zr.NEW_COMMIT}:{s.source}",
             "template": s.new_format}
            for f in zr.FAULTS for s in f.statements
        ],
    }


BENCHMARK = wd.Benchmark(
    name="zookeeper", old_format=OLD_FORMAT, labelled_format=LABELLED_FORMAT, timestamp_format=STAMP_FORMAT,
    source=f"ZooKeeper {zr.OLD_RELEASE} logs from the loghub Zookeeper 2k sample", source_pronoun="them",
    old_release=zr.OLD_RELEASE, new_release=f"ZooKeeper {zr.NEW_RELEASE}",
)


def generate(data_dir: Path, out: Path, seed: int = 0, rolling: float | None = None,
             history_share: float = HISTORY_SHARE, inject_share: float = INJECT_SHARE) -> dict[str, int]:
    """Write the benchmark into ``out``; returns its counts."""
    records = parse_records(wd.read_sample(data_dir, SAMPLE, history_share))
    history, upgrade = wd.split_history(in_time_order(rewrite(records, seed)), history_share)
    plans = plan_injections(upgrade, seed, inject_share)
    counts = wd.write_benchmark(out, BENCHMARK, history, upgrade, plans, seed=seed, rolling=rolling,
                                history_share=history_share)
    wd.write_provenance(out, mapping(upgrade), data_dir / LICENCE,
                        wd.notice(SAMPLE, "Zookeeper", f"ZooKeeper {zr.NEW_RELEASE}",
                                  f"https://github.com/apache/zookeeper at commit {zr.NEW_COMMIT}"))
    return counts


def main(argv: list[str] | None = None) -> int:
    return wd.run_cli(argv, __doc__, generate, HISTORY_SHARE, INJECT_SHARE)


if __name__ == "__main__":
    raise SystemExit(main())
