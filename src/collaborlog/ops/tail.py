"""Reading a growing log file line by line, as ``tail -F`` does, through rotation and truncation.

:meth:`Tail.read` returns the complete lines written since the last call. A line is complete at
its newline; the unfinished last line waits for the next call (or :meth:`Tail.close`, at the
end of input). Nothing is lost or read twice when the file is

* **rotated** (renamed away, a new file created under the name): the old file is read to its
  end, and read again on the next calls for as long as its writer still appends to it (a
  program writes to the file it opened until it reopens it), then the new one from its start;
* **truncated** in place (``copytruncate``): the file is read again from its start. Truncation
  is seen when the file is shorter than what was read, or when its first bytes changed (it was
  truncated and written past the old position between two calls).

Lines a writer puts into the file between its rotation and its truncation by a third party
cannot be told apart from old ones; nothing here guesses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from collaborlog.errors import DataError

_CHUNK = 1 << 16
_HEAD_BYTES = 256
"""How many of a file's first bytes identify it (to see a truncated and rewritten file)."""
_GZIP_MAGIC = b"\x1f\x8b"
LINGER_READS = 3
"""A rotated file is read again until this many calls in a row found nothing new in it."""


@dataclass
class TailStats:
    rotations: int = 0
    truncations: int = 0
    cut_lines: int = 0
    """Lines longer than the limit, cut as they were read."""


class _Opened:
    """One open file: its identity, position, unfinished last line and first bytes."""

    def __init__(self, fh: BinaryIO, max_line_bytes: int) -> None:
        self.fh = fh
        st = os.fstat(fh.fileno())
        self.ident = (st.st_dev, st.st_ino)
        self.pending = b""
        self.head = b""
        self.idle_reads = 0
        self.max_line_bytes = max_line_bytes

    def drain(self, stats: TailStats) -> list[bytes]:
        """The complete lines from the position to the end of the file."""
        lines: list[bytes] = []
        while True:
            chunk = self.fh.read(_CHUNK)
            if not chunk:
                break
            if len(self.head) < _HEAD_BYTES:
                self.head += chunk[:_HEAD_BYTES - len(self.head)]
            parts = (self.pending + chunk).split(b"\n")
            self.pending = parts.pop()
            if len(self.pending) > self.max_line_bytes:
                # A line with no end must not grow without bound: the rest of it is kept as further lines.
                parts.append(self.pending[:self.max_line_bytes])
                self.pending = self.pending[self.max_line_bytes:]
                stats.cut_lines += 1
            lines += parts
        self.idle_reads = 0 if lines else self.idle_reads + 1
        return lines

    def rewritten(self) -> bool:
        """Whether the file was truncated since it was read: shorter than the position, or other first bytes."""
        position = self.fh.tell()
        if os.fstat(self.fh.fileno()).st_size < position:
            return True
        if not self.head:
            return False
        return os.pread(self.fh.fileno(), len(self.head), 0) != self.head

    def rest(self) -> list[bytes]:
        """The unfinished last line, as a line: the file is done."""
        rest, self.pending = self.pending, b""
        return [rest] if rest else []


class Tail:
    """The lines appended to ``path`` since the last :meth:`read`, from the file's start on.

    The file is opened at once; a missing one is waited for (``read`` returns nothing until it
    exists). ``max_line_bytes``
    bounds the memory one line without an end can take.
    """

    def __init__(self, path: Path, max_line_bytes: int = 1 << 20) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.stats = TailStats()
        self._rotated: list[_Opened] = []
        # Opened now, not at the first read: a rotation before that read must not hide the lines it moved away.
        self._current: _Opened | None = self._open()

    def _open(self) -> _Opened | None:
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return None
        except OSError as err:
            raise DataError(f"cannot read {self.path}: {err.strerror or err}; check that it is a readable file") from None
        if os.fstat(fh.fileno()).st_size and os.pread(fh.fileno(), 2, 0) == _GZIP_MAGIC:
            fh.close()
            raise DataError(f"{self.path} is gzip-compressed: a compressed file cannot be followed as it grows; "
                            "follow the plain log the program writes")
        return _Opened(fh, self.max_line_bytes)

    def read(self) -> list[bytes]:
        """The complete lines written since the last call, in the order the files hold them."""
        lines: list[bytes] = []
        for old in list(self._rotated):
            lines += old.drain(self.stats)
            if old.idle_reads >= LINGER_READS:
                lines += old.rest()
                old.fh.close()
                self._rotated.remove(old)
        if self._current is None:
            self._current = self._open()
            if self._current is None:
                return lines
        current = self._current
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            # Renamed away, its successor not created yet: keep reading the old one.
            return lines + current.drain(self.stats)
        if (st.st_dev, st.st_ino) != current.ident:
            replacement = self._open()
            if replacement is not None:
                self.stats.rotations += 1
                lines += current.drain(self.stats)
                self._rotated.append(current)
                self._current = current = replacement
        elif current.rewritten():
            # Checked before reading on: from the old position, a rewritten file yields pieces of other lines.
            self.stats.truncations += 1
            current.fh.seek(0)
            current.pending, current.head = b"", b""
        return lines + current.drain(self.stats)

    def close(self) -> list[bytes]:
        """The end of input: what is left, unfinished last lines included; the files are closed."""
        lines = self.read()  # sees a rotation or truncation since the last read
        for opened in [*self._rotated, *([self._current] if self._current is not None else [])]:
            lines += opened.drain(self.stats) + opened.rest()
            opened.fh.close()
        self._rotated, self._current = [], None
        return lines
