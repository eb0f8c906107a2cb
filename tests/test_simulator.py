from __future__ import annotations

import numpy as np
from synthetic import block_log

from collaborlog.experiments.simulator import (
    Change,
    EvolutionConfig,
    apply_plan,
    evolve,
    sequence_op,
)


def _log(n_sessions=40):
    return block_log(n_sessions, responders=2)


def test_evolution_is_deterministic_under_a_seed_and_keeps_labels():
    frame, seqs = _log()
    a = evolve(frame, seqs, EvolutionConfig(seed=3, sequence_ratio=0.5))
    b = evolve(frame, seqs, EvolutionConfig(seed=3, sequence_ratio=0.5))
    c = evolve(frame, seqs, EvolutionConfig(seed=4, sequence_ratio=0.5))
    assert a.log.content == b.log.content and a.changes == b.changes
    assert a.log.content != c.log.content
    assert [s.label for s in a.sequences] == [s.label for s in seqs]
    assert [s.id for s in a.sequences] == [s.id for s in seqs]


def test_rewording_is_consistent_per_template():
    frame, seqs = _log()
    ev = evolve(frame, seqs, EvolutionConfig(seed=1, template_ratio=1.0, sequence_ratio=0.0))
    first = {ev.log.content[s.lines[0]].split(" blk_")[0] for s in ev.sequences}
    assert len(first) == 1 and first != {"Receiving block"}
    assert all(Change.REWORDED.value in ev.changes[s.id] for s in ev.sequences)


def test_zero_ratios_change_nothing():
    frame, seqs = _log()
    ev = evolve(frame, seqs, EvolutionConfig(template_ratio=0.0, sequence_ratio=0.0))
    assert not ev.changed().any()
    assert ev.log.content == [frame.content[i] for s in seqs for i in s.lines]


def test_upgrade_rewrites_every_template_and_format():
    frame, seqs = _log()
    ev = evolve(frame, seqs, EvolutionConfig(upgrade=True, sequence_ratio=0.0))
    assert ev.changed().all()
    assert not any("blk_" in line or "10.0.0." in line for line in ev.log.content)
    assert all(Change.FORMAT.value in ev.changes[s.id] for s in ev.sequences)


def test_sequence_operations():
    rng = np.random.default_rng(0)
    base = [("a", 0.0, 0), ("b", 1.0, 0), ("b", 2.0, 0), ("c", 3.0, 0)]
    kinds = [1, 2, 2, 3]
    seen = set()
    for _ in range(40):
        events, templates = list(base), list(kinds)
        done = sequence_op(events, templates, rng)
        seen.update(done)
        if done == [Change.INSERTED.value]:
            assert len(events) == 5 and any(e[0] not in "abc" for e in events)
        elif done == [Change.DELETED.value]:
            assert [e[0] for e in events] == ["a", "b", "c"]  # only a repeated event goes
        elif done == [Change.DUPLICATED.value]:
            assert len(events) == 5
        elif done == [Change.REORDERED.value]:
            assert sorted(e[0] for e in events) == ["a", "b", "b", "c"] and [e[0] for e in events] != ["a", "b", "b", "c"]
        assert len(templates) == len(events)
    assert seen == {c.value for c in (Change.INSERTED, Change.DELETED, Change.DUPLICATED, Change.REORDERED)}


def test_apply_plan_edits_whole_words_only():
    assert apply_plan("block blk_1 blocked", [("block", "chunk")]) == "chunk blk_1 blocked"
    assert apply_plan("src: /a dest: /b", [("src:", "src="), ("dest:", "")]) == "src= /a /b"
