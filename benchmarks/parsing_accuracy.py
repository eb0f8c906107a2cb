"""Grouping accuracy of CollaborLog's template mining against loghub-2.0's corrected ground truth.

    python benchmarks/parsing_accuracy.py [--data-dir DIR]

Reads ``loghub2_2k_corrected/<System>/<System>_2k.log_structured_corrected.csv`` for the 7
systems there, mines templates from each line's Content with the default parser (and the
system's masking preset), and prints grouping accuracy (GA: a line counts when the set of lines
sharing its mined template equals the set sharing its true template) and the template counts.
Data: loghub-2.0 (Jiang et al., ISSTA 2024; loghub licence), see the data folder's SOURCES.md.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import pandas as pd

from collaborlog.data.config import ParserConfig
from collaborlog.data.dataset import find_data_dir
from collaborlog.parsing.templates import TemplateMiner

SYSTEMS = ("BGL", "HDFS", "Hadoop", "OpenStack", "Spark", "Thunderbird", "Zookeeper")
MASKING = {"BGL": "bgl"}


def grouping_accuracy(truth: list[str], predicted: list[int]) -> float:
    by_truth: dict[str, set[int]] = defaultdict(set)
    by_pred: dict[int, set[int]] = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, predicted)):
        by_truth[t].add(i)
        by_pred[p].add(i)
    correct = sum(len(members) for members in by_truth.values()
                  if by_pred[predicted[next(iter(members))]] == members)
    return correct / len(truth)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--sim-th", type=float, default=ParserConfig().sim_th)
    args = ap.parse_args()
    root = find_data_dir(args.data_dir) / "loghub2_2k_corrected"
    print(f"{'system':<12} {'lines':>6} {'true':>5} {'mined':>6} {'GA':>6} {'seconds':>8}")
    scores = []
    for system in SYSTEMS:
        table = pd.read_csv(root / system / f"{system}_2k.log_structured_corrected.csv", dtype=str, keep_default_na=False)
        start = time.perf_counter()
        miner = TemplateMiner(ParserConfig(masking=MASKING.get(system, "default"), sim_th=args.sim_th))
        predicted = miner.parse(table["Content"].tolist()).line_templates().tolist()
        elapsed = time.perf_counter() - start
        ga = grouping_accuracy(table["EventTemplate"].tolist(), predicted)
        scores.append(ga)
        print(f"{system:<12} {len(table):>6} {table['EventTemplate'].nunique():>5} {len(set(predicted)):>6} "
              f"{ga:>6.3f} {elapsed:>8.2f}")
    print(f"{'mean':<12} {'':>6} {'':>5} {'':>6} {sum(scores) / len(scores):>6.3f}")


if __name__ == "__main__":
    main()
