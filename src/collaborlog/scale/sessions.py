"""Sessions that span files: each file is cut into session parts, parts are merged by session key.

A worker reads one file with the dataset's reader and groups it by the dataset's session key
(:func:`collaborlog.grouping.group_sessions`); each (key, file) part is one row. Rows with the
same key meet in one group (a shuffle by session key) and become one sequence, its parts in
file order. The merged sequence is the one a single process reading the files one after the
other would build, and ``order`` sorts sequences by first appearance as that process does.

Rows are plain dicts of lists: what a distributed engine ships between machines.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from collaborlog.data.config import DatasetConfig, SessionGrouping
from collaborlog.data.grouping import GroupStats, group_sessions
from collaborlog.data.levels import LEVEL_FIELDS, level_field, normalize
from collaborlog.data.readers import read_log
from collaborlog.errors import ConfigError, DataError

LINE_BITS = 40
"""``order`` is ``file << LINE_BITS | first line``: files of up to 2**40 lines, 2**23 files."""


def input_files(paths: list[Path]) -> list[Path]:
    """The files ``paths`` name, in the order given; a folder stands for its files (not hidden, sorted by name)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not any(
                part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise DataError(f"input folder {path} holds no files")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise DataError(f"input {path} does not exist: give log files or folders of them")
    if not out:
        raise DataError("no input files given")
    return out


def session_grouping(cfg: DatasetConfig) -> SessionGrouping:
    """``cfg``'s session grouping; windows cannot span files, so other groupings are refused."""
    if not isinstance(cfg.grouping, SessionGrouping):
        raise ConfigError(f"dataset {cfg.name!r} groups by {cfg.grouping.kind} windows; a distributed job groups "
                          "by session key (grouping: {kind: session, field: ... or regex: ...}), which may span files")
    if cfg.source.kind == "logevol":
        raise ConfigError("logevol sources ship their sessions whole; run them with the local engine")
    return cfg.grouping


def read_parts(path: str, file: int, cfg: DatasetConfig) -> list[dict]:
    """One row per session key in the file ``path`` (number ``file`` of the job): its lines and their levels."""
    grouping = session_grouping(cfg)
    keep = {v for name in LEVEL_FIELDS for v in (name, name.capitalize(), name.upper())}
    if grouping.field:
        keep.add(grouping.field)
    frame = read_log(Path(path), cfg.source, keep_fields=keep)
    level_name = level_field(frame)
    levels = [normalize(v) or "" for v in frame.fields[level_name]] if level_name else [""] * len(frame)
    return [{"key": s.id, "order": (file << LINE_BITS) | int(s.lines[0]),
             "content": [frame.content[i] for i in s.lines], "level": [levels[i] for i in s.lines]}
            for s in group_sessions(frame, grouping, GroupStats())]


def merge_parts(parts: list[dict]) -> dict:
    """One session's parts (from any files, in any order) as one sequence row, its parts in file order."""
    ordered = sorted(parts, key=lambda p: p["order"])
    return {"key": ordered[0]["key"], "order": ordered[0]["order"],
            "content": [line for p in ordered for line in p["content"]],
            "level": [level for p in ordered for level in p["level"]]}


def message_levels(messages: list[list[str]], levels: list[list[str]]) -> dict[str, str]:
    """Each message's most common level over its lines, sequences in job order (as
    :func:`collaborlog.levels.message_levels` counts them in one process); lines without a level are left out."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for seq_messages, seq_levels in zip(messages, levels):
        for message, level in zip(seq_messages, seq_levels):
            if level:
                counts[message][level] += 1
    return {m: c.most_common(1)[0][0] for m, c in counts.items()}
