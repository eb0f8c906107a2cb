"""How common each message is in the stream, and which messages are too common to mark failures.

Failures are rare: the labelled history says how rare. A message that a much larger share of the
stream's sequences carries cannot be what marks them, whatever log level an LLM gives it or
whichever failure message it resembles. After an upgrade, one reworded routine message that most
sequences carry, misread once as a failure, would otherwise flag most of the stream.

The share is tested with the lower end of a Wilson score interval, so that a few sequences prove
nothing: a burst of two failures in a small batch is not "common".
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a share of ``k`` in ``n`` (``(0, 1)`` when ``n`` is 0).

    >>> [round(x, 3) for x in wilson(1, 1)]
    [0.207, 1.0]
    """
    if n == 0:
        return 0.0, 1.0
    p, z2 = k / n, z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z2 / n)), min(1.0, (centre + spread) / (1 + z2 / n))


class Prevalence:
    """Sequences seen and, per message, how many of them carry it.

    ``bound``: the share above which a message is common (e.g. three times the history's anomaly
    rate); ``z``: the Wilson interval's normal quantile (1.96: 95% two-sided).
    """

    def __init__(self, bound: float, z: float = 1.96) -> None:
        if not 0 < bound <= 1:
            raise ValueError(f"bound must be in (0, 1], got {bound}")
        self.bound = bound
        self.z = z
        self.seen_ = 0
        self.counts_: Counter[str] = Counter()

    @classmethod
    def of(cls, bound: float, seen: int, counts: Counter[str]) -> "Prevalence":
        """The prevalence of messages counted elsewhere (``counts`` is shared, not copied)."""
        out = cls(bound)
        out.seen_, out.counts_ = seen, counts
        return out

    def add(self, sequences: list[list[str]]) -> "Prevalence":
        """Count ``sequences`` (each a list of messages) as seen; returns ``self``."""
        self.seen_ += len(sequences)
        for lines in sequences:
            self.counts_.update(set(lines))
        return self

    def plus(self, sequences: list[list[str]], upcoming: Upcoming | None = None) -> "Prevalence":
        """A copy with ``sequences`` (and the ``upcoming`` input) counted too; ``self`` is left as it is."""
        out = Prevalence(self.bound, self.z)
        out.seen_ = self.seen_
        out.counts_ = self.counts_.copy()
        if upcoming is not None:
            out.seen_ += upcoming.seen
            out.counts_.update(upcoming.messages)
        return out.add(sequences)

    def share(self, message: str) -> float:
        return self.counts_[message] / self.seen_ if self.seen_ else 0.0

    def lower_share(self, message: str) -> float:
        """The lower end of the Wilson score interval of :meth:`share`."""
        return wilson(self.counts_[message], self.seen_, self.z)[0]

    MIN_CARRIERS = 5
    """A message fewer sequences carry is never common: one request of a single sequence (a
    share of 1 out of 1) proves nothing about the stream."""

    def common(self, message: str) -> bool:
        """Whether more than ``bound`` of the sequences seen carry ``message``, beyond doubt."""
        return self.exceeds(message, self.bound)

    def exceeds(self, message: str, share: float) -> bool:
        """Whether more than ``share`` of the sequences seen carry ``message``, beyond doubt."""
        return self.counts_[message] >= self.MIN_CARRIERS and self.lower_share(message) > share

    def state_dict(self) -> dict:
        return {"bound": self.bound, "z": self.z, "seen": self.seen_, "counts": dict(self.counts_)}

    @classmethod
    def from_state(cls, data: dict) -> "Prevalence":
        out = cls(float(data["bound"]), float(data["z"]))
        out.seen_ = int(data["seen"])
        out.counts_ = Counter({str(k): int(v) for k, v in data["counts"].items()})
        return out


class Upcoming:
    """The input at hand that the detector has not observed, but for the batch being judged: how
    many sequences, per message how many of them carry it, as printed (``messages``) and read as
    the known messages they align to (``aligned``), and (where read) each one's coordinator loss.

    Whether a message is common, and whether the stream has drifted, are then judged on all the
    input a batch run holds, not only on what came before: a window's verdict does not depend on
    where in the file it sits, and the first windows of a period that writes new routine events
    are not flagged for them. A detector that learns observes each batch once judged (the AEM
    counts it), so a judged batch leaves; one that does not learn never counts it, so it stays
    (``observed=False``): either way the counts are the whole input's, the batch apart.

    >>> ahead = Upcoming([["a"], ["a", "b"], ["a"]], [["A"], ["A", "b"], ["A"]])
    >>> ahead.pop(1).seen, ahead.messages["a"], ahead.aligned["A"]
    (2, 2, 2)
    >>> kept = Upcoming([["a"], ["b"], ["c"]], [["a"], ["b"], ["c"]], observed=False)
    >>> kept.pop(1).pop(1).seen, kept.messages["a"], kept.messages["b"]
    (2, 1, 0)
    """

    def __init__(self, messages: list[list[str]], aligned: list[list[str]], losses: np.ndarray | None = None,
                 observed: bool = True) -> None:
        self.read = list(zip(messages, aligned))
        """Each sequence's ``(messages, aligned)``, in input order."""
        self._batch = (0, 0)
        self.seen = len(self.read)
        self.messages: Counter[str] = Counter()
        self.aligned: Counter[str] = Counter()
        for lines, names in self.read:
            self.messages.update(set(lines))
            self.aligned.update(set(names))
        self.losses = None if losses is None else np.asarray(losses, dtype=np.float64)
        """Each sequence's coordinator loss, read before any batch is judged (``None``: not read)."""
        self.observed = observed
        """Whether the detector observes each batch once judged: if not, the batches judged before
        still count."""

    def pop(self, n: int) -> "Upcoming":
        """Take the next ``n`` sequences out (the batch about to be judged), and the previous batch
        too where it was observed, else put it back; returns ``self``. Call it before each batch."""
        begin, end = self._batch
        if not self.observed:
            self._count(begin, end, +1)
        start = min(end + n, len(self.read))
        self._count(end, start, -1)
        self._batch = (end, start)
        self.seen = len(self.read) - (start if self.observed else start - end)
        return self

    def _count(self, begin: int, end: int, sign: int) -> None:
        for lines, names in self.read[begin:end]:
            for counter, items in ((self.messages, set(lines)), (self.aligned, set(names))):
                counter.update({m: sign for m in items})

    def other_losses(self) -> np.ndarray:
        """The losses :class:`Upcoming` counts: the input's sequences the detector has not
        observed, but for the batch being judged (empty where losses were not read)."""
        if self.losses is None:
            return np.zeros(0)
        begin, end = self._batch
        return self.losses[end:] if self.observed else np.concatenate([self.losses[:begin], self.losses[end:]])
