"""The labelled history the LLM is shown: each memory sequence's label and message pattern.

Rows line up with the small model's KNN memory. Patterns (distinct masked messages with counts)
are stored once however many sequences share them.
"""

from __future__ import annotations

import re

from collaborlog.memory.patterns import summarize
from collaborlog.verdicts import HistoryItem

_COUNTED = re.compile(r"(.*) \(x(\d+)\)", re.DOTALL)
"""How :func:`summarize` writes a repeated message."""


class History:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.labels: list[int] = []
        self.pattern_of: list[int] = []
        self.patterns: list[tuple[str, ...]] = []
        self._pattern_index: dict[tuple[str, ...], int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ids: list[str], labels: list[int], messages: list[list[str]]) -> None:
        for sid, label, lines in zip(ids, labels, messages):
            pattern = tuple(summarize(list(lines)))
            row = self._pattern_index.get(pattern)
            if row is None:
                row = self._pattern_index[pattern] = len(self.patterns)
                self.patterns.append(pattern)
            self.ids.append(sid)
            self.labels.append(int(label))
            self.pattern_of.append(row)

    def forget(self, ids: set[str]) -> None:
        """Drop the rows remembered under ``ids`` (their stored patterns stay: other rows may share them)."""
        keep = [k for k, sid in enumerate(self.ids) if sid not in ids]
        if len(keep) < len(self.ids):
            self.ids = [self.ids[k] for k in keep]
            self.labels = [self.labels[k] for k in keep]
            self.pattern_of = [self.pattern_of[k] for k in keep]

    def messages(self, pattern: int) -> list[str]:
        """The messages of stored pattern ``pattern``, each repeated as often as it was."""
        out: list[str] = []
        for entry in self.patterns[pattern]:
            match = _COUNTED.fullmatch(entry)
            out += [match.group(1)] * int(match.group(2)) if match else [entry]
        return out

    def item(self, row: int, similarity: float = 0.0) -> HistoryItem:
        return HistoryItem(self.ids[row], self.labels[row], self.patterns[self.pattern_of[row]], similarity)

    def state_dict(self) -> dict:
        return {"ids": self.ids, "labels": self.labels, "pattern_of": self.pattern_of,
                "patterns": [list(p) for p in self.patterns]}

    @classmethod
    def from_state(cls, data: dict) -> "History":
        if not (len(data["ids"]) == len(data["labels"]) == len(data["pattern_of"])
                and all(0 <= p < len(data["patterns"]) for p in data["pattern_of"])):
            raise ValueError("ids, labels and patterns do not line up")
        out = cls()
        out.ids, out.labels, out.pattern_of = list(data["ids"]), list(data["labels"]), list(data["pattern_of"])
        out.patterns = [tuple(p) for p in data["patterns"]]
        out._pattern_index = {p: i for i, p in enumerate(out.patterns)}
        return out
