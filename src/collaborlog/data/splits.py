"""Train/validation/test splits without leakage.

Sessions are ordered by their first timestamp and cut by the ratios. Windows are cut *inside*
each chronological part of the log, so no window straddles a boundary and no line is in two
splits (overlapping windows shuffled across train and test is a known leakage in this field).
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def items(self) -> list[tuple[str, list[Sequence]]]:
        return [("train", self.train), ("valid", self.valid), ("test", self.test)]

    def all(self) -> list[Sequence]:
        return self.train + self.valid + self.test


def _cut_points(n: int, ratios: tuple[float, float, float]) -> tuple[int, int]:
    n_train = int(round(ratios[0] * n))
    n_valid = int(round(ratios[1] * n))
    n_train = min(max(n_train, 1 if n >= 2 else 0), n)
    n_valid = min(n_valid, n - n_train)
    return n_train, n_train + n_valid


def split_sessions(sequences: list[Sequence], cfg: SplitConfig) -> Splits:
    """Split whole sessions, chronologically by first timestamp or randomly under a seed."""
    if cfg.kind == "random":
        order = np.random.default_rng(cfg.seed).permutation(len(sequences))
    else:
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
    if cfg.kind == "random":
        overlapping = grouping.step < (grouping.size if isinstance(grouping, CountGrouping) else grouping.seconds)
        if overlapping:
            raise ConfigError(
                "a random split of overlapping windows puts the same lines in train and test (a known leakage); "
                "use split.kind: chronological, or a window step at least as large as the window"
            )
        windows = window(frame, order, grouping, prefix="w")
        return split_sessions(windows, cfg)
    a, b = _cut_points(order.size, cfg.ratios)
    parts = {name: order[lo:hi] for name, lo, hi in zip(SPLIT_NAMES, (0, a, b), (a, b, order.size))}
    return Splits(**{name: window(frame, lines, grouping, prefix=f"{name}-") for name, lines in parts.items()})
