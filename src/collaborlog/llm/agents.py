"""The Evol-CoT agents that judge the sequences the coordinator routes to the LLM.

0. **Evol Detect, message by message.** Each message of a routed sequence that the detector has
   never seen is shown once, with its closest known messages: is it one of them reworded, and
   does it report a problem? A confirmed rewording is read as the old message from then on; a new
   routine event no longer makes a pattern new. A sequence that is then a known pattern is an
   evolved version of it and inherits its label (see :class:`MessageVerdict`). One short question
   per new message, not one long one per sequence: the cheapest evidence an upgrade leaves.
1. **Evol Detect** shows the aligned differences between the sequence and its most similar
   historical sequence. If the LLM says it is an evolved version, the verdict inherits that
   sequence's label and the pair is recorded as an evolution relation.
2. Otherwise the **AD agent** judges it: *certain* (the neighbours' labels agree) with the
   neighbours as few-shot examples; *uncertain* (they disagree) with the nearest normal and the
   nearest abnormal history as contrast.

Any failure (timeout, server error, a response of the wrong shape, unreadable answer, spent budget,
the run's deadline) ends in the small model's verdict, marked with why: no sequence is left without
a verdict, and nothing the LLM sends makes the agents raise.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from collaborlog.llm.answers import AnswerError, parse_evol, parse_message, parse_state
from collaborlog.llm.backends import ChatRequest, LLMConfig, LLMError, redact
from collaborlog.llm.governor import BudgetExceeded, Governor
from collaborlog.llm.prompts import (
    EVOL_SCHEMA,
    STATE_SCHEMA,
    PromptTemplate,
    message_schema,
    render_diff,
    render_sequence,
)
from collaborlog.progress import stage
from collaborlog.verdicts import Branch, Evidence, HistoryItem, Judgement, KnownMessage, MessageVerdict

log = logging.getLogger(__name__)


@dataclass
class EvolCoT:
    """Runs the agents for routed sequences through a :class:`Governor`."""

    governor: Governor
    prompts: dict[str, PromptTemplate]
    llm: LLMConfig = field(default_factory=LLMConfig)
    examples: int = 2
    """How many distinct neighbours the certain AD agent shows."""
    contrast: bool = True
    """Evol Detect asks against the nearest normal *and* the nearest abnormal history and accepts
    an evolution only when exactly one of them is confirmed. Small models say "evolved" too
    readily; a yes to both is no evidence, and a wrong yes silently inherits a wrong label."""

    def _request(self, name: str, schema: dict, **values: str) -> ChatRequest:
        system, user = self.prompts[name].render(**values)
        return ChatRequest(system, user, schema, self.llm.max_tokens, self.llm.temperature, self.llm.top_p)

    def judge_message(self, message: str, candidates: list[KnownMessage],
                      served: tuple[str, ...] = ()) -> MessageVerdict | None:
        """Evol Detect for one new message (carried by the sequences ``served``); ``None`` when the
        LLM fails or the budget is spent."""
        shown = "\n".join(f"  {i + 1}. {c.message}" for i, c in enumerate(candidates)) or "  (none)"
        request = self._request("new_message", message_schema(len(candidates)), message=message, candidates=shown)
        try:
            answer = self.governor.answer(request, "new_message", lambda text: parse_message(text, len(candidates)),
                                          served)
        except (AnswerError, BudgetExceeded, LLMError):
            return None
        if answer.same_as:
            old = candidates[answer.same_as - 1]
            return MessageVerdict(message, old.message, old.failure_only, answer.reason, answer.level)
        return MessageVerdict(message, None, answer.problem, answer.reason, answer.level)

    def judge_messages(self, asks: dict[str, list[KnownMessage]],
                       served: dict[str, tuple[str, ...]] | None = None) -> dict[str, MessageVerdict]:
        """:meth:`judge_message` for each new message (concurrently); those that failed are left out.
        ``served``: per message, the ids of the sequences that carry it (for the audit log)."""
        carried = served or {}
        out = {}
        with stage("LLM reading new messages", len(asks)) as advance, \
                ThreadPoolExecutor(max_workers=self.llm.concurrency) as pool:
            for verdict in pool.map(lambda m: self.judge_message(m, asks[m], carried.get(m, ())), list(asks)):
                advance(1)
                if verdict is not None:
                    out[verdict.message] = verdict
        if len(out) < len(asks):
            log.warning("%d of %d new message(s) got no usable LLM answer", len(asks) - len(out), len(asks))
        return out

    def evol_detect(self, ev: Evidence, old: HistoryItem, served: tuple[str, ...] = ()) -> tuple[bool, str]:
        request = self._request("evol_detect", EVOL_SCHEMA, diff=render_diff(list(old.messages), list(ev.messages)))
        parsed = self.governor.answer(request, Branch.EVOL_DETECT.value, parse_evol, served)
        return parsed.is_evol, parsed.reason

    def detect_anomaly(self, ev: Evidence, served: tuple[str, ...] = ()) -> tuple[Branch, int, str, tuple[str, ...]]:
        contrast = ev.nearest_normal is not None and ev.nearest_abnormal is not None
        if ev.sm_certain or not contrast:
            shown: list[HistoryItem] = []
            for n in ev.neighbours:
                if all(n.messages != s.messages for s in shown):
                    shown.append(n)
                if len(shown) == self.examples:
                    break
            examples = "\n\n".join(
                f"Example {i + 1} ({'Abnormal' if n.label == 1 else 'Normal'}):\n{render_sequence(list(n.messages))}"
                for i, n in enumerate(shown))
            branch, ids = Branch.AD_CERTAIN, tuple(n.id for n in shown)
            request = self._request("ad_certain", STATE_SCHEMA, examples=examples,
                                    sequence=render_sequence(list(ev.messages)), signals=self._signals(ev))
        else:
            assert ev.nearest_normal is not None and ev.nearest_abnormal is not None
            branch, ids = Branch.AD_UNCERTAIN, (ev.nearest_normal.id, ev.nearest_abnormal.id)
            request = self._request("ad_uncertain", STATE_SCHEMA,
                                    normal=render_sequence(list(ev.nearest_normal.messages)),
                                    abnormal=render_sequence(list(ev.nearest_abnormal.messages)),
                                    sequence=render_sequence(list(ev.messages)), signals=self._signals(ev))
        parsed = self.governor.answer(request, branch.value, parse_state, served)
        return branch, int(parsed.anomalous), parsed.reason, ids

    def evol_candidates(self, ev: Evidence) -> list[HistoryItem]:
        """The historical sequences Evol Detect compares with.

        One of each label with ``contrast``, else the nearest. A candidate whose label the failure
        signals contradict is dropped without asking: a sequence with a failure signal is no
        evolved normal one, and one without is no evolved failure (the AD agent judges those).
        """
        if not ev.neighbours:
            return []
        if self.contrast and ev.nearest_normal is not None and ev.nearest_abnormal is not None:
            candidates = [ev.nearest_normal, ev.nearest_abnormal]
        else:
            candidates = [ev.neighbours[0]]
        consistent = 1 if ev.failure_signals or ev.reported_problems else 0
        return [c for c in candidates if c.label == consistent]

    @staticmethod
    def _signals(ev: Evidence) -> str:
        parts = []
        if ev.failure_signals:
            parts.append("these lines resemble messages seen only in past failures:\n" + "\n".join(
                f"  - {line}" for line in ev.failure_signals))
        if ev.reported_problems:
            parts.append("these new messages read as warnings or errors:\n" + "\n".join(
                f"  - {line}" for line in ev.reported_problems))
        if ev.rare:
            parts.append("these lines are rare in the history (so are failures):\n" + "\n".join(
                f"  - {line}" for line in ev.rare))
        return "\n".join(parts) or "none of its lines resembles a message seen only in past failures"

    def judge(self, ev: Evidence, served: tuple[str, ...] = ()) -> Judgement:
        """One verdict for one routed sequence (the ids of the sequences it stands for:
        ``served``, for the audit log); never raises for an LLM failure."""
        failures = 0
        confirmed: list[tuple[HistoryItem, str]] = []
        for old in self.evol_candidates(ev):
            try:
                is_evol, reason = self.evol_detect(ev, old, served)
            except BudgetExceeded as err:
                return self._fallback(ev, str(err), failures)
            except (LLMError, AnswerError):
                failures += 1
                continue
            if is_evol:
                confirmed.append((old, reason))
        if len(confirmed) == 1:
            old, reason = confirmed[0]
            return Judgement(old.label, Branch.EVOL_DETECT, reason, (old.id,), evolved_from=old.id, failures=failures)
        try:
            branch, verdict, reason, ids = self.detect_anomaly(ev, served)
            return Judgement(verdict, branch, reason, ids, failures=failures)
        except BudgetExceeded as err:
            return self._fallback(ev, str(err), failures)
        except (LLMError, AnswerError) as err:
            return self._fallback(ev, f"LLM failed: {err}", failures + 1)

    @staticmethod
    def _fallback(ev: Evidence, why: str, failures: int) -> Judgement:
        # Reasons are written to reports and detections files: no credential may reach them.
        return Judgement(ev.sm_verdict, Branch.FALLBACK, "", fallback=redact(why), failures=failures)

    def judge_many(self, evidence: list[Evidence], ids: list[str] | None = None) -> list[Judgement]:
        """Judge a batch: equal message patterns are judged once, distinct ones concurrently.
        ``ids``: the sequence id of each evidence, for the audit log."""
        first: dict[tuple[str, ...], int] = {}
        served: dict[tuple[str, ...], list[str]] = {}
        for i, ev in enumerate(evidence):
            first.setdefault(ev.pattern(), i)
            if ids is not None:
                served.setdefault(ev.pattern(), []).append(ids[i])
        unique = list(first.values())
        results = {}
        with stage("LLM judging sequence patterns", len(unique)) as advance, \
                ThreadPoolExecutor(max_workers=self.llm.concurrency) as pool:
            # Results are taken in order on this thread, which reports the progress.
            for i, judgement in zip(unique, pool.map(
                    lambda i: self.judge(evidence[i], tuple(served.get(evidence[i].pattern(), ()))), unique)):
                results[i] = judgement
                advance(1)
        fell_back = sum(1 for j in results.values() if j.branch is Branch.FALLBACK)
        if fell_back:
            log.warning("%d of %d LLM judgement(s) fell back to the small model's verdict", fell_back, len(unique))
        return [results[first[ev.pattern()]] for ev in evidence]
