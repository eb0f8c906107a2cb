from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from collaborlog.data.config import SourceConfig, TimestampSpec
from collaborlog.data.readers import format_regex, read_log, read_logs
from collaborlog.errors import ConfigError, DataError

FMT = "<Date> <Time> <Level> <Component>: <Content>"


def _text_source(**kw) -> SourceConfig:
    return SourceConfig(path="x", kind="text", log_format=FMT,
                        timestamp=TimestampSpec(fields=("Date", "Time"), format="%y%m%d %H%M%S"), **kw)


def test_format_regex_extracts_fields_and_greedy_content():
    regex, headers = format_regex(FMT)
    assert headers == ["Date", "Time", "Level", "Component", "Content"]
    m = regex.match("081109 203518  INFO dfs.DataNode: Receiving block blk_1 src: /10.0.0.1:50010")
    assert m["Level"] == "INFO" and m["Content"] == "Receiving block blk_1 src: /10.0.0.1:50010"


def test_format_regex_rejects_bad_fields():
    with pytest.raises(ConfigError):
        format_regex("no fields here")
    with pytest.raises(ConfigError):
        format_regex("<A> <A>")


def test_unmatched_lines_are_kept_and_counted(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("081109 203518 INFO dfs.X: hello world\nthis line has no fields\n\n081109 203519 WARN dfs.Y: bye\n")
    frame = read_log(path, _text_source())
    assert frame.content == ["hello world", "this line has no fields", "bye"]
    assert frame.matched.tolist() == [True, False, True]
    assert frame.stats.unmatched == 1 and frame.stats.blank == 1 and frame.stats.lines == 3
    # The unmatched line has no timestamp of its own: it takes the previous line's.
    assert frame.timestamp[1] == frame.timestamp[0] and frame.timestamp[2] == frame.timestamp[0] + 1


def test_gzip_and_truncated_gzip(tmp_path):
    body = "".join(f"081109 2035{i % 60:02d} INFO c: message number {i}\n" for i in range(5000)).encode()
    whole = tmp_path / "a.log.gz"
    whole.write_bytes(gzip.compress(body))
    assert len(read_log(whole, _text_source())) == 5000
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    frame = read_log(cut, _text_source())
    assert frame.stats.truncated and 0 < len(frame) < 5000
    assert any("truncated" in w for w in frame.stats.warnings())


def test_binary_garbage_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    with pytest.raises(DataError, match="does not look like a text log"):
        read_log(path, _text_source())


@pytest.mark.parametrize("where", ["head", "middle"])
def test_nul_padding_is_removed_and_counted_not_taken_for_a_binary_file(tmp_path, where):
    # A copy-truncate rotation leaves the file's start as NULs, a crash leaves a run of them mid-file.
    lines = [f"081109 2035{i % 60:02d} INFO c: message number {i}\n".encode() for i in range(40)]
    pad = b"\x00" * 5000
    body = pad + b"".join(lines) if where == "head" else b"".join(lines[:20]) + pad + b"".join(lines[20:])
    path = tmp_path / "padded.log"
    path.write_bytes(body)
    frame = read_log(path, _text_source())
    assert frame.content == [f"message number {i}" for i in range(40)] and frame.matched.all()
    assert frame.stats.nul_lines == 1 and any("NUL bytes" in w for w in frame.stats.warnings())
    # NULs between the characters are no padding: a UTF-16 file is still refused.
    utf16 = tmp_path / "utf16.log"
    utf16.write_bytes(b"".join(lines).decode().encode("utf-16-le"))
    with pytest.raises(DataError, match="does not look like a text log"):
        read_log(utf16, _text_source())


def test_a_long_nul_run_is_one_line_and_hides_no_binary_file(tmp_path):
    lines = [f"081109 2035{i % 60:02d} INFO c: message number {i}\n".encode() for i in range(40)]
    long_run = tmp_path / "long.log"  # far longer than a read chunk: still one line of padding
    long_run.write_bytes(b"".join(lines[:20]) + b"\x00" * (1 << 20) + b"x" + b"".join(lines[20:]))
    frame = read_log(long_run, _text_source())
    assert frame.stats.nul_lines == 1 and len(frame) == 40
    # Counts add up over several files.
    assert read_logs([long_run, long_run], _text_source()).stats.nul_lines == 2
    # Padding longer than the sniffed head does not let binary data after it pass as text.
    binary = tmp_path / "padded.bin"
    binary.write_bytes(b"\x00" * 70_000 + bytes(np.random.default_rng(0).integers(0, 256, 70_000, dtype=np.uint8)))
    with pytest.raises(DataError, match="does not look like a text log"):
        read_log(binary, _text_source())


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_log(path, _text_source())
    blank = tmp_path / "blank.log"
    blank.write_text("\n\n   \n")
    with pytest.raises(DataError, match="no log lines"):
        read_log(blank, _text_source())


def test_a_ten_megabyte_line_is_cut_and_counted(tmp_path):
    path = tmp_path / "long.log"
    path.write_text("081109 203518 INFO c: " + "x" * 10_000_000 + "\n081109 203519 INFO c: short\n")
    frame = read_log(path, _text_source(max_line_chars=1000))
    assert frame.stats.oversized == 1 and len(frame.content[0]) <= 1000 and frame.content[1] == "short"


def test_mixed_encodings_replace_and_count(tmp_path):
    path = tmp_path / "mixed.log"
    path.write_bytes("081109 203518 INFO c: caf\u00e9 ok\n".encode("utf-8")
                     + "081109 203519 INFO c: caf\u00e9 latin\n".encode("latin-1"))
    frame = read_log(path, _text_source())
    assert frame.stats.undecodable == 1
    assert frame.content[0] == "caf\u00e9 ok" and "\ufffd" in frame.content[1]


def test_format_that_matches_nothing_is_a_clear_error(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("just some text\nmore text\n")
    with pytest.raises(DataError, match="matched none of the 2 lines"):
        read_log(path, SourceConfig(path="x", kind="text", log_format="<Date> <Time> [<Level>] <Content>"))


def test_csv_parquet_and_jsonl(tmp_path):
    table = pd.DataFrame({"msg": ["a 1", "b 2", ""], "ts": ["2020-01-01 00:00:00", "2020-01-01 00:00:05", "2020-01-01 00:00:09"]})
    table.to_csv(tmp_path / "a.csv", index=False)
    table.to_parquet(tmp_path / "a.parquet")
    with open(tmp_path / "a.jsonl", "w") as fh:
        for row in table.to_dict("records"):
            fh.write(json.dumps(row) + "\n")
        fh.write("{not json\n")
    for kind, name in [("csv", "a.csv"), ("parquet", "a.parquet"), ("jsonl", "a.jsonl")]:
        src = SourceConfig(path=name, kind=kind, content="msg", timestamp=TimestampSpec(fields=("ts",)))
        frame = read_log(tmp_path / name, src)
        assert frame.content[:2] == ["a 1", "b 2"], kind
        assert frame.stats.blank == 1, kind
        assert frame.timestamp[1] - frame.timestamp[0] == pytest.approx(5.0), kind
    jsonl = read_log(tmp_path / "a.jsonl", SourceConfig(path="a.jsonl", kind="jsonl", content="msg"))
    assert jsonl.stats.unmatched == 1 and jsonl.content[-1] == "{not json"


@pytest.mark.parametrize("packed", [False, True])
def test_nul_padding_in_a_csv_is_removed_and_counted(tmp_path, packed):
    rows = [f"2020-01-01 00:00:{i:02d},event {i}\n".encode() for i in range(20)]
    body = b"\x00" * 5000 + b"ts,msg\n" + b"".join(rows[:10]) + b"\x00" * 3000 + b"".join(rows[10:])
    path = tmp_path / ("a.csv.gz" if packed else "a.csv")
    path.write_bytes(gzip.compress(body) if packed else body)
    frame = read_log(path, SourceConfig(path=path.name, kind="csv", content="msg", timestamp=TimestampSpec(fields=("ts",))))
    assert frame.content == [f"event {i}" for i in range(20)] and frame.stats.nul_lines == 2
    assert frame.stats.bad_timestamps == 0 and any("NUL bytes" in w for w in frame.stats.warnings())


def test_missing_content_column_names_the_columns(tmp_path):
    pd.DataFrame({"message": ["x"]}).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(DataError, match="message"):
        read_log(tmp_path / "a.csv", SourceConfig(path="a.csv", kind="csv", content="Content"))
