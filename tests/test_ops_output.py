from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from collaborlog import __version__
from collaborlog.data.dataset import preset_config
from collaborlog.errors import ConfigError, DatasetNotFoundError
from collaborlog.ops.log_input import with_log
from collaborlog.ops.output import FIELDS, OutputFormat, output_format, render
from collaborlog.verdicts import Branch, Detection, MemorySource, Neighbour, Route


def _detections() -> list[Detection]:
    near = tuple(Neighbour(id=f"n{i}", label=0, similarity=0.9 - i / 10, source=MemorySource.HISTORY) for i in range(4))
    return [
        Detection("blk_1", 1, 0.75, Route.LLM, Branch.AD_CERTAIN, 2.5, near, reason='says "disk, full"\nthen stops'),
        Detection("blk_2", 0, 0.125, Route.SMALL_MODEL, Branch.SMALL_MODEL, 0.1, near[:1]),
    ]


def test_jsonl_rows_have_every_field_in_order():
    lines = render(_detections(), OutputFormat.JSONL).splitlines()
    rows = [json.loads(line) for line in lines]
    assert [tuple(r) for r in rows] == [FIELDS, FIELDS]
    assert rows[0]["branch"] == "ad_certain" and rows[0]["route"] == "llm" and rows[0]["verdict"] == 1
    assert rows[0]["neighbours"] == "n0 n1 n2"  # the nearest three, not all four
    assert rows[1]["neighbours"] == "n0" and rows[1]["reason"] == "" and rows[1]["fallback"] == ""


def test_csv_round_trips_commas_quotes_and_newlines_in_a_reason():
    rows = list(csv.DictReader(io.StringIO(render(_detections(), OutputFormat.CSV))))
    assert [r["sequence_id"] for r in rows] == ["blk_1", "blk_2"]
    assert rows[0]["reason"] == 'says "disk, full"\nthen stops'
    assert float(rows[1]["score"]) == 0.125


def test_unknown_format_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match="table, jsonl, csv"):
        output_format("xml")
    with pytest.raises(ConfigError):
        render(_detections(), OutputFormat.TABLE)


def test_version_flag_and_bad_format_on_the_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "collaborlog", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"collaborlog {__version__}"
    # The format is checked before the model is loaded: a typo costs nothing.
    out = subprocess.run([sys.executable, "-m", "collaborlog", "detect", str(tmp_path / "none"), "hdfs-20k",
                          "--format", "xml"], capture_output=True, text=True)
    assert out.returncode == 2 and "--format must be one of" in out.stderr and "Traceback" not in out.stderr


def test_stdin_is_spooled_to_a_file_that_is_gone_afterwards(tmp_path, monkeypatch):
    cfg = preset_config("hdfs-20k")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other.log").write_bytes(b"line one\n")
    with with_log(cfg, "-", stdin=io.BytesIO(b"line one\nline two\n")) as reading:
        spool = Path(reading.source.path)
        assert spool.read_bytes() == b"line one\nline two\n"
        assert reading.source.log_format == cfg.source.log_format and reading.labels == cfg.labels
    assert not spool.exists()
    with with_log(cfg, None) as same:
        assert same is cfg
    with with_log(cfg, "other.log") as other:
        assert Path(other.source.path) == Path("other.log").resolve()
    # A file that is not there is named as given, not as a dataset missing from a data folder.
    with pytest.raises(DatasetNotFoundError, match=r"^--log gone\.log: no such file"):
        with with_log(cfg, ["other.log", "gone.log"]):
            pass
