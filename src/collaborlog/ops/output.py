"""Detections as machine-readable rows: one flat record per sequence, written as JSON Lines or CSV.

A script reading ``collaborlog detect --format jsonl|csv`` gets the same fields in both formats, in
a fixed order, so a column never moves between runs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from enum import Enum
from typing import TextIO

from collaborlog.errors import ConfigError
from collaborlog.verdicts import Detection

FIELDS = ("sequence_id", "verdict", "score", "route", "branch", "loss", "reason", "neighbours", "fallback")
"""The columns of a row, in order. ``neighbours`` holds up to three nearest memory ids, space-separated."""


class OutputFormat(str, Enum):
    TABLE = "table"
    JSONL = "jsonl"
    CSV = "csv"


def output_format(name: str) -> OutputFormat:
    """The format called ``name``; anything else is a :class:`ConfigError` naming the choices."""
    try:
        return OutputFormat(name)
    except ValueError:
        choices = ", ".join(f.value for f in OutputFormat)
        raise ConfigError(f"--format must be one of {choices}, not {name!r}") from None


def row(detection: Detection) -> dict[str, object]:
    """One detection as a flat record with the keys of :data:`FIELDS`."""
    return {
        "sequence_id": detection.sequence_id,
        "verdict": int(detection.verdict),
        "score": round(float(detection.score), 6),
        "route": detection.route.value,
        "branch": detection.branch.value,
        "loss": round(float(detection.loss), 6),
        "reason": detection.reason,
        "neighbours": " ".join(n.id for n in detection.neighbours[:3]),
        "fallback": detection.fallback or "",
    }


def render(detections: Iterable[Detection], fmt: OutputFormat) -> str:
    """All rows in ``fmt`` (JSON Lines or CSV with a header); the table format is the CLI's own."""
    rows = [row(d) for d in detections]
    if fmt is OutputFormat.JSONL:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if fmt is OutputFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    raise ConfigError(f"render writes jsonl or csv, not {fmt.value!r}")


class RowWriter:
    """Rows written one at a time as verdicts come (``detect --follow``), each flushed at once:
    JSON Lines, or CSV with its header before the first row. The same rows as :func:`render`."""

    def __init__(self, stream: TextIO, fmt: OutputFormat) -> None:
        if fmt is OutputFormat.TABLE:
            raise ConfigError("RowWriter writes jsonl or csv, not 'table'")
        self.stream = stream
        self.fmt = fmt
        self._csv = csv.DictWriter(stream, fieldnames=FIELDS, lineterminator="\n") if fmt is OutputFormat.CSV else None
        self._header_written = False

    def write(self, detection: Detection) -> None:
        record = row(detection)
        if self._csv is None:
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            if not self._header_written:
                self._csv.writeheader()
                self._header_written = True
            self._csv.writerow(record)
        self.stream.flush()
