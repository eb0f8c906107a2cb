"""Grouping log lines into sequences: by session key, by count window or by time window."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from collaborlog.data.config import CountGrouping, SessionGrouping, TimeGrouping
from collaborlog.errors import ConfigError
from collaborlog.records import UNLABELLED, LogFrame, Sequence

MAX_WINDOWS_PER_LINE = 1000
"""How many overlapping time windows one line may belong to."""


@dataclass
class GroupStats:
    ungrouped_lines: int = 0
    """Lines that carry no session key (session grouping only)."""


def _start(frame: LogFrame, lines: np.ndarray) -> float:
    t = frame.timestamp[lines]
    finite = t[np.isfinite(t)]
    return float(finite.min()) if finite.size else float(lines[0])


def chronological_order(frame: LogFrame) -> np.ndarray:
    """Line indices sorted by time (stable, so file order breaks ties and stands in for missing times)."""
    if np.isfinite(frame.timestamp).any():
        return np.argsort(frame.timestamp, kind="stable")
    return np.arange(len(frame))


def group_sessions(frame: LogFrame, grouping: SessionGrouping, stats: GroupStats) -> list[Sequence]:
    """One sequence per session key, in order of first appearance.

    With ``regex``, a line joins the session of every distinct match in its content (an HDFS
    line that names two blocks belongs to both).
    """
    members: dict[str, list[int]] = {}
    if grouping.field is not None:
        if grouping.field not in frame.fields:
            raise ConfigError(
                f"session field {grouping.field!r} is not among the log's fields {sorted(frame.fields)}"
            )
        for i, key in enumerate(frame.fields[grouping.field]):
            if key and key != "nan":
                members.setdefault(key, []).append(i)
            else:
                stats.ungrouped_lines += 1
    else:
        try:
            pattern = re.compile(grouping.regex or "")
        except re.error as err:
            raise ConfigError(f"session regex {grouping.regex!r} is invalid: {err}") from None
        for i, text in enumerate(frame.content):
            keys = dict.fromkeys(pattern.findall(text))
            if not keys:
                stats.ungrouped_lines += 1
            for key in keys:
                members.setdefault(key if isinstance(key, str) else key[0], []).append(i)
    out = []
    for key, idx in members.items():
        lines = np.asarray(idx, dtype=np.int64)
        out.append(Sequence(id=key, lines=lines, label=UNLABELLED, start=_start(frame, lines)))
    return out


def count_windows(frame: LogFrame, lines: np.ndarray, grouping: CountGrouping, prefix: str) -> list[Sequence]:
    """Windows of ``size`` lines every ``step`` lines over ``lines`` (already in time order)."""
    out = []
    for k, begin in enumerate(range(0, lines.size, grouping.step)):
        chunk = lines[begin : begin + grouping.size]
        if chunk.size:
            out.append(Sequence(id=f"{prefix}c{k}", lines=chunk, label=UNLABELLED, start=_start(frame, chunk)))
    return out


def time_windows(frame: LogFrame, lines: np.ndarray, grouping: TimeGrouping, prefix: str) -> list[Sequence]:
    """Windows ``[t0 + k*step, t0 + k*step + seconds)`` over ``lines`` (in time order); empty ones are skipped."""
    if lines.size == 0:
        return []
    t = frame.timestamp[lines]
    if not np.isfinite(t).all():
        raise ConfigError("time windows need a timestamp on every line; configure source.timestamp")
    offset = t - t[0]
    last_k = np.floor(offset / grouping.step).astype(np.int64)
    span = int(np.ceil(grouping.seconds / grouping.step))
    if span > MAX_WINDOWS_PER_LINE:
        # Each line is looked up in `span` windows: a tiny step would exhaust memory instead of failing.
        raise ConfigError(
            f"time windows of {grouping.seconds:g} s every {grouping.step:g} s put each line in {span:,} windows; "
            f"make grouping.step at least grouping.seconds / {MAX_WINDOWS_PER_LINE:,}"
        )
    # Only windows that hold at least one line: each line lies in at most `span` of them.
    candidates = np.unique(np.concatenate([last_k - j for j in range(span)]))
    candidates = candidates[candidates >= 0]
    out = []
    for k in candidates:
        begin = float(t[0] + k * grouping.step)
        lo, hi = np.searchsorted(t, [begin, begin + grouping.seconds], side="left")
        if hi > lo:
            out.append(Sequence(id=f"{prefix}t{k}", lines=lines[lo:hi], label=UNLABELLED, start=begin))
    return out
