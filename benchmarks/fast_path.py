"""Fast-path figures for issue 4: accuracy on hdfs, the fall under evolution, fit time, throughput.

    python benchmarks/fast_path.py [--data-dir DIR] [--sequences 100000]

Prints: SM-alone F1 on the hdfs chronological 8:1:1 test split; on the simulator's evolved test
split, the SM's F1, the share of changed sequences routed to the LLM and the share of all
sequences routed; wall time to fit the whole fast path (features + small model + coordinator);
and detection throughput on the SM route (routing + KNN verdicts) over N sequences.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from collaborlog.experiments.config import ExperimentConfig
from collaborlog.experiments.fastpath import evaluate_seed, fit_fast_path, prepare
from collaborlog.features.featurizer import SequenceFeatures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--sequences", type=int, default=100_000)
    args = ap.parse_args()

    plain = ExperimentConfig(name="hdfs", dataset="hdfs")
    t0 = time.perf_counter()
    data = prepare(plain, None, args.data_dir)
    t_features = time.perf_counter() - t0
    result = evaluate_seed(plain, data, seed=0)
    sm = result.rows[0].scores
    print(f"hdfs chronological 8:1:1: SM alone P {sm.precision:.3f} R {sm.recall:.3f} F1 {sm.f1:.3f} "
          f"[{sm.f1_low:.2f}, {sm.f1_high:.2f}] on {sm.anomalies} anomalies of {sm.n:,}; "
          f"baseline F1 {result.rows[2].scores.f1:.3f}")
    print(f"fit of the fast path: features {t_features:.1f} s (cold start, encoder load included) + "
          f"models {result.fit_seconds:.1f} s = {t_features + result.fit_seconds:.1f} s")

    scenarios = [
        ("default evolution (template_ratio 0.5, sequence_ratio 0.2)", {"seed": 0}),
        ("sequence evolution only (sequence_ratio 0.3)", {"seed": 0, "template_ratio": 0.0, "sequence_ratio": 0.3}),
        ("sequence evolution only (sequence_ratio 0.1)", {"seed": 0, "template_ratio": 0.0, "sequence_ratio": 0.1}),
    ]
    for title, evolve in scenarios:
        evolved_cfg = ExperimentConfig(name="hdfs-evolved", dataset="hdfs", evolve=evolve)
        evolved = evaluate_seed(evolved_cfg, prepare(evolved_cfg, None, args.data_dir), seed=0)
        e = evolved.evolution or {}
        print(f"hdfs, {title}: {e['changed_share']:.1%} of test sequences changed; "
              f"SM F1 {e['sm_f1_original_test']:.3f} -> {e['sm_f1_evolved_test']:.3f} "
              f"(changed {e['sm_f1_changed']:.3f}); changed routed to LLM {e['changed_routed_to_llm']:.1%}; "
              f"unchanged routed {e['unchanged_routed_to_llm']:.1%}; all routed {evolved.rows[1].llm_share:.1%}")

    models = fit_fast_path(plain, data, seed=0)
    reps = int(np.ceil(args.sequences / len(data.test.vectors)))
    big = SequenceFeatures(np.tile(data.test.vectors, (reps, 1))[: args.sequences],
                           (data.test.templates * reps)[: args.sequences], [])
    t = time.perf_counter()
    models.coordinator.route(big.vectors)
    models.small_model.predict(big.vectors)
    elapsed = time.perf_counter() - t
    print(f"detection on the SM route (route + KNN) over {args.sequences:,} sequences: {elapsed:.2f} s = "
          f"{args.sequences / elapsed * 60:,.0f} sequences/min (memory {len(models.small_model.memory_labels_):,})")


if __name__ == "__main__":
    main()
