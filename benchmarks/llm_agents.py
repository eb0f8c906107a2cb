"""Evol-CoT agents on evolved hdfs sequences with the embedded model: precision of Evol Detect,
F1 of the AD agent per branch, and tokens and seconds per call.

    python benchmarks/llm_agents.py [--model qwen2.5-coder-1.5b] [--per-class 8] [--seed 0]

The simulator (default settings) rewrites the hdfs test split; distinct evolved patterns are
sampled, ``--per-class`` anomalous and as many normal. For each, Evol Detect is asked against
its nearest history (*naive*) and against the candidate its failure signals allow (*guarded*:
the nearest abnormal history when a line resembles a failure-only message, else the nearest
normal one), and the AD agent judges it (certain or uncertain by its neighbours). "Evolved" is
right when the inherited label is the sequence's true label: a wrong "evolved" silently
inherits a wrong label.
Answers are cached (``$COLLABORLOG_CACHE_DIR/llm.sqlite``), so a rerun is quick.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from collaborlog.data.dataset import find_data_dir, load_dataset, preset_config
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.experiments.simulator import EvolutionConfig, evolve
from collaborlog.features.featurizer import SequenceFeatures
from collaborlog.llm.backends import LLMConfig, build_client
from collaborlog.memory.patterns import summarize
from collaborlog.models.metrics import score
from collaborlog.verdicts import Branch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--per-class", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()

    dataset = load_dataset(preset_config("hdfs"), find_data_dir(args.data_dir))
    evolved = evolve(dataset.log, dataset.splits.test, EvolutionConfig(seed=args.seed), dataset.config.parser)
    t0 = time.perf_counter()
    client = build_client(LLMConfig(model=args.model))
    load_s = time.perf_counter() - t0
    det = CollaborLog(DetectorConfig(llm=LLMConfig(model=args.model)), llm=client).fit(
        dataset.log, dataset.splits.train, dataset.splits.valid)
    feats = det.features(evolved.log, evolved.sequences)
    y_all = np.array([s.label for s in evolved.sequences])

    # Distinct evolved patterns, per class, seeded.
    rng = np.random.default_rng(args.seed)
    first: dict[tuple[str, ...], int] = {}
    for i, msgs in enumerate(feats.messages):
        first.setdefault(tuple(summarize(msgs)), i)
    chosen = []
    for label in (1, 0):
        rows = [i for i in first.values() if y_all[i] == label]
        chosen += [int(i) for i in rng.choice(rows, size=min(args.per_class, len(rows)), replace=False)]
    sub = SequenceFeatures(feats.vectors[chosen], [feats.templates[i] for i in chosen],
                           [feats.messages[i] for i in chosen], [feats.aligned[i] for i in chosen])
    evidence = det.evidence(sub)
    agents = det.agents()

    truth, naive, guarded, ad_branch, ad_pred = [], [], [], [], []
    for j, i in enumerate(chosen):
        ev, y = evidence[j], int(y_all[i])
        nearest = ev.neighbours[0]
        naive.append(nearest.label if agents.evol_detect(ev, nearest)[0] else -1)
        yes = [c.label for c in agents.evol_candidates(ev) if agents.evol_detect(ev, c)[0]]
        guarded.append(yes[0] if len(yes) == 1 else -1)
        branch, verdict, _, _ = agents.detect_anomaly(ev)
        truth.append(y)
        ad_branch.append(branch)
        ad_pred.append(verdict)
        print(f"  {evolved.sequences[i].id} label {y}: signals {len(ev.failure_signals)}; evol naive "
              f"{naive[-1]}, guarded {guarded[-1]}; AD {branch.value} -> {verdict}", flush=True)

    print(f"\nmodel {args.model} (load {load_s:.1f} s); {len(chosen)} distinct evolved patterns ({sum(truth)} anomalous)")
    for name, inherited in (("naive: nearest history", naive), ("guarded by failure signals", guarded)):
        said = [k for k, v in enumerate(inherited) if v >= 0]
        right = sum(1 for k in said if inherited[k] == truth[k])
        print(f"Evol Detect ({name}): said evolved for {len(said)}; precision "
              f"{right / len(said) if said else float('nan'):.3f} ({right}/{len(said)}); recall {right / len(truth):.3f}")
    for branch in (Branch.AD_CERTAIN, Branch.AD_UNCERTAIN):
        idx = [k for k, b in enumerate(ad_branch) if b is branch]
        if idx:
            s = score(np.array(truth)[idx], np.array(ad_pred)[idx], bootstrap=0)
            print(f"AD agent {branch.value}: {len(idx)} sequences ({s.anomalies} anomalous): "
                  f"P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f}")
    s = score(np.array(truth), np.array(ad_pred), bootstrap=0)
    print(f"AD agent, all: F1 {s.f1:.3f} (P {s.precision:.3f}, R {s.recall:.3f})")
    for branch, stats in agents.governor.summary().items():
        calls = stats["calls"] + stats["cached"]
        print(f"{branch}: {stats['calls']:.0f} calls + {stats['cached']:.0f} cached; mean prompt "
              f"{stats['prompt_tokens'] / max(calls, 1):.0f} tokens, completion {stats['completion_tokens'] / max(calls, 1):.0f} "
              f"tokens, {stats['seconds_per_call']:.1f} s per call; failures {stats['failures']:.0f}")


if __name__ == "__main__":
    main()
