"""Detection metrics for the anomalous class, with bootstrap intervals for small test sets."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def _counts(y: np.ndarray, p: np.ndarray) -> tuple[int, int, int, int]:
    y, p = np.asarray(y), np.asarray(p)
    tp = int(((y == 1) & (p == 1)).sum())
    fp = int(((y == 0) & (p == 1)).sum())
    fn = int(((y == 1) & (p == 0)).sum())
    tn = int(((y == 0) & (p == 0)).sum())
    return tp, fp, fn, tn


def f1_score(y: np.ndarray, p: np.ndarray) -> float:
    tp, fp, fn, _ = _counts(y, p)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of the anomalous class, with the confusion matrix.

    ``f1_low``/``f1_high`` bound a bootstrap 95% interval; ``anomalies`` is how many anomalous
    sequences the F1 rests on.
    """

    n: int
    anomalies: int
    precision: float
    recall: float
    f1: float
    f1_low: float
    f1_high: float
    tp: int
    fp: int
    fn: int
    tn: int

    def to_dict(self) -> dict:
        return asdict(self)


def score(y: np.ndarray, p: np.ndarray, bootstrap: int = 1000, seed: int = 0) -> Scores:
    """Scores of predictions ``p`` against labels ``y`` (both 0/1; unlabelled rows must be removed)."""
    y = np.asarray(y, dtype=np.int8)
    p = np.asarray(p, dtype=np.int8)
    tp, fp, fn, tn = _counts(y, p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = f1_score(y, p)
    low = high = f1
    if bootstrap and len(y):
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(y), size=(bootstrap, len(y)))
        yb, pb = y[idx], p[idx]
        tpb = ((yb == 1) & (pb == 1)).sum(axis=1)
        denom = 2 * tpb + ((yb == 0) & (pb == 1)).sum(axis=1) + ((yb == 1) & (pb == 0)).sum(axis=1)
        f1b = np.where(denom > 0, 2 * tpb / np.maximum(denom, 1), 0.0)
        low, high = (float(v) for v in np.quantile(f1b, [0.025, 0.975]))
    return Scores(len(y), int((y == 1).sum()), precision, recall, f1, low, high, tp, fp, fn, tn)
