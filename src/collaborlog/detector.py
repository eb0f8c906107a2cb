"""CollaborLog as one object: the small model and the LLM working together, with the adaptive
evolve mechanism (AEM).

``fit`` learns templates, embeddings, the small model and the coordinator from the history.
``detect`` routes each sequence: familiar ones get the small model's verdict, evolved ones go
to the Evol-CoT agents. ``detect_stream`` does the same in arrival order, batch by batch, and
after each batch feeds the LLM's verdicts back: the coordinator learns those sequences as
familiar and the small model adds them to its memory (marked as LLM-labelled) and is
fine-tuned on them; confirmed rewordings become aliases of the messages they reword, and new
routine events stop making patterns new. So the share sent to the LLM falls. Saved as a
directory, without pickle.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from collaborlog.agents import Branch, Evidence, EvolCoT, Judgement, KnownMessage, MessageVerdict
from collaborlog.alignment import MessageAligner
from collaborlog.config import ParserConfig
from collaborlog.coordinator import Coordinator, CoordinatorConfig, Route
from collaborlog.embeddings import EmbeddingCache, default_cache_dir, embed_messages
from collaborlog.encoders import Encoder, EncoderConfig, build_encoder
from collaborlog.features import Featurizer, SequenceFeatures
from collaborlog.governor import Governor, GovernorConfig, ResponseCache
from collaborlog.history import History
from collaborlog.levels import PROBLEM_LEVELS, message_levels
from collaborlog.llm_backends import LLMClient, LLMConfig, build_client
from collaborlog.novelty import Novelty
from collaborlog.prevalence import Prevalence, wilson
from collaborlog.prompts import load_prompts, summarize
from collaborlog.records import LogFrame, Sequence
from collaborlog.rewording import offer, variant_of
from collaborlog.signatures import FailureSignatures
from collaborlog.small_model import Neighbour, SmallModel, SmallModelConfig
from collaborlog.templates import TemplateMiner
from collaborlog.vanished import Vanished


class AEMConfig(BaseModel):
    """The adaptive evolve mechanism: how LLM verdicts are fed back after each batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    batch_size: int = Field(default=100, gt=0)
    """Sequences per stream batch; the models learn after each."""
    replay: int = Field(default=512, ge=0)
    """History sequences replayed with the new ones, so that nothing is forgotten."""
    coordinator_epochs: int = Field(default=20, gt=0)
    small_model_epochs: int = Field(default=5, gt=0)


class DetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    parser: ParserConfig = Field(default_factory=ParserConfig)
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    coordinator: CoordinatorConfig = Field(default_factory=CoordinatorConfig)
    small_model: SmallModelConfig = Field(default_factory=SmallModelConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    governor: GovernorConfig = Field(default_factory=GovernorConfig)
    aem: AEMConfig = Field(default_factory=AEMConfig)
    prompts_dir: str | None = None
    evol_contrast: bool = True
    align_threshold: float | None = Field(default=0.85, gt=0, le=1)
    """Least cosine at which a new message is read as the known message closest to it (a rewording);
    ``None`` turns alignment off. See :mod:`collaborlog.alignment`."""
    pattern_key: Literal["auto", "set", "counts"] = "auto"
    """How verdicts are shared between routed sequences: by the set of their (aligned) messages, by
    the messages with their counts, or ``auto``: by set when the labelled history shows that equal
    sets (almost) always carry equal labels, else by counts."""
    signature_threshold: float = Field(default=0.6, gt=0, le=1)
    """Least cosine at which a line counts as aligned to its closest historical message (a failure
    signal when that message is failure-only)."""
    new_message_candidates: int = Field(default=3, ge=0)
    """Evol Detect first asks about each new message of a routed sequence, once, showing up to this
    many of its closest known messages that it may reword; 0 turns the question off (it also needs
    alignment)."""
    rewording_overlap: float = Field(default=0.5, ge=0, le=1)
    """Least share of the shorter message's words (masks left out, camelCase split) a known
    message must share with a new message to be offered as what it rewords: a rewording keeps
    much of what a statement says. Small LLMs call unrelated messages rewordings of each other;
    this keeps them to plausible ones (see :mod:`collaborlog.rewording`)."""
    signature_strong: float | None = Field(default=0.9, gt=0, le=1)
    """A line at least this close to a failure-only message is a failure signal whatever else it
    resembles (``None`` turns this off)."""
    vanish_evidence: float | None = Field(default=5.0, gt=0)
    """A history message that none of the stream's sequences carries, although its history share
    says at least this many should have, was dropped by the new release (e.g. demoted to DEBUG):
    the history's patterns are then also read without it (see :mod:`collaborlog.vanished`).
    ``None`` turns this off."""
    common_message_factor: float | None = Field(default=3.0, gt=0)
    """A new message that more of the stream's sequences carry than this many times the history's
    anomaly rate is no failure signal, whatever level the LLM gives it or whichever failure message
    it resembles, and a new event that common is routine: failures are rare, so a message most
    sequences carry cannot mark them. The share is the lower end of a 95% Wilson interval over the
    sequences seen so far (see :mod:`collaborlog.prevalence`). ``None`` turns this off, as does a
    history without labelled anomalies (its anomaly rate is unknown)."""
    contamination: float = Field(default=0.05, gt=0, lt=0.5)
    """The expected share of failures when the history's labels do not say it: without labelled
    failures the history is taken as mostly normal (DeepLog's assumption) and a message fewer than
    this share of its sequences carry is rare (see :mod:`collaborlog.novelty`); it is also the
    failure rate the "failures are rare" guard starts from."""
    seed: int = 0


class Mode(str, Enum):
    """What the history's labels allow; chosen by :meth:`CollaborLog.fit` and said in ``mode_reason_``."""

    SUPERVISED = "supervised"
    """Every history sequence is labelled, failures among them: the small model votes with its neighbours."""
    SEMI_SUPERVISED = "semi-supervised"
    """Some labelled failures: they join the memory, the unlabelled rest is taken as normal, and
    novelty flags what neither explains."""
    LABEL_FREE = "label-free"
    """No labelled failure: the history is taken as mostly normal and novelty is the small model's verdict."""


def choose_mode(labels: np.ndarray) -> tuple[Mode, str]:
    """The mode the history's labels allow (``-1`` = unlabelled), and why, in words."""
    failures, unlabelled = int((labels == 1).sum()), int((labels < 0).sum())
    if failures == 0:
        why = ("no history sequence is labelled" if unlabelled == len(labels)
               else "the labelled history holds no failure")
        return Mode.LABEL_FREE, f"label-free: {why}, so the history is taken as mostly normal"
    if unlabelled:
        return Mode.SEMI_SUPERVISED, (f"semi-supervised: {failures:,} labelled failures join the memory; "
                                      f"{unlabelled:,} unlabelled sequences are taken as normal")
    return Mode.SUPERVISED, f"supervised: {len(labels):,} labelled sequences, {failures:,} failures"


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


@dataclass
class _Batch:
    """One batch's detections and what the LLM said of its new messages (for the AEM)."""

    detections: list[Detection]
    messages: dict[str, MessageVerdict] = field(default_factory=dict)


def _text(key: tuple[str, ...]) -> str:
    """A pattern key as one string (for counting patterns like messages)."""
    return "\x1f".join(key)


def _largest_failure_pattern(keys: list[tuple[str, ...]], labels: np.ndarray) -> float:
    """The upper end of the 95% Wilson interval of the largest share of ``keys`` one failure pattern holds."""
    counts = Counter(k for k, label in zip(keys, labels) if label == 1)
    return wilson(max(counts.values()), len(keys))[1] if counts else 0.0


def pattern_key(messages: list[str], by_set: bool = False) -> tuple[str, ...]:
    """A sequence's message pattern: its distinct messages with counts in order, or (``by_set``) sorted without."""
    if by_set:
        return tuple(sorted(set(messages)))
    return tuple(summarize(list(messages)))


def set_keys_are_pure(messages: list[list[str]], labels: np.ndarray, purity: float = 0.99) -> bool:
    """Whether sequences with the same set of messages carry the same label, for ``purity`` of them."""
    counts: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    for lines, label in zip(messages, labels):
        if label >= 0:
            counts[pattern_key(lines, by_set=True)][int(label)] += 1
    total = sum(sum(c.values()) for c in counts.values())
    agree = sum(max(c.values()) for c in counts.values())
    return total > 0 and agree >= purity * total


class CollaborLog:
    """The detector. ``fit`` returns ``self``; learned state ends in ``_``.

    >>> detector = CollaborLog(DetectorConfig()).fit(log, train, valid)  # doctest: +SKIP
    >>> detections = detector.detect(new_log, new_sequences)  # doctest: +SKIP
    """

    def __init__(self, config: DetectorConfig = DetectorConfig(), encoder: Encoder | None = None,
                 llm: LLMClient | None = None) -> None:
        self.config = config
        self._encoder = encoder
        self._llm = llm

    # -- components built on demand (not state) -------------------------------------------------
    def _featurizer(self) -> Featurizer:
        # Built once per miner: the embedding cache file is read from disk when it is built.
        cached = getattr(self, "_featurizer_cache", None)
        aligner = getattr(self, "aligner_", None)
        if cached is None or cached.miner is not self.miner_:
            if self._encoder is None:
                self._encoder = build_encoder(self.config.encoder)
            cached = self._featurizer_cache = Featurizer(self.miner_, self._encoder,
                                                         EmbeddingCache(self._encoder.identity, default_cache_dir()))
        cached.aligner = aligner
        return cached

    def _key(self, aligned: list[str], routine: set[str] | None = None) -> tuple[str, ...]:
        """The pattern of a sequence's aligned messages; new routine events do not count."""
        skip = self.routine_ | routine if routine else self.routine_
        return pattern_key([m for m in aligned if m not in skip] if skip else aligned, self.pattern_by_set_)

    def _message_vectors(self, messages: list[str]) -> dict[str, np.ndarray]:
        unique = list(dict.fromkeys(messages))
        if not unique:
            return {}
        featurizer = self._featurizer()
        return dict(zip(unique, embed_messages(unique, featurizer.encoder, featurizer.cache)))

    def _agents(self) -> EvolCoT:
        if getattr(self, "_agents_cache", None) is None:
            client = self._llm if self._llm is not None else build_client(self.config.llm)
            cache = ResponseCache(default_cache_dir() / "llm.sqlite") if self.config.governor.cache else None
            self._agents_cache = EvolCoT(Governor(client, self.config.governor, cache),
                                         load_prompts(self.config.prompts_dir), self.config.llm,
                                         contrast=self.config.evol_contrast)
        return self._agents_cache

    @property
    def governor(self) -> Governor:
        return self._agents().governor

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, log: LogFrame, train: list[Sequence], valid: list[Sequence]) -> "CollaborLog":
        self.miner_ = TemplateMiner(self.config.parser)
        self.aligner_ = None
        featurizer = self._featurizer()
        tr = featurizer.transform(log, train)
        va = featurizer.transform(log, valid)
        given = np.array([s.label for s in train], dtype=np.int8)
        self.mode_, self.mode_reason_ = choose_mode(given)
        y_train, y_valid = given, np.array([s.label for s in valid], dtype=np.int8)
        if self.mode_ is not Mode.SUPERVISED:
            # The history is taken as mostly normal: what no label calls a failure is normal.
            y_train, y_valid = np.maximum(y_train, 0), np.maximum(y_valid, 0)
        labelled = y_train >= 0
        ids = [s.id for s in train]
        self.small_model_ = SmallModel(self.config.small_model.model_copy(update={"seed": self.config.seed})).fit(
            tr.vectors, y_train, ids, va.vectors, y_valid)
        self.coordinator_ = Coordinator(self.config.coordinator.model_copy(update={"seed": self.config.seed})).fit(
            tr.vectors, va.vectors)
        self.history_ = History()
        self.history_.add([i for i, k in zip(ids, labelled) if k], y_train[labelled].tolist(),
                          [m for m, k in zip(tr.messages, labelled) if k])
        self.replay_ = tr.vectors[labelled]
        history_messages = [m for m, k in zip(tr.messages, labelled) if k]
        self.signatures_ = FailureSignatures(self.config.signature_threshold, self.config.signature_strong).fit(
            history_messages, y_train[labelled], self._message_vectors([line for m in history_messages for line in m]))
        known = list(dict.fromkeys(line for m in tr.messages + va.messages for line in m))
        if self.config.align_threshold is not None:
            vectors = self._message_vectors(known)
            self.aligner_ = MessageAligner(self.config.align_threshold).fit(known, np.stack([vectors[m] for m in known]))
        key = self.config.pattern_key
        self.pattern_by_set_ = key == "set" or (key == "auto" and set_keys_are_pure(tr.messages, y_train))
        self.relations_: list[tuple[str, str]] = []
        self.messages_: dict[str, MessageVerdict] = {}
        self.routine_: set[str] = set()
        # Failures' base rate: the labels' where they show failures, else the expected contamination.
        rate = float((given[given >= 0] == 1).mean()) if self.mode_ is not Mode.LABEL_FREE else self.config.contamination
        factor = self.config.common_message_factor
        self.prevalence_ = Prevalence(min(1.0, factor * rate) if factor is not None and rate > 0 else 1.0)
        # One failure pattern's base rate: the largest share of the labelled history any single
        # failure pattern holds (the upper end of its 95% Wilson interval), else the contamination.
        pattern_rate = rate if self.mode_ is Mode.LABEL_FREE else _largest_failure_pattern(
            [pattern_key(m, self.pattern_by_set_) for m, g in zip(tr.messages, given) if g >= 0], given[given >= 0])
        self.key_prevalence_ = Prevalence(min(1.0, factor * pattern_rate) if factor is not None and pattern_rate > 0
                                          else 1.0)
        """How many of the stream's sequences carry each whole pattern (for the base-rate guard)."""
        pattern_labels = y_train
        self.novelty_: Novelty | None = None
        if self.mode_ is not Mode.SUPERVISED:
            train_losses = self.coordinator_.score(tr.vectors)
            self.novelty_ = Novelty(self.config.contamination).fit(
                [m for m, g in zip(tr.messages, given) if g != 1], train_losses, self.coordinator_.valid_losses_)
            # Only what looks normal (or is labelled) makes a known pattern: the unlabelled history
            # holds failures too, and a rare pattern of it must not vouch for new sequences.
            novel = self.novelty_.score(tr.messages, train_losses).novel
            trusted = (given == 1) | ((given == 0) & (self.mode_ is Mode.SEMI_SUPERVISED)) | ~novel
            pattern_labels = np.where(trusted, y_train, -1).astype(np.int8)
        self.patterns_ = self._history_patterns(tr.messages, pattern_labels, ids)
        self.vanished_ = Vanished(self.config.vanish_evidence).fit(tr.messages)
        self.learned_batches_ = 0
        return self

    def _history_patterns(self, messages: list[list[str]], labels: np.ndarray,
                          ids: list[str]) -> dict[tuple[str, ...], tuple[int, str]]:
        """The history's message patterns whose sequences all carry one label: pattern -> (label, an id)."""
        seen: dict[tuple[str, ...], tuple[int, str]] = {}
        mixed: set[tuple[str, ...]] = set()
        for lines, label, sid in zip(messages, labels, ids):
            if label < 0:
                continue
            key = self._key(lines)
            if key in seen and seen[key][0] != label:
                mixed.add(key)
            seen.setdefault(key, (int(label), sid))
        return {k: v for k, v in seen.items() if k not in mixed}

    # -- detection ------------------------------------------------------------------------------
    def _routine(self, verdict: MessageVerdict, prevalence: Prevalence) -> bool:
        """A new event that reports no problem, or one too common in the stream to mark failures."""
        return verdict.routine or (verdict.rewords is None and prevalence.common(verdict.message))

    def refresh_routine(self) -> None:
        """Derive ``routine_`` (kept because pattern keys read it for every sequence) from the
        message verdicts and the stream counts. Read again after each batch: a message judged a
        problem may since have proved too common to mark failures."""
        self.routine_ = {m for m, v in self.messages_.items() if self._routine(v, self.prevalence_)}

    def _signals(self, lines: list[str], vectors: dict[str, np.ndarray], said: dict[str, MessageVerdict],
                 prevalence: Prevalence, levels: dict[str, str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A sequence's failure signals: lines that resemble messages the history saw only in
        failures, and new messages that report a problem: the log prints them at WARN or above, or
        (where it prints no level) the LLM said so. A line that most of the stream carries is
        neither, unless the history saw that very message only in failures."""
        history = tuple(line for line in self.signatures_.signals(lines, vectors)
                        if self.signatures_.failure_only(line) or not prevalence.common(line))
        levels = levels or {}

        def problem(m: str) -> bool:
            if m in said:
                return said[m].problem
            return m in levels and levels[m] in PROBLEM_LEVELS and self.aligner_ is not None \
                and not self.aligner_.knows(m)

        judged = tuple(m for m in dict.fromkeys(lines) if problem(m) and m not in history and not prevalence.common(m))
        return history, judged

    def _evidence(self, features: SequenceFeatures, sm_batch, rows: np.ndarray, prevalence: Prevalence,
                  keys: list[tuple[str, ...]] | None = None,
                  verdicts: dict[str, MessageVerdict] | None = None,
                  levels: dict[str, str] | None = None) -> list[Evidence]:
        normal, abnormal = self.small_model_.nearest_by_label(features.vectors[rows])
        row_of = {sid: r for r, sid in enumerate(self.history_.ids)}
        vectors = self._message_vectors([line for i in rows for line in features.messages[i]])
        said = {**self.messages_, **(verdicts or {})}
        out = []
        for j, i in enumerate(rows):
            pred = sm_batch[int(i)]
            neighbours = tuple(self.history_.item(row_of[n.id], n.similarity) for n in pred.neighbours if n.id in row_of)
            signals, judged = self._signals(list(features.messages[i]), vectors, said, prevalence, levels)
            rare = tuple(self.novelty_.rare(features.aligned[i])) if self.novelty_ is not None else ()
            out.append(Evidence(tuple(features.messages[i]), neighbours,
                                self.history_.item(int(normal[j])) if normal[j] >= 0 else None,
                                self.history_.item(int(abnormal[j])) if abnormal[j] >= 0 else None,
                                pred.verdict, pred.certain, signals,
                                keys[i] if keys is not None else self._key(features.aligned[i]), judged, rare))
        return out

    def _new_messages(self, features: SequenceFeatures, rows: list[int], stream: Vanished,
                      levels: dict[str, str]) -> dict[str, MessageVerdict]:
        """Evol Detect for each message of ``rows`` that nothing known aligns to and the LLM has not judged.

        A known message is offered as what a new one may reword only when the stream no longer
        writes it as often as the history did (``stream``): a new version writes each statement in
        its new wording, so a message still written as often as ever is not the one reworded,
        while during a rolling upgrade an old wording is written less, not never. (Small models
        call near-duplicates such as "Receiving block" and "Received block" the same event when
        both are offered.)
        """
        if self.aligner_ is None or not self.config.new_message_candidates:
            return {}
        unknown = list(dict.fromkeys(line for i in rows for line, name in zip(features.messages[i], features.aligned[i])
                                     if line == name and not self.aligner_.knows(line) and line not in self.messages_))
        # Variants of one statement (the same words, other variables or repeats) are one question:
        # the first asked answers for all, now and later in the stream.
        judged = list(self.messages_)
        representative = {}
        for m in unknown:
            representative[m] = variant_of(m, judged + [r for r in dict.fromkeys(representative.values())]) or m
        new = [m for m in unknown if representative[m] == m]
        said = {**self.messages_, **(self._ask_new(new, stream) if new else {})}
        said = {m: replace(said[r], message=m) for m, r in representative.items() if r in said}
        # Where the log prints its levels, a message's level is read, not guessed: it decides
        # whether a new event reports a problem (a rewording keeps its original's standing).
        return {m: replace(v, problem=levels[m] in PROBLEM_LEVELS if v.rewords is None else v.problem,
                           level=levels[m], reason=f"{v.reason} (the log prints it at {levels[m]})")
                if m in levels else v for m, v in said.items()}

    def _ask_new(self, new: list[str], stream: Vanished) -> dict[str, MessageVerdict]:
        """The new-message question for each of ``new``, with the old messages it may reword."""
        vectors = self._message_vectors(new)
        pool = [j for j, k in enumerate(self.aligner_.messages_) if not stream.steady(k)]
        old = [self.aligner_.messages_[j] for j in pool]
        cosine = (np.stack([vectors[m] for m in new]) @ self.aligner_.vectors_[pool].T if pool
                  else np.zeros((len(new), 0), np.float32))
        offered = offer(new, old, cosine, self.config.new_message_candidates, self.config.rewording_overlap)
        asks = {m: [KnownMessage(old[j], float(cosine[i, j]), self.signatures_.failure_only(old[j]))
                    for j in offered[m]] for i, m in enumerate(new)}
        return self._agents().judge_messages(asks)

    @staticmethod
    def _read_as(lines: list[str], aligned: list[str], verdicts: dict[str, MessageVerdict]) -> list[str]:
        """``aligned`` with each confirmed rewording read as the message it rewords."""
        return [verdicts[line].rewords or name if line in verdicts else name for line, name in zip(lines, aligned)]

    @property
    def llm_enabled(self) -> bool:
        """Whether routed sequences are judged by an LLM (``llm.backend: none`` leaves them unjudged)."""
        return self._llm is not None or self.config.llm.backend != "none"

    def use_llm(self, llm: LLMConfig | LLMClient) -> "CollaborLog":
        """Judge with another LLM from now on (a backend configuration or a client), without refitting."""
        if isinstance(llm, LLMConfig):
            self.config = self.config.model_copy(update={"llm": llm})
            self._llm = None
        else:
            self._llm = llm
        self._agents_cache = None
        return self

    def _novelty(self, messages: list[list[str]], losses: np.ndarray, routine: set[str], levels: dict[str, str],
                 prevalence: Prevalence):
        """Novelty scores of sequences read as ``messages``. Unfamiliar is not abnormal: new
        routine events (the LLM's word, or the log's level where it prints one: a message the
        history never showed, logged below WARN) are set aside, and so are messages more of the
        stream carries than failures can (``prevalence``); the autoencoder's loss does not count
        for a sequence whose unfamiliarity its new messages already explain."""
        assert self.novelty_ is not None
        known = self.novelty_.counts_

        def quiet(m: str) -> bool:
            return (m in routine or prevalence.common(m)
                    or (known[m] == 0 and m in levels and levels[m] not in PROBLEM_LEVELS))

        kept = [[m for m in lines if not quiet(m)] for lines in messages]
        has_new = np.array([any(known[m] == 0 for m in lines) for lines in messages], dtype=bool)
        return self.novelty_.score(kept, np.where(has_new, 0.0, losses))

    def _small_verdict(self, pred, novel: bool, novelty: float) -> tuple[int, float]:
        """The small model's verdict and score: its neighbours' vote when the history is fully
        labelled; else novelty (label-free), or either (semi-supervised). Outside the supervised
        mode the score's threshold is 1.0 (a vote share of 0.5 counts as 1.0)."""
        if self.novelty_ is None:
            return pred.verdict, pred.score
        if self.mode_ is Mode.LABEL_FREE:
            return int(novel), novelty
        return int(novel or pred.verdict == 1), max(novelty, 2 * pred.score)

    def _known(self, full: tuple[str, ...], skipped: tuple[str, ...],
               reread: dict[tuple[str, ...], tuple[int, str]]) -> tuple[int, str] | None:
        """The pattern memory's entry for a sequence: under its whole pattern, or, for a pattern the
        labelled history holds, read without the messages the new release dropped (``reread``), or
        with new routine events set aside. A verdict the LLM gave is only ever shared by sequences
        with the whole same pattern: setting new messages aside must not merge sequences that
        differ in what they report."""
        entry = self.patterns_.get(full) or reread.get(full)
        if entry is None:
            entry = self.patterns_.get(skipped) or reread.get(skipped)
            if entry is not None and entry[1].startswith("llm:"):
                return None
        return entry

    def dropped(self) -> set[str]:
        """History messages the stream so far has stopped writing (see :mod:`collaborlog.vanished`)."""
        return self._dropped(self.vanished_)

    def _dropped(self, stream: Vanished) -> set[str]:
        """What ``stream`` stopped writing, but for the messages of failures (the history saw them
        only in failures, or, without labels, they are rare): a healthy stream does not write
        them, so their absence says nothing about the release."""
        return {m for m in stream.dropped() if not self.signatures_.failure_only(m)
                and (self.novelty_ is None or self.novelty_.share(m) >= self.config.contamination)}

    def _reread(self, dropped: set[str]) -> dict[tuple[str, ...], tuple[int, str]]:
        """The labelled history's patterns read without ``dropped`` messages: pattern -> (label, an id).
        Patterns that then carry both labels are left out, as at fit."""
        if not dropped:
            return {}
        cached = getattr(self, "_reread_cache", None)
        if cached is not None and cached[0] == dropped:
            return cached[1]
        seen: dict[tuple[str, ...], tuple[int, str]] = {}
        mixed: set[tuple[str, ...]] = set()
        for row in range(len(self.history_.patterns)):
            lines = self.history_.messages(row)
            entry = self.patterns_.get(pattern_key(lines, self.pattern_by_set_))
            if entry is None or entry[1].startswith("llm:") or not dropped.intersection(lines):
                continue
            key = pattern_key([m for m in lines if m not in dropped], self.pattern_by_set_)
            if key in seen and seen[key][0] != entry[0]:
                mixed.add(key)
            seen.setdefault(key, entry)
        reread = {k: v for k, v in seen.items() if k not in mixed and k}
        self._reread_cache = (set(dropped), reread)
        return reread

    def _unplaced(self, features: SequenceFeatures, rows: list[int], prevalence: Prevalence,
                  said: dict[str, MessageVerdict], levels: dict[str, str]) -> dict[int, tuple[str, ...]]:
        """Failure signals of routed sequences no LLM judged. Unfamiliar is not abnormal: the
        small model's neighbours cannot place such a sequence, so only evidence of a failure in
        its own lines flags it."""
        vectors = self._message_vectors([line for i in rows for line in features.messages[i]])
        out = {}
        for i in rows:
            history, judged = self._signals(list(features.messages[i]), vectors, said, prevalence, levels)
            out[i] = history + judged
        return out

    def _judge(self, sequences: list[Sequence], features: SequenceFeatures,
               levels: dict[str, str] | None = None) -> _Batch:
        levels = levels or {}
        losses, routes = self.coordinator_.route(features.vectors)
        sm = self.small_model_.predict(features.vectors)
        prevalence = self.prevalence_.plus(features.messages)
        to_llm = np.array([r is Route.LLM for r in routes], dtype=bool)
        stream = self.vanished_.plus(features.aligned)
        # How common each message (read as the known message it aligns to) is in the stream.
        read_prevalence = Prevalence.of(self.prevalence_.bound, stream.stream_seen_, stream.stream_counts_)
        if self.novelty_ is not None and self.llm_enabled:
            # Without labels, what the history rarely shows is what the LLM should see, whatever
            # the autoencoder's loss.
            to_llm |= self._novelty(features.aligned, losses, self.routine_, levels, read_prevalence).novel
        keys = [self._key(a) for a in features.aligned]
        full = [pattern_key(a, self.pattern_by_set_) for a in features.aligned]
        reread = self._reread(self._dropped(stream))
        found = [self._known(f, k, reread) for f, k in zip(full, keys)]
        # New messages of routed sequences with a new pattern are judged first, once each: a
        # sequence that is a known pattern once its rewordings and new routine events are read so
        # is an evolved version of that pattern.
        unexplained = [int(i) for i in np.nonzero(to_llm)[0] if found[i] is None]
        verdicts = self._new_messages(features, unexplained, stream, levels) if self.llm_enabled else {}
        evolved: set[int] = set()
        routine = {m for m, v in verdicts.items() if self._routine(v, prevalence)}
        if verdicts:
            for i in unexplained:
                if any(line in verdicts for line in features.messages[i]):
                    read = self._read_as(features.messages[i], features.aligned[i], verdicts)
                    full[i], keys[i] = pattern_key(read, self.pattern_by_set_), self._key(read, routine)
                    found[i] = self._known(full[i], keys[i], reread)
                    evolved.add(i)
        # A known message pattern keeps its label (from the history, or from the LLM earlier in the
        # stream): the LLM judges each new pattern once.
        # The small model reads a known pattern the same way: its label, not a neighbour vote.
        known = {i: entry for i, entry in enumerate(found) if entry is not None}
        novelty = (self._novelty([self._read_as(m, a, verdicts) for m, a in zip(features.messages, features.aligned)],
                                 losses, self.routine_ | routine, levels, read_prevalence)
                   if self.novelty_ is not None else None)
        rare_rows: set[int] = set()
        if novelty is not None and self.llm_enabled:
            # Read through the rewordings the LLM confirmed, a sequence may turn out novel: the LLM
            # judges it too, rather than novelty alone. But lines the history rarely shows, which
            # the new-message question did not read as routine or as a rewording, are evidence no
            # sequence-level answer overrules (a 1.5B model called every such HDFS failure normal).
            to_llm |= novelty.novel
            rare_rows = {int(i) for i in np.nonzero(novelty.rarity > 1.0)[0] if i not in known}
            to_llm[list(rare_rows)] = False
        to_llm[list(known)] = False
        rows = np.nonzero(to_llm)[0]
        judgements: dict[int, Judgement] = {}
        if rows.size and self.llm_enabled:
            evidence = self._evidence(features, sm, rows, prevalence, full, verdicts, levels)
            judgements = dict(zip(rows.tolist(), self._agents().judge_many(evidence)))
        unjudged = [int(i) for i in rows if i not in judgements or judgements[i].branch is Branch.FALLBACK]
        unplaced = (self._unplaced(features, unjudged, prevalence, {**self.messages_, **verdicts}, levels)
                    if self.novelty_ is None else {})
        # No single answer decides the stream: an abnormal verdict of the LLM is not shared with a
        # pattern more of the stream carries than failures' base rate allows.
        patterns = self.key_prevalence_.plus([[_text(f)] for f in full])
        out = []
        for i, seq in enumerate(sequences):
            pred = sm[i]
            j = judgements.get(i)
            small = self._small_verdict(pred, bool(novelty.novel[i]), float(novelty.score[i])) if novelty is not None else (
                pred.verdict, pred.score)
            if i in unplaced:
                signals = unplaced[i]
                small = (int(bool(signals)), max(pred.score, float(bool(signals))))
            if i in known and i in evolved:
                verdict, source_id = known[i]
                d = Detection(seq.id, verdict, float(verdict), Route.LLM, Branch.EVOL_DETECT, float(losses[i]),
                              pred.neighbours, self._evolved_reason(features.messages[i], verdicts, source_id),
                              (source_id,), evolved_from=source_id)
            elif i in known:
                verdict, source_id = known[i]
                source = "judged by the LLM" if source_id.startswith("llm:") else "labelled in the history"
                if full[i] not in self.patterns_ and keys[i] not in self.patterns_:
                    source += ", read without the messages the new release no longer writes"
                branch = Branch.SMALL_MODEL if routes[i] is Route.SMALL_MODEL else Branch.REUSED
                d = Detection(seq.id, verdict, float(verdict), Route.SMALL_MODEL, branch, float(losses[i]),
                              pred.neighbours, f"same message pattern as {source_id}, {source}", (source_id,))
            elif j is None and to_llm[i]:
                d = Detection(seq.id, small[0], small[1], Route.LLM, Branch.NOT_JUDGED, float(losses[i]),
                              pred.neighbours, "unfamiliar, not judged: no LLM is configured (llm backend none); "
                              + self._unjudged_reason(unplaced.get(i)))
            elif j is None:
                rare = self.novelty_.rare(features.aligned[i]) if i in rare_rows and self.novelty_ else []
                d = Detection(seq.id, small[0], small[1], Route.SMALL_MODEL, Branch.SMALL_MODEL,
                              float(losses[i]), pred.neighbours,
                              "lines the history rarely shows: " + "; ".join(repr(m) for m in rare[:3]) if rare else "")
            elif j.branch is Branch.FALLBACK:
                d = Detection(seq.id, small[0], small[1], Route.LLM, j.branch, float(losses[i]), pred.neighbours,
                              self._unjudged_reason(unplaced.get(i)), j.compared_with, j.evolved_from, j.fallback)
            else:
                d = Detection(seq.id, j.verdict, float(j.verdict), Route.LLM, j.branch, float(losses[i]),
                              pred.neighbours, j.reason, j.compared_with, j.evolved_from, j.fallback)
            out.append(self._base_rate_guard(d, patterns, _text(full[i]), j is not None or (
                i in known and known[i][1].startswith("llm:"))))
        return _Batch(out, verdicts)

    def _base_rate_guard(self, d: Detection, patterns: Prevalence, pattern: str, from_llm: bool) -> Detection:
        """``d``, or, when it shares an abnormal LLM verdict over a pattern that more of the stream
        carries than one failure pattern can (three times the largest share a single failure
        pattern holds in the labelled history, or the contamination without labels; see
        :mod:`collaborlog.prevalence`), ``d`` held back as normal with the reason: one wrong
        answer must not flag a large part of the stream."""
        if not (from_llm and d.verdict == 1 and d.branch is not Branch.FALLBACK and patterns.common(pattern)):
            return d
        share = patterns.lower_share(pattern)
        return replace(d, verdict=0, score=0.0, branch=Branch.HELD_BACK, reason=(
            f"held back: the LLM called this pattern abnormal ({d.reason}), but at least {share:.0%} of the stream "
            f"carries it, more than one failure pattern's base rate allows ({patterns.bound:.1%}); read as normal"))

    @staticmethod
    def _unjudged_reason(signals: tuple[str, ...] | None) -> str:
        if signals is None:
            return "the small model's verdict"
        if signals:
            return "abnormal by its own lines: " + "; ".join(repr(s) for s in signals[:3])
        return "nothing in its own lines signals a failure (unfamiliar is not abnormal)"

    @staticmethod
    def _evolved_reason(lines: list[str], verdicts: dict[str, MessageVerdict], source_id: str) -> str:
        parts = []
        for line in dict.fromkeys(lines):
            v = verdicts.get(line)
            if v is not None:
                what = f"rewords {v.rewords!r}" if v.rewords else "is a new routine event"
                parts.append(f"{line!r} {what} ({v.reason})" if v.reason else f"{line!r} {what}")
        return f"an evolved version of the message pattern of {source_id}: " + "; ".join(parts)

    def features(self, log: LogFrame, sequences: list[Sequence]) -> SequenceFeatures:
        """Embeddings, template ids and masked messages of ``sequences`` (new templates are learned)."""
        return self._featurizer().transform(log, sequences)

    def evidence(self, features: SequenceFeatures) -> list[Evidence]:
        """What the LLM would be shown for each sequence: neighbours and contrast from the history."""
        return self._evidence(features, self.small_model_.predict(features.vectors), np.arange(len(features.vectors)),
                              self.prevalence_.plus(features.messages))

    def judge(self, sequences: list[Sequence], features: SequenceFeatures, levels: dict[str, str] | None = None
              ) -> tuple[list[Detection], dict[str, MessageVerdict]]:
        """Verdicts for ``sequences`` whose ``features`` were computed elsewhere (e.g. by workers, see
        :mod:`collaborlog.scale`), and what the LLM said of their new messages (for :meth:`learn`)."""
        judged = self._judge(sequences, features, levels)
        return judged.detections, judged.messages

    def detect(self, log: LogFrame, sequences: list[Sequence]) -> list[Detection]:
        """Verdicts for ``sequences`` (lines of ``log``), without learning from them."""
        features = self._featurizer().transform(log, sequences)
        return self._judge(sequences, features, message_levels(log, sequences, features.messages)).detections

    def detect_stream(self, log: LogFrame, sequences: list[Sequence], batch_size: int | None = None,
                      on_learned: Callable[[int], None] | None = None) -> Iterator[list[Detection]]:
        """Judge ``sequences`` in arrival order, one batch at a time; with the AEM on, learn after each.

        ``on_learned(n)`` is called after each batch that taught the models ``n > 0`` sequences
        (before the batch is yielded), e.g. to save a checkpoint."""
        size = batch_size or self.config.aem.batch_size
        featurizer = self._featurizer()
        for begin in range(0, len(sequences), size):
            batch = sequences[begin:begin + size]
            features = featurizer.transform(log, batch)
            judged = self._judge(batch, features, message_levels(log, batch, features.messages))
            if self.config.aem.enabled:
                learned = self.learn(features, judged.detections, judged.messages)
                if learned and on_learned is not None:
                    on_learned(learned)
            yield judged.detections

    # -- adaptive evolve mechanism --------------------------------------------------------------
    def learn(self, features: SequenceFeatures, detections: list[Detection],
              messages: dict[str, MessageVerdict] | None = None) -> int:
        """Feed the LLM's verdicts of a batch back into both models; returns how many sequences were learned.

        Fallback verdicts (the small model's own) are not learned: only what the LLM judged.
        ``messages``: what the LLM said of the batch's new messages; confirmed rewordings become
        aliases of the messages they reword, new routine events leave message patterns.
        """
        said = messages or {}
        self.prevalence_.add(features.messages)
        reads = [self._read_as(m, a, said) for m, a in zip(features.messages, features.aligned)]
        self.key_prevalence_.add([[_text(pattern_key(r, self.pattern_by_set_))] for r in reads])
        self.vanished_.add(reads)
        for m, v in said.items():
            self.messages_[m] = v
            if v.rewords is not None and self.aligner_ is not None:
                self.aligner_.alias(m, v.rewords)
        self.refresh_routine()
        idx = [i for i, d in enumerate(detections)
               if d.route is Route.LLM and d.branch not in (Branch.FALLBACK, Branch.NOT_JUDGED, Branch.HELD_BACK)]
        if not idx:
            return 0
        aem = self.config.aem
        seed = self.config.seed + 1000 + self.learned_batches_
        rng = np.random.default_rng(seed)
        x = features.vectors[idx]
        y = np.array([detections[i].verdict for i in idx], dtype=np.int8)
        ids = [f"llm:{detections[i].sequence_id}" for i in idx]
        replay = self.replay_[rng.choice(len(self.replay_), size=min(aem.replay, len(self.replay_)), replace=False)]
        self.coordinator_.learn(x, replay, epochs=aem.coordinator_epochs, seed=seed)
        self.small_model_.learn(x, y, ids, replay=aem.replay, epochs=aem.small_model_epochs, seed=seed)
        self.history_.add(ids, y.tolist(), [features.messages[i] for i in idx])
        self.relations_ += [(detections[i].sequence_id, detections[i].evolved_from) for i in idx
                            if detections[i].evolved_from is not None]
        aligned = {i: self._read_as(features.messages[i], features.aligned[i], said) for i in idx}
        for i, sid in zip(idx, ids):
            # Under the whole pattern: only sequences that report the same share the verdict.
            self.patterns_.setdefault(pattern_key(aligned[i], self.pattern_by_set_), (detections[i].verdict, sid))
        if self.novelty_ is not None:
            # A sequence the LLM read as an evolved version of a normal history pattern makes its
            # messages familiar. A sequence-level "normal" does not: rare lines are the only
            # failure evidence there is without labels, and one wrong answer must not erase it.
            self.novelty_.clear([m for i in idx if detections[i].verdict == 0
                                 and detections[i].branch is Branch.EVOL_DETECT for m in aligned[i]])
        if self.aligner_ is not None:
            # New events the LLM has now judged become known messages; reworded ones stay read as
            # the known message they align to.
            new = list(dict.fromkeys(line for i in idx for line, name in zip(features.messages[i], aligned[i])
                                     if line == name and not self.aligner_.knows(line)))
            vectors = self._message_vectors(new)
            self.aligner_.add(new, np.stack([vectors[m] for m in new]) if new else np.zeros((0, x.shape[1]), np.float32))
        self.learned_batches_ += 1
        return len(idx)
