"""Train/validation/test splits without leakage.

Sessions are ordered by their first timestamp and cut by the ratios. Windows are cut *inside*
each chronological part of the log, so no window straddles a boundary and no line is in two
splits (overlapping windows shuffled across train and test is a known leakage in this field).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from collaborlog.data.config import CountGrouping, SplitConfig, TimeGrouping
from collaborlog.data.grouping import chronological_order, count_windows, time_windows
from collaborlog.errors import ConfigError
from collaborlog.records import LogFrame, Sequence

SPLIT_NAMES = ("train", "valid", "test")


@dataclass(frozen=True)
class Splits:
    train: list[Sequence]
    valid: list[Sequence]
    test: list[Sequence]
    later: list[Sequence] = field(default_factory=list)
    """With ``split.kind: gap``: the test part of the log after the gap (else empty)."""

    def items(self) -> list[tuple[str, list[Sequence]]]:
        parts = [("train", self.train), ("valid", self.valid), ("test", self.test)]
        return parts + [("later", self.later)] if self.later else parts

    def all(self) -> list[Sequence]:
        return [s for _, part in self.items() for s in part]


def _cut_points(n: int, ratios: tuple[float, float, float]) -> tuple[int, int]:
    n_train = int(round(ratios[0] * n))
    n_valid = int(round(ratios[1] * n))
    n_train = min(max(n_train, 1 if n >= 2 else 0), n)
    n_valid = min(n_valid, n - n_train)
    return n_train, n_train + n_valid


def _random(sequences: list[Sequence], cfg: SplitConfig) -> Splits:
    order = np.random.default_rng(cfg.seed).permutation(len(sequences))
    a, b = _cut_points(len(sequences), cfg.ratios)
    ranked = [sequences[i] for i in order]
    return Splits(train=ranked[:a], valid=ranked[a:b], test=ranked[b:])


def _gap_cut(times: np.ndarray, cfg: SplitConfig) -> tuple[int, int]:
    """For ``times`` in time order: how many fall in the period, and where the part after the gap begins."""
    assert cfg.days is not None
    if not np.isfinite(times).all():
        raise ConfigError("split.kind: gap needs a timestamp on every line; configure source.timestamp")
    n_period = max(1, int(round(cfg.period * times.size)))
    begin = int(np.searchsorted(times, times[n_period - 1] + cfg.days * 86400.0, side="left"))
    if begin >= times.size:
        days = (times[-1] - times[n_period - 1]) / 86400.0
        raise ConfigError(f"nothing is left after a gap of {cfg.days:g} days: the log ends {days:.1f} days after its "
                          f"first {cfg.period:.0%}; lower split.days or split.period")
    return n_period, begin


def _with_later(period: Splits, after: Splits) -> Splits:
    return Splits(period.train, period.valid, period.test, later=after.test)


def split_sessions(sequences: list[Sequence], cfg: SplitConfig) -> Splits:
    """Split whole sessions, chronologically by first timestamp or randomly under a seed."""
    if cfg.kind == "gap":
        ranked = sorted(sequences, key=lambda s: s.start)
        n_period, begin = _gap_cut(np.asarray([s.start for s in ranked], dtype=np.float64), cfg)
        return _with_later(_random(ranked[:n_period], cfg), _random(ranked[begin:], cfg))
    if cfg.kind == "random":
        return _random(sequences, cfg)
    order = np.argsort(np.asarray([s.start for s in sequences], dtype=np.float64), kind="stable")
    a, b = _cut_points(len(sequences), cfg.ratios)
    ranked = [sequences[i] for i in order]
    return Splits(train=ranked[:a], valid=ranked[a:b], test=ranked[b:])


def split_windows(frame: LogFrame, grouping: CountGrouping | TimeGrouping, cfg: SplitConfig) -> Splits:
    """Cut the log into chronological parts by line count, then window each part on its own."""

    def window(frame: LogFrame, lines: np.ndarray, grouping: CountGrouping | TimeGrouping, prefix: str) -> list[Sequence]:
        if isinstance(grouping, CountGrouping):
            return count_windows(frame, lines, grouping, prefix=prefix)
        return time_windows(frame, lines, grouping, prefix=prefix)
    order = chronological_order(frame)
    if cfg.kind in ("random", "gap"):
        overlapping = grouping.step < (grouping.size if isinstance(grouping, CountGrouping) else grouping.seconds)
        if overlapping:
            raise ConfigError(
                f"a {cfg.kind} split of overlapping windows puts the same lines in train and test (a known leakage); "
                "use split.kind: chronological, or a window step at least as large as the window"
            )
    if cfg.kind == "gap":
        n_period, begin = _gap_cut(frame.timestamp[order], cfg)
        return _with_later(_random(window(frame, order[:n_period], grouping, prefix="w"), cfg),
                           _random(window(frame, order[begin:], grouping, prefix="g"), cfg))
    if cfg.kind == "random":
        return _random(window(frame, order, grouping, prefix="w"), cfg)
    a, b = _cut_points(order.size, cfg.ratios)
    parts = {name: order[lo:hi] for name, lo, hi in zip(SPLIT_NAMES, (0, a, b), (a, b, order.size))}
    return Splits(**{name: window(frame, lines, grouping, prefix=f"{name}-") for name, lines in parts.items()})
