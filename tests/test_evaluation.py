from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from collaborlog.experiments.config import ExperimentConfig, load_experiment
from collaborlog.experiments.fastpath import fit_fast_path, predict_test, prepare, run_evaluation, write_report
from collaborlog.records import UNLABELLED

FAST = {"encoder": {"kind": "hashing"}, "coordinator": {"epochs": 5}, "small_model": {"epochs": 3}}


def _config(**kw) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": "t", "dataset": "hdfs-20k", **FAST, **kw})


def test_no_label_leakage_predictions_ignore_test_labels(data_dir):
    data = prepare(_config(), None, data_dir)
    models = fit_fast_path(_config(), data, seed=0)
    reference = predict_test(models, data.test)
    rng = np.random.default_rng(0)
    for y_test in (np.full_like(data.y["test"], UNLABELLED), rng.permutation(data.y["test"])):
        blinded = dataclasses.replace(
            data, y={**data.y, "test": y_test},
            test_sequences=[dataclasses.replace(s, label=int(v)) for s, v in zip(data.test_sequences, y_test)])
        again = predict_test(fit_fast_path(_config(), blinded, seed=0), blinded.test)
        np.testing.assert_array_equal(again.sm_verdict, reference.sm_verdict)
        np.testing.assert_array_equal(again.to_llm, reference.to_llm)
        np.testing.assert_array_equal(again.baseline_verdict, reference.baseline_verdict)


def test_evaluation_report_files_and_determinism(data_dir, tmp_path):
    cfg = _config(evolve={"seed": 1, "template_ratio": 0.3}, seeds=[0, 1])
    a = run_evaluation(cfg, None, data_dir)
    b = run_evaluation(cfg, None, data_dir)
    # Same config and seeds, same numbers (timings aside).
    for ra, rb in zip(a.seeds, b.seeds):
        assert [row.scores for row in ra.rows] == [row.scores for row in rb.rows]
        assert ra.tau_sensitivity == rb.tau_sensitivity and ra.k == rb.k and ra.evolution == rb.evolution
    r = a.seeds[0]
    assert {row.system.split(":")[0] for row in r.rows} >= {"small model alone", "baseline"}
    assert r.evolution is not None and 0 < r.evolution["changed_share"] <= 1
    assert [t["quantile"] for t in r.tau_sensitivity] == list(cfg.quantiles)
    shares = [t["llm_share"] for t in r.tau_sensitivity]
    assert shares == sorted(shares, reverse=True)
    files = write_report(a, tmp_path)
    assert {p.name for p in files} == {"results.json", "results.md", "tau_sensitivity.png", "k_sensitivity.png"}
    assert "| small model alone |" in (tmp_path / "results.md").read_text()


def test_shipped_configs_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    for path in sorted(root.glob("*.yaml")):
        cfg, _ = load_experiment(path)
        assert cfg.name == path.stem


def test_unknown_experiment_key_is_named(tmp_path):
    from collaborlog.errors import ConfigError

    path = tmp_path / "x.yaml"
    path.write_text("name: x\ndataset: hdfs\nsmall_modle: {}\n")
    with pytest.raises(ConfigError, match="small_modle"):
        load_experiment(path)
