"""Experiment files: every detector setting can be written in one, and the shipped ones load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from collaborlog.data.config import ParserConfig
from collaborlog.errors import ConfigError
from collaborlog.experiments.config import detector_config, load_experiment

ROOT = Path(__file__).resolve().parents[1]

# A value other than the default for each detector setting an experiment may set.
SETTINGS = {
    "align_threshold": 0.7, "pattern_key": "counts", "signature_threshold": 0.65, "new_message_candidates": 5,
    "rewording_overlap": 0.3, "signature_strong": None, "vanish_evidence": 9.0, "common_message_factor": 4.0,
    "contamination": 0.02, "evol_contrast": False, "prompts_dir": "prompts",
    "aem": {"batch_size": 7, "replay": 3}, "governor": {"max_calls": 2, "cache": False},
    "llm": {"backend": "none"}, "small_model": {"k": 3}, "coordinator": {"epochs": 4}, "encoder": {"kind": "hashing"},
}


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("nested", [False, True])
def test_every_detector_setting_written_in_an_experiment_reaches_the_detector(tmp_path, nested):
    body = {"detector": SETTINGS} if nested else SETTINGS
    cfg, _ = load_experiment(_write(tmp_path, {"name": "e", "dataset": "hdfs", **body}))
    det = detector_config(cfg, seed=3, parser=ParserConfig()).model_dump()
    assert det["seed"] == 3
    for key, value in SETTINGS.items():
        if isinstance(value, dict):
            assert {k: det[key][k] for k in value} == value, key
        else:
            assert det[key] == value, key
    defaults = detector_config(load_experiment(_write(tmp_path, {"name": "e", "dataset": "hdfs"}))[0], 0,
                               ParserConfig()).model_dump()
    assert all(det[k] != defaults[k] for k in SETTINGS)  # each setting above is one a test can tell apart


def test_a_setting_given_twice_or_unknown_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="contamination given both"):
        load_experiment(_write(tmp_path, {"name": "e", "dataset": "hdfs", "contamination": 0.1,
                                          "detector": {"contamination": 0.2}}))
    with pytest.raises(ConfigError):
        load_experiment(_write(tmp_path, {"name": "e", "dataset": "hdfs", "align_treshold": 0.5}))


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_the_shipped_experiment_files_load(path):
    cfg, _ = load_experiment(path)
    assert cfg.name and cfg.detector.aem.batch_size > 0


def test_test_split_later_tests_after_the_gap(data_dir):
    from collaborlog.experiments.config import ExperimentConfig
    from collaborlog.experiments.testsets import load_experiment_dataset, test_split

    cfg = ExperimentConfig(name="gap", dataset="bgl-2k-gap", test_split="later")
    ds = load_experiment_dataset(cfg.dataset, cfg, None, data_dir)
    later = test_split(cfg, None, data_dir, ds)
    assert [s.id for s in later.sequences] == [s.id for s in ds.splits.later] and later.sequences
    assert min(s.start for s in later.sequences) > max(s.start for s in ds.splits.train)
    plain = ExperimentConfig(name="plain", dataset="bgl-2k", test_split="later")
    with pytest.raises(ConfigError, match="kind: gap"):
        test_split(plain, None, data_dir, load_experiment_dataset(plain.dataset, plain, None, data_dir))
