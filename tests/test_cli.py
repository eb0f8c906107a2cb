from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import subprocess
import sys

import pytest


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


def test_error_quoting_a_log_line_keeps_its_brackets(tmp_path):
    # Rich would read "[myid=1]" as markup and drop it, and "[/QuorumPeer]" would raise a MarkupError.
    log = tmp_path / "zk.log"
    log.write_text("2015-07-29 [myid=1] [/QuorumPeer] - WARN no colon here\n", encoding="utf-8")
    ds = tmp_path / "zk.yaml"
    ds.write_text("name: zk\nsource: {kind: text, path: zk.log, log_format: '<Date> <Time>: <Content>'}\n"
                  "grouping: {kind: count, size: 10, step: 10}\nlabels: {kind: none}\n", encoding="utf-8")
    out = _run("summary", str(ds))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "[myid=1]" in out.stderr and "[/QuorumPeer]" in out.stderr


def test_fit_then_detect_into_a_new_folder(data_dir, tmp_path, free_port):
    # The LLM is a server that is down: every routed sequence falls back, with a reason, and the
    # detections are written into a folder that did not exist (created before the work starts).
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("name: exp\ndataset: hdfs-20k\nencoder: {kind: hashing}\ncoordinator: {epochs: 5}\n"
                   "small_model: {epochs: 3}\nllm: {backend: openai, model: m, timeout_s: 2, max_retries: 0}\n"
                   "governor: {max_calls: 2, cache: false}\n")
    model = tmp_path / "model"
    out = _run("fit", "hdfs-20k", "--out", str(model), "--config", str(cfg), "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    assert (model / "manifest.json").is_file()
    det = tmp_path / "not" / "yet" / "detections.jsonl"
    out = _run("detect", str(model), "hdfs-20k", "--split", "test", "--data-dir", str(data_dir), "--out", str(det),
               "--llm", f"http://127.0.0.1:{free_port}/v1")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in det.read_text().splitlines()]
    assert len(rows) == 178 and "sequences judged" in out.stdout
    assert {r["branch"] for r in rows} <= {"small_model", "reused", "evol_detect", "ad_certain", "ad_uncertain", "fallback"}
    fell_back = [r for r in rows if r["branch"] == "fallback"]
    assert all(r["fallback"] for r in fell_back)
    # The console says the LLM failed; it never claims the fallen-back sequences were judged.
    assert (f"{len(fell_back):,} fell back" in " ".join(out.stdout.split())) == bool(fell_back)
    out = _run("detect", str(model), "hdfs-20k", "--split", "test", "--data-dir", str(data_dir), "--out", str(det),
               "--llm", "none")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in det.read_text().splitlines()]
    assert len(rows) == 178 and not {r["branch"] for r in rows} & {"fallback", "ad_certain", "ad_uncertain"}
    # For scripts: the same verdicts as rows on stdout, the summary on stderr (or nowhere with --quiet).
    out = _run("detect", str(model), "hdfs-20k", "--split", "test", "--data-dir", str(data_dir), "--llm", "none",
               "--format", "csv", "--quiet")
    assert out.returncode == 0, out.stderr
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [(r["sequence_id"], int(r["verdict"])) for r in table] == [(r["sequence_id"], r["verdict"]) for r in rows]
    assert "sequences judged" not in out.stderr
    out = _run("detect", str(model), "hdfs-20k", "--split", "test", "--data-dir", str(data_dir), "--llm", "none",
               "--quiet")
    assert out.stdout.split() == [r["sequence_id"] for r in sorted(rows, key=lambda r: -r["score"]) if r["verdict"] == 1]
    # models verify: each file's sha256 as sha256sum prints it; one changed byte is exit 2, no traceback.
    out = _run("models", "verify", str(model))
    assert out.returncode == 0, out.stderr
    listed = dict(reversed(line.split("  ")) for line in out.stdout.splitlines())
    assert "manifest.json" in listed and len(listed) == len(list(model.iterdir()))
    assert all(hashlib.sha256((model / n).read_bytes()).hexdigest() == h for n, h in listed.items())
    # The same log gzipped through stdin gives the same verdicts.
    packed = gzip.compress((data_dir / "logai_samples" / "HDFS_20000.log").read_bytes())
    out = subprocess.run([sys.executable, "-m", "collaborlog", "detect", str(model), "hdfs-20k", "--split", "test",
                          "--data-dir", str(data_dir), "--llm", "none", "--format", "jsonl", "--log", "-"],
                         input=packed, capture_output=True)
    assert out.returncode == 0, out.stderr
    piped = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [(r["sequence_id"], r["verdict"]) for r in piped] == [(r["sequence_id"], r["verdict"]) for r in rows]
    part = next(p for p in model.iterdir() if p.name != "manifest.json" and p.stat().st_size > 0)
    part.write_bytes(bytes([part.read_bytes()[0] ^ 1]) + part.read_bytes()[1:])
    out = _run("models", "verify", str(model))
    assert out.returncode == 2 and part.name in out.stderr and "Traceback" not in out.stderr


def test_detect_refuses_a_folder_as_out_before_any_work(tmp_path):
    out = _run("detect", str(tmp_path / "no-model"), "hdfs-20k", "--out", str(tmp_path))
    assert out.returncode == 2 and "is a folder" in out.stderr


def test_label_free_fit_and_detect_without_an_llm_on_an_unlabelled_sample(data_dir, tmp_path):
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "examples" / "loghub"
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("name: exp\ndataset: zookeeper\nencoder: {kind: hashing}\ncoordinator: {epochs: 5}\n"
                   "small_model: {epochs: 3}\n")
    model = tmp_path / "model"
    out = _run("fit", str(examples / "zookeeper.yaml"), "--out", str(model), "--config", str(cfg),
               "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    assert "label-free" in out.stdout and "mostly normal" in out.stdout
    det = tmp_path / "d.jsonl"
    out = _run("detect", str(model), str(examples / "zookeeper.yaml"), "--split", "test", "--llm", "none",
               "--data-dir", str(data_dir), "--out", str(det))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in det.read_text().splitlines()]
    assert len(rows) == 40 and {r["branch"] for r in rows} <= {"small_model", "reused", "not_judged"}
    # Scoring needs labels: evaluating the unlabelled sample is a message, not a traceback.
    exp = tmp_path / "eval.yaml"
    exp.write_text(f"name: eval\ndataset: {examples / 'zookeeper.yaml'}\nencoder: {{kind: hashing}}\n"
                   "coordinator: {epochs: 5}\nsmall_model: {epochs: 3}\nllm: {backend: none}\n")
    out = _run("evaluate", "--config", str(exp), "--data-dir", str(data_dir), "--output", str(tmp_path / "eval"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "have no label" in out.stderr and "collaborlog detect" in out.stderr
    out = _run("fit", str(examples / "zookeeper.yaml"), "--out", str(tmp_path / "m2"), "--config", str(cfg),
               "--contamination", "0.7", "--data-dir", str(data_dir))
    assert out.returncode == 2 and "--contamination 0.7" in out.stderr and "Traceback" not in out.stderr


def test_a_malformed_llm_url_is_a_clear_error():
    from collaborlog.cli import llm_config
    from collaborlog.errors import CollaborLogError
    from collaborlog.llm.backends import LLMConfig

    with pytest.raises(CollaborLogError, match="not a usable LLM setting"):
        llm_config("http://user:secret@exa mple:99999/v1", None, LLMConfig())
    assert llm_config("none", None, LLMConfig()).backend == "none"
