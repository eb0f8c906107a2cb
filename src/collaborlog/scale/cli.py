"""``collaborlog detect --engine ray``: the command line's side of a Ray job (options in, summary out)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console

from collaborlog.data.config import DatasetConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.detector.versions import LearningRun
from collaborlog.errors import ConfigError
from collaborlog.scale.output import write_detections
from collaborlog.scale.ray_engine import RayConfig, detect_on_ray


def detect_on_cluster(detector: CollaborLog, run: LearningRun | None, dataset: DatasetConfig, base: Path | None,
                      inputs: list[Path] | None, split: str, out: Path | None, address: str | None,
                      workers: int, console: Console) -> None:
    """Run ``detector`` over ``inputs`` (default: the dataset's file, relative to ``base``) on Ray and report.

    With a learning ``run`` the AEM learns, and what it learned is saved as the run's model
    version after each round that taught it."""
    if split != "all":
        raise ConfigError("--engine ray judges every sequence of its inputs: leave out --split")
    if not inputs:
        source = Path(dataset.source.path).expanduser()
        inputs = [source if source.is_absolute() or base is None else base / source]
    result = detect_on_ray(detector, dataset, list(inputs), RayConfig(workers=workers, address=address),
                           learn=run is not None, on_learned=lambda _: run.save() if run else None)
    if run is not None:
        record = run.save()
        console.print(f"model version {record.number} ({record.kind.value}): " + "; ".join(record.summary.lines()),
                      markup=False)
    if out is not None:
        write_detections(out, result.detections, result.versions)
    branches = Counter(d.branch.value for d in result.detections if d.route.value == "llm")
    anomalous = sum(d.verdict == 1 for d in result.detections)
    calls = sum(int(s["calls"]) for s in result.llm.values())
    console.print(f"{len(result.detections):,} sequences from {result.files:,} files judged on Ray "
                  f"({workers} workers): {anomalous:,} anomalous; {sum(branches.values()):,} routed to the LLM "
                  f"({dict(branches)}), {calls:,} LLM calls; detector versions "
                  f"{min(result.versions, default=0)}..{max(result.versions, default=0)}", markup=False)
    console.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()), markup=False)
    if out is not None:
        console.print(f"wrote {out}", markup=False)
