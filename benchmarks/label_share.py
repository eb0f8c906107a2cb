"""How F1 grows with the share of history labels used, with no LLM (issue: work without labels).

    python benchmarks/label_share.py [--datasets hdfs bgl-2k] [--shares 0 0.01 0.1 1] [--seeds 0 1 2]
                                     [--contamination 0.05] [--data-dir DIR]

For each dataset and share, a seeded random share of the train and valid sequences keeps its
label and the rest is unlabelled (0: label-free, some: semi-supervised, 1: supervised); the
detector is fitted with ``llm: {backend: none}`` and judges the test split, whose labels only
the scoring reads. Prints P, R, F1 per seed and the mean and spread of F1, beside the goal
(label-free hdfs F1 >= 0.85).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from collaborlog.data.dataset import find_data_dir, load_dataset, preset_config
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.models.metrics import score
from collaborlog.records import Sequence

SPLITS = {"bgl-2k": {"kind": "chronological", "ratios": [0.6, 0.2, 0.2]}}
"""As in configs/: BGL's 8:1:1 test split holds 3 anomalous windows."""


def hide_labels(sequences: list[Sequence], share: float, rng: np.random.Generator) -> list[Sequence]:
    keep = rng.random(len(sequences)) < share
    return [s if k else replace(s, label=-1) for s, k in zip(sequences, keep)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["hdfs", "bgl-2k"])
    ap.add_argument("--shares", nargs="+", type=float, default=[0.0, 0.01, 0.1, 1.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--contamination", type=float, default=None, help="default: DetectorConfig's")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    data_dir = find_data_dir(args.data_dir)
    print("| dataset | label share | mode | seed | P | R | F1 | anomalies | flagged | fit s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    summary = []
    for name in args.datasets:
        cfg = preset_config(name)
        if name in SPLITS:
            cfg = cfg.model_copy(update={"split": cfg.split.model_validate(SPLITS[name])})
        ds = load_dataset(cfg, data_dir)
        y_test = np.array([s.label for s in ds.splits.test])
        for share in args.shares:
            f1s = []
            for seed in args.seeds:
                rng = np.random.default_rng(seed)
                train = hide_labels(ds.splits.train, share, rng)
                valid = hide_labels(ds.splits.valid, share, rng)
                extra = {} if args.contamination is None else {"contamination": args.contamination}
                config = DetectorConfig.model_validate({"parser": cfg.parser.model_dump(), "llm": {"backend": "none"},
                                                        "seed": seed, **extra})
                t0 = time.perf_counter()
                det = CollaborLog(config).fit(ds.log, train, valid)
                fit_s = time.perf_counter() - t0
                pred = np.array([d.verdict for d in det.detect(ds.log, ds.splits.test)])
                s = score(y_test, pred, bootstrap=0)
                f1s.append(s.f1)
                print(f"| {name} | {share:g} | {det.mode_.value} | {seed} | {s.precision:.3f} | {s.recall:.3f} | "
                      f"{s.f1:.3f} | {int(y_test.sum())} | {int(pred.sum())} | {fit_s:.1f} |", flush=True)
            summary.append((name, share, float(np.mean(f1s)), float(np.min(f1s)), float(np.max(f1s))))
    print("\n| dataset | label share | F1 mean | min | max | goal |")
    print("|---|---|---|---|---|---|")
    for name, share, mean, low, high in summary:
        goal = ">= 0.85 (label-free, no LLM)" if name == "hdfs" and share == 0 else ""
        print(f"| {name} | {share:g} | {mean:.3f} | {low:.3f} | {high:.3f} | {goal} |")


if __name__ == "__main__":
    main()
