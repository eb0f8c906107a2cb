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
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collaborlog.atomic import atomic_write_text
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


def _as_label(value: object, where: str, key: str) -> int:
    """0 or 1 from a label written as a number, a bool or a digit string; anything else names the row."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if number not in (0.0, 1.0):
        raise DataError(f"{where}: {key} is {value!r}; a LOGEVOL label is 0 (normal) or 1 (anomalous). Fix that row.")
    return int(number)


def _strings(value: object, where: str, key: str) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int, float, np.generic)) for v in value):
        raise DataError(f"{where}: {key} must be a list of strings, not {type(value).__name__} {str(value)[:80]!r}")
    return [str(v) for v in value]


def _session(sid: object, record: object, where: str) -> LogevolSession:
    if not isinstance(record, dict) or "label" not in record:
        raise DataError(f"{where}: session {sid!r} is not a dict with a 'label'")
    where = f"{where}: session {sid!r}"
    key = "Content" if "Content" in record else "content"
    content = _strings(record.get(key, []), where, key)
    templates = _strings(record.get("templates", []), where, "templates")
    if not content:
        content = templates
    key = next((k for k in ("rca_label", "rac_label", "line_labels") if k in record), "")
    per_line = record.get(key)
    if per_line is not None and not isinstance(per_line, (list, tuple)):
        raise DataError(f"{where}: {key} must be a list of 0/1 per line, not {type(per_line).__name__}")
    line_labels = [_as_label(v, where, key) for v in per_line] if per_line is not None else [-1] * len(content)
    if len(line_labels) != len(content):
        line_labels = [-1] * len(content)
    changes = tuple(str(c) for c in record.get("changes", ()))
    return LogevolSession(str(sid), _as_label(record["label"], where, "label"), content, templates, line_labels, changes)


def _pickle_path(root: Path, system: str, split: str) -> Path:
    return root / system / f"session_{split}.pkl"


def _jsonl_path(root: Path, system: str, split: str) -> Path:
    return root / system / f"session_{split}.jsonl"


def _read_pickle(path: Path) -> list[LogevolSession]:
    try:
        data = _RestrictedUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            OverflowError, RecursionError) as err:
        # A damaged pickle fails in any of these ways, depending on which opcode the damage hits.
        raise DataError(f"{path} is not a readable pickle ({type(err).__name__}: {err}); get an intact copy") from None
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
            if not isinstance(rec, dict):
                raise DataError(f"{path}:{number} is a JSON {type(rec).__name__}, not a session object; fix or remove that line")
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
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


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
