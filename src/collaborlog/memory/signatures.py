"""Failure signatures: messages the labelled history has seen only in anomalous sequences.

Each line of a routed sequence is aligned to its closest historical message (cosine over the
line embeddings). When that closest message is one the history saw *only* in failures, and it
is close enough, the line is a *failure signal*. Aligning to the closest message, rather than
testing a similarity to failure messages alone, keeps a reworded routine line (closest to its
own routine original) from passing for a failure. The signals keep Evol Detect from inheriting
the wrong label and are shown to the AD agent as evidence.
"""

from __future__ import annotations

import numpy as np


class FailureSignatures:
    """``threshold``: the least cosine at which a line counts as aligned to a historical message;
    ``strong``: a line this close to a failure-only message is a signal whatever else it resembles."""

    def __init__(self, threshold: float = 0.6, strong: float | None = None) -> None:
        self.threshold = threshold
        self.strong = strong

    def fit(self, messages: list[list[str]], labels: np.ndarray, vectors: dict[str, np.ndarray]) -> "FailureSignatures":
        """``messages``: each history sequence's masked messages; ``vectors``: a unit vector per message."""
        in_normal: set[str] = set()
        in_anomalous: set[str] = set()
        for lines, label in zip(messages, labels):
            if label == 0:
                in_normal.update(lines)
            elif label == 1:
                in_anomalous.update(lines)
        self.messages_ = sorted(in_normal | in_anomalous)
        self._set_failure_only(np.array([m not in in_normal for m in self.messages_], dtype=bool))
        dim = len(next(iter(vectors.values()))) if vectors else 0
        self.vectors_ = (np.stack([vectors[m] for m in self.messages_]).astype(np.float32) if self.messages_
                         else np.zeros((0, dim), np.float32))
        return self

    def _set_failure_only(self, flags: np.ndarray) -> None:
        """``failure_only_`` per message in ``messages_`` order, and the set :meth:`failure_only` reads."""
        self.failure_only_ = flags
        self._failure_only = {m for m, f in zip(self.messages_, flags) if f}

    def failure_only(self, message: str) -> bool:
        """Whether the history saw ``message`` only in anomalous sequences."""
        return message in self._failure_only

    def signals(self, lines: list[str], vectors: dict[str, np.ndarray]) -> tuple[str, ...]:
        """The distinct lines of a sequence that align to a failure-only historical message, in order."""
        if not self.failure_only_.any():
            return ()
        out: list[str] = []
        for line in dict.fromkeys(lines):
            sims = self.vectors_ @ vectors[line]
            best = int(np.argmax(sims))
            if self.failure_only_[best] and sims[best] >= self.threshold:
                out.append(line)
            elif self.strong is not None and float(sims[self.failure_only_].max()) >= self.strong:
                out.append(line)
        return tuple(out)

    def state_dict(self) -> dict:
        return {"threshold": self.threshold, "strong": self.strong, "messages": self.messages_,
                "failure_only": self.failure_only_.tolist(), "vectors": self.vectors_}

    @classmethod
    def from_state(cls, data: dict) -> "FailureSignatures":
        """Rebuild from :meth:`state_dict`."""
        vectors = data["vectors"]
        if not len(data["failure_only"]) == len(data["messages"]) == len(vectors):
            raise ValueError("messages, failure_only and vectors do not line up")
        out = cls(float(data["threshold"]), data.get("strong"))
        out.messages_ = list(data["messages"])
        out._set_failure_only(np.asarray(data["failure_only"], dtype=bool))
        out.vectors_ = vectors
        return out
