"""How many normal windows carry a message the history rarely shows: the false-alarm floor of
rarity as failure evidence, per loghub 2k system, with no upgrade at all.

    python benchmarks/rarity_floor.py [--data-dir DIR] [--window 10] [--contamination 0.05] [--seeds 20]

Without labels, a line the history rarely shows is the evidence of a failure (DeepLog, LogAnomaly,
CollaborLog's label-free mode): a message fewer than the expected contamination ``c`` of the
history's windows carry cannot be what most normal windows look like. A normal window that carries
such a message is then a false alarm unless something else (an LLM, an operator) clears the
message. This script measures how many normal windows do, on loghub's own ground-truth templates
(so parsing plays no part), for three ways to choose the history:

- ``leave-one-out``: each window against all the others (the history is as large as it gets);
- ``random``: a seeded random 75% of the windows as history, the rest as test (mean, min, max over seeds);
- ``chronological``: the first 75% of the windows in time as history, the rest as test.

A window holds ``--window`` consecutive lines; it is normal unless it holds a labelled anomalous
line (BGL's first column; the other samples have no labels, so every window counts). The
smoothed share is the detector's own (``collaborlog.memory.novelty.Novelty.share``).
Data: loghub (Zhu et al., ISSRE 2023), https://github.com/logpai/loghub (see the data's SOURCES.md).
"""

from __future__ import annotations

import argparse
import random
import statistics
from pathlib import Path

import numpy as np
import pandas as pd

from collaborlog.data.dataset import find_data_dir
from collaborlog.memory.novelty import Novelty

SYSTEMS = ("Zookeeper", "Spark", "BGL", "HDFS", "Hadoop", "OpenStack", "HPC", "Thunderbird")
HISTORY_SHARE = 0.75


def windows(data_dir: Path, system: str, size: int) -> tuple[list[list[str]], np.ndarray]:
    """The sample's windows of ``size`` lines in time order (each its template ids) and whether each is normal."""
    table = pd.read_csv(data_dir / "loghub_2k" / system / f"{system}_2k.log_structured.csv")
    if {"Date", "Time"} <= set(table.columns):
        table = table.assign(_when=table["Date"].astype(str) + " " + table["Time"].astype(str))
        table = table.sort_values("_when", kind="stable")
    events = table["EventId"].astype(str).tolist()
    anomalous = (table["Label"].astype(str) != "-").to_numpy() if "Label" in table.columns else np.zeros(len(table), bool)
    starts = range(0, len(events) - size + 1, size)
    return [events[s:s + size] for s in starts], np.array([not anomalous[s:s + size].any() for s in starts])


def false_alarm_share(history: list[list[str]], test: list[list[str]], normal: np.ndarray, c: float) -> float:
    """The share of ``test``'s normal windows that carry a message rare in ``history``."""
    novelty = Novelty(contamination=c).fit(history, np.zeros(len(history)), np.zeros(0))
    flagged = [bool(novelty.rare(w)) for w, ok in zip(test, normal) if ok]
    return float(np.mean(flagged)) if flagged else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--contamination", type=float, default=0.05)
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    data_dir = find_data_dir(args.data_dir)
    if data_dir is None:
        raise SystemExit("no data directory: give --data-dir or set COLLABORLOG_DATA_DIR")
    c = args.contamination
    print(f"normal windows of {args.window} lines carrying a message fewer than {c:.0%} of the history's windows carry")
    print(f"{'system':<12} {'windows':>7} {'normal':>6}  {'leave-one-out':>13}  {'random 75/25 (min-max)':>24}  "
          f"{'chronological 75/25':>19}")
    for system in SYSTEMS:
        ws, normal = windows(data_dir, system, args.window)
        loo = float(np.mean([false_alarm_share(ws[:i] + ws[i + 1:], [ws[i]], normal[i:i + 1], c)
                             for i in range(len(ws)) if normal[i]]))
        cut = round(HISTORY_SHARE * len(ws))
        shuffled = []
        for seed in range(args.seeds):
            order = list(range(len(ws)))
            random.Random(seed).shuffle(order)
            hist, test = order[:cut], order[cut:]
            shuffled.append(false_alarm_share([ws[i] for i in hist], [ws[i] for i in test], normal[test], c))
        chrono = false_alarm_share(ws[:cut], ws[cut:], normal[cut:], c)
        spread = f"{statistics.mean(shuffled):.1%} ({min(shuffled):.1%}-{max(shuffled):.1%})"
        print(f"{system:<12} {len(ws):>7} {int(normal.sum()):>6}  {loo:>13.1%}  {spread:>24}  {chrono:>19.1%}")


if __name__ == "__main__":
    main()
