"""Message patterns: how a sequence's messages make the key under which its verdict is remembered
and shared (see :mod:`collaborlog.detector.judge`)."""

from __future__ import annotations


def summarize(lines: list[str]) -> list[str]:
    """Distinct messages in order of first appearance, each with its count: ``msg (x3)``.

    Far shorter than the raw sequence (an HDFS block of 20 lines has 6-8 distinct messages),
    which is what a small local model can read quickly; the order of repeats is given up.
    """
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    return [m if n == 1 else f"{m} (x{n})" for m, n in counts.items()]
