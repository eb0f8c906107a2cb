"""The Zookeeper 3.4.5 -> 3.8.4 real-upgrade generator, on synthetic lines (no shared data needed)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from collaborlog.data.readers import format_regex

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "real_upgrade"))

import make_zookeeper as mz  # noqa: E402
import windowed  # noqa: E402
import zookeeper_rules as zr  # noqa: E402

# Two servers' logs, one after the other (time goes back at the second), in the 3.4.5 layout.
NODE1 = [
    "2015-07-29 17:41:44,{ms:03d} - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
    "2015-07-29 17:41:45,{ms:03d} - INFO  [main:QuorumPeer@913] - tickTime set to 2000",
    "2015-07-29 17:41:46,{ms:03d} - INFO  [NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxnFactory@197] - Accepted socket connection from /10.10.34.13:37196",
    "2015-07-29 17:41:47,{ms:03d} - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@688] - Send worker leaving thread",
    "2015-07-29 17:41:48,{ms:03d} - INFO  [WorkerReceiver[myid=1]:FastLeaderElection@542] - Notification: 3 (n.leader), 0x700000197 (n.zxid), 0x1 (n.round), LEADING (n.state), 3 (n.sid), 0x7 (n.peerEPoch), LOOKING (my state)",
]
NODE2 = [
    "2015-07-29 17:41:44,{ms:03d} - WARN  [WorkerSender[myid=2]:QuorumCnxManager@368] - Cannot open channel to 3 at election address /10.10.34.13:3888",
    "2015-07-29 17:41:45,{ms:03d} - INFO  [SessionTracker:ZooKeeperServer@325] - Expiring session 0x24ede63a01b003b, timeout of 10000ms exceeded",
    "2015-07-29 17:41:46,{ms:03d} - INFO  [ProcessThread(sid:2 cport:-1)::PrepRequestProcessor@476] - Processed session termination for sessionid: 0x14ede63a5a70002",
]


def sample(repeats: int = 8) -> list[str]:
    """NODE1 then NODE2 lines, each repeated with growing milliseconds (time order within a server)."""
    return [line.format(ms=k) for block in (NODE1, NODE2) for k in range(repeats) for line in block]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / mz.SAMPLE).parent.mkdir(parents=True)
    (root / mz.SAMPLE).write_text("\n".join(sample()) + "\n", encoding="utf-8")
    (root / mz.LICENCE).write_text("loghub licence\n", encoding="utf-8")
    return root


def test_servers_are_told_apart_by_time_going_back():
    records = mz.parse_records(sample(2))
    assert [r.node for r in records] == [1] * 10 + [2] * 6


def test_a_rule_and_the_logback_layout_are_applied():
    records = mz.parse_records(sample(1))
    texts = {w.event: w.text for w in mz.rewrite(records, seed=0)}
    assert texts["E31"] == (
        "2015-07-29 17:41:44,000 [myid:] - INFO  [QuorumPeer[myid=1](plain=[0:0:0:0:0:0:0:0]:2181)(secure=disabled)"
        ":FastLeaderElection@996] - Notification time out: 3200 ms"
    )
    # Only the main thread carries the MDC's myid.
    assert texts["E48"] == "2015-07-29 17:41:45,000 [myid:1] - INFO  [main:QuorumPeer@1742] - tickTime set to 2000"
    assert texts["E42"].endswith("[SendWorker:188978561024:QuorumCnxManager$SendWorker@1300] - "
                                 "Send worker leaving thread id 188978561024 my id = 1")
    assert texts["E34"].endswith(
        "Notification: my state:LOOKING; n.sid:3, n.state:LEADING, n.leader:3, n.round:0x1, n.peerEpoch:0x7, "
        "n.zxid:0x700000197, message format version:0x2, n.config version:0x0")
    assert "[QuorumConnectionThread-[myid=2]-" in texts["E5"]


def test_demoted_and_removed_statements_vanish():
    rewrites = mz.rewrite(mz.parse_records(sample(1)), seed=0)
    texts = {w.event: w.text for w in rewrites}
    assert texts["E2"] is None  # DEBUG in 3.8.4
    assert texts["E38"] is None  # no 3.8.4 statement
    printed = "\n".join(l.text for l in windowed.assemble(rewrites, []))
    assert len(printed.splitlines()) == len(rewrites) - 2
    assert "Accepted socket connection" not in printed and "Processed session termination" not in printed
    assert "Expiring session 0x24ede63a01b003b, timeout of 10000ms exceeded" in printed


def test_unknown_line_is_an_error_naming_it():
    line = "2015-07-29 17:41:44,747 - INFO  [main:Foo@1] - something no rule knows"
    with pytest.raises(windowed.UnmappedLineError, match="something no rule knows"):
        mz.rewrite(mz.parse_records([line]), seed=0)


def test_generation_is_deterministic(data: Path, tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    mz.generate(data, a, seed=3, rolling=0.5)
    mz.generate(data, b, seed=3, rolling=0.5)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_history_is_the_first_part_in_time_unchanged(data: Path, tmp_path: Path):
    counts = mz.generate(data, tmp_path / "out", seed=0)
    history = (tmp_path / "out" / "history.log").read_text().splitlines()
    assert counts["history_lines"] == len(history) == round(mz.HISTORY_SHARE * len(sample()))
    assert history == sorted(history, key=lambda line: line[:23])
    assert set(history) <= set(sample())


def test_failures_are_injected_at_the_seeded_places(data: Path, tmp_path: Path):
    rewrites = mz.in_time_order(mz.rewrite(mz.parse_records(sample(20)), seed=0))
    upgrade = rewrites[round(mz.HISTORY_SHARE * len(rewrites)):]
    plans = mz.plan_injections(upgrade, seed=5)
    printed = sum(1 for w in upgrade if w.text is not None)
    assert len(plans) == windowed.injection_count(upgrade, mz.INJECT_SHARE) == round(mz.INJECT_SHARE * -(-printed // windowed.BLOCK))
    assert len({p.block for p in plans}) == len(plans)
    assert [(p.block, p.after) for p in plans] == [(p.block, p.after) for p in mz.plan_injections(upgrade, seed=5)]
    assert [(p.block, p.after) for p in plans] != [(p.block, p.after) for p in mz.plan_injections(upgrade, seed=6)]
    lines = windowed.assemble(upgrade, plans)
    for plan in plans:
        host = upgrade[plan.block * windowed.BLOCK + plan.after]
        # The failure follows its host line (or, when the host is dropped, the line before it).
        where = next(i for i, l in enumerate(lines) if l.text == plan.lines[0].text)
        kept = [w.text for w in upgrade[: plan.block * windowed.BLOCK + plan.after + 1] if w.text is not None]
        assert (lines[where - 1].text if where else None) == (kept[-1] if kept else None)
        assert host.record.stamp <= plan.lines[0].text[:23]
        assert all(l.injected == plan.fault.name for l in plan.lines)
    # Each statement of the fault is a real 3.8.4 statement: its level and class@line are printed.
    st = plans[0].fault.statements[0]
    assert f"- {st.level:<5} [" in plans[0].lines[0].text and f":{st.logger}] - " in plans[0].lines[0].text


def test_labels_and_ground_truth_agree(data: Path, tmp_path: Path):
    out = tmp_path / "out"
    counts = mz.generate(data, out, seed=1)
    labelled = (out / "upgraded.labelled.log").read_text().splitlines()
    plain = (out / "upgraded.log").read_text().splitlines()
    assert [l.split(" ", 1)[1] for l in labelled] == plain
    marked = [i for i, l in enumerate(labelled, start=1) if l.startswith(windowed.INJECTED_MARK + " ")]
    with open(out / "injected.csv", newline="") as fh:
        truth = list(csv.DictReader(fh))
    assert [int(r["line"]) for r in truth] == marked and len(marked) == counts["injected_lines"] > 0
    for row in truth:
        assert int(row["window"]) == (int(row["line"]) - 1) // windowed.BLOCK
        assert plain[int(row["line"]) - 1].endswith("] - " + row["message"])


def test_rolling_keeps_the_requested_share_in_the_old_wording():
    rewrites = mz.in_time_order(mz.rewrite(mz.parse_records(sample(20)), seed=0))
    upgrade = rewrites[round(mz.HISTORY_SHARE * len(rewrites)):]
    n_blocks = -(-len(upgrade) // windowed.BLOCK)
    old = windowed.choose_old_blocks(n_blocks, 0.4, seed=2)
    assert len(old) == round(0.4 * n_blocks)
    lines = {l.text for l in windowed.assemble(upgrade, [], old)}
    for i, w in enumerate(upgrade):
        if i // windowed.BLOCK in old:
            assert w.record.raw in lines
        elif w.text is not None:
            assert w.text in lines and w.record.raw not in lines
    with pytest.raises(ValueError, match="between 0 and 1"):
        windowed.choose_old_blocks(n_blocks, 1.5, seed=2)


def test_the_labelled_format_reads_both_layouts():
    regex, _ = format_regex(mz.LABELLED_FORMAT)
    old = "- 2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200"
    new = ("INJECTED 2015-07-29 17:41:44,747 [myid:] - ERROR [QuorumPeer[myid=1](plain=[0:0:0:0:0:0:0:0]:2181)"
           "(secure=disabled):Learner@603] - Not able to truncate the log 0x0")
    assert regex.match(old)["Content"] == "Notification time out: 3200"
    m = regex.match(new)
    assert (m["Label"], m["Level"], m["Content"]) == ("INJECTED", "ERROR", "Not able to truncate the log 0x0")


def test_every_kept_rule_fills_its_placeholders():
    for rule in zr.RULES:
        if rule.status in (zr.Status.SAME, zr.Status.REWORDED):
            assert rule.new_format.count("{}") == len(rule.args), rule.event
            assert rule.level and rule.logger and rule.source, rule.event
    for fault in zr.FAULTS:
        for st in fault.statements:
            assert st.new_format.count("{}") == len(st.args), fault.name
            assert st.level in {"WARN", "ERROR"}


def test_the_combined_dataset_trains_on_the_history_and_tests_on_the_upgrade(data: Path, tmp_path: Path):
    from collaborlog.data.config import load_dataset_config
    from collaborlog.data.dataset import load_dataset
    from collaborlog.records import ANOMALOUS, UNLABELLED

    out = tmp_path / "out"
    counts = mz.generate(data, out, seed=4)
    ds = load_dataset(load_dataset_config(out / "history_upgraded.yaml"), out)
    assert ds.log.stats.unmatched == 0
    assert sum(len(s.lines) for s in ds.splits.train) == counts["history_lines"]
    assert all(s.label == UNLABELLED for s in ds.splits.train) and not ds.splits.valid
    assert sum(len(s.lines) for s in ds.splits.test) == counts["upgraded_lines"]
    assert sum(s.label == ANOMALOUS for s in ds.splits.test) == counts["anomalous_windows"]
