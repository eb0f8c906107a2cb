from __future__ import annotations

import json

import numpy as np
import pytest

from collaborlog.detector import aem, questions
from collaborlog.detector.config import AEMConfig, DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.detector.persistence import load, save
from collaborlog.errors import DataError
from collaborlog.experiments.simulator import EvolutionConfig, evolve
from collaborlog.features.encoders import EncoderConfig
from collaborlog.llm.backends import ScriptedClient
from collaborlog.verdicts import Branch, MessageVerdict, Route

ANSWER = '{"reason": "routine block transfer", "IsEvol": false, "System State": "Normal"}'


def _config(align_threshold: float = 0.85, pattern_key: str = "auto", **aem) -> DetectorConfig:
    return DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 15}, "small_model": {"epochs": 5, "k": 3},
        "governor": {"cache": False}, "aem": {"batch_size": 50, "coordinator_epochs": 30, **aem},
        "align_threshold": align_threshold, "pattern_key": pattern_key,
    })


@pytest.fixture(scope="module")
def fitted(hdfs20k):
    ds = hdfs20k
    return CollaborLog(_config(), llm=ScriptedClient(default=ANSWER)).fit(ds.log, ds.splits.train, ds.splits.valid)


def test_detect_gives_every_sequence_a_verdict_with_evidence(fitted, hdfs20k):
    test = hdfs20k.splits.test
    out = fitted.detect(hdfs20k.log, test)
    assert [d.sequence_id for d in out] == [s.id for s in test]
    for d in out:
        assert d.verdict in (0, 1) and len(d.neighbours) == 3
        if d.route is Route.SMALL_MODEL:
            assert d.branch in (Branch.SMALL_MODEL, Branch.REUSED)
            assert d.loss <= fitted.coordinator_.tau_ or d.branch is Branch.REUSED
        else:
            assert d.branch in (Branch.AD_CERTAIN, Branch.AD_UNCERTAIN, Branch.EVOL_DETECT) and d.reason
    assert any(d.route is Route.SMALL_MODEL for d in out)


def test_aem_makes_learned_sequences_route_to_the_small_model(hdfs20k):
    ds = hdfs20k
    det = CollaborLog(_config(), llm=ScriptedClient(default=ANSWER)).fit(ds.log, ds.splits.train, ds.splits.valid)
    evolved = evolve(ds.log, ds.splits.test, EvolutionConfig(upgrade=True, sequence_ratio=0.0))
    before = det.detect(evolved.log, evolved.sequences)
    routed_before = sum(d.route is Route.LLM for d in before)
    assert routed_before > len(before) * 0.5
    batches = list(det.detect_stream(evolved.log, evolved.sequences))
    assert len(batches) == int(np.ceil(len(evolved.sequences) / 50))
    after = det.detect(evolved.log, evolved.sequences)
    assert sum(d.route is Route.LLM for d in after) < routed_before * 0.5
    # What was learned is in the memory, marked as the LLM's.
    assert any(mid.startswith("llm:") for mid in det.small_model_.memory_ids_)
    assert det.learned_batches_ >= 1


def test_fallback_verdicts_are_not_learned(hdfs20k):
    ds = hdfs20k
    det = CollaborLog(_config(), llm=ScriptedClient(default="garbage")).fit(ds.log, ds.splits.train, ds.splits.valid)
    evolved = evolve(ds.log, ds.splits.test[:60], EvolutionConfig(upgrade=True, sequence_ratio=0.0))
    out = [d for batch in det.detect_stream(evolved.log, evolved.sequences) for d in batch]
    assert all(d.branch in (Branch.FALLBACK, Branch.SMALL_MODEL) for d in out)
    assert det.learned_batches_ == 0 and not any(m.startswith("llm:") for m in det.small_model_.memory_ids_)


def test_save_load_round_trip_gives_the_same_detections(fitted, hdfs20k, tmp_path):
    save(fitted, tmp_path / "model")
    again = load(tmp_path / "model", llm=ScriptedClient(default=ANSWER))
    a = fitted.detect(hdfs20k.log, hdfs20k.splits.test)
    b = again.detect(hdfs20k.log, hdfs20k.splits.test)
    assert [(d.verdict, d.route, d.branch) for d in a] == [(d.verdict, d.route, d.branch) for d in b]
    assert not list(tmp_path.glob(".model.*"))  # no temporary left behind
    assert not any(p.suffix == ".pkl" for p in (tmp_path / "model").iterdir())


def test_a_crash_during_an_update_leaves_the_last_good_state_loadable(hdfs20k, tmp_path, monkeypatch):
    ds = hdfs20k
    det = CollaborLog(_config(), llm=ScriptedClient(default=ANSWER)).fit(ds.log, ds.splits.train, ds.splits.valid)
    save(det, tmp_path / "model")
    reference = [d.verdict for d in det.detect(ds.log, ds.splits.test)]

    def crash(*args, **kwargs):
        raise RuntimeError("power cut in the middle of an update")

    evolved = evolve(ds.log, ds.splits.test, EvolutionConfig(upgrade=True, sequence_ratio=0.0))
    monkeypatch.setattr(det.small_model_, "learn", crash)
    with pytest.raises(RuntimeError):
        list(det.detect_stream(evolved.log, evolved.sequences))
    # A crash while saving leaves the previous directory whole, too.
    import collaborlog.detector.persistence as persistence

    monkeypatch.setattr(persistence, "save_file", crash)
    with pytest.raises(RuntimeError):
        save(det, tmp_path / "model")
    again = load(tmp_path / "model", llm=ScriptedClient(default=ANSWER))
    assert [d.verdict for d in again.detect(ds.log, ds.splits.test)] == reference


def test_a_model_directory_from_another_version_is_a_clear_error(fitted, tmp_path):
    save(fitted, tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    manifest["format_version"] = 0
    (tmp_path / "model" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="Re-fit"):
        load(tmp_path / "model")
    with pytest.raises(DataError, match="no manifest"):
        load(tmp_path / "nothing")


@pytest.mark.parametrize("part", ["prevalence.json", "small_model.memory_inputs.npy", "coordinator.weights.safetensors"])
def test_a_damaged_part_of_a_model_directory_is_a_clear_error(fitted, tmp_path, part):
    save(fitted, tmp_path / "model")
    target = tmp_path / "model" / part
    target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])  # truncated
    with pytest.raises(DataError, match="damaged.*re-fit"):
        load(tmp_path / "model")
    target.unlink()
    with pytest.raises(DataError, match="damaged"):
        load(tmp_path / "model")


def test_fit_is_deterministic_under_a_seed(hdfs20k):
    ds = hdfs20k
    runs = [CollaborLog(_config(), llm=ScriptedClient(default=ANSWER)).fit(ds.log, ds.splits.train, ds.splits.valid)
            for _ in range(2)]
    outs = [[(d.verdict, d.route, round(d.loss, 9)) for d in r.detect(ds.log, ds.splits.test)] for r in runs]
    assert outs[0] == outs[1]


def test_detector_config_rejects_unknown_keys():
    with pytest.raises(Exception, match="aem"):
        DetectorConfig.model_validate({"aem": {"batch": 10}})
    assert AEMConfig().batch_size == 25 and EncoderConfig().kind == "minilm"


def test_a_judged_pattern_is_reused_without_asking_the_llm_again(hdfs20k):
    ds = hdfs20k
    client = ScriptedClient(default=ANSWER)
    det = CollaborLog(_config(), llm=client).fit(ds.log, ds.splits.train, ds.splits.valid)
    evolved = evolve(ds.log, ds.splits.test, EvolutionConfig(upgrade=True, sequence_ratio=0.0))
    list(det.detect_stream(evolved.log, evolved.sequences[:50]))
    asked = len(client.requests)
    assert asked > 0 and det.patterns_
    again = det.detect(evolved.log, evolved.sequences[:50])
    # Learned patterns now route to the small model (tau rose) or are reused; either way the
    # verdict is the LLM's earlier one, given without a call.
    from_memory = [d for d in again if "judged by the LLM" in d.reason]
    assert from_memory and all(d.route is Route.SMALL_MODEL and d.compared_with[0].startswith("llm:")
                               for d in from_memory)
    assert len(client.requests) - asked < asked


def test_a_routed_sequence_with_a_pattern_the_history_labels_is_not_sent_to_the_llm(hdfs20k):
    ds = hdfs20k
    client = ScriptedClient(default=ANSWER)
    det = CollaborLog(_config(), llm=client).fit(ds.log, ds.splits.train, ds.splits.valid)
    assert det.patterns_ and all(sid.startswith("llm:") is False for _, sid in det.patterns_.values())
    det.coordinator_.tau_ = -1.0  # everything looks evolved
    out = det.detect(ds.log, ds.splits.test)
    reused = [d for d in out if d.branch is Branch.REUSED]
    assert reused and all("labelled in the history" in d.reason for d in reused)
    asked = [d for d in out if d.route is Route.LLM]
    assert len(reused) + len(asked) == len(out)
    # Only patterns the history does not know reach the LLM.
    assert len(client.requests) <= len(asked) * 3


class ByPrompt(ScriptedClient):
    """New-message questions get ``message``; whole sequences get ``sequence``."""

    def __init__(self, message: str, sequence: str) -> None:
        super().__init__(default=sequence)
        self.message = message

    def complete(self, request):
        if "The old version's messages that look most like it" in request.user:
            self.answers.append(self.message)
        return super().complete(request)


ROUTINE_EVENT = '{"reason": "a progress report", "level": "INFO", "same_as": 0}'
ABNORMAL = '{"reason": "looks wrong", "IsEvol": false, "System State": "Abnormal"}'


def _with_inserted_events(det: CollaborLog, ds):
    """The history with its event flow evolved; each sequence's history pattern; and the ids of
    sequences of a pattern the history labels with one new event inserted."""
    history = ds.splits.train
    evolved = evolve(ds.log, history, EvolutionConfig(template_ratio=0.0, sequence_ratio=1.0, max_sequence_ops=1))
    base = {s.id: det.pattern_of(a) for s, a in zip(history, det.features(ds.log, history).aligned)}
    inserted = [s.id for s in evolved.sequences
                if evolved.changes.get(s.id) == ("inserted",) and base[s.id] in det.patterns_]
    assert len(inserted) >= 5
    return evolved, base, inserted


def test_a_known_pattern_with_new_routine_events_is_an_evolved_version_of_it(hdfs20k, tmp_path):
    ds = hdfs20k
    client = ByPrompt(ROUTINE_EVENT, ABNORMAL)
    det = CollaborLog(_config(pattern_key="counts"), llm=client).fit(ds.log, ds.splits.train, ds.splits.valid)
    evolved, base, inserted = _with_inserted_events(det, ds)
    det.coordinator_.tau_ = -1.0  # everything looks evolved
    out = {d.sequence_id: d for d in det.detect(evolved.log, evolved.sequences)}
    asked = [r for r in client.requests if "The old version's messages that look most like it" in r.user]
    # Each new message is asked about once, however many sequences carry it.
    assert 0 < len(asked) == len({r.user for r in asked}) < sum("inserted" in c for c in evolved.changes.values()) / 10
    for sid in inserted:
        d = out[sid]
        # An evolved version of its pattern: the pattern's label, not the LLM's "Abnormal".
        assert (d.branch, d.route, d.verdict) == (Branch.EVOL_DETECT, Route.LLM, det.patterns_[base[sid]][0])
        assert "new routine event" in d.reason and d.evolved_from == det.patterns_[base[sid]][1]
    # The AEM remembers the verdicts: next time no question, and no LLM.
    list(det.detect_stream(evolved.log, evolved.sequences))
    assert det.routine_ and all(det.messages_[m].routine for m in det.routine_)
    det.coordinator_.tau_ = -1.0
    before = len(client.requests)
    again = {d.sequence_id: d for d in det.detect(evolved.log, evolved.sequences)}
    # Known now (or, where the pattern without its routine event was one the LLM judged, an
    # evolved version of the history's pattern again: an LLM verdict is never shared across
    # patterns that differ in a message).
    assert all(again[sid].branch in (Branch.REUSED, Branch.EVOL_DETECT) for sid in inserted)
    assert all(again[sid].verdict == det.patterns_[base[sid]][0] for sid in inserted)
    # No message is asked about twice.
    asked_again = [r.user for r in client.requests[before:] if "The old version's messages that look most like it" in r.user]
    assert not any(f"\n  {m}\n" in user for user in asked_again for m in det.messages_)
    # ... and keeps them across save and load.
    save(det, tmp_path / "model")
    loaded = load(tmp_path / "model", llm=client)
    assert loaded.messages_ == det.messages_ and loaded.routine_ == det.routine_


def test_a_confirmed_rewording_is_read_as_the_message_it_rewords(hdfs20k, tmp_path):
    ds = hdfs20k
    det = CollaborLog(_config(align_threshold=0.999), llm=ScriptedClient(default=ANSWER)).fit(
        ds.log, ds.splits.train, ds.splits.valid)
    known = next(m for m in det.aligner_.messages_ if "Receiving block" in m)
    reworded = known.replace("Receiving block", "Accepting chunk")
    vector = det.message_vectors([reworded])[reworded]
    assert det.aligner_.align([reworded], vector[None]).names == [reworded]
    aem.learn(det, det.features(ds.log, ds.splits.test[:1]), [], {reworded: MessageVerdict(reworded, known, False, "renamed")})
    assert det.aligner_.align([reworded], vector[None]).names == [known]
    save(det, tmp_path / "model")
    assert load(tmp_path / "model").aligner_.aliases_ == {reworded: known}


ERROR_EVENT = '{"reason": "sounds bad", "level": "ERROR", "same_as": 0}'


@pytest.mark.parametrize("factor", [None, 0.01])
def test_a_new_error_message_too_common_to_mark_failures_is_read_as_routine(hdfs20k, factor):
    ds = hdfs20k
    client = ByPrompt(ERROR_EVENT, ABNORMAL)
    config = _config(pattern_key="counts").model_copy(update={"common_message_factor": factor})
    det = CollaborLog(config, llm=client).fit(ds.log, ds.splits.train, ds.splits.valid)
    evolved, base, inserted = _with_inserted_events(det, ds)
    det.coordinator_.tau_ = -1.0
    out = {d.sequence_id: d for d in det.detect(evolved.log, evolved.sequences)}
    sequence_prompts = [r.user for r in client.requests if "Sequence to judge" in r.user]
    if factor is None:
        # The LLM's ERROR makes each new event a failure signal: the sequences go to the AD agent,
        # which is told so, in words of its own.
        assert all(out[sid].branch is not Branch.EVOL_DETECT for sid in inserted)
        assert any("read as warnings or errors" in p for p in sequence_prompts)
    else:
        # Each new event is carried by far more sequences than failures could explain: routine,
        # whatever level the LLM gave it, and never shown as a failure signal (an event only a
        # handful of sequences carry proves nothing: Prevalence.MIN_CARRIERS).
        from collections import Counter

        from collaborlog.memory.prevalence import Prevalence

        feats = det.features(evolved.log, evolved.sequences)
        carriers = Counter(m for lines in feats.messages for m in set(lines))
        lines_of = {s.id: m for s, m in zip(evolved.sequences, feats.messages)}
        common = [sid for sid in inserted if all(carriers[m] >= Prevalence.MIN_CARRIERS for m in lines_of[sid])]
        assert len(common) >= 5
        for sid in common:
            d = out[sid]
            assert (d.branch, d.verdict) == (Branch.EVOL_DETECT, det.patterns_[base[sid]][0])


def test_prevalence_needs_more_than_a_burst_to_call_a_message_common():
    from collaborlog.memory.prevalence import Prevalence

    p = Prevalence(bound=0.09)
    burst = [["fail"]] * 2 + [["ok"]] * 23
    assert not p.plus(burst).common("fail") and p.plus(burst).common("ok")
    assert p.seen_ == 0  # plus() leaves the counts alone
    p.add([["fail", "fail", "ok"]] * 15 + [["ok"]] * 10)  # a sequence counts once per message
    assert p.share("fail") == pytest.approx(0.6) and p.common("fail")
    assert 0.4 < p.lower_share("fail") < 0.6
    again = Prevalence.from_state(json.loads(json.dumps(p.state_dict())))
    assert (again.seen_, again.counts_, again.bound) == (p.seen_, p.counts_, p.bound)
    with pytest.raises(ValueError):
        Prevalence(bound=0.0)


def test_a_known_message_the_stream_still_writes_is_not_offered_as_reworded(hdfs20k):
    from collaborlog.features.featurizer import SequenceFeatures

    ds = hdfs20k
    client = ByPrompt(ROUTINE_EVENT, ANSWER)
    det = CollaborLog(_config(align_threshold=0.999), llm=client).fit(ds.log, ds.splits.train, ds.splits.valid)
    known = next(m for m in det.aligner_.messages_ if m.startswith("Receiving block"))
    reworded = known.replace("Receiving block", "Receiving chunk")

    def offered(lines: list[str]) -> bool:
        client.requests.clear()
        det.messages_.clear()
        features = SequenceFeatures(np.zeros((1, 8), np.float32), [np.zeros(len(lines), np.int64)], [lines], [lines])
        assert reworded in questions.new_message_verdicts(det, features, [0], det.vanished_.plus(features.aligned), {})
        (request,) = client.requests
        return known in request.user

    assert offered([reworded])
    # The new version still writes the old message: the new one is not its rewording.
    assert not offered([reworded, known])
