"""Reading, grouping and masking a log in bulk give what doing it one line at a time gives: the
same records, the same counts of damage, the same sessions, the same masks."""

from __future__ import annotations

import gc
import random
import re

import numpy as np
import pytest
from test_ingest_cache import synthetic_lines

from collaborlog.data.config import ParserConfig, SessionGrouping, SourceConfig
from collaborlog.data.grouping import GroupStats, group_sessions
from collaborlog.data.readers import format_regex, read_log
from collaborlog.gc_pause import gc_paused
from collaborlog.parsing.masking import build_masker, masking_rules
from collaborlog.records import LogFrame, ReadStats

FMT = "<Date> <Time> <Level> <Component>: <Content>"


def _damaged_log(n: int, seed: int) -> bytes:
    """Lines with every kind of damage a reader counts, spread over many 64 KiB blocks."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        line = f"081109 2035{i % 60:02d} INFO dfs.C{i % 7}: block blk_{rng.randint(-9, 9) * 1000 + i % 50} size {i}".encode()
        kind = rng.random()
        if kind < 0.03 and i < n // 2:  # blocks with an undecodable line, then blocks without
            line += b" bad \xff\xfe byte"
        elif kind < 0.05:
            line = rng.choice([b"", b"   ", b"\t", b"\r"])
        elif kind < 0.07:
            line += b"\r" * rng.randint(1, 2)
        elif kind < 0.08:
            line += b" " + b"x" * rng.randint(100, 300)
        elif kind < 0.09:
            line = b"no format here " + line[:12] + rng.choice([b"", b"\r", b" \r"])
        elif kind < 0.10:
            line += " caf\u00e9 \u4e2d blk_1 blk_1 blk_2".encode()
        elif kind < 0.11 and i < n // 2:
            line = line[:20] + b"\xc3"  # a character cut in half
        out.append(line)
    return b"\n".join(out) + b"\n" + ("\u4e2d" * 30_000).encode()[:-1]  # a last line with no end, cut mid-character


def _line_by_line(data: bytes, source: SourceConfig) -> tuple[dict[str, list[str]], list[bool], list[int], ReadStats]:
    """What reading one line at a time gives (the reader before it read in blocks)."""
    regex, headers = format_regex(FMT)
    stats = ReadStats()
    columns: dict[str, list[str]] = {h: [] for h in headers}
    matched, numbers = [], []
    for number, raw in enumerate(data.split(b"\n"), 1):
        raw = raw[: 4 * source.max_line_chars + 4] if number == data.count(b"\n") + 1 else raw
        try:
            line = raw.rstrip(b"\r").decode(source.encoding)
        except UnicodeDecodeError:
            stats.undecodable += 1
            line = raw.rstrip(b"\r").decode(source.encoding, errors="replace")
        if not line.strip():
            stats.blank += 1
            continue
        numbers.append(number)
        if len(line) > source.max_line_chars:
            stats.oversized += 1
            line = line[: source.max_line_chars]
        m = regex.match(line)
        stats.unmatched += m is None
        for h, col in columns.items():
            col.append((line if h == "Content" else "") if m is None else m[h].strip() if h == "Content" else m[h])
        matched.append(m is not None)
    return columns, matched, numbers, stats


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "ascii", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("max_line_chars", [65_536, 120])
def test_reading_in_blocks_gives_what_reading_line_by_line_gives(tmp_path, encoding, max_line_chars):
    data = _damaged_log(6000, seed=3)
    path = tmp_path / "damaged.log"
    path.write_bytes(data)
    source = SourceConfig(path=str(path), kind="text", log_format=FMT, encoding=encoding, max_line_chars=max_line_chars)
    frame = read_log(path, source)
    columns, matched, numbers, stats = _line_by_line(data, source)
    assert frame.content == columns.pop("Content") and frame.fields == columns
    assert frame.matched.tolist() == matched
    assert frame.origins is not None and frame.origins.number.tolist() == numbers
    assert (frame.stats.undecodable, frame.stats.blank, frame.stats.oversized, frame.stats.unmatched) == \
        (stats.undecodable, stats.blank, stats.oversized, stats.unmatched)
    if encoding in ("utf-8", "ascii"):
        assert frame.stats.undecodable > 0


def _frame(content: list[str], stamps: list[float], fields: dict[str, list[str]] | None = None) -> LogFrame:
    n = len(content)
    return LogFrame(content=content, timestamp=np.asarray(stamps, dtype=np.float64), label=np.full(n, -1, np.int8),
                    fields=fields or {}, matched=np.ones(n, dtype=bool))


def _sessions_line_by_line(frame: LogFrame, regex: str) -> dict[str, tuple[list[int], float]]:
    members: dict[str, list[int]] = {}
    for i, text in enumerate(frame.content):
        for key in dict.fromkeys(re.findall(regex, text)):
            members.setdefault(key if isinstance(key, str) else key[0], []).append(i)
    out = {}
    for key, lines in members.items():
        t = frame.timestamp[lines]
        t = t[np.isfinite(t)]
        out[key] = (lines, float(t.min()) if t.size else float(lines[0]))
    return out


@pytest.mark.parametrize("regex", [r"blk_-?\d+", r"blk_(-?\d+)", r"(blk)_(-?\d+)", r"x*"])
def test_grouping_in_bulk_gives_the_sessions_of_a_line_by_line_pass(regex):
    rng = random.Random(5)
    content, stamps = [], []
    for i in range(3000):
        blocks = " ".join(f"blk_{rng.randint(-20, 20)}" for _ in range(rng.choice([0, 1, 1, 1, 2, 3])))
        content.append(f"line {i} {blocks} xx")
        stamps.append(rng.choice([float(i // 3), float("nan")]))
    frame = _frame(content, stamps)
    stats = GroupStats()
    sequences = group_sessions(frame, SessionGrouping(regex=regex), stats)
    expected = _sessions_line_by_line(frame, regex)
    assert [s.id for s in sequences] == list(expected)
    assert [(s.lines.tolist(), s.start) for s in sequences] == list(expected.values())
    assert stats.ungrouped_lines == sum(1 for text in content if not re.findall(regex, text))


def test_grouping_by_field_skips_empty_keys_and_orders_by_first_appearance():
    frame = _frame(["a"] * 6, [3.0, 1.0, float("nan"), 2.0, float("nan"), 5.0],
                   {"sid": ["s2", "", "s1", "s2", "nan", "s1"]})
    stats = GroupStats()
    sequences = group_sessions(frame, SessionGrouping(field="sid"), stats)
    assert [(s.id, s.lines.tolist(), s.start) for s in sequences] == [("s2", [0, 3], 2.0), ("s1", [2, 5], 5.0)]
    assert stats.ungrouped_lines == 2
    assert group_sessions(_frame([], []), SessionGrouping(regex="x"), GroupStats()) == []


@pytest.mark.parametrize("preset", ["default", "bgl"])
def test_masking_a_column_at_once_equals_masking_each_line(preset, monkeypatch):
    lines = synthetic_lines(600, seed=7) + ["", " ", "caf\u00e9  \u4e2d\u6587\t1.2.3.4:80"]
    expected = [build_masker(masking_rules(ParserConfig(masking=preset))).mask(line) for line in lines]
    masker = build_masker(masking_rules(ParserConfig(masking=preset)))
    codes, messages = masker.factorize(lines)
    assert [messages[c] for c in codes] == expected and messages == list(dict.fromkeys(expected))
    # Again with the token cache warm, and with a cache too small to hold this call's tokens.
    assert masker.factorize(lines)[1] == messages
    small = build_masker(masking_rules(ParserConfig(masking=preset)))
    monkeypatch.setattr(small, "_TOKEN_CACHE_LIMIT", 40)
    codes, messages = small.factorize(lines)
    assert [messages[c] for c in codes] == expected and small.cached_tokens == 40


def test_a_lone_surrogate_is_masked_line_by_line():
    masker = build_masker(masking_rules(ParserConfig()))
    lines = ["block blk_1 \ud800 end", "block blk_2 \ud800 end", "size 12"]
    codes, messages = masker.factorize(lines)
    assert messages == ["block <BLK> \ud800 end", "size <NUM>"] and codes.tolist() == [0, 0, 1]


def test_the_collector_comes_back_on_after_an_error_and_a_pause_inside_a_pause():
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # the caller's own choice is kept
    finally:
        gc.enable()
