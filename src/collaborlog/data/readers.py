"""Readers: a declared log file (raw text, CSV, parquet, JSON Lines; gzip too) becomes a :class:`LogFrame`.

Nothing is dropped silently: lines that miss the format are kept as raw content, undecodable
bytes are replaced, runaway lines are cut, and each case is counted in :class:`ReadStats`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
import pandas as pd

from collaborlog.data.config import SourceConfig, TimestampSpec
from collaborlog.errors import ConfigError, DataError
from collaborlog.gc_pause import gc_paused
from collaborlog.progress import stage
from collaborlog.records import UNLABELLED, LogFrame, Origins, ReadStats, StreamDamage

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib's code for "a gzip header and trailer around deflate data"
_CHUNK = 1 << 16
SNIFF_BYTES = 65_536
"""How much of a file's start is read to tell a text log from a binary file."""
_PANDAS_COMPRESSIONS = {".bz2", ".xz", ".zip", ".zst", ".tar"}
_TEXT_CONTROL_OK = {9, 10, 11, 12, 13, 27}
_LINE = "\x00line"
"""The column that carries each record's line number while a file is read (no real column has a NUL in its name)."""


def _literal_tokens(text: str) -> list[str | None]:
    r"""A format string's literal part as tokens: ``None`` for a run of whitespace, else one character.

    ``\X`` stands for the character X, so loghub's own format strings (``\[<Time>\]``) read as
    they do there.
    """
    tokens: list[str | None] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            while i < len(text) and text[i].isspace():
                i += 1
            tokens.append(None)
            continue
        if ch == "\\" and i + 1 < len(text):
            i += 1
            ch = text[i]
        tokens.append(ch)
        i += 1
    return tokens


def _token_pattern(token: str | None) -> str:
    return r"\s++" if token is None else re.escape(token)


def _field_pattern(separator: list[str | None], final: bool) -> str:
    """A field that ends where ``separator`` first occurs (``final``: only where it ends the line).

    The field is a possessive run of characters that cannot start the separator, or that start
    it but are not followed by the rest of it; every character is consumed once, and the
    lookahead reads at most the separator, so a line is matched in linear time whatever it holds.
    """
    first, rest = separator[0], "".join(_token_pattern(t) for t in separator[1:]) + (r"\Z" if final else "")
    other, start = (r"\S", r"\s++") if first is None else (f"[^{re.escape(first)}]", re.escape(first))
    if not rest:
        return other + "*+"
    return f"(?:{other}++|{start}(?!{rest}))*+"


def format_regex(log_format: str) -> tuple[re.Pattern[str], list[str]]:
    r"""Compile a loghub-style format string such as ``<Date> <Time> <Level>: <Content>``.

    Runs of whitespace in the format match any run of whitespace, ``\X`` matches the character X,
    and every other character matches itself. Each field ends where the text that follows it in
    the format first occurs; the last field takes the rest of the line. Nothing backtracks, so a
    hostile line costs time linear in its length.
    """
    parts = re.split(r"(<[^<>]+>)", log_format)
    headers: list[str] = []
    pieces: list[tuple[str, list[str | None]]] = []  # (field name, the literal tokens after it)
    prefix: list[str | None] = []
    for part in parts:
        if part.startswith("<") and part.endswith(">") and len(part) > 2:
            name = part[1:-1]
            if not name.isidentifier():
                raise ConfigError(f"log_format field <{name}> must be a plain identifier (letters, digits, _)")
            if name in headers:
                raise ConfigError(f"log_format names the field <{name}> twice")
            headers.append(name)
            pieces.append((name, []))
        elif part:
            (pieces[-1][1] if pieces else prefix).extend(_literal_tokens(part))
    if not headers:
        raise ConfigError(f"log_format {log_format!r} names no field; write fields as <Name>")
    pattern = "".join(_token_pattern(t) for t in prefix)
    for k, (name, separator) in enumerate(pieces):
        last = k == len(pieces) - 1
        if not separator and not last:
            raise ConfigError(
                f"log_format {log_format!r} puts <{name}> right before <{pieces[k + 1][0]}> with nothing between "
                "them, so where one ends is undefined; put a separator (a space, ':' ...) between them"
            )
        body = ".*" if last and not separator else _field_pattern(separator, final=last)
        pattern += f"(?P<{name}>{body})" + "".join(_token_pattern(t) for t in separator)
    return re.compile(pattern + r"\Z", re.DOTALL), headers


_NUL_RUN = re.compile(rb"\x00{8,}")
"""A run of NUL bytes: the padding a crash, a preallocated file or a copy-truncate log rotation
leaves in a text log (where the writer's offset runs past the copied part), not binary data."""


def _looks_binary(head: bytes) -> bool:
    """Whether a file's first bytes, less NUL padding (see :func:`without_padding`), are not text:
    a NUL (a text log in UTF-16 has one in every other byte), or more than a tenth control bytes."""
    if not head:
        return False
    bad = sum(1 for b in head if b < 32 and b not in _TEXT_CONTROL_OK)
    return b"\x00" in head[:1024] or bad / len(head) > 0.10


def _gunzip(fh: BinaryIO, size: int, damage: list[StreamDamage]) -> Iterator[bytes]:
    """Decode a gzip file (one member or several) as far as it is intact, chunk by chunk.

    ``gzip.open`` gives up on the whole read call that meets a break (or stray bytes after the
    stream), losing everything that call had decoded; ``zlib.decompressobj`` is fed instead, and
    the chunk that fails is fed again byte by byte, so output stops exactly where the data does.
    A break, or stray bytes after the stream, is recorded in ``damage`` (the caller fills in the
    incomplete line it drops).
    """
    decoder = zlib.decompressobj(_GZIP_WBITS)
    pending = b""
    offset = 0  # file offset of pending[0]
    while True:
        if decoder.eof:
            # A member ended: next comes another member, the end of the file, or stray bytes.
            pending = decoder.unused_data + pending
            offset -= len(decoder.unused_data)
            if len(pending) < 2:
                pending += fh.read(_CHUNK)
            if not pending:
                return
            if pending[:2] != _GZIP_MAGIC:
                damage.append(StreamDamage(offset=offset, unread_bytes=size - offset, cut_short=False))
                return
            decoder = zlib.decompressobj(_GZIP_WBITS)
        if not pending:
            pending = fh.read(_CHUNK)
            if not pending:
                # The file ends inside a member: whatever was decoded is all there is.
                damage.append(StreamDamage(offset=size, unread_bytes=0))
                yield decoder.flush()
                return
        saved = decoder.copy()
        try:
            out = decoder.decompress(pending)
        except zlib.error:
            # The failing call's output is lost with it: feed that chunk again from before it, byte by byte.
            yield from _until_break(saved, pending, offset, size, damage)
            return
        offset += len(pending)
        pending = b""
        yield out


def _until_break(decoder, data: bytes, offset: int, size: int, damage: list[StreamDamage]) -> Iterator[bytes]:
    """Feed ``data`` (at file ``offset``) byte by byte, so that output stops exactly where the data breaks."""
    k = 0
    for k in range(len(data)):
        try:
            yield decoder.decompress(data[k : k + 1])
        except zlib.error:
            break
    damage.append(StreamDamage(offset=offset + k, unread_bytes=size - offset - k))


def _chunks(path: Path, damage: list[StreamDamage]) -> Iterator[bytes]:
    """The file's bytes, decompressed when it is gzip; damage to the compressed stream goes to ``damage``."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if fh.read(2) != _GZIP_MAGIC:
            fh.seek(0)
            yield from iter(lambda: fh.read(_CHUNK), b"")
            return
        fh.seek(0)
        yield from _gunzip(fh, size, damage)


def read_bytes(path: Path) -> tuple[bytes, StreamDamage | None]:
    """The whole file's bytes (decompressed when it is gzip) up to the last complete line before any damage."""
    damage: list[StreamDamage] = []
    data = b"".join(_chunks(Path(path), damage))
    if damage and damage[0].cut_short:
        end = data.rfind(b"\n") + 1
        damage[0].dropped_bytes = len(data) - end
        data = data[:end]
    return data, damage[0] if damage else None


def _without_nul(block: bytes, stats: ReadStats, carried: bool) -> tuple[bytes, bool]:
    """``block`` without its NUL bytes, each line that held some counted once in ``stats``: no text
    log line holds one, and a NUL run is padding (see :data:`_NUL_RUN`) that would make a line
    unmatched. ``carried``: the block starts with the rest of a line counted already. Returns the
    block, and whether its last (unfinished) line is counted."""
    if b"\x00" not in block:
        return block, carried and b"\n" not in block
    held = [b"\x00" in line for line in block.split(b"\n")]
    stats.nul_lines += sum(held) - int(carried and held[0])
    return block.replace(b"\x00", b""), held[-1] or (carried and len(held) == 1)


def without_padding(chunk: bytes) -> bytes:
    """``chunk`` less its NUL padding, for sniffing: runs of NULs, and NULs at its ends (where a
    run the chunk boundary cut may end or begin)."""
    return _NUL_RUN.sub(b"", chunk.strip(b"\x00"))


def _line_blocks(path: Path, stats: ReadStats, max_line_bytes: int | None = None) -> Iterator[list[bytes]]:
    """Yield the file's lines as bytes, a chunk's worth at a time, decompressing gzip.

    A damaged compressed stream keeps every complete line before the break and drops the line the
    break cuts through; ``stats`` records where it broke and what was lost. A line longer than
    ``max_line_bytes`` is cut to that length as it is read. NUL bytes are removed, and the lines
    that held them counted (a line of padding alone is then blank). A file whose first
    :data:`SNIFF_BYTES` that are not padding do not look like text is refused as soon as they
    are read (however much padding comes first).
    """
    damage: list[StreamDamage] = []
    carry = b""
    counted = False
    probe: bytes | None = b""
    for chunk in _chunks(path, damage):
        if probe is not None:
            probe += without_padding(chunk)
            if len(probe) >= SNIFF_BYTES:
                refuse_binary(path, probe[:SNIFF_BYTES])
                probe = None
        block, counted = _without_nul(carry + chunk, stats, counted)
        lines = block.split(b"\n")
        carry = lines.pop()
        if max_line_bytes is not None and len(carry) > max_line_bytes:
            # Without a cut, a line with no end would be copied again with every chunk: quadratic time and
            # memory without bound. The caller still sees it longer than its limit, and counts it.
            carry = carry[:max_line_bytes]
        yield lines
    if probe is not None:
        refuse_binary(path, probe)
    if damage:
        stats.damage = damage[0]
        if damage[0].cut_short:
            stats.truncated = True
            damage[0].dropped_bytes = len(carry)
            return
    if carry:
        yield [carry]


def refuse_binary(path: Path, head: bytes) -> None:
    """Raise a :class:`DataError` when ``head``, the first bytes of ``path``, are not text."""
    if _looks_binary(head):
        raise DataError(
            f"{path} does not look like a text log (it holds NUL or control bytes); "
            "give a text, CSV, JSON Lines or parquet file, optionally gzip-compressed"
        )


def _decode(raw: bytes, encoding: str, stats: ReadStats) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        stats.undecodable += 1
        return raw.decode(encoding, errors="replace")


def _decoded(block: list[bytes], encoding: str, stats: ReadStats) -> list[str]:
    """A block's lines as text, each without its trailing carriage returns; a line with bytes
    invalid in ``encoding`` has them replaced, and is counted.

    In the codecs of :data:`_JOINED_DECODE` a block decodes in one call, and fails exactly when
    one of its lines would; one call instead of one a line is a large part of reading a log.
    """
    if block and codecs.lookup(encoding).name in _JOINED_DECODE:
        try:
            text = b"\n".join(block).decode(encoding)
        except UnicodeDecodeError:
            text = None  # a damaged line: decode them one by one, to count each
        if text is not None:
            lines = text.split("\n")
            return [line.rstrip("\r") for line in lines] if "\r" in text else lines
    return [_decode(raw.rstrip(b"\r"), encoding, stats) for raw in block]


_JOINED_DECODE = frozenset({"utf-8", "ascii", "iso8859-1"})
"""Codecs (by :func:`codecs.lookup` name) in which lines joined by ``\\n`` decode to those lines decoded
one by one, joined by ``\\n``: stateless, no byte sequence spans the ``\\n`` (as in UTF-8, whose
multibyte characters hold no ASCII byte), and no mark that only the first line would lose
(``utf-8-sig`` strips a BOM from each line decoded alone)."""


@dataclass
class _Lines:
    """What a reader read: each line's content and fields as text, whether it matched the format,
    its line number, and the table its timestamps are read from."""

    content: list[str]
    fields: dict[str, list[str]]
    matched: np.ndarray
    numbers: np.ndarray
    stamps: pd.DataFrame


def _read_text(path: Path, source: SourceConfig, stats: ReadStats, keep_fields: set[str] | None) -> _Lines:
    regex, headers = format_regex(source.log_format or "")
    columns: dict[str, list[str]] = {h: [] for h in headers}
    content_col = columns[source.content]
    empty = ("",) * len(headers)
    matched: list[np.ndarray] = []
    numbers: list[np.ndarray] = []
    limit = source.max_line_chars
    number = 0  # the last line read so far
    # A block at a time: a line costs a few calls in C, not a round of the interpreter.
    # Enough bytes for more than max_line_chars characters in any encoding (at most 4 bytes a character).
    for block in _line_blocks(path, stats, max_line_bytes=4 * limit + 4):
        lines = _decoded(block, source.encoding, stats)
        first, number = number + 1, number + len(lines)
        if all(map(str.strip, lines)):
            numbers.append(np.arange(first, number + 1, dtype=np.int64))
        else:
            kept = [k for k, line in enumerate(lines) if line.strip()]
            stats.blank += len(lines) - len(kept)
            numbers.append(np.asarray(kept, dtype=np.int64) + first)
            lines = [lines[k] for k in kept]
        if not lines:
            continue
        if max(map(len, lines)) > limit:
            stats.oversized += sum(len(line) > limit for line in lines)
            lines = [line[:limit] for line in lines]
        found = list(map(regex.match, lines))
        misses = found.count(None)
        stats.unmatched += misses
        if misses:
            rows = [empty if m is None else m.groups() for m in found]
        else:
            rows = list(map(re.Match.groups, cast(list[re.Match[str]], found)))
        values = list(zip(*rows))
        for h, col in columns.items():
            column = values[regex.groupindex[h] - 1]
            if col is not content_col:
                col.extend(column)
            elif misses:
                # A line that misses the format is kept whole as content.
                col.extend(line if m is None else text.strip() for line, m, text in zip(lines, found, column))
            else:
                col.extend(map(str.strip, column))
        matched.append(np.fromiter((m is not None for m in found), dtype=bool, count=len(found)) if misses
                       else np.ones(len(found), dtype=bool))
    # The timestamps are read from their fields alone (from all of them when one is missing, which is an error
    # that lists them).
    needed = source.timestamp.fields if source.timestamp is not None else ()
    stamps = pd.DataFrame({h: columns[h] for h in (needed if set(needed) <= set(columns) else columns)}, dtype=object)
    content = columns.pop(source.content)
    return _Lines(
        content=content,
        fields={h: col for h, col in columns.items() if keep_fields is None or h in keep_fields},
        matched=np.concatenate(matched) if matched else np.zeros(0, dtype=bool),
        numbers=np.concatenate(numbers) if numbers else np.zeros(0, dtype=np.int64),
        stamps=stamps,
    )


def _table_lines(table: pd.DataFrame, source: SourceConfig, keep_fields: set[str] | None) -> _Lines:
    matched = table.pop("__matched__").to_numpy(dtype=bool)
    numbers = table.pop(_LINE).to_numpy(dtype=np.int64)
    if source.kind == "jsonl" and source.timestamp is not None:
        # JSON Lines have no header: a key that no row carries is a value missing on every row.
        for name in source.timestamp.fields:
            if name not in table.columns:
                table[name] = ""
    names = [c for c in table.columns if c != source.content and (keep_fields is None or c in keep_fields)]
    return _Lines(
        content=table[source.content].astype(str).tolist(),
        fields={str(c): table[c].astype(str).tolist() for c in names},
        matched=matched,
        numbers=numbers,
        stamps=table,
    )


def _holds_nul(path: Path) -> bool:
    return any(b"\x00" in chunk for chunk in _chunks(path, []))


def _read_csv(path: Path, source: SourceConfig, stats: ReadStats) -> pd.DataFrame:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == _GZIP_MAGIC
    raw: bytes | None = None
    if gzipped:
        raw, stats.damage = read_bytes(path)
        stats.truncated = stats.damage is not None and stats.damage.cut_short
    elif path.suffix.lower() not in _PANDAS_COMPRESSIONS and _holds_nul(path):
        raw = path.read_bytes()
    if raw is not None:
        # NUL padding is removed and counted, as in a text log (see _without_nul).
        raw = _without_nul(raw, stats, False)[0]

    def opened() -> Path | io.BytesIO:
        # Other compressions are left to pandas, which infers them from the file name.
        return io.BytesIO(raw) if raw is not None else path

    # Blank lines are kept as rows with empty content, so that they are counted as blank below; a row wider
    # than the header must not turn its first fields into an index (pandas infers one by default).
    options = dict(dtype=str, keep_default_na=False, encoding=source.encoding, encoding_errors="replace",
                   skip_blank_lines=False, index_col=False)
    try:
        with warnings.catch_warnings():
            # With index_col=False a first row wider than the header loses its extra fields with only a warning.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(opened(), **options)
    except (pd.errors.ParserError, pd.errors.ParserWarning) as err:
        if not gzipped and path.suffix.lower() in _PANDAS_COMPRESSIONS:
            raise DataError(f"cannot read {path} as csv: {err}. Repair the file") from None
        columns = list(pd.read_csv(opened(), nrows=0, **options).columns)
    # A row that does not fit the header (often a damaged one): read row by row, and keep it.
    text = (raw if raw is not None else path.read_bytes()).decode(source.encoding, errors="replace")
    rows = csv.reader(io.StringIO(text, newline=""))
    next(rows, None)  # the header, already read into ``columns``
    width = len(columns)
    kept = []
    try:
        for fields in rows:
            if len(fields) > width:
                stats.unmatched += 1
                fields = fields[: width - 1] + [",".join(fields[width - 1 :])]
            kept.append(fields + [""] * (width - len(fields)))
    except csv.Error as err:
        raise DataError(f"cannot read {path} as csv: {err} (line {rows.line_num}). Repair the file") from None
    return pd.DataFrame(kept, columns=columns, dtype=object)


def _read_table(path: Path, source: SourceConfig, stats: ReadStats) -> pd.DataFrame:
    try:
        if source.kind == "parquet":
            import pyarrow

            try:
                table = pd.read_parquet(path)
            except pyarrow.ArrowException as err:
                raise DataError(f"cannot read {path} as parquet: {err}. The file is damaged or not parquet; "
                                "write it again, or point source.path at an intact copy") from None
        elif source.kind == "csv":
            table = _read_csv(path, source, stats)
        else:
            table = _read_jsonl(path, source, stats)
    except DataError:
        raise
    except (ValueError, OSError, pd.errors.ParserError, EOFError) as err:
        raise DataError(f"cannot read {path} as {source.kind}: {err}. The file is damaged or not {source.kind}; "
                        "repair it, or set source.kind to the file's real format") from None
    if _LINE not in table.columns:
        # A record's row: CSV counts its header as row 1 (a quoted field spanning lines counts once).
        table[_LINE] = np.arange(len(table), dtype=np.int64) + (2 if source.kind == "csv" else 1)
    if source.content not in table.columns:
        raise DataError(
            f"{path} has no column {source.content!r} to use as content; its columns are {list(table.columns)[:20]}. "
            "Set source.content to one of them."
        )
    content = table[source.content].astype(str).where(table[source.content].notna(), "")
    stats.undecodable += int(content.str.contains("\ufffd", regex=False).sum())
    long = content.str.len() > source.max_line_chars
    stats.oversized += int(long.sum())
    if long.any():
        content = content.where(~long, content.str.slice(0, source.max_line_chars))
    blank = content.str.strip() == ""
    stats.blank += int(blank.sum())
    table = table.loc[~blank.to_numpy()].reset_index(drop=True)
    table[source.content] = content[~blank].to_numpy()
    table["__matched__"] = True
    return table


def _replace_lone_surrogates(value: object) -> object:
    r"""JSON may escape half of a surrogate pair (``"\ud800"``); such a string cannot be written as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _read_jsonl(path: Path, source: SourceConfig, stats: ReadStats) -> pd.DataFrame:
    rows = []
    numbers: list[int] = []
    for number, raw in enumerate(chain.from_iterable(_line_blocks(path, stats)), 1):
        text = _decode(raw, source.encoding, stats).strip()
        if not text:
            stats.blank += 1
            continue
        numbers.append(number)
        try:
            row = json.loads(text)
        except (ValueError, RecursionError):
            # Not JSON, a number too long to convert, or nested too deep to parse.
            row = None
        if isinstance(row, dict):
            row = {str(k): _replace_lone_surrogates(v) for k, v in row.items()}
        else:
            # Keep the line: it becomes a record whose content is the raw text.
            stats.unmatched += 1
            row = {source.content: text}
        rows.append(row)
    if not rows:
        raise DataError(_no_lines(path, stats))
    table = pd.DataFrame(rows)
    table[_LINE] = np.asarray(numbers, dtype=np.int64)
    return table


def parse_timestamps(table: pd.DataFrame, spec: TimestampSpec, where: str = "the log") -> np.ndarray:
    """Seconds since the epoch for each row (NaN where a value does not parse).

    Values with a time zone are converted to UTC, so one column may mix zones; values without one
    are read as UTC.
    """
    missing = [f for f in spec.fields if f not in table.columns]
    if missing:
        raise ConfigError(
            f"timestamp fields {missing} are not among the fields of {where} {list(table.columns)[:20]}; "
            "fix source.timestamp.fields"
        )
    if spec.format == "unix":
        joined = _joined(table, spec.fields)
        return pd.to_numeric(joined, errors="coerce").to_numpy(dtype=np.float64)
    column = table[spec.fields[0]]
    rows = None  # each row's value in ``values``, when only the distinct ones are parsed
    try:
        if len(spec.fields) == 1 and pd.api.types.is_datetime64_any_dtype(column):
            values = pd.to_datetime(column, utc=True)
        else:
            # Each distinct text is parsed once: a log repeats its timestamps (many lines a second).
            # The first is the first value still, so "auto" infers the same format from it.
            rows, distinct = pd.factorize(_joined(table, spec.fields), use_na_sentinel=False)
            joined = pd.Series(distinct)
            fmt = None if spec.format == "auto" else spec.format
            values = pd.to_datetime(joined, format=fmt, errors="coerce", utc=True, cache=False)
            failed = values.isna().to_numpy() & (joined.str.strip() != "").to_numpy()
            if fmt is None and failed.any():
                # "auto" infers one format from the first value; ISO 8601 values that differ from it only
                # in their zone (Z, +01:00 or none) still parse.
                values[failed] = pd.to_datetime(joined[failed], format="ISO8601", errors="coerce", utc=True)
    except (ValueError, TypeError, OverflowError) as err:
        raise DataError(
            f"cannot read the timestamps of {where} with source.timestamp.format {spec.format!r}: {err}. "
            "Give a strftime format that matches them (e.g. '%Y-%m-%d %H:%M:%S'), 'auto' or 'unix'."
        ) from None
    # In numpy, in the values' own unit: pandas parses some dates (year -1) that nanoseconds cannot hold.
    stamps = values.dt.tz_localize(None).to_numpy()
    seconds = ((stamps - np.datetime64(0, "s")) / np.timedelta64(1, "s")).astype(np.float64)
    return seconds if rows is None else seconds[rows]


def _joined(table: pd.DataFrame, fields: tuple[str, ...]) -> pd.Series:
    joined = table[fields[0]].astype(str)
    for f in fields[1:]:
        joined = joined + " " + table[f].astype(str)
    return joined


def _no_lines(path: Path, stats: ReadStats) -> str:
    if stats.damage is not None and stats.damage.cut_short:
        return (f"{path} holds no complete log line before its compressed stream breaks at byte "
                f"{stats.damage.offset:,} ({stats.damage.unread_bytes:,} byte(s) after it could not be decoded); "
                "the file is damaged: get an intact copy")
    return f"{path} holds no log lines (only blank lines)"


def read_log(path: Path, source: SourceConfig, keep_fields: set[str] | None = None) -> LogFrame:
    """Read ``path`` as described by ``source``.

    ``keep_fields`` limits the non-content fields kept in memory (``None`` keeps all).
    Raises :class:`DataError` for a missing, empty, binary or wholly unmatched file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"log file {path} does not exist (or is not a file)")
    if path.stat().st_size == 0:
        raise DataError(f"log file {path} is empty: there is nothing to read")
    stats = ReadStats()
    try:
        with stage(f"reading {path.name} (lines)") as advance, gc_paused():
            if source.kind == "text":
                lines = _read_text(path, source, stats, keep_fields)
            else:
                lines = _table_lines(_read_table(path, source, stats), source, keep_fields)
            advance(len(lines.content))
    except OSError as err:
        raise DataError(f"cannot read log file {path}: {err.strerror or err}; check that it is readable") from None
    stats.lines = len(lines.content)
    log.info("read %s: %d line(s)", path, stats.lines)
    for warning in stats.warnings():
        log.warning("%s: %s", path, warning)
    if stats.lines == 0:
        raise DataError(_no_lines(path, stats))
    matched = lines.matched
    if not matched.any():
        first = lines.content[0][:200]
        raise DataError(
            f"the log_format {source.log_format!r} matched none of the {stats.lines} lines of {path}; "
            f"the first line is {first!r}. Fix the format string (fields are <Name>, spaces match any whitespace)."
        )
    if source.timestamp is not None:
        ts = parse_timestamps(lines.stamps, source.timestamp, str(path))
        stats.bad_timestamps = int(np.isnan(ts[matched]).sum())
        ts = pd.Series(ts).ffill().bfill().to_numpy(dtype=np.float64)
    else:
        ts = np.full(stats.lines, np.nan)
    return LogFrame(
        content=lines.content,
        timestamp=ts,
        label=np.full(stats.lines, UNLABELLED, dtype=np.int8),
        fields=lines.fields,
        matched=matched,
        stats=stats,
        origins=Origins.of_file(str(path), lines.numbers),
    )


def read_logs(paths: list[Path], source: SourceConfig, keep_fields: set[str] | None = None) -> LogFrame:
    """Read ``paths`` one after another as one log (each as :func:`read_log` reads it); every line
    keeps the file and line number it was read from, and the read counts add up."""
    frames = [read_log(p, source, keep_fields) for p in paths]
    if len(frames) == 1:
        return frames[0]
    names = list(dict.fromkeys(name for f in frames for name in f.fields))
    stats = ReadStats()
    for f in frames:
        for name in ("lines", "unmatched", "undecodable", "oversized", "blank", "bad_timestamps", "nul_lines"):
            setattr(stats, name, getattr(stats, name) + getattr(f.stats, name))
        stats.truncated |= f.stats.truncated
        # One damage is reported (the first file's that has one): its warning names where a stream broke.
        stats.damage = stats.damage or f.stats.damage
    return LogFrame(
        content=[line for f in frames for line in f.content],
        timestamp=np.concatenate([f.timestamp for f in frames]),
        label=np.concatenate([f.label for f in frames]),
        # A field one file lacks (a JSON key) is empty on its lines, as a missing key is within a file.
        fields={name: [v for f in frames for v in f.fields.get(name, [""] * len(f))] for name in names},
        matched=np.concatenate([f.matched for f in frames]),
        stats=stats,
        origins=Origins.concat([f.origins for f in frames if f.origins is not None]),
    )
