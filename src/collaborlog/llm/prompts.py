"""The Evol-CoT prompts: package data files, overridable with a folder of the same file names.

Each file has a ``[system]`` and a ``[user]`` part; ``$name`` placeholders are filled with
:class:`string.Template`. Sequences are shown as their distinct masked messages with counts,
and Evol Detect sees the aligned differences between the two sequences instead of
two long lists, which small local models follow far better.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from collaborlog.data.levels import LEVELS
from collaborlog.errors import ConfigError
from collaborlog.memory.patterns import summarize

PROMPT_NAMES = ("new_message", "evol_detect", "ad_certain", "ad_uncertain")
MAX_LINES = 30

EVOL_SCHEMA = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "IsEvol": {"type": "boolean"}},
    "required": ["reason", "IsEvol"],
    "additionalProperties": False,
}


def message_schema(candidates: int) -> dict:
    """The answer to the new-message question: which of ``candidates`` reports the same event (0:
    none), then the log level its developer would give it. Constrained decoding writes the fields
    in this order: the model names the event before it picks the old message and the level."""
    return {
        "type": "object",
        "properties": {"reason": {"type": "string"}, "same_as": {"type": "integer", "enum": list(range(candidates + 1))},
                       "level": {"type": "string", "enum": list(LEVELS)}},
        "required": ["reason", "same_as", "level"],
        "additionalProperties": False,
    }


STATE_SCHEMA = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "System State": {"type": "string", "enum": ["Normal", "Abnormal"]}},
    "required": ["reason", "System State"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    system: Template
    user: Template

    def render(self, **values: str) -> tuple[str, str]:
        try:
            return self.system.substitute(values), self.user.substitute(values)
        except KeyError as err:
            raise ConfigError(f"prompt {self.name!r} uses ${err.args[0]}, which this agent does not provide") from None


def _parse(name: str, text: str) -> PromptTemplate:
    if "[system]" not in text or "[user]" not in text:
        raise ConfigError(f"prompt {name!r} must have a [system] and a [user] part")
    system = text.split("[system]", 1)[1].split("[user]", 1)[0].strip()
    user = text.split("[user]", 1)[1].strip()
    return PromptTemplate(name, Template(system), Template(user))


def load_prompts(folder: Path | None = None) -> dict[str, PromptTemplate]:
    """The shipped prompts, with any of them replaced by ``folder/<name>.txt``."""
    out = {}
    for name in PROMPT_NAMES:
        override = Path(folder) / f"{name}.txt" if folder else None
        if override is not None and override.is_file():
            text = override.read_text(encoding="utf-8")
        else:
            text = (resources.files("collaborlog.llm.prompt_templates") / f"{name}.txt").read_text(encoding="utf-8")
        out[name] = _parse(name, text)
    return out


def render_sequence(lines: list[str], limit: int = MAX_LINES) -> str:
    shown = summarize(lines)
    more = len(shown) - limit
    body = "\n".join(f"  {i + 1}. {line}" for i, line in enumerate(shown[:limit]))
    return body + (f"\n  ... {more} more lines" if more > 0 else "")


def word_diff(old: str, new: str) -> str:
    """One line showing word-level edits: ``[old words -> new words]`` where they differ."""
    a, b = old.split(), new.split()
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            out += a[i1:i2]
        else:
            out.append(f"[{' '.join(a[i1:i2]) or '(nothing)'} -> {' '.join(b[j1:j2]) or '(nothing)'}]")
    return " ".join(out)


def render_diff(old: list[str], new: list[str], limit: int = MAX_LINES, kept_shown: int = 2) -> str:
    """Lines changed (~ old -> new), added (+) and removed (-) in order; runs of kept lines (=)
    are shortened to ``kept_shown`` lines and a count, since the differences are what matter
    and every prompt token costs time on a small local model."""
    a, b = summarize(old), summarize(new)
    rows: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [f"  = {line}" for line in a[i1:i1 + kept_shown]]
            if i2 - i1 > kept_shown:
                rows.append(f"  = ... {i2 - i1 - kept_shown} more unchanged lines")
        elif tag == "replace":
            pairs = min(i2 - i1, j2 - j1)
            rows += [f"  ~ changed: {word_diff(a[i1 + k], b[j1 + k])}" for k in range(pairs)]
            rows += [f"  - removed: {line}" for line in a[i1 + pairs:i2]]
            rows += [f"  + added: {line}" for line in b[j1 + pairs:j2]]
        elif tag == "delete":
            rows += [f"  - removed: {line}" for line in a[i1:i2]]
        else:
            rows += [f"  + added: {line}" for line in b[j1:j2]]
    more = len(rows) - limit
    return "\n".join(rows[:limit]) + (f"\n  ... {more} more differences" if more > 0 else "")
