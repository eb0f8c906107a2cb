"""An operator's corrections: which sequence truly is anomalous or normal, read from a file or from
arguments, and the corrected sequences picked out of the logs that hold them.

A corrections file is CSV (with a header) or JSON Lines, for instance the output of
``collaborlog detect --format csv|jsonl`` edited by hand. A row names its sequence in
``sequence_id`` (or ``id``) and its true label in ``label`` or, where it has none, in
``verdict`` (the column an operator edits in ``detect``'s output): ``1``/``anomalous``/``abnormal``
or ``0``/``normal``. Every row is taken as the operator's word, so keep only the rows you
corrected or confirm.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collaborlog.errors import DataError
from collaborlog.records import UNLABELLED, LogFrame, Sequence

LABELS = {"0": 0, "1": 1, "normal": 0, "anomalous": 1, "abnormal": 1}
"""The words a label may be written as (case-insensitive)."""

ID_FIELDS = ("sequence_id", "id")
LABEL_FIELDS = ("label", "verdict")


@dataclass(frozen=True)
class Correction:
    """An operator's true label of one sequence: 1 anomalous, 0 normal."""

    sequence_id: str
    label: int


def parse_label(value: object, where: str) -> int:
    """The label ``value`` writes (see :data:`LABELS`); anything else is a :class:`DataError` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DataError(f"{where}: a label is 1/anomalous or 0/normal, not {value!r}")
    label = LABELS.get(str(value).strip().lower())
    if label is None:
        raise DataError(f"{where}: a label is 1/anomalous or 0/normal, not {value!r}")
    return label


def _correction(row: dict, where: str) -> Correction:
    sid = next((row[k] for k in ID_FIELDS if row.get(k) not in (None, "")), None)
    if not isinstance(sid, str):
        raise DataError(f"{where}: no sequence id (a {' or '.join(ID_FIELDS)} field holding text)")
    field = next((k for k in LABEL_FIELDS if row.get(k) not in (None, "")), None)
    if field is None:
        raise DataError(f"{where}: no label (a {' or '.join(LABEL_FIELDS)} field) for sequence {sid!r}")
    return Correction(sid, parse_label(row[field], where))


def read_corrections(path: Path) -> list[Correction]:
    """The corrections in the CSV or JSON Lines file ``path`` (told apart by their first character)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"the corrections file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read the corrections file {path}: {err}") from None
    rows: list[tuple[dict, str]] = []
    if text.lstrip().startswith("{"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as err:
                raise DataError(f"{path} line {n} is not JSON ({err}); a JSON Lines file holds one object a line") from None
            if not isinstance(row, dict):
                raise DataError(f"{path} line {n} holds a {type(row).__name__}, not an object")
            rows.append((row, f"{path} line {n}"))
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not set(reader.fieldnames) & set(ID_FIELDS):
            raise DataError(f"{path} is neither JSON Lines nor a CSV file whose header names "
                            f"{' or '.join(ID_FIELDS)} and {' or '.join(LABEL_FIELDS)}")
        rows = [(row, f"{path} line {reader.line_num}") for row in reader]
    if not rows:
        raise DataError(f"{path} holds no corrections")
    return merge([_correction(row, where) for row, where in rows])


def from_arguments(ids: list[str], labels: list[str]) -> list[Correction]:
    """Corrections given as ``--id X --label 1`` pairs, in order."""
    if len(ids) != len(labels):
        raise DataError(f"{len(ids)} --id but {len(labels)} --label: give one --label after each --id")
    return merge([Correction(sid, parse_label(label, f"--label of {sid!r}")) for sid, label in zip(ids, labels)])


def merge(corrections: list[Correction]) -> list[Correction]:
    """``corrections`` with repeats of the same label dropped; two labels for one sequence are a :class:`DataError`."""
    seen: dict[str, int] = {}
    for c in corrections:
        if seen.setdefault(c.sequence_id, c.label) != c.label:
            raise DataError(f"sequence {c.sequence_id!r} is corrected both to 0 and to 1: give it one label")
    return [Correction(sid, label) for sid, label in seen.items()]


def corrected_sequences(logs: list[tuple[str, LogFrame, list[Sequence]]],
                        corrections: list[Correction]) -> tuple[LogFrame, list[Sequence], list[int]]:
    """The lines of the corrected sequences, gathered from ``logs`` (name, frame, its sequences)
    into one frame, the sequences over it and their labels. A sequence no log holds, or more
    than one does, is a :class:`DataError`."""
    where: dict[str, list[tuple[str, LogFrame, Sequence]]] = {c.sequence_id: [] for c in corrections}
    for name, frame, sequences in logs:
        for s in sequences:
            if s.id in where:
                where[s.id].append((name, frame, s))
    missing = [sid for sid, found in where.items() if not found]
    if missing:
        names = ", ".join(name for name, _, _ in logs)
        raise DataError(f"{len(missing)} corrected sequence(s) are in no log read ({names}), e.g. "
                        f"{', '.join(repr(m) for m in missing[:5])}: give the log that holds them with --log, "
                        "grouped by the same dataset configuration")
    twice = next(((sid, found) for sid, found in where.items() if len(found) > 1), None)
    if twice is not None:
        raise DataError(f"sequence {twice[0]!r} is in more than one log ({', '.join(n for n, _, _ in twice[1])}): "
                        "correct it with only the log that holds it")
    content: list[str] = []
    stamps: list[float] = []
    out: list[Sequence] = []
    for c in corrections:
        _, frame, s = where[c.sequence_id][0]
        start = len(content)
        content += [frame.content[int(i)] for i in s.lines]
        stamps += frame.timestamp[s.lines].tolist()
        out.append(Sequence(s.id, np.arange(start, len(content)), c.label, s.start))
    n = len(content)
    log = LogFrame(content=content, timestamp=np.asarray(stamps, dtype=np.float64),
                   label=np.full(n, UNLABELLED, np.int8), fields={}, matched=np.ones(n, bool))
    return log, out, [c.label for c in corrections]
