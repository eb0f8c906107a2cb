"""The real-upgrade HDFS generator (benchmarks/real_upgrade/make_hdfs.py) on synthetic 2008 lines."""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import datetime
from pathlib import Path

import pytest

from collaborlog.errors import DataError

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "real_upgrade" / "make_hdfs.py"
_spec = importlib.util.spec_from_file_location("make_hdfs", _PATH)
make_hdfs = importlib.util.module_from_spec(_spec)
sys.modules["make_hdfs"] = make_hdfs  # dataclasses look their module up while the file runs
_spec.loader.exec_module(make_hdfs)

A, B = "blk_-1608999687919862906", "blk_7503483334202473044"
SESSION = re.compile(make_hdfs.SESSION_REGEX)


def _t(second: int) -> datetime:
    return datetime(2008, 11, 9, 20, 35, second)


def _old() -> list:
    line = make_hdfs.OldLine
    return [
        line(_t(1), "INFO", "dfs.FSNamesystem", f"BLOCK* NameSystem.allocateBlock: /user/root/rand/part-00001. {A}", A),
        line(_t(2), "INFO", "dfs.DataNode$DataXceiver",
             f"Receiving block {A} src: /10.250.19.102:54106 dest: /10.250.19.102:50010", A),
        line(_t(2), "INFO", "dfs.FSNamesystem", f"BLOCK* NameSystem.allocateBlock: /user/root/rand/part-00002. {B}", B),
        line(_t(3), "INFO", "dfs.DataNode$PacketResponder", f"PacketResponder 0 for block {A} terminating", A),
        line(_t(3), "INFO", "dfs.DataNode$PacketResponder",
             f"Received block {A} of size 91178 from /10.250.19.102", A),
        line(_t(4), "INFO", "dfs.FSNamesystem",
             f"BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.250.10.6:50010 is added to {A} size 91178", A),
        line(_t(5), "INFO", "dfs.DataBlockScanner", f"Verification succeeded for {A}", A),
        line(_t(5), "INFO", "dfs.DataNode$BlockReceiver", f"Receiving empty packet for block {B}", B),
        line(_t(6), "INFO", "dfs.FSNamesystem",
             f"BLOCK* NameSystem.delete: {A} is added to invalidSet of 10.250.10.6:50010", A),
        line(_t(6), "INFO", "dfs.FSNamesystem",
             f"BLOCK* NameSystem.delete: {A} is added to invalidSet of 10.251.111.209:50010", A),
        line(_t(7), "INFO", "dfs.FSDataset",
             f"Deleting block {A} file /mnt/hadoop/dfs/data/current/subdir5/{A}", A),
    ]


LABELS = {A: 1, B: 0}


def _texts(result) -> list[str]:
    return [line.render() for line in result.lines]


def test_rewrite_is_deterministic():
    assert _texts(make_hdfs.rewrite(_old(), LABELS)) == _texts(make_hdfs.rewrite(_old(), LABELS))


def test_a_rule_changes_wording_id_format_and_logger():
    lines = make_hdfs.rewrite(_old(), LABELS).lines
    receiving = [line for line in lines if line.message.startswith("Receiving ")]
    assert len(receiving) == 1
    assert receiving[0].logger == "org.apache.hadoop.hdfs.server.datanode.DataNode"
    assert re.fullmatch(r"Receiving BP-\d+-[\d.]+-\d+:blk_\d+_\d+ src: /10\.250\.19\.102:54106 "
                        r"dest: /10\.250\.19\.102:50010", receiving[0].message)
    assert receiving[0].render().startswith("2008-11-09 20:35:02,000 INFO org.apache.hadoop.hdfs.server.datanode.")
    # The old negative random id is gone everywhere; the release's ids are sequential.
    assert not any("blk_-" in line.message for line in lines)
    assert any(line.message.startswith("PacketResponder: BP-") and line.message.endswith(
        "type=LAST_IN_PIPELINE, downstreams=0:[] terminating") for line in lines)


def test_statements_demoted_below_info_disappear():
    messages = [line.message for line in make_hdfs.rewrite(_old(), LABELS).lines]
    assert not any("Verification" in m or "empty packet" in m for m in messages)
    counts = make_hdfs.rewrite(_old(), LABELS).counts
    assert (counts["E2"].old_lines, counts["E2"].new_lines) == (1, 0)


def test_a_split_statement_becomes_two_lines_and_siblings_merge():
    lines = make_hdfs.rewrite(_old(), LABELS).lines
    deletion = [line for line in lines if line.time == _t(7)]
    assert [line.message.split()[0] for line in deletion] == ["Scheduling", "Deleted"]
    assert all("/current/BP-" in line.message and "/finalized/subdir" in line.message for line in deletion)
    invalidated = [line for line in lines if line.time == _t(6)]
    assert len(invalidated) == 1
    assert invalidated[0].message.endswith("10.250.10.6:50010 10.251.111.209:50010 ")


def test_every_line_keeps_its_block_and_label():
    result = make_hdfs.rewrite(_old(), LABELS)
    assert sorted(result.labels.values()) == [0, 1]
    assert result.labels[result.block_map[A]] == 1 and result.labels[result.block_map[B]] == 0
    for line in result.lines:
        keys = set(SESSION.findall(line.message))
        assert keys and keys <= set(result.labels)


def test_generated_lines_match_the_mapped_templates():
    templates = [s.template for rule in make_hdfs.RELEASES[make_hdfs.DEFAULT_RELEASE].rules for s in rule.new]
    patterns = [re.compile(".*".join(re.escape(p) for p in t.split("<*>")), re.DOTALL) for t in templates]
    for line in make_hdfs.rewrite(_old(), LABELS).lines:
        assert any(p.fullmatch(line.message.rstrip()) for p in patterns), line.message


def test_rolling_keeps_the_requested_share_and_old_blocks_verbatim():
    blocks = [f"blk_{i}" for i in range(200)]
    chosen = make_hdfs.choose_new_blocks(blocks, 0.3, seed=1)
    assert len(chosen) == 60 and chosen == make_hdfs.choose_new_blocks(blocks, 0.3, seed=1)
    assert chosen != make_hdfs.choose_new_blocks(blocks, 0.3, seed=2)
    result = make_hdfs.rewrite(_old(), LABELS, new_blocks={A})
    old_b = [line for line in result.lines if B in line.message]
    assert [line.message for line in old_b] == [line.message for line in _old() if line.block == B]
    assert result.block_map[B] == B and result.labels[B] == 0
    assert result.block_map[A] == make_hdfs.rewrite(_old(), LABELS).block_map[A]


def test_an_unknown_message_is_an_error_naming_it():
    with pytest.raises(DataError, match="no rule"):
        make_hdfs.classify("something HDFS never said")
    with pytest.raises(DataError, match="between 0 and 1"):
        make_hdfs.choose_new_blocks(["blk_1"], 1.5, seed=0)


# The 3.x release variant (benchmarks/real_upgrade/hdfs_rules_3x.py): the same 2008 events as Hadoop 3.3.6 prints them.
X3 = "3.3.6"


def _old_3x() -> list:
    """The synthetic lines plus a re-replication (registration, targets, display name)."""
    line = make_hdfs.OldLine
    return _old() + [
        line(_t(8), "INFO", "dfs.DataNode",
             f"10.250.10.6:50010 Starting thread to transfer block {A} to 10.251.111.209:50010, 10.251.7.1:50010", A),
        line(_t(9), "INFO", "dfs.DataNode$DataTransfer",
             f"10.250.10.6:50010:Transmitted block {A} to /10.251.111.209:50010", A),
        line(_t(9), "INFO", "dfs.DataNode$PacketResponder", f"PacketResponder 1 for block {A} terminating", A),
    ]


def _templates(rules) -> list[re.Pattern[str]]:
    templates = [s.template for rule in rules for s in rule.new]
    return [re.compile(".*".join(re.escape(p) for p in t.split("<*>")), re.DOTALL) for t in templates]


def test_3x_keeps_the_old_side_of_every_rule():
    old = make_hdfs.RELEASES["2.7.7"].rules
    new = make_hdfs.RELEASES[X3].rules
    assert [(r.event, r.old_template, r.old_pattern) for r in new] == [(r.event, r.old_template, r.old_pattern)
                                                                       for r in old]
    for rule in new:  # a dropped statement has no INFO line; a kept one has
        assert bool(rule.new) != (rule.fate in (make_hdfs.Fate.DROPPED_DEBUG, make_hdfs.Fate.DROPPED_REMOVED))


def test_3x_lines_match_the_3x_templates_levels_and_loggers():
    statements = {(s.level, s.logger): s for rule in make_hdfs.RELEASES[X3].rules for s in rule.new}
    patterns = _templates(make_hdfs.RELEASES[X3].rules)
    result = make_hdfs.rewrite(_old_3x(), LABELS, release=X3)
    assert result.release == X3
    for line in result.lines:
        assert any(p.fullmatch(line.message) for p in patterns), line.message
        assert (line.level, line.logger) in statements
    # No 2008 port, no 2.7.7-only wording.
    assert not any(":50010" in line.message or "blk_-" in line.message for line in result.lines)


def test_3x_prints_its_own_object_formats():
    messages = [line.message for line in make_hdfs.rewrite(_old_3x(), LABELS, release=X3).lines]
    allocate = [m for m in messages if m.startswith("BLOCK* allocate")]
    assert re.fullmatch(r"BLOCK\* allocate blk_\d+_\d+, replicas=10\.250\.10\.6:9866 for /user/root/rand/part-00001",
                        allocate[0])
    assert "BLOCK* allocate " in allocate[1] and ", replicas= for /user/root/rand/part-00002" in allocate[1]
    start = next(m for m in messages if "Starting thread" in m)
    assert re.fullmatch(r"DatanodeRegistration\(10\.250\.10\.6:9866, datanodeUuid=[0-9a-f-]+, infoPort=9864, "
                        r"infoSecurePort=0, ipcPort=9867, storageInfo=lv=-57;cid=CID-[0-9a-f-]+;nsid=\d+;"
                        r"c=1226262600000\) Starting thread to transfer BP-[\d.-]+:blk_\d+_\d+ to "
                        r"10\.251\.111\.209:9866 10\.251\.7\.1:9866", start)
    assert any(re.fullmatch(r"DataTransfer, at 10\.250\.10\.6:9866: Transmitted BP-[\d.-]+:blk_\d+_\d+ \(numBytes="
                            r"91178\) to /10\.251\.111\.209:9866", m) for m in messages)
    responders = [m for m in messages if m.startswith("PacketResponder: ")]
    assert responders[0].endswith(", type=LAST_IN_PIPELINE terminating")
    assert re.search(r", type=HAS_DOWNSTREAM_IN_PIPELINE, downstreams=1:\[[\d.]+:9866\] terminating$", responders[1])
    trace = next(m for m in messages if "op: HDFS_WRITE" in m)
    assert ", duration(ns): " in trace and "dest: /10.250.10.6:9866," in trace
    deleted = next(m for m in messages if m.startswith("Deleted "))
    block_id = int(re.search(r"blk_(\d+)$", deleted).group(1))
    assert deleted.endswith(f"URI file:/mnt/hadoop/dfs/data/current/{deleted.split()[1]}/current/finalized/"
                            f"subdir{(block_id >> 16) & 0x1F}/subdir{(block_id >> 8) & 0x1F}/blk_{block_id}")
    assert any(m.startswith("Scheduling blk_") and m.endswith(", FINALIZED") for m in messages)


def test_3x_namenode_block_state_lines_vanish():
    result = make_hdfs.rewrite(_old(), LABELS, release=X3)
    messages = [line.message for line in result.lines]
    for gone in ("Verification", "empty packet", "addStoredBlock", "addToInvalidates", "blockMap"):
        assert not any(gone in m for m in messages), gone
    c = result.counts
    assert [(c[e].old_lines, c[e].new_lines) for e in ("E2", "E13", "E23", "E26")] == [(1, 0), (1, 0), (2, 0), (1, 0)]
    # Every block keeps its label and at least one line (its allocation).
    for line in result.lines:
        assert set(SESSION.findall(line.message)) <= set(result.labels)
    assert {key for line in result.lines for key in SESSION.findall(line.message)} == set(result.labels)


def test_3x_rolling_keeps_old_blocks_and_the_same_ids():
    result = make_hdfs.rewrite(_old(), LABELS, new_blocks={A}, release=X3)
    assert [line.message for line in result.lines if B in line.message] == [
        line.message for line in _old() if line.block == B]
    assert result.block_map[A] == make_hdfs.rewrite(_old(), LABELS).block_map[A]  # same ids as 2.7.7


def test_2x_output_is_unchanged_by_the_release_option():
    import hashlib

    default = _texts(make_hdfs.rewrite(_old(), LABELS))
    assert default == _texts(make_hdfs.rewrite(_old(), LABELS, release="2.7.7"))
    assert default != _texts(make_hdfs.rewrite(_old(), LABELS, release=X3))
    # The 2.7.7 lines of _old() as make_hdfs.py wrote them before it had --release.
    assert hashlib.sha256("\n".join(default).encode()).hexdigest() == (
        "b1c77fdf55aee0287dd32ebc1c51e9bf23ec7535f06716f184bd6d41c786c976")
    assert make_hdfs.RELEASES[make_hdfs.DEFAULT_RELEASE] is make_hdfs.RELEASES["2.7.7"]


def test_3x_files_are_named_for_the_release(tmp_path):
    data = tmp_path / "data"
    (data / "loghub_2k").mkdir(parents=True)
    (data / make_hdfs.LICENCE).write_text("licence\n")
    out = tmp_path / "out"
    make_hdfs.write(out, data, make_hdfs.rewrite(_old(), LABELS, release=X3), rolling=None, seed=0)
    assert {p.name for p in out.iterdir()} >= {"hdfs-3x.log", "hdfs-3x.yaml", "experiment.yaml", "mapping.json"}
    assert "test_dataset: hdfs-3x.yaml" in (out / "experiment.yaml").read_text()
    assert "Apache Hadoop 3.3.6" in (out / "hdfs-3x.yaml").read_text()
    assert "Apache Hadoop 3.3.6" in (out / "NOTICE").read_text()
    mapping = (out / "mapping.json").read_text()
    assert "4de377bdb40887cfd6aa0e49702d41a45d3a5951" in mapping and "PendingReconstructionMonitor" in mapping
    assert (out / "block_map.csv").read_text().splitlines()[1].endswith(",3.3.6")
    with pytest.raises(DataError, match="unknown release"):
        make_hdfs.rewrite(_old(), LABELS, release="4.0")
