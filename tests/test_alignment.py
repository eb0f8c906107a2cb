from __future__ import annotations

import numpy as np

from collaborlog.features.alignment import MessageAligner
from collaborlog.memory.patterns import pattern_key, set_keys_are_pure
from collaborlog.models.coordinator import Coordinator, CoordinatorConfig


def _unit(*rows: list[float]) -> np.ndarray:
    x = np.array(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_a_reworded_message_is_read_as_its_known_counterpart_and_a_new_event_is_not():
    known = ["Received block <BLK> from <IP>", "Deleting block <BLK>"]
    aligner = MessageAligner(threshold=0.85).fit(known, _unit([1, 0, 0], [0, 1, 0]))
    new = ["Received block <BLK> via <IP>", "Metrics published", "Deleting block <BLK>"]
    vectors = _unit([0.95, 0.1, 0.05], [0.1, 0.1, 1.0], [0, 1, 0])
    out = aligner.align(new, vectors)
    assert out.names == ["Received block <BLK> from <IP>", "Metrics published", "Deleting block <BLK>"]
    np.testing.assert_allclose(out.vectors[0], aligner.vectors_[0])
    np.testing.assert_allclose(out.vectors[1], vectors[1])  # a new event keeps its own vector
    assert out.similarity[2] == 1.0 and out.similarity[1] < 0.85
    # Once known (the AEM adds what the LLM judged), a new event is itself, and stays so after a round trip.
    assert aligner.add(["Metrics published", "Deleting block <BLK>"], vectors[1:]) == 1
    again = MessageAligner.from_state(aligner.state_dict())
    assert again.align(["Metrics published"], vectors[1:2]).names == ["Metrics published"]


def test_a_new_message_close_to_a_history_message_is_read_as_it_even_when_a_learned_one_is_closer():
    # A failure line of the new release resembles its old wording, and resembles more a routine
    # line of the same release that the stream taught first (the same id formats): read by the
    # closest alone, it would take the routine line's reading and hide.
    history = ["Redundant request received for <BLK>", "Receiving block <BLK>"]
    aligner = MessageAligner(threshold=0.85).fit(history, _unit([1, 0, 0], [0, 1, 0]))
    learned = "blockIndex <ID> was added to <ID>"
    aligner.add([learned], _unit([0.6, 0, 0.8]))
    redundant = _unit([0.88, 0, 0.47])  # 0.88 from its old wording, 0.90 from the learned line
    assert float(redundant[0] @ aligner.vectors_[2]) > float(redundant[0] @ aligner.vectors_[0]) >= 0.85
    assert aligner.align(["Redundant call received <ID>"], redundant).names == [history[0]]
    # A learned message that differs in its masked variables alone is the same statement: it reads it.
    variant = _unit([0.86, 0, 0.51])
    assert float(variant[0] @ aligner.vectors_[0]) >= 0.85
    assert aligner.align(["blockIndex <HEX> was added to <NUM>"], variant).names == [learned]
    # Told apart after a round trip; a detector saved before counts every message as the history's.
    state = aligner.state_dict()
    assert MessageAligner.from_state(state).align(["Redundant call received <ID>"], redundant).names == [history[0]]
    del state["history"]
    assert MessageAligner.from_state(state).align(["Redundant call received <ID>"], redundant).names == [learned]


def test_alignment_with_nothing_known_leaves_messages_alone():
    out = MessageAligner().fit([], np.zeros((0, 3), np.float32)).align(["a"], _unit([1, 0, 0]))
    assert out.names == ["a"] and out.similarity[0] == 0.0


def test_pattern_keys_and_the_purity_check():
    assert pattern_key(["b", "a", "a"], by_set=True) == ("a", "b")
    assert pattern_key(["b", "a", "a"]) != pattern_key(["a", "a", "b"])  # order and counts count
    pure = [["a", "b"], ["b", "a", "a"], ["c"]]
    assert set_keys_are_pure(pure, np.array([0, 0, 1]))
    assert not set_keys_are_pure(pure, np.array([0, 1, 1]))
    assert not set_keys_are_pure(pure, np.array([-1, -1, -1]))  # nothing labelled, nothing shown


def test_learning_familiar_rows_brings_them_under_tau():
    rng = np.random.default_rng(0)
    history = rng.normal(size=(400, 8)).astype(np.float32) * 0.01 + 1.0  # a history that repeats itself
    co = Coordinator(CoordinatorConfig(epochs=20, seed=0)).fit(history[:300], history[300:])
    new = (rng.normal(size=(20, 8)) * 0.3 - 1.0).astype(np.float32)
    tau = co.tau_
    assert (co.score(new) > tau).all()
    co.learn(new, history[:200], epochs=30, seed=0)
    assert co.tau_ >= tau
    assert (co.score(new) <= co.tau_).mean() >= 0.85
    unrelated = np.tile([3.0, -3.0], 4).astype(np.float32) + new * 0.1
    assert (co.score(unrelated) > co.tau_).all()  # something unrelated is still unfamiliar
