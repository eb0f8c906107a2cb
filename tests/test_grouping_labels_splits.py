from __future__ import annotations

import numpy as np
import pytest

from collaborlog.data.config import (
    CountGrouping,
    LineLabels,
    SessionGrouping,
    SessionLabels,
    SplitConfig,
    TimeGrouping,
)
from collaborlog.data.grouping import GroupStats, count_windows, group_sessions, time_windows
from collaborlog.data.labels import (
    LabelStats,
    apply_line_labels,
    label_from_lines,
    label_from_sessions,
    read_session_labels,
)
from collaborlog.data.splits import split_sessions, split_windows
from collaborlog.errors import ConfigError, DataError
from collaborlog.records import LogFrame


def _frame(contents, times=None, fields=None) -> LogFrame:
    n = len(contents)
    return LogFrame(
        content=list(contents),
        timestamp=np.asarray(times if times is not None else np.arange(n), dtype=np.float64),
        label=np.full(n, -1, dtype=np.int8),
        fields=fields or {},
        matched=np.ones(n, dtype=bool),
    )


def test_session_regex_puts_a_line_in_every_session_it_names():
    frame = _frame(["open blk_1", "copy blk_1 to blk_-2", "close blk_-2", "no key here"])
    stats = GroupStats()
    seqs = {s.id: s.lines.tolist() for s in group_sessions(frame, SessionGrouping(regex=r"blk_-?\d+"), stats)}
    assert seqs == {"blk_1": [0, 1], "blk_-2": [1, 2]}
    assert stats.ungrouped_lines == 1


def test_session_field_and_unknown_field():
    frame = _frame(["a", "b", "c"], fields={"sid": ["x", "y", "x"]})
    seqs = group_sessions(frame, SessionGrouping(field="sid"), GroupStats())
    assert [(s.id, s.lines.tolist(), s.start) for s in seqs] == [("x", [0, 2], 0.0), ("y", [1], 1.0)]
    with pytest.raises(ConfigError, match="sid2"):
        group_sessions(frame, SessionGrouping(field="sid2"), GroupStats())


def test_count_windows_cover_every_line_with_overlap():
    frame = _frame([str(i) for i in range(7)])
    wins = count_windows(frame, np.arange(7), CountGrouping(size=3, step=2), "w")
    assert [w.lines.tolist() for w in wins] == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6]]


def test_time_windows_skip_silence():
    times = [0, 10, 59, 60, 3600 * 5, 3600 * 5 + 1]
    frame = _frame([str(t) for t in times], times)
    wins = time_windows(frame, np.arange(len(times)), TimeGrouping(seconds=60, step=60), "t")
    assert [w.lines.tolist() for w in wins] == [[0, 1, 2], [3], [4, 5]]
    sliding = time_windows(frame, np.arange(len(times)), TimeGrouping(seconds=120, step=60), "t")
    assert [w.lines.tolist() for w in sliding][:2] == [[0, 1, 2, 3], [3]]


def test_line_labels_with_bgl_rule_and_window_labels():
    frame = _frame(["a", "b", "c", "d"], fields={"Label": ["-", "KERNDTLB", "-", "-"]})
    apply_line_labels(frame, LineLabels(field="Label", normal_values=("-",)))
    assert frame.label.tolist() == [0, 1, 0, 0]
    wins = label_from_lines(frame, count_windows(frame, np.arange(4), CountGrouping(size=2, step=2), "w"))
    assert [w.label for w in wins] == [1, 0]


def test_session_label_file_counts_unknown_sessions_and_rejects_bad_values(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("BlockId,Label\nblk_1,Anomaly\nblk_2,0\nblk_999,1\n")
    labels = read_session_labels(path, SessionLabels(path="labels.csv"))
    frame = _frame(["blk_1", "blk_2", "blk_3"])
    stats = LabelStats()
    seqs = label_from_sessions(group_sessions(frame, SessionGrouping(regex=r"blk_\d+"), GroupStats()), labels, stats)
    assert {s.id: s.label for s in seqs} == {"blk_1": 1, "blk_2": 0, "blk_3": -1}
    assert stats.unknown_sessions == 1
    path.write_text("BlockId,Label\nblk_1,maybe\n")
    with pytest.raises(DataError, match="maybe"):
        read_session_labels(path, SessionLabels(path="labels.csv"))


def test_chronological_session_split_orders_by_first_timestamp():
    frame = _frame([f"s{i % 10}" for i in range(100)], times=np.arange(100)[::-1])
    seqs = group_sessions(frame, SessionGrouping(regex=r"s\d"), GroupStats())
    splits = split_sessions(seqs, SplitConfig(ratios=(0.6, 0.2, 0.2)))
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (6, 2, 2)
    assert max(s.start for s in splits.train) < min(s.start for s in splits.valid)
    assert max(s.start for s in splits.valid) < min(s.start for s in splits.test)
    ids = [s.id for s in splits.all()]
    assert len(ids) == len(set(ids)) == 10


def test_windows_never_straddle_a_split_and_no_line_is_in_two_splits():
    frame = _frame([str(i) for i in range(1000)])
    splits = split_windows(frame, CountGrouping(size=10, step=3), SplitConfig())
    owner = {}
    for name, part in splits.items():
        for w in part:
            for line in w.lines.tolist():
                assert owner.setdefault(line, name) == name
    assert max(max(w.lines) for w in splits.train) < min(min(w.lines) for w in splits.test)


def test_random_split_is_seeded_and_refuses_overlapping_windows():
    frame = _frame([str(i) for i in range(200)])
    a = split_windows(frame, CountGrouping(size=10, step=10), SplitConfig(kind="random", seed=1))
    b = split_windows(frame, CountGrouping(size=10, step=10), SplitConfig(kind="random", seed=1))
    c = split_windows(frame, CountGrouping(size=10, step=10), SplitConfig(kind="random", seed=2))
    assert [w.id for w in a.test] == [w.id for w in b.test] != [w.id for w in c.test]
    with pytest.raises(ConfigError, match="leakage"):
        split_windows(frame, CountGrouping(size=10, step=5), SplitConfig(kind="random"))


def test_split_ratios_are_validated():
    with pytest.raises(ValueError):
        SplitConfig(ratios=(0.5, 0.1, 0.1))


DAY = 86400.0


def test_a_gap_split_tests_after_the_gap_on_what_the_log_writes_later():
    # 60 days of log, 20 lines a day; the first half (30 days) is the period, then a 14-day gap.
    times = np.repeat(np.arange(60) * DAY, 20) + np.tile(np.arange(20) * 60.0, 60)
    frame = _frame([str(i) for i in range(times.size)], times=times)
    cfg = SplitConfig(kind="gap", days=14, ratios=(0.8, 0.1, 0.1), seed=3)
    splits = split_windows(frame, CountGrouping(size=10, step=10), cfg)
    period_end = times[times.size // 2 - 1]
    inside = splits.train + splits.valid + splits.test
    assert all(times[w.lines].max() <= period_end for w in inside)
    assert splits.later and all(times[w.lines].min() >= period_end + 14 * DAY for w in splits.later)
    assert [name for name, _ in splits.items()] == ["train", "valid", "test", "later"]
    # Each part is split at random under the seed: the in-period test windows are spread over the period.
    starts = sorted(w.start for w in splits.test)
    assert starts[0] < period_end / 3 and starts[-1] > 2 * period_end / 3
    again = split_windows(frame, CountGrouping(size=10, step=10), cfg)
    assert [w.id for w in again.later] == [w.id for w in splits.later]
    # Sessions: the period is the first half of them by first timestamp.
    seqs = count_windows(frame, np.arange(times.size), CountGrouping(size=20, step=20), prefix="s")
    sessions = split_sessions(seqs, cfg)
    cut = sorted(s.start for s in seqs)[len(seqs) // 2 - 1]
    assert all(s.start <= cut for s in sessions.train + sessions.valid + sessions.test)
    assert sessions.later and all(s.start >= cut + 14 * DAY for s in sessions.later)


def test_a_gap_split_needs_days_and_something_after_the_gap():
    with pytest.raises(ValueError, match="days"):
        SplitConfig(kind="gap")
    with pytest.raises(ValueError, match="days"):
        SplitConfig(days=14)
    frame = _frame([str(i) for i in range(100)], times=np.arange(100) * 60.0)
    with pytest.raises(ConfigError, match="nothing is left after a gap"):
        split_windows(frame, CountGrouping(size=10, step=10), SplitConfig(kind="gap", days=14))
