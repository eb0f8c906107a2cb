"""Peak memory (RSS) of the main job's fit + detect path, stage by stage, sampled with psutil.

    python benchmarks/memory.py [--experiment configs/hdfs-evolved.yaml] [--sequences N] [--tracemalloc]

Runs what ``collaborlog run`` runs before and around the LLM: read the dataset, evolve its test
split, fit the detector, save it and load it three times (the run's systems without the AEM,
with it, and the LLM alone each judge with their own copy), then judge the test split as a
stream with the AEM on. A scripted
client stands in for the LLM (it answers every question at once with the same verdict), so the
figure leaves out the LLM itself: an embedded GGUF model adds its weights (mapped from disk)
and its context on top. Goal (issue 6): the main job at most 2 GB RSS.
Data: loghub (Zhu et al., ISSRE 2023), https://github.com/logpai/loghub (see the data's SOURCES.md).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

GOAL_MIB = 2048
ANSWER = '{"reason": "routine", "IsEvol": false, "System State": "Normal", "level": "INFO", "same_as": 0}'


class RSSSampler:
    """Samples the process's RSS every ``interval`` seconds in a thread; keeps each stage's peak."""

    def __init__(self, interval: float = 0.01) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.stage = "start"
        self.peaks: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self._interval)

    def sample(self) -> None:
        rss = self._process.memory_info().rss
        if rss > self.peaks.get(self.stage, 0):
            self.peaks[self.stage] = rss

    def __enter__(self) -> "RSSSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @contextmanager
    def during(self, stage: str) -> Iterator[None]:
        self.sample()
        self.stage = stage
        start = time.perf_counter()
        yield
        self.sample()
        print(f"{stage:<28} {time.perf_counter() - start:7.1f} s   peak {self.peaks.get(stage, 0) / 2**20:7,.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="configs/hdfs-evolved.yaml")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--sequences", type=int, default=None, help="judge only the first N test sequences")
    ap.add_argument("--tracemalloc", action="store_true", help="also list the largest Python allocations (slow)")
    args = ap.parse_args()

    with RSSSampler() as sampler:
        with sampler.during("import"):
            from collaborlog.data.dataset import find_data_dir
            from collaborlog.detector.facade import CollaborLog
            from collaborlog.detector.persistence import load, save
            from collaborlog.experiments.config import detector_config, load_experiment
            from collaborlog.experiments.testsets import load_experiment_dataset, test_split
            from collaborlog.llm.backends import ScriptedClient
        if args.tracemalloc:
            tracemalloc.start(12)
        cfg, config_dir = load_experiment(Path(args.experiment))
        data_dir = find_data_dir(args.data_dir)
        with sampler.during("read dataset"):
            dataset = load_experiment_dataset(cfg.dataset, cfg, config_dir, data_dir)
        with sampler.during("test split (evolve)"):
            testset = test_split(cfg, config_dir, data_dir, dataset)
            log, test = testset.log, testset.sequences
            test = test[: args.sequences]
        dcfg = detector_config(cfg, cfg.seeds[0], dataset.config.parser)
        dcfg = dcfg.model_copy(update={"governor": dcfg.governor.model_copy(update={"cache": False})})
        detector = CollaborLog(dcfg, llm=ScriptedClient(default=ANSWER))
        with sampler.during("fit"):
            detector.fit(dataset.log, dataset.splits.train, dataset.splits.valid)
        with tempfile.TemporaryDirectory() as tmp, sampler.during("save + load x3"):
            save(detector, Path(tmp) / "model")
            client = ScriptedClient(default=ANSWER)
            copies = [load(Path(tmp) / "model", encoder=detector.encoder, llm=client) for _ in range(3)]
        with sampler.during("detect stream (AEM on)"):
            judged = sum(len(batch) for batch in copies[1].detect_stream(log, test))

    peak = max(sampler.peaks.values())
    print(f"lines {len(dataset.log):,}; history {len(dataset.splits.train) + len(dataset.splits.valid):,} sequences; "
          f"{judged:,} test sequences judged")
    print(f"peak RSS (fit + detect)     {peak / 2**20:,.0f} MiB   goal <= {GOAL_MIB:,} MiB  "
          f"({'met' if peak <= GOAL_MIB * 2**20 else 'NOT met'}; the LLM's own memory not included)")
    if args.tracemalloc:
        current, top = tracemalloc.get_traced_memory()
        print(f"Python allocations: {current / 2**20:,.0f} MiB live, {top / 2**20:,.0f} MiB at the peak")
        for stat in tracemalloc.take_snapshot().statistics("lineno")[:15]:
            print(f"  {stat.size / 2**20:8.1f} MiB  {stat.traceback}")


if __name__ == "__main__":
    main()
