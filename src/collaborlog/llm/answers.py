"""Robust parsing of the LLM's JSON answers.

Tolerates code fences, text around the JSON, ``"True"``/``true``/``"yes"``, and key case or
spacing (``isEvol``, ``system_state``). Anything else raises :class:`AnswerError`, which the
caller counts as a failure; it never crashes the run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from collaborlog.data.levels import LEVELS, PROBLEM_LEVELS
from collaborlog.errors import CollaborLogError

_TRUE = {"true", "yes", "y", "1", "evolved"}
_FALSE = {"false", "no", "n", "0", "not evolved"}
_ABNORMAL = {"abnormal", "anomalous", "anomaly", "anormal", "error", "failure"}
_NORMAL = {"normal", "ok", "healthy"}
_LEVEL_ALIASES = {"WARNING": "WARN", "ERR": "ERROR", "CRITICAL": "FATAL", "TRACE": "DEBUG", "INFORMATION": "INFO"}


class AnswerError(CollaborLogError):
    """The LLM's answer could not be read."""


@dataclass(frozen=True)
class EvolAnswer:
    is_evol: bool
    reason: str


@dataclass(frozen=True)
class MessageAnswer:
    level: str
    """The log level the LLM says the message's developer would give it (one of ``LEVELS``)."""
    same_as: int
    """The number of the old message it rewords; 0 for a new event."""
    reason: str

    @property
    def problem(self) -> bool:
        return self.level in PROBLEM_LEVELS


@dataclass(frozen=True)
class StateAnswer:
    anomalous: bool
    reason: str


def _norm_key(key: str) -> str:
    return re.sub(r"[\s_\-]", "", key).lower()


_DECODER = json.JSONDecoder()


def _json_object(text: str) -> dict | None:
    """The first JSON object in ``text`` that decodes (code fences removed), keys normalized."""
    text = re.sub(r"```(?:json)?", "", text)
    start = text.find("{")
    while start != -1:
        # raw_decode reads one value from ``start`` and ignores what follows, in C: a scan per "{"
        # in Python made an answer of a few thousand braces take seconds.
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):  # deep nesting exhausts the decoder's stack
            value = None
        if isinstance(value, dict):
            return {_norm_key(k): v for k, v in value.items()}
        start = text.find("{", start + 1)
    return None


def _field(text: str, data: dict | None, key: str) -> object:
    if data is not None and key in data:
        return data[key]
    # Fall back to a key-value pair in broken JSON: "IsEvol": "yes"
    spaced = r"[\s_\-]*".join(re.escape(ch) for ch in key)
    m = re.search(r'"?' + spaced + r'"?\s*[:=]\s*"?([A-Za-z0-9 ]+)"?', text, flags=re.IGNORECASE)
    return m.group(1).strip() if m else None


def _reason(text: str, data: dict | None) -> str:
    value = _field(text, data, "reason")
    return str(value).strip() if value is not None else ""


def _bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if value is not None else ""
    return True if word in _TRUE else False if word in _FALSE else None


def parse_message(text: str, candidates: int) -> MessageAnswer:
    """The new-message answer; ``same_as`` must name one of the ``candidates`` shown, or 0."""
    data = _json_object(text)
    value = _field(text, data, "level")
    level = _LEVEL_ALIASES.get(str(value).strip().upper(), str(value).strip().upper()) if value is not None else ""
    if level not in LEVELS:
        raise AnswerError(f"no log level ({', '.join(LEVELS)}) in the answer: {text[:200]!r}")
    value = _field(text, data, "sameas")
    try:
        same_as = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        same_as = -1
    if not 0 <= same_as <= candidates:
        raise AnswerError(f"same_as is not 0..{candidates} in the answer: {text[:200]!r}")
    return MessageAnswer(level, same_as, _reason(text, data))


def parse_evol(text: str) -> EvolAnswer:
    data = _json_object(text)
    is_evol = _bool(_field(text, data, "isevol"))
    if is_evol is not None:
        return EvolAnswer(is_evol, _reason(text, data))
    raise AnswerError(f"no IsEvol true/false in the answer: {text[:200]!r}")


def parse_state(text: str) -> StateAnswer:
    data = _json_object(text)
    value = _field(text, data, "systemstate")
    if value is None:
        value = _field(text, data, "state")
    word = str(value).strip().lower() if value is not None else ""
    if word in _ABNORMAL:
        return StateAnswer(True, _reason(text, data))
    if word in _NORMAL:
        return StateAnswer(False, _reason(text, data))
    raise AnswerError(f"no System State Normal/Abnormal in the answer: {text[:200]!r}")
