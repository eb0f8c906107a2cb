"""One experiment as a YAML file: a dataset, how its test split is chosen, seeds, and every
detector setting (a :class:`DetectorConfig`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collaborlog.data.config import ParserConfig, SplitConfig, load_yaml, parse_model
from collaborlog.detector.config import DetectorConfig
from collaborlog.errors import ConfigError
from collaborlog.experiments.baselines import BaselineKind
from collaborlog.experiments.simulator import EvolutionConfig
from collaborlog.experiments.tracking import TrackingConfig


class ExperimentConfig(BaseModel):
    """One experiment: a dataset, optional evolution of its test split, model settings and seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dataset: str
    """A preset name or a dataset YAML file (relative paths resolve against this file's folder)."""
    split: SplitConfig | None = None
    """Overrides the dataset's split, e.g. ``{ratios: [0.6, 0.2, 0.2]}``."""
    seeds: tuple[int, ...] = (0,)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    """Every detector setting (its ``parser`` comes from the dataset, its ``seed`` from ``seeds``).
    They may also be written at the top level, as the configs in ``configs/`` do: ``aem: {...}``
    reads as ``detector: {aem: {...}}``."""
    evolve: EvolutionConfig | None = None
    """Rewrite the test split with the log-evolution simulator before testing."""
    test_sessions: str | None = None
    """Test on these sessions instead (a JSON Lines file, e.g. written by ``collaborlog evolve``)."""
    test_dataset: str | None = None
    """Test on the test split of this dataset instead (a preset or YAML file): the cross-version
    setting, e.g. train on LOGEVOL spark2, test on spark3."""
    test_split: Literal["test", "later"] = "test"
    """Which of the dataset's own splits to test on: ``later`` is the test part after the gap of
    a ``split: {kind: gap}`` (the in-period one is ``test``)."""
    baseline: BaselineKind = "decision_tree"
    quantiles: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
    llm_alone_sample: int = Field(default=30, ge=0)
    """LLM alone judges a seeded random sample of this many test sequences (it is slow), half of
    them anomalous where the split has enough; every system is also scored on that same sample."""
    output: str | None = None
    """Results folder; default ``results/<name>``."""
    tracking: TrackingConfig | None = None
    """Also log parameters, metrics, tables and plots to an experiment tracker (wandb, offline by
    default: ``tracking: {backend: wandb}``); without it nothing is logged."""


    @model_validator(mode="before")
    @classmethod
    def detector_settings_at_the_top(cls, data: Any) -> Any:
        return nest_detector_settings(data)


def nest_detector_settings(data: Any) -> Any:
    """An experiment mapping with the detector settings written at its top level moved under ``detector``."""
    if not isinstance(data, dict):
        return data
    top = {k: v for k, v in data.items() if k not in ExperimentConfig.model_fields and k in DetectorConfig.model_fields}
    if not top:
        return data
    nested = data.get("detector") or {}
    if isinstance(nested, DetectorConfig):
        nested = nested.model_dump()
    both = sorted(set(top) & set(nested))
    if both:
        raise ConfigError(f"{', '.join(both)} given both at the top level and under detector")
    return {**{k: v for k, v in data.items() if k not in top}, "detector": {**nested, **top}}


def load_experiment(path: Path) -> tuple[ExperimentConfig, Path]:
    return parse_model(ExperimentConfig, nest_detector_settings(load_yaml(path)), str(path)), Path(path).resolve().parent


def detector_config(cfg: ExperimentConfig, seed: int, parser: ParserConfig) -> DetectorConfig:
    """The experiment's detector settings, with the dataset's parser and one of its seeds."""
    return cfg.detector.model_copy(update={"parser": parser, "seed": seed})
