"""Messages a new release stopped writing, and those it still writes as often as before.

A whole-version upgrade rewords most statements, but it also drops some: a statement demoted to
DEBUG simply stops appearing. A history pattern that holds such a message can then never be met
again, and every new sequence looks like it is missing an event. So the history is read again
without the messages that have *vanished*: messages the history carries in a share ``p`` of its
sequences, that none of ``n`` stream sequences carries (read through confirmed rewordings), when
``p * n`` is at least ``evidence`` (the chance of that by luck is below ``exp(-evidence)``).

The same counts say which old messages the stream still writes as often as the history did:
those are not what a new message rewords (a rolling upgrade writes both wordings for a while,
so "still written at all" is no proof), unless the stream writes them less by as much as it
writes the new one.

Where the log prints levels, the history's level of each message says what a new line may
reword: a release may lower a statement's level (a WARN that becomes INFO), but a line the
history logged below WARN is not what a new WARN or ERROR line rewords. Read so, a failure line
would take a routine message's standing and hide.
"""

from __future__ import annotations

from collections import Counter

from collaborlog.data.levels import PROBLEM_LEVELS
from collaborlog.memory.prevalence import Upcoming, wilson


class Vanished:
    """History and stream counts of messages per sequence.

    >>> v = Vanished(evidence=3).fit([["a", "b"]] * 10)
    >>> sorted(v.plus([["a"]] * 4).dropped())
    ['b']
    >>> v.plus([["a"]] * 2).dropped()  # too few sequences to tell
    set()
    """

    def __init__(self, evidence: float | None = 5.0, z: float = 1.96) -> None:
        self.evidence = evidence
        self.z = z

    def fit(self, history: list[list[str]], levels: dict[str, str] | None = None) -> "Vanished":
        """Count ``history``'s messages per sequence; ``levels``: the level the log prints each at."""
        self.history_seen_ = len(history)
        self.history_levels_ = dict(levels or {})
        self.history_counts_: Counter[str] = Counter()
        for lines in history:
            self.history_counts_.update(set(lines))
        self.stream_seen_ = 0
        self.stream_counts_: Counter[str] = Counter()
        return self

    def add(self, sequences: list[list[str]]) -> "Vanished":
        """Count stream ``sequences`` (their messages as read); returns ``self``."""
        self.stream_seen_ += len(sequences)
        for lines in sequences:
            self.stream_counts_.update(set(lines))
        return self

    def plus(self, sequences: list[list[str]], upcoming: Upcoming | None = None) -> "Vanished":
        """A copy with ``sequences`` (and the ``upcoming`` input, read as the known messages it
        aligns to) counted too; ``self`` is left as it is."""
        out = Vanished(self.evidence, self.z)
        out.history_seen_, out.history_counts_ = self.history_seen_, self.history_counts_
        out.history_levels_ = self.history_levels_
        out.stream_seen_, out.stream_counts_ = self.stream_seen_, self.stream_counts_.copy()
        if upcoming is not None:
            out.stream_seen_ += upcoming.seen
            out.stream_counts_.update(upcoming.aligned)
        return out.add(sequences)

    def history_share(self, message: str) -> float:
        return self.history_counts_[message] / self.history_seen_ if self.history_seen_ else 0.0

    def dropped(self) -> set[str]:
        """History messages the stream has stopped writing, beyond reasonable doubt (none when
        ``evidence`` is ``None``)."""
        n = self.stream_seen_
        if self.evidence is None:
            return set()
        return {m for m, c in self.history_counts_.items()
                if self.stream_counts_[m] == 0 and c / self.history_seen_ * n >= self.evidence}

    def steady(self, message: str, keep: float = 0.8) -> bool:
        """Whether the stream may still write ``message`` about as often as the history did: the
        upper end of a Wilson interval of its stream share reaches ``keep`` of its history share.
        A message half the stream stopped writing (half the nodes upgraded) is not steady."""
        p_hist = self.history_share(message)
        if self.stream_seen_ == 0 or p_hist == 0 or self.stream_counts_[message] == 0:
            return False
        return wilson(self.stream_counts_[message], self.stream_seen_, self.z)[1] >= keep * p_hist

    def room_for(self, message: str, carriers: int, keep: float = 0.8) -> bool:
        """Whether ``message`` may be what a new message that ``carriers`` stream sequences carry
        rewords: it is not :meth:`steady`, or the stream writes it less than the history did,
        beyond doubt, by enough to make room for at least half the new message's share. A
        rolling upgrade that has reached a fifth of the nodes writes the old wording four times in
        five: steady by the ``keep`` test, yet its shortfall is where the new wording went, while
        a message the stream writes as often as ever has no room for anything."""
        if not self.steady(message, keep):
            return True
        n, p_hist = self.stream_seen_, self.history_share(message)
        low, high = wilson(self.stream_counts_[message], n, self.z)
        return high < p_hist and low <= p_hist - wilson(min(carriers, n), n, self.z)[0] / 2

    def level_allows(self, message: str, level: str | None) -> bool:
        """Whether a new line the log prints at ``level`` may reword ``message``: not when it is a
        WARN or worse and the history printed ``message`` below WARN (unknown levels allow it)."""
        old = self.history_levels_.get(message)
        return not (level in PROBLEM_LEVELS and old is not None and old not in PROBLEM_LEVELS)

    def state_dict(self) -> dict:
        return {"evidence": self.evidence, "z": self.z, "history_seen": self.history_seen_,
                "history_counts": dict(self.history_counts_), "stream_seen": self.stream_seen_,
                "stream_counts": dict(self.stream_counts_), "history_levels": dict(self.history_levels_)}

    @classmethod
    def from_state(cls, data: dict) -> "Vanished":
        out = cls(None if data["evidence"] is None else float(data["evidence"]), float(data["z"]))
        out.history_seen_ = int(data["history_seen"])
        out.history_counts_ = Counter({str(k): int(v) for k, v in dict(data["history_counts"]).items()})
        out.stream_seen_ = int(data["stream_seen"])
        out.stream_counts_ = Counter({str(k): int(v) for k, v in dict(data["stream_counts"]).items()})
        # Saved before levels were kept: no level rules anything out.
        out.history_levels_ = {str(k): str(v) for k, v in dict(data.get("history_levels", {})).items()}
        return out
