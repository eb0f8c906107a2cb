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
    templates = [s.template for rule in make_hdfs.RULES for s in rule.new]
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
