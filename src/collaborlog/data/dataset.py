"""A dataset end to end: resolve its files, read, group, label and split.

Presets for the loghub data ship as YAML in ``collaborlog/data/presets``; a user's dataset is the
same YAML in a file of their own. Relative paths resolve against the data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from collaborlog.data import logevol
from collaborlog.data.config import (
    DatasetConfig,
    LineLabels,
    SessionGrouping,
    SessionLabels,
    load_dataset_config,
    parse_model,
)
from collaborlog.data.grouping import GroupStats, group_sessions
from collaborlog.data.labels import (
    LabelStats,
    apply_line_labels,
    label_from_lines,
    label_from_sessions,
    read_session_labels,
)
from collaborlog.data.levels import LEVEL_FIELDS
from collaborlog.data.readers import read_logs
from collaborlog.data.splits import Splits, split_sessions, split_windows
from collaborlog.errors import ConfigError, DatasetNotFoundError
from collaborlog.records import UNLABELLED, LogFrame, ReadStats, Sequence

DATA_DIR_ENV = "COLLABORLOG_DATA_DIR"
LOGHUB_URL = "https://github.com/logpai/loghub"


@dataclass
class Dataset:
    """A read, grouped, labelled and split log."""

    config: DatasetConfig
    log: LogFrame
    splits: Splits
    group_stats: GroupStats
    label_stats: LabelStats

    @property
    def name(self) -> str:
        return self.config.name


def held_out(dataset: Dataset) -> list[Sequence]:
    """``dataset``'s test split, to score on; a :class:`ConfigError` when it has none (a history
    for fitting only: ``split.ratios`` with a test ratio of 0)."""
    if not dataset.splits.test:
        raise ConfigError(f"dataset {dataset.name!r} has no test split (its split.ratios leave no test part, "
                          f"or it holds too few sequences): it can be fitted on, not scored")
    return dataset.splits.test


def preset_names() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in resources.files("collaborlog.data.presets").iterdir()
                  if p.name.endswith(".yaml"))


def preset_config(name: str) -> DatasetConfig:
    path = resources.files("collaborlog.data.presets") / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown dataset preset {name!r}; presets are {preset_names()}, or give a YAML file")
    return parse_model(DatasetConfig, yaml.safe_load(path.read_text(encoding="utf-8")), f"preset {name}")


def resolve_config(name_or_path: str) -> tuple[DatasetConfig, Path | None]:
    """A preset by name, or a YAML file (returned with its folder, where its relative paths may point)."""
    path = Path(name_or_path)
    # Anything that exists and is no folder is read as YAML: a file, or a pipe such as /dev/stdin (whose
    # folder means nothing, so its relative paths resolve against the data directory).
    if path.suffix in (".yaml", ".yml") or (path.exists() and not path.is_dir()):
        return load_dataset_config(path), path.resolve().parent if path.is_file() else None
    return preset_config(name_or_path), None


def find_data_dir(explicit: str | Path | None = None) -> Path | None:
    """``explicit``, else ``$COLLABORLOG_DATA_DIR``, else ``../shared/data`` beside a source checkout
    this package runs from (the project's CI layout). Never a folder found from the current directory."""
    if explicit:
        return Path(explicit)
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    checkout = Path(__file__).resolve().parents[3]  # <checkout>/src/collaborlog/data/dataset.py
    candidate = checkout.parent / "shared" / "data"
    if (checkout / "pyproject.toml").is_file() and candidate.is_dir():
        return candidate
    return None


def _resolve(path: str, base: Path | None) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() or base is None else base / p


def _required_files(cfg: DatasetConfig) -> list[str]:
    files = [cfg.source.path, *cfg.source.more_paths]
    if isinstance(cfg.labels, SessionLabels):
        files.append(cfg.labels.path)
    return files + list(cfg.expected_files)


def _check_files(cfg: DatasetConfig, base: Path | None) -> None:
    missing = [f for f in _required_files(cfg) if not _resolve(f, base).exists()]
    if missing:
        where = base if base is not None else "the current directory"
        raise DatasetNotFoundError(
            f"dataset {cfg.name!r} is missing {missing} under {where}. It expects {_required_files(cfg)} "
            f"relative to the data directory. Point --data-dir (or ${DATA_DIR_ENV}) at the folder that holds "
            f"them; the public loghub data can be downloaded from {LOGHUB_URL}."
        )


def _keep_fields(cfg: DatasetConfig) -> set[str]:
    keep: set[str] = set()
    if cfg.source.timestamp:
        keep.update(cfg.source.timestamp.fields)
    if isinstance(cfg.grouping, SessionGrouping) and cfg.grouping.field:
        keep.add(cfg.grouping.field)
    if isinstance(cfg.labels, LineLabels):
        keep.add(cfg.labels.field)
    # A line's level is evidence (see collaborlog.data.levels), kept whatever the field's case.
    keep.update(v for name in LEVEL_FIELDS for v in (name, name.capitalize(), name.upper()))
    return keep


def load_dataset(cfg: DatasetConfig, base: Path | None) -> Dataset:
    """Read, group, label and split the dataset ``cfg`` describes, with paths relative to ``base``."""
    _check_files(cfg, base)
    if cfg.source.kind == "logevol":
        return _load_logevol(cfg, base)
    if cfg.split.kind == "predefined":
        raise ConfigError("split.kind: predefined is only for sources that ship a split (kind: logevol)")
    paths = [_resolve(p, base) for p in (cfg.source.path, *cfg.source.more_paths)]
    frame = read_logs(paths, cfg.source, keep_fields=_keep_fields(cfg))
    if isinstance(cfg.labels, LineLabels):
        apply_line_labels(frame, cfg.labels)
    group_stats, label_stats = GroupStats(), LabelStats()
    if isinstance(cfg.grouping, SessionGrouping):
        sequences = group_sessions(frame, cfg.grouping, group_stats)
        if not sequences:
            raise ConfigError(f"session grouping found no session key in {len(frame)} lines; check grouping.field/regex")
        sequences = _label(frame, cfg, base, sequences, label_stats)
        splits = split_sessions(sequences, cfg.split)
    else:
        raw = split_windows(frame, cfg.grouping, cfg.split)
        splits = Splits(**{name: _label(frame, cfg, base, part, label_stats) for name, part in raw.items()})
    label_stats.unlabelled_sequences = sum(1 for s in splits.all() if s.label == UNLABELLED)
    return Dataset(cfg, frame, splits, group_stats, label_stats)


def _label(frame: LogFrame, cfg: DatasetConfig, base: Path | None, seqs: list[Sequence], stats: LabelStats) -> list[Sequence]:
    if isinstance(cfg.labels, SessionLabels):
        labels = read_session_labels(_resolve(cfg.labels.path, base), cfg.labels, stats)
        return label_from_sessions(seqs, labels, stats)
    if isinstance(cfg.labels, LineLabels):
        return label_from_lines(frame, seqs)
    return seqs


def _load_logevol(cfg: DatasetConfig, base: Path | None) -> Dataset:
    root = _resolve(cfg.source.path, base)
    content: list[str] = []
    line_labels: list[int] = []
    seqs: dict[str, list[Sequence]] = {}
    for split in logevol.SPLITS:
        sessions = logevol.read_split(root, cfg.source.system or "", split, cfg.source.allow_pickle)
        part_content, part_labels, seqs[split] = logevol.to_frame(sessions, start_line=len(content))
        content.extend(part_content)
        line_labels.extend(part_labels)
    n = len(content)
    frame = LogFrame(
        content=content, timestamp=np.full(n, np.nan), label=np.asarray(line_labels, dtype=np.int8),
        fields={}, matched=np.ones(n, dtype=bool), stats=ReadStats(lines=n),
    )
    splits = Splits(seqs["train"], seqs["valid"], seqs["test"])
    return Dataset(cfg, frame, splits, GroupStats(), LabelStats())
