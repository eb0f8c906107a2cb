"""In-period and after-gap F1: the CoorLog paper's LogHub protocol (issue: work without labels).

    python benchmarks/gap.py [--dataset bgl-2k-gap] [--seeds 0 1 2] [--llm none|embedded|URL]
                             [--batch-size 10] [--max-calls 15] [--data-dir DIR]

The dataset's split must be ``kind: gap``: the detector is fitted once per seed on the period's
train and valid parts, then a copy of it streams each test part with the AEM: the period's own
``test`` and the ``later`` part, written at least ``days`` after the period ends. Prints P, R, F1
of the small model alone and of CollaborLog per seed and part, and the mean and spread of F1.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from collaborlog.cli import llm_config
from collaborlog.data.dataset import find_data_dir, load_dataset, resolve_config
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.features.embeddings import default_cache_dir
from collaborlog.models.metrics import score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bgl-2k-gap", help="a preset or dataset YAML with split kind: gap")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--llm", default="none", help="none, embedded, embedded:NAME or an http(s) URL")
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--max-calls", type=int, default=15)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()

    cfg, base = resolve_config(args.dataset)
    if cfg.split.kind != "gap":
        raise SystemExit(f"{args.dataset}: split.kind is {cfg.split.kind!r}; this benchmark needs kind: gap")
    ds = load_dataset(cfg, find_data_dir(args.data_dir) if base is None else base)
    parts = {"in period": ds.splits.test, "after the gap": ds.splits.later}
    print(f"{args.dataset}: train {len(ds.splits.train)}, valid {len(ds.splits.valid)}, "
          + ", ".join(f"{name} {len(p)} ({sum(s.label == 1 for s in p)} anomalous)" for name, p in parts.items())
          + f"; gap {cfg.split.days:g} days; llm {args.llm}\n")
    print("| seed | test part | system | P | R | F1 | LLM share | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    f1: dict[tuple[str, str], list[float]] = {}
    for seed in args.seeds:
        base_cfg = DetectorConfig(seed=seed, parser=cfg.parser, aem={"batch_size": args.batch_size},
                                  governor={"max_calls": args.max_calls})
        dcfg = base_cfg.model_copy(update={"llm": llm_config(args.llm, None, base_cfg.llm)})
        fitted = CollaborLog(dcfg, cache_dir=default_cache_dir()).fit(ds.log, ds.splits.train, ds.splits.valid)
        for name, test in parts.items():
            y = np.array([s.label for s in test])
            t = time.perf_counter()
            sm = fitted.small_model_.predict(fitted.features(ds.log, test).vectors).verdict
            sm_s = time.perf_counter() - t
            det = fitted.copy()
            t = time.perf_counter()
            out = [d for batch in det.detect_stream(ds.log, test) for d in batch]
            run_s = time.perf_counter() - t
            share = float(np.mean([d.route.value == "llm" for d in out])) if out else 0.0
            name_full = "CollaborLog with AEM" if det.llm_enabled else "CollaborLog, no LLM (routed: not judged)"
            for system, pred, secs, llm_share in (("small model alone", sm, sm_s, 0.0),
                                                  (name_full, np.array([d.verdict for d in out]), run_s, share)):
                s = score(y, np.asarray(pred), bootstrap=0)
                f1.setdefault((name, system), []).append(s.f1)
                print(f"| {seed} | {name} | {system} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | "
                      f"{llm_share:.1%} | {secs:.1f} |", flush=True)
    print("\n| test part | system | F1 mean | min | max |")
    print("|---|---|---|---|---|")
    for (name, system), values in f1.items():
        v = np.array(values)
        print(f"| {name} | {system} | {v.mean():.3f} | {v.min():.3f} | {v.max():.3f} |")


if __name__ == "__main__":
    main()
