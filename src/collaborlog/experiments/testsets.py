"""The test split an experiment names, chosen in one place for ``collaborlog evaluate`` and
``collaborlog run``: the dataset's own, another dataset's (cross-version), a sessions file, or the
dataset's own rewritten by the log-evolution simulator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collaborlog.data.dataset import Dataset, find_data_dir, held_out, load_dataset, resolve_config
from collaborlog.data.logevol import sessions_frame
from collaborlog.errors import ConfigError, DataError
from collaborlog.experiments.config import ExperimentConfig
from collaborlog.experiments.simulator import evolve
from collaborlog.records import LogFrame, Sequence


@dataclass
class TestSet:
    """The sequences to test on (lines of ``log``); ``changed`` marks the ones an evolution rewrote
    (``None`` where nothing was rewritten)."""

    __test__ = False  # not a pytest test class

    log: LogFrame
    sequences: list[Sequence]
    changed: np.ndarray | None
    evolved: bool = False
    """Rewritten by the simulator from the dataset's own test split."""

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.sequences], dtype=np.int8)

    def require_labels(self, name: str) -> None:
        """Raise a :class:`DataError` when no test sequence is labelled: there is nothing to score."""
        if not (self.labels >= 0).any():
            raise DataError(f"the test sequences of {name!r} have no label, so there is nothing to score; "
                            "`collaborlog detect` finds anomalies without labels (see the README's quickstart), "
                            "or give the dataset labels to evaluate it")


def resolve_beside(path: str, config_dir: Path | None) -> Path:
    """A path from an experiment file: absolute, or relative to that file's folder."""
    p = Path(path)
    return p if p.is_absolute() or config_dir is None else config_dir / p


def load_experiment_dataset(name: str, config: ExperimentConfig, config_dir: Path | None,
                            data_dir: Path | None) -> Dataset:
    """A dataset named by an experiment: a preset, or a YAML file relative to the experiment file.

    Its data paths resolve against ``data_dir`` when given, else the found data folder (presets)
    or the dataset file's own folder.
    """
    ds_cfg, ds_dir = resolve_config(str(config_dir / name) if config_dir and (config_dir / name).is_file() else name)
    if config.split is not None and ds_cfg.source.kind != "logevol":
        ds_cfg = ds_cfg.model_copy(update={"split": config.split})
    base = find_data_dir(data_dir) if (data_dir or ds_dir is None) else ds_dir
    return load_dataset(ds_cfg, base)


def test_split(config: ExperimentConfig, config_dir: Path | None, data_dir: Path | None,
               dataset: Dataset) -> TestSet:
    """The test sequences ``config`` names for ``dataset`` (at most one of ``test_dataset``,
    ``test_sessions`` and ``evolve``; else the dataset's own test split)."""
    if sum(x is not None for x in (config.evolve, config.test_sessions, config.test_dataset)) > 1:
        raise ConfigError("give at most one of evolve, test_sessions and test_dataset")
    if config.test_dataset is not None:
        other = load_experiment_dataset(config.test_dataset, config, config_dir, data_dir)
        return TestSet(other.log, held_out(other), None)
    if config.test_sessions is not None:
        return TestSet(*sessions_frame(resolve_beside(config.test_sessions, config_dir)))
    if config.evolve is not None:
        ev = evolve(dataset.log, held_out(dataset), config.evolve, dataset.config.parser)
        return TestSet(ev.log, ev.sequences, ev.changed(), evolved=True)
    if config.test_split == "later":
        if not dataset.splits.later:
            raise ConfigError("test_split: later needs a dataset split with kind: gap (the test part after the gap)")
        return TestSet(dataset.log, dataset.splits.later, None)
    return TestSet(dataset.log, held_out(dataset), None)


test_split.__test__ = False  # type: ignore[attr-defined]  # not a pytest test function
