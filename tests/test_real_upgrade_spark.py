"""The Spark 1.6 -> 3.5.0 real-upgrade generator: synthetic lines, and the loghub sample when it is there."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from collaborlog.data.readers import format_regex

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "real_upgrade"))

import make_spark as ms  # noqa: E402
import spark_rules as sr  # noqa: E402
import windowed  # noqa: E402

# One executor's start-up, then repeated task blocks, in the 1.6 layout (as in the loghub sample).
STARTUP = [
    "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]",
    "17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn,curi",
    "17/06/09 20:10:40 INFO spark.SecurityManager: Changing modify acls to: yarn,curi",
    "17/06/09 20:10:40 INFO spark.SecurityManager: SecurityManager: authentication disabled; ui acls disabled; users with "
    "view permissions: Set(yarn, curi); users with modify permissions: Set(yarn, curi)",
    "17/06/09 20:10:41 INFO slf4j.Slf4jLogger: Slf4jLogger started",
    "17/06/09 20:10:41 INFO Remoting: Starting remoting",
    "17/06/09 20:10:41 INFO storage.MemoryStore: MemoryStore started with capacity 17.7 GB",
    "17/06/09 20:10:42 INFO executor.CoarseGrainedExecutorBackend: Connecting to driver: "
    "spark://CoarseGrainedScheduler@10.10.34.11:48069",
    "17/06/09 20:10:42 INFO executor.Executor: Starting executor ID 5 on host mesos-slave-07",
    "17/06/09 20:10:42 INFO netty.NettyBlockTransferService: Server created on 40984",
    "17/06/09 20:10:42 INFO storage.BlockManagerMaster: Trying to register BlockManager",
    "17/06/09 20:10:42 INFO storage.BlockManagerMaster: Registered BlockManager",
]
TASKS = [
    "17/06/09 20:10:{s:02d} INFO executor.CoarseGrainedExecutorBackend: Got assigned task {t}",
    "17/06/09 20:10:{s:02d} INFO executor.Executor: Running task {k}.0 in stage {k}.0 (TID {t})",
    "17/06/09 20:10:{s:02d} INFO broadcast.TorrentBroadcast: Started reading broadcast variable {k}",
    "17/06/09 20:10:{s:02d} INFO storage.MemoryStore: Block broadcast_{k}_piece0 stored as bytes in memory "
    "(estimated size 5.2 KB, free 5.2 KB)",
    "17/06/09 20:10:{s:02d} INFO broadcast.TorrentBroadcast: Reading broadcast variable {k} took 160 ms",
    "17/06/09 20:10:{s:02d} INFO spark.CacheManager: Partition rdd_2_{k} not found, computing it",
    "17/06/09 20:10:{s:02d} INFO storage.BlockManager: Found block rdd_2_{k} locally",
    "17/06/09 20:10:{s:02d} INFO python.PythonRunner: Times: total = 41, boot = -59, init = 100, finish = 0",
    "17/06/09 20:10:{s:02d} INFO executor.Executor: Finished task {k}.0 in stage {k}.0 (TID {t}). 2703 bytes result "
    "sent to driver",
]


def sample(repeats: int = 6) -> list[str]:
    return STARTUP + [line.format(s=43 + k, k=k, t=10 + k) for k in range(repeats) for line in TASKS]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / ms.SAMPLE).parent.mkdir(parents=True)
    (root / ms.SAMPLE).write_text("\n".join(sample()) + "\n", encoding="utf-8")
    (root / ms.LICENCE).write_text("loghub licence\n", encoding="utf-8")
    return root


def texts(lines: list[str]) -> dict[str, tuple[str, ...]]:
    return {w.event: w.lines for w in ms.rewrite(ms.parse_records(lines), seed=0)}


def test_rules_and_the_log4j2_layout_are_applied():
    new = texts(sample(1))
    assert new["E2"] == ("17/06/09 20:10:43 INFO MemoryStore: Block broadcast_0_piece0 stored as bytes in memory "
                         "(estimated size 5.2 KiB, free 17.7 GiB)",)
    assert new["E29"] == ("17/06/09 20:10:43 INFO TorrentBroadcast: Started reading broadcast variable 0 with 1 pieces "
                          "(estimated total size 4.0 MiB)",)
    assert new["E11"] == ("17/06/09 20:10:43 INFO YarnCoarseGrainedExecutorBackend: Got assigned task 10",)
    assert new["E18"][0].endswith("INFO MemoryStore: MemoryStore started with capacity 17.7 GiB")
    assert new["E27"][0].endswith("INFO NettyBlockTransferService: Server created on mesos-slave-07:40984")
    assert new["E36"][0].endswith("Registering BlockManager BlockManagerId(5, mesos-slave-07, 40984, None)")
    assert new["E26"][0].endswith("users with view permissions: yarn, curi; groups with view permissions: EMPTY; "
                                  "users with modify permissions: yarn, curi; groups with modify permissions: EMPTY")


def test_split_and_removed_statements():
    new = texts(sample(1))
    assert [line.split(": ", 1)[0].split()[-1] for line in new["E22"]] == [
        "CoarseGrainedExecutorBackend", "SignalUtils", "SignalUtils", "SignalUtils"]
    assert new["E22"][1].endswith("Registering signal handler for TERM")
    assert len(new["E21"]) == 2 and "Initialized BlockManager: BlockManagerId(5" in new["E21"][1]
    assert len(new["E4"]) == 3 and new["E4"][2].endswith("Changing modify acls groups to: ")
    for event in ("E19", "E28", "E31"):  # CacheManager and Akka are gone
        assert new[event] == ()


def test_hadoop_ids_follow_the_new_format():
    assert ms.new_task_ids("attempt_201706092018_0024_m_000004_1026") == "attempt_20170609201800_0024_m_000004_0"
    assert ms.new_task_ids("hdfs://h:9000/x/_temporary/0/task_201706092018_0024_m_000004") == \
        "hdfs://h:9000/x/_temporary/0/task_20170609201800_0024_m_000004"
    assert ms.bytes_to_string(4 << 20) == "4.0 MiB" and ms.bytes_to_string(1536) == "1536.0 B"
    assert ms.iec("17.7 GB") == "17.7 GiB" and ms.iec("93.0 B") == "93.0 B"


def test_unknown_line_is_an_error_naming_it():
    with pytest.raises(windowed.UnmappedLineError, match="something no rule knows"):
        ms.rewrite(ms.parse_records(["17/06/09 20:10:40 INFO foo.Bar: something no rule knows"]), seed=0)


def test_generation_is_deterministic(data: Path, tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    ms.generate(data, a, seed=3, rolling=0.5)
    ms.generate(data, b, seed=3, rolling=0.5)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert {"history.log", "history.yaml", "upgraded.yaml", "upgraded.labelled.log", "injected.csv", "mapping.json",
            "NOTICE.md", "LICENSE_loghub.txt", "rolling.yaml"} <= set(names)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_history_is_the_first_part_in_time_unchanged(data: Path, tmp_path: Path):
    counts = ms.generate(data, tmp_path / "out", seed=0)
    history = (tmp_path / "out" / "history.log").read_text().splitlines()
    assert counts["history_lines"] == len(history) == round(ms.HISTORY_SHARE * len(sample()))
    assert history == sample()[: len(history)]


def test_labels_and_ground_truth_agree(data: Path, tmp_path: Path):
    out = tmp_path / "out"
    counts = ms.generate(data, out, seed=1)
    labelled = (out / "upgraded.labelled.log").read_text().splitlines()
    plain = (out / "upgraded.log").read_text().splitlines()
    assert [l.split(" ", 1)[1] for l in labelled] == plain
    marked = [i for i, l in enumerate(labelled, start=1) if l.startswith(windowed.INJECTED_MARK + " ")]
    assert all(l.split(" ", 1)[0] in (windowed.INJECTED_MARK, windowed.NORMAL_MARK) for l in labelled)
    with open(out / "injected.csv", newline="") as fh:
        truth = list(csv.DictReader(fh))
    assert [int(r["line"]) for r in truth] == marked and len(marked) == counts["injected_lines"] > 0
    for row in truth:
        assert int(row["window"]) == (int(row["line"]) - 1) // windowed.BLOCK
        assert plain[int(row["line"]) - 1].endswith(f" {row['level']} {row['logger']}: {row['message']}")
        assert row["level"] in {"WARN", "ERROR"}


def test_rolling_mixes_both_wordings():
    rewrites = ms.in_time_order(ms.rewrite(ms.parse_records(sample(20)), seed=0))
    upgrade = rewrites[round(ms.HISTORY_SHARE * len(rewrites)):]
    n_blocks = -(-len(upgrade) // windowed.BLOCK)
    old = windowed.choose_old_blocks(n_blocks, 0.4, seed=2)
    assert len(old) == round(0.4 * n_blocks) > 0
    lines = [l.text for l in windowed.assemble(upgrade, [], old)]
    assert any(" executor.Executor: " in l for l in lines) and any(" Executor: " in l for l in lines)
    for i, w in enumerate(upgrade):
        if i // windowed.BLOCK in old:
            assert w.record.raw in lines
        else:
            assert all(t in lines for t in w.lines) and w.record.raw not in lines or not w.lines
    with pytest.raises(ValueError, match="between 0 and 1"):
        windowed.choose_old_blocks(n_blocks, 1.5, seed=2)


def test_the_labelled_format_reads_both_layouts():
    regex, _ = format_regex(ms.LABELLED_FORMAT)
    old = "- 17/06/09 20:10:45 INFO executor.Executor: Running task 0.0 in stage 0.0 (TID 0)"
    new = "INJECTED 17/06/09 20:10:45 ERROR Executor: Exception in task 0.0 in stage 0.0 (TID 0)"
    assert regex.match(old)["Content"] == "Running task 0.0 in stage 0.0 (TID 0)"
    m = regex.match(new)
    assert (m["Label"], m["Level"], m["Component"], m["Content"]) == (
        "INJECTED", "ERROR", "Executor", "Exception in task 0.0 in stage 0.0 (TID 0)")


def test_every_rule_fills_its_placeholders():
    assert [r.event for r in sr.RULES] == [f"E{i}" for i in range(1, 37)]
    for rule in sr.RULES:
        if rule.status is sr.Status.REMOVED:
            assert not rule.lines and rule.evidence, rule.event
        else:
            assert rule.lines, rule.event
            assert (len(rule.lines) > 1) == (rule.status is sr.Status.SPLIT), rule.event
        for line in rule.lines:
            assert line.new_format.count("{}") == len(line.args), rule.event
            assert line.level == "INFO" and line.logger and ":" in line.source, rule.event
    for fault in sr.FAULTS:
        for st in fault.statements:
            assert st.new_format.count("{}") == len(st.args), fault.name
            assert st.level in {"WARN", "ERROR"}


def test_mapping_is_in_the_schema_the_scorer_reads(data: Path, tmp_path: Path):
    from score import old_to_new, rewording_scores

    out = tmp_path / "out"
    ms.generate(data, out, seed=0)
    mapping = json.loads((out / "mapping.json").read_text())
    table = old_to_new(mapping)
    assert "Started reading broadcast variable <*>" in table and "Partition rdd_<*> not found, computing it" not in table
    new = "Started reading broadcast variable 3 with 1 pieces (estimated total size 4.0 MiB)"
    scores = rewording_scores({new: "Started reading broadcast variable 3"}, mapping)
    assert scores["recallable"] == scores["correct"] == 1
    # A template's literal part masked away: the message is matched through a line it was read from.
    committed = "<ID>: Committed. Elapsed time: <NUM> ms."
    scores = rewording_scores({committed: "<ID>: Committed"}, mapping)
    assert scores["claimed"] == 1 and scores["correct"] == 0
    scores = rewording_scores({committed: "<ID>: Committed"}, mapping,
                              {"<ID>: Committed": "attempt_201706092018_0024_m_000004_1026: Committed"})
    assert scores["recallable"] == scores["correct"] == 1


def test_the_combined_dataset_trains_on_the_history_and_tests_on_the_upgrade(data: Path, tmp_path: Path):
    from collaborlog.data.config import load_dataset_config
    from collaborlog.data.dataset import load_dataset
    from collaborlog.records import ANOMALOUS, UNLABELLED

    out = tmp_path / "out"
    counts = ms.generate(data, out, seed=4)
    ds = load_dataset(load_dataset_config(out / "history_upgraded.yaml"), out)
    assert ds.log.stats.unmatched == 0 and ds.log.stats.bad_timestamps == 0
    assert sum(len(s.lines) for s in ds.splits.train) == counts["history_lines"]
    assert all(s.label == UNLABELLED for s in ds.splits.train) and not ds.splits.valid
    assert sum(len(s.lines) for s in ds.splits.test) == counts["upgraded_lines"]
    assert sum(s.label == ANOMALOUS for s in ds.splits.test) == counts["anomalous_windows"]


# -- on the real loghub sample (skipped without the shared data folder) --------------------------


def test_every_line_of_the_sample_is_covered_by_a_rule(data_dir: Path):
    records = ms.parse_records((data_dir / ms.SAMPLE).read_text(encoding="utf-8").splitlines())
    assert len(records) == 2000
    rules = {r.event: r for r in sr.RULES}
    events = set()
    for rec in records:
        rule, _ = ms.match_rule(rec.content)
        assert rule.old_logger == rec.logger, rec.raw
        events.add(rule.event)
    assert events == set(rules)  # every rule is used by the sample, and no line is left over
    with open(data_dir / "loghub_2k/Spark/Spark_2k.log_structured.csv", newline="") as fh:
        structured = list(csv.DictReader(fh))
    # The rule of each line is loghub's own event of it.
    assert [ms.match_rule(r.content)[0].event for r in records] == [row["EventId"] for row in structured]


def test_the_sample_generates_with_both_wordings_in_the_rolling_variant(data_dir: Path, tmp_path: Path):
    from collaborlog.data.config import load_dataset_config
    from collaborlog.data.dataset import load_dataset

    out = tmp_path / "spark"
    counts = ms.generate(data_dir, out, seed=0, rolling=0.3)
    assert counts["history_lines"] == round(ms.HISTORY_SHARE * 2000) and counts["injections"] >= 5
    assert counts["upgrade_events_unseen_in_history"] == 0
    rolling = (out / "rolling.log").read_text().splitlines()
    assert any(" executor.Executor: " in l for l in rolling) and any(" Executor: " in l for l in rolling)
    upgraded = (out / "upgraded.log").read_text().splitlines()
    assert not any(" executor.Executor: " in l for l in upgraded)
    for name in ("history.yaml", "upgraded.yaml", "rolling.yaml"):
        ds = load_dataset(load_dataset_config(out / name), out)
        assert ds.log.stats.unmatched == 0 and ds.log.stats.bad_timestamps == 0, name
    # The history is fitted on whole (train and validation; no test part left unread).
    history = load_dataset(load_dataset_config(out / "history.yaml"), out)
    assert not history.splits.test
    assert sum(len(s.lines) for s in history.splits.train + history.splits.valid) == counts["history_lines"]
