"""What one learning step taught a detector: a :class:`LearningSummary`, measured as the difference
between a :class:`Snapshot` taken before the step and the detector after it.

A step is a fit, a stream learned with the AEM (``detect --learn``), an operator's corrections
(``feedback``) or a rollback. The summary is returned by the library call, printed by the command
line and stored with the model version the step wrote (:mod:`collaborlog.detector.versions`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from collaborlog.errors import DataError

if TYPE_CHECKING:
    from collaborlog.detector.facade import CollaborLog


@dataclass(frozen=True)
class Snapshot:
    """The parts of a detector a summary compares (small: labels and counts, no arrays)."""

    memory: dict[str, int]
    """The small model's memory: remembered id -> label."""
    patterns: dict[tuple[str, ...], int]
    """The pattern memory: message pattern -> label."""
    aliases: int
    messages: int
    templates: int
    tau: float | None
    """The coordinator's threshold (``None`` before a fit)."""
    streamed: int
    """Sequences the AEM has read from the stream."""


EMPTY = Snapshot({}, {}, 0, 0, 0, None, 0)
"""A detector before its fit."""


def snapshot(det: CollaborLog) -> Snapshot:
    """What :func:`summarize` compares, read from the fitted ``det``."""
    det.check_fitted()
    model = det.small_model_
    return Snapshot(memory=dict(zip(model.memory_ids_, model.memory_labels_.tolist())),
                    patterns={k: label for k, (label, _) in det.patterns_.items()},
                    aliases=len(det.aligner_.aliases_) if det.aligner_ is not None else 0,
                    messages=len(det.messages_), templates=len(det.miner_.templates),
                    tau=float(det.coordinator_.tau_), streamed=det.prevalence_.seen_)


@dataclass(frozen=True)
class LearningSummary:
    """What a learning step taught the detector.

    ``sequences_learned`` counts the memory entries the step added or relabelled (a fit: the
    history; the AEM: the sequences the LLM judged; feedback: the corrections that changed
    something), ``anomalous_learned`` those of them labelled anomalous.
    """

    sequences_seen: int
    """Sequences the step read (judged, corrected or fitted on)."""
    sequences_learned: int
    anomalous_learned: int
    patterns_added: int
    """Message patterns the pattern memory did not hold before."""
    patterns_changed: int
    """Patterns it held whose label changed (an operator's correction)."""
    aliases_added: int
    """New messages confirmed as rewordings of known ones."""
    messages_added: int
    """New messages the LLM judged."""
    templates_added: int
    tau_before: float | None
    """The coordinator's threshold before the step (``None`` for a fit)."""
    tau_after: float

    def lines(self) -> list[str]:
        """The summary in words, one fact per line (what the command line prints)."""
        before = "none" if self.tau_before is None else f"{self.tau_before:.4g}"
        return [
            f"sequences: {self.sequences_seen:,} read, {self.sequences_learned:,} learned "
            f"({self.anomalous_learned:,} anomalous)",
            f"patterns: {self.patterns_added:,} added, {self.patterns_changed:,} relabelled",
            f"aliases added: {self.aliases_added:,}; new messages judged: {self.messages_added:,}; "
            f"templates added: {self.templates_added:,}",
            f"tau: {before} -> {self.tau_after:.4g}",
        ]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> LearningSummary:
        """The summary :meth:`to_json` wrote; anything else is a :class:`DataError`."""
        names = [f.name for f in fields(cls)]
        if not isinstance(data, dict) or set(data) != set(names):
            raise DataError(f"a learning summary holds exactly the fields {', '.join(names)}; got {data!r}")
        counts = [n for n in names if not n.startswith("tau")]
        if not all(type(data[n]) is int for n in counts) or not all(
                data[n] is None or type(data[n]) in (int, float) for n in ("tau_before", "tau_after")) \
                or data["tau_after"] is None:
            raise DataError(f"a learning summary holds whole counts and numeric thresholds; got {data!r}")
        return cls(**data)


def summarize(before: Snapshot, det: CollaborLog, sequences_seen: int | None = None) -> LearningSummary:
    """What ``det`` learned since ``before`` (see :func:`snapshot`), having read ``sequences_seen``
    (default: the sequences the AEM read from the stream meanwhile)."""
    after = snapshot(det)
    if sequences_seen is None:
        sequences_seen = after.streamed - before.streamed
    learned = {k: v for k, v in after.memory.items() if before.memory.get(k) != v}
    assert after.tau is not None
    return LearningSummary(
        sequences_seen=sequences_seen, sequences_learned=len(learned),
        anomalous_learned=sum(1 for v in learned.values() if v == 1),
        patterns_added=sum(1 for k in after.patterns if k not in before.patterns),
        patterns_changed=sum(1 for k, v in after.patterns.items() if k in before.patterns and before.patterns[k] != v),
        aliases_added=max(after.aliases - before.aliases, 0), messages_added=max(after.messages - before.messages, 0),
        templates_added=max(after.templates - before.templates, 0), tau_before=before.tau, tau_after=after.tau)
