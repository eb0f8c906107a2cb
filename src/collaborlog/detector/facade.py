"""CollaborLog as one object: the small model and the LLM working together, with the adaptive
evolve mechanism (AEM).

``fit`` learns templates, embeddings, the small model and the coordinator from the history
(:mod:`collaborlog.detector.fit`). ``detect`` routes each sequence: familiar ones get the small
model's verdict, evolved ones go to the Evol-CoT agents (:mod:`collaborlog.detector.judge`,
with the evidence of :mod:`collaborlog.detector.evidence`). ``detect_stream`` does the same in
arrival order, batch by batch, and after each batch feeds the LLM's verdicts back
(:mod:`collaborlog.detector.aem`). So the share sent to the LLM falls. Saved as a directory,
without pickle (:mod:`collaborlog.detector.persistence`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from copy import deepcopy
from pathlib import Path

import numpy as np

from collaborlog.data.levels import message_levels
from collaborlog.detector import aem, evidence, fit, judge, learning, localise, state
from collaborlog.detector.config import DetectorConfig, Mode
from collaborlog.detector.learning import LearningSummary
from collaborlog.errors import DataError, NotFittedError
from collaborlog.features.alignment import MessageAligner
from collaborlog.features.embeddings import EmbeddingCache, embed_messages
from collaborlog.features.encoders import Encoder, build_encoder
from collaborlog.features.featurizer import Featurizer, SequenceFeatures
from collaborlog.llm.agents import EvolCoT
from collaborlog.llm.audit import AuditLog
from collaborlog.llm.backends import LLMClient, LLMConfig, build_client
from collaborlog.llm.governor import Governor, ResponseCache
from collaborlog.llm.prompts import load_prompts
from collaborlog.memory.history import History
from collaborlog.memory.novelty import Novelty
from collaborlog.memory.patterns import pattern_key, reread
from collaborlog.memory.prevalence import Prevalence, Upcoming
from collaborlog.memory.signatures import FailureSignatures
from collaborlog.memory.vanished import Vanished
from collaborlog.models.coordinator import Coordinator
from collaborlog.models.small_model import SmallModel
from collaborlog.parsing.templates import TemplateMiner
from collaborlog.records import LogFrame, Sequence
from collaborlog.verdicts import Detection, Evidence, MessageVerdict


class CollaborLog:
    """The detector, with the estimator conventions of scikit-learn, pyod and river: ``fit``
    returns ``self``, learned state ends in ``_``, and an unfitted detector raises
    :class:`~collaborlog.errors.NotFittedError`.

    ``cache_dir``: where message embeddings and LLM answers are cached between runs (e.g.
    :func:`collaborlog.features.embeddings.default_cache_dir`); ``None`` keeps them in memory, so
    that nothing is written to disk.

    >>> detector = CollaborLog(DetectorConfig()).fit(log, train, valid)  # doctest: +SKIP
    >>> detections = detector.detect(new_log, new_sequences)  # doctest: +SKIP
    >>> CollaborLog().detect(None, [])
    Traceback (most recent call last):
    ...
    collaborlog.errors.NotFittedError: this CollaborLog detector is not fitted yet: call fit(log, train, valid) first, or load a saved one (collaborlog.load)
    """

    # What fit learns (see :mod:`collaborlog.detector.fit`), the AEM updates and persistence saves.
    mode_: Mode
    mode_reason_: str
    miner_: TemplateMiner
    aligner_: MessageAligner | None
    small_model_: SmallModel
    coordinator_: Coordinator
    history_: History
    replay_: np.ndarray
    signatures_: FailureSignatures
    pattern_by_set_: bool
    patterns_: dict[tuple[str, ...], tuple[int, str]]
    """Message pattern -> (label, the id of a sequence that carried it; ``llm:`` for the LLM's verdicts)."""
    held_: dict[tuple[str, ...], tuple[str, str]]
    """Whole message pattern -> (the memory id of the first sequence, why) for patterns whose
    abnormal LLM verdict a guard held back: their later members are reported held back, not asked again."""
    messages_: dict[str, MessageVerdict]
    routine_: set[str]
    prevalence_: Prevalence
    key_prevalence_: Prevalence
    """How many of the stream's sequences carry each whole pattern (for the base-rate guard)."""
    novelty_: Novelty | None
    vanished_: Vanished
    learned_batches_: int

    def __init__(self, config: DetectorConfig = DetectorConfig(), encoder: Encoder | None = None,
                 llm: LLMClient | None = None, cache_dir: Path | None = None) -> None:
        self.config = config
        self.cache_dir = cache_dir
        self._encoder = encoder
        self._llm = llm
        self._featurizer: Featurizer | None = None
        self._agents: EvolCoT | None = None
        self._reread: tuple[set[str], dict[tuple[str, ...], tuple[int, str]]] | None = None

    # -- components built on demand (not state) -------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = build_encoder(self.config.encoder)
        return self._encoder

    def featurizer(self) -> Featurizer:
        """The featurizer over the current template miner and aligner (built once per miner: the
        embedding cache file is read when it is built)."""
        if self._featurizer is None or self._featurizer.miner is not self.miner_:
            self._featurizer = Featurizer(self.miner_, self.encoder, EmbeddingCache(self.encoder.identity, self.cache_dir))
        self._featurizer.aligner = self.aligner_
        return self._featurizer

    def message_vectors(self, messages: list[str]) -> dict[str, np.ndarray]:
        """Each distinct message's embedding."""
        unique = list(dict.fromkeys(messages))
        if not unique:
            return {}
        featurizer = self.featurizer()
        return dict(zip(unique, embed_messages(unique, featurizer.encoder, featurizer.cache)))

    def agents(self) -> EvolCoT:
        """The Evol-CoT agents over the configured LLM (built on first use)."""
        if self._agents is None:
            client = self._llm if self._llm is not None else build_client(self.config.llm)
            cache = (ResponseCache(self.cache_dir / "llm.sqlite")
                     if self.config.governor.cache and self.cache_dir is not None else None)
            audit = AuditLog(Path(self.config.llm.audit)) if self.config.llm.audit else None
            self._agents = EvolCoT(Governor(client, self.config.governor, cache, audit),
                                   load_prompts(Path(self.config.prompts_dir) if self.config.prompts_dir else None),
                                   self.config.llm, contrast=self.config.evol_contrast)
        return self._agents

    @property
    def governor(self) -> Governor:
        return self.agents().governor

    @property
    def llm_enabled(self) -> bool:
        """Whether routed sequences are judged by an LLM (``llm.backend: none`` leaves them unjudged)."""
        return self._llm is not None or self.config.llm.backend != "none"

    def use_llm(self, llm: LLMConfig | LLMClient) -> CollaborLog:
        """Judge with another LLM from now on (a backend configuration or a client), without refitting."""
        if isinstance(llm, LLMConfig):
            self.config = self.config.model_copy(update={"llm": llm})
            self._llm = None
        else:
            self._llm = llm
        self._agents = None
        return self

    def record_exchanges(self, audit: Path | None) -> CollaborLog:
        """Record every LLM exchange in the SQLite file ``audit`` from now on (``None``: nowhere),
        keeping the LLM backend or client in use."""
        self.config = self.config.model_copy(update={"llm": self.config.llm.model_copy(
            update={"audit": str(audit) if audit is not None else None})})
        self._agents = None
        return self

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, log: LogFrame, train: list[Sequence], valid: list[Sequence]) -> CollaborLog:
        """Learn from the history: ``train`` (its labels, where it has them) and ``valid`` (k and tau)."""
        self._reread = None
        fit.fit(self, log, train, valid)
        return self

    @property
    def fitted(self) -> bool:
        return hasattr(self, "learned_batches_")

    def check_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError("this CollaborLog detector is not fitted yet: call fit(log, train, valid) first, "
                                 "or load a saved one (collaborlog.load)")

    # -- state: what persistence saves -----------------------------------------------------------
    def state_dict(self) -> dict[str, dict | None]:
        """Every learned component's state by name (see :mod:`collaborlog.detector.state`)."""
        self.check_fitted()
        return state.state_dict(self)

    @classmethod
    def from_state(cls, config: DetectorConfig, saved: dict[str, dict | None], encoder: Encoder | None = None,
                   llm: LLMClient | None = None, cache_dir: Path | None = None) -> CollaborLog:
        """The detector :meth:`state_dict` describes; a part that does not fit is a :class:`~collaborlog.detector.state.StateError`."""
        det = cls(config, encoder, llm, cache_dir)
        state.restore(det, saved)
        return det

    def copy(self) -> CollaborLog:
        """An independent copy of the fitted detector: its learned state is copied; the encoder,
        the LLM client and the cache folder are shared."""
        return CollaborLog.from_state(self.config, deepcopy(self.state_dict()), encoder=self.encoder, llm=self._llm,
                                      cache_dir=self.cache_dir)

    # -- the pattern memory ---------------------------------------------------------------------
    def pattern_of(self, aligned: list[str], routine: set[str] | None = None) -> tuple[str, ...]:
        """The pattern of a sequence's aligned messages; new routine events do not count."""
        skip = self.routine_ | routine if routine else self.routine_
        return pattern_key([m for m in aligned if m not in skip] if skip else aligned, self.pattern_by_set_)

    def refresh_routine(self) -> None:
        """Derive ``routine_`` (kept because pattern keys read it for every sequence) from the
        message verdicts and the stream counts. Read again after each batch: a message judged a
        problem may since have proved too common to mark failures."""
        trusted = self.novelty_ is None or self.novelty_.drifted(self.prevalence_.bound)
        self.routine_ = {m for m, v in self.messages_.items() if judge.is_routine(v, self.prevalence_, trusted)}

    def dropped(self) -> set[str]:
        """History messages the stream so far has stopped writing (see :mod:`collaborlog.memory.vanished`)."""
        return judge.dropped(self, self.vanished_)

    def reread(self, dropped: set[str]) -> dict[tuple[str, ...], tuple[int, str]]:
        """The labelled history's patterns read without ``dropped`` messages (see
        :func:`collaborlog.memory.patterns.reread`), kept while ``dropped`` stays the same."""
        if not dropped:
            return {}
        if self._reread is None or self._reread[0] != dropped:
            self._reread = (set(dropped), reread(self.history_, self.patterns_, dropped, self.pattern_by_set_))
        return self._reread[1]

    # -- detection ------------------------------------------------------------------------------
    def features(self, log: LogFrame, sequences: list[Sequence]) -> SequenceFeatures:
        """Embeddings, template ids and masked messages of ``sequences`` (new templates are matched, not learned)."""
        self.check_fitted()
        return self.featurizer().transform(log, sequences, learn=False)

    def evidence(self, features: SequenceFeatures) -> list[Evidence]:
        """What the LLM would be shown for each sequence: neighbours and contrast from the history."""
        self.check_fitted()
        return evidence.build(self, features, self.small_model_.predict(features.vectors),
                              np.arange(len(features.vectors)), self.prevalence_.plus(features.messages))

    def detect(self, log: LogFrame, sequences: list[Sequence]) -> list[Detection]:
        """Verdicts for ``sequences`` (lines of ``log``). Changes nothing: no template, message or
        verdict is learned (see :meth:`learn`), and nothing is written but to ``cache_dir``. Each
        anomalous detection names the lines most responsible (:mod:`collaborlog.detector.localise`)."""
        features = self.features(log, sequences)
        detections = judge.judge(self, sequences, features, message_levels(log, sequences, features.messages)).detections
        return localise.blame(self, log, sequences, features, detections)

    def score(self, log: LogFrame, sequences: list[Sequence]) -> np.ndarray:
        """One anomaly score per sequence, higher = more anomalous: :attr:`Detection.anomaly_score`,
        in [0, 2), at least 1 exactly for the sequences :meth:`detect` calls anomalous."""
        return np.array([d.anomaly_score for d in self.detect(log, sequences)], dtype=np.float64)

    def detect_stream(self, log: LogFrame, sequences: list[Sequence], batch_size: int | None = None,
                      on_learned: Callable[[int], object] | None = None,
                      learn: bool | None = None, lookahead: bool | None = None) -> Iterator[list[Detection]]:
        """Judge ``sequences`` in arrival order, one batch at a time; with ``learn`` (default: the
        AEM's ``enabled``), learn after each batch. With ``lookahead`` (default: the AEM's
        ``lookahead``), how common each message is counts all of ``sequences``, not only those
        judged so far, and so (without labels) does whether the stream has drifted: without
        learning a verdict then depends neither on where its batch sits nor on the batch size (with
        it, on what the batches before taught the models; see
        :class:`collaborlog.memory.prevalence.Upcoming`).

        ``on_learned(n)`` is called after each batch that taught the models ``n > 0`` sequences
        (before the batch is yielded), e.g. to save a checkpoint."""
        self.check_fitted()
        size = batch_size or self.config.aem.batch_size
        learning = self.config.aem.enabled if learn is None else learn
        ahead = self.config.aem.lookahead if lookahead is None else lookahead
        upcoming = None
        if ahead and len(sequences) > size:
            upcoming = self.read_ahead(log, sequences, observed=learning)
        for begin in range(0, len(sequences), size):
            batch = sequences[begin:begin + size]
            if upcoming is not None:
                upcoming.pop(len(batch))
            features = self.featurizer().transform(log, batch, learn=learning)
            judged = judge.judge(self, batch, features, message_levels(log, batch, features.messages), upcoming)
            # Named before the AEM learns: the lines are blamed by what judged them.
            detections = localise.blame(self, log, batch, features, judged.detections)
            if learning:
                learned = aem.learn(self, features, judged.detections, judged.messages)
                if learned and on_learned is not None:
                    on_learned(learned)
            yield detections

    def read_ahead(self, log: LogFrame, sequences: list[Sequence], observed: bool = True) -> Upcoming:
        """``sequences`` read ahead of the batches that judge them (see :class:`Upcoming`): their
        messages and, without labels (where drift is read on the whole input), their coordinator
        losses as the detector stands. ``observed``: whether the detector learns each batch."""
        if self.novelty_ is None:
            return Upcoming(*self.featurizer().read(log, sequences), observed=observed)
        ahead = self.featurizer().transform(log, sequences, learn=False)
        return Upcoming(ahead.messages, ahead.aligned, self.coordinator_.score(ahead.vectors), observed=observed)

    def judge_features(self, sequences: list[Sequence], features: SequenceFeatures,
                       levels: dict[str, str] | None = None,
                       upcoming: Upcoming | None = None) -> tuple[list[Detection], dict[str, MessageVerdict]]:
        """Verdicts for ``sequences`` whose ``features`` were computed elsewhere (by workers, see
        :mod:`collaborlog.scale`), and what the LLM said of their new messages (for
        :meth:`learn_judged`); ``upcoming``: the rest of the input, read ahead. Changes nothing,
        like :meth:`detect`. Names no blamed lines: the log's lines are not at hand here (see
        :mod:`collaborlog.detector.localise`)."""
        self.check_fitted()
        judged = judge.judge(self, sequences, features, levels, upcoming)
        return judged.detections, judged.messages

    def learn_judged(self, features: SequenceFeatures, detections: list[Detection],
                     messages: dict[str, MessageVerdict]) -> int:
        """The AEM on one batch judged by :meth:`judge_features`; returns how many sequences it learned."""
        self.check_fitted()
        return aem.learn(self, features, detections, messages)

    def correct(self, log: LogFrame, sequences: list[Sequence], labels: list[int]) -> LearningSummary:
        """Learn an operator's true ``labels`` (1 anomalous, 0 normal) of ``sequences`` (lines of
        ``log``), as the AEM learns the LLM's verdicts; a correction outranks the LLM's verdict
        and the history's label on the same message pattern (see :attr:`MemorySource.rank`).

        >>> summary = detector.correct(log, [blk_123], [0])  # doctest: +SKIP
        >>> summary.patterns_changed  # doctest: +SKIP
        1
        """
        self.check_fitted()
        if len(labels) != len(sequences):
            raise DataError(f"{len(sequences)} sequences but {len(labels)} labels: give one label per sequence")
        wrong = [(s.id, label) for s, label in zip(sequences, labels) if label not in (0, 1)]
        if wrong:
            raise DataError(f"a correction's label is 1 (anomalous) or 0 (normal); got {wrong[:3]}")
        twice = [sid for sid, n in Counter(s.id for s in sequences).items() if n > 1]
        if twice:
            raise DataError(f"sequence {twice[0]!r} is corrected twice: give each sequence one label")
        before = learning.snapshot(self)
        features = self.featurizer().transform(log, sequences, learn=True)
        aem.correct(self, features, [s.id for s in sequences], [int(label) for label in labels])
        self._reread = None  # the history's patterns may carry an operator's label now
        return learning.summarize(before, self, len(sequences))

    def learn(self, log: LogFrame, sequences: list[Sequence]) -> CollaborLog:
        """Judge ``sequences`` as one stream batch and learn from what the LLM said of them (the AEM)."""
        for _ in self.detect_stream(log, sequences, batch_size=max(len(sequences), 1), learn=True):
            pass
        return self
