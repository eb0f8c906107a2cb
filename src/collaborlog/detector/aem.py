"""The adaptive evolve mechanism (AEM): after each stream batch, the LLM's verdicts are fed back.

The coordinator learns those sequences as familiar and the small model adds them to its memory
(marked as LLM-labelled) and is fine-tuned on them, with history replayed so that nothing is
forgotten; confirmed rewordings become aliases of the messages they reword, and new routine
events stop making patterns new. So the share sent to the LLM falls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from collaborlog.features.featurizer import SequenceFeatures
from collaborlog.memory.patterns import pattern_key, pattern_text, read_as
from collaborlog.verdicts import Branch, Detection, MemorySource, MessageVerdict, Route

if TYPE_CHECKING:
    from collaborlog.detector.facade import CollaborLog


def learn(det: CollaborLog, features: SequenceFeatures, detections: list[Detection],
          messages: dict[str, MessageVerdict] | None = None) -> int:
    """Feed the LLM's verdicts of a batch back into both models; returns how many sequences were learned.

    Fallback verdicts (the small model's own) are not learned: only what the LLM judged.
    ``messages``: what the LLM said of the batch's new messages; confirmed rewordings become
    aliases of the messages they reword, new routine events leave message patterns.
    """
    said = messages or {}
    det.prevalence_.add(features.messages)
    if det.novelty_ is not None:
        det.novelty_.observe(np.array([d.loss for d in detections], dtype=np.float64))
    reads = [read_as(m, a, said) for m, a in zip(features.messages, features.aligned)]
    det.key_prevalence_.add([[pattern_text(pattern_key(r, det.pattern_by_set_))] for r in reads])
    det.vanished_.add(reads)
    for m, v in said.items():
        det.messages_[m] = v
        if v.rewords is not None and det.aligner_ is not None:
            det.aligner_.alias(m, v.rewords)
    det.refresh_routine()
    for d, lines in zip(detections, reads):
        if d.route is Route.LLM and d.branch is Branch.HELD_BACK:
            # The same lines would meet the same guard: the pattern is not asked about again.
            det.held_.setdefault(pattern_key(lines, det.pattern_by_set_),
                                 (MemorySource.LLM.memory_id(d.sequence_id), d.reason))
    idx = [i for i, d in enumerate(detections)
           if d.route is Route.LLM and d.branch not in (Branch.FALLBACK, Branch.NOT_JUDGED, Branch.HELD_BACK)]
    if not idx:
        return 0
    y = np.array([detections[i].verdict for i in idx], dtype=np.int8)
    ids = [MemorySource.LLM.memory_id(detections[i].sequence_id) for i in idx]
    aligned = {i: read_as(features.messages[i], features.aligned[i], said) for i in idx}
    teach(det, features, idx, y, ids, [aligned[i] for i in idx], MemorySource.LLM,
          evolved=[detections[i].branch is Branch.EVOL_DETECT for i in idx])
    return len(idx)


def correct(det: CollaborLog, features: SequenceFeatures, sequence_ids: list[str], labels: list[int]) -> int:
    """Feed an operator's labels of sequences (their ``features``) into both models, as the LLM's
    verdicts are fed, but outranking them: a label the LLM (or the history) gave the same
    message pattern is replaced, and what was learned from the LLM's verdict on the same
    sequence (or an earlier correction of it) is forgotten. Returns how many were learned."""
    if not sequence_ids:
        return 0
    y = np.asarray(labels, dtype=np.int8)
    ids = [MemorySource.OPERATOR.memory_id(s) for s in sequence_ids]
    superseded = set(ids) | {MemorySource.LLM.memory_id(s) for s in sequence_ids}
    det.small_model_.forget(superseded)
    det.history_.forget(superseded)
    idx = list(range(len(sequence_ids)))
    aligned = [read_as(m, a, det.messages_) for m, a in zip(features.messages, features.aligned)]
    # A person's "normal" makes the sequence's messages familiar (label-free novelty), as the
    # LLM's reading of an evolved normal pattern does.
    teach(det, features, idx, y, ids, aligned, MemorySource.OPERATOR, evolved=[label == 0 for label in labels])
    return len(idx)


def remember(patterns: dict[tuple[str, ...], tuple[int, str]], key: tuple[str, ...], label: int,
             memory_id: str) -> None:
    """Remember ``label`` for the message pattern ``key`` unless a source that outranks the
    new one (see :attr:`MemorySource.rank`) holds it; of equal sources the first LLM verdict
    stays (the LLM judges each pattern once) and the latest operator correction wins."""
    held = patterns.get(key)
    new = MemorySource.of(memory_id)
    if held is None or new.rank > MemorySource.of(held[1]).rank or (
            new is MemorySource.OPERATOR and MemorySource.of(held[1]) is MemorySource.OPERATOR):
        patterns[key] = (int(label), memory_id)


def teach(det: CollaborLog, features: SequenceFeatures, idx: list[int], y: np.ndarray, ids: list[str],
          aligned: list[list[str]], source: MemorySource, evolved: list[bool]) -> None:
    """Teach rows ``idx`` of ``features`` with labels ``y`` (remembered under ``ids``, read as
    ``aligned``) to the coordinator, the small model, the history and the pattern memory.
    ``evolved``: per row, whether its messages count as familiar from now on (label-free novelty)."""
    settings = det.config.aem
    seed = det.config.seed + 1000 + det.learned_batches_
    rng = np.random.default_rng(seed)
    x = features.vectors[idx]
    replay = det.replay_[rng.choice(len(det.replay_), size=min(settings.replay, len(det.replay_)), replace=False)]
    det.coordinator_.learn(x, replay, epochs=settings.coordinator_epochs, seed=seed)
    det.small_model_.learn(x, y, ids, replay=settings.replay, epochs=settings.small_model_epochs, seed=seed,
                           source=source)
    det.history_.add(ids, y.tolist(), [features.messages[i] for i in idx])
    for lines, label, sid in zip(aligned, y.tolist(), ids):
        # Under the whole pattern: only sequences that report the same share the verdict.
        remember(det.patterns_, pattern_key(lines, det.pattern_by_set_), label, sid)
    if det.novelty_ is not None:
        # A sequence the LLM read as an evolved version of a normal history pattern makes its
        # messages familiar. A sequence-level "normal" does not: rare lines are the only
        # failure evidence there is without labels, and one wrong answer must not erase it.
        det.novelty_.clear([m for lines, label, familiar in zip(aligned, y.tolist(), evolved)
                            if label == 0 and familiar for m in lines])
    if det.aligner_ is not None:
        # New events now judged become known messages; reworded ones stay read as the known
        # message they align to.
        new = list(dict.fromkeys(line for i, read in zip(idx, aligned) for line, name in zip(features.messages[i], read)
                                 if line == name and not det.aligner_.knows(line)))
        vectors = det.message_vectors(new)
        det.aligner_.add(new, np.stack([vectors[m] for m in new]) if new else np.zeros((0, x.shape[1]), np.float32))
    det.learned_batches_ += 1
