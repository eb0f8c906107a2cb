"""Failure signatures: messages the labelled history has seen only in anomalous sequences.

A routed sequence's lines are aligned to their closest historical messages (cosine over the
line embeddings); a line that resembles a failure-only message is a *failure signal*. The
signals keep Evol Detect from inheriting the wrong label (a sequence with a failure signal is
not an evolved version of a normal one, and one without any is not judged an evolved failure),
and they are shown to the AD agent as evidence.
"""

from __future__ import annotations

import numpy as np


class FailureSignatures:
    """``threshold``: the cosine a line needs to a failure-only message to count as its signal."""

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold

    def fit(self, messages: list[list[str]], labels: np.ndarray, vectors: dict[str, np.ndarray]) -> "FailureSignatures":
        """``messages``: each history sequence's masked messages; ``vectors``: a unit vector per message."""
        in_normal: set[str] = set()
        in_anomalous: set[str] = set()
        for lines, label in zip(messages, labels):
            if label == 0:
                in_normal.update(lines)
            elif label == 1:
                in_anomalous.update(lines)
        self.messages_ = sorted(in_anomalous - in_normal)
        dim = len(next(iter(vectors.values()))) if vectors else 0
        self.vectors_ = (np.stack([vectors[m] for m in self.messages_]) if self.messages_
                         else np.zeros((0, dim), np.float32))
        return self

    def signals(self, lines: list[str], vectors: dict[str, np.ndarray]) -> tuple[str, ...]:
        """The distinct lines of a sequence that resemble a failure-only message, in order."""
        if not len(self.messages_):
            return ()
        out: list[str] = []
        for line in dict.fromkeys(lines):
            if line in self.messages_ or float(np.max(self.vectors_ @ vectors[line])) >= self.threshold:
                out.append(line)
        return tuple(out)

    def to_json(self) -> dict:
        return {"threshold": self.threshold, "messages": self.messages_}

    @classmethod
    def from_json(cls, data: dict, vectors: np.ndarray) -> "FailureSignatures":
        """Rebuild from :meth:`to_json` and the ``vectors_`` array saved beside it."""
        out = cls(float(data["threshold"]))
        out.messages_ = list(data["messages"])
        out.vectors_ = vectors
        return out
