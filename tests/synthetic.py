"""Small synthetic logs the tests build detectors and streams from (no data folder needed)."""

from __future__ import annotations

import numpy as np

from collaborlog.data.config import SessionGrouping
from collaborlog.data.grouping import GroupStats, group_sessions
from collaborlog.records import LogFrame, Sequence

NORMAL = [("INFO", "Opening file {n}"), ("INFO", "Wrote {n} bytes"), ("INFO", "Verified checksum {n}"),
          ("INFO", "Closed file {n}")]
FAILED = [("INFO", "Opening file {n}"), ("INFO", "Wrote {n} bytes"), ("ERROR", "Write failed: disk error at sector {n}"),
          ("INFO", "Closed file {n}")]
"""A file write as :func:`world` lines, and the same write failing."""


def block_log(n_sessions: int, responders: int = 1) -> tuple[LogFrame, list[Sequence]]:
    """HDFS-like block sessions; every tenth one fails with an exception line (label 1)."""
    lines, labels = [], []
    for s in range(n_sessions):
        lines += [f"Receiving block blk_{s} src: /10.0.0.{s % 9}:500{s % 7}",
                  f"Received block blk_{s} of size {1000 + s} from /10.0.0.{s % 9}"]
        lines += [f"PacketResponder {s % 3} for block blk_{s} terminating"] * responders
        labels += [0] * (2 + responders)
        if s % 10 == 9:
            lines.append(f"Exception in receiveBlock for block blk_{s} java.io.IOException")
            labels.append(1)
    n = len(lines)
    frame = LogFrame(lines, np.arange(n, dtype=np.float64), np.asarray(labels, np.int8), {}, np.ones(n, bool))
    seqs = group_sessions(frame, SessionGrouping(regex=r"blk_\d+"), GroupStats())
    return frame, [s.__class__(s.id, s.lines, int((frame.label[s.lines] == 1).any()), s.start) for s in seqs]


def world(sequences: list[list[tuple[str, str]]], labels: list[int], prefix: str) -> tuple[LogFrame, list[Sequence]]:
    """A log of ``sequences`` given as (level, text) lines, ``{n}`` filled per sequence; levels in ``Level``."""
    content, levels, out = [], [], []
    for k, (lines, label) in enumerate(zip(sequences, labels)):
        start = len(content)
        for level, text in lines:
            content.append(text.format(n=1000 + 7 * k))
            levels.append(level)
        out.append(Sequence(f"{prefix}{k}", np.arange(start, len(content)), label, float(k)))
    frame = LogFrame(content=content, timestamp=np.arange(len(content), dtype=float),
                     label=np.full(len(content), -1, np.int8), fields={"Level": levels},
                     matched=np.ones(len(content), bool))
    return frame, out
