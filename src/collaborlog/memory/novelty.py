"""Novelty: how far a sequence is from a history taken as mostly normal.

Most operators have no labelled history, only last month's logs. Like DeepLog and LogAnomaly,
the label-free mode assumes that history is mostly normal: failures are at most an *expected
contamination* ``c`` of it. What the history rarely or never shows is then the evidence:

- **rarity**: a message that fewer than ``c`` of the history's sequences carry cannot be what
  most normal sequences look like. A sequence's rarity is ``c / df`` of its rarest message, where
  ``df`` is the (smoothed) share of history sequences carrying it; above 1 the message is rarer
  than failures are allowed to be common.
- **loss**: the coordinator's reconstruction loss over its ``1 - c`` quantile on the validation
  split (a sequence unlike the history as a whole).

The score is the larger of the two: one scale, higher = more anomalous, and 1.0 is the threshold.
Messages the LLM (or an operator) has since judged normal no longer count as rare.

**Drift.** Novelty marks failures only while it is as rare in the stream as failures are. After
an upgrade, or as the workload drifts, most sequences are unlike the history: novelty is then
common, and says nothing by itself. The stream's share of sequences whose loss is over the bar
tells the two apart (:meth:`Novelty.drifted`), with the same Wilson test as message prevalence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from collaborlog.memory.prevalence import Prevalence, wilson

LOSS_TOLERANCE = 1e-3
"""The loss bar's relative margin over the validation quantile."""


@dataclass(frozen=True)
class NoveltyScores:
    """Per sequence: the score (``max(rarity, loss)``; above 1.0 is anomalous) and its parts."""

    score: np.ndarray
    rarity: np.ndarray
    loss: np.ndarray

    @property
    def novel(self) -> np.ndarray:
        return self.score > 1.0


class Novelty:
    """Rarity of messages and unfamiliarity of sequences, against a history taken as normal.

    >>> nov = Novelty(contamination=0.1).fit([["a"], ["a", "b"]] * 10 + [["a", "x"]],
    ...                                      np.zeros(21), np.zeros(5))
    >>> nov.rare(["a", "x", "z"])
    ['x', 'z']
    >>> nov.score([["a"], ["a", "z"]], np.zeros(2)).novel.tolist()
    [False, True]
    """

    def __init__(self, contamination: float) -> None:
        if not 0 < contamination < 0.5:
            raise ValueError(f"contamination must be in (0, 0.5), got {contamination}")
        self.contamination = contamination

    def fit(self, messages: list[list[str]], losses: np.ndarray, valid_losses: np.ndarray) -> "Novelty":
        """Count the history's messages per sequence and calibrate the loss part on ``valid_losses``."""
        self.seen_ = len(messages)
        self.counts_: Counter[str] = Counter()
        for lines in messages:
            self.counts_.update(set(lines))
        reference = valid_losses if len(valid_losses) else losses
        quantile = float(np.quantile(reference, 1 - self.contamination)) if len(reference) else 0.0
        # A loss equal to the quantile's (the same sequence again) is not over it: float32 losses
        # of one input differ in their last bits between batch sizes and processors.
        self.loss_bar_ = max(quantile * (1 + LOSS_TOLERANCE), float(np.finfo(np.float32).tiny))
        self.cleared_: set[str] = set()
        self.stream_seen_ = 0
        self.stream_novel_ = 0
        # Each history sequence against the others: how many carry a message rarer than the
        # contamination there (the false alarms rarity alone makes on the history's own kind).
        alone = [any((self.counts_[m] - 0.5) / self.seen_ < self.contamination for m in set(lines))
                 for lines in messages]
        self.floor_ = float(np.mean(alone)) if alone else 0.0
        return self

    def floor_notice(self) -> str | None:
        """What an operator should know when rarity is a weak signal on this history: more of
        its own sequences carry a message rare among the others than failures are expected to
        be (:attr:`floor_`, leave-one-out). ``None`` otherwise."""
        if self.floor_ <= self.contamination:
            return None
        return (f"{self.floor_:.0%} of the history's own sequences carry a message fewer than "
                f"{self.contamination:.0%} of the others carry, so rare lines will also flag normal sequences "
                "(about that share of them without an LLM): let an LLM judge them, or lower `contamination` "
                "(`collaborlog fit --contamination`), so that a message must be rarer to count")

    def share(self, message: str) -> float:
        """The smoothed share of history sequences carrying ``message`` (never 0)."""
        return (self.counts_[message] + 0.5) / (self.seen_ + 1)

    def rare(self, lines: list[str]) -> list[str]:
        """``lines``' distinct messages that fewer than the contamination share of the history carries."""
        return [m for m in dict.fromkeys(lines)
                if m not in self.cleared_ and self.share(m) < self.contamination]

    def rarity(self, lines: list[str]) -> float:
        shares = [self.share(m) for m in set(lines) if m not in self.cleared_]
        return self.contamination / min(shares) if shares else 0.0

    def score(self, messages: list[list[str]], losses: np.ndarray) -> NoveltyScores:
        """Scores of sequences given as their (aligned) messages and their coordinator losses."""
        rarity = np.array([self.rarity(lines) for lines in messages], dtype=np.float64)
        loss = np.asarray(losses, dtype=np.float64) / self.loss_bar_
        return NoveltyScores(np.maximum(rarity, loss), rarity, loss)

    def observe(self, losses: np.ndarray) -> None:
        """Count stream sequences (their coordinator ``losses``) and those over the loss bar."""
        self.stream_seen_ += len(losses)
        self.stream_novel_ += int((np.asarray(losses) > self.loss_bar_).sum())

    def drifted(self, bound: float, losses: np.ndarray | None = None) -> bool:
        """Whether more than ``bound`` of the stream (with ``losses`` of sequences not yet
        observed) is over the loss bar, beyond doubt: unfamiliarity too common to mark failures.
        At least :attr:`Prevalence.MIN_CARRIERS` such sequences are needed, as for a message."""
        extra = np.zeros(0) if losses is None else np.asarray(losses)
        novel = self.stream_novel_ + int((extra > self.loss_bar_).sum())
        seen = self.stream_seen_ + len(extra)
        return novel >= Prevalence.MIN_CARRIERS and wilson(novel, seen)[0] > bound

    def clear(self, messages: list[str]) -> None:
        """Messages judged normal (by the LLM or an operator) no longer count as rare."""
        self.cleared_.update(messages)

    def state_dict(self) -> dict:
        return {"contamination": self.contamination, "seen": self.seen_, "counts": dict(self.counts_),
                "loss_bar": self.loss_bar_, "cleared": sorted(self.cleared_),
                "stream_seen": self.stream_seen_, "stream_novel": self.stream_novel_, "floor": self.floor_}

    @classmethod
    def from_state(cls, data: dict) -> "Novelty":
        out = cls(float(data["contamination"]))
        out.seen_ = int(data["seen"])
        out.counts_ = Counter({str(k): int(v) for k, v in dict(data["counts"]).items()})
        out.loss_bar_ = float(data["loss_bar"])
        out.cleared_ = {str(m) for m in data["cleared"]}
        # Saved before the stream was counted: nothing of it is known.
        out.stream_seen_ = int(data.get("stream_seen", 0))
        out.stream_novel_ = int(data.get("stream_novel", 0))
        out.floor_ = float(data.get("floor", 0.0))
        return out
