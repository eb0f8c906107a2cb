# ruff: noqa: E402 (the OpenMP wait policy is set before torch is imported)
"""Label-free detection without learning, at several AEM batch sizes: time and verdicts.

    python benchmarks/batch_size.py [--data-dir DIR] [--sizes 25 100 0] [--repeats 2]

A label-free detector (no LLM) is fitted on the ``hdfs`` preset's chronological history with its
labels removed (not timed); then ``detect_stream`` judges 3,000 history sessions, the validation
and the test split (5,300 sessions) without learning, once per batch size (0: the whole input in
one batch) and repeat. It prints the seconds of each pass and how many sessions are flagged: with
``aem.lookahead`` (the default) how common each message is, and whether the stream has drifted,
are read on the whole input, so the flagged count must not depend on the batch size.
Data: loghub (Zhu et al., ISSRE 2023), https://github.com/logpai/loghub (see the data's SOURCES.md).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

from collaborlog.llm.omp_wait import prefer_passive_wait

# As `collaborlog` does first thing: torch's and faiss's threads wait passively on shared cores (see omp_wait).
prefer_passive_wait()

from collaborlog.data.dataset import find_data_dir, load_dataset, resolve_config
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.errors import DataError
from collaborlog.records import Sequence


def _unlabelled(sequences: list[Sequence]) -> list[Sequence]:
    return [replace(s, label=-1) for s in sequences]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[25, 100, 0])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    data_dir = find_data_dir(args.data_dir)
    if data_dir is None:
        raise DataError("no data folder found; pass --data-dir")
    cfg, _ = resolve_config("hdfs")
    ds = load_dataset(cfg, data_dir)
    settings = DetectorConfig.model_validate({"llm": {"backend": "none"}, "parser": cfg.parser.model_dump()})
    det = CollaborLog(settings).fit(ds.log, _unlabelled(ds.splits.train), _unlabelled(ds.splits.valid))
    sequences = ds.splits.train[:3000] + ds.splits.valid + ds.splits.test
    print(f"mode: {det.mode_.value}; {len(sequences):,} sessions judged without learning")
    for size in args.sizes:
        seconds, flagged = [], set()
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = [d for batch in det.copy().detect_stream(ds.log, sequences, batch_size=size or len(sequences),
                                                           learn=False) for d in batch]
            seconds.append(time.perf_counter() - start)
            flagged.add(sum(d.verdict for d in out))
        print(f"batch {size or len(sequences):>5}: {statistics.median(seconds):6.1f} s median of {args.repeats} "
              f"[{min(seconds):.1f}, {max(seconds):.1f}]; flagged {sorted(flagged)}")


if __name__ == "__main__":
    main()
