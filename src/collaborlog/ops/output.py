"""Detections as machine-readable rows: one flat record per sequence, written as JSON Lines or CSV.

A script reading ``collaborlog detect --format jsonl|csv`` gets the same fields in both formats, in
a fixed order, so a column never moves between runs.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TextIO

from collaborlog.errors import ConfigError
from collaborlog.verdicts import Branch, Detection, LineBlame, Route

FIELDS = ("sequence_id", "verdict", "score", "route", "branch", "loss", "reason", "neighbours", "fallback", "lines")
"""The columns of a row, in order. ``neighbours`` holds up to three nearest memory ids, space-separated;
``lines`` the lines an anomalous sequence blames, most responsible first (:func:`blamed`): a list in
JSON Lines, the same list as JSON text in CSV."""


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
        "lines": [blamed(b) for b in detection.blame],
    }


def blamed(line: LineBlame) -> dict[str, object]:
    """One blamed line as a record: where it was read, when, what it says, and why it is blamed."""
    return {"file": line.file, "line": line.line_number, "timestamp": line.timestamp, "position": line.position,
            "text": line.text, "score": round(line.score, 6), "reasons": [r.value for r in line.reasons]}


def render(detections: Iterable[Detection], fmt: OutputFormat) -> str:
    """All rows in ``fmt`` (JSON Lines or CSV with a header); the table format is the CLI's own."""
    rows = [row(d) for d in detections]
    if fmt is OutputFormat.JSONL:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if fmt is OutputFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "lines": json.dumps(r["lines"], ensure_ascii=False)} for r in rows)
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


@dataclass(frozen=True)
class Routing:
    """How a run's sequences were judged, counted: what went to the LLM and what became of it."""

    sequences: int
    anomalous: int
    routed: int
    """Sequences the coordinator sent to the LLM."""
    judged: int
    """Routed sequences an LLM judged."""
    fell_back: int
    """Routed sequences the LLM failed on (down, bad answers, budget spent): the small model's verdict."""
    not_judged: int
    """Routed sequences no LLM is configured to judge."""

    @classmethod
    def of(cls, detections: list[Detection]) -> Routing:
        branches = Counter(d.branch for d in detections if d.route is Route.LLM)
        routed = sum(branches.values())
        fell_back, not_judged = branches[Branch.FALLBACK], branches[Branch.NOT_JUDGED]
        return cls(len(detections), sum(1 for d in detections if d.verdict == 1), routed,
                   routed - fell_back - not_judged, fell_back, not_judged)

    def describe(self) -> str:
        """In words, for the console: an LLM that was down must not read as 'sent'."""
        parts = [f"{self.routed:,} routed to the LLM", f"{self.judged:,} judged by it"]
        if self.fell_back:
            parts.append(f"{self.fell_back:,} fell back to the small model (LLM failed or budget spent)")
        if self.not_judged:
            parts.append(f"{self.not_judged:,} unfamiliar, not judged (no LLM)")
        return f"{self.sequences:,} sequences judged: {self.anomalous:,} anomalous; " + ", ".join(parts)
