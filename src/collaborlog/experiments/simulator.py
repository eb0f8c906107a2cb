"""A deterministic, seeded simulator of software evolution that rewrites a test split, keeping labels.

Real evolved data (LOGEVOL) is rarely at hand, so this rewrites logs the way upgrades do:

* **entry evolution**: a chosen share of templates is reworded consistently across every line
  that uses it: words replaced, inserted or deleted, ``key:`` fields renamed; with
  ``formats`` the variable shapes change too (ids, addresses, paths);
* **sequence evolution**: a chosen share of sequences gets new events inserted, repeated events
  deleted, events duplicated, or neighbouring events swapped.

``upgrade`` rewrites every template and every variable format at once, like a new major
version. Each sequence's record lists what changed in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from collaborlog.data.config import ParserConfig
from collaborlog.parsing.templates import TemplateMiner
from collaborlog.records import LogFrame, ReadStats, Sequence


class EvolutionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    template_ratio: float = Field(default=0.5, ge=0, le=1)
    """Share of templates whose wording changes."""
    sequence_ratio: float = Field(default=0.2, ge=0, le=1)
    """Share of sequences whose event flow changes."""
    formats: bool = False
    """Also change the shape of variables (block ids, IP addresses, paths, hex ids)."""
    upgrade: bool = False
    """A whole-version upgrade: every template reworded and every variable format changed."""
    max_sequence_ops: int = Field(default=2, ge=1)


class Change(str, Enum):
    REWORDED = "reworded"
    FORMAT = "format"
    INSERTED = "inserted"
    DELETED = "deleted"
    DUPLICATED = "duplicated"
    REORDERED = "reordered"


@dataclass
class EvolvedSplit:
    """The rewritten sequences, over a log of their own, and what changed in each."""

    log: LogFrame
    sequences: list[Sequence]
    changes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def changed(self) -> np.ndarray:
        """Whether each sequence (in order) was changed at all."""
        return np.array([bool(self.changes.get(s.id)) for s in self.sequences], dtype=bool)


# Word-level rewordings a new release might make. Generic English of log messages, not tied
# to any one system.
SYNONYMS: dict[str, list[str]] = {
    "receiving": ["accepting", "getting"], "received": ["got", "accepted"], "block": ["chunk", "blk"],
    "terminating": ["exiting", "shutting down"], "added": ["registered", "attached"], "deleting": ["removing", "purging"],
    "deleted": ["removed", "purged"], "starting": ["launching", "booting"], "started": ["launched", "running"],
    "stopping": ["halting", "shutting"], "stopped": ["halted", "ended"], "failed": ["did not succeed", "errored"],
    "error": ["failure", "fault"], "exception": ["error", "throwable"], "served": ["sent", "delivered"],
    "updated": ["changed", "modified"], "verification": ["check", "validation"], "succeeded": ["passed", "ok"],
    "request": ["call", "req"], "response": ["reply", "resp"], "connection": ["conn", "link"], "closed": ["shut", "released"],
    "opened": ["established", "created"], "task": ["job", "work item"], "size": ["length", "bytes"],
    "from": ["via", "by"], "to": ["towards", "->"], "for": ["of", "on"], "is": ["was", "has been"],
    "with": ["using", "w/"], "file": ["path", "object"], "node": ["host", "peer"], "writing": ["persisting", "flushing"],
    "reading": ["loading", "fetching"], "allocate": ["reserve", "assign"], "allocateblock": ["allocateChunk", "reserveBlock"],
    "packetresponder": ["PacketAckHandler", "Responder"], "namesystem": ["Namespace", "NameService"],
    "blockmap": ["blockIndex", "chunkMap"], "ask": ["request", "tell"], "replicate": ["copy", "mirror"],
    "transmitted": ["shipped", "sent"], "interrupted": ["aborted", "cancelled"], "timeout": ["time-out", "deadline"],
    "instruction": ["op", "command"], "corrected": ["fixed", "repaired"], "generating": ["producing", "creating"],
}
FILLERS = ["now", "successfully", "[async]", "(v2)", "already", "internally", "finally", "explicitly"]
NEW_EVENTS = [
    "Metrics snapshot published in {n} ms",
    "Heartbeat acknowledged by peer {ip}",
    "Configuration reloaded with {n} keys",
    "Audit record {hex} written",
    "Cache warmed up: {n} entries",
    "Tracing span {hex} closed after {n} ms",
]
_FORMATS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"blk_(-?)(\d+)"), lambda m: f"block-{'n' if m.group(1) else ''}{int(m.group(2)):x}"),
    (re.compile(r"(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w.])"),
     lambda m: "ip-" + "-".join(m.groups())),
    (re.compile(r"(?<![\w/])/(mnt|user|var|tmp|home|data)/"), lambda m: f"/srv/{m.group(1)}/"),
    (re.compile(r"\b0x([0-9a-fA-F]+)\b"), lambda m: m.group(1).upper() + "h"),
]


def _reword_plan(template: str, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(word, replacement) edits for one template: 1-3 replacements, insertions, deletions or renames."""
    words = [w for w in template.split() if "<" not in w and not any(ch.isdigit() for ch in w)]
    words = list(dict.fromkeys(words))
    if not words:
        return []
    plan: list[tuple[str, str]] = []
    for _ in range(int(rng.integers(1, 4))):
        word = words[int(rng.integers(len(words)))]
        key = word.strip(":,.;()[]*").lower()
        op = int(rng.integers(4))
        if word.endswith(":") and len(word) > 1 and op < 2:
            plan.append((word, word[:-1] + "="))  # rename a field: "src:" -> "src="
        elif key in SYNONYMS and op < 3:
            choice = SYNONYMS[key][int(rng.integers(len(SYNONYMS[key])))]
            plan.append((word, word.replace(word.strip(":,.;()[]*"), choice, 1)))
        elif op == 3 and len(words) >= 3:
            plan.append((word, ""))
        else:
            plan.append((word, f"{word} {FILLERS[int(rng.integers(len(FILLERS)))]}"))
    return plan


def apply_plan(text: str, plan: list[tuple[str, str]]) -> str:
    """``text`` with each planned word (a whole word only) replaced once by its new wording."""
    for word, new in plan:
        text = re.sub(r"(?<!\S)" + re.escape(word) + r"(?!\S)", lambda _m, new=new: new, text, count=1)  # type: ignore[misc]
    return " ".join(text.split())


def _apply_formats(text: str) -> str:
    for pattern, repl in _FORMATS:
        text = pattern.sub(repl, text)
    return text


def _new_event(rng: np.random.Generator) -> str:
    template = NEW_EVENTS[int(rng.integers(len(NEW_EVENTS)))]
    return template.format(
        n=int(rng.integers(1, 5000)), hex=f"{int(rng.integers(1 << 30)):08x}",
        ip=".".join(str(int(v)) for v in rng.integers(1, 255, size=4)),
    )


def evolve(log: LogFrame, sequences: list[Sequence], config: EvolutionConfig = EvolutionConfig(),
           parser: ParserConfig = ParserConfig()) -> EvolvedSplit:
    """Rewrite ``sequences`` (lines of ``log``) as a later software version would log them.

    Deterministic under ``config.seed``; labels are kept. Inserted events are label-neutral
    (normal when the source line's label is known).
    """
    rng = np.random.default_rng(config.seed)
    used = np.unique(np.concatenate([s.lines for s in sequences])) if sequences else np.zeros(0, np.int64)
    miner = TemplateMiner(parser)
    parsed = miner.parse([log.content[i] for i in used])
    line_template = dict(zip(used.tolist(), parsed.line_templates().tolist()))
    template_ids = sorted(miner.templates)
    ratio = 1.0 if config.upgrade else config.template_ratio
    chosen = {t for t in template_ids if rng.random() < ratio}
    plans = {t: _reword_plan(miner.templates[t], np.random.default_rng([config.seed, t])) for t in sorted(chosen)}
    formats = config.formats or config.upgrade

    rewritten: dict[int, str] = {}
    for i in used.tolist():
        text = log.content[i]
        plan = plans.get(line_template[i])
        if plan:
            text = apply_plan(text, plan)
        if formats:
            text = _apply_formats(text)
        rewritten[i] = text

    content: list[str] = []
    timestamp: list[float] = []
    labels: list[int] = []
    out: list[Sequence] = []
    changes: dict[str, tuple[str, ...]] = {}
    for seq in sequences:
        lines = seq.lines.tolist()
        events = [(rewritten[i], float(log.timestamp[i]), int(log.label[i])) for i in lines]
        record: list[str] = []
        if any(plans.get(line_template[i]) for i in lines):
            record.append(Change.REWORDED.value)
        if formats and any(rewritten[i] != apply_plan(log.content[i], plans.get(line_template[i], [])) for i in lines):
            record.append(Change.FORMAT.value)
        if rng.random() < config.sequence_ratio:
            kinds = [line_template[i] for i in lines]
            for _ in range(int(rng.integers(1, config.max_sequence_ops + 1))):
                record.extend(sequence_op(events, kinds, rng))
        begin = len(content)
        for text, ts, lab in events:
            content.append(text)
            timestamp.append(ts)
            labels.append(lab)
        new_lines = np.arange(begin, len(content), dtype=np.int64)
        out.append(Sequence(id=seq.id, lines=new_lines, label=seq.label, start=seq.start))
        if record:
            changes[seq.id] = tuple(dict.fromkeys(record))
    n = len(content)
    frame = LogFrame(content=content, timestamp=np.asarray(timestamp, dtype=np.float64),
                     label=np.asarray(labels, dtype=np.int8), fields={}, matched=np.ones(n, dtype=bool),
                     stats=ReadStats(lines=n))
    return EvolvedSplit(frame, out, changes)


def sequence_op(events: list[tuple[str, float, int]], templates: list[int], rng: np.random.Generator) -> list[str]:
    """Apply one sequence-level change in place; returns what it did (nothing if it could not apply)."""
    op = [Change.INSERTED, Change.DELETED, Change.DUPLICATED, Change.REORDERED][int(rng.integers(4))]
    if not events:
        return []
    if op is Change.INSERTED:
        at = int(rng.integers(len(events) + 1))
        ts = events[min(at, len(events) - 1)][1]
        known = all(lab >= 0 for _, _, lab in events)
        events.insert(at, (_new_event(rng), ts, 0 if known else -1))
        templates.insert(at, -1)
    elif op is Change.DELETED:
        # Only an event that occurs more than once goes, so no kind of event disappears.
        repeated = [i for i, t in enumerate(templates) if t >= 0 and templates.count(t) > 1 and events[i][2] <= 0]
        if not repeated:
            return []
        at = repeated[int(rng.integers(len(repeated)))]
        del events[at], templates[at]
    elif op is Change.DUPLICATED:
        at = int(rng.integers(len(events)))
        events.insert(at + 1, events[at])
        templates.insert(at + 1, templates[at])
    else:
        swaps = [i for i in range(len(events) - 1) if events[i][0] != events[i + 1][0]]
        if not swaps:
            return []
        at = swaps[int(rng.integers(len(swaps)))]
        events[at], events[at + 1] = events[at + 1], events[at]
        templates[at], templates[at + 1] = templates[at + 1], templates[at]
    return [op.value]
