"""Line-level localisation: which lines of an anomalous sequence are blamed, and where they were read.

A tiny supervised detector on a synthetic world of file writes (a few of which fail); a new
failure line is injected into an otherwise normal write, and must be blamed first. File names
and line numbers are checked against the files themselves, across two files (one gzip), and
through every way detections leave the program: the library, ``detect``'s jsonl, csv, table and
``--json``, and the HTML report.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from synthetic import FAILED, NORMAL, world

from collaborlog.data.config import DatasetConfig
from collaborlog.data.dataset import load_dataset
from collaborlog.detector import localise
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.experiments.report import load_report, render
from collaborlog.ops.output import OutputFormat
from collaborlog.ops.output import render as render_rows
from collaborlog.verdicts import BlameReason

INJECTED = "Replica {n} lost: checksum mismatch"
CONFIG = {"encoder": {"kind": "hashing"}, "coordinator": {"epochs": 5}, "small_model": {"epochs": 2, "k": 3},
          "llm": {"backend": "none"}}


@pytest.fixture(scope="module")
def detector() -> CollaborLog:
    labels = [1 if k % 20 == 0 else 0 for k in range(400)]
    frame, seqs = world([FAILED if y else NORMAL for y in labels], labels, "h")
    return CollaborLog(DetectorConfig.model_validate(CONFIG)).fit(frame, seqs[:320], seqs[320:])


def stream(levels: bool = True):
    """Twenty normal writes, and one cut short by a new failure line after it opened its file
    (twenty-one sequences, so that a new message is rare among them)."""
    injected = [NORMAL[0], ("ERROR", INJECTED), NORMAL[3]]
    frame, seqs = world([NORMAL] * 20 + [injected], [0] * 21, "s")
    if not levels:
        frame = replace(frame, fields={})
    return frame, seqs


def test_the_injected_failure_line_is_blamed_first(detector):
    frame, seqs = stream()
    detections = detector.detect(frame, seqs)
    assert all(d.verdict == 0 and d.blame == () for d in detections[:20])
    d = detections[-1]
    assert d.verdict == 1
    first = d.blame[0]
    assert first.position == 1 and first.text == frame.content[int(seqs[-1].lines[1])]
    assert {BlameReason.PROBLEM_LEVEL, BlameReason.NEW, BlameReason.UNLIKE_NEIGHBOUR} <= set(first.reasons)
    assert all(b.score < first.score for b in d.blame[1:])
    # Lines read from no file say so, and the frame's own time is kept.
    assert (first.file, first.line_number) == (None, None) and first.timestamp == float(seqs[-1].lines[1])


def test_without_levels_the_line_the_history_never_showed_still_ranks_first(detector):
    frame, seqs = stream(levels=False)
    features = detector.features(frame, seqs)
    judged = [replace(d, verdict=1) for d in detector.detect(frame, seqs)]
    blamed = localise.blame(detector, frame, seqs, features, judged)
    assert blamed[-1].blame[0].position == 1
    assert BlameReason.PROBLEM_LEVEL not in blamed[-1].blame[0].reasons
    # A normal write has no line with any evidence against it: nothing is blamed.
    assert blamed[0].blame == ()


def test_a_line_the_reason_quotes_is_cited_and_top_k_bounds_the_list(detector):
    frame, seqs = stream(levels=False)
    features = detector.features(frame, seqs)
    closed = frame.content[int(seqs[-1].lines[2])]
    judged = [replace(d, verdict=1, reason=f"the LLM says {closed!r} closed too early") for d in detector.detect(frame, seqs)]
    blamed = localise.blame(detector, frame, seqs, features, judged, top_k=1)[-1].blame
    assert len(blamed) == 1
    cited = localise.blame(detector, frame, seqs, features, judged, top_k=5)[-1].blame
    assert any(b.position == 2 and BlameReason.CITED in b.reasons for b in cited)
    assert localise.blame(detector, frame, seqs, features, judged, top_k=0)[-1].blame == ()


def _line(k: int, level: str, text: str) -> str:
    return f"2024-01-01 00:{k // 60 % 60:02d}:{k % 60:02d} {level} {text}"


def _write_world(path: Path, sessions: list[list[tuple[str, str]]], first: int, gz: bool = False) -> dict[str, str]:
    """Sessions as text lines (a blank line after each, so line numbers differ from positions); returns line -> text."""
    lines = []
    for k, session in enumerate(sessions):
        n = first + k
        lines += [_line(n, level, text.format(n=n).replace(f"{n}", f"file-{n}", 1)) for level, text in session] + [""]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return {f"{path.name}:{i}": line for i, line in enumerate(lines, 1)}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A history log with its labels, a dataset YAML and experiment file for it, and two logs to judge."""
    folder = tmp_path_factory.mktemp("two-files")
    labels = [1 if k % 20 == 0 else 0 for k in range(300)]
    _write_world(folder / "history.log", [FAILED if y else NORMAL for y in labels], 0)
    (folder / "labels.csv").write_text("id,label\n" + "".join(f"file-{k},{y}\n" for k, y in enumerate(labels)))
    (folder / "files.yaml").write_text(
        "name: files\nsource: {kind: text, path: history.log, log_format: '<Date> <Time> <Level> <Content>',\n"
        "  timestamp: {fields: [Date, Time], format: '%Y-%m-%d %H:%M:%S'}}\n"
        "grouping: {kind: session, regex: 'file-\\d+'}\n"
        "labels: {kind: session_file, path: labels.csv, id_column: id, label_column: label}\n")
    (folder / "exp.yaml").write_text("name: files\ndataset: files.yaml\n" + "".join(
        f"{k}: {json.dumps(v)}\n" for k, v in CONFIG.items()))
    injected = [NORMAL[0], ("ERROR", INJECTED), NORMAL[3]]
    text = _write_world(folder / "first.log", [NORMAL] * 12, 1000)
    text.update(_write_world(folder / "second.log.gz", [NORMAL] * 9 + [injected], 2000, gz=True))
    (folder / "lines.json").write_text(json.dumps(text))
    return folder


def test_file_and_line_numbers_are_right_across_two_files_and_gzip(files):
    cfg = DatasetConfig.model_validate({
        "name": "two", "source": {"kind": "text", "path": "first.log", "more_paths": ["second.log.gz"],
                                  "log_format": "<Date> <Time> <Level> <Content>"},
        "grouping": {"kind": "session", "regex": r"file-\d+"}, "labels": {"kind": "none"}})
    ds = load_dataset(cfg, files)
    truth = json.loads((files / "lines.json").read_text())
    assert ds.log.origins is not None and len(ds.log) == 12 * 4 + 9 * 4 + 3
    for i in range(len(ds.log)):
        file, number = ds.log.where(i)
        assert file is not None and Path(file).parent == files
        # The raw line at that file and number holds exactly the content read.
        assert truth[f"{Path(file).name}:{number}"].endswith(ds.log.content[i])
    assert ds.log.where(0)[1] == 1 and ds.log.where(4)[1] == 6  # the blank line after each session counts
    assert Path(ds.log.where(48)[0]).name == "second.log.gz" and ds.log.where(48)[1] == 1
    assert ds.log.origins.file.dtype == np.int32 and ds.log.origins.number.dtype == np.int64


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collaborlog", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def model(files) -> Path:
    out = _run("fit", str(files / "files.yaml"), "--out", str(files / "model"), "--config", str(files / "exp.yaml"),
               "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["model"] == str(files / "model") and summary["mode"] == "supervised"
    assert summary["train_sequences"] == 240 and summary["lines"] == 300 * 4
    return files / "model"


def _detect(files: Path, model: Path, *more: str) -> subprocess.CompletedProcess:
    return _run("detect", str(model), str(files / "files.yaml"), "--log", str(files / "first.log"),
                "--log", str(files / "second.log.gz"), *more)


def _check_injected(blamed: dict, files: Path) -> None:
    truth = json.loads((files / "lines.json").read_text())
    assert Path(blamed["file"]).name == "second.log.gz" and blamed["line"] == 9 * 5 + 2
    assert truth[f"second.log.gz:{blamed['line']}"].endswith(blamed["text"]) and "lost" in blamed["text"]
    assert "problem_level" in blamed["reasons"]


def test_detect_jsonl_and_csv_carry_the_blamed_lines(files, model):
    out = _detect(files, model, "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    rows = {r["sequence_id"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert len(rows) == 22 and rows["file-2009"]["verdict"] == 1
    _check_injected(rows["file-2009"]["lines"][0], files)
    assert all(r["lines"] == [] for r in rows.values() if r["verdict"] == 0)
    out = _detect(files, model, "--format", "csv")
    assert out.returncode == 0, out.stderr
    by_id = {r["sequence_id"]: r for r in csv.DictReader(io.StringIO(out.stdout))}
    _check_injected(json.loads(by_id["file-2009"]["lines"])[0], files)


def test_detect_json_prints_one_summary_object_with_the_lines(files, model):
    out = _detect(files, model, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)  # the whole of stdout is one object
    assert summary["sequences"] == 22 and summary["anomalous"] == 1 and summary["split"] == "all"
    assert {"routed", "judged", "fell_back", "not_judged", "out", "learned"} <= set(summary)
    (anomaly,) = summary["anomalies"]
    assert anomaly["sequence_id"] == "file-2009"
    _check_injected(anomaly["lines"][0], files)
    # Not on a terminal: no progress bar is drawn on stderr.
    assert "━" not in out.stderr


def test_detect_json_refuses_row_formats_on_stdout(files, model):
    out = _detect(files, model, "--json", "--format", "jsonl")
    assert out.returncode == 2 and "--json" in out.stderr and "--out" in out.stderr


def test_detect_table_names_file_and_line(files, model):
    out = _detect(files, model)
    assert out.returncode == 0, out.stderr
    assert f"second.log.gz:{9 * 5 + 2}" in out.stdout and "lost" in out.stdout


def test_verbose_logs_steps_on_stderr_only(files, model):
    out = _run("-v", "detect", str(model), str(files / "files.yaml"), "--log", str(files / "first.log"), "--json")
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)
    assert "first.log" in out.stderr and "line(s)" in out.stderr


def test_stdin_is_named_dash(files, model):
    data = (files / "second.log.gz").read_bytes()
    out = subprocess.run([sys.executable, "-m", "collaborlog", "detect", str(model), str(files / "files.yaml"),
                          "--log", "-", "--json"], input=data, capture_output=True)
    assert out.returncode == 0, out.stderr
    (anomaly,) = json.loads(out.stdout)["anomalies"]
    assert anomaly["lines"][0]["file"] == "-" and anomaly["lines"][0]["line"] == 9 * 5 + 2


def test_the_report_lists_and_highlights_the_blamed_lines(files, model, tmp_path):
    detections = tmp_path / "detections.jsonl"
    out = _detect(files, model, "--out", str(detections), "--quiet")
    assert out.returncode == 0, out.stderr
    data = load_report(detections, {"file-2009": ["a", "Replica lost", "c"]})
    (explained,) = [d for d in data.detections if d.verdict == 1]
    assert explained.blame[0].position == 1 and explained.blame[0].where().endswith(f"second.log.gz:{9 * 5 + 2}")
    page = render(data)
    assert '<span class="blame">Replica lost</span>' in page and "problem_level" in page


def test_rows_without_blame_still_render(detector):
    frame, seqs = stream()
    rows = render_rows(detector.detect(frame, seqs), OutputFormat.JSONL).splitlines()
    assert json.loads(rows[0])["lines"] == [] and json.loads(rows[-1])["lines"][0]["position"] == 1
