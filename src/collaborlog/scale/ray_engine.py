"""Score many log files on a Ray cluster: workers read, group and featurize; one driver judges.

The job, stage by stage (see ``docs/scale-out.md`` for the consistency model):

1. **Read** (Ray Data tasks): each input file is read with the dataset's reader and cut into
   session parts (:mod:`collaborlog.scale.sessions`).
2. **Group**: a shuffle by session key merges the parts of a session that spans files.
3. **Featurize** (a pool of actors): each actor loads one detector version once, then masks,
   embeds and aligns the lines of its sequences. This is where the work per line is.
4. **Judge** (the driver): the features of the whole job (or of one round, with the AEM) are
   judged by the driver's detector through its one governor, so routed sequences are
   de-duplicated by pattern and by prompt across all workers and share one answer cache and
   one budget. The stream statistics that verdicts depend on (how common each message is in
   the stream, which history messages vanished) are those of the whole job, as in one process:
   with rounds (and ``aem.lookahead``), the actors first read the whole job ahead, messages only.
5. **Learn** (the driver, ``learn=True``): after each round the AEM learns once from the
   LLM's verdicts; the result is the next detector version, and the next round's actors load
   it. Workers never learn.

Detections are identical, sequence by sequence, to :meth:`CollaborLog.detect` over the same
sequences in one process (and, with ``learn=True`` and rounds of ``B``, to
:meth:`CollaborLog.detect_stream` with ``batch_size=B``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from collaborlog.data.config import DatasetConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.errors import ConfigError, MissingDependencyError
from collaborlog.features.embeddings import default_cache_dir
from collaborlog.features.featurizer import SequenceFeatures
from collaborlog.memory.prevalence import Upcoming
from collaborlog.records import UNLABELLED, LogFrame, Sequence
from collaborlog.scale.sessions import input_files, merge_parts, message_levels, read_parts, session_grouping
from collaborlog.scale.versions import DetectorVersion
from collaborlog.verdicts import Detection

if TYPE_CHECKING:
    import pandas as pd

RAY_PIP = "'collaborlog[ray]'"


def require_ray() -> Any:
    """The ``ray`` module, or a :class:`MissingDependencyError` naming the install that fixes it."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data is the 'data' extra of ray)
    except ImportError:
        raise MissingDependencyError("ray[data]", "Scoring on a Ray cluster (--engine ray)", RAY_PIP,
                                     "or run without --engine ray (one process)") from None
    return ray


class RayConfig(BaseModel):
    """How a job uses the cluster."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workers: int = Field(default=2, gt=0)
    """Featurizing actors; each loads the detector once per version."""
    address: str | None = None
    """A running cluster (``ray://host:10001`` or ``host:6379``); ``None``: ``$RAY_ADDRESS``, else a
    local cluster. A session the caller already started (``ray.init``) is used as it is."""
    num_cpus: int | None = Field(default=None, gt=0)
    """CPUs of a local cluster (``None``: all of the machine's)."""
    batch_size: int = Field(default=512, gt=0)
    """Sequences an actor featurizes at a time."""
    partitions: int | None = Field(default=None, gt=0)
    """Partitions of the shuffle by session key (``None``: twice the workers)."""
    round_size: int | None = Field(default=None, gt=0)
    """With ``learn``: sequences judged per detector version before the AEM learns (``None``:
    the detector's ``aem.batch_size``, which makes the job equal to ``detect_stream``)."""


@dataclass
class RayResult:
    """A job's detections, in order of first appearance, and which detector version judged each."""

    detections: list[Detection]
    versions: list[int]
    """``versions[i]``: the detector version that featurized and judged ``detections[i]`` (0 = as loaded)."""
    files: int
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds per stage: ``group`` (read and shuffle by session key) and ``featurize`` (the
    actors) on the cluster, ``judge`` and ``learn`` on the driver."""
    llm: dict[str, dict[str, float]] = field(default_factory=dict)
    """The one governor's summary per branch: calls, cached answers, failures, tokens."""


def connect(config: RayConfig) -> bool:
    """Join the cluster ``config`` names, or start a local one; returns whether this call started a session."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    address = config.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level="ERROR")
    else:
        # Local workers share this machine's embedding cache, as one process would.
        ray.init(num_cpus=config.num_cpus, include_dashboard=False, logging_level="ERROR",
                 runtime_env={"env_vars": {"COLLABORLOG_CACHE_DIR": str(default_cache_dir())}})
    quiet()
    return True


def quiet() -> None:
    """No progress bars or per-dataset log lines from Ray Data: the job prints its own summary."""
    import logging

    require_ray().data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


class FeatureWorker:
    """One actor of the pool: loads a detector version once, then featurizes batches of sequences."""

    def __init__(self, version: Any) -> None:
        ray = require_ray()
        if isinstance(version, ray.ObjectRef):
            version = ray.get(version)
        self.version = version.number
        self.detector = version.load()

    def __call__(self, batch: "pd.DataFrame") -> "pd.DataFrame":
        import pandas as pd

        frame, sequences = _sequences(batch)
        features = self.detector.features(frame, sequences)
        return pd.DataFrame({
            "key": batch["key"].to_numpy(), "order": batch["order"].to_numpy(),
            "level": [list(levels) for levels in batch["level"]],
            "vector": list(features.vectors), "template": [t.tolist() for t in features.templates],
            "message": features.messages, "aligned": features.aligned,
            "version": np.full(len(batch), self.version, np.int64)})


class AheadWorker(FeatureWorker):
    """An actor that reads sequences ahead: their masked messages, the known messages they align
    to and, without labels, their coordinator losses (see :meth:`CollaborLog.read_ahead`)."""

    def __call__(self, batch: "pd.DataFrame") -> "pd.DataFrame":
        import pandas as pd

        frame, sequences = _sequences(batch)
        ahead = self.detector.read_ahead(frame, sequences)
        losses = ahead.losses if ahead.losses is not None else np.full(len(sequences), np.nan)
        return pd.DataFrame({"order": batch["order"].to_numpy(), "message": [m for m, _ in ahead.read],
                             "aligned": [a for _, a in ahead.read], "loss": losses})


def _sequences(batch: "pd.DataFrame") -> tuple[LogFrame, list[Sequence]]:
    """A batch of the job's sessions as one log and its sequences."""
    content = [str(line) for lines in batch["content"] for line in lines]
    frame = LogFrame(content, np.full(len(content), np.nan), np.full(len(content), UNLABELLED, np.int8), {},
                     np.ones(len(content), bool))
    ends = np.cumsum([len(lines) for lines in batch["content"]])
    sequences = [Sequence(str(key), np.arange(end - len(lines), end), UNLABELLED, 0.0)
                 for key, lines, end in zip(batch["key"], batch["content"], ends)]
    return frame, sequences


def _read_ahead(grouped: Any, version: Any, config: RayConfig, observed: bool) -> Upcoming:
    """The whole job read ahead by the actors, in order (what :meth:`CollaborLog.detect_stream`
    counts with ``lookahead``); ``observed``: whether the detector learns each round."""
    ray = require_ray()
    read = grouped.map_batches(AheadWorker, fn_constructor_kwargs={"version": version}, batch_size=config.batch_size,
                               batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=config.workers))
    rows = sorted(read.iter_rows(), key=lambda r: int(r["order"]))
    # A detector with labels reads no losses ahead: Arrow carries its NaN as None.
    losses = np.array([np.nan if r["loss"] is None else float(r["loss"]) for r in rows], dtype=np.float64)
    return Upcoming([[str(m) for m in r["message"]] for r in rows], [[str(m) for m in r["aligned"]] for r in rows],
                    None if np.isnan(losses).any() else losses, observed=observed)


def _read(rows: dict, cfg: DatasetConfig) -> list[dict]:
    return read_parts(str(rows["path"]), int(rows["file"]), cfg)


def _merge(group: "pd.DataFrame") -> "pd.DataFrame":
    import pandas as pd

    merged = merge_parts([{"key": k, "order": int(o), "content": list(c), "level": list(v)}
                          for k, o, c, v in zip(group["key"], group["order"], group["content"], group["level"])])
    return pd.DataFrame({name: [value] for name, value in merged.items()})


def sessions(paths: list[Path], cfg: DatasetConfig, partitions: int) -> tuple[Any, int]:
    """The job's sequences as a Ray dataset (key, order, content, level), and how many files it read:
    files are read in parallel, the parts of one session merged by a shuffle on its key into ``partitions``."""
    ray = require_ray()
    session_grouping(cfg)  # refused here, before any task starts
    files = input_files(paths)
    listing = ray.data.from_items([{"path": str(p), "file": k} for k, p in enumerate(files)],
                                  override_num_blocks=len(files))
    parts = listing.flat_map(_read, fn_kwargs={"cfg": cfg}).materialize()
    if parts.count() == 0:
        raise ConfigError(f"session grouping found no session key in {len(files)} files; check grouping.field/regex")
    return parts.groupby("key", num_partitions=partitions).map_groups(_merge, batch_format="pandas"), len(files)


def _features(rows: list[dict]) -> tuple[list[Sequence], SequenceFeatures, dict[str, str]]:
    """What the driver judges, from the workers' rows in order of first appearance."""
    rows = sorted(rows, key=lambda r: int(r["order"]))
    messages = [[str(m) for m in r["message"]] for r in rows]
    features = SequenceFeatures(
        vectors=np.stack([np.asarray(r["vector"]) for r in rows]) if rows else np.zeros((0, 0), np.float32),
        templates=[np.asarray(r["template"], np.int64) for r in rows], messages=messages,
        aligned=[[str(m) for m in r["aligned"]] for r in rows])
    sequences = [Sequence(str(r["key"]), np.arange(len(m)), UNLABELLED, float(r["order"])) for r, m in zip(rows, messages)]
    return sequences, features, message_levels(messages, [[str(v) for v in r["level"]] for r in rows])


def detect_on_ray(detector: CollaborLog, dataset: DatasetConfig, paths: list[Path], config: RayConfig = RayConfig(),
                  learn: bool = False, on_learned: Callable[[int], object] | None = None) -> RayResult:
    """Judge the logs in ``paths`` (files or folders, read as ``dataset`` describes) on a Ray cluster.

    ``detector`` judges on the driver with its own LLM (one governor for the job); with
    ``learn`` it also learns after each round (``on_learned(n)`` after a round that taught it
    ``n > 0`` sequences, e.g. to save a checkpoint), and the next round runs on the new version.

    >>> result = detect_on_ray(load("model/"), dataset, [Path("logs/")], RayConfig(workers=4))  # doctest: +SKIP
    """
    ray = require_ray()
    started = connect(config)
    try:
        begin = time.perf_counter()
        grouped, n_files = sessions(paths, dataset, config.partitions or 2 * config.workers)
        # The shuffle finishes before the actors take their CPUs: on a small cluster, actors that
        # hold every CPU while the shuffle's tasks wait for one would never finish.
        grouped = (grouped.sort("order") if learn else grouped).materialize()
        if learn:
            size = config.round_size or detector.config.aem.batch_size
            total = grouped.count()
            rounds = grouped.split_at_indices(list(range(size, total, size))) if total > size else [grouped]
        else:
            rounds = [grouped]
        seconds = {"group": time.perf_counter() - begin, "featurize": 0.0, "judge": 0.0, "learn": 0.0}
        number, version = 0, None
        detections: list[Detection] = []
        versions: list[int] = []
        upcoming = None
        if len(rounds) > 1 and detector.config.aem.lookahead:
            begin = time.perf_counter()
            version = ray.put(DetectorVersion.of(detector, number))
            upcoming = _read_ahead(grouped, version, config, observed=detector.config.aem.enabled)
            seconds["featurize"] += time.perf_counter() - begin
        for part in rounds:
            if version is None:
                version = ray.put(DetectorVersion.of(detector, number))
            begin = time.perf_counter()
            scored = part.map_batches(FeatureWorker, fn_constructor_kwargs={"version": version},
                                      batch_size=config.batch_size, batch_format="pandas",
                                      compute=ray.data.ActorPoolStrategy(size=config.workers))
            rows = list(scored.iter_rows())
            seconds["featurize"] += time.perf_counter() - begin
            sequences, features, levels = _features(rows)
            if upcoming is not None:
                upcoming.pop(len(rows))
            begin = time.perf_counter()
            judged, said = detector.judge_features(sequences, features, levels, upcoming)
            seconds["judge"] += time.perf_counter() - begin
            detections += judged
            versions += [number] * len(judged)
            if learn and detector.config.aem.enabled:
                begin = time.perf_counter()
                learned = detector.learn_judged(features, judged, said)
                seconds["learn"] += time.perf_counter() - begin
                if learned:
                    number, version = number + 1, None
                    if on_learned is not None:
                        on_learned(learned)
        llm = detector.governor.summary() if detector.llm_enabled else {}
        return RayResult(detections, versions, n_files, seconds, llm)
    finally:
        if started:
            ray.shutdown()
