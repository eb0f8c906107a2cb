"""Message patterns: how a sequence's messages make the key under which its verdict is remembered
and shared (see :mod:`collaborlog.detector.judge`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

import numpy as np

from collaborlog.memory.prevalence import wilson

if TYPE_CHECKING:
    from collaborlog.memory.history import History
    from collaborlog.verdicts import MessageVerdict


def summarize(lines: list[str]) -> list[str]:
    """Distinct messages in order of first appearance, each with its count: ``msg (x3)``.

    Far shorter than the raw sequence (an HDFS block of 20 lines has 6-8 distinct messages),
    which is what a small local model can read quickly; the order of repeats is given up.
    """
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    return [m if n == 1 else f"{m} (x{n})" for m, n in counts.items()]


def pattern_key(messages: list[str], by_set: bool = False) -> tuple[str, ...]:
    """A sequence's message pattern: its distinct messages with counts in order, or (``by_set``) sorted without.

    >>> pattern_key(["open", "read", "read"])
    ('open', 'read (x2)')
    >>> pattern_key(["read", "open", "read"], by_set=True)
    ('open', 'read')
    """
    if by_set:
        return tuple(sorted(set(messages)))
    return tuple(summarize(list(messages)))


def pattern_text(key: tuple[str, ...]) -> str:
    """A pattern key as one string (for counting patterns like messages)."""
    return "\x1f".join(key)


def largest_failure_pattern(keys: list[tuple[str, ...]], labels: np.ndarray) -> float:
    """The upper end of the 95% Wilson interval of the largest share of ``keys`` one failure pattern holds."""
    counts = Counter(k for k, label in zip(keys, labels) if label == 1)
    return wilson(max(counts.values()), len(keys))[1] if counts else 0.0


def set_keys_are_pure(messages: list[list[str]], labels: np.ndarray, purity: float = 0.99) -> bool:
    """Whether sequences with the same set of messages carry the same label, for ``purity`` of them."""
    counts: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    for lines, label in zip(messages, labels):
        if label >= 0:
            counts[pattern_key(lines, by_set=True)][int(label)] += 1
    total = sum(sum(c.values()) for c in counts.values())
    agree = sum(max(c.values()) for c in counts.values())
    return total > 0 and agree >= purity * total


def single_label_patterns(keys: list[tuple[str, ...]], labels: np.ndarray,
                          ids: list[str]) -> dict[tuple[str, ...], tuple[int, str]]:
    """The patterns whose labelled sequences all carry one label: pattern -> (label, the first id).
    Unlabelled sequences (``-1``) are left out."""
    seen: dict[tuple[str, ...], tuple[int, str]] = {}
    mixed: set[tuple[str, ...]] = set()
    for key, label, sid in zip(keys, labels, ids):
        if label < 0:
            continue
        if key in seen and seen[key][0] != label:
            mixed.add(key)
        seen.setdefault(key, (int(label), sid))
    return {k: v for k, v in seen.items() if k not in mixed}


def read_as(lines: list[str], aligned: list[str], verdicts: dict[str, MessageVerdict]) -> list[str]:
    """``aligned`` with each confirmed rewording read as the message it rewords."""
    return [verdicts[line].rewords or name if line in verdicts else name for line, name in zip(lines, aligned)]


def reread(history: History, patterns: dict[tuple[str, ...], tuple[int, str]], dropped: set[str],
           by_set: bool) -> dict[tuple[str, ...], tuple[int, str]]:
    """The labelled history's patterns read without ``dropped`` messages: pattern -> (label, an id).
    Only patterns the memory holds from the history (not from the LLM) are read again; patterns
    that then carry both labels are left out, as at fit."""
    seen: dict[tuple[str, ...], tuple[int, str]] = {}
    mixed: set[tuple[str, ...]] = set()
    for row in range(len(history.patterns)):
        lines = history.messages(row)
        entry = patterns.get(pattern_key(lines, by_set))
        if entry is None or entry[1].startswith("llm:") or not dropped.intersection(lines):
            continue
        key = pattern_key([m for m in lines if m not in dropped], by_set)
        if key in seen and seen[key][0] != entry[0]:
            mixed.add(key)
        seen.setdefault(key, entry)
    return {k: v for k, v in seen.items() if k not in mixed and k}
