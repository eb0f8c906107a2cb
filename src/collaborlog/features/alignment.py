"""Aligning new log messages to the messages the detector already knows.

An upgrade rewords log statements ("Received block X from Y" becomes "Received block X via Y").
A reworded message is the same event, and the models should read it as such. Each message the
detector has not seen is aligned to its closest known message (cosine over the line
embeddings); when the two are at least ``threshold`` alike, the new message is *read as* the
known one: it takes that message's vector and its name in message patterns. Messages with no
close counterpart (a genuinely new event) keep their own vector, and so stay unfamiliar to the
coordinator, which routes them to the LLM.

The LLM always sees the real, new wording; only the models' inputs are translated. The AEM
adds the new events the LLM has judged to the known messages, and the rewordings the LLM has
confirmed below the threshold as *aliases* of the message they reword.

A new message close enough to a message of the history is read as that one, even where a message
first learned from the stream is closer: the statements of one new release share its id formats
and wording, which makes them alike whatever they report, while the history's messages are the
ones its labels speak of. (Read by the closest alone, a release's new failure line could take
the reading of a routine line of the same release that the stream taught first.) Only a learned
message the new one is a variant of (the same statement with other variables or optional parts,
:func:`collaborlog.memory.rewording.variant_of`) is preferred.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collaborlog.memory.rewording import variant_of


@dataclass(frozen=True)
class Aligned:
    """Per input message: the known message it is read as (itself when none is close enough)."""

    names: list[str]
    vectors: np.ndarray
    similarity: np.ndarray
    """Cosine to the closest known message (1.0 for a known message)."""


class MessageAligner:
    """``threshold``: the least cosine at which a new message is read as a known one."""

    def __init__(self, threshold: float = 0.85) -> None:
        self.threshold = threshold
        self.messages_: list[str] = []
        self.vectors_ = np.zeros((0, 0), np.float32)
        self.aliases_: dict[str, str] = {}
        """A confirmed rewording -> the known message it is read as."""
        self.history_ = 0
        """How many of ``messages_`` (the first ones) the history holds; the rest the stream taught."""
        self._row: dict[str, int] = {}

    def fit(self, messages: list[str], vectors: np.ndarray) -> "MessageAligner":
        """Know ``messages`` (one unit vector per row of ``vectors``)."""
        self.messages_, self.vectors_, self._row = [], np.zeros((0, vectors.shape[1]), np.float32), {}
        self.aliases_ = {}
        self.history_ = self.add(messages, vectors)
        return self

    def add(self, messages: list[str], vectors: np.ndarray) -> int:
        """Know these messages too; returns how many were new."""
        fresh = []
        for i, m in enumerate(messages):
            if m not in self._row and m not in self.aliases_:
                self._row[m] = len(self.messages_)
                self.messages_.append(m)
                fresh.append(i)
        if fresh:
            self.vectors_ = np.concatenate([self.vectors_, np.asarray(vectors[fresh], np.float32)])
        return len(fresh)

    def alias(self, message: str, known: str) -> None:
        """Read ``message`` as the known message ``known`` from now on, however far apart they embed."""
        if known not in self._row:
            raise KeyError(f"not a known message: {known!r}")
        if message not in self._row:
            self.aliases_[message] = known

    def knows(self, message: str) -> bool:
        return message in self._row or message in self.aliases_

    def closest(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` known messages closest to ``vector`` (a unit vector), most similar first."""
        if not self.messages_:
            return []
        sims = self.vectors_ @ np.asarray(vector, np.float32)
        top = np.argsort(-sims, kind="stable")[:k]
        return [(self.messages_[i], float(sims[i])) for i in top]

    def align(self, messages: list[str], vectors: np.ndarray) -> Aligned:
        """Read each of ``messages`` (with its unit vector) as its closest known message when close enough."""
        names = list(messages)
        out = np.array(vectors, dtype=np.float32, copy=True)
        similarity = np.ones(len(messages), dtype=np.float32)
        for i, m in enumerate(messages):
            if m in self.aliases_:
                names[i] = self.aliases_[m]
                out[i] = self.vectors_[self._row[names[i]]]
        unknown = [i for i, m in enumerate(messages) if not self.knows(m)]
        if unknown and len(self.messages_):
            sims = out[unknown] @ self.vectors_.T
            rows = np.arange(len(unknown))
            best = sims.argmax(axis=1)
            if 0 < self.history_ < len(self.messages_):
                old = sims[:, :self.history_].argmax(axis=1)
                for r in np.nonzero((best != old) & (sims[rows, old] >= self.threshold))[0]:
                    if variant_of(messages[unknown[r]], [self.messages_[best[r]]]) is None:
                        best[r] = old[r]
            for i, b, s in zip(unknown, best, sims[rows, best]):
                similarity[i] = s
                if s >= self.threshold:
                    names[i] = self.messages_[b]
                    out[i] = self.vectors_[b]
        elif unknown:
            similarity[unknown] = 0.0
        return Aligned(names, out, similarity)

    def state_dict(self) -> dict:
        return {"threshold": self.threshold, "messages": self.messages_, "aliases": self.aliases_,
                "history": self.history_, "vectors": self.vectors_}

    @classmethod
    def from_state(cls, data: dict) -> "MessageAligner":
        """Rebuild from :meth:`state_dict`."""
        vectors = data["vectors"]
        if len(data["messages"]) != len(vectors):
            raise ValueError(f"{len(data['messages'])} messages but {len(vectors)} vectors")
        out = cls(float(data["threshold"]))
        out.messages_ = list(data["messages"])
        out.vectors_ = np.asarray(vectors, np.float32)
        out._row = {m: i for i, m in enumerate(out.messages_)}
        out.aliases_ = dict(data["aliases"])
        # Saved before the history's messages were told apart: all of them count as the history's.
        out.history_ = int(data.get("history", len(out.messages_)))
        if not 0 <= out.history_ <= len(out.messages_):
            raise ValueError(f"{out.history_} history messages of {len(out.messages_)}")
        return out
