"""The typed data that flows from reading to grouping: log lines column-wise, and sequences."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NORMAL = 0
ANOMALOUS = 1
UNLABELLED = -1


@dataclass
class StreamDamage:
    """Where a damaged compressed file stopped decoding, and exactly what that cost.

    Every complete line before the break is kept; the incomplete line the break cut through is
    dropped (``dropped_bytes`` of it were decoded); the ``unread_bytes`` from the break to the end
    of the file could not be decoded, so the lines they held are lost with them.
    """

    offset: int
    """Compressed byte offset of the break (or of the stray bytes after an intact stream)."""
    unread_bytes: int
    """Bytes of the file from ``offset`` on that could not be decoded."""
    dropped_bytes: int = 0
    """Decoded bytes of the incomplete line at the break, dropped."""
    cut_short: bool = True
    """True when the stream breaks (truncated or corrupt); False for stray bytes after an intact stream."""

    def describe(self, kept: str) -> str:
        """One sentence for a warning; ``kept`` says what was kept, e.g. ``"1,204 lines"``."""
        if not self.unread_bytes:
            dropped = (f"; the incomplete last line ({self.dropped_bytes:,} decoded byte(s)) was dropped"
                       if self.dropped_bytes else "")
            return (f"the file ends before its compressed stream does (truncated at byte {self.offset:,}): "
                    f"the {kept} before the cut were kept{dropped}")
        if not self.cut_short:
            return (f"the compressed stream ends intact at byte {self.offset:,}, followed by {self.unread_bytes:,} "
                    f"stray byte(s) that are not gzip data; they were ignored and {kept} were kept")
        dropped = (f"; the incomplete line the break cuts through ({self.dropped_bytes:,} decoded byte(s)) was dropped"
                   if self.dropped_bytes else "")
        return (f"the compressed stream is corrupt at byte {self.offset:,}: the {kept} before the break "
                f"were kept, the last {self.unread_bytes:,} byte(s) of the file could not be decoded and the lines "
                f"they held are lost{dropped}")


@dataclass
class ReadStats:
    """What happened while reading: nothing is dropped without being counted here."""

    lines: int = 0
    unmatched: int = 0
    """Lines that did not match the format string (or rows that do not fit a CSV header); they are kept
    (a text line whole, as content)."""
    undecodable: int = 0
    """Lines with bytes invalid in the declared encoding; the bytes were replaced with U+FFFD."""
    oversized: int = 0
    """Lines longer than ``max_line_chars``; cut to that length."""
    blank: int = 0
    """Empty or whitespace-only lines (rows with empty content in CSV, parquet and JSON Lines); skipped."""
    bad_timestamps: int = 0
    """Lines whose timestamp could not be parsed; they take the previous line's time."""
    nul_lines: int = 0
    """Lines that held NUL bytes (padding a crash or a copy-truncate rotation leaves); the NULs were removed."""
    truncated: bool = False
    """The compressed stream ended early or broke; every complete line before the break was kept."""
    damage: StreamDamage | None = None
    """Where the compressed stream broke (or stray bytes followed it), and what that cost."""

    def warnings(self) -> list[str]:
        out = []
        if self.unmatched:
            out.append(f"{self.unmatched} line(s) did not match the format (or the CSV header) and were kept as they were")
        if self.undecodable:
            out.append(f"{self.undecodable} line(s) had undecodable bytes, replaced with U+FFFD")
        if self.oversized:
            out.append(f"{self.oversized} line(s) were longer than the limit and were cut")
        if self.nul_lines:
            out.append(f"{self.nul_lines} line(s) held NUL bytes (padding a crash or a copy-truncate log "
                       "rotation leaves), removed")
        if self.bad_timestamps:
            every = " (every line: check source.timestamp)" if self.bad_timestamps == self.lines else ""
            out.append(f"{self.bad_timestamps} line(s) had an unparseable timestamp{every}")
        if self.damage is not None:
            out.append(self.damage.describe(f"{self.lines:,} complete line(s)"))
        return out


@dataclass
class Origins:
    """Where each line of a frame was read, as two compact columns (a reader may hold millions of
    lines: no Python object per line).

    ``file[i]`` indexes ``files``; ``number[i]`` is the line's 1-based number in its file as
    decompressed (blank lines count, so it is the number an editor shows); for CSV it is the
    record's row counting the header as row 1, for parquet the record's row from 1.
    """

    files: tuple[str, ...]
    file: np.ndarray
    number: np.ndarray

    @classmethod
    def of_file(cls, path: str, number: np.ndarray) -> Origins:
        return cls((path,), np.zeros(len(number), dtype=np.int32), np.asarray(number, dtype=np.int64))

    @classmethod
    def concat(cls, parts: list[Origins]) -> Origins:
        """The origins of frames read one after another (file indexes shift past the earlier files)."""
        files: list[str] = []
        index, number = [], []
        for part in parts:
            index.append(part.file + len(files))
            number.append(part.number)
            files.extend(part.files)
        return cls(tuple(files), np.concatenate(index).astype(np.int32) if index else np.zeros(0, np.int32),
                   np.concatenate(number).astype(np.int64) if number else np.zeros(0, np.int64))

    def renamed(self, names: dict[str, str]) -> Origins:
        """The same lines with some files named otherwise (a spooled stdin shown as ``-``)."""
        return Origins(tuple(names.get(f, f) for f in self.files), self.file, self.number)


@dataclass
class LogFrame:
    """Log lines, column by column, in file order.

    ``timestamp`` is seconds since the epoch (NaN when unknown); ``label`` is 1 anomalous,
    0 normal, -1 unknown per line. ``origins``: the file and line number each line was read
    from (``None`` for lines that came from no file, such as a request's).
    """

    content: list[str]
    timestamp: np.ndarray
    label: np.ndarray
    fields: dict[str, list[str]]
    matched: np.ndarray
    stats: ReadStats = field(default_factory=ReadStats)
    origins: Origins | None = None

    def __len__(self) -> int:
        return len(self.content)

    def where(self, line: int) -> tuple[str | None, int | None]:
        """The file and 1-based line number line ``line`` was read from (``(None, None)`` when unknown)."""
        if self.origins is None:
            return None, None
        return self.origins.files[int(self.origins.file[line])], int(self.origins.number[line])


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
