"""Evidence: what the LLM is shown of a routed sequence, and the failure signals in its own lines.

The neighbours the small model found (as labelled history), the nearest normal and abnormal
history for contrast, lines resembling messages the history saw only in failures, new messages
that report a problem, and (without labels) the lines the history rarely shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from collaborlog.data.levels import PROBLEM_LEVELS
from collaborlog.features.featurizer import SequenceFeatures
from collaborlog.memory.prevalence import Prevalence
from collaborlog.models.small_model import SMBatch
from collaborlog.verdicts import Evidence, MessageVerdict

if TYPE_CHECKING:
    from collaborlog.detector.facade import CollaborLog


def failure_signals(det: CollaborLog, lines: list[str], vectors: dict[str, np.ndarray], said: dict[str, MessageVerdict],
                    prevalence: Prevalence, levels: dict[str, str] | None = None,
                    aligned: list[str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A sequence's failure signals: lines that resemble messages the history saw only in
    failures, and new messages that report a problem: the log prints them at WARN or above, or
    (where it prints no level) the LLM said so. A line that most of the stream carries is
    neither, unless the history saw that very message only in failures. A line that aligns to a
    known message (``aligned``: ``lines`` read so) is that message, not a new one: a WARN the
    history wrote, reworded, reports what it always did. Not when the history logged that
    message below WARN (:meth:`Vanished.level_allows`): a failure line does not take a routine
    message's standing."""
    levels = levels or {}
    read = {m: a for m, a in zip(lines, aligned or ()) if det.vanished_.level_allows(a, levels.get(m))}
    history = tuple(line for line in det.signatures_.signals(lines, vectors)
                    if det.signatures_.failure_only(line) or not prevalence.common(line))

    def problem(m: str) -> bool:
        if m in said:
            return said[m].problem
        return m in levels and levels[m] in PROBLEM_LEVELS and det.aligner_ is not None \
            and not det.aligner_.knows(read.get(m, m))

    judged = tuple(m for m in dict.fromkeys(lines) if problem(m) and m not in history and not prevalence.common(m))
    return history, judged


def failure_lines(det: CollaborLog, sequences: list[list[str]], prevalence: Prevalence) -> set[str]:
    """The distinct lines of ``sequences`` that resemble a message the history saw only in
    failures (the history part of :func:`failure_signals`, over all of them at once)."""
    lines = list(dict.fromkeys(line for lines in sequences for line in lines))
    if not lines or not det.signatures_.failure_only_.any():
        return set()
    vectors = det.message_vectors(lines)
    return {line for line in det.signatures_.signals(lines, vectors)
            if det.signatures_.failure_only(line) or not prevalence.common(line)}


def build(det: CollaborLog, features: SequenceFeatures, sm_batch: SMBatch, rows: np.ndarray, prevalence: Prevalence,
          keys: list[tuple[str, ...]] | None = None,
          verdicts: dict[str, MessageVerdict] | None = None,
          levels: dict[str, str] | None = None,
          rare: dict[int, tuple[str, ...]] | None = None) -> list[Evidence]:
    """What the LLM is shown of each of ``rows``; ``rare``: the rare lines to name per row
    (without labels; by default the rare messages each sequence aligns to)."""
    normal, abnormal = det.small_model_.nearest_by_label(features.vectors[rows])
    row_of = {sid: r for r, sid in enumerate(det.history_.ids)}
    vectors = det.message_vectors([line for i in rows for line in features.messages[i]])
    said = {**det.messages_, **(verdicts or {})}
    out = []
    for j, i in enumerate(rows):
        pred = sm_batch[int(i)]
        neighbours = tuple(det.history_.item(row_of[n.id], n.similarity) for n in pred.neighbours if n.id in row_of)
        signals, judged = failure_signals(det, list(features.messages[i]), vectors, said, prevalence, levels,
                                          list(features.aligned[i]))
        if rare is not None:
            lines = rare.get(int(i), ())
        else:
            lines = tuple(det.novelty_.rare(features.aligned[i])) if det.novelty_ is not None else ()
        out.append(Evidence(tuple(features.messages[i]), neighbours,
                            det.history_.item(int(normal[j])) if normal[j] >= 0 else None,
                            det.history_.item(int(abnormal[j])) if abnormal[j] >= 0 else None,
                            pred.verdict, pred.certain, signals,
                            keys[i] if keys is not None else det.pattern_of(features.aligned[i]), judged, lines))
    return out


def unplaced(det: CollaborLog, features: SequenceFeatures, rows: list[int], prevalence: Prevalence,
             said: dict[str, MessageVerdict], levels: dict[str, str]) -> dict[int, tuple[str, ...]]:
    """Failure signals of routed sequences no LLM judged. Unfamiliar is not abnormal: the
    small model's neighbours cannot place such a sequence, so only evidence of a failure in
    its own lines flags it."""
    vectors = det.message_vectors([line for i in rows for line in features.messages[i]])
    out = {}
    for i in rows:
        history, judged = failure_signals(det, list(features.messages[i]), vectors, said, prevalence, levels,
                                          list(features.aligned[i]))
        out[i] = history + judged
    return out
