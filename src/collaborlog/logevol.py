"""The published LOGEVOL layout (EvLog, ASE 2023) and its one-time conversion to JSON Lines.

Layout: ``ROOT/{spark2,spark3,hadoop2,hadoop3}/session_{train,valid,test}.pkl``, each a dict
``session id -> {"label", "templates", "Content", "rca_label" | "rac_label"}``. Unpickling can
run code, so reading ``.pkl`` needs an explicit opt-in, and even then only plain containers,
strings and numbers are accepted. :func:`convert` writes ``session_*.jsonl`` beside them once;
later reads use those and never unpickle.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collaborlog.errors import DataError
from collaborlog.records import LogFrame, ReadStats, Sequence

SYSTEMS = ("spark2", "spark3", "hadoop2", "hadoop3")
SPLITS = ("train", "valid", "test")

_SAFE_GLOBALS = {
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"), ("builtins", "set"),
    ("builtins", "str"), ("builtins", "int"), ("builtins", "float"), ("builtins", "bool"),
    ("collections", "OrderedDict"),
    ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


@dataclass(frozen=True)
class LogevolSession:
    id: str
    label: int
    content: list[str]
    templates: list[str]
    line_labels: list[int]
    changes: tuple[str, ...] = ()
    """What the log-evolution simulator changed (sessions it wrote only)."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module, name) not in _SAFE_GLOBALS:
            raise DataError(
                f"the pickle asks for {module}.{name}, which a LOGEVOL file never needs; refusing to load it"
            )
        return super().find_class(module, name)


def _as_int(value: object) -> int:
    return 1 if int(value) else 0  # type: ignore[call-overload]


def _session(sid: object, record: object, where: str) -> LogevolSession:
    if not isinstance(record, dict) or "label" not in record:
        raise DataError(f"{where}: session {sid!r} is not a dict with a 'label'")
    content = [str(c) for c in record.get("Content", record.get("content", []))]
    templates = [str(t) for t in record.get("templates", [])]
    if not content:
        content = templates
    per_line = record.get("rca_label", record.get("rac_label", record.get("line_labels")))
    line_labels = [_as_int(v) for v in per_line] if per_line is not None else [-1] * len(content)
    if len(line_labels) != len(content):
        line_labels = [-1] * len(content)
    changes = tuple(str(c) for c in record.get("changes", ()))
    return LogevolSession(str(sid), _as_int(record["label"]), content, templates, line_labels, changes)


def _pickle_path(root: Path, system: str, split: str) -> Path:
    return root / system / f"session_{split}.pkl"


def _jsonl_path(root: Path, system: str, split: str) -> Path:
    return root / system / f"session_{split}.jsonl"


def _read_pickle(path: Path) -> list[LogevolSession]:
    try:
        data = _RestrictedUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise DataError(f"{path} is not a readable pickle: {err}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} should hold a dict of sessions, not {type(data).__name__}")
    return [_session(sid, rec, str(path)) for sid, rec in data.items()]


def read_sessions_jsonl(path: Path) -> list[LogevolSession]:
    """Sessions from a JSON Lines file of ``{"id", "label", "Content", "line_labels"}`` rows."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number} is not valid JSON ({err}); the file may be truncated") from None
            out.append(_session(rec.get("id"), rec, f"{path}:{number}"))
    return out


def read_split(root: Path, system: str, split: str, allow_pickle: bool = False) -> list[LogevolSession]:
    """Sessions of one system and split, from JSON Lines if converted, else from the pickle (opt-in)."""
    if system not in SYSTEMS:
        raise DataError(f"unknown LOGEVOL system {system!r}; expected one of {SYSTEMS}")
    jsonl = _jsonl_path(root, system, split)
    if jsonl.is_file():
        return read_sessions_jsonl(jsonl)
    pkl = _pickle_path(root, system, split)
    if not pkl.is_file():
        raise DataError(
            f"LOGEVOL file {pkl} (or its conversion {jsonl.name}) is missing. The dataset is published with "
            "EvLog (https://github.com/YintongHuo/EvLog); put its Logevol folder at the configured path."
        )
    if not allow_pickle:
        raise DataError(
            f"{pkl} is a pickle, and unpickling can run code. Convert it once with "
            f"'collaborlog convert-logevol {root} --allow-pickle', or set source.allow_pickle: true."
        )
    return _read_pickle(pkl)


def write_sessions_jsonl(path: Path, rows: list[dict]) -> None:
    """Write session rows as JSON Lines, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def to_frame(sessions: list[LogevolSession], start_line: int = 0) -> tuple[list[str], list[int], list[Sequence]]:
    """Concatenate sessions into lines; returns contents, per-line labels and sequences over them."""
    content: list[str] = []
    labels: list[int] = []
    seqs: list[Sequence] = []
    for s in sessions:
        lines = np.arange(start_line + len(content), start_line + len(content) + len(s.content), dtype=np.int64)
        content.extend(s.content)
        labels.extend(s.line_labels)
        seqs.append(Sequence(id=s.id, lines=lines, label=s.label, start=float(lines[0]) if lines.size else 0.0))
    return content, labels, seqs


def sessions_frame(path: Path) -> tuple[LogFrame, list[Sequence], np.ndarray]:
    """A sessions JSON Lines file as a log, its sequences, and which sessions the simulator changed."""
    sessions = read_sessions_jsonl(path)
    content, labels, seqs = to_frame(sessions)
    frame = LogFrame(content, np.full(len(content), np.nan), np.asarray(labels, np.int8), {},
                     np.ones(len(content), bool), ReadStats(lines=len(content)))
    return frame, seqs, np.array([bool(s.changes) for s in sessions], dtype=bool)


def convert(root: Path) -> list[Path]:
    """Write ``session_*.jsonl`` beside every ``session_*.pkl`` under ``root`` (atomically); returns them."""
    written = []
    for system in SYSTEMS:
        for split in SPLITS:
            pkl = _pickle_path(root, system, split)
            if not pkl.is_file():
                continue
            sessions = _read_pickle(pkl)
            target = _jsonl_path(root, system, split)
            write_sessions_jsonl(target, [
                {"id": s.id, "label": s.label, "Content": s.content, "templates": s.templates,
                 "line_labels": s.line_labels} for s in sessions])
            written.append(target)
    if not written:
        raise DataError(f"no session_*.pkl files under {root}/{{{','.join(SYSTEMS)}}}")
    return written
