"""Peak memory (RSS) of the main job's fit + detect path, stage by stage, sampled with psutil.

    python benchmarks/memory.py [--experiment configs/hdfs-evolved.yaml] [--sequences N] [--tracemalloc]
    python benchmarks/memory.py --llm embedded [--calls 3] [--sample 2]

Default (``--llm scripted``): what ``collaborlog run`` runs before and around the LLM: read the
dataset, evolve its test split, fit the detector, save it and load it three times (the run's
systems without the AEM, with it, and the LLM alone each judge with their own copy), then judge
the test split as a stream with the AEM on. A scripted client stands in for the LLM (it answers
every question at once with the same verdict), so the figure leaves out the LLM itself.

``--llm embedded``: the main job itself (``run_experiment``, as ``collaborlog run`` calls it) with
the configured embedded GGUF model loaded and a few real calls: the governor allows ``--calls``
LLM calls per system and the LLM-alone sample is ``--sample`` sequences, so that it ends in
minutes; everything else (fit, the three systems, the stream) is the main job's. The embedding and
answer caches start empty (a temporary folder) unless ``$COLLABORLOG_CACHE_DIR`` names one.
Peaks are printed per step (reading, test split, fit, loading the LLM, then the three systems
and the sample), and for the time between steps ("after ...").

Goal (issues 6 and 18): the main job at most 2 GB RSS.
Data: loghub (Zhu et al., ISSRE 2023), https://github.com/logpai/loghub (see the data's SOURCES.md).
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

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


class Phases:
    """Names the sampler's stage after the main job's step that is running ("after <step>" once
    it returns): each step is a function of the library, wrapped where the job calls it."""

    def __init__(self, sampler: RSSSampler) -> None:
        self.sampler = sampler
        self.order: list[str] = []
        self.seconds: dict[str, float] = {}

    def enter(self, label: str) -> None:
        self.sampler.sample()
        self.sampler.stage = label
        self.order.append(label)

    def wrap(self, stack: ExitStack, owner: Any, name: str, label: str) -> None:
        """Report ``owner.name`` (a function) as the step ``label`` until ``stack`` closes."""
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def step(*args: Any, **kwargs: Any) -> Any:
            self.enter(label)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] = time.perf_counter() - start
                self.enter(f"after {label}")

        setattr(owner, name, step)
        stack.callback(setattr, owner, name, fn)


def embedded(args: argparse.Namespace) -> None:
    """The main job with the embedded LLM, a few real calls; peak RSS per step."""
    from collaborlog import heap
    from collaborlog.llm.omp_wait import prefer_passive_wait

    # As the CLI does first thing: before llama.cpp or torch loads libgomp, and before other threads allocate.
    prefer_passive_wait()
    capped = heap.limit_arenas()
    with ExitStack() as stack:
        if "COLLABORLOG_CACHE_DIR" not in os.environ:
            os.environ["COLLABORLOG_CACHE_DIR"] = stack.enter_context(tempfile.TemporaryDirectory(prefix="memory-"))
        cache = os.environ["COLLABORLOG_CACHE_DIR"]
        with RSSSampler() as sampler:
            phases = Phases(sampler)
            phases.enter("import")
            from collaborlog.data.dataset import find_data_dir
            from collaborlog.detector import fit
            from collaborlog.experiments import run
            from collaborlog.experiments.config import load_experiment
            cfg, config_dir = load_experiment(Path(args.experiment))
            detector = cfg.detector
            if detector.llm.backend != "embedded":
                raise SystemExit(f"{args.experiment} does not use the embedded LLM (backend {detector.llm.backend})")
            governor = detector.governor.model_copy(update={"max_calls": args.calls})
            cfg = cfg.model_copy(update={"llm_alone_sample": args.sample,
                                         "detector": detector.model_copy(update={"governor": governor})})
            for owner, name, label in ((run, "load_experiment_dataset", "read dataset"),
                                       (run, "test_split", "test split (evolve)"), (fit, "fit", "fit"),
                                       (run, "build_client", "load the LLM")):
                phases.wrap(stack, owner, name, label)
            report, _ = run.run_experiment(cfg, config_dir, find_data_dir(args.data_dir))
    for label in dict.fromkeys(phases.order):
        seconds = f"{phases.seconds[label]:7.1f} s" if label in phases.seconds else " " * 9
        shown = "the three systems and the LLM-alone sample" if label == "after load the LLM" else label
        print(f"{shown:<44} {seconds}   peak {sampler.peaks.get(label, 0) / 2**20:7,.0f} MiB")
    for r in report.systems + report.on_sample:
        print(f"{r.system:<60} F1 {r.scores.f1:.3f}  LLM share {r.llm_share:6.1%}  calls {r.llm_calls}")
    peak = max(sampler.peaks.values())
    print(f"cache {cache}; model {detector.llm.model}; at most {args.calls} LLM calls per system, "
          f"LLM-alone sample {args.sample}; malloc arenas: "
          f"{heap.ARENAS if capped else os.environ.get('MALLOC_ARENA_MAX', 'not capped (no glibc)')}")
    print(f"peak RSS (main job, embedded LLM) {peak / 2**20:,.0f} MiB   goal <= {GOAL_MIB:,} MiB  "
          f"({'met' if peak <= GOAL_MIB * 2**20 else 'NOT met'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="configs/hdfs-evolved.yaml")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--llm", choices=("scripted", "embedded"), default="scripted",
                    help="scripted: the fit + detect path with a stand-in LLM; embedded: the main job with the real one")
    ap.add_argument("--calls", type=int, default=3, help="--llm embedded: LLM calls allowed per system")
    ap.add_argument("--sample", type=int, default=2, help="--llm embedded: LLM-alone sample size")
    ap.add_argument("--sequences", type=int, default=None, help="judge only the first N test sequences")
    ap.add_argument("--tracemalloc", action="store_true", help="also list the largest Python allocations (slow)")
    args = ap.parse_args()
    if args.llm == "embedded":
        embedded(args)
        return

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
