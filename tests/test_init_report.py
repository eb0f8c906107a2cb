"""``collaborlog init`` (guessing a dataset YAML) and ``collaborlog report`` (a self-contained HTML page)."""

from __future__ import annotations

import base64
import gzip
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from collaborlog.cli import app
from collaborlog.data.config import CountGrouping, SessionGrouping, TimeGrouping, load_dataset_config
from collaborlog.data.dataset import load_dataset
from collaborlog.data.guess import guess_dataset, guess_format, guess_grouping, init, tokenize
from collaborlog.errors import CollaborLogError
from collaborlog.experiments.report import load_report, quoted_lines, render, write_report

LOGHUB_SYSTEMS = ["HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "OpenStack"]

# A 1x1 PNG: the report embeds bytes as they are, so any real PNG will do.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- init: the guessing, on synthetic lines


def test_tokenize_keeps_a_bracketed_part_with_spaces_as_one_token():
    assert tokenize("a [x y] b: rest of it") == ["a", "[x y]", "b:", "rest", "of", "it"]
    # As the reader reads \[<F>\]: the part ends at the first ']' that ends a word.
    assert tokenize("[Peer[id=1]/0:2181@7] - msg")[0] == "[Peer[id=1]/0:2181@7]"


def test_java_style_lines_give_date_time_level_bracket_component():
    lines = [f"2015-07-29 17:41:{i % 60:02d},{i:03d} {'WARN' if i % 7 else 'INFO'} [main-{i % 3}] org.x.Y{i % 4}: "
             f"event {i} happened" for i in range(50)]
    fmt, _, stamp = guess_format(lines)
    assert fmt == r"<Date> <Time> <Level> \[<Context>\] <Component>: <Content>"
    assert stamp is not None and stamp[1].fields == ("Date", "Time") and stamp[1].format == "%Y-%m-%d %H:%M:%S,%f"


def test_syslog_lines_give_month_day_time_and_component():
    lines = [f"Jun {1 + i % 9} 15:16:{i % 60:02d} host{i % 2} sshd[{100 + i}]: session opened for user u{i}"
             for i in range(40)]
    fmt, _, stamp = guess_format(lines)
    assert fmt == "<Month> <Day> <Time> <Field> <Component>: <Content>"
    assert stamp is not None and stamp[1].format == "%b %d %H:%M:%S"


def test_epoch_and_compact_timestamps():
    epoch = [f"{1117838570 + i} node-{i % 5} disk {i} is warm" for i in range(30)]
    fmt, _, stamp = guess_format(epoch)
    # Nothing marks where a header would end after the stamp: the rest is the message.
    assert fmt == "<Timestamp> <Content>" and stamp[1].format == "unix"
    compact = [f"081109 2035{i % 60:02d} {140 + i} INFO dfs.DataNode: Receiving block blk_{i}" for i in range(30)]
    fmt, _, stamp = guess_format(compact)
    assert fmt == "<Date> <Time> <Number> <Level> <Component>: <Content>" and stamp[1].format == "%y%m%d %H%M%S"


def test_a_few_odd_lines_do_not_spoil_the_format_and_plain_text_is_all_content():
    lines = [f"2020-01-02 03:04:{i % 60:02d} ERROR svc: failure {i}" for i in range(97)] + ["  a stack frame"] * 3
    assert guess_format(lines)[0] == "<Date> <Time> <Level> <Component>: <Content>"
    fmt, columns, stamp = guess_format([f"just words number {i} here" for i in range(20)])
    assert fmt == "<Content>" and stamp is None and len(columns) == 1


def test_grouping_prefers_a_session_key_carried_by_most_lines():
    ids = [f"req-{k:08x}-aaaa-bbbb-cccc-{k:012x}" for k in range(10)]
    contents = [f"[{ids[i % 10]}] step {i}" for i in range(60)]
    grouping, why = guess_grouping(contents, np.full(60, np.nan))
    assert grouping == {"kind": "session", "regex": r"req-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"}
    assert "6.0 lines per id" in why


def test_grouping_skips_one_line_sessions_and_picks_time_or_count_windows():
    one_line_ids = [f"block blk_{i} done" for i in range(100)]
    even = np.arange(100, dtype=float) * 3.0  # one line every 3 s
    grouping, why = guess_grouping(one_line_ids, even)
    assert grouping["kind"] == "time" and grouping["seconds"] == 30
    assert "one line" in why
    grouping, _ = guess_grouping(one_line_ids, np.full(100, np.nan))
    assert grouping == {"kind": "count", "size": 10, "step": 10}
    bursty = np.concatenate([np.zeros(195), np.arange(1, 6) * 10_000.0])  # 3,600 s windows: one holds 195 lines
    grouping, why = guess_grouping([f"line {i}" for i in range(200)], bursty)
    assert grouping["kind"] == "count" and "bursts" in why


def test_init_writes_a_commented_yaml_that_loads_and_refuses_to_overwrite(tmp_path):
    lines = [f"2021-03-04T05:06:{i % 60:02d}Z {'INFO' if i % 5 else 'ERROR'} worker{i % 3}: job job_1_{i % 8} "
             f"step {i}" for i in range(80)]
    sample = tmp_path / "app.log.gz"
    sample.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    out = tmp_path / "cfg" / "app.yaml"
    guess, check = init(sample, out, name="my-app")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Guessed by `collaborlog init`") and "# Grouping:" in text and "# Timestamp:" in text
    cfg = load_dataset_config(out)
    assert cfg == guess.config and cfg.name == "my-app"
    assert cfg.source.log_format == "<Timestamp> <Level> <Component>: <Content>"
    assert cfg.source.timestamp.format == "auto"
    assert isinstance(cfg.grouping, SessionGrouping) and cfg.grouping.regex == r"job_\d+_\d+"
    assert cfg.labels.kind == "none" and cfg.split.kind == "chronological"
    # The path is written as given; the whole (gzip) file loads with it.
    ds = load_dataset(cfg, out.parent)
    assert len(ds.log) == 80 and ds.log.matched.all() and np.isfinite(ds.log.timestamp).all()
    assert check.matched_share == 1.0 and len(check.records) == 5 and len(check.sequences) == 3
    assert check.records[0] == {"Timestamp": "2021-03-04T05:06:00Z", "Level": "ERROR", "Component": "worker0",
                                "Content": "job job_1_0 step 0"}
    with pytest.raises(CollaborLogError, match="already exists.*--force"):
        init(sample, out)
    init(sample, out, name="other", force=True)
    assert load_dataset_config(out).name == "other"


def test_init_relative_path_and_errors(tmp_path):
    (tmp_path / "logs").mkdir()
    sample = _write(tmp_path / "logs" / "x.log", [f"line {i}" for i in range(30)])
    guess, check = init(sample, tmp_path / "x.yaml")
    assert guess.config.source.path == "logs/x.log" and isinstance(guess.config.grouping, CountGrouping)
    assert check.matched_share == 1.0
    with pytest.raises(CollaborLogError, match="does not exist"):
        guess_dataset(tmp_path / "missing.log")
    with pytest.raises(CollaborLogError, match="no non-blank line"):
        guess_dataset(_write(tmp_path / "blank.log", ["", "   "]))
    # A structured file's header row is no log line: init says how to describe it instead.
    table = _write(tmp_path / "logs.csv.gz", ["Date,Level,Content", "2024-01-01,INFO,started"])
    with pytest.raises(CollaborLogError, match="kind: csv"):
        init(table, tmp_path / "t.yaml")
    assert not (tmp_path / "t.yaml").exists()
    # A binary file is named as given, not as the sample init copies it to; NUL padding is no binary.
    binary = tmp_path / "core.log"
    binary.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    with pytest.raises(CollaborLogError, match=f"{binary} does not look like a text log"):
        init(binary, tmp_path / "b.yaml")
    padded = tmp_path / "rotated.log"
    padded.write_bytes(b"\x00" * 5000 + b"".join(f"2024-01-02 03:04:{i % 60:02d} INFO svc: tick {i}\n".encode()
                                                   for i in range(40)))
    guess, check = init(padded, tmp_path / "p.yaml")
    assert guess.log_format == "<Date> <Time> <Level> <Component>: <Content>" and check.matched_share == 1.0


def test_cli_init_prints_the_check(tmp_path):
    sample = _write(tmp_path / "svc.log", [f"2020-01-02 03:04:{i % 60:02d} INFO svc: tick {i}" for i in range(40)])
    out = tmp_path / "svc.yaml"
    result = CliRunner().invoke(app, ["init", str(sample), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "matched 40 of 40 sampled lines (100.0%)" in result.output and "tick 0" in result.output
    again = CliRunner().invoke(app, ["init", str(sample), "--out", str(out)])
    assert isinstance(again.exception, CollaborLogError)


@pytest.mark.parametrize("system", LOGHUB_SYSTEMS)
def test_init_guesses_every_loghub_sample(system, data_dir, tmp_path):
    sample = data_dir / "loghub_2k" / system / f"{system}_2k.log"
    if not sample.is_file():
        pytest.skip(f"{sample} is not available")
    out = tmp_path / f"{system}.yaml"
    guess, check = init(sample, out)
    assert check.matched_share >= 0.95, guess.log_format
    assert "<Content>" in guess.log_format and "\\[" not in guess.log_format.replace("\\[<", "")
    ds = load_dataset(load_dataset_config(out), out.parent)
    assert ds.log.matched.mean() >= 0.95 and len(ds.splits.test) > 0
    if guess.config.source.timestamp is not None:
        assert np.isfinite(ds.log.timestamp).all()


# ---------------------------------------------------------------- report


class _Page(HTMLParser):
    """The parts of a page the tests look at: tables (by class) and their rows, text, tags, attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.hits: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_hit = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("class") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "span" and a.get("class") == "hit":
            self._in_hit = True
            self.hits.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._table is not None and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "span":
            self._in_hit = False

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._in_hit:
            self.hits[-1] += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _detections() -> list[dict]:
    return [
        {"sequence_id": "s1", "verdict": 1, "score": 0.93, "route": "llm", "branch": "evol_detect", "loss": 2.0,
         "neighbours": [], "reason": 'The line "disk <sda> failed: I/O error" marks a failure <b>now</b>.'},
        {"sequence_id": "s2", "verdict": 0, "score": 0.1, "route": "small_model", "branch": "small_model",
         "loss": 0.1, "neighbours": [], "reason": ""},
        {"sequence_id": "s3", "verdict": 1, "score": 0.7, "route": "small_model", "branch": "small_model",
         "loss": 0.1, "neighbours": [], "reason": ""},
    ]


def test_report_from_a_detections_file_escapes_and_highlights(tmp_path):
    path = tmp_path / "det.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in _detections()), encoding="utf-8")
    lines = {"s1": ["boot ok", "disk <sda> failed: I/O error", "<script>alert(1)</script>"], "s3": ["x"] * 50}
    out = tmp_path / "r" / "report.html"
    data = write_report(path, out, lines)
    assert len(data.detections) == 3
    page = _parse(out.read_text(encoding="utf-8"))
    # Log text is data: no script element, no element made from a log line or an LLM reason.
    assert "script" not in page.tags and "b" not in page.tags and "style" in page.tags
    text = "".join(page.text)
    assert "<script>alert(1)</script>" in text and "<b>now</b>" in text
    assert page.hits == ["disk <sda> failed: I/O error"]
    assert page.tables["routes"][1:] == [["small_model", "2", "1"], ["llm", "1", "1"]]
    assert page.tables["branches"][1:] == [["small_model", "2", "1"], ["evol_detect", "1", "1"]]
    # Anomalous sequences only, highest score first; a long sequence is cut.
    assert text.index("s1") < text.index("s3") and "s2" not in text.split("Explained detections")[1]
    assert "and 10 more line(s)" in text
    assert not [v for k, v in page.attrs if k in ("href", "src") and not v.startswith("data:")]


def test_report_from_a_results_folder_shows_tables_plots_and_new_messages(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    scores = {"n": 10, "anomalies": 2, "precision": 0.5, "recall": 1.0, "f1": 0.667, "f1_low": 0.2, "f1_high": 1.0,
              "tp": 2, "fp": 2}
    results = {
        "name": "demo<run>", "test_sequences": 3, "test_anomalies": 1, "changed": None,
        "systems": [{"system": "small model alone", "scores": scores, "llm_share": 0.0, "llm_calls": 0,
                     "cached_answers": 0, "tokens": 0, "seconds_per_sequence": 0.001},
                    {"system": "CollaborLog with AEM", "scores": scores, "llm_share": 0.25, "llm_calls": 4,
                     "cached_answers": 1, "tokens": 1234, "seconds_per_sequence": 0.5}],
        "on_sample": [], "on_changed": [], "stream": {},
        "branches": [{"branch": "evol_detect", "share": 0.5, "sequences": 2, "anomalies": 1, "f1": 1.0}],
        "llm_share_by_third": [0.5, 0.2, 0.0], "token_reduction_vs_llm_alone": 0.8,
        "examples": [{"branch": "evol_detect", "system": "with AEM", "sequence": "w1", "label": 1, "verdict": 1,
                      "reason": "`kernel panic <*>` is new", "compared_with": [], "evolved_from": None,
                      "lines": ["start", "kernel panic <*> & halt"]}],
        "new_messages": [{"message": "kernel panic <*> & halt", "level": "FATAL", "rewords": None,
                          "problem": True, "reason": "a <panic>"}],
    }
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (folder / "results.md").write_text("# demo", encoding="utf-8")
    (folder / "detections.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"sequence": "w0", "label": 0, "verdict": 0, "branch": "small_model", "route": "small_model", "reason": ""},
        {"sequence": "w1", "label": 1, "verdict": 1, "branch": "evol_detect", "route": "llm",
         "reason": "`kernel panic <*>` is new"}]), encoding="utf-8")
    (folder / "stream.png").write_bytes(PNG)
    html_text = render(load_report(folder))
    page = _parse(html_text)
    systems = page.tables["systems"]
    assert systems[0][:4] == ["system", "P", "R", "F1 [95% CI]"]
    assert [r[0] for r in systems[1:]] == ["small model alone", "CollaborLog with AEM"]
    assert systems[2][6:8] == ["4 (+1)", "1,234"]
    assert page.tables["evol"][1] == ["evol_detect", "50.0%", "2", "1", "1.000"]
    assert page.tables["new-messages"][1][:4] == ["kernel panic <*> & halt", "FATAL", "a new event", "yes"]
    assert ("src", "data:image/png;base64," + base64.b64encode(PNG).decode()) in page.attrs
    text = "".join(page.text)
    assert "CollaborLog report: demo<run>" in text and "1,234" in text
    assert page.hits == ["kernel panic <*> & halt"]  # the example's lines, the quoted one highlighted
    assert "<run>" not in html_text and "&lt;run&gt;" in html_text


def test_report_explains_only_the_highest_scored(tmp_path, monkeypatch):
    import collaborlog.experiments.report as report

    monkeypatch.setattr(report, "MAX_DETECTIONS_SHOWN", 1)
    path = _write(tmp_path / "det.jsonl", [json.dumps(d) for d in _detections()])
    text = "".join(_parse(render(load_report(path))).text).split("Explained detections")[1]
    assert "2 anomalous sequence(s) (the 1 highest-scored shown)" in text and "s1" in text and "s3" not in text


def test_report_errors_and_cli(tmp_path):
    with pytest.raises(CollaborLogError, match="neither results.json nor detections.jsonl"):
        load_report(tmp_path)
    bad = _write(tmp_path / "bad.jsonl", ["{not json"])
    with pytest.raises(CollaborLogError, match="line 1 is not JSON"):
        load_report(bad)
    path = _write(tmp_path / "det.jsonl", [json.dumps(d) for d in _detections()])
    out = tmp_path / "out.html"
    result = CliRunner().invoke(app, ["report", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 sequences, 2 anomalous" in " ".join(result.output.split()) and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_quoted_lines():
    lines = ["alpha beta gamma", "delta epsilon", "ok"]
    assert quoted_lines('see "beta gamma" here', lines) == {0}
    assert quoted_lines("the line delta epsilon repeats", lines) == {1}
    assert quoted_lines("'ok' is short", lines) == set()


def test_yaml_written_by_init_round_trips_odd_file_names(tmp_path):
    # A quote, and a character YAML reads as a line break, in the path (a value) and in the header comment.
    sample = _write(tmp_path / "o'brien\u2028x.log", [f"x{i} 2020-01-01 00:00:0{i % 10} it's fine" for i in range(12)])
    out = tmp_path / "q.yaml"
    guess, _ = init(sample, out)
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["source"]["path"] == "o'brien\u2028x.log"
    assert load_dataset_config(out) == guess.config
    assert isinstance(guess.config.grouping, (CountGrouping, TimeGrouping))


def test_report_shows_the_lines_of_the_log_detect_read(tmp_path):
    from collaborlog.data.dataset import load_dataset, resolve_config

    own, other = tmp_path / "own.log", tmp_path / "other.log"
    own.write_text("".join(f"own line {k}\n" for k in range(20)), encoding="utf-8")
    other.write_text("".join(f"other line {k}\n" for k in range(20)), encoding="utf-8")
    ds = tmp_path / "ds.yaml"
    ds.write_text("name: ds\nsource: {kind: text, path: own.log, log_format: '<Content>'}\n"
                  "grouping: {kind: count, size: 4, step: 4}\nlabels: {kind: none}\n", encoding="utf-8")
    cfg, folder = resolve_config(str(ds))
    first = load_dataset(cfg, folder).splits.all()[0].id
    path = _write(tmp_path / "det.jsonl", [json.dumps({"sequence_id": first, "verdict": 1, "score": 1.5,
                                                       "route": "llm", "branch": "ad_certain", "loss": 0.1,
                                                       "neighbours": [], "reason": "odd"})])
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", str(path), "--out", str(out), "--dataset", str(ds), "--log", str(other)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "other line 0" in page and "own line" not in page
    result = CliRunner().invoke(app, ["report", str(path), "--out", str(out), "--log", str(other)])
    assert result.exit_code != 0 and "--dataset" in str(result.exception)


def test_report_shows_a_log_line_s_control_bytes_as_escapes():
    from collaborlog.experiments.report import _e

    assert _e("disk\x00 <sda>\x1b[31m\tfailed") == "disk\\x00 &lt;sda&gt;\\x1b[31m\tfailed"
