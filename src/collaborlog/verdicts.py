"""The values that pass between the stages: where a sequence went (:class:`Route`), which branch
judged it (:class:`Branch`), the evidence the LLM is shown, what the LLM said, and the final
:class:`Detection`. Plain frozen dataclasses and enums, importing no stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from collaborlog.memory.patterns import summarize


class Route(str, Enum):
    SMALL_MODEL = "small_model"
    LLM = "llm"


class MemorySource(IntEnum):
    """Where a remembered label came from. The values are saved (the small model's memory), so
    they never change; which source outranks which is :attr:`rank`."""

    HISTORY = 0
    """Labelled by the training data."""
    LLM = 1
    """Labelled by the LLM and learned through the adaptive evolve mechanism."""
    OPERATOR = 2
    """Corrected by an operator (``collaborlog feedback``, ``POST /v1/feedback``)."""

    @property
    def rank(self) -> int:
        """Which label the pattern memory keeps when sources disagree, higher wins: an operator's
        correction, then the labelled history, then the LLM. The history's labels are people's
        word on the old release; the LLM's verdict is a guess, so it only fills patterns nobody
        labelled; an operator's correction is a person's word on the release now running, so it
        replaces either (and a later correction replaces an earlier one).

        >>> MemorySource.OPERATOR.rank > MemorySource.HISTORY.rank > MemorySource.LLM.rank
        True
        """
        return _RANK[self]

    def memory_id(self, sequence_id: str) -> str:
        """The id a sequence learned from this source is remembered under (``llm:blk_1``).

        >>> MemorySource.OPERATOR.memory_id("blk_1")
        'operator:blk_1'
        """
        return _PREFIX[self] + sequence_id

    @classmethod
    def of(cls, memory_id: str) -> "MemorySource":
        """The source of a remembered id (history ids carry no prefix).

        >>> MemorySource.of("llm:blk_1"), MemorySource.of("blk_1")
        (<MemorySource.LLM: 1>, <MemorySource.HISTORY: 0>)
        """
        for source in (cls.LLM, cls.OPERATOR):
            if memory_id.startswith(_PREFIX[source]):
                return source
        return cls.HISTORY

    @property
    def described(self) -> str:
        """How a verdict of this source reads in a detection's reason."""
        return _DESCRIBED[self]


_RANK = {MemorySource.LLM: 0, MemorySource.HISTORY: 1, MemorySource.OPERATOR: 2}
_PREFIX = {MemorySource.HISTORY: "", MemorySource.LLM: "llm:", MemorySource.OPERATOR: "operator:"}
_DESCRIBED = {MemorySource.HISTORY: "labelled in the history", MemorySource.LLM: "judged by the LLM",
              MemorySource.OPERATOR: "corrected by an operator"}


@dataclass(frozen=True)
class Neighbour:
    """A memory sequence used as evidence."""

    id: str
    label: int
    similarity: float
    source: MemorySource


class Branch(str, Enum):
    SMALL_MODEL = "small_model"
    REUSED = "reused"
    """The label of a known message pattern: one the labelled history shows with a single label,
    or one the LLM judged earlier in the stream (AEM). No LLM call."""
    EVOL_DETECT = "evol_detect"
    AD_CERTAIN = "ad_certain"
    AD_UNCERTAIN = "ad_uncertain"
    FALLBACK = "fallback"
    HELD_BACK = "held_back"
    """An abnormal LLM verdict not applied: more of the stream carries the pattern than failures'
    base rate allows (see :func:`collaborlog.detector.judge.base_rate_guard`); read as normal, with the reason."""
    NOT_JUDGED = "not_judged"
    """Routed to the LLM, but no LLM is configured (``llm: {backend: none}``): the small model's
    verdict, marked "unfamiliar, not judged"."""


@dataclass(frozen=True)
class HistoryItem:
    """A labelled historical sequence shown to the LLM."""

    id: str
    label: int
    messages: tuple[str, ...]
    similarity: float = 0.0


@dataclass(frozen=True)
class Evidence:
    """What the LLM stage knows of one routed sequence; no label of the sequence itself."""

    messages: tuple[str, ...]
    neighbours: tuple[HistoryItem, ...]
    nearest_normal: HistoryItem | None
    nearest_abnormal: HistoryItem | None
    sm_verdict: int
    sm_certain: bool
    failure_signals: tuple[str, ...] = ()
    """Lines resembling messages the history saw only in failures (see :mod:`collaborlog.memory.signatures`)."""
    key: tuple[str, ...] = ()
    """The detector's pattern key for this sequence; empty means its distinct messages with counts."""
    reported_problems: tuple[str, ...] = ()
    """New messages the LLM said their developer would log at WARN or above."""
    rare: tuple[str, ...] = ()
    """Without labels: lines fewer of the history's sequences carry than failures may (see
    :mod:`collaborlog.memory.novelty`)."""

    def pattern(self) -> tuple[str, ...]:
        """The sequence's message pattern: equal patterns get one judgement."""
        return self.key or tuple(summarize(list(self.messages)))


@dataclass(frozen=True)
class KnownMessage:
    """A message the detector knows, offered as what a new message may reword."""

    message: str
    similarity: float
    failure_only: bool
    """The labelled history saw it only in anomalous sequences."""


@dataclass(frozen=True)
class MessageVerdict:
    """What the LLM said of one new message.

    ``rewords``: the known message the LLM says it rewords. A rewording is the old event, so it
    inherits the old message's standing, as Evol Detect inherits a sequence's label: ``problem``
    is then whether the history saw that message only in failures. For a new event, ``problem``
    is whether its developer would log it at WARN or above (code-trained models know log levels
    far better than they answer "is this a problem?").
    """

    message: str
    rewords: str | None
    problem: bool
    reason: str
    level: str = ""
    """The log level the LLM says the message's developer would give it."""

    @property
    def routine(self) -> bool:
        """A new event that reports no problem: it does not change what a sequence means."""
        return self.rewords is None and not self.problem

    def to_json(self) -> dict:
        return {"message": self.message, "level": self.level, "rewords": self.rewords, "problem": self.problem,
                "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict) -> "MessageVerdict":
        return cls(str(data["message"]), data["rewords"], bool(data["problem"]), str(data["reason"]), str(data["level"]))


@dataclass(frozen=True)
class Judgement:
    verdict: int
    branch: Branch
    reason: str
    compared_with: tuple[str, ...] = ()
    """Ids of the historical sequences shown to the LLM."""
    evolved_from: str | None = None
    """Evol Detect: the historical sequence this one evolved from."""
    fallback: str | None = None
    """Why the small model's verdict was used, when it was."""
    failures: int = 0


class BlameReason(str, Enum):
    """Why a line of an anomalous sequence is named as one to look at (see :mod:`collaborlog.detector.localise`)."""

    SIGNAL = "signal"
    """The detection names the line as a failure signal (:attr:`Detection.signals`)."""
    FAILURE_ONLY = "failure_only"
    """The labelled history saw this message only in failures."""
    PROBLEM_LEVEL = "problem_level"
    """The log prints the line at WARN or above."""
    CITED = "cited"
    """The detection's reason (the LLM's, or the rule's) quotes the line or most of its words."""
    NEW = "new"
    """The history never showed this message."""
    RARE = "rare"
    """Few of the history's sequences carry this message."""
    UNLIKE_NEIGHBOUR = "unlike_neighbour"
    """The nearest normal sequence of the history does not carry this message."""


@dataclass(frozen=True)
class LineBlame:
    """One line of an anomalous sequence, named as responsible for the verdict; higher
    ``score`` = more responsible (a weighted sum over ``reasons``)."""

    position: int
    """The line's position within its sequence (0 = first)."""
    file: str | None
    """The file it was read from (``None`` when it came from no file, e.g. a request)."""
    line_number: int | None
    """Its 1-based line number in that file (``None`` when unknown)."""
    timestamp: float | None
    """Seconds since the epoch (``None`` when the log gives no time)."""
    text: str
    """The raw line as read."""
    score: float
    reasons: tuple[BlameReason, ...]

    def where(self) -> str:
        """``file:line`` (or ``#position`` within the sequence when the file is unknown)."""
        if self.file is None or self.line_number is None:
            return f"#{self.position}"
        return f"{self.file}:{self.line_number}"


@dataclass(frozen=True)
class Detection:
    """The verdict on one sequence, with why.

    ``score`` is higher for more anomalous sequences: the small model's neighbour score, or
    0/1 from the LLM.
    """

    sequence_id: str
    verdict: int
    score: float
    route: Route
    branch: Branch
    loss: float
    """The coordinator's reconstruction loss (higher = less familiar)."""
    neighbours: tuple[Neighbour, ...]
    reason: str = ""
    compared_with: tuple[str, ...] = ()
    evolved_from: str | None = None
    fallback: str | None = None
    signals: tuple[str, ...] = ()
    """The sequence's own lines that signal a failure: messages like those the history saw only
    in failures, new messages reporting a problem, and (without labels) lines the history rarely
    shows. The AD agent's "abnormal" without any is held back."""
    blame: tuple[LineBlame, ...] = ()
    """For an anomalous sequence, the lines most responsible, most responsible first (see
    :mod:`collaborlog.detector.localise`); empty for a normal one."""

    @property
    def anomaly_score(self) -> float:
        """One scale for every branch, higher = more anomalous: the verdict (0 or 1) plus the
        branch's own score squashed into [0, 1) by ``s / (1 + s)``. So it lies in [0, 2), is at
        least 1 exactly for anomalous verdicts, and within each verdict orders sequences by the
        strength of the evidence (``score``: the small model's vote or novelty, an LLM's 0/1).

        >>> Detection("s", 1, 1.0, Route.LLM, Branch.AD_CERTAIN, 0.0, ()).anomaly_score
        1.5
        >>> Detection("s", 0, 0.2, Route.SMALL_MODEL, Branch.SMALL_MODEL, 0.0, ()).anomaly_score < 1
        True
        """
        s = max(self.score, 0.0)
        return self.verdict + s / (1.0 + s)
