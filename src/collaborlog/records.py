"""The typed data that flows from reading to grouping: log lines column-wise, and sequences."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NORMAL = 0
ANOMALOUS = 1
UNLABELLED = -1


@dataclass
class ReadStats:
    """What happened while reading: nothing is dropped without being counted here."""

    lines: int = 0
    unmatched: int = 0
    """Lines that did not match the format string; they are kept with the whole line as content."""
    undecodable: int = 0
    """Lines with bytes invalid in the declared encoding; the bytes were replaced with U+FFFD."""
    oversized: int = 0
    """Lines longer than ``max_line_chars``; cut to that length."""
    blank: int = 0
    """Empty or whitespace-only lines; skipped."""
    bad_timestamps: int = 0
    """Lines whose timestamp could not be parsed; they take the previous line's time."""
    truncated: bool = False
    """The compressed stream ended early; every line before the break was kept."""

    def warnings(self) -> list[str]:
        out = []
        if self.unmatched:
            out.append(f"{self.unmatched} line(s) did not match the format and were kept as raw content")
        if self.undecodable:
            out.append(f"{self.undecodable} line(s) had undecodable bytes, replaced with U+FFFD")
        if self.oversized:
            out.append(f"{self.oversized} line(s) were longer than the limit and were cut")
        if self.bad_timestamps:
            out.append(f"{self.bad_timestamps} line(s) had an unparseable timestamp")
        if self.truncated:
            out.append("the file ends early (truncated compressed stream); the lines before the break were kept")
        return out


@dataclass
class LogFrame:
    """Log lines, column by column, in file order.

    ``timestamp`` is seconds since the epoch (NaN when unknown); ``label`` is 1 anomalous,
    0 normal, -1 unknown per line.
    """

    content: list[str]
    timestamp: np.ndarray
    label: np.ndarray
    fields: dict[str, list[str]]
    matched: np.ndarray
    stats: ReadStats = field(default_factory=ReadStats)

    def __len__(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class Sequence:
    """A group of log lines: a session or a window.

    ``lines`` indexes the :class:`LogFrame` the sequence was cut from; ``label`` is 1, 0 or -1
    (unknown); ``start`` is the first line's timestamp (or its position when there is none).
    """

    id: str
    lines: np.ndarray
    label: int
    start: float

    def __len__(self) -> int:
        return int(self.lines.size)
