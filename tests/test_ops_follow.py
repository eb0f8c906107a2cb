"""``detect --follow``: tailing through rotation and truncation (ops/tail.py), completing
sequences by idle time, count and time (ops/follow.py). Time is an injected clock: no test waits."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from collaborlog.data.config import CountGrouping, SessionGrouping, SourceConfig, TimeGrouping, TimestampSpec
from collaborlog.errors import ConfigError, DataError
from collaborlog.ops.follow import Follower, FollowStats, LineReader, OpenSequences
from collaborlog.ops.tail import LINGER_READS, Tail
from collaborlog.records import LogFrame, Sequence
from collaborlog.verdicts import Branch, Detection, Route

SOURCE = SourceConfig(path="app.log", kind="text", log_format="<Time> <Level> <Content>",
                      timestamp=TimestampSpec(fields=("Time",), format="unix"))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _append(path: Path, *lines: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def _texts(raw: list[bytes]) -> list[str]:
    return [b.decode() for b in raw]


def test_tail_returns_complete_lines_once_and_waits_for_the_rest(tmp_path):
    path = tmp_path / "app.log"
    tail = Tail(path)
    assert tail.read() == []  # not there yet: waited for
    _append(path, "one", "two")
    with open(path, "a") as fh:
        fh.write("thr")
    assert _texts(tail.read()) == ["one", "two"]
    assert tail.read() == []
    with open(path, "a") as fh:
        fh.write("ee\nfour")
    assert _texts(tail.read()) == ["three"]
    assert _texts(tail.close()) == ["four"]  # the end of input completes the last line


def test_rotation_loses_and_duplicates_nothing(tmp_path):
    path = tmp_path / "app.log"
    _append(path, "a1", "a2")
    tail = Tail(path)
    seen = _texts(tail.read())
    _append(path, "a3")  # written before the rotation, not read yet
    os.rename(path, tmp_path / "app.log.1")
    read = _texts(tail.read())
    assert read == ["a3"]  # renamed away, no successor yet: the old file is still read
    seen += read
    _append(path, "b1")
    _append(tmp_path / "app.log.1", "a4")  # the writer has not reopened yet
    seen += _texts(tail.read())
    _append(path, "b2")
    seen += _texts(tail.read())
    _append(tmp_path / "app.log.1", "a5")
    for _ in range(LINGER_READS + 1):
        seen += _texts(tail.read())
    _append(tmp_path / "app.log.1", "never read: the old file was let go")
    _append(path, "b3")
    seen += _texts(tail.read()) + _texts(tail.close())
    assert sorted(seen) == ["a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3"]
    assert seen.index("b1") < seen.index("b2") < seen.index("b3") and tail.stats.rotations == 1


def test_truncation_reads_the_file_again_from_its_start(tmp_path):
    path = tmp_path / "app.log"
    _append(path, "old line 1", "old line 2", "old line 3")
    tail = Tail(path)
    assert len(tail.read()) == 3
    path.write_text("new 1\n")  # copytruncate: shorter than what was read
    assert _texts(tail.read()) == ["new 1"]
    # Truncated and written past the old position between two reads: the first bytes changed.
    path.write_text("".join(f"rewritten line {i}\n" for i in range(5)))
    assert _texts(tail.read()) == [f"rewritten line {i}" for i in range(5)]
    _append(path, "appended")
    assert _texts(tail.read()) == ["appended"] and tail.stats.truncations == 2


def test_a_gzip_file_cannot_be_followed(tmp_path):
    path = tmp_path / "app.log.gz"
    path.write_bytes(gzip.compress(b"line\n"))
    with pytest.raises(DataError, match="gzip"):
        Tail(path).read()


def _judge_all(calls: list[list[str]]):
    def judge(frame: LogFrame, sequences: list[Sequence]) -> list[Detection]:
        calls.append([s.id for s in sequences])
        return [Detection(s.id, int(any("ERROR" in frame.fields["Level"][i] for i in s.lines)), 0.0,
                          Route.SMALL_MODEL, Branch.SMALL_MODEL, 0.0, (), reason=" | ".join(
                              frame.content[i] for i in s.lines)) for s in sequences]
    return judge


def _follower(path: Path, grouping, clock: Clock, idle: float = 30.0):
    calls: list[list[str]] = []
    out: list[Detection] = []
    stats = FollowStats()
    follower = Follower(Tail(path), LineReader(SOURCE, stats), OpenSequences(grouping, idle, clock, stats),
                        _judge_all(calls), out.append, sleep=lambda s: None)
    return follower, out, calls


def test_a_session_completes_when_idle_and_the_rest_at_the_end(tmp_path):
    path = tmp_path / "app.log"
    clock = Clock()
    follower, out, calls = _follower(path, SessionGrouping(regex=r"job_\d+"), clock)
    _append(path, "1 INFO start job_1", "2 INFO start job_2", "3 INFO no key here")
    follower.step()
    assert out == []
    clock.now = 20.0
    _append(path, "4 INFO step job_2")
    follower.step()
    clock.now = 30.0  # job_1 idle for 30 s, job_2 for 10
    follower.step()
    assert [(d.sequence_id, d.reason) for d in out] == [("job_1", "start job_1")]
    clock.now = 100.0
    _append(path, "5 INFO start job_1 again")  # a key seen after its sequence was judged starts a new one
    follower.step()  # job_2 went idle meanwhile
    assert [d.sequence_id for d in out] == ["job_1", "job_2"] and out[1].reason == "start job_2 | step job_2"
    _append(path, "6 ERROR failed job_1")
    follower.finish()
    assert [(d.sequence_id, d.verdict) for d in out] == [("job_1", 0), ("job_2", 0), ("job_1#2", 1)]
    assert out[2].reason == "start job_1 again | failed job_1"
    assert follower.stats.ungrouped == 1 and follower.stats.sequences == 3 and follower.stats.lines == 6


def test_a_count_window_completes_when_full(tmp_path):
    path = tmp_path / "app.log"
    follower, out, calls = _follower(path, CountGrouping(size=3, step=2), Clock())
    _append(path, *[f"{i} INFO line {i}" for i in range(4)])
    follower.step()
    assert [(d.sequence_id, d.reason) for d in out] == [("c0", "line 0 | line 1 | line 2")]
    _append(path, "4 INFO line 4")
    follower.step()
    assert [d.sequence_id for d in out] == ["c0", "c1"] and out[1].reason == "line 2 | line 3 | line 4"
    follower.finish()  # the partial window c2 (line 4) at the end of input
    assert [(d.sequence_id, d.reason) for d in out[2:]] == [("c2", "line 4")]


def test_a_time_window_completes_when_a_later_line_arrives(tmp_path):
    path = tmp_path / "app.log"
    follower, out, calls = _follower(path, TimeGrouping(seconds=10, step=10), Clock())
    _append(path, "100 INFO a", "105 INFO b", "109 INFO c")
    follower.step()
    assert out == []
    _append(path, "112 INFO d", "131 INFO e")
    follower.step()
    assert [(d.sequence_id, d.reason) for d in out] == [("t0", "a | b | c"), ("t1", "d")]
    _append(path, "108 INFO late")  # its window was judged already
    follower.finish()
    assert [(d.sequence_id, d.reason) for d in out[2:]] == [("t3", "e")] and follower.stats.late == 1


def test_every_session_is_judged_once_through_rotation_and_truncation(tmp_path):
    path = tmp_path / "app.log"
    clock = Clock()
    follower, out, calls = _follower(path, SessionGrouping(regex=r"job_\d+"), clock, idle=5)
    expected: dict[str, list[str]] = {}
    for k in range(12):
        line = f"{k} INFO step {k % 3} of job_{k // 3}"
        expected.setdefault(f"job_{k // 3}", []).append(f"step {k % 3} of job_{k // 3}")
        if k == 4:
            os.rename(path, tmp_path / "app.log.1")
        if k == 8:
            follower.step()
            path.write_text("")  # truncated in place, after everything in it was read
        _append(path, line)
        if k % 2:
            follower.step()
    clock.now = 10.0
    follower.step()
    follower.finish()
    assert sorted(d.sequence_id for d in out) == sorted(expected)
    assert {d.sequence_id: d.reason.split(" | ") for d in out} == expected
    assert follower.tail.stats.rotations == 1 and follower.tail.stats.truncations == 1


def test_a_ctrl_c_while_judging_loses_no_sequence_and_judges_none_twice(tmp_path):
    path = tmp_path / "app.log"
    _append(path, "0 INFO line 0", "1 INFO line 1")
    calls: list[list[str]] = []
    judge = _judge_all(calls)

    def interrupted(frame: LogFrame, sequences: list[Sequence]) -> list[Detection]:
        if len(calls) == 1:
            calls.append(["interrupted"])
            raise KeyboardInterrupt  # Ctrl-C while the second batch is judged
        return judge(frame, sequences)

    out: list[Detection] = []
    stats = FollowStats()
    follower = Follower(Tail(path), LineReader(SOURCE, stats), OpenSequences(CountGrouping(size=2, step=2), 30,
                                                                            Clock(), stats), interrupted, out.append)
    follower.step()
    _append(path, *[f"{i} INFO line {i}" for i in range(2, 7)])
    with pytest.raises(KeyboardInterrupt):
        follower.step()
    follower.finish()
    assert [d.sequence_id for d in out] == ["c0", "c1", "c2", "c3"]
    assert calls == [["c0"], ["interrupted"], ["c1", "c2", "c3"]] and stats.sequences == 4


def test_the_loop_sleeps_only_when_nothing_came_and_stops_when_asked(tmp_path):
    path = tmp_path / "app.log"
    clock = Clock()
    slept: list[float] = []
    script = iter([["1 INFO a job_1"], [], ["2 INFO b job_2"], [], []])

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    def stop() -> bool:
        lines = next(script, None)
        if lines is None:
            return True
        _append(path, *lines) if lines else None
        return False

    out: list[Detection] = []
    stats = FollowStats()
    follower = Follower(Tail(path), LineReader(SOURCE, stats), OpenSequences(SessionGrouping(regex=r"job_\d+"), 1.0,
                                                                            clock, stats), _judge_all([]), out.append,
                        sleep=sleep, interval_s=0.5)
    follower.run(stop=stop)
    assert slept == [0.5, 0.5, 0.5] and [d.sequence_id for d in out] == ["job_1", "job_2"]


def test_jsonl_sources_and_bad_settings(tmp_path):
    stats = FollowStats()
    reader = LineReader(SourceConfig(path="x", kind="jsonl", content="msg"), stats)
    lines = reader.read([b'{"msg": "hello", "level": "INFO"}', b"not json", b"   "])
    assert [(r.content, r.fields, r.matched) for r in lines] == [("hello", {"level": "INFO"}, True),
                                                                 ("not json", {}, False)]
    assert (stats.lines, stats.blank, stats.unmatched) == (2, 1, 1)
    with pytest.raises(ConfigError, match="--follow reads text"):
        LineReader(SourceConfig(path="x", kind="csv"), stats)
    with pytest.raises(ConfigError, match="--idle"):
        OpenSequences(SessionGrouping(regex="x"), 0, Clock(), stats)
    by_field = OpenSequences(SessionGrouping(field="job"), 30, Clock(), stats)
    assert by_field.add(reader.read([b"no json, so no job field"])) == [] and stats.ungrouped == 1
    untimed = LineReader(SourceConfig(path="x", kind="text", log_format="<Level> <Content>"), stats)
    with pytest.raises(ConfigError, match="timestamp"):
        OpenSequences(TimeGrouping(seconds=10, step=10), 30, Clock(), stats).add(untimed.read([b"INFO x"]))


def test_detect_follow_on_the_command_line(tmp_path):
    from synthetic import block_log

    from collaborlog.detector.config import DetectorConfig
    from collaborlog.detector.facade import CollaborLog
    from collaborlog.detector.persistence import save

    frame, seqs = block_log(60)
    config = DetectorConfig.model_validate({"encoder": {"kind": "hashing"}, "coordinator": {"epochs": 2},
                                            "small_model": {"epochs": 2, "k": 3}, "llm": {"backend": "none"}})
    save(CollaborLog(config).fit(frame, seqs[:45], seqs[45:]), tmp_path / "model")
    (tmp_path / "ds.yaml").write_text(
        "name: blocks\nsource: {kind: text, path: blocks.log, log_format: '<Content>'}\n"
        "grouping: {kind: session, regex: 'blk_\\d+'}\n", encoding="utf-8")
    log = tmp_path / "blocks.log"
    new, _ = block_log(70)
    _append(log, *new.content[:40])
    proc = subprocess.Popen([sys.executable, "-m", "collaborlog", "detect", str(tmp_path / "model"),
                             str(tmp_path / "ds.yaml"), "--follow", "--format", "jsonl", "--idle", "3600",
                             "--out", str(tmp_path / "d.jsonl")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("following"), proc.stderr.read()
    os.rename(log, tmp_path / "blocks.log.1")
    _append(log, *new.content[40:])
    proc.send_signal(signal.SIGINT)  # stop: the rest is read and every open session judged
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    rows = [json.loads(line) for line in stdout.splitlines()]
    blocks = sorted({m for line in new.content for m in __import__("re").findall(r"blk_\d+", line)})
    assert sorted(r["sequence_id"] for r in rows) == blocks and "Traceback" not in stderr
    saved = [json.loads(line)["sequence_id"] for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert saved == [r["sequence_id"] for r in rows]
    assert f"{len(blocks)} sequences judged" in stderr and "1 rotations" in stderr
    assert np.isin([r["verdict"] for r in rows], [0, 1]).all()
