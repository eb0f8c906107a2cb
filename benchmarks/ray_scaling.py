"""Ray scale-out figures (issue 17): the same job in one process and on a local Ray cluster with 1 and 2 workers.

    python benchmarks/ray_scaling.py [--data-dir DIR] [--files 4] [--copies 1]

Fits a detector on the hdfs-20k history (train and valid splits; hashing encoder so that the
figures measure the engine, not the encoder), cuts the raw log into ``--files`` files (sessions
span them) and judges every sequence:

- one process: ``CollaborLog.detect`` over the whole log;
- Ray, 1 and 2 featurizing actors on a local cluster of 2 CPUs (cluster start not counted);
- LLM calls: the job's one governor (de-duplicated across workers) against each of N workers
  judging its own share with its own governor (no cross-worker de-duplication).

The LLM is a scripted client that answers every question the same (normal): calls are counted,
not judged. ``--copies`` repeats the log under renamed sessions, for a bigger job.
Prints one table; detections of every run are checked equal to the single process's.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np

ANSWER = '{"reason": "fine", "IsEvol": false, "System State": "Normal", "level": "INFO", "same_as": 0}'


def _client():
    from collaborlog.llm.backends import ScriptedClient

    return ScriptedClient(default=ANSWER)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--copies", type=int, default=1)
    args = ap.parse_args()

    import ray

    from collaborlog.data.dataset import find_data_dir, load_dataset, preset_config
    from collaborlog.data.grouping import GroupStats, group_sessions
    from collaborlog.data.readers import read_log
    from collaborlog.detector.config import DetectorConfig
    from collaborlog.detector.facade import CollaborLog
    from collaborlog.detector.persistence import load, save
    from collaborlog.scale import RayConfig, detect_on_ray
    from collaborlog.scale.ray_engine import quiet

    cfg = preset_config("hdfs-20k")
    base = find_data_dir(args.data_dir)
    ds = load_dataset(cfg, base)
    config = DetectorConfig.model_validate({"encoder": {"kind": "hashing"}, "governor": {"cache": False},
                                            "parser": cfg.parser.model_dump()})
    t0 = time.perf_counter()
    detector = CollaborLog(config, llm=_client()).fit(ds.log, ds.splits.train, ds.splits.valid)
    print(f"fit on {len(ds.splits.train):,} history sequences in {time.perf_counter() - t0:.1f} s")
    work = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    model = save(detector, work / "model")

    raw = (base / cfg.source.path).read_text(encoding="utf-8").splitlines()
    lines = [re.sub(r"blk_(-?\d+)", rf"blk_\g<1>{k:02d}" if k else r"blk_\g<1>", line)
             for k in range(args.copies) for line in raw]
    whole = work / "whole.log"
    whole.write_text("\n".join(lines) + "\n")
    folder = work / "parts"
    folder.mkdir()
    for k, chunk in enumerate(np.array_split(np.array(lines, dtype=object), args.files)):
        (folder / f"part-{k}.log").write_text("\n".join(chunk) + "\n")
    dataset = cfg.model_copy(update={"source": cfg.source.model_copy(update={"path": str(whole)})})

    frame = read_log(whole, cfg.source)
    sequences = group_sessions(frame, cfg.grouping, GroupStats())
    client = _client()
    single = load(model, llm=client)
    t0 = time.perf_counter()
    expected = single.detect(frame, sequences)
    single_s = time.perf_counter() - t0
    want = {d.sequence_id: (d.verdict, d.branch, d.route) for d in expected}
    routed = sum(d.route.value == "llm" for d in expected)
    rows = [("one process", single_s, len(client.requests), "")]

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    quiet()
    for workers in (1, 2):
        client = _client()
        t0 = time.perf_counter()
        result = detect_on_ray(load(model, llm=client), dataset, [folder], RayConfig(workers=workers))
        seconds = time.perf_counter() - t0
        got = {d.sequence_id: (d.verdict, d.branch, d.route) for d in result.detections}
        assert got == want, f"{workers} workers: detections differ from the single process's"
        stages = ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items() if v)
        rows.append((f"Ray, {workers} worker{'s' * (workers > 1)}", seconds, len(client.requests), stages))
    ray.shutdown()

    split_calls = {}
    for n in (2, 4, 8):
        calls = 0
        for part in np.array_split(np.arange(len(sequences)), n):
            client = _client()
            load(model, llm=client).detect(frame, [sequences[i] for i in part])
            calls += len(client.requests)
        split_calls[n] = calls

    n = len(sequences)
    print(f"\n{n:,} sequences ({len(lines):,} lines in {args.files} files), {routed:,} routed to the LLM\n")
    print("| run | seconds | sequences/s | vs one process | LLM calls | stages (s) |")
    print("|---|---|---|---|---|---|")
    for name, seconds, calls, stages in rows:
        print(f"| {name} | {seconds:.1f} | {n / seconds:,.0f} | {seconds / single_s:.1f}x | {calls:,} | {stages} |")
    print("\nLLM calls without cross-worker de-duplication (each worker judges its share with its own governor):")
    for k, calls in split_calls.items():
        print(f"  {k} workers: {calls:,} calls (one governor: {rows[-1][2]:,})")


if __name__ == "__main__":
    main()
