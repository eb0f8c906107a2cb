"""Rewrite the 2008 HDFS sample (Hadoop 0.18) as Hadoop 2.7.7 (or 3.3.6) would print the same blocks.

Every line of the ``hdfs`` preset's data is parsed by one rule of the release's table
(``hdfs_rules.py`` for 2.7.7, ``hdfs_rules_3x.py`` for 3.3.6) and rewritten as the release's own
statement(s) for the same event: reworded, re-leveled, with 2.x/3.x id formats (block pool,
sequential block ids with generation stamps, datanode registrations, storage ids), split into two
lines, merged with its siblings, or dropped where the release logs it below INFO. Timestamps,
block membership and per-block labels are kept, so the same 1,150 blocks form the chronological
test split.

    python benchmarks/real_upgrade/make_hdfs.py --out results/real_upgrade/hdfs
    python benchmarks/real_upgrade/make_hdfs.py --out results/real_upgrade/hdfs-rolling --rolling 0.5 --seed 0
    python benchmarks/real_upgrade/make_hdfs.py --release 3.3.6 --out results/real_upgrade/hdfs-3x

Writes, in ``--out``: ``hdfs-2x.log`` (``hdfs-3x.log`` for 3.3.6; log4j layout of the release),
``labels.csv``, ``hdfs-2x.yaml`` (``hdfs-3x.yaml``; dataset), ``experiment.yaml`` (train on the
2008 history, test on the release), ``mapping.json`` (old template -> new templates),
``block_map.csv``, the loghub licence and a NOTICE; with ``--rolling``, also ``rolling.csv``. The
data is loghub's (Zhu et al., ISSRE 2023).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sys
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
# benchmarks/ is not a package: the rules tables are imported from beside this file.
import hdfs_rules  # noqa: E402
import hdfs_rules_3x  # noqa: E402
from hdfs_rules import Fate, Rule  # noqa: E402

from collaborlog.data.dataset import find_data_dir  # noqa: E402
from collaborlog.errors import CollaborLogError, DataError  # noqa: E402

PARQUET = "hdfs_2pct_loglead/hdfs_events_2percent.parquet"
LABELS = "hdfs_2pct_loglead/hdfs_seqs_2percent_labels.csv"
LICENCE = "loghub_2k/LICENSE_loghub.txt"
SESSION_REGEX = r"blk_-?[0-9]+"
NEW_VERSION, OLD_VERSION = "2.7.7", "0.18"
OLD_XFER_PORT = "50010"
"""The datanodes' transfer port in the 2008 lines (and the 2.x default)."""


@dataclass(frozen=True)
class Release:
    """A release the sample can be rewritten as: its rules table and its file names."""

    key: str
    """The ``--release`` value (and the ``version`` of ``block_map.csv``)."""
    rules: tuple[Rule, ...]
    cluster: dict
    info: dict
    stem: str
    """File stem of the log and the dataset: ``<stem>.log``, ``<stem>.yaml``."""

    @property
    def name(self) -> str:
        return self.info["name"]


RELEASES = {
    "2.7.7": Release("2.7.7", hdfs_rules.RULES, hdfs_rules.CLUSTER, hdfs_rules.RELEASE, "hdfs-2x"),
    "3.3.6": Release("3.3.6", hdfs_rules_3x.RULES, hdfs_rules_3x.CLUSTER, hdfs_rules_3x.RELEASE, "hdfs-3x"),
}
DEFAULT_RELEASE = NEW_VERSION
_COMPILED = {key: [(rule, re.compile(rule.old_pattern, re.DOTALL)) for rule in release.rules]
             for key, release in RELEASES.items()}
_NAMESPACE = uuid.UUID("6f1c3a52-4a0e-4c7e-9a55-0c2d2a7e1b09")  # fixed: ids are reproducible


@dataclass(frozen=True)
class OldLine:
    """One line of the 2008 log: when, how, what, and the block it belongs to."""

    time: datetime
    level: str
    logger: str
    message: str
    block: str


@dataclass(frozen=True)
class OutLine:
    """One line of the rewritten log."""

    time: datetime
    level: str
    logger: str
    message: str

    def render(self) -> str:
        """The line in the release's log4j layout ``%d{ISO8601} %p %c: %m``."""
        stamp = f"{self.time:%Y-%m-%d %H:%M:%S},{self.time.microsecond // 1000:03d}"
        return f"{stamp} {self.level} {self.logger}: {self.message}"


@dataclass
class RuleCount:
    old_lines: int = 0
    rewritten: int = 0
    """Old lines of blocks the release writes (all of them, unless rolling)."""
    new_lines: int = 0


@dataclass
class Rewritten:
    """The rewritten log, its labels by session key, and what each rule did."""

    lines: list[OutLine]
    labels: dict[str, int]
    block_map: dict[str, str]
    """Old block id -> session key in the output (new id, or the old one for old-version blocks)."""
    new_blocks: set[str]
    """Old ids of the blocks written by the release."""
    counts: dict[str, RuleCount] = field(default_factory=dict)
    release: str = DEFAULT_RELEASE


def release_of(key: str) -> Release:
    if key not in RELEASES:
        raise DataError(f"unknown release {key!r}; choose one of {', '.join(RELEASES)}")
    return RELEASES[key]


def classify(message: str, release: str = DEFAULT_RELEASE) -> tuple[Rule, re.Match[str]]:
    """The rule of ``release``'s table whose old pattern matches the whole message."""
    release_of(release)
    for rule, pattern in _COMPILED[release]:
        match = pattern.fullmatch(message)
        if match:
            return rule, match
    raise DataError(f"no rule of the {release} table parses the old message {message!r}; add one to its RULES")


class Cluster:
    """The 2.x/3.x identities of the 2008 cluster: block pool, block ids, datanodes, storages."""

    def __init__(self, blocks_in_order: Sequence[str], release: str = DEFAULT_RELEASE) -> None:
        c = self.c = release_of(release).cluster
        self.bpid = f"BP-{c['block_pool_random']}-{c['namenode_ip']}-{c['block_pool_millis']}"
        self.cluster_id = f"CID-{uuid.uuid5(_NAMESPACE, 'cluster')}"
        self.ids: dict[str, tuple[int, int]] = {}
        for old in blocks_in_order:
            self.block_id(old)

    def block_id(self, old: str) -> int:
        """The 2.x id of a 2008 block, given in order of first mention (allocation order).

        Ids are spaced as in the sample, which keeps about one block in 50; a block named only in
        another block's line gets the next id after the sample's.
        """
        if old not in self.ids:
            spacing = self.c["block_id_spacing"]
            offset = spacing * len(self.ids) + zlib.crc32(old.encode()) % spacing
            self.ids[old] = (self.c["first_block_id"] + offset, self.c["first_generation_stamp"] + offset)
        return self.ids[old][0]

    def blk(self, old: str) -> str:
        self.block_id(old)
        block_id, stamp = self.ids[old]
        return f"blk_{block_id}_{stamp}"

    def session(self, old: str) -> str:
        return f"blk_{self.block_id(old)}"

    def datanode_uuid(self, addr: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, "datanode/" + addr.split(":")[0]))

    def xfer(self, addr: str) -> str:
        """A datanode's transfer address ``ip:50010`` with the release's port (3.x: 9866)."""
        port = self.c.get("xfer_port")
        return addr if port is None else re.sub(rf"(\d+\.\d+\.\d+\.\d+):{OLD_XFER_PORT}\b", rf"\g<1>:{port}", addr)

    def dnreg(self, addr: str) -> str:
        c = self.c
        return (f"DatanodeRegistration({addr}, datanodeUuid={self.datanode_uuid(addr)}, "
                f"infoPort={c['info_port']}, infoSecurePort=0, ipcPort={c['ipc_port']}, "
                f"storageInfo=lv={c['datanode_layout_version']};cid={self.cluster_id};"
                f"nsid={c['namespace_id']};c={c.get('ctime', 0)})")

    def storage(self, addr: str) -> str:
        ip = addr.split(":")[0]
        return f"[DISK]DS-{uuid.uuid5(_NAMESPACE, 'storage/' + ip)}:NORMAL:{addr}"

    def block_file(self, old_path: str, old_block: str) -> str:
        root = old_path.split("/current/")[0]
        block_id = self.block_id(old_block)
        mask = self.c.get("subdir_mask", 0xFF)  # 2.7.7: 256x256 dirs (layout -56); 3.x: 32x32 (-57)
        return (f"{root}/current/{self.bpid}/current/finalized/subdir{(block_id >> 16) & mask}/"
                f"subdir{(block_id >> 8) & mask}/blk_{block_id}")


def _ephemeral_port(*key: object) -> int:
    return 32768 + zlib.crc32("|".join(map(str, key)).encode()) % 28232


@dataclass
class _BlockFacts:
    """What a block's other lines tell about it (first pass)."""

    size: int | None = None
    pipeline: list[str] = field(default_factory=list)
    """Datanodes of the write pipeline, in the order they reported the block."""
    receiving: int = 0
    """Replicas received before any re-replication: the length of the write pipeline."""
    replicating: bool = False
    stored_on: list[str] = field(default_factory=list)
    src_ports: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    """Source ports of the block's receiving lines, by source address, not yet used."""
    reported: list[str] = field(default_factory=list)
    """Pipeline datanodes whose report was already written."""
    hashed_ports: Counter = field(default_factory=Counter)
    path: str = ""
    """The file the block belongs to (its allocation line)."""
    first_receive: datetime | None = None
    traced: list[str] = field(default_factory=list)
    """Datanodes whose client-trace record of the write is already written."""


def _facts(parsed: Iterable[tuple[OldLine, Rule, re.Match[str]]]) -> dict[str, _BlockFacts]:
    facts: dict[str, _BlockFacts] = defaultdict(_BlockFacts)
    for line, rule, match in parsed:
        f = facts[line.block]
        groups = match.groupdict()
        if f.size is None and groups.get("size"):
            f.size = int(groups["size"])
        if rule.event in ("E18", "E25"):
            f.replicating = True
        if rule.event == "E22":
            f.path = groups["path"]
        if rule.event == "E5":
            f.first_receive = f.first_receive or line.time
            src_ip, src_port = groups["src"].lstrip("/").split(":")
            f.src_ports[src_ip].append(src_port)
            f.receiving += 0 if f.replicating else 1
        if rule.event == "E26" and groups["dn"] not in f.stored_on:
            f.stored_on.append(groups["dn"])
    for f in facts.values():
        # The 2008 'dest' of a receiving line repeats the source's address, so the pipeline is
        # read from the namenode's side: the first datanodes to report the block.
        f.pipeline = f.stored_on[: f.receiving]
    return facts


def _client(path: str) -> str:
    """The DFSClient name of the file's writer: its task attempt, or NONMAPREDUCE (job files)."""
    attempt = re.search(r"_task_(\d+_\d+_[mr]_\d+_\d+)", path)
    task = f"attempt_{attempt.group(1)}" if attempt else "NONMAPREDUCE"
    return f"DFSClient_{task}_{zlib.crc32(path.encode()) - 2**31}_1"


def _client_trace(line: OldLine, sender_ip: str, old: str, cluster: Cluster, f: _BlockFacts) -> dict[str, str]:
    """Receiver, writer and duration of a write's client-trace record.

    Each datanode of the pipeline writes one record; the 2008 line names only the sender, so the
    receivers are taken in pipeline order, skipping the sender itself.
    """
    candidates = [dn for dn in f.pipeline if dn.split(":")[0] != sender_ip and dn not in f.traced]
    dest = candidates[0] if candidates else f"{sender_ip}:50010"
    f.traced.append(dest)
    started = f.first_receive or line.time
    nanos = int((line.time - started).total_seconds()) * 10**9 + zlib.crc32(f"{old}|{dest}".encode()) % 10**9
    return {"dest": dest, "srv_id": cluster.datanode_uuid(dest), "client": _client(f.path), "duration": str(nanos)}


def _responder(eblk: str, count: str) -> str:
    if int(count) == 0:
        return f"PacketResponder: {eblk}, type=LAST_IN_PIPELINE, downstreams=0:[]"
    return f"PacketResponder: {eblk}, type=HAS_DOWNSTREAM_IN_PIPELINE"


def _responder_3x(eblk: str, count: str, cluster: Cluster, f: _BlockFacts) -> str:
    """3.x PacketResponder name: a responder with downstream datanodes lists them.

    The 2008 line gives only their number; they are the last ``count`` datanodes of the block's
    write pipeline (its datanodes in report order when the pipeline read is shorter).
    """
    n = int(count)
    if n == 0:
        return f"PacketResponder: {eblk}, type=LAST_IN_PIPELINE"
    nodes = f.pipeline if len(f.pipeline) >= n else f.stored_on
    downstreams = [cluster.xfer(dn) for dn in nodes[-n:]]
    return f"PacketResponder: {eblk}, type=HAS_DOWNSTREAM_IN_PIPELINE, downstreams={len(downstreams)}:" \
           f"[{', '.join(downstreams)}]"


def _fields_3x(out: dict[str, str], g: dict[str, str], rule: Rule, cluster: Cluster, f: _BlockFacts) -> None:
    """The fields 3.3.6 prints differently from 2.7.7 (see ``hdfs_rules_3x.FIELDS``)."""
    if "n" in g:
        out["responder"] = _responder_3x(out["eblk"], g["n"], cluster, f)
    if "dest" in out:  # E9's receiver, taken from the write pipeline
        out["dest"] = cluster.xfer(out["dest"])
    # DataNode.getDisplayName is host:port; the synthetic cluster's host names are its ips. A
    # line without a datanode (recoverRbw) is the block's first reporting datanode's.
    logger_dn = g.get("dn") or next(iter(f.pipeline or f.stored_on), None)
    out["display"] = cluster.xfer(logger_dn) if logger_dn else f"localhost:{cluster.c['xfer_port']}"
    if "targets" in out:
        out["xfer_targets"] = " ".join(out["targets"].split())
    if rule.event == "E22":
        out["replicas"] = ", ".join(cluster.xfer(dn) for dn in f.pipeline)
    if "block_file" in out:
        out["block_uri"] = "file:" + out["block_file"]


def _fields(line: OldLine, rule: Rule, match: re.Match[str], cluster: Cluster, f: _BlockFacts,
            release: str = DEFAULT_RELEASE) -> dict[str, str]:
    """Values for every ``{name}`` a rule's new messages may use (see ``hdfs_rules.FIELDS``)."""
    g = {k: cluster.xfer(v) for k, v in match.groupdict().items() if v is not None}
    old = g.get("b", line.block)
    blk = cluster.blk(old)
    out = dict(g, blk=blk, eblk=f"{cluster.bpid}:{blk}", bpid=cluster.bpid)
    if "dn" in g:
        out["dnreg"] = cluster.dnreg(g["dn"])
    if "n" in g:
        out["responder"] = _responder(out["eblk"], g["n"])
    if "ip" in g:
        ports = f.src_ports.get(g["ip"])
        if rule.event == "E9" and ports:
            port = ports.pop(0)
        else:
            f.hashed_ports[g["ip"]] += 1
            port = str(_ephemeral_port(old, g["ip"], f.hashed_ports[g["ip"]]))
        out["ip_port"] = f"{g['ip']}:{port}"
    if rule.event == "E9":
        out.update(_client_trace(line, g["ip"], old, cluster, f))
    if "targets" in g:
        out["targets"] = "".join(t + " " for t in re.split(r"[,\s]+", g["targets"].strip()) if t)
    if "blocks" in g:
        out["block_list"] = "[" + ", ".join(cluster.blk(b) for b in g["blocks"].split()) + "]"
    if "path" in g and rule.event == "E21":
        out["block_file"] = cluster.block_file(g["path"], old)
    out["numbytes"] = str(f.size if f.size is not None else 0)
    if rule.event == "E22":
        replicas = ", ".join(f"ReplicaUC[{cluster.storage(dn)}|RBW]" for dn in f.pipeline)
        out["allocated"] = (f"{blk}{{UCState=UNDER_CONSTRUCTION, truncateBlock=null, primaryNodeIndex=-1, "
                            f"replicas=[{replicas}]}}")
    if rule.event == "E26":
        dn = g["dn"]
        if dn in f.pipeline and dn not in f.reported:
            # The pipeline's own reports reach the namenode while the block is still under
            # construction (committed): 2.x prints the replicas, finalized as they report.
            f.reported.append(dn)
            replicas = ", ".join(
                f"ReplicaUC[{cluster.storage(p)}|{'FINALIZED' if p in f.reported else 'RBW'}]" for p in f.pipeline)
            out["stored"] = (f"{blk}{{UCState=COMMITTED, truncateBlock=null, primaryNodeIndex=-1, "
                             f"replicas=[{replicas}]}}")
        else:
            out["stored"] = blk
    if release != "2.7.7":
        _fields_3x(out, g, rule, cluster, f)
    return out


def _blocks_in_order(lines: Sequence[OldLine]) -> list[str]:
    return list(dict.fromkeys(line.block for line in lines))


def choose_new_blocks(blocks: Sequence[str], fraction: float, seed: int) -> set[str]:
    """A seeded share ``fraction`` of ``blocks`` (rounded), the ones the release writes."""
    if not 0.0 <= fraction <= 1.0:
        raise DataError(f"--rolling must be a fraction between 0 and 1; it was {fraction}")
    order = np.random.default_rng(seed).permutation(len(blocks))
    return {blocks[i] for i in order[: int(round(fraction * len(blocks)))]}


def rewrite(lines: Sequence[OldLine], labels: dict[str, int], new_blocks: set[str] | None = None,
            release: str = DEFAULT_RELEASE) -> Rewritten:
    """The log as ``release`` prints it; blocks outside ``new_blocks`` (when given) stay as in 2008.

    ``lines`` are put in time order (stably, so that lines of one second keep their order); every
    block must have a label.
    """
    ordered = sorted(lines, key=lambda line: line.time)
    blocks = _blocks_in_order(ordered)
    missing = [b for b in blocks if b not in labels]
    if missing:
        raise DataError(f"{len(missing)} blocks have no label (first: {missing[0]}); check the labels file")
    new = set(blocks) if new_blocks is None else set(new_blocks)
    # Ids by allocation order over all blocks, so a block has the same 2.x id in every variant.
    cluster = Cluster(blocks, release)
    parsed = [(line, *classify(line.message, release)) for line in ordered]
    facts = _facts(p for p in parsed if p[0].block in new)
    counts = {rule.event: RuleCount() for rule in release_of(release).rules}
    out: list[OutLine] = []
    # A merged statement is formatted once its group is complete: (block, second) -> (index in
    # ``out``, fields of its first line, datanodes of every line).
    groups: dict[tuple[str, datetime], tuple[int, dict[str, str], list[str]]] = {}
    for line, rule, match in parsed:
        counts[rule.event].old_lines += 1
        if line.block not in new:
            out.append(OutLine(line.time, line.level, line.logger, line.message))
            counts[rule.event].new_lines += 1
            continue
        counts[rule.event].rewritten += 1
        values = _fields(line, rule, match, cluster, facts[line.block], release)
        if rule.fate is Fate.MERGED:
            key = (line.block, line.time)
            if key in groups:
                groups[key][2].append(values["dn"])
                continue
            groups[key] = (len(out), values, [values["dn"]])
        for statement in rule.new:
            message = statement.message if rule.fate is Fate.MERGED else statement.message.format(**values)
            out.append(OutLine(line.time, statement.level, statement.logger, message))
            counts[rule.event].new_lines += 1
    for index, values, dns in groups.values():
        line = out[index]
        message = line.message.format(**values, datanodes="".join(dn + " " for dn in dns))
        out[index] = OutLine(line.time, line.level, line.logger, message)
    session = {b: (cluster.session(b) if b in new else b) for b in blocks}
    return Rewritten(lines=out, labels={session[b]: labels[b] for b in blocks}, block_map=session,
                     new_blocks=new, counts=counts, release=release)


def read_old(data_dir: Path) -> tuple[list[OldLine], dict[str, int]]:
    """The ``hdfs`` preset's lines (in time order) and block labels."""
    import pandas as pd

    parquet, labels_csv = data_dir / PARQUET, data_dir / LABELS
    for path in (parquet, labels_csv):
        if not path.is_file():
            raise DataError(f"{path} does not exist; pass --data-dir, the folder that holds {PARQUET}")
    frame = pd.read_parquet(parquet, columns=["level", "component", "m_message", "seq_id", "m_timestamp"])
    frame = frame.sort_values("m_timestamp", kind="stable")
    lines = [OldLine(t.to_pydatetime(), level, component.strip().rstrip(":"), message.strip(), block)
             for t, level, component, message, block in zip(frame.m_timestamp, frame.level, frame.component,
                                                             frame.m_message, frame.seq_id)]
    table = pd.read_csv(labels_csv)
    return lines, dict(zip(table.seq_id.astype(str), table.label.astype(int)))


def mapping(rolling: bool, release: str = DEFAULT_RELEASE) -> dict[str, object]:
    """Ground truth for rewording recognition: old template -> the release's templates."""
    variant = release_of(release)
    rules, info = variant.rules, variant.info
    return {
        "release": info,
        "old_to_new": {rule.old_template: [s.template for s in rule.new] for rule in rules},
        # Every line of the benchmark is rewritten from a 2008 line (no event is invented), so no
        # template lacks an old counterpart; the second lines of split statements are listed for
        # scorers that want to treat them apart.
        "new_without_old": [],
        "split_second_lines": [rule.new[1].template for rule in rules if rule.fate is Fate.SPLIT],
        "rules": [
            {"event": rule.event, "old_template": rule.old_template, "old_level": rule.old_level,
             "old_logger": rule.old_logger, "fate": rule.fate.value, "note": rule.note,
             "new": [{"level": s.level, "logger": s.logger, "template": s.template, "source": s.source,
                      "source_format": s.source_format, "commit": info["commit"]} for s in rule.new],
             "below_info": None if rule.hidden is None else {
                 "level": rule.hidden.level, "logger": rule.hidden.logger, "template": rule.hidden.template,
                 "source": rule.hidden.source}}
            for rule in rules
        ],
        "rolling": rolling,
    }


def report(result: Rewritten) -> str:
    """Per-rule counts and totals, as a plain-text table."""
    rules = release_of(result.release).rules
    rows = [f"{'event':6} {'fate':16} {'old lines':>10} {'rewritten':>10} {'new lines':>10}"]
    for rule in rules:
        c = result.counts[rule.event]
        rows.append(f"{rule.event:6} {rule.fate.value:16} {c.old_lines:>10,} {c.rewritten:>10,} {c.new_lines:>10,}")
    by_fate = Counter()
    for rule in rules:
        by_fate[rule.fate] += result.counts[rule.event].rewritten
    applied = sum(1 for rule in rules if result.counts[rule.event].old_lines)
    old_total = sum(c.old_lines for c in result.counts.values())
    new_total = sum(c.new_lines for c in result.counts.values())
    rows += [
        f"old templates: {len(rules)}; rules applied (template present): {applied}",
        f"lines: {old_total:,} old -> {new_total:,} new; blocks: {len(result.labels):,} "
        f"({len(result.new_blocks):,} written by {result.release}), anomalous: {sum(result.labels.values()):,}",
        f"old lines kept as 2008 printed them: {old_total - sum(c.rewritten for c in result.counts.values()):,}; "
        f"lines dropped (below INFO or no statement): "
        f"{by_fate[Fate.DROPPED_DEBUG] + by_fate[Fate.DROPPED_REMOVED]:,}; "
        f"lines split in two: {by_fate[Fate.SPLIT]:,}; lines merged: {by_fate[Fate.MERGED]:,}",
    ]
    return "\n".join(rows)


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def write(out: Path, data_dir: Path, result: Rewritten, rolling: float | None, seed: int) -> None:
    variant = release_of(result.release)
    stem = variant.stem
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    (out / f"{stem}.log").write_text("".join(line.render() + "\n" for line in result.lines), encoding="utf-8")
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["block_id", "label"])
        writer.writerows(sorted(result.labels.items()))
    with open(out / "block_map.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["old_block_id", "block_id", "version"])
        for old, key in result.block_map.items():
            writer.writerow([old, key, variant.key if old in result.new_blocks else OLD_VERSION])
    if rolling is not None:
        with open(out / "rolling.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["block_id", "new_version"])
            for old, key in result.block_map.items():
                writer.writerow([key, int(old in result.new_blocks)])
    name = stem if rolling is None else f"{stem}-rolling-{rolling:g}-seed{seed}"
    what = (f"HDFS sample rewritten as {variant.name} prints it" if rolling is None else
            f"HDFS sample, rolling upgrade: {rolling:.0%} of the blocks written by {variant.name} (seed {seed})")
    # Absolute paths: an experiment run with --data-dir resolves relative dataset paths there.
    (out / f"{stem}.yaml").write_text(
        f"# Generated by benchmarks/real_upgrade/make_hdfs.py. Data: loghub (Zhu et al., ISSRE 2023),\n"
        f"# https://github.com/logpai/loghub; see NOTICE and LICENSE_loghub.txt.\n"
        f"name: {name}\n"
        f"description: {_yaml_str(what)}\n"
        f"source:\n"
        f"  kind: text\n"
        f"  path: {_yaml_str(str(out / (stem + '.log')))}\n"
        f"  log_format: \"<Date> <Time> <Level> <Component>: <Content>\"\n"
        f"  timestamp: {{fields: [Date, Time], format: \"%Y-%m-%d %H:%M:%S,%f\"}}\n"
        f"grouping: {{kind: session, regex: {_yaml_str(SESSION_REGEX)}}}\n"
        f"labels:\n"
        f"  kind: session_file\n"
        f"  path: {_yaml_str(str(out / 'labels.csv'))}\n"
        f"  id_column: block_id\n"
        f"  label_column: label\n"
        f"split: {{kind: chronological, ratios: [0.8, 0.1, 0.1]}}\n"
        f"parser: {{masking: default}}\n",
        encoding="utf-8",
    )
    (out / "experiment.yaml").write_text(
        f"# Train on the 2008 history (Hadoop 0.18), test on the same test blocks as {name} prints them.\n"
        f"name: {name}-upgrade\n"
        f"dataset: hdfs\n"
        f"test_dataset: {stem}.yaml\n"
        f"seeds: [0]\n"
        f"aem: {{batch_size: 25}}\n"
        f"# About one question per new message, and the sequences they leave unexplained.\n"
        f"governor: {{max_calls: 40}}\n"
        f"llm_alone_sample: 4\n",
        encoding="utf-8",
    )
    (out / "mapping.json").write_text(json.dumps(mapping(rolling is not None, variant.key), indent=2) + "\n",
                                      encoding="utf-8")
    shutil.copyfile(data_dir / LICENCE, out / "LICENSE_loghub.txt")
    (out / "NOTICE").write_text(
        "Derived from loghub HDFS_v1 data (LogLead 2% block sample): Zhu et al., \"Loghub: A Large Collection of "
        "System Log Datasets for AI-driven Log Analytics\", ISSRE 2023, https://github.com/logpai/loghub . "
        "Free for research and academic use; LICENSE_loghub.txt applies.\n"
        + ("" if variant.key == DEFAULT_RELEASE else
           f"Rewritten as {variant.name} prints the same events; the Hadoop message formats are from "
           f"{variant.name} (Apache License 2.0).\n"),
        encoding="utf-8",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/real_upgrade/hdfs"),
                        help="folder to write (default: results/real_upgrade/hdfs, git-ignored)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"folder that holds {PARQUET} (default: $COLLABORLOG_DATA_DIR, else shared/data "
                             "beside the checkout, as for the presets)")
    parser.add_argument("--rolling", type=float, default=None,
                        help="rolling upgrade: this share of the blocks is written by the release, the rest as in 2008")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rolling upgrade's choice of blocks")
    parser.add_argument("--release", choices=list(RELEASES), default=DEFAULT_RELEASE,
                        help=f"the release to print the sample as (default {DEFAULT_RELEASE}: hdfs-2x.*; "
                             "3.3.6: hdfs-3x.*)")
    args = parser.parse_args(argv)
    data_dir = find_data_dir(args.data_dir)
    if data_dir is None:
        raise DataError("no data folder found; pass --data-dir, the folder that holds " + PARQUET)
    lines, labels = read_old(data_dir)
    new_blocks = None
    if args.rolling is not None:
        new_blocks = choose_new_blocks(_blocks_in_order(lines), args.rolling, args.seed)
    result = rewrite(lines, labels, new_blocks, args.release)
    write(args.out, data_dir, result, args.rolling, args.seed)
    print(report(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except CollaborLogError as err:  # the command-line edge: a message, not a traceback
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
