"""What a log says of itself: each line's log level, where the format has one.

A new ERROR line and a new INFO line are different evidence, and a log that prints its levels
has already answered the question an LLM would otherwise be asked to guess. Levels come from a
field named ``level`` (any case) or ``severity``; the many spellings of the logging libraries
are read as five levels.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from collaborlog.records import LogFrame, Sequence

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
PROBLEM_LEVELS = frozenset({"WARN", "ERROR", "FATAL"})
_SEVERITY = {level: rank for rank, level in enumerate(LEVELS)}
LEVEL_FIELDS = ("level", "severity")
"""Field names (compared without case) read as a line's level."""

_SPELLINGS = {
    "TRACE": "DEBUG", "DEBUG": "DEBUG", "FINE": "DEBUG", "FINER": "DEBUG", "FINEST": "DEBUG", "VERBOSE": "DEBUG",
    "INFO": "INFO", "INFORMATION": "INFO", "NOTICE": "INFO", "CONFIG": "INFO",
    "WARN": "WARN", "WARNING": "WARN",
    "ERROR": "ERROR", "ERR": "ERROR", "SEVERE": "ERROR",
    "FATAL": "FATAL", "CRITICAL": "FATAL", "CRIT": "FATAL", "PANIC": "FATAL", "EMERG": "FATAL", "ALERT": "FATAL",
}


def normalize(value: str) -> str | None:
    """One of :data:`LEVELS` for a level as a logging library prints it, else ``None``."""
    return _SPELLINGS.get(value.strip().strip("[]:").upper())


def level_field(log: LogFrame) -> str | None:
    """The name of ``log``'s level field, if it has one."""
    for name in log.fields:
        if name.lower() in LEVEL_FIELDS:
            return name
    return None


def message_levels(log: LogFrame, sequences: list[Sequence], messages: list[list[str]]) -> dict[str, str]:
    """Each message's most common level over its lines in ``sequences`` (``messages`` in the same
    order as their lines); messages whose lines print no level that :func:`normalize` reads are left out."""
    name = level_field(log)
    if name is None:
        return {}
    values = log.fields[name]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for seq, lines in zip(sequences, messages):
        for i, message in zip(seq.lines, lines):
            level = normalize(values[int(i)])
            if level is not None:
                counts[message][level] += 1
    return {m: c.most_common(1)[0][0] for m, c in counts.items()}


def levels_as_read(raw: list[list[str]], read: list[list[str]], levels: dict[str, str]) -> dict[str, str]:
    """``levels`` (per raw message) with the level of each name the lines are read as: a line
    aligned to a known message, or read as a rewording of one, prints at its own level under
    that name. Where lines of several levels read as one name, the most severe wins."""
    out: dict[str, str] = {}
    for lines, names in zip(raw, read):
        for m, name in zip(lines, names):
            if m in levels and (name not in out or _SEVERITY[levels[m]] > _SEVERITY[out[name]]):
                out[name] = levels[m]
    return {**out, **levels}
