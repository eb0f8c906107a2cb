"""The public API: what users of scikit-learn, pyod and river expect of a detector."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import block_log

import collaborlog
from collaborlog import CollaborLog, DetectorConfig, NotFittedError, load, save
from collaborlog.data.config import SessionGrouping
from collaborlog.data.grouping import GroupStats, group_sessions
from collaborlog.llm.backends import LLMConfig, ScriptedClient
from collaborlog.records import LogFrame
from collaborlog.verdicts import Branch, Route

ABNORMAL = '{"reason": "an unknown round", "IsEvol": false, "System State": "Abnormal"}'
NORMAL = '{"reason": "a routine round", "IsEvol": false, "System State": "Normal"}'


def _config() -> DetectorConfig:
    return DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 40, "patience": 40},
        "small_model": {"epochs": 2, "k": 3}, "governor": {"cache": False},
        "aem": {"batch_size": 5, "replay": 16, "coordinator_epochs": 2, "small_model_epochs": 1},
    })


def _unfamiliar(n: int) -> tuple[LogFrame, list]:
    """Block sessions with a message the history never showed (each one routed to the LLM)."""
    lines = []
    for s in range(2000, 2000 + n):
        lines += [f"Receiving block blk_{s} src: /10.0.0.{s % 9}:500{s % 7}", f"gossip tombstone round {s} for blk_{s}"]
    frame = LogFrame(lines, np.arange(len(lines), dtype=np.float64), np.zeros(len(lines), np.int8), {},
                     np.ones(len(lines), bool))
    return frame, group_sessions(frame, SessionGrouping(regex=r"blk_\d+"), GroupStats())


@pytest.fixture()
def fitted():
    frame, seqs = block_log(60)
    return CollaborLog(_config(), llm=ScriptedClient(default=ABNORMAL)).fit(frame, seqs[:40], seqs[40:50]), frame, seqs


def test_the_package_exports_the_api_and_an_unfitted_detector_says_to_call_fit():
    assert collaborlog.CollaborLog is CollaborLog and callable(collaborlog.load)
    det = CollaborLog(_config())
    frame, seqs = block_log(3)
    for use in (lambda: det.detect(frame, seqs), lambda: det.score(frame, seqs), lambda: det.learn(frame, seqs),
                lambda: det.features(frame, seqs), lambda: list(det.detect_stream(frame, seqs))):
        with pytest.raises(NotFittedError, match=r"call fit\(log, train, valid\)"):
            use()
    with pytest.raises(collaborlog.CollaborLogError, match="not fitted"):
        save(det, "unused")


def test_fit_returns_self_and_detect_learns_nothing_and_writes_nothing(fitted, tmp_path, monkeypatch):
    det, _, _ = fitted
    monkeypatch.setenv("COLLABORLOG_CACHE_DIR", str(tmp_path / "cache"))
    frame, stream = _unfamiliar(6)
    templates, patterns = dict(det.miner_.templates), dict(det.patterns_)
    first = det.detect(frame, stream)
    assert any(d.route is Route.LLM and d.branch in (Branch.AD_CERTAIN, Branch.HELD_BACK) for d in first)
    # New messages are matched, not learned; no verdict is remembered; no cache file is written.
    assert det.miner_.templates == templates and det.patterns_ == patterns and det.messages_ == {}
    assert det.learned_batches_ == 0 and not (tmp_path / "cache").exists()
    assert det.detect(frame, stream) == first


def test_a_cache_dir_given_holds_the_embeddings(tmp_path):
    frame, seqs = block_log(30)
    CollaborLog(_config(), cache_dir=tmp_path / "cache").fit(frame, seqs[:20], seqs[20:])
    assert list((tmp_path / "cache").glob("embeddings-*.npz"))


def test_score_is_one_scale_higher_for_anomalous_sequences(fitted):
    det, frame, seqs = fitted
    test = seqs[50:]
    detections = det.detect(frame, test)
    scores = det.score(frame, test)
    verdicts = np.array([d.verdict for d in detections])
    assert set(verdicts) == {0, 1}  # both kinds are present, so the claim below can fail
    assert ((scores >= 1) == (verdicts == 1)).all() and ((scores >= 0) & (scores < 2)).all()
    assert scores[verdicts == 1].min() > scores[verdicts == 0].max()


def test_learn_returns_self_and_the_stream_verdicts_are_remembered(fitted):
    det = fitted[0].use_llm(ScriptedClient(default=NORMAL))
    frame, stream = _unfamiliar(6)
    assert det.learn(frame, stream) is det
    assert det.learned_batches_ == 1
    # What the LLM judged is now a known pattern: reused without asking again.
    asked = len(det.governor.client.requests)
    again = det.detect(frame, stream)
    assert {d.branch for d in again} <= {Branch.REUSED, Branch.SMALL_MODEL}
    assert all(d.verdict == 0 for d in again) and len(det.governor.client.requests) == asked


def test_load_swaps_the_llm_without_refitting(fitted, tmp_path):
    det, _, _ = fitted
    path = save(det, tmp_path / "model")
    frame, stream = _unfamiliar(4)
    without = load(path, llm=LLMConfig(backend="none"))
    assert not without.llm_enabled
    assert {d.branch for d in without.detect(frame, stream) if d.route is Route.LLM} == {Branch.NOT_JUDGED}
    with_llm = load(path, llm=ScriptedClient(default=ABNORMAL))
    assert with_llm.llm_enabled
    assert [d.verdict for d in with_llm.detect(frame, stream)] == [d.verdict for d in det.detect(frame, stream)]
