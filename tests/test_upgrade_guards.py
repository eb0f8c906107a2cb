"""Guard rails that hold whatever the data, each on a small synthetic world: a history of file
writes (a few of which fail) and a stream that a new release writes."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import FAILED, NORMAL, world

import collaborlog
from collaborlog.data.levels import message_levels, normalize
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.llm.backends import ScriptedClient
from collaborlog.memory.rewording import offer, variant_of
from collaborlog.memory.vanished import Vanished
from collaborlog.records import LogFrame, Sequence
from collaborlog.verdicts import Branch, Route

ABNORMAL = '{"reason": "looks wrong", "IsEvol": false, "System State": "Abnormal"}'


def history() -> tuple[LogFrame, list[Sequence], list[Sequence]]:
    labels = [1 if k % 20 == 0 else 0 for k in range(400)]
    frame, seqs = world([FAILED if y else NORMAL for y in labels], labels, "h")
    return frame, seqs[:320], seqs[320:]


def fitted(client=None, **config) -> CollaborLog:
    cfg = DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 10}, "small_model": {"epochs": 3, "k": 3},
        "governor": {"cache": False}, "aem": {"batch_size": 40}, "llm": {"backend": "none"}, **config})
    frame, train, valid = history()
    return CollaborLog(cfg, llm=client).fit(frame, train, valid)


def test_levels_are_read_whatever_the_library_prints():
    assert [normalize(v) for v in ("WARNING", "[error]", "Severe", "info", "TRACE", "bogus")] == \
           ["WARN", "ERROR", "ERROR", "INFO", "DEBUG", None]
    frame, seqs = world([FAILED], [1], "s")
    levels = message_levels(frame, seqs, [["a", "b", "c", "d"]])
    assert levels == {"a": "INFO", "b": "INFO", "c": "ERROR", "d": "INFO"}


def test_what_vanished_is_dropped_and_the_history_read_without_it():
    # The new release no longer writes "Verified checksum" (demoted to DEBUG).
    det = fitted()
    det.coordinator_.tau_ = -1.0  # everything looks evolved
    frame, stream = world([[line for line in NORMAL if "Verified" not in line[1]]] * 60, [0] * 60, "s")
    out = [d for batch in det.detect_stream(frame, stream) for d in batch]
    assert det.dropped() == {m for p in range(len(det.history_.patterns)) for m in det.history_.messages(p)
                             if m.startswith("Verified")}
    later = out[40:]
    assert all(d.verdict == 0 and d.branch is Branch.REUSED and "no longer writes" in d.reason for d in later)


def test_unfamiliar_is_not_abnormal_but_a_new_error_line_is():
    det = fitted(vanish_evidence=None)
    det.coordinator_.tau_ = -1.0
    new_info = [("INFO", "Opening file {n}"), ("INFO", "Rebalanced {n} replicas"), ("INFO", "Closed file {n}")]
    new_error = [("INFO", "Opening file {n}"), ("ERROR", "Replica {n} lost: checksum mismatch"), ("INFO", "Closed file {n}")]
    labels = [1 if k % 10 == 3 else 0 for k in range(40)]
    frame, stream = world([new_error if y else new_info for y in labels], labels, "s")
    out = det.detect(frame, stream)
    assert all(d.route is Route.LLM and d.branch is Branch.NOT_JUDGED for d in out)
    # Neither pattern is known; only the one whose own new line the log prints at ERROR is flagged.
    assert [d.verdict for d in out] == labels
    assert all("checksum mismatch" in d.reason for d, y in zip(out, labels) if y)


def test_one_abnormal_answer_is_held_back_when_the_pattern_is_too_common_for_a_failure():
    client = ScriptedClient(default=ABNORMAL)
    det = fitted(client, vanish_evidence=None)
    det.coordinator_.tau_ = -1.0
    # Every stream sequence has one and the same pattern the history never showed; the LLM calls it abnormal.
    frame, stream = world([NORMAL[:2] + NORMAL[3:]] * 120, [0] * 120, "s")
    out = [d for batch in det.detect_stream(frame, stream) for d in batch]
    held = [d for d in out if d.branch is Branch.HELD_BACK]
    # Failures are ~5% of the history: a pattern most of the stream carries cannot be one.
    assert len(held) > 100 and all(d.verdict == 0 and "held back" in d.reason for d in held)
    assert sum(d.verdict for d in out) < 0.1 * len(out)
    # Nothing held back is learned as abnormal.
    assert not any(label == 1 and sid.startswith("llm:") for label, sid in det.patterns_.values()
                   if sid in {f"llm:{d.sequence_id}" for d in held})


def test_an_llm_verdict_is_shared_only_by_the_whole_same_pattern():
    client = ScriptedClient(default=ABNORMAL)
    det = fitted(client, vanish_evidence=None, common_message_factor=None)
    det.coordinator_.tau_ = -1.0
    one = NORMAL[:2] + [("INFO", "Synced {n} blocks")] + NORMAL[3:]
    frame, stream = world([one] * 3, [0] * 3, "a")
    list(det.detect_stream(frame, stream))
    judged = len(client.requests)
    assert judged >= 1
    # Another new event in the same place: a different pattern, so asked again, not reused.
    other = NORMAL[:2] + [("INFO", "Trimmed {n} blocks")] + NORMAL[3:]
    frame, stream = world([other] * 3, [0] * 3, "b")
    out = det.detect(frame, stream)
    assert len(client.requests) > judged and not any(d.branch is Branch.REUSED for d in out)


@pytest.mark.parametrize("stream_share, steady", [(1.0, True), (0.5, False), (0.0, False)])
def test_an_old_message_written_less_is_offered_as_reworded(stream_share, steady):
    v = Vanished().fit([["old"]] * 100)
    written = int(200 * stream_share)
    v.add([["old"]] * written + [["new"]] * (200 - written))
    assert v.steady("old") is steady


def test_an_abnormal_answer_that_no_line_backs_is_held_back_and_not_learned():
    client = ScriptedClient(default=ABNORMAL)
    det = fitted(client, vanish_evidence=None, common_message_factor=None, aem={"batch_size": 2})
    det.coordinator_.tau_ = -1.0
    quiet = NORMAL[:2] + [("INFO", "Synced {n} blocks")] + NORMAL[3:]
    loud = NORMAL[:2] + [("ERROR", "Replica {n} lost: checksum mismatch")] + NORMAL[3:]
    frame, stream = world([quiet, loud] * 3, [0, 1] * 3, "s")
    out = [d for batch in det.detect_stream(frame, stream) for d in batch]
    first_quiet, first_loud = out[0], out[1]
    # The LLM called both abnormal. Only the one whose own line signals a failure is backed.
    assert first_quiet.verdict == 0 and first_quiet.branch is Branch.HELD_BACK
    assert "no line of its own signals a failure" in first_quiet.reason and "looks wrong" in first_quiet.reason
    assert first_loud.verdict == 1 and first_loud.branch is Branch.AD_CERTAIN
    assert any("checksum mismatch" in s for s in first_loud.signals)
    # The backed verdict is shared with its pattern; the unbacked one is never reused as a
    # verdict: its later members are reported held back, as the first was.
    assert all(d.verdict == 1 and "same message pattern as llm:s1" in d.reason for d in out[3::2])
    assert all(d.verdict == 0 and d.branch is Branch.HELD_BACK and d.reason.startswith(
        "same message pattern as llm:s0, held back") for d in out[2::2])
    assert {sid for _, sid in det.patterns_.values()}.isdisjoint({f"llm:{d.sequence_id}" for d in out[0::2]})


def test_a_held_back_pattern_is_not_asked_about_again(tmp_path):
    client = ScriptedClient(default=ABNORMAL)
    det = fitted(client, vanish_evidence=None, common_message_factor=None, aem={"batch_size": 2})
    det.coordinator_.tau_ = -1.0
    quiet = NORMAL[:2] + [("INFO", "Synced {n} blocks")] + NORMAL[3:]
    frame, stream = world([quiet] * 6, [0] * 6, "s")

    def judged() -> int:  # the sequence-level questions (not those about the new message)
        return sum(1 for r in client.requests if r.schema is not None and "System State" in r.schema["properties"])

    calls = []
    for batch in det.detect_stream(frame, stream):
        calls.append(judged())
        assert all(d.verdict == 0 and d.branch is Branch.HELD_BACK for d in batch)
    # The first batch asked; the later ones answered from the held-back memory.
    assert calls == [1] * len(calls)
    assert all(d.route is Route.SMALL_MODEL and d.reason.startswith("same message pattern as llm:s0, held back")
               for d in batch)
    # The memory is state: saved, loaded, and copied with the detector.
    collaborlog.save(det, tmp_path / "m")
    again = collaborlog.load(tmp_path / "m", llm=client, encoder=det.encoder)
    assert again.held_ == det.held_ and len(det.held_) == 1
    frame, more = world([quiet] * 2, [0] * 2, "t")
    assert all(d.branch is Branch.HELD_BACK for d in again.detect(frame, more))
    assert judged() == 1


def _familiar_with_failure_line():
    """A detector asking an always-"abnormal" LLM, routing everything to the small model; the
    history's failure line; and a long normal sequence it may be hidden in."""
    client = ScriptedClient(default=ABNORMAL)
    det = fitted(client, vanish_evidence=None)
    det.coordinator_.tau_ = float("inf")  # everything looks familiar: the small model's route
    return client, det, next(line for line in FAILED if line[0] == "ERROR"), NORMAL * 6


def test_a_failure_message_the_neighbours_outvote_goes_to_the_llm():
    client, det, failed_line, long_normal = _familiar_with_failure_line()
    frame, stream = world([long_normal, long_normal + [failed_line]], [0, 1], "s")
    features = det.features(frame, stream)
    votes = [p.verdict for p in det.small_model_.predict(features.vectors)]
    assert votes == [0, 0]  # the failure line is one of 25: the neighbours are normal
    out = det.detect(frame, stream)
    assert out[0].route is Route.SMALL_MODEL and out[0].verdict == 0
    assert out[1].route is Route.LLM and out[1].verdict == 1 and len(client.requests) >= 1


def test_a_failure_message_in_a_pattern_most_of_the_stream_carries_is_not_asked_about():
    client, det, failed_line, long_normal = _familiar_with_failure_line()
    # Most of the stream writes the history's failure line inside an otherwise normal sequence
    # (a release that logs it on every write): the base-rate guard would hold back any
    # "abnormal", so the LLM is not asked, once per member or at all.
    frame, stream = world([long_normal + [failed_line]] * 40 + [long_normal] * 10, [0] * 50, "s")
    out = det.detect(frame, stream)
    assert client.requests == []
    assert all(d.route is Route.SMALL_MODEL and d.verdict == 0 for d in out)


@pytest.mark.parametrize("with_llm", [True, False])
def test_a_line_resembling_a_failure_message_goes_to_the_llm_only_when_one_can_judge(with_llm):
    client = ScriptedClient(default=ABNORMAL) if with_llm else None
    det = fitted(client, vanish_evidence=None)
    det.coordinator_.tau_ = float("inf")  # everything looks familiar: the small model's route
    # The history's failure line, reworded by a new release: not the same message, but close to it.
    reworded = ("INFO", "Write failed: disk error at sector {n} (retrying)")
    long_normal = NORMAL * 6
    frame, stream = world([long_normal, long_normal + [reworded]], [0, 1], "s")
    features = det.features(frame, stream)
    assert not any(det.signatures_.failure_only(m) for m in features.aligned[1])  # no exact match
    assert [p.verdict for p in det.small_model_.predict(features.vectors)] == [0, 0]
    out = det.detect(frame, stream)
    assert out[0].route is Route.SMALL_MODEL and out[0].verdict == 0
    if with_llm:
        assert out[1].route is Route.LLM and len(client.requests) >= 1
    else:
        # Without an LLM, resemblance alone does not overrule the neighbours.
        assert out[1].route is Route.SMALL_MODEL and out[1].verdict == 0


def test_an_old_wording_most_of_a_rolling_stream_still_writes_is_offered_for_its_new_wording():
    v = Vanished().fit([["old", "other"]] * 100)
    # A fifth of the nodes upgraded: the old wording is still written four times in five.
    v.add([["old", "other"]] * 160 + [["new", "other"]] * 40)
    assert v.steady("old") and v.steady("other")
    assert v.room_for("old", carriers=40)
    # A message the stream writes as often as ever has no room for any new one.
    assert not v.room_for("other", carriers=40)
    # Nor has one whose shortfall is far smaller than the new message's share.
    w = Vanished().fit([["old"]] * 50 + [["x"]] * 50)
    w.add([["old", "new"]] * 450 + [["x", "new"]] * 50 + [["x"]] * 500)
    assert w.steady("old") and not w.room_for("old", carriers=500)


def test_a_pair_the_stream_leaves_no_room_for_is_not_offered():
    new, old = ["Receiving blk from peer"], ["Receive block from peer", "Receiving blk from node"]
    cosine = np.array([[0.9, 0.8]])
    assert offer(new, old, cosine, k=2, min_overlap=0.5) == {new[0]: [0, 1]}
    assert offer(new, old, cosine, k=2, min_overlap=0.5, allowed=np.array([[False, True]])) == {new[0]: [1]}


def test_one_statement_printed_with_other_values_is_one_statement_and_takes_one_old_message():
    # A release's statement prints an enum and an optional list as name=value pairs: the
    # printed values are variables, not wording. Read as words, they made the two printings
    # two statements, and a one-to-one assignment then offered the second one another old
    # message first (a failure message of the same component).
    last = "Responder: <BLK>, type=LAST_IN_PIPELINE terminating"
    inner = "Responder: <BLK>, type=HAS_DOWNSTREAM_IN_PIPELINE, downstreams=<NUM>:[<IP>:<PORT>, <IP>:<PORT>] terminating"
    assert variant_of(inner, [last]) == last and variant_of(last, [inner]) == inner
    old = ["Responder <NUM> terminating", "Responder <NUM> interrupted, terminating"]
    cosine = np.array([[0.9, 0.8], [0.9, 0.8]])
    offered = offer([last, inner], old, cosine, k=2, min_overlap=0.5)
    assert offered == {last: [0, 1], inner: [0, 1]}
    # A bracketed value is left out whole, and the names stay.
    assert variant_of("allocate <BLK>{state=NEW, replicas=[R[[DISK]DS-<UUID>:NORMAL], R[[SSD]DS-<UUID>:NORMAL]]}",
                      ["allocate <BLK>{state=OPEN, replicas=[]}"]) is not None
    # Different names are different statements.
    assert variant_of("Responder: <BLK>, type=LAST terminating", ["Responder: <BLK>, mode=LAST terminating"]) is None


@pytest.mark.parametrize("reworded", [True, False])
def test_once_messages_vanish_a_new_message_only_small_model_sequences_carry_is_asked_about(reworded):
    # Every sequence looks familiar (the small model's route). When the new release rewords a
    # routine message, the old wording vanishes from the stream, and the new one is matched
    # against it across the batch. A new line written beside everything the history wrote is
    # not asked about on that route.
    client = ScriptedClient(default='{"reason": "the same check, reworded", "level": "INFO", "same_as": 1}')
    det = fitted(client)
    det.coordinator_.tau_ = float("inf")
    new_line = ("INFO", "Checksum verified for {n}")
    lines = NORMAL[:2] + [new_line] + NORMAL[3:] if reworded else NORMAL + [new_line]
    frame, stream = world([lines] * 40, [0] * 40, "s")
    out = [d for batch in det.detect_stream(frame, stream) for d in batch]
    assert all(d.route is Route.SMALL_MODEL and d.verdict == 0 for d in out)
    asked = [r for r in client.requests if r.schema is not None and "System State" not in r.schema["properties"]]
    new = [m for m in det.messages_ if m.startswith("Checksum verified")]
    if reworded:
        assert len(asked) == 1 and "Checksum verified for" in asked[0].user
        rewords = det.messages_[new[0]].rewords
        assert len(new) == 1 and rewords is not None and rewords.startswith("Verified checksum")
    else:
        assert asked == [] and new == []


class _SameAsOffered(ScriptedClient):
    """Reads a new message as the first old one offered, or as a new event when none is."""

    def complete(self, request):
        if "New message" in request.user:
            offered = "\n  1. " in request.user
            self.enqueue(f'{{"reason": "read", "level": "INFO", "same_as": {int(offered)}}}')
        return super().complete(request)


@pytest.mark.parametrize("level", ["INFO", "WARN"])
def test_a_new_warn_line_is_not_offered_a_message_the_history_logged_below_warn(level):
    # The new release stops writing a routine INFO message, and a new line appears in its place.
    # At INFO it may be the rewording; at WARN it is not offered as one: a failure line read as
    # a routine message would take its standing and hide (releases lower levels, not raise them).
    client = _SameAsOffered(default=ABNORMAL)
    det = fitted(client)
    assert det.vanished_.history_levels_["Verified checksum <NUM>"] == "INFO"
    # The levels are state: a saved detector keeps the rule.
    assert Vanished.from_state(det.vanished_.state_dict()).history_levels_ == det.vanished_.history_levels_
    lines = NORMAL[:2] + [(level, "Checksum verification of {n} failed")] + NORMAL[3:]
    frame, stream = world([lines] * 40, [0] * 40, "s")
    for _ in det.detect_stream(frame, stream):
        pass
    asked = [r.user for r in client.requests if "New message" in r.user]
    assert len(asked) == 1 and "Checksum verification" in asked[0]
    verdict = det.messages_["Checksum verification of <NUM> failed"]
    if level == "INFO":
        assert "Verified checksum" in asked[0] and verdict.rewords == "Verified checksum <NUM>"
    else:
        assert "Verified checksum" not in asked[0] and verdict.rewords is None


@pytest.mark.parametrize("history_level", ["WARN", "INFO"])
def test_a_warn_line_that_aligns_to_a_message_the_history_logged_at_warn_is_not_a_new_problem(history_level):
    from collaborlog.detector import evidence
    from collaborlog.memory.prevalence import Prevalence

    det = fitted()
    det.vanished_.history_levels_["Verified checksum <NUM>"] = history_level  # as if the history had logged it so
    new = "Verified checksum <NUM> (took <NUM> ms)"
    lines, levels = ["Opening file <NUM>", new], {new: "WARN"}
    vectors = det.message_vectors(lines)
    # Read as itself, a WARN line the history never wrote reports a problem.
    assert evidence.failure_signals(det, lines, vectors, {}, Prevalence(0.1), levels)[1] == (new,)
    # Aligned to the history's message it rewords, it is that message and keeps its standing, but
    # only where the history logged it at WARN: a failure line does not take a routine message's.
    aligned = ["Opening file <NUM>", "Verified checksum <NUM>"]
    expected = () if history_level == "WARN" else (new,)
    assert evidence.failure_signals(det, lines, vectors, {}, Prevalence(0.1), levels, aligned)[1] == expected
