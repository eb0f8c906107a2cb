"""Line-level localisation on HDFS: does the detector name the failure lines of the blocks it flags?

    python benchmarks/localisation.py [--data-dir /work/shared/data] [--dataset hdfs] [--top-k 5]
                                      [--split random|preset]

A detector is fitted on the ``hdfs`` preset's train and valid splits with no LLM (``llm:
{backend: none}``: the small model alone, as ``--llm none``) and judges the test split. The
split is by default ``random`` with ratios 0.6/0.1/0.3 (seed 0): the preset's own chronological
test tenth holds only 11 anomalous blocks, two of them with a failure line, too few to score;
``--split preset`` keeps it. Each
anomalous detection names its most responsible lines (``Detection.blame``,
:mod:`collaborlog.detector.localise`).

**Ground truth**: a line of a labelled-anomalous block is a failure line when its ``level``
field, read by :func:`collaborlog.data.levels.normalize`, is WARN, ERROR or FATAL, or when its
text contains ``exception`` in any case (``java.io.IOException``, ``Got exception while
serving``). Blocks with no such line (an anomaly by a missing or repeated event) are counted
but not scored.

Scored over the blocks the detector flags that are labelled anomalous and have a failure line,
and, where the small model missed some, again over every labelled-anomalous test block (as if
each were flagged): **top-1** and **top-3** hit rate (a failure
line is among the first 1 / 3 named) and **mean reciprocal rank** (1/rank of the first failure
line named, 0 when none of the ``--top-k`` named is one). Compared with the same cut-off:

* ``localise`` as shipped, the log's levels visible (PROBLEM_LEVEL is then one of its reasons,
  which overlaps the ground truth);
* ``localise, levels hidden``: the same with the level field removed, so only the history,
  the neighbours and the signals speak;
* ``rarest line``: lines ordered by how few history sequences carry their message;
* ``last line``: lines from the last back.

Figures are printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import replace

import numpy as np

from collaborlog.data.config import SplitConfig
from collaborlog.data.dataset import find_data_dir, load_dataset, preset_config
from collaborlog.data.levels import LEVEL_FIELDS, PROBLEM_LEVELS
from collaborlog.detector import localise
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.features.embeddings import default_cache_dir
from collaborlog.llm.backends import LLMConfig
from collaborlog.records import LogFrame, Sequence
from collaborlog.verdicts import Detection

EXCEPTION = re.compile("exception", re.IGNORECASE)


def failure_lines(log: LogFrame, seq: Sequence, levels: list[str] | None) -> set[int]:
    """Positions in ``seq`` of its failure lines (see the module docstring)."""
    out = set()
    for position, line in enumerate(seq.lines.tolist()):
        if (levels is not None and levels[line] in PROBLEM_LEVELS) or EXCEPTION.search(log.content[line]):
            out.add(position)
    return out


def reciprocal_rank(ranking: list[int], truth: set[int], k: int) -> float:
    for rank, position in enumerate(ranking[:k], 1):
        if position in truth:
            return 1.0 / rank
    return 0.0


def scores(rankings: list[list[int]], truths: list[set[int]], k: int) -> tuple[float, float, float]:
    rr = np.array([reciprocal_rank(r, t, k) for r, t in zip(rankings, truths)])
    if not rr.size:
        return float("nan"), float("nan"), float("nan")
    return float((rr == 1.0).mean()), float((rr >= 1 / 3).mean()), float(rr.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--dataset", default="hdfs")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--split", choices=("random", "preset"), default="random")
    args = ap.parse_args()

    cfg = preset_config(args.dataset)
    if args.split == "random":
        cfg = cfg.model_copy(update={"split": SplitConfig(kind="random", ratios=(0.6, 0.1, 0.3), seed=0)})
    ds = load_dataset(cfg, find_data_dir(args.data_dir))
    config = DetectorConfig(parser=cfg.parser, llm=LLMConfig(backend="none"), blame_lines=args.top_k)
    det = CollaborLog(config, cache_dir=default_cache_dir()).fit(ds.log, ds.splits.train, ds.splits.valid)
    test = ds.splits.test
    features = det.features(ds.log, test)
    detections = det.detect(ds.log, test)
    levels = localise.line_levels(ds.log, np.arange(len(ds.log)))
    hidden = replace(ds.log, fields={k: v for k, v in ds.log.fields.items() if k.lower() not in LEVEL_FIELDS})

    # Every labelled-anomalous block as if flagged, so that each is localised.
    forced = [replace(d, verdict=1) if s.label == 1 else replace(d, verdict=0) for d, s in zip(detections, test)]
    blamed = {"flagged": localise.blame(det, ds.log, test, features, forced)}
    blamed["hidden"] = localise.blame(det, hidden, test, features, forced)
    flagged_ids = {d.sequence_id for d in detections if d.verdict == 1}

    share = det.vanished_.history_share
    print(f"{args.dataset}: {len(test):,} test blocks, {sum(s.label == 1 for s in test):,} labelled anomalous; "
          f"the small model flags {len(flagged_ids):,}, of them {sum(s.label == 1 and s.id in flagged_ids for s in test):,} "
          f"labelled anomalous")
    print(f"cut-off k = {args.top_k} lines\n")
    anomalous_ids = {s.id for s in test if s.label == 1}
    # Scored again over every labelled-anomalous block only where the small model missed some.
    for scope in ("flagged", "all anomalous") if anomalous_ids - flagged_ids else ("flagged",):
        rows = [i for i, s in enumerate(test) if s.label == 1 and (scope != "flagged" or s.id in flagged_ids)]
        truths = [failure_lines(ds.log, test[i], levels) for i in rows]
        scored = [(i, t) for i, t in zip(rows, truths) if t]
        print(f"{scope}: {len(rows):,} labelled-anomalous blocks, {len(scored):,} with a failure line")
        idx = [i for i, _ in scored]
        truth = [t for _, t in scored]

        def ranked(results: list[Detection]) -> list[list[int]]:
            return [[b.position for b in results[i].blame] for i in idx]

        systems = {
            "localise (levels visible)": ranked(blamed["flagged"]),
            "localise (levels hidden)": ranked(blamed["hidden"]),
            "rarest line": [sorted(range(len(test[i])), key=lambda p, i=i: (share(features.aligned[i][p]), p))
                            for i in idx],
            "last line": [list(range(len(test[i]) - 1, -1, -1)) for i in idx],
        }
        print(f"  {'system':28} {'top-1':>6} {'top-3':>6} {'MRR':>6}")
        for name, rankings in systems.items():
            top1, top3, mrr = scores(rankings, truth, args.top_k)
            print(f"  {name:28} {top1:6.3f} {top3:6.3f} {mrr:6.3f}")
        print()


if __name__ == "__main__":
    main()
