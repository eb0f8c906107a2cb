"""``detect --follow``: judge a growing log as it is written, one verdict per sequence as it completes.

Lines come from a :class:`~collaborlog.ops.tail.Tail` (rotation- and truncation-safe), are read
as the dataset's reader reads them (its format string, or JSON Lines; its timestamps) and
grouped by the dataset's grouping:

* a **session** completes when no line of it came for ``idle_s`` seconds (a key seen again
  later starts a new sequence, ``KEY#2``), or at the end of input;
* a **count window** completes when it is full (the last, partial ones at the end of input);
* a **time window** completes when a line of a later time than its end arrives (log time, not
  the clock), or at the end of input.

Completed sequences are judged together once per read (masking, templates and the rest happen
in the detector, as for ``detect``), and each verdict is handed on as it comes. The clock and
the sleep are injectable, so tests drive time without waiting.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from collaborlog.data.config import CountGrouping, Grouping, SessionGrouping, SourceConfig, TimeGrouping
from collaborlog.data.grouping import MAX_WINDOWS_PER_LINE, GroupStats, group_sessions
from collaborlog.data.readers import format_regex, parse_timestamps
from collaborlog.errors import ConfigError
from collaborlog.ops.tail import Tail
from collaborlog.records import UNLABELLED, LogFrame, Sequence
from collaborlog.verdicts import Detection

Judge = Callable[[LogFrame, list[Sequence]], list[Detection]]
"""Verdicts for sequences of a log (``CollaborLog.detect``)."""


@dataclass(frozen=True)
class Line:
    """One log line as the dataset's reader reads it."""

    content: str
    fields: dict[str, str]
    timestamp: float
    """Seconds since the epoch; NaN when the line (and every line before it) has none."""
    matched: bool = True


@dataclass
class FollowStats:
    lines: int = 0
    blank: int = 0
    unmatched: int = 0
    """Lines that missed the format; kept whole as content."""
    ungrouped: int = 0
    """Lines without a session key (session grouping): they belong to no sequence."""
    late: int = 0
    """Lines whose time falls in time windows already judged (the log went back in time)."""
    sequences: int = 0


class LineReader:
    """Raw lines to :class:`Line` records, as :func:`collaborlog.data.readers.read_log` reads a
    ``text`` (format string) or ``jsonl`` source; lines that miss the format are kept whole."""

    def __init__(self, source: SourceConfig, stats: FollowStats) -> None:
        if source.kind not in ("text", "jsonl"):
            raise ConfigError(f"--follow reads text (log_format) and jsonl sources, not {source.kind!r}: a "
                              f"{source.kind} file is not written line by line")
        self.source = source
        self.stats = stats
        self._regex = format_regex(source.log_format)[0] if source.kind == "text" and source.log_format else None
        self._last_time = math.nan

    def _record(self, text: str) -> Line | None:
        if not text.strip():
            self.stats.blank += 1
            return None
        text = text[:self.source.max_line_chars]
        if self._regex is not None:
            m = self._regex.match(text)
            if m is not None:
                groups = m.groupdict()
                content = groups.pop(self.source.content).strip()
                return Line(content, groups, math.nan)
        else:
            try:
                row = json.loads(text)
            except (ValueError, RecursionError):
                row = None
            if isinstance(row, dict) and self.source.content in row:
                content = str(row.pop(self.source.content))
                return Line(content, {str(k): "" if v is None else str(v) for k, v in row.items()}, math.nan)
        self.stats.unmatched += 1
        return Line(text.strip(), {}, math.nan, matched=False)

    def read(self, raw: list[bytes]) -> list[Line]:
        lines = [r for r in (self._record(b.rstrip(b"\r").decode(self.source.encoding, errors="replace"))
                             for b in raw) if r is not None]
        self.stats.lines += len(lines)
        if not lines or self.source.timestamp is None:
            return lines
        names = self.source.timestamp.fields
        table = pd.DataFrame({n: [line.fields.get(n, "") for line in lines] for n in names}, dtype=object)
        stamps = parse_timestamps(table, self.source.timestamp, str(self.source.path))
        out = []
        for line, t in zip(lines, stamps):
            # A line without a time takes the previous line's, as the reader fills it in.
            self._last_time = float(t) if np.isfinite(t) else self._last_time
            out.append(Line(line.content, line.fields, self._last_time, line.matched))
        return out


@dataclass
class _Open:
    lines: list[Line] = field(default_factory=list)
    last_seen: float = 0.0


class OpenSequences:
    """Lines in, completed sequences out, by the dataset's grouping (see the module's docstring)."""

    def __init__(self, grouping: Grouping, idle_s: float, clock: Callable[[], float], stats: FollowStats) -> None:
        if idle_s <= 0:
            raise ConfigError(f"--idle must be a positive number of seconds, not {idle_s:g}")
        if isinstance(grouping, TimeGrouping) and math.ceil(grouping.seconds / grouping.step) > MAX_WINDOWS_PER_LINE:
            raise ConfigError(f"time windows of {grouping.seconds:g} s every {grouping.step:g} s put each line in too "
                              f"many windows; make grouping.step at least grouping.seconds / {MAX_WINDOWS_PER_LINE:,}")
        self.grouping = grouping
        self.idle_s = idle_s
        self.clock = clock
        self.stats = stats
        self._open: dict[str, _Open] = {}
        self._times_seen: dict[str, int] = {}
        self._names: dict[str, str] = {}  # session key -> the name of its latest sequence
        self._count = 0  # lines seen (count windows)
        self._t0: float | None = None  # the first line's time (time windows)
        self._done_before = 0  # time windows below this index are judged

    def add(self, lines: list[Line]) -> list[tuple[str, list[Line]]]:
        """Take ``lines`` in; the sequences they complete."""
        if not lines:
            return []
        if isinstance(self.grouping, SessionGrouping):
            return self._add_sessions(lines)
        if isinstance(self.grouping, CountGrouping):
            return self._add_counted(lines, self.grouping)
        return self._add_timed(lines, self.grouping)

    def _add_sessions(self, lines: list[Line]) -> list[tuple[str, list[Line]]]:
        assert isinstance(self.grouping, SessionGrouping)
        frame = _frame(lines)
        if self.grouping.field is not None and self.grouping.field not in frame.fields:
            # Lines that missed the format carry no fields: without a key, not a misconfiguration.
            frame.fields[self.grouping.field] = [""] * len(lines)
        group_stats = GroupStats()
        now = self.clock()
        for seq in group_sessions(frame, self.grouping, group_stats):
            name = self._session_name(seq.id)
            entry = self._open.setdefault(name, _Open())
            entry.lines += [lines[int(i)] for i in seq.lines]
            entry.last_seen = now
        self.stats.ungrouped += group_stats.ungrouped_lines
        return []

    def _session_name(self, key: str) -> str:
        """The open sequence of session ``key``; a key seen again after its sequence was judged starts ``KEY#2``."""
        name = self._names.get(key)
        if name is not None and name in self._open:
            return name
        seen = self._times_seen[key] = self._times_seen.get(key, 0) + 1
        name = self._names[key] = key if seen == 1 else f"{key}#{seen}"
        return name

    def _add_counted(self, lines: list[Line], grouping: CountGrouping) -> list[tuple[str, list[Line]]]:
        done = []
        for line in lines:
            n = self._count
            self._count += 1
            first = max(0, -(-(n - grouping.size + 1) // grouping.step))
            for k in range(first, n // grouping.step + 1):
                entry = self._open.setdefault(f"c{k}", _Open())
                entry.lines.append(line)
                if n == k * grouping.step + grouping.size - 1:
                    done.append((f"c{k}", self._open.pop(f"c{k}").lines))
        return done

    def _add_timed(self, lines: list[Line], grouping: TimeGrouping) -> list[tuple[str, list[Line]]]:
        done = []
        for line in lines:
            t = line.timestamp
            if not np.isfinite(t):
                raise ConfigError("time windows need a timestamp on every line; configure source.timestamp")
            if self._t0 is None:
                self._t0 = t
            offset = t - self._t0
            # Windows [t0 + k*step, t0 + k*step + seconds) that end at or before t are complete.
            ended = [name for name in self._open if self._t0 + int(name[1:]) * grouping.step + grouping.seconds <= t]
            for name in sorted(ended, key=lambda n: int(n[1:])):
                done.append((name, self._open.pop(name).lines))
            last = math.floor(offset / grouping.step)
            first = max(0, math.floor((offset - grouping.seconds) / grouping.step) + 1)
            placed = False
            for k in range(max(first, self._done_before), last + 1):
                self._open.setdefault(f"t{k}", _Open()).lines.append(line)
                placed = True
            if not placed:
                self.stats.late += 1
            if ended:
                self._done_before = max(self._done_before, max(int(n[1:]) for n in ended) + 1)
        return done

    def expire(self) -> list[tuple[str, list[Line]]]:
        """Sessions no line came for in ``idle_s`` seconds (windows complete by their lines, not the clock)."""
        if not isinstance(self.grouping, SessionGrouping):
            return []
        now = self.clock()
        idle = [name for name, entry in self._open.items() if now - entry.last_seen >= self.idle_s]
        return [(name, self._open.pop(name).lines) for name in idle]

    def flush(self) -> list[tuple[str, list[Line]]]:
        """Every open sequence: the input ended."""
        names = list(self._open)
        if not isinstance(self.grouping, SessionGrouping):
            names.sort(key=lambda n: int(n[1:]))
        return [(name, self._open.pop(name).lines) for name in names]


def _frame(lines: list[Line]) -> LogFrame:
    names = list(dict.fromkeys(k for line in lines for k in line.fields))
    return LogFrame(content=[line.content for line in lines],
                    timestamp=np.array([line.timestamp for line in lines], dtype=np.float64),
                    label=np.full(len(lines), UNLABELLED, dtype=np.int8),
                    fields={n: [line.fields.get(n, "") for line in lines] for n in names},
                    matched=np.array([line.matched for line in lines], dtype=bool))


def batch(completed: list[tuple[str, list[Line]]]) -> tuple[LogFrame, list[Sequence]]:
    """Completed sequences as one log and its sequences, for the detector."""
    lines = [line for _, seq in completed for line in seq]
    frame = _frame(lines)
    sequences, begin = [], 0
    for name, seq in completed:
        idx = np.arange(begin, begin + len(seq), dtype=np.int64)
        t = frame.timestamp[idx]
        start = float(t[np.isfinite(t)].min()) if np.isfinite(t).any() else float(begin)
        sequences.append(Sequence(id=name, lines=idx, label=UNLABELLED, start=start))
        begin += len(seq)
    return frame, sequences


class Follower:
    """Reads what ``tail`` has, completes sequences, judges them and hands each verdict to ``emit``.

    >>> follower = Follower(Tail(path), LineReader(cfg.source, stats), OpenSequences(...), detector.detect, print)  # doctest: +SKIP
    >>> follower.run()  # until Ctrl-C, which judges the open sequences  # doctest: +SKIP
    """

    def __init__(self, tail: Tail, reader: LineReader, sequences: OpenSequences, judge: Judge,
                 emit: Callable[[Detection], object], sleep: Callable[[float], object] = time.sleep,
                 interval_s: float = 0.5) -> None:
        self.tail = tail
        self.reader = reader
        self.sequences = sequences
        self.judge = judge
        self.emit = emit
        self.sleep = sleep
        self.interval_s = interval_s
        self._pending: dict[str, list[Line]] = {}

    @property
    def stats(self) -> FollowStats:
        return self.reader.stats

    def _judge(self, completed: list[tuple[str, list[Line]]]) -> None:
        # Held until emitted: a Ctrl-C while judging leaves them for finish(), none lost, none twice.
        self._pending.update(completed)
        if not self._pending:
            return
        frame, sequences = batch(list(self._pending.items()))
        for detection in self.judge(frame, sequences):
            self.emit(detection)
            if self._pending.pop(detection.sequence_id, None) is not None:
                self.stats.sequences += 1

    def step(self) -> int:
        """One read: new lines in, the sequences they complete (or that went idle) judged, each
        verdict emitted. Returns how many lines were read."""
        lines = self.reader.read(self.tail.read())
        self._judge(self.sequences.add(lines) + self.sequences.expire())
        return len(lines)

    def finish(self) -> None:
        """The end of input: the rest of the file is read and every open sequence judged."""
        lines = self.reader.read(self.tail.close())
        self._judge(self.sequences.add(lines) + self.sequences.flush())

    def run(self, stop: Callable[[], bool] = lambda: False) -> FollowStats:
        """:meth:`step` until ``stop()`` or Ctrl-C (sleeping ``interval_s`` when nothing came), then :meth:`finish`."""
        try:
            while not stop():
                if not self.step():
                    self.sleep(self.interval_s)
        except KeyboardInterrupt:
            pass
        self.finish()
        return self.stats
