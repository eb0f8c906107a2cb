"""Labels: per line (a field or a rule) or per session (a label file), carried up to sequences."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from collaborlog.data.config import LineLabels, SessionLabels
from collaborlog.data.readers import read_bytes
from collaborlog.errors import ConfigError, DataError
from collaborlog.records import ANOMALOUS, NORMAL, UNLABELLED, LogFrame, Sequence, StreamDamage

_TRUE = {"1", "true", "anomaly", "anomalous", "abnormal", "yes"}
_FALSE = {"0", "false", "normal", "no"}


@dataclass
class LabelStats:
    unknown_sessions: int = 0
    """Sessions named in the label file that never occur in the log (skipped)."""
    unlabelled_sequences: int = 0
    """Sequences with no label; they are kept but left out of every metric."""
    damage: StreamDamage | None = None
    """Where a compressed label file broke (or stray bytes followed it), and what that cost."""


def apply_line_labels(frame: LogFrame, rule: LineLabels) -> None:
    """Set ``frame.label`` from a field: normal when its value is a normal value, else anomalous."""
    if rule.field not in frame.fields:
        raise ConfigError(f"label field {rule.field!r} is not among the log's fields {sorted(frame.fields)}")
    values = np.asarray(frame.fields[rule.field], dtype=object)
    normal = np.isin(values, list(rule.normal_values))
    if rule.anomalous_values is None:
        labels = np.where(normal, NORMAL, ANOMALOUS)
    else:
        anomalous = np.isin(values, list(rule.anomalous_values))
        labels = np.where(anomalous, ANOMALOUS, np.where(normal, NORMAL, UNLABELLED))
    # A line that did not match the format has no label field: its label is unknown.
    labels[~frame.matched] = UNLABELLED
    frame.label = labels.astype(np.int8)


def read_session_labels(path: Path, rule: SessionLabels, stats: LabelStats | None = None) -> dict[str, int]:
    """Read a CSV mapping session id to 0/1 (``true``/``false`` and ``Anomaly``/``Normal`` work too).

    A gzip-compressed file that breaks keeps every complete row before the break (``stats.damage``
    says what was lost). An empty id, an id given two different labels, or a label that is none
    of those values is a :class:`DataError` naming the file and row.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label file {path} does not exist")
    try:
        data, damage = read_bytes(path)
    except OSError as err:
        raise DataError(f"cannot read label file {path}: {err.strerror or err}; check that it is readable") from None
    if stats is not None:
        stats.damage = damage
    try:
        table = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding_errors="replace")
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(f"cannot read label file {path} as CSV: {err}. Repair it or point labels.path at an intact copy") from None
    for col in (rule.id_column, rule.label_column):
        if col not in table.columns:
            raise DataError(
                f"label file {path} has no column {col!r}; its columns are {list(table.columns)[:20]}. "
                "Set labels.id_column and labels.label_column to the file's columns."
            )
    out: dict[str, int] = {}
    # Row numbers as a reader sees them in the file: the header is row 1.
    for row, (sid, raw) in enumerate(zip(table[rule.id_column], table[rule.label_column]), start=2):
        value = raw.strip().lower()
        if value in _TRUE:
            label = ANOMALOUS
        elif value in _FALSE:
            label = NORMAL
        else:
            raise DataError(
                f"label file {path} row {row}: session {sid!r} has label {raw!r}; "
                "expected 0/1, true/false or Normal/Anomaly. Fix that row."
            )
        sid = sid.strip()
        if not sid:
            raise DataError(f"label file {path} row {row} has an empty {rule.id_column!r}; give the session id or remove the row")
        if out.get(sid, label) != label:
            raise DataError(
                f"label file {path} row {row} labels session {sid!r} {raw!r}, but an earlier row gave it the other label; "
                "keep one row per session"
            )
        out[sid] = label
    return out


def label_from_lines(frame: LogFrame, sequences: list[Sequence]) -> list[Sequence]:
    """A sequence is anomalous when any line is, normal when all lines are known normal, else unknown."""
    out = []
    for s in sequences:
        lab = frame.label[s.lines]
        if (lab == ANOMALOUS).any():
            label = ANOMALOUS
        elif (lab == NORMAL).all():
            label = NORMAL
        else:
            label = UNLABELLED
        out.append(replace(s, label=label))
    return out


def label_from_sessions(sequences: list[Sequence], labels: dict[str, int], stats: LabelStats) -> list[Sequence]:
    known = {s.id for s in sequences}
    stats.unknown_sessions = sum(1 for sid in labels if sid not in known)
    # Built directly: dataclasses.replace costs ten times as much, and a log has many sessions.
    return [Sequence(s.id, s.lines, labels.get(s.id, UNLABELLED), s.start) for s in sequences]
