"""Routing and the collaboration's ceiling on an evolved test split, without an LLM.

    python benchmarks/routing.py [configs/hdfs-evolved.yaml]

For the experiment's test split (e.g. the simulator's evolved hdfs test split) it prints, with
and without the alignment of reworded messages: the share the coordinator routes to the LLM,
the small model's F1 on all sequences and on those it keeps, and how many distinct message
patterns reach the LLM. Then it streams the split through the detector with the AEM and an
*oracle* in place of the LLM (every judged pattern gets its true majority label): the F1, the
LLM share and the number of patterns judged are what the collaboration reaches when the LLM is
right, so the gap to a real run is the LLM's own error. (Evol Detect's question about single
new messages is off in that stream: the oracle knows sequence labels only.)
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

from collaborlog.detector.facade import CollaborLog
from collaborlog.experiments.config import detector_config, load_experiment
from collaborlog.experiments.testsets import load_experiment_dataset, test_split
from collaborlog.llm.agents import EvolCoT
from collaborlog.memory.patterns import summarize
from collaborlog.models.metrics import score
from collaborlog.verdicts import Branch, Judgement, Route


def main() -> None:
    cfg, config_dir = load_experiment(Path(sys.argv[1] if len(sys.argv) > 1 else "configs/hdfs-evolved.yaml"))
    dataset = load_experiment_dataset(cfg.dataset, cfg, config_dir, None)
    testset = test_split(cfg, config_dir, None, dataset)
    log, test = testset.log, testset.sequences
    y = np.array([s.label for s in test], dtype=np.int8)
    base = detector_config(cfg, cfg.seeds[0], dataset.config.parser)
    print(f"{cfg.name}: {len(y)} test sequences, {int((y == 1).sum())} anomalous")

    for threshold in (None, base.align_threshold):
        det = CollaborLog(base.model_copy(update={"align_threshold": threshold})).fit(
            dataset.log, dataset.splits.train, dataset.splits.valid)
        feats = det.features(log, test)
        _, routes = det.coordinator_.route(feats.vectors)
        routed = np.array([r is Route.LLM for r in routes])
        sm = det.small_model_.predict(feats.vectors).verdict
        kept = score(y[~routed], sm[~routed], bootstrap=0)
        patterns = {det.pattern_of(a) for a, r in zip(feats.aligned, routed) if r}
        new = {line for m, a, r in zip(feats.messages, feats.aligned, routed) if r for line, name in zip(m, a)
               if line == name and (det.aligner_ is None or not det.aligner_.knows(line))}
        print(f"alignment {threshold}: routed {routed.mean():.1%}; SM F1 {score(y, sm, bootstrap=0).f1:.3f}; "
              f"on the {kept.n} kept: {kept.fp} false alarms, {kept.fn} missed of {kept.anomalies}; "
              f"{len(patterns)} distinct routed patterns (pattern by set: {det.pattern_by_set_}); "
              f"{len(new)} distinct messages in them that nothing known aligns to")

    # Keyed by the raw messages with counts: the AEM's alignment (and so its pattern keys) moves.
    truth: dict[tuple[str, ...], Counter] = {}
    for lines, label in zip(feats.messages, y):
        truth.setdefault(tuple(summarize(lines)), Counter())[int(label)] += 1
    judged: list[tuple[str, ...]] = []

    def oracle(self: EvolCoT, evidence: list) -> list[Judgement]:
        judged.extend(ev.pattern() for ev in evidence)
        return [Judgement(truth[tuple(summarize(list(ev.messages)))].most_common(1)[0][0], Branch.AD_CERTAIN, "oracle")
                for ev in evidence]

    EvolCoT.judge_many = oracle  # type: ignore[method-assign]
    # The oracle knows sequences' labels, not what single messages mean: the question about new
    # messages is left out, so this is the sequence-level ceiling.
    det = CollaborLog(base.model_copy(update={"new_message_candidates": 0})).fit(dataset.log, dataset.splits.train, dataset.splits.valid)
    out = [d for batch in det.detect_stream(log, test) for d in batch]
    s = score(y, np.array([d.verdict for d in out]), bootstrap=0)
    share = np.mean([d.route is Route.LLM for d in out])
    branches = Counter(d.branch.value for d in out)
    print(f"with the AEM and an oracle LLM (batch {base.aem.batch_size}): F1 {s.f1:.3f} (P {s.precision:.3f}, "
          f"R {s.recall:.3f}); LLM share {share:.1%}; {len(set(judged))} patterns judged; branches {dict(branches)}")


if __name__ == "__main__":
    main()
