"""Experiment tracking: ``tracking:`` in an experiment YAML logs to wandb offline; without it nothing is logged."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from collaborlog.cli import app
from collaborlog.errors import ConfigError
from collaborlog.experiments.config import ExperimentConfig, load_experiment
from collaborlog.experiments.fastpath import run_evaluation

FAST = {"encoder": {"kind": "hashing"}, "coordinator": {"epochs": 5}, "small_model": {"epochs": 3}}


@pytest.fixture
def wandb_home(tmp_path, monkeypatch):
    """Keep wandb's own logs and settings out of the user's home."""
    for var in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb-home"))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)


def _write(tmp_path, **kw):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({"name": "exp", "dataset": "hdfs-20k", **FAST, **kw}))
    return path


def test_tracking_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="colour"):
        load_experiment(_write(tmp_path, tracking={"backend": "wandb", "colour": "red"}))
    with pytest.raises(ConfigError):
        load_experiment(_write(tmp_path, tracking={"backend": "mlflow"}))
    cfg, _ = load_experiment(_write(tmp_path, tracking={"backend": "wandb"}))
    assert cfg.tracking is not None and cfg.tracking.mode == "offline"


def test_tracked_run_carries_the_report_numbers(data_dir):
    cfg = ExperimentConfig.model_validate({"name": "t", "dataset": "hdfs-20k", **FAST, "seeds": [0, 1]})
    report = run_evaluation(cfg, None, data_dir)
    run = report.tracked()
    assert run.name == "t" and run.params["detector/encoder/kind"] == "hashing"
    for result in report.seeds:
        for row in result.rows:
            assert run.metrics[f"seed{result.seed}/{row.system}/f1"] == row.scores.f1
    sm = [row.scores.f1 for r in report.seeds for row in r.rows if row.system == "small model alone"]
    assert run.metrics["small model alone/f1"] == pytest.approx(sum(sm) / len(sm))
    assert len(run.tables["results"].rows) == sum(len(r.rows) for r in report.seeds)


@pytest.mark.usefixtures("wandb_home")
def test_evaluate_logs_an_offline_wandb_run(data_dir, tmp_path):
    pytest.importorskip("wandb")
    config = _write(tmp_path, tracking={"backend": "wandb"})
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["evaluate", "--config", str(config), "--data-dir", str(data_dir),
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "tracked in wandb (offline)" in result.output
    runs = list((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    logged = runs[0].read_bytes()
    f1 = json.loads((out / "results.json").read_text())["seeds"][0]["rows"][0]["scores"]["f1"]
    assert b"seed0/small model alone/f1" in logged and json.dumps(f1).encode() in logged
    assert b"tau_sensitivity" in logged  # the plots are logged as images


def test_without_tracking_nothing_is_logged(data_dir, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["evaluate", "--config", str(_write(tmp_path)), "--data-dir", str(data_dir),
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert not (out / "wandb").exists() and "tracked in" not in result.output
