"""Decision fusion: one verdict per sequence from the coordinator's route, the pattern memory,
the new-message answers, novelty, the LLM's judgement and the small model's vote, each with its
reason in words; then the base-rate guard (no single answer flags a large part of the stream).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from collaborlog.data.levels import PROBLEM_LEVELS, levels_as_read
from collaborlog.detector import evidence, questions
from collaborlog.detector.config import Mode
from collaborlog.features.featurizer import SequenceFeatures
from collaborlog.memory.novelty import NoveltyScores
from collaborlog.memory.patterns import pattern_key, pattern_text, read_as
from collaborlog.memory.prevalence import Prevalence, Upcoming
from collaborlog.memory.vanished import Vanished
from collaborlog.models.small_model import SMPrediction
from collaborlog.records import Sequence
from collaborlog.verdicts import Branch, Detection, Judgement, MemorySource, MessageVerdict, Route

if TYPE_CHECKING:
    from collaborlog.detector.facade import CollaborLog



@dataclass
class Batch:
    """One batch's detections and what the LLM said of its new messages (for the AEM)."""

    detections: list[Detection]
    messages: dict[str, MessageVerdict] = field(default_factory=dict)


def judge(det: CollaborLog, sequences: list[Sequence], features: SequenceFeatures,
          levels: dict[str, str] | None = None, upcoming: Upcoming | None = None) -> Batch:
    """One verdict for each of ``sequences`` (their ``features``; ``levels``: the log level of each
    message where the log prints one), and what the LLM said of their new messages. Reads the
    detector's learned state and changes none of it (the AEM learns from the result).
    ``upcoming``: the rest of the input at hand, counted in how common each message is."""
    levels = levels or {}
    losses, routes = det.coordinator_.route(features.vectors)
    sm = det.small_model_.predict(features.vectors)
    prevalence = det.prevalence_.plus(features.messages, upcoming)
    to_llm = np.array([r is Route.LLM for r in routes], dtype=bool)
    stream = det.vanished_.plus(features.aligned, upcoming)
    # How common each message (read as the known message it aligns to) is in the stream.
    read_prevalence = Prevalence.of(det.prevalence_.bound, stream.stream_seen_, stream.stream_counts_)
    # Evidence the small model's neighbours outvote is not settled by them: a sequence they
    # call normal that carries a message the history saw only in failures (by name, read
    # through confirmed rewordings) goes to the LLM, however familiar it looks. So does one with
    # a line that merely resembles such a message, when the stream does not carry that line
    # more often than failures can be common and an LLM can judge it: without one, a routed
    # sequence is flagged by such lines alone, and resemblance is too weak to overrule the
    # neighbours by itself.
    # Nor does a sequence whose message pattern more of the stream carries than one failure
    # pattern can: the base-rate guard would hold any "abnormal" back, so no answer could change
    # its verdict, and asking again for each member would only cost calls.
    full = [pattern_key(a, det.pattern_by_set_) for a in features.aligned]
    as_found = det.key_prevalence_.plus([[pattern_text(f)] for f in full])
    quiet = [i for i in range(len(sequences))
             if not to_llm[i] and sm[i].verdict == 0 and not as_found.common(pattern_text(full[i]))]
    resembling = (evidence.failure_lines(det, [features.messages[i] for i in quiet], prevalence)
                  if det.llm_enabled else set())
    for i in quiet:
        to_llm[i] = (any(det.signatures_.failure_only(m) for m in set(features.aligned[i]))
                     or any(m in resembling and not read_prevalence.common(a)
                            for m, a in zip(features.messages[i], features.aligned[i])))
    # Without labels, novelty is the evidence while it is as rare in the stream as failures
    # are; once most of the stream is unfamiliar (an upgrade, drift), the LLM's word on what is
    # routine counts too (see :mod:`collaborlog.memory.novelty`).
    # With the input read ahead, on the losses of all of it: the batches observed so far, this
    # one, and the rest as the detector scored it before the stream began.
    drift = det.novelty_ is not None and det.novelty_.drifted(
        det.prevalence_.bound, losses if upcoming is None else np.concatenate([losses, upcoming.other_losses()]))
    trusted = det.novelty_ is None or drift
    if det.novelty_ is not None and det.llm_enabled:
        # Without labels, what the history rarely shows is what the LLM should see, whatever
        # the autoencoder's loss.
        to_llm |= novelty_scores(det, features.aligned, losses, det.routine_,
                                 levels_as_read(features.messages, features.aligned, levels), read_prevalence).novel
    keys = [det.pattern_of(a) for a in features.aligned]
    vanished = dropped(det, stream)
    reread = det.reread(vanished)
    found = [known_entry(det, f, k, reread) for f, k in zip(full, keys)]
    # New messages are judged first, once each: a routed sequence with a new pattern that is a
    # known pattern once its rewordings and new routine events are read so is an evolved version
    # of that pattern. Once the stream has stopped writing messages the history wrote often (an
    # upgrade dropped or reworded them), what appeared anywhere in the batch is matched against
    # what vanished, whichever route its sequence takes: a whole-version upgrade is a mapping
    # problem. Before, only routed sequences' new messages are asked about (a new message of a
    # later period is seldom a rewording, and a small LLM claims one all the same).
    unexplained = [int(i) for i in np.nonzero(to_llm)[0] if found[i] is None]
    verdicts = (questions.new_message_verdicts(det, features, unexplained, stream, levels, read_prevalence,
                                               [s.id for s in sequences], ask_rare=drift,
                                               batch=list(range(len(sequences))) if vanished else None)
                if det.llm_enabled else {})
    evolved: set[int] = set()
    routine = {m for m, v in verdicts.items() if is_routine(v, prevalence, trusted)}
    if verdicts:
        for i in unexplained:
            if any(line in verdicts for line in features.messages[i]):
                lines = read_as(features.messages[i], features.aligned[i], verdicts)
                full[i], keys[i] = pattern_key(lines, det.pattern_by_set_), det.pattern_of(lines, routine)
                found[i] = known_entry(det, full[i], keys[i], reread)
                evolved.add(i)
    # A known message pattern keeps its label (from the history, or from the LLM earlier in the
    # stream): the LLM judges each new pattern once.
    # The small model reads a known pattern the same way: its label, not a neighbour vote.
    known = {i: entry for i, entry in enumerate(found) if entry is not None}
    read = [read_as(m, a, verdicts) for m, a in zip(features.messages, features.aligned)]
    novelty: NoveltyScores | None = None
    rare_lines: dict[int, tuple[str, ...]] = {}
    if det.novelty_ is not None:
        read_levels = levels_as_read(features.messages, read, levels)
        novelty = novelty_scores(det, read, losses, det.routine_ | routine, read_levels, read_prevalence)
        # Without labels, the rare lines named as evidence are those read through the batch's
        # rewordings, less what tells nothing (a reworded routine message is not rare).
        rare_lines = {i: tuple(det.novelty_.rare(lines))
                      for i, lines in enumerate(telling(det, read, det.routine_ | routine, read_levels, read_prevalence))}
    rare_rows: set[int] = set()
    if novelty is not None and det.llm_enabled:
        # Read through the rewordings the LLM confirmed, a sequence may turn out novel: the LLM
        # judges it too, rather than novelty alone. But lines the history rarely shows, which
        # the new-message question did not read as routine or as a rewording, are evidence no
        # sequence-level answer overrules (a 1.5B model called every such failure of a benchmark normal);
        # so is a loss over the bar while such losses are as rare in the stream as failures.
        to_llm |= novelty.novel
        settled = (novelty.rarity > 1.0) | ((novelty.loss > 1.0) & (not drift))
        rare_rows = {int(i) for i in np.nonzero(settled)[0] if i not in known}
        to_llm[list(rare_rows)] = False
    to_llm[list(known)] = False
    # A pattern whose abnormal verdict a guard held back is not asked about again: its lines
    # would meet the same guard (and each call would cost as much as the first).
    held = {int(i): det.held_[full[i]] for i in np.nonzero(to_llm)[0] if full[i] in det.held_}
    to_llm[list(held)] = False
    rows = np.nonzero(to_llm)[0]
    judgements: dict[int, Judgement] = {}
    backing: dict[int, tuple[str, ...]] = {}
    if rows.size and det.llm_enabled:
        shown = evidence.build(det, features, sm, rows, prevalence, full, verdicts, levels,
                               rare_lines if det.novelty_ is not None else None)
        judgements = dict(zip(rows.tolist(), det.agents().judge_many(shown, [sequences[i].id for i in rows])))
        backing = {int(i): tuple(dict.fromkeys(ev.failure_signals + ev.reported_problems + ev.rare))
                   for i, ev in zip(rows.tolist(), shown)}
    # Novelty as the small model's evidence: once the stream has drifted, a loss over the bar is
    # common, and says nothing by itself; the lines the history rarely shows still do.
    evident = None if novelty is None else novelty.rarity if drift else novelty.score
    smalls = [small_verdict(det, sm[i], float(evident[i])) if evident is not None else (sm[i].verdict, sm[i].score)
              for i in range(len(sequences))]
    # What flags a sequence no LLM judged: its own lines' evidence (with labels), or what
    # novelty saw (without).
    unplaced: dict[int, tuple[str, ...]]
    if novelty is None:
        unjudged = [i for i in rows.tolist() if i not in judgements or judgements[i].branch is Branch.FALLBACK]
        unplaced = evidence.unplaced(det, features, unjudged, prevalence, {**det.messages_, **verdicts}, levels)
        for i, signals in unplaced.items():
            smalls[i] = (int(bool(signals)), max(sm[i].score, float(bool(signals))))
    else:
        unplaced = {i: rare_lines.get(i, ()) if small[0] else () for i, small in enumerate(smalls)}
    # No single answer decides the stream: an abnormal verdict of the LLM is not shared with a
    # pattern more of the stream carries than failures' base rate allows.
    patterns = det.key_prevalence_.plus([[pattern_text(f)] for f in full])
    out = []
    for i, seq in enumerate(sequences):
        pred, small = sm[i], smalls[i]
        j = judgements.get(i)
        if i in known and i in evolved:
            verdict, source_id = known[i]
            d = Detection(seq.id, verdict, float(verdict), Route.LLM, Branch.EVOL_DETECT, float(losses[i]),
                          pred.neighbours, evolved_reason(features.messages[i], verdicts, source_id),
                          (source_id,), evolved_from=source_id)
        elif i in known:
            verdict, source_id = known[i]
            source = MemorySource.of(source_id).described
            if full[i] not in det.patterns_ and keys[i] not in det.patterns_:
                source += ", read without the messages the new release no longer writes"
            branch = Branch.SMALL_MODEL if routes[i] is Route.SMALL_MODEL else Branch.REUSED
            d = Detection(seq.id, verdict, float(verdict), Route.SMALL_MODEL, branch, float(losses[i]),
                          pred.neighbours, f"same message pattern as {source_id}, {source}", (source_id,))
        elif i in held:
            source_id, why = held[i]
            d = Detection(seq.id, 0, 0.0, Route.SMALL_MODEL, Branch.HELD_BACK, float(losses[i]), pred.neighbours,
                          f"same message pattern as {source_id}, {why}", (source_id,))
        elif j is None and to_llm[i]:
            d = Detection(seq.id, small[0], small[1], Route.LLM, Branch.NOT_JUDGED, float(losses[i]),
                          pred.neighbours, "unfamiliar, not judged: no LLM is configured (llm backend none); "
                          + unjudged_reason(unplaced.get(i), small[0]), signals=unplaced.get(i, ()))
        elif j is None:
            rare = rare_lines.get(i, ()) if i in rare_rows else unplaced.get(i, ())
            by_vote = novelty is None or (det.mode_ is not Mode.LABEL_FREE and pred.verdict == 1)
            d = Detection(seq.id, small[0], small[1], Route.SMALL_MODEL, Branch.SMALL_MODEL,
                          float(losses[i]), pred.neighbours, small_model_reason(pred, rare, small[0], by_vote),
                          signals=rare)
        elif j.branch is Branch.FALLBACK:
            d = Detection(seq.id, small[0], small[1], Route.LLM, j.branch, float(losses[i]), pred.neighbours,
                          unjudged_reason(unplaced.get(i), small[0]), j.compared_with, j.evolved_from, j.fallback,
                          unplaced.get(i, ()))
        else:
            d = Detection(seq.id, j.verdict, float(j.verdict), Route.LLM, j.branch, float(losses[i]),
                          pred.neighbours, j.reason, j.compared_with, j.evolved_from, j.fallback, backing.get(i, ()))
            d = unbacked_guard(d)
        out.append(base_rate_guard(d, patterns, pattern_text(full[i]), j is not None or (
            i in known and MemorySource.of(known[i][1]) is MemorySource.LLM)))
    return Batch(out, verdicts)


def base_rate_guard(d: Detection, patterns: Prevalence, pattern: str, from_llm: bool) -> Detection:
    """``d``, or, when it shares an abnormal LLM verdict over a pattern that more of the stream
    carries than one failure pattern can (three times the largest share a single failure
    pattern holds in the labelled history, or the contamination without labels; see
    :mod:`collaborlog.memory.prevalence`), ``d`` held back as normal with the reason: one wrong
    answer must not flag a large part of the stream."""
    if not (from_llm and d.verdict == 1 and d.branch is not Branch.FALLBACK and patterns.common(pattern)):
        return d
    share = patterns.lower_share(pattern)
    return replace(d, verdict=0, score=0.0, branch=Branch.HELD_BACK, reason=(
        f"held back: the LLM called this pattern abnormal ({d.reason}), but at least {share:.0%} of the stream "
        f"carries it, more than one failure pattern's base rate allows ({patterns.bound:.1%}); read as normal"))


def unbacked_guard(d: Detection) -> Detection:
    """``d``, or, when the AD agent called the sequence abnormal but no line of its own signals a
    failure, ``d`` held back as normal with the reason. Unfamiliar is not abnormal: a small LLM
    calls routine events it has not seen "errors", and such a verdict, learned, would spread
    over its pattern (the pattern memory, the small model's neighbours). Held back, it is
    reported and not learned."""
    if not (d.verdict == 1 and not d.signals and d.branch in (Branch.AD_CERTAIN, Branch.AD_UNCERTAIN)):
        return d
    return replace(d, verdict=0, score=0.0, branch=Branch.HELD_BACK, reason=(
        f"held back: the LLM called it abnormal ({d.reason}), but no line of its own signals a failure "
        "(unfamiliar is not abnormal); read as normal"))


def small_model_reason(pred: SMPrediction, rare: tuple[str, ...], verdict: int, by_vote: bool) -> str:
    """Why the small model flagged a sequence (nothing for a normal verdict): the lines the
    history rarely shows, its neighbours' vote (``by_vote``: the labels decided), or the loss."""
    if not verdict:
        return ""
    if rare:
        return "lines the history rarely shows: " + "; ".join(repr(m) for m in rare[:3])
    if by_vote:
        abnormal = sum(n.label == 1 for n in pred.neighbours)
        return f"{abnormal} of its {len(pred.neighbours)} nearest history sequences are abnormal"
    return unjudged_reason((), verdict)


def unjudged_reason(signals: tuple[str, ...] | None, verdict: int) -> str:
    if signals is None:
        return "the small model's verdict"
    if signals:
        return "abnormal by its own lines: " + "; ".join(repr(s) for s in signals[:3])
    if verdict:
        return "unlike the history as a whole (its loss is over the bar while such losses are rare in the stream)"
    return "nothing in its own lines signals a failure (unfamiliar is not abnormal)"


def evolved_reason(lines: list[str], verdicts: dict[str, MessageVerdict], source_id: str) -> str:
    parts = []
    for line in dict.fromkeys(lines):
        v = verdicts.get(line)
        if v is not None:
            what = f"rewords {v.rewords!r}" if v.rewords else "is a new routine event"
            parts.append(f"{line!r} {what} ({v.reason})" if v.reason else f"{line!r} {what}")
    return f"an evolved version of the message pattern of {source_id}: " + "; ".join(parts)


def novelty_scores(det: CollaborLog, messages: list[list[str]], losses: np.ndarray, routine: set[str],
                   levels: dict[str, str], prevalence: Prevalence) -> NoveltyScores:
    """Novelty scores of sequences read as ``messages``. Unfamiliar is not abnormal: new
    routine events (the LLM's word, or the log's level where it prints one: a message the
    history never showed, logged below WARN) are set aside, and so are messages more of the
    stream carries than failures can (``prevalence``); the autoencoder's loss does not count
    for a sequence whose unfamiliarity its new messages already explain. (A line aligned to a
    known message is read, and embedded, as that message: its loss counts.)"""
    assert det.novelty_ is not None
    known = det.novelty_.counts_
    kept = telling(det, messages, routine, levels, prevalence)
    has_new = np.array([any(known[m] == 0 for m in lines) for lines in messages], dtype=bool)
    return det.novelty_.score(kept, np.where(has_new, 0.0, losses))


def telling(det: CollaborLog, messages: list[list[str]], routine: set[str], levels: dict[str, str],
            prevalence: Prevalence) -> list[list[str]]:
    """Each sequence's messages less those that tell nothing of a failure without labels: new
    routine events, messages more of the stream carries than failures can, and messages the log
    prints below WARN that the history never showed, or that the stream carries more often than
    failures are expected to be (the contamination), beyond doubt: the workload changed, and
    both the log and the stream say the message is routine."""
    assert det.novelty_ is not None
    known = det.novelty_.counts_
    expected = det.novelty_.contamination

    def quiet(m: str) -> bool:
        routine_level = m in levels and levels[m] not in PROBLEM_LEVELS
        return (m in routine or prevalence.common(m)
                or (routine_level and (known[m] == 0 or prevalence.exceeds(m, expected))))

    return [[m for m in lines if not quiet(m)] for lines in messages]


def small_verdict(det: CollaborLog, pred: SMPrediction, novelty: float) -> tuple[int, float]:
    """The small model's verdict and score: its neighbours' vote when the history is fully
    labelled; else ``novelty`` (label-free), or either (semi-supervised). Outside the supervised
    mode the score's threshold is 1.0 (a vote share of 0.5 counts as 1.0)."""
    if det.novelty_ is None:
        return pred.verdict, pred.score
    if det.mode_ is Mode.LABEL_FREE:
        return int(novelty > 1.0), novelty
    return int(novelty > 1.0 or pred.verdict == 1), max(novelty, 2 * pred.score)


def known_entry(det: CollaborLog, full: tuple[str, ...], skipped: tuple[str, ...],
                reread: dict[tuple[str, ...], tuple[int, str]]) -> tuple[int, str] | None:
    """The pattern memory's entry for a sequence: under its whole pattern, or, for a pattern the
    labelled history holds, read without the messages the new release dropped (``reread``), or
    with new routine events set aside. A verdict the LLM gave is only ever shared by sequences
    with the whole same pattern: setting new messages aside must not merge sequences that
    differ in what they report. An operator's correction is a person's label, shared as the
    history's are."""
    entry = det.patterns_.get(full) or reread.get(full)
    if entry is None:
        entry = det.patterns_.get(skipped) or reread.get(skipped)
        if entry is not None and MemorySource.of(entry[1]) is MemorySource.LLM:
            return None
    return entry


def dropped(det: CollaborLog, stream: Vanished) -> set[str]:
    """What ``stream`` stopped writing, but for the messages of failures (the history saw them
    only in failures, or, without labels, they are rare): a healthy stream does not write
    them, so their absence says nothing about the release."""
    return {m for m in stream.dropped() if not det.signatures_.failure_only(m)
            and (det.novelty_ is None or det.novelty_.share(m) >= det.config.contamination)}


def is_routine(verdict: MessageVerdict, prevalence: Prevalence, trusted: bool) -> bool:
    """A new event too common in the stream to mark failures, or, where the LLM's word is
    ``trusted`` on it, one that reports no problem. (Without labels and before the stream has
    drifted, a message the history and the stream rarely show is the evidence of a failure, and a
    small model calls such lines routine.)"""
    return verdict.rewords is None and (prevalence.common(verdict.message) or (trusted and verdict.routine))
