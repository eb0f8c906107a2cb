"""Readers under hostile input: they never hang, never lose a complete line, and fail only with CollaborLog errors.

The property tests generate malformed inputs with hypothesis (bounded, so the file runs in
seconds); the rest pin each bad value a fuzz probe found to a clean error that names the file or key.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from collaborlog.data.config import SessionLabels, SourceConfig, TimestampSpec, load_dataset_config
from collaborlog.data.dataset import load_dataset
from collaborlog.data.labels import read_session_labels
from collaborlog.data.logevol import read_sessions_jsonl
from collaborlog.data.readers import format_regex, read_log
from collaborlog.data.summary import summarize
from collaborlog.errors import CollaborLogError, ConfigError, DataError

HDFS_FORMAT = "<Date> <Time> <Level> <Component>: <Content>"
# loghub's own format strings (logpai/loghub, benchmark settings), escapes included.
LOGHUB_FORMATS = {
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "OpenStack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
}
# Derandomized and without an example database: the same examples on every run, and no files written.
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _line(i: int) -> str:
    return f"081109 2035{i % 60:02d} INFO dfs.C{i % 3}: message {i} blk_{i * 7919 % 1000}"


def _text_source(**kw) -> SourceConfig:
    return SourceConfig(path="x", kind="text", log_format=HDFS_FORMAT, **kw)


def _decodable_prefix(damaged: bytes) -> bytes:
    """What zlib can decode of ``damaged`` before any break, fed one byte at a time (the oracle)."""
    out = bytearray()
    data = damaged
    while data[:2] == b"\x1f\x8b":
        decoder, end = zlib.decompressobj(31), None
        for k in range(len(data)):
            try:
                out += decoder.decompress(data[k : k + 1])
            except zlib.error:
                return bytes(out)
            if decoder.eof:
                end = k + 1
                break
        if end is None:
            return bytes(out)
        data = data[end:]
    return bytes(out)


# --- the format regex cannot backtrack ----------------------------------------------------------

def _backtracking_quantifiers(pattern: str) -> list[int]:
    """Positions of quantifiers that may give characters back (not possessive), outside classes and escapes."""
    found, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif ch in "*+?{" and not (ch == "?" and pattern[i - 1] == "("):
            end = pattern.index("}", i) if ch == "{" else i
            if pattern[end + 1 : end + 2] != "+":
                found.append(i)
            i = end + 2
            continue
        i += 1
    return found


@pytest.mark.parametrize("log_format", [HDFS_FORMAT, *LOGHUB_FORMATS.values(), "<A> [<B>]", r"\[<Time>\] <Program> - <Content>"])
def test_format_regex_has_no_backtracking_quantifier_but_the_final_rest_of_line(log_format):
    regex, headers = format_regex(log_format)
    positions = _backtracking_quantifiers(regex.pattern)
    # Only the last field, when it ends the format, is a plain ".*" (it takes the rest of the line).
    assert len(positions) <= 1
    if positions:
        assert regex.pattern.endswith(f"(?P<{headers[-1]}>.*)\\Z") and positions[0] == len(regex.pattern) - 4


def test_old_style_nested_lazy_pattern_is_flagged_by_the_checker():
    # The checker itself can fail: the pre-fix pattern for this format had four lazy fields.
    assert len(_backtracking_quantifiers(r"(?P<Date>.*?)\s+(?P<Time>.*?)\s+(?P<Level>.*?):\s+(?P<Content>.*)$")) == 7


@pytest.mark.parametrize("line", [" " * 300, " " * 5000, ": " * 2500, "a " * 2500, "[" * 5000, "] [" * 1700, "- " * 2500])
@pytest.mark.parametrize("log_format", [HDFS_FORMAT, LOGHUB_FORMATS["Zookeeper"], LOGHUB_FORMATS["OpenStack"]])
def test_hostile_5000_char_lines_are_matched_or_refused(line, log_format):
    # Before the fix, 300 spaces under the HDFS format took over a minute (time ~ n^4); these complete.
    regex, _ = format_regex(log_format)
    assert regex.match(line) is None or regex.match(line).end() == len(line)


@pytest.mark.parametrize("system", sorted(LOGHUB_FORMATS))
def test_loghub_format_strings_reproduce_loghubs_own_parse(system, data_dir):
    folder = data_dir / "loghub_2k" / system
    regex, headers = format_regex(LOGHUB_FORMATS[system])
    truth = pd.read_csv(folder / f"{system}_2k.log_structured.csv", dtype=str, keep_default_na=False)
    lines = (folder / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
    for line, row in zip(lines, truth.to_dict("records"), strict=True):
        fields = regex.match(line).groupdict()
        assert {h: fields[h].strip() for h in headers} == {h: row[h].strip() for h in headers}


def test_format_fields_with_nothing_between_them_are_a_config_error():
    with pytest.raises(ConfigError, match="<A>.*<B>"):
        format_regex("<A><B> <Content>")


# --- gzip damage loses nothing recoverable, and says what it lost --------------------------------

lines_strategy = st.lists(st.integers(0, 10_000).map(_line), min_size=1, max_size=300)


@PROPERTY
@given(lines=lines_strategy, cut=st.floats(0.0, 1.0), level=st.sampled_from([1, 9]))
def test_truncated_gzip_keeps_every_complete_line_before_the_cut(tmp_path_factory, lines, cut, level):
    text = "".join(line + "\n" for line in lines).encode()
    blob = gzip.compress(text, compresslevel=level)
    damaged = blob[: max(1, int(len(blob) * cut))] if cut < 1 else blob[:-1]
    path = tmp_path_factory.mktemp("gz") / "a.log.gz"
    path.write_bytes(damaged)
    prefix = _decodable_prefix(damaged)
    complete = prefix[: prefix.rfind(b"\n") + 1].decode().splitlines()
    try:
        frame = read_log(path, _text_source())
    except DataError as err:
        # Nothing complete decoded (a file of one byte is not even recognisable as gzip).
        assert not complete and re.search("no complete log line|does not look like a text log", str(err))
        return
    assert frame.content == [line.split(": ", 1)[1] for line in complete]
    assert frame.stats.truncated and frame.stats.damage.unread_bytes == 0
    assert frame.stats.damage.dropped_bytes == len(prefix) - len(b"".join(c.encode() + b"\n" for c in complete))
    assert any(f"{len(complete):,} complete line(s)" in w for w in frame.stats.warnings())


@PROPERTY
@given(lines=lines_strategy, stray=st.binary(min_size=1, max_size=300).filter(lambda b: b[:2] != b"\x1f\x8b"),
       members=st.integers(1, 3))
def test_stray_bytes_after_an_intact_stream_lose_no_line(tmp_path_factory, lines, stray, members):
    text = "".join(line + "\n" for line in lines).encode()
    blob = b"".join(gzip.compress(text) for _ in range(members))
    path = tmp_path_factory.mktemp("gz") / "a.log.gz"
    path.write_bytes(blob + stray)
    frame = read_log(path, _text_source())
    assert len(frame) == len(lines) * members and not frame.stats.truncated
    damage = frame.stats.damage
    assert (damage.offset, damage.unread_bytes, damage.cut_short) == (len(blob), len(stray), False)
    assert any(f"{len(stray):,} stray byte(s)" in w for w in frame.stats.warnings())


@PROPERTY
@given(lines=lines_strategy, where=st.floats(0.0, 1.0), bit=st.integers(0, 7))
def test_a_flipped_bit_keeps_the_lines_before_it_or_fails_cleanly(tmp_path_factory, lines, where, bit):
    text = "".join(line + "\n" for line in lines).encode()
    blob = bytearray(gzip.compress(text))
    pos = min(len(blob) - 1, int(len(blob) * where))
    blob[pos] ^= 1 << bit
    path = tmp_path_factory.mktemp("gz") / "a.log.gz"
    path.write_bytes(bytes(blob))
    prefix = _decodable_prefix(bytes(blob))
    try:
        frame = read_log(path, _text_source())
    except CollaborLogError as err:
        # Refused only when no complete line decodes, or what decodes is garbage (binary, or no line fits the format).
        assert prefix.count(b"\n") == 0 or re.search("matched none|does not look like a text log", str(err))
        return
    assert len(frame) + frame.stats.blank == prefix[: prefix.rfind(b"\n") + 1].count(b"\n") + (
        frame.stats.damage is None and not prefix.endswith(b"\n"))


@PROPERTY
@given(rows=st.integers(1, 200), cut=st.floats(0.05, 0.99))
def test_truncated_gzip_csv_log_and_labels_keep_their_complete_rows(tmp_path_factory, rows, cut):
    folder = tmp_path_factory.mktemp("csv")
    body = "Content,Label\n" + "".join(f"message {i},{i % 2}\n" for i in range(rows))
    blob = gzip.compress(body.encode())
    damaged = blob[: max(1, int(len(blob) * cut))]
    (folder / "a.csv.gz").write_bytes(damaged)
    prefix = _decodable_prefix(damaged)
    complete_rows = max(0, prefix.count(b"\n") - 1)
    try:
        frame = read_log(folder / "a.csv.gz", SourceConfig(path="a.csv.gz", kind="csv"))
        labels = read_session_labels(folder / "a.csv.gz", SessionLabels(path="x", id_column="Content"))
    except DataError:
        assert complete_rows == 0
        return
    assert frame.content == [f"message {i}" for i in range(complete_rows)] and frame.stats.truncated
    assert labels == {f"message {i}": i % 2 for i in range(complete_rows)}


# --- random bytes and text: only CollaborLog errors, and every line accounted for -------------------

@PROPERTY
@given(data=st.binary(min_size=1, max_size=3000), kind=st.sampled_from(["text", "csv", "jsonl", "parquet"]),
       gz=st.booleans())
def test_random_bytes_read_or_fail_cleanly(tmp_path_factory, data, kind, gz):
    path = tmp_path_factory.mktemp("bytes") / ("a.log.gz" if gz else "a.log")
    path.write_bytes(gzip.compress(data) if gz else data)
    source = _text_source() if kind == "text" else SourceConfig(path="x", kind=kind)
    try:
        read_log(path, source)
    except CollaborLogError:
        pass  # a clean refusal is the expected outcome for most of these


hostile_line = st.one_of(
    st.text(alphabet=" \t:[]-@<>x0\u00e9\x1b", max_size=400),
    st.integers(1, 2000).map(lambda n: " " * n),
    st.builds(lambda a, b: a * b, st.sampled_from([": ", "[", "] [", " - ", "a "]), st.integers(1, 800)),
    st.integers(0, 500).map(_line),
)


@PROPERTY
@given(lines=st.lists(hostile_line, min_size=1, max_size=40),
       log_format=st.sampled_from([HDFS_FORMAT, *LOGHUB_FORMATS.values()]))
def test_random_text_lines_are_each_kept_or_counted_blank(tmp_path_factory, lines, log_format):
    path = tmp_path_factory.mktemp("text") / "a.log"
    path.write_bytes("\n".join(lines).encode("utf-8"))
    try:
        frame = read_log(path, SourceConfig(path="x", kind="text", log_format=log_format))
    except DataError as err:
        assert re.search("matched none|no log lines|does not look like a text log|is empty", str(err))
        return
    physical = "\n".join(lines).split("\n")
    assert len(frame) + frame.stats.blank == len(physical)


@PROPERTY
@given(lines=st.lists(st.one_of(
    st.just(""), st.just("   "), st.just("{not json"), st.just("[1, 2]"), st.just('{"Content": "\\ud800"}'),
    st.just("[" * 5000), st.just("1" * 5000),
    st.dictionaries(st.sampled_from(["Content", "Time", "x"]), st.one_of(st.text(max_size=20), st.integers(), st.none()),
                    max_size=3).map(json.dumps)), min_size=1, max_size=40))
def test_jsonl_lines_are_each_kept_or_counted_blank(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("jsonl") / "a.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = SourceConfig(path="x", kind="jsonl", timestamp=TimestampSpec(fields=("Time",)))
    try:
        frame = read_log(path, source)
    except DataError as err:
        assert "no log lines" in str(err) or "no column 'Content'" in str(err)
        return
    assert len(frame) + frame.stats.blank == len(lines)
    assert all(isinstance(c, str) and "\ud800" not in c for c in frame.content)


@PROPERTY
@given(rows=st.lists(st.text(alphabet='ab,"\n \t\u00e9', max_size=30), min_size=1, max_size=30))
def test_bad_csv_reads_or_fails_cleanly(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "a.csv"
    path.write_text("Content,Other\n" + "\n".join(rows) + "\n", encoding="utf-8")
    try:
        read_log(path, SourceConfig(path="x", kind="csv"))
    except DataError:
        pass  # e.g. a quote left open to the end of the file: refused with the file named


def test_blank_lines_in_csv_and_jsonl_are_counted(tmp_path):
    (tmp_path / "a.csv").write_text("Content,Level\na,INFO\n\n\nb,WARN\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text('{"Content": "a"}\n\n   \n{"Content": "b"}\n', encoding="utf-8")
    for kind in ("csv", "jsonl"):
        frame = read_log(tmp_path / f"a.{kind}", SourceConfig(path="x", kind=kind))
        assert frame.content == ["a", "b"] and frame.stats.blank == 2, kind


def test_csv_row_wider_than_the_header_is_kept_and_counted(tmp_path):
    (tmp_path / "a.csv").write_text("Level,Content\nINFO,a\nWARN,b,c,d\nINFO,e\n", encoding="utf-8")
    frame = read_log(tmp_path / "a.csv", SourceConfig(path="x", kind="csv"))
    assert frame.content == ["a", "b,c,d", "e"] and frame.stats.unmatched == 1


# --- bad values: a CollaborLog error that names the file and the key or line ----------------------

def _write_dataset(folder: Path, source: str, extra: str = "") -> Path:
    path = folder / "dataset.yaml"
    path.write_text(f"name: t\nsource: {source}\n{extra}", encoding="utf-8")
    return path


def test_unknown_encoding_names_the_key_and_file(tmp_path):
    path = _write_dataset(tmp_path, "{path: a.log, log_format: '<Content>', encoding: utf-9}")
    with pytest.raises(ConfigError, match=r"(?s)dataset\.yaml.*source\.encoding.*utf-9"):
        load_dataset_config(path)


def test_bad_strftime_directive_names_the_key_and_file(tmp_path):
    path = _write_dataset(tmp_path, "{path: a.log, log_format: '<T> <Content>', timestamp: {fields: [T], format: '%Y %Q'}}")
    with pytest.raises(ConfigError, match=r"(?s)dataset\.yaml.*source\.timestamp\.format.*%Q"):
        load_dataset_config(path)


def test_mixed_time_zones_are_read_as_utc(tmp_path):
    (tmp_path / "a.log").write_text(
        "2008-11-09T20:00:00+01:00 a\n2008-11-09T19:00:01Z b\n2008-11-09T19:00:02 c\n2008-11-09T14:00:03-05:00 d\n")
    frame = read_log(tmp_path / "a.log", SourceConfig(path="x", kind="text", log_format="<T> <Content>",
                                                      timestamp=TimestampSpec(fields=("T",))))
    start = pd.Timestamp("2008-11-09T19:00:00Z").timestamp()
    assert (frame.timestamp - start).tolist() == [0, 1, 2, 3]


def test_latin1_yaml_config_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "dataset.yaml"
    path.write_bytes("name: t\ndescription: caf\u00e9\nsource: {path: a.log, log_format: '<Content>'}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"dataset\.yaml is not UTF-8.*save it as UTF-8"):
        load_dataset_config(path)


def test_corrupt_gzip_csv_log_names_the_file(tmp_path):
    (tmp_path / "a.csv.gz").write_bytes(b"\x1f\x8b" + b"\xff" * 100)
    with pytest.raises(DataError, match=r"a\.csv\.gz"):
        read_log(tmp_path / "a.csv.gz", SourceConfig(path="x", kind="csv"))


def test_damaged_parquet_names_the_file(tmp_path):
    buf = io.BytesIO()
    pd.DataFrame({"Content": [f"m {i}" for i in range(50)]}).to_parquet(buf)
    (tmp_path / "a.parquet").write_bytes(buf.getvalue()[:-40])
    with pytest.raises(DataError, match=r"a\.parquet.*damaged"):
        read_log(tmp_path / "a.parquet", SourceConfig(path="x", kind="parquet"))


@pytest.mark.parametrize(("label", "key"), [('"x"', "label"), ("1.5", "label"), ("null", "label"), ("1e400", "label")])
def test_non_numeric_logevol_label_names_the_file_line_and_key(tmp_path, label, key):
    path = tmp_path / "session_train.jsonl"
    path.write_text('{"id": "s0", "label": 0, "Content": ["a"]}\n'
                    f'{{"id": "s1", "label": {label}, "Content": ["a"]}}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"session_train\.jsonl:2.*'s1'.*{key}"):
        read_sessions_jsonl(path)


@pytest.mark.parametrize("row", ['{"id": "s1", "label": 0, "Content": 5}', '[1, 2]',
                                 '{"id": "s1", "label": 0, "Content": ["a"], "line_labels": ["x"]}'])
def test_malformed_logevol_rows_name_the_file_and_line(tmp_path, row):
    path = tmp_path / "session_test.jsonl"
    path.write_text(row + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"session_test\.jsonl:1"):
        read_sessions_jsonl(path)


@pytest.mark.parametrize(("body", "message"), [
    ("BlockId,Label\nblk_1,0\nblk_2,maybe\n", r"labels\.csv row 3.*'blk_2'.*'maybe'"),
    ("BlockId,Label\nblk_1,0\n,1\n", r"labels\.csv row 3.*empty 'BlockId'"),
    ("BlockId,Label\nblk_1,0\nblk_1,1\n", r"labels\.csv row 3.*'blk_1'"),
    ("Block,Label\nblk_1,0\n", r"labels\.csv has no column 'BlockId'"),
])
def test_label_file_with_bad_ids_or_values_names_the_file_and_row(tmp_path, body, message):
    (tmp_path / "labels.csv").write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_session_labels(tmp_path / "labels.csv", SessionLabels(path="labels.csv"))


def _labelled_dataset(tmp_path: Path, labels: bytes) -> Path:
    (tmp_path / "a.log").write_text("".join(_line(i) + "\n" for i in range(40)), encoding="utf-8")
    (tmp_path / "labels.csv.gz").write_bytes(labels)
    return _write_dataset(tmp_path, f"{{path: a.log, log_format: '{HDFS_FORMAT}'}}",
                          "grouping: {kind: session, regex: 'blk_\\d+'}\nlabels: {kind: session_file, path: labels.csv.gz}\n")


def test_truncated_label_file_keeps_its_complete_rows_and_warns(tmp_path):
    body = "BlockId,Label\n" + "".join(f"blk_{i * 7919 % 1000},{i % 2}\n" for i in range(40))
    blob = gzip.compress(body.encode())
    cfg = load_dataset_config(_labelled_dataset(tmp_path, blob[: len(blob) * 3 // 4]))
    ds = load_dataset(cfg, tmp_path)
    kept = _decodable_prefix(blob[: len(blob) * 3 // 4]).count(b"\n") - 1
    labelled = sum(1 for s in ds.splits.all() if s.label != -1)
    assert 0 < labelled == kept and ds.label_stats.damage.cut_short
    summary = summarize(ds)
    assert summary.label_damage == ds.label_stats.damage and summary.damage is None
    assert any(w.startswith("label file: the file ends before its compressed stream does") for w in summary.warnings)


def test_cli_truncated_label_file_is_no_bare_abort(tmp_path):
    from collaborlog.cli import app

    blob = gzip.compress(b"BlockId,Label\n" + b"".join(f"blk_{i},0\n".encode() for i in range(500)))
    config = _labelled_dataset(tmp_path, blob[: len(blob) // 2])
    result = CliRunner().invoke(app, ["summary", str(config), "--data-dir", str(tmp_path)])
    # Before the fix gzip's EOFError escaped and click printed a bare "Aborted." with exit code 1.
    assert result.exit_code == 0 and "Aborted" not in result.output
    assert "truncated" in result.output


def test_csv_whose_first_row_is_wider_than_the_header_keeps_its_content_column(tmp_path):
    # pandas would silently take the first field as an index, shifting every column by one.
    (tmp_path / "a.csv").write_text("Level,Content\nINFO,a,x\nWARN,b\n", encoding="utf-8")
    frame = read_log(tmp_path / "a.csv", SourceConfig(path="x", kind="csv"))
    assert frame.content == ["a,x", "b"] and frame.stats.unmatched == 1


def test_time_windows_with_a_tiny_step_are_a_config_error_not_a_memory_blowup(tmp_path):
    (tmp_path / "a.log").write_text("".join(f"{1_000_000 + i} m {i}\n" for i in range(20)), encoding="utf-8")
    path = _write_dataset(tmp_path, "{path: a.log, log_format: '<T> <Content>', timestamp: {fields: [T], format: unix}}",
                          "grouping: {kind: time, seconds: 3600, step: 0.001}\n")
    with pytest.raises(ConfigError, match="grouping.step"):
        load_dataset(load_dataset_config(path), tmp_path)


def test_a_line_with_no_end_is_cut_while_read_and_counted_once(tmp_path):
    # 40 MB with no newline: kept whole until the end of the file, it would be copied again with every chunk.
    path = tmp_path / "long.log"
    path.write_bytes(b"081109 203518 INFO c: " + b"\xc3\xa9" * 20_000_000)
    frame = read_log(path, _text_source(max_line_chars=1000))
    assert frame.stats.oversized == 1 and frame.stats.lines == 1 and len(frame.content[0]) <= 1000


def test_dataset_config_can_come_from_a_pipe(tmp_path):
    import os

    from collaborlog.data.dataset import resolve_config

    read_end, write_end = os.pipe()
    os.write(write_end, f"name: piped\nsource: {{path: a.log, log_format: '{HDFS_FORMAT}'}}\n".encode())
    os.close(write_end)
    try:
        cfg, base = resolve_config(f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    # A pipe's folder means nothing: its relative paths resolve against the data directory instead.
    assert cfg.name == "piped" and base is None
