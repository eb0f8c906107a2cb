"""Grouping log lines into sequences: by session key, by count window or by time window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd

from collaborlog.data.config import CountGrouping, SessionGrouping, TimeGrouping
from collaborlog.errors import ConfigError
from collaborlog.gc_pause import gc_paused
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
    with gc_paused():
        # The temporaries (a list per line) are gone before the collector runs again.
        return _group_sessions(frame, grouping, stats)


def _group_sessions(frame: LogFrame, grouping: SessionGrouping, stats: GroupStats) -> list[Sequence]:
    if grouping.field is not None:
        if grouping.field not in frame.fields:
            raise ConfigError(
                f"session field {grouping.field!r} is not among the log's fields {sorted(frame.fields)}"
            )
        values = frame.fields[grouping.field]
        lines = [i for i, key in enumerate(values) if key and key != "nan"]
        stats.ungrouped_lines += len(values) - len(lines)
        codes, names = pd.factorize(np.asarray([values[i] for i in lines], dtype=object), use_na_sentinel=False)
        return _sessions(frame, codes, names.tolist(), np.asarray(lines, dtype=np.int64))
    try:
        pattern = re.compile(grouping.regex or "")
    except re.error as err:
        raise ConfigError(f"session regex {grouping.regex!r} is invalid: {err}") from None
    found = list(map(pattern.findall, frame.content))
    counts = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
    stats.ungrouped_lines += int((counts == 0).sum())
    # With two groups or more in the regex a match is a tuple of them (held whole in an object array).
    matches = np.fromiter(chain.from_iterable(found), dtype=object, count=int(counts.sum()))
    owner = np.repeat(np.arange(len(found), dtype=np.int64), counts)
    codes, distinct = pd.factorize(matches, use_na_sentinel=False)
    if (counts > 1).any():
        # A line joins each distinct match once: a match its line already had is dropped. (A match's
        # first appearance is never dropped, so the codes stay in order of first appearance.)
        first = ~pd.DataFrame({"line": owner, "match": codes}).duplicated().to_numpy()
        codes, owner = codes[first], owner[first]
    names = distinct.tolist()
    if pattern.groups > 1:
        # The first group names the session: matches that differ only in the others join one.
        merged, keys = pd.factorize(np.asarray([m[0] for m in names], dtype=object), use_na_sentinel=False)
        codes, names = merged[codes], keys.tolist()
    return _sessions(frame, codes, names, owner)


def _sessions(frame: LogFrame, codes: np.ndarray, names: list[str], lines: np.ndarray) -> list[Sequence]:
    """One sequence per name, in their order; ``lines[i]`` joins the session ``names[codes[i]]``
    (each name has a line, and lines come in file order)."""
    if not names:
        return []
    order = np.argsort(codes, kind="stable")  # each session's lines stay in file order
    members = lines[order]
    bounds = np.cumsum(np.bincount(codes, minlength=len(names)))
    begins = np.concatenate([[0], bounds[:-1]])
    # Each session's earliest finite timestamp (its first line's position when it has none), as _start finds it.
    t = frame.timestamp[members]
    finite = np.isfinite(t)
    earliest = np.minimum.reduceat(np.where(finite, t, np.inf), begins)
    timed = np.logical_or.reduceat(finite, begins)
    starts = np.where(timed, earliest, members[begins].astype(np.float64))
    return [Sequence(id=name, lines=part, label=UNLABELLED, start=float(start))
            for name, part, start in zip(names, np.split(members, bounds[:-1]), starts)]


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
