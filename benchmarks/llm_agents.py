"""Evol-CoT agents on evolved hdfs sequences with the embedded model: precision of Evol Detect,
F1 of the AD agent per branch, and tokens and seconds per call.

    python benchmarks/llm_agents.py [--model qwen2.5-coder-1.5b] [--per-class 8] [--seed 0]

The simulator (default settings) rewrites the hdfs test split; distinct evolved patterns are
sampled, ``--per-class`` anomalous and as many normal. For each, Evol Detect is asked against
the nearest normal and the nearest abnormal history (by the small model's features), and the
AD agent judges it (certain or uncertain by its neighbours). "Evolved" is right when the
inherited label is the sequence's true label: a wrong "evolved" silently inherits a wrong label.
Both decision rules are scored from the same answers: *single* (trust the nearest history's
answer) and *contrast* (accept only when exactly one of the two is confirmed).
Answers are cached (``$COLLABORLOG_CACHE_DIR/llm.sqlite``), so a rerun is quick.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from collaborlog.agents import Branch, EvolCoT, Evidence
from collaborlog.embeddings import default_cache_dir
from collaborlog.evaluation import ExperimentConfig, prepare
from collaborlog.governor import Governor, GovernorConfig, ResponseCache
from collaborlog.history import History
from collaborlog.llm_backends import LLMConfig, build_client
from collaborlog.metrics import score
from collaborlog.prompts import collapse, load_prompts
from collaborlog.small_model import SmallModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--per-class", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()

    cfg = ExperimentConfig(name="llm-agents", dataset="hdfs", evolve={"seed": args.seed})
    data = prepare(cfg, None, args.data_dir)
    train_ids = [s.id for s in data.dataset.splits.train]
    sm = SmallModel(cfg.small_model).fit(data.train.vectors, data.y["train"], train_ids, data.valid.vectors, data.y["valid"])
    history = History()
    history.add(train_ids, data.y["train"].tolist(), data.train.messages)

    # Distinct evolved patterns, per class, seeded.
    rng = np.random.default_rng(args.seed)
    first: dict[tuple[str, ...], int] = {}
    for i, msgs in enumerate(data.test.messages):
        first.setdefault(tuple(collapse(msgs)), i)
    chosen = []
    for label in (1, 0):
        rows = [i for i in first.values() if data.y["test"][i] == label]
        chosen += list(rng.choice(rows, size=min(args.per_class, len(rows)), replace=False))
    x = data.test.vectors[chosen]
    out = sm.predict(x)
    normal_rows, abnormal_rows = sm.nearest_by_label(x)

    t0 = time.perf_counter()
    client = build_client(LLMConfig(model=args.model))
    load_s = time.perf_counter() - t0
    governor = Governor(client, GovernorConfig(), ResponseCache(default_cache_dir() / "llm.sqlite"))
    agents = EvolCoT(governor, load_prompts())

    truth, single, contrast, ad_branch, ad_pred, ad_true = [], [], [], [], [], []
    for j, i in enumerate(chosen):
        pred = out[j]
        ev = Evidence(tuple(data.test.messages[i]),
                      tuple(history.item(history.ids.index(n.id), n.similarity) for n in pred.neighbours),
                      history.item(int(normal_rows[j])) if normal_rows[j] >= 0 else None,
                      history.item(int(abnormal_rows[j])) if abnormal_rows[j] >= 0 else None,
                      pred.verdict, pred.certain)
        y = int(data.y["test"][i])
        answers = {}
        for old in agents.evol_candidates(ev):
            answers[old.label] = agents.evol_detect(ev, old)[0]
        nearest = ev.neighbours[0].label
        single.append(nearest if answers.get(nearest) else -1)
        yes = [label for label, a in answers.items() if a]
        contrast.append(yes[0] if len(yes) == 1 else -1)
        truth.append(y)
        branch, verdict, _, _ = agents.detect_anomaly(ev)
        ad_branch.append(branch)
        ad_pred.append(verdict)
        ad_true.append(y)
        print(f"  seq {data.test_sequences[i].id} label {y}: evol vs normal={answers.get(0)} "
              f"vs abnormal={answers.get(1)}; AD {branch.value} -> {verdict}", flush=True)

    print(f"\nmodel {args.model} (load {load_s:.1f} s); {len(chosen)} distinct evolved patterns "
          f"({sum(truth)} anomalous)")
    for name, inherited in (("single", single), ("contrast", contrast)):
        said = [k for k, v in enumerate(inherited) if v >= 0]
        right = sum(1 for k in said if inherited[k] == truth[k])
        print(f"Evol Detect ({name}): said evolved for {len(said)}; precision "
              f"{right / len(said) if said else float('nan'):.3f} ({right}/{len(said)}); recall {right / len(truth):.3f}")
    for branch in (Branch.AD_CERTAIN, Branch.AD_UNCERTAIN):
        idx = [k for k, b in enumerate(ad_branch) if b is branch]
        if idx:
            s = score(np.array(ad_true)[idx], np.array(ad_pred)[idx], bootstrap=0)
            print(f"AD agent {branch.value}: {len(idx)} sequences ({s.anomalies} anomalous): "
                  f"P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f}")
    s = score(np.array(ad_true), np.array(ad_pred), bootstrap=0)
    print(f"AD agent, all: F1 {s.f1:.3f} (P {s.precision:.3f}, R {s.recall:.3f})")
    for branch, stats in governor.summary().items():
        calls = stats["calls"] + stats["cached"]
        print(f"{branch}: {stats['calls']:.0f} calls + {stats['cached']:.0f} cached; mean prompt "
              f"{stats['prompt_tokens'] / max(calls, 1):.0f} tokens, completion {stats['completion_tokens'] / max(calls, 1):.0f} "
              f"tokens, {stats['seconds_per_call']:.1f} s per call; failures {stats['failures']:.0f}")


if __name__ == "__main__":
    main()
