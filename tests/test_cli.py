from __future__ import annotations

import json
import subprocess
import sys


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "collaborlog", *args], capture_output=True, text=True, env=env)


def test_summary_json(data_dir):
    out = _run("summary", "bgl-2k", "--json", "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["lines"] == 2000 and result["sequences"] == 200 and result["anomalous_sequences"] == 40


def test_summary_table_lists_splits(data_dir):
    out = _run("summary", "hdfs-20k", "--data-dir", str(data_dir))
    assert out.returncode == 0 and "test split" in out.stdout and "1,782" in out.stdout


def test_errors_are_messages_with_exit_code_2(tmp_path):
    out = _run("summary", "hdfs", "--data-dir", str(tmp_path))
    assert out.returncode == 2
    assert "error:" in out.stderr and "Traceback" not in out.stderr and "--data-dir" in out.stderr
    out = _run("summary", "no-such-preset")
    assert out.returncode == 2 and "presets are" in out.stderr


def test_convert_logevol_requires_opt_in(tmp_path):
    out = _run("convert-logevol", str(tmp_path))
    assert out.returncode == 2 and "--allow-pickle" in out.stderr


def test_fit_then_detect_a_users_log(data_dir, tmp_path):
    import pytest

    pytest.importorskip("llama_cpp")
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("name: exp\ndataset: hdfs-20k\nencoder: {kind: hashing}\ncoordinator: {epochs: 5}\n"
                   "small_model: {epochs: 3}\nllm: {model: smollm2-135m, context: 2048}\n"
                   "governor: {max_calls: 2, cache: false}\n")
    model = tmp_path / "model"
    out = _run("fit", "hdfs-20k", "--out", str(model), "--config", str(cfg), "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    assert (model / "manifest.json").is_file()
    det = tmp_path / "detections.jsonl"
    out = _run("detect", str(model), "hdfs-20k", "--split", "test", "--data-dir", str(data_dir), "--out", str(det))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in det.read_text().splitlines()]
    assert len(rows) == 178 and "sequences judged" in out.stdout
    assert {r["branch"] for r in rows} <= {"small_model", "reused", "evol_detect", "ad_certain", "ad_uncertain", "fallback"}
