"""Experiment tracking: an experiment YAML with ``tracking:`` logs its parameters, metrics, result
tables and plots to Weights & Biases, offline by default (the paper's code logs to wandb).

The tracker is a small protocol, so a test or another service can take wandb's place. Offline runs
are written under the results folder and can be uploaded later with ``wandb sync``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from collaborlog.errors import ConfigError


class TrackingConfig(BaseModel):
    """Where ``collaborlog run`` and ``evaluate`` log an experiment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["wandb"] = "wandb"
    project: str = "collaborlog"
    mode: Literal["offline", "online"] = "offline"
    """``offline`` writes the run to disk only (upload later with ``wandb sync``); ``online`` needs
    network access and a wandb login."""
    dir: str | None = None
    """Where the run folder goes; default the experiment's results folder."""


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class TrackedRun:
    """What one experiment logs: flat parameters, flat numeric metrics, tables and image files."""

    name: str
    params: dict[str, Any]
    metrics: dict[str, float]
    tables: dict[str, Table] = field(default_factory=dict)
    images: tuple[Path, ...] = ()


class Tracker(Protocol):
    def log(self, run: TrackedRun) -> Path | None:
        """Record ``run``; return where it was written, when the backend writes locally."""
        ...


class WandbTracker:
    """Weights & Biases (``pip install 'collaborlog[tracking]'``)."""

    def __init__(self, config: TrackingConfig, folder: Path) -> None:
        self.config = config
        self.folder = Path(config.dir) if config.dir else folder

    def log(self, run: TrackedRun) -> Path | None:
        try:
            import wandb
        except ImportError as e:
            raise ConfigError("tracking: {backend: wandb} needs wandb: pip install 'collaborlog[tracking]'") from e
        self.folder.mkdir(parents=True, exist_ok=True)
        active = wandb.init(project=self.config.project, name=run.name, mode=self.config.mode,
                            dir=str(self.folder), config=run.params, reinit="finish_previous",
                            settings=wandb.Settings(silent=True, console="off"))
        try:
            active.log(dict(run.metrics))
            for key, value in run.metrics.items():
                active.summary[key] = value
            for name, table in run.tables.items():
                active.log({name: wandb.Table(columns=list(table.columns), data=[list(r) for r in table.rows])})
            for image in run.images:
                active.log({image.stem: wandb.Image(str(image))})
        finally:
            active.finish()
            # finish() returns before wandb's service process has closed the run's file (its
            # last records were missing under load): the service is shut down and waited for, so
            # the run is whole on disk when this returns. A later wandb.init starts a new one.
            wandb.teardown()
        return Path(active.dir).parent


TRACKERS = {"wandb": WandbTracker}


def build_tracker(config: TrackingConfig, folder: Path) -> Tracker:
    return TRACKERS[config.backend](config, folder)


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Nested mappings as one level of ``a/b/c`` keys.

    >>> flatten("", {"a": {"b": 1, "c": [1, 2]}, "d": None})
    {'a/b': 1, 'a/c': '[1, 2]', 'd': None}
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(f"{prefix}/{key}" if prefix else str(key), inner))
        return out
    if isinstance(value, (list, tuple)):
        return {prefix: str(list(value))}
    return {prefix: value}


def track(config: TrackingConfig, run: TrackedRun, folder: Path) -> Path | None:
    """Log ``run`` with the tracker ``config`` names; ``folder`` is the experiment's results folder."""
    return build_tracker(config, folder).log(run)
