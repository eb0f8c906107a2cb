"""Fitting without labels (or with a few), and running with no LLM at all."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from collaborlog.detector.config import DetectorConfig, Mode, choose_mode
from collaborlog.detector.facade import CollaborLog
from collaborlog.detector.persistence import load, save
from collaborlog.memory.novelty import Novelty
from collaborlog.records import LogFrame, Sequence
from collaborlog.verdicts import Branch, Route


def _config(**extra) -> DetectorConfig:
    return DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 15}, "small_model": {"epochs": 5, "k": 3},
        "governor": {"cache": False}, "llm": {"backend": "none"}, **extra,
    })


def _unlabelled(sequences: list[Sequence]) -> list[Sequence]:
    return [replace(s, label=-1) for s in sequences]


@pytest.fixture(scope="module")
def label_free(hdfs20k):
    ds = hdfs20k
    return CollaborLog(_config()).fit(ds.log, _unlabelled(ds.splits.train), _unlabelled(ds.splits.valid))


def test_novelty_counts_rare_messages_on_one_scale():
    history = [["open", "close"]] * 95 + [["open", "retry", "close"]] * 5
    nov = Novelty(contamination=0.1).fit(history, np.zeros(100), np.linspace(0, 1, 20))
    assert nov.rare(["open", "retry", "boom"]) == ["retry", "boom"]
    scores = nov.score([["open", "close"], ["open", "boom"], ["open", "close"]], np.array([0.1, 0.1, 5.0]))
    # 1.0 is the threshold: a familiar sequence is below it; an unseen message or a loss far above
    # the validation's is above it.
    assert scores.novel.tolist() == [False, True, True]
    assert scores.score[1] > scores.score[0] and scores.rarity[2] < 1 < scores.loss[2]
    nov.clear(["boom"])
    assert not nov.score([["open", "boom"]], np.array([0.1])).novel[0]
    # Drift: the share of the stream over the loss bar, beyond doubt, against a bound.
    nov.observe(np.array([0.0] * 40 + [5.0] * 3))
    assert not nov.drifted(0.15)  # 3 of 43: as rare as failures
    assert nov.drifted(0.15, np.full(30, 5.0))  # with 30 more over the bar: 33 of 73
    again = Novelty.from_state(nov.state_dict())
    assert again.rare(["retry", "boom", "x"]) == ["retry", "x"] and again.loss_bar_ == nov.loss_bar_
    assert (again.stream_seen_, again.stream_novel_) == (43, 3)
    # 5 of the 100 history sequences carry a message rare among the others: no more than the
    # contamination allows, so nothing to tell the operator.
    assert nov.floor_ == pytest.approx(0.05) and nov.floor_notice() is None


def test_fit_tells_when_rarity_is_a_weak_signal_on_the_history():
    # A fifth of the history carries a message no other sequence does (ids, one-off events).
    history = [["open", "close"]] * 80 + [["open", f"event {k}", "close"] for k in range(20)]
    nov = Novelty(contamination=0.05).fit(history, np.zeros(100), np.zeros(10))
    assert nov.floor_ == pytest.approx(0.2)
    assert "20% of the history's own sequences" in (nov.floor_notice() or "")
    # A message counts as rare below the contamination share: the advice is to lower it, not raise it.
    assert "lower `contamination`" in (nov.floor_notice() or "")
    assert Novelty.from_state(nov.state_dict()).floor_ == pytest.approx(0.2)


@pytest.mark.parametrize("labels, mode", [
    ([-1, -1, -1], Mode.LABEL_FREE), ([0, 0, -1], Mode.LABEL_FREE), ([0, 1, -1], Mode.SEMI_SUPERVISED),
    ([0, 1, 0], Mode.SUPERVISED),
])
def test_the_mode_follows_the_labels(labels, mode):
    chosen, why = choose_mode(np.array(labels, dtype=np.int8))
    assert chosen is mode and why.startswith(mode.value)


def test_unlabelled_fit_flags_what_the_history_never_shows(label_free, hdfs20k):
    ds = hdfs20k
    assert label_free.mode_ is Mode.LABEL_FREE and "taken as mostly normal" in label_free.mode_reason_
    # The guard's base rate without labels is the expected contamination.
    assert label_free.prevalence_.bound == pytest.approx(3 * label_free.config.contamination)
    familiar = ds.splits.train[:40]
    content = list(ds.log.content)
    # A failure line no history sequence carries, added to a copy of familiar sequences.
    lines = [content[i] for s in familiar for i in s.lines]
    broken: list[Sequence] = []
    out_lines: list[str] = []
    for k, s in enumerate(familiar):
        start = len(out_lines)
        out_lines += [content[i] for i in s.lines]
        if k % 10 == 1:  # failures are rare: one sequence in ten
            out_lines.append("java.lang.OutOfMemoryError: Java heap space while writing the replica")
        broken.append(Sequence(f"s{k}", np.arange(start, len(out_lines)), -1, float(k)))
    assert len(lines) < len(out_lines)
    frame = LogFrame(content=out_lines, timestamp=np.arange(len(out_lines), dtype=float),
                     label=np.full(len(out_lines), -1, np.int8), fields={}, matched=np.ones(len(out_lines), bool))
    out = label_free.detect(frame, broken)
    flagged = [d.sequence_id for d in out if d.verdict == 1]
    assert {f"s{k}" for k in range(1, 40, 10)} <= set(flagged)
    assert all(d.score > 1.0 for d in out if d.verdict == 1)
    # Every flagged sequence says why, whichever route it took, and a broken one names its line.
    assert all(d.reason for d in out if d.verdict == 1)
    for d in out:
        if d.sequence_id in {f"s{k}" for k in range(1, 40, 10)}:
            assert any("OutOfMemoryError" in line for line in d.signals), d
    # With no LLM configured, routed sequences keep the small model's verdict, marked as such.
    for d in out:
        if d.route is Route.LLM:
            assert d.branch is Branch.NOT_JUDGED and "not judged" in d.reason
        else:
            assert d.branch in (Branch.SMALL_MODEL, Branch.REUSED)


def test_no_llm_means_no_client_is_ever_built(label_free, hdfs20k, monkeypatch):
    import collaborlog.detector.facade as detector_module

    def refuse(_config):
        raise AssertionError("no LLM client may be built with llm backend none")

    monkeypatch.setattr(detector_module, "build_client", refuse)
    out = [d for batch in label_free.detect_stream(hdfs20k.log, hdfs20k.splits.test) for d in batch]
    assert len(out) == len(hdfs20k.splits.test)
    # Nothing the LLM did not judge is learned.
    assert not any(m.startswith("llm:") for m in label_free.small_model_.memory_ids_)


def test_a_few_labels_join_the_memory(hdfs20k):
    ds = hdfs20k
    train = [s if s.label == 1 else replace(s, label=-1) for s in ds.splits.train]
    det = CollaborLog(_config()).fit(ds.log, train, _unlabelled(ds.splits.valid))
    assert det.mode_ is Mode.SEMI_SUPERVISED
    failures = sum(s.label == 1 for s in train)
    assert int((det.small_model_.memory_labels_ == 1).sum()) == failures > 0
    # The labelled failures' base rate, not the contamination, drives the guard.
    assert det.prevalence_.bound != pytest.approx(3 * det.config.contamination)


def test_label_free_detector_round_trips(label_free, hdfs20k, tmp_path):
    save(label_free, tmp_path / "model")
    again = load(tmp_path / "model")
    assert again.mode_ is Mode.LABEL_FREE and again.novelty_ is not None
    test = hdfs20k.splits.test[:50]
    assert [(d.verdict, round(d.score, 6)) for d in again.detect(hdfs20k.log, test)] == \
           [(d.verdict, round(d.score, 6)) for d in label_free.detect(hdfs20k.log, test)]


def test_a_missing_embedded_model_names_the_no_llm_option(monkeypatch):
    from collaborlog.errors import MissingDependencyError
    from collaborlog.llm import gguf

    absent = gguf.GGUFModel("absent.gguf", "0" * 64, 1, ("collaborlog_absent_model_part",), "absent-model==1")
    monkeypatch.setitem(gguf.MODELS, "absent-model", absent)
    with pytest.raises(MissingDependencyError, match="--llm none"):
        gguf.resolve_model("absent-model")


class _LevelReader:
    """An LLM stand-in that gives each asked message the level a developer would: ERROR when it
    reports a loss, else INFO; any sequence question gets "Normal"."""

    identity = "rules:levels"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def complete(self, request):
        from collaborlog.llm.backends import Completion

        if "New message" in request.user:
            message = request.user.split("\n")[1].strip()
            self.asked.append(message)
            level = "ERROR" if "lost" in message else "INFO"
            text = f'{{"reason": "reads as {level}", "same_as": 0, "level": "{level}"}}'
        else:
            text = '{"reason": "fine", "IsEvol": false, "System State": "Normal"}'
        return Completion(text, 1, 1, 0.0)


@pytest.mark.parametrize("drifted", [False, True])
def test_a_rare_message_stays_evidence_until_the_stream_drifts_and_both_the_log_and_the_llm_call_it_routine(drifted):
    from synthetic import NORMAL, world

    rotate = NORMAL + [("INFO", "Rotated journal {n}")]
    lost = NORMAL + [("INFO", "Replica {n} lost on disk")]
    history = [rotate if k % 50 == 7 else lost if k % 50 == 31 else NORMAL for k in range(300)]
    frame, seqs = world(history, [-1] * 300, "h")
    client = _LevelReader()
    cfg = _config(llm={"backend": "embedded"}, vanish_evidence=None)
    det = CollaborLog(cfg, llm=client).fit(frame, seqs[:250], seqs[250:])
    assert det.mode_ is Mode.LABEL_FREE
    # A drifted stream: most of it unlike the history (the same events, the writes repeated).
    wide = NORMAL[:2] + [NORMAL[1]] * 6 + NORMAL[2:]
    stream = [wide if drifted else NORMAL] * 30 + [rotate, lost]
    frame, test = world(stream, [0] * 30 + [0, 1], "s")
    out = det.detect(frame, test)
    assert det.novelty_ is not None
    assert det.novelty_.drifted(det.prevalence_.bound, np.array([d.loss for d in out])) is drifted
    if drifted:
        # Both lines are rare in the history. Once unfamiliarity is common in the stream, the
        # rotation, routine to the log (INFO) and to the LLM, is set aside; the loss is INFO in
        # the log but not to the LLM, so it stays evidence.
        assert [d.verdict for d in out[-2:]] == [0, 1]
        assert any("lost" in m for m in client.asked) and any("Rotated" in m for m in client.asked)
    else:
        # While unfamiliarity is as rare in the stream as failures, the lines the history rarely
        # shows are the evidence: the LLM is not asked to clear them.
        assert [d.verdict for d in out[-2:]] == [1, 1]
        assert not any("Rotated" in m or "lost" in m for m in client.asked)
    assert any("lost" in s for s in out[-1].signals)


def test_a_novel_sequence_is_not_cleared_by_the_llm_while_novelty_is_rare_in_the_stream():
    from synthetic import NORMAL, world

    skipped = NORMAL[:2] + [("INFO", "Skipped checksum {n}")] + NORMAL[3:]
    history = [NORMAL if k % 2 else skipped for k in range(300)]
    frame, seqs = world(history, [-1] * 300, "h")
    client = _LevelReader()  # answers "Normal" to every sequence question
    det = CollaborLog(_config(llm={"backend": "embedded"}), llm=client).fit(frame, seqs[:250], seqs[250:])
    # Familiar events in an unfamiliar mix and count: over the loss bar, with no rare line and
    # no message pattern the history knows.
    odd = NORMAL[:2] + [NORMAL[1]] * 30 + [skipped[2]] + NORMAL[2:]
    frame, test = world([NORMAL] * 40 + [odd], [0] * 40 + [1], "s")
    out = det.detect(frame, test)
    assert out[-1].verdict == 1 and out[-1].branch is Branch.SMALL_MODEL
    assert [d.verdict for d in out[:-1]] == [0] * 40
    # The same sequence in a stream most of which is unlike the history: the LLM decides.
    frame, test = world([odd] * 40, [0] * 40, "t")
    drifted = det.detect(frame, test)
    assert {d.branch for d in drifted} <= {Branch.AD_CERTAIN, Branch.AD_UNCERTAIN, Branch.EVOL_DETECT}
    assert all(d.verdict == 0 for d in drifted)


def test_without_an_llm_a_loss_alone_flags_nothing_once_the_stream_drifts():
    from synthetic import NORMAL, world

    skipped = NORMAL[:2] + [("INFO", "Skipped checksum {n}")] + NORMAL[3:]
    history = [NORMAL if k % 2 else skipped for k in range(300)]
    frame, seqs = world(history, [-1] * 300, "h")
    det = CollaborLog(_config()).fit(frame, seqs[:250], seqs[250:])
    odd = NORMAL[:2] + [NORMAL[1]] * 30 + [skipped[2]] + NORMAL[2:]
    lost = odd + [("ERROR", "Replica {n} lost on disk")]
    # While unfamiliarity is as rare in the stream as failures, the loss alone flags.
    frame, test = world([NORMAL] * 40 + [odd], [0] * 40 + [1], "s")
    assert [d.verdict for d in det.detect(frame, test)] == [0] * 40 + [1]
    # Once most of the stream is over the loss bar, it does not; a line the history never
    # showed still does.
    frame, test = world([odd] * 40 + [lost], [0] * 40 + [1], "t")
    out = det.detect(frame, test)
    assert det.novelty_ is not None and det.novelty_.drifted(det.prevalence_.bound, np.array([d.loss for d in out]))
    assert [d.verdict for d in out] == [0] * 40 + [1]


@pytest.mark.parametrize("lookahead", [False, True])
def test_with_lookahead_a_window_is_not_flagged_for_a_message_most_of_the_input_carries(lookahead):
    from synthetic import NORMAL, world

    skipped = NORMAL[:2] + [("INFO", "Skipped checksum {n}")] + NORMAL[3:]
    history = [NORMAL if k % 2 else skipped for k in range(300)]
    frame, seqs = world(history, [-1] * 300, "h")
    det = CollaborLog(_config(aem={"batch_size": 10, "lookahead": lookahead})).fit(frame, seqs[:250], seqs[250:])
    # A drifted period (every window unlike the history) in which a new WARN line, seen once in
    # the first batch, is then written by most windows; one window fails.
    odd = NORMAL[:2] + [NORMAL[1]] * 30 + [skipped[2]] + NORMAL[2:]
    slow = odd + [("WARN", "Slow sync of {n} ms")]
    lost = slow + [("ERROR", "Replica {n} lost on disk")]
    windows = [slow] + [odd] * 9 + [slow] * 15 + [lost] + [slow] * 14
    labels = [0] * 25 + [1] + [0] * 14
    frame, test = world(windows, labels, "s")
    out = [d for batch in det.detect_stream(frame, test) for d in batch]
    flagged = [k for k, d in enumerate(out) if d.verdict == 1]
    # Strictly online, the first window is judged when one window in ten carries the line: it
    # is rare, and flags. Counted over the whole input at hand, 31 of 40 windows carry it.
    assert flagged == ([25] if lookahead else [0, 25])
    assert "Replica" in " ".join(out[25].signals)


@pytest.mark.parametrize("level", ["INFO", "WARN"])
def test_a_rare_message_the_stream_carries_more_often_than_failures_flags_nothing_if_the_log_calls_it_routine(level):
    from synthetic import NORMAL, world

    rotate = NORMAL + [("INFO", "Rotated journal {n}")]
    lost = NORMAL + [("INFO", "Replica {n} lost on disk")]
    history = [rotate if k % 50 == 7 else lost if k % 50 == 31 else NORMAL for k in range(300)]
    frame, seqs = world(history, [-1] * 300, "h")
    det = CollaborLog(_config()).fit(frame, seqs[:250], seqs[250:])
    # The workload changed: a rotation the history rarely shows (2% of its windows) is now in
    # 8 of 41 windows: more than failures are expected to be (5%), beyond doubt, but not more
    # than one failure pattern may be (15%). The loss, rare in the history, is in one.
    rotated = NORMAL + [(level, "Rotated journal {n}")]
    windows = [rotated if k % 5 == 0 else NORMAL for k in range(40)] + [lost]
    frame, test = world(windows, [0] * 40 + [1], "s")
    out = det.detect(frame, test)
    flagged = [k for k, d in enumerate(out) if d.verdict == 1]
    if level == "INFO":
        # Both the log and the stream say the rotation is routine; the loss, rare in both, flags.
        assert flagged == [40]
    else:
        # At WARN the log does not call it routine: rarity in the history stays the evidence.
        assert flagged == [k for k in range(40) if k % 5 == 0] + [40]
    assert "Replica" in " ".join(out[40].signals)


def test_a_reworded_line_is_read_at_its_own_level_under_the_name_it_aligns_to():
    from synthetic import NORMAL, world

    rotate = NORMAL + [("INFO", "Rotated journal {n}")]
    history = [rotate if k % 50 == 7 else NORMAL for k in range(300)]
    frame, seqs = world(history, [-1] * 300, "h")
    det = CollaborLog(_config(align_threshold=0.6)).fit(frame, seqs[:250], seqs[250:])  # the hashing encoder's scale
    # A new release words the rotation a little differently; the line aligns to the rotation the
    # history rarely shows, and the stream now carries it in 8 of 40 windows, at INFO. Read under
    # that name it keeps its own level: routine, by both the log and the stream.
    rotated = NORMAL + [("INFO", "Rotated journal {n} now")]
    windows = [rotated if k % 5 == 0 else NORMAL for k in range(40)]
    frame, test = world(windows, [0] * 40, "s")
    features = det.features(frame, test)
    assert features.aligned[0][-1] == "Rotated journal <NUM>" != features.messages[0][-1]
    assert [d.sequence_id for d in det.detect(frame, test) if d.verdict == 1] == []


@pytest.mark.parametrize("learn", [True, False])
@pytest.mark.parametrize("lookahead", [False, True])
def test_with_lookahead_drift_is_read_on_the_whole_input_so_no_verdict_depends_on_its_batch(lookahead, learn):
    from synthetic import NORMAL, world

    skipped = NORMAL[:2] + [("INFO", "Skipped checksum {n}")] + NORMAL[3:]
    history = [NORMAL if k % 2 else skipped for k in range(300)]
    frame, seqs = world(history, [-1] * 300, "h")
    det = CollaborLog(_config(aem={"batch_size": 10, "lookahead": lookahead})).fit(frame, seqs[:250], seqs[250:])
    # A drifted input (31 of 40 windows over the loss bar, none with a rare line), whose first
    # batch holds one such window among familiar ones.
    odd = NORMAL[:2] + [NORMAL[1]] * 30 + [skipped[2]] + NORMAL[2:]
    lost = odd + [("ERROR", "Replica {n} lost on disk")]
    frame, test = world([odd] + [NORMAL] * 9 + [odd] * 29 + [lost], [0] * 39 + [1], "s")

    def flagged(batch_size: int) -> list[int]:
        out = [d for b in det.copy().detect_stream(frame, test, batch_size=batch_size, learn=learn) for d in b]
        return [k for k, d in enumerate(out) if d.verdict == 1]

    # Strictly online, the first window is judged when its loss is over the bar in one window of
    # ten: not drift, and the loss alone flags it. Read ahead, most of the input is over the bar.
    # The window with a line the history never showed is flagged either way.
    assert flagged(10) == ([39] if lookahead else [0, 39])
    if lookahead:
        assert flagged(40) == flagged(25) == flagged(7) == [39]


@pytest.mark.parametrize("learn", [True, False])
def test_with_lookahead_how_common_a_message_is_does_not_depend_on_the_batch(learn):
    from synthetic import NORMAL, world

    history = [NORMAL] * 300
    frame, seqs = world(history, [-1] * 300, "h")
    det = CollaborLog(_config(aem={"batch_size": 10})).fit(frame, seqs[:250], seqs[250:])
    # A WARN line the history never showed, in the first 12 windows of 40 and the last: more of
    # the input carries it than failures can be common, wherever the batches cut it.
    quota = NORMAL + [("WARN", "Quota exceeded on volume {n}")]
    frame, test = world([quota] * 12 + [NORMAL] * 27 + [quota], [0] * 40, "s")
    whole = [k for k, d in enumerate(det.copy().detect(frame, test)) if d.verdict == 1]
    for size in (10, 20, 40):
        out = [d for b in det.copy().detect_stream(frame, test, batch_size=size, learn=learn) for d in b]
        assert [k for k, d in enumerate(out) if d.verdict == 1] == whole == []


@pytest.mark.parametrize("warn_first", [True, False])
def test_a_rare_message_read_from_lines_of_several_levels_is_asked_about_at_the_most_severe(warn_first):
    from synthetic import NORMAL, world

    rotate = NORMAL + [("INFO", "Rotated journal {n}")]
    history = [rotate if k % 50 == 7 else NORMAL for k in range(300)]
    frame, seqs = world(history, [-1] * 300, "h")
    client = _LevelReader()  # calls the rotation INFO
    cfg = _config(llm={"backend": "embedded"}, vanish_evidence=None, align_threshold=0.6)
    det = CollaborLog(cfg, llm=client).fit(frame, seqs[:250], seqs[250:])
    # A drifted stream; two lines the history's rare rotation reads as, one at WARN and one at
    # INFO, in either order. The log's WARN is not overruled by a later INFO line of the same name.
    wide = NORMAL[:2] + [NORMAL[1]] * 6 + NORMAL[2:]
    warned, quiet = NORMAL + [("WARN", "Rotated journal {n} again")], NORMAL + [("INFO", "Rotated journal {n} now")]
    frame, test = world([wide] * 30 + ([warned, quiet] if warn_first else [quiet, warned]), [0] * 32, "s")
    features = det.features(frame, test)
    assert features.aligned[30][-1] == features.aligned[31][-1] == "Rotated journal <NUM>"
    out = det.detect(frame, test)
    assert any("Rotated" in m for m in client.asked)
    assert out[30 if warn_first else 31].verdict == 1
