"""The new-message questions (Evol Detect, message by message): each message no known message
aligns to is asked about once, with the old messages it may reword."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from collaborlog.data.levels import PROBLEM_LEVELS, levels_as_read
from collaborlog.features.featurizer import SequenceFeatures
from collaborlog.memory.prevalence import Prevalence
from collaborlog.memory.rewording import offer, variant_of
from collaborlog.memory.vanished import Vanished
from collaborlog.verdicts import KnownMessage, MessageVerdict

if TYPE_CHECKING:
    from collaborlog.detector.facade import CollaborLog


def new_message_verdicts(det: CollaborLog, features: SequenceFeatures, rows: list[int], stream: Vanished,
                         levels: dict[str, str], prevalence: Prevalence | None = None,
                         ids: list[str] | None = None, ask_rare: bool = False,
                         batch: list[int] | None = None) -> dict[str, MessageVerdict]:
    """Evol Detect for each message of ``rows``, and of ``batch`` (default ``rows``), that nothing
    known aligns to and the LLM has not judged. A whole-version upgrade is a mapping problem: what
    appeared anywhere in the batch is matched against what vanished, including new messages that
    only sequences the small model judges carry (each is asked about once, ever).
    ``ids``: the id of each sequence of ``features``, for the audit log (which sequences a question served).
    ``ask_rare``: without labels, ask about the history's rare messages too (once the stream has
    drifted: before, the LLM's word does not clear a rare line, and the question is not asked).

    A known message is offered as what a new one may reword only when the stream no longer
    writes it as often as the history did (``stream``): a new version writes each statement in
    its new wording, so a message still written as often as ever is not the one reworded,
    while during a rolling upgrade an old wording is written less, not never (by as much as
    the new wording is written, however early in the roll-out). (Small models
    call near-duplicates such as "Receiving block" and "Received block" the same event when
    both are offered.)
    """
    if det.aligner_ is None or not det.config.new_message_candidates:
        return {}
    batch = rows if batch is None else batch
    unknown = list(dict.fromkeys(line for i in batch for line, name in zip(features.messages[i], features.aligned[i])
                                 if line == name and not det.aligner_.knows(line) and line not in det.messages_))
    # Without labels, a message the history rarely shows is the evidence of a failure. Once the
    # stream has drifted it is asked about too, as itself (it rewords nothing): one its
    # developer logs below WARN, and that the log (where it prints levels) prints below WARN,
    # is a rare routine event. A message more of the stream carries (``prevalence``) than
    # failures can is not asked.
    aligner = det.aligner_
    rare = [] if det.novelty_ is None or not ask_rare else list(dict.fromkeys(
        m for i in rows for m in det.novelty_.rare(features.aligned[i])
        if m not in det.messages_ and aligner.knows(m) and not (prevalence and prevalence.common(m))))
    # Variants of one statement (the same words, other variables or repeats) are one question:
    # the first asked answers for all, now and later in the stream.
    judged = list(det.messages_)
    representative: dict[str, str] = {}
    for m in unknown:
        representative[m] = variant_of(m, judged + [r for r in dict.fromkeys(representative.values())]) or m
    new = [m for m in unknown if representative[m] == m]
    served: dict[str, tuple[str, ...]] = {}
    if ids is not None:
        carriers: dict[str, dict[str, None]] = {}
        for i in dict.fromkeys([*rows, *batch]):
            for line in dict.fromkeys([*features.messages[i], *features.aligned[i]]):
                carriers.setdefault(representative.get(line, line), {})[ids[i]] = None
        served = {m: tuple(c) for m, c in carriers.items()}
    said = {**det.messages_, **(ask_new(det, new, stream, served, levels) if new else {})}
    said = {m: replace(said[r], message=m) for m, r in representative.items() if r in said}
    said.update(det.agents().judge_messages({m: [] for m in rare}, served) if rare else {})
    # Where the log prints its levels, a message's level is read, not guessed: it decides
    # whether a new event reports a problem (a rewording keeps its original's standing). A
    # rare message stays evidence unless both the log and the LLM put it below WARN. A rare
    # message is asked by its known name: its level is the one the lines read as it print (the
    # most severe of them, as wherever lines are read as a name).
    as_read = levels_as_read([features.messages[i] for i in rows], [features.aligned[i] for i in rows], levels)
    levels = {**{name: as_read[name] for name in rare if name in as_read}, **levels}
    return {m: replace(v, problem=(v.problem if m in rare else False) or levels[m] in PROBLEM_LEVELS
                       if v.rewords is None else v.problem,
                       level=levels[m], reason=f"{v.reason} (the log prints it at {levels[m]})")
            if m in levels else v for m, v in said.items()}


def ask_new(det: CollaborLog, new: list[str], stream: Vanished,
            served: dict[str, tuple[str, ...]] | None = None,
            levels: dict[str, str] | None = None) -> dict[str, MessageVerdict]:
    """The new-message question for each of ``new``, with the old messages it may reword
    (``served``: per message, the sequences that carry it, for the audit log; ``levels``: the
    level the log prints each new message at)."""
    aligner = det.aligner_
    assert aligner is not None  # asked only with alignment on
    levels = levels or {}
    vectors = det.message_vectors(new)
    carriers = [stream.stream_counts_[m] for m in new]
    room = np.array([[stream.room_for(k, c) and stream.level_allows(k, levels.get(m))
                      for m, c in zip(new, carriers)] for k in aligner.messages_], dtype=bool).reshape(
        len(aligner.messages_), len(new))
    pool = [j for j in range(len(aligner.messages_)) if room[j].any()]
    old = [aligner.messages_[j] for j in pool]
    cosine = (np.stack([vectors[m] for m in new]) @ aligner.vectors_[pool].T if pool
              else np.zeros((len(new), 0), np.float32))
    offered = offer(new, old, cosine, det.config.new_message_candidates, det.config.rewording_overlap,
                    room[pool].T)
    asks = {m: [KnownMessage(old[j], float(cosine[i, j]), det.signatures_.failure_only(old[j]))
                for j in offered[m]] for i, m in enumerate(new)}
    return det.agents().judge_messages(asks, served)
