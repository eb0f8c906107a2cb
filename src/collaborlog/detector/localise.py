"""Line-level localisation: which lines of an anomalous sequence are most responsible for its verdict.

Each line is scored by the evidence against it, every piece with a weight, and named with its
file, line number, time and raw text (:class:`~collaborlog.verdicts.LineBlame`). The evidence is
what the detector already knows: the failure signals the verdict rests on, messages the labelled
history saw only in failures, the level the log prints, the words the reason cites, messages the
history never or rarely showed, and messages the nearest normal sequence of the history lacks.
One line is named per distinct message (its first), most responsible first; ties keep log order.

Higher score = more responsible. A line with no evidence against it is not named.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from collaborlog.data.levels import PROBLEM_LEVELS, level_field, normalize
from collaborlog.features.featurizer import SequenceFeatures
from collaborlog.records import LogFrame, Sequence
from collaborlog.verdicts import BlameReason, Detection, LineBlame

if TYPE_CHECKING:
    from collaborlog.detector.facade import CollaborLog

WEIGHTS = {
    BlameReason.SIGNAL: 3.0,
    BlameReason.FAILURE_ONLY: 3.0,
    BlameReason.PROBLEM_LEVEL: 2.0,
    BlameReason.CITED: 2.0,
    BlameReason.NEW: 1.5,
    BlameReason.RARE: 1.0,
    BlameReason.UNLIKE_NEIGHBOUR: 1.0,
}
"""What each piece of evidence weighs: what the verdict itself rests on (a signal, a failure-only
message) above what the log says of the line (its level) and what the reason cites, above how
unfamiliar the line is (new, rare, absent from the nearest normal sequence)."""
CITED_SHARE = 0.6
"""A reason cites a line when it holds at least this share of the line's words (and two or more)."""
_WORD = re.compile(r"[a-z][a-z0-9_$.]{2,}")


def words(text: str) -> set[str]:
    """The words of ``text`` that can identify a log line: lower case, three characters or more, masks left out."""
    return {w.strip(".") for w in _WORD.findall(re.sub(r"<[^<>]*>", " ", text.lower()))} - {""}


def cited(reason: str, message: str, reason_words: set[str]) -> bool:
    """Whether ``reason`` quotes ``message`` whole or holds most of its words."""
    if not reason:
        return False
    if message in reason:
        return True
    own = words(message)
    return len(own) >= 2 and len(own & reason_words) >= CITED_SHARE * len(own)


def line_levels(log: LogFrame, lines: np.ndarray) -> list[str] | None:
    """The level of each of ``lines`` (indices into ``log``) as :func:`~collaborlog.data.levels.normalize`
    reads it, where the log prints levels (only those lines: a batch must not cost the whole log)."""
    name = level_field(log)
    if name is None:
        return None
    column = log.fields[name]
    return [normalize(column[int(i)]) or "" for i in lines]


def blame(det: CollaborLog, log: LogFrame, sequences: list[Sequence], features: SequenceFeatures,
          detections: list[Detection], top_k: int | None = None) -> list[Detection]:
    """``detections`` with each anomalous one's :attr:`~collaborlog.verdicts.Detection.blame`: up
    to ``top_k`` (default: the detector's ``blame_lines``) lines, most responsible first."""
    k = det.config.blame_lines if top_k is None else top_k
    rows = [i for i, d in enumerate(detections) if d.verdict == 1]
    if not rows or k <= 0:
        return detections
    normal = _nearest_normal(det, features.vectors[rows])
    out = list(detections)
    for row, nearest in zip(rows, normal):
        d = detections[row]
        scored = score_lines(det, d, features.messages[row], features.aligned[row], nearest,
                             line_levels(log, sequences[row].lines))
        out[row] = replace(d, blame=tuple(_blamed(log, sequences[row], position, score, reasons)
                                          for position, score, reasons in scored[:k]))
    return out


def score_lines(det: CollaborLog, detection: Detection, messages: list[str], aligned: list[str],
                nearest_normal: set[str] | None, levels: list[str] | None) -> list[tuple[int, float, tuple[BlameReason, ...]]]:
    """``(position, score, reasons)`` for the first line of each distinct message that has any
    evidence against it, most responsible first (ties in log order)."""
    signals = set(detection.signals)
    reason_words = words(detection.reason)
    history = det.vanished_
    bound = det.config.contamination
    scored = []
    seen: set[str] = set()
    for position, (message, known) in enumerate(zip(messages, aligned)):
        level = levels[position] if levels is not None else ""
        # Lines of one message at different levels are different evidence.
        key = f"{level}\x00{message}"
        if key in seen:
            continue
        seen.add(key)
        weights: dict[BlameReason, float] = {}
        if message in signals or known in signals:
            weights[BlameReason.SIGNAL] = WEIGHTS[BlameReason.SIGNAL]
        if det.signatures_.failure_only(known):
            weights[BlameReason.FAILURE_ONLY] = WEIGHTS[BlameReason.FAILURE_ONLY]
        if level in PROBLEM_LEVELS:
            weights[BlameReason.PROBLEM_LEVEL] = WEIGHTS[BlameReason.PROBLEM_LEVEL]
        if cited(detection.reason, message, reason_words):
            weights[BlameReason.CITED] = WEIGHTS[BlameReason.CITED]
        share = history.history_share(known)
        if history.history_counts_[known] == 0:
            weights[BlameReason.NEW] = WEIGHTS[BlameReason.NEW]
        elif share < bound:
            # The rarer, the heavier: a message one history sequence in a thousand carries weighs
            # nearly the whole weight, one carried at the bound weighs nothing.
            weights[BlameReason.RARE] = WEIGHTS[BlameReason.RARE] * (1.0 - share / bound)
        if nearest_normal is not None and known not in nearest_normal and message not in nearest_normal:
            weights[BlameReason.UNLIKE_NEIGHBOUR] = WEIGHTS[BlameReason.UNLIKE_NEIGHBOUR]
        if weights:
            scored.append((position, round(sum(weights.values()), 6), tuple(weights)))
    return sorted(scored, key=lambda t: (-t[1], t[0]))


def _nearest_normal(det: CollaborLog, vectors: np.ndarray) -> list[set[str] | None]:
    """The messages of the nearest normal history sequence to each of ``vectors`` (``None`` if none)."""
    normal, _ = det.small_model_.nearest_by_label(vectors)
    history = det.history_
    cache: dict[int, set[str]] = {}
    out: list[set[str] | None] = []
    for row in normal.tolist():
        if row < 0 or row >= len(history):
            # A row the AEM added (judged by the LLM) has no stored messages: no contrast.
            out.append(None)
            continue
        pattern = history.pattern_of[row]
        if pattern not in cache:
            cache[pattern] = set(history.messages(pattern))
        out.append(cache[pattern])
    return out


def _blamed(log: LogFrame, sequence: Sequence, position: int, score: float,
            reasons: tuple[BlameReason, ...]) -> LineBlame:
    line = int(sequence.lines[position])
    file, number = log.where(line)
    stamp = float(log.timestamp[line])
    return LineBlame(position, file, number, None if np.isnan(stamp) else stamp, log.content[line], score, reasons)
