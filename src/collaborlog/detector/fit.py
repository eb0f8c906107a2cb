"""Fitting: every learned component of a detector from the history.

The labels decide the mode (:func:`collaborlog.detector.config.choose_mode`): fully labelled,
some labelled failures, or none (the history is then taken as mostly normal and novelty is the
small model's verdict). Then the small model and the coordinator, the labelled history the LLM
is shown, failure signatures, message alignment, the pattern memory, and the base rates the
"failures are rare" guards start from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from collaborlog.data.levels import message_levels
from collaborlog.detector.config import Mode, choose_mode
from collaborlog.features.featurizer import fit_history
from collaborlog.memory.history import History
from collaborlog.memory.novelty import Novelty
from collaborlog.memory.patterns import largest_failure_pattern, pattern_key, set_keys_are_pure, single_label_patterns
from collaborlog.memory.prevalence import Prevalence
from collaborlog.memory.signatures import FailureSignatures
from collaborlog.memory.vanished import Vanished
from collaborlog.models.coordinator import Coordinator
from collaborlog.models.small_model import SmallModel
from collaborlog.parsing.templates import TemplateMiner
from collaborlog.records import LogFrame, Sequence

if TYPE_CHECKING:
    from collaborlog.detector.facade import CollaborLog


def fit(det: CollaborLog, log: LogFrame, train: list[Sequence], valid: list[Sequence]) -> None:
    """Learn every component of ``det`` from the history: ``train`` (labels read) and ``valid`` (k, tau)."""
    det.miner_ = TemplateMiner(det.config.parser)
    det.aligner_ = None
    history = fit_history(det.featurizer(), log, train, valid, det.config.align_threshold)
    tr, va = history.train, history.valid
    given = np.array([s.label for s in train], dtype=np.int8)
    det.mode_, det.mode_reason_ = choose_mode(given)
    y_train, y_valid = given, np.array([s.label for s in valid], dtype=np.int8)
    if det.mode_ is not Mode.SUPERVISED:
        # The history is taken as mostly normal: what no label calls a failure is normal.
        y_train, y_valid = np.maximum(y_train, 0), np.maximum(y_valid, 0)
    labelled = y_train >= 0
    ids = [s.id for s in train]
    det.small_model_ = SmallModel(det.config.small_model.model_copy(update={"seed": det.config.seed})).fit(
        tr.vectors, y_train, ids, va.vectors, y_valid)
    det.coordinator_ = Coordinator(det.config.coordinator.model_copy(update={"seed": det.config.seed})).fit(
        tr.vectors, va.vectors)
    det.history_ = History()
    det.history_.add([i for i, k in zip(ids, labelled) if k], y_train[labelled].tolist(),
                      [m for m, k in zip(tr.messages, labelled) if k])
    det.replay_ = tr.vectors[labelled]
    history_messages = [m for m, k in zip(tr.messages, labelled) if k]
    det.signatures_ = FailureSignatures(det.config.signature_threshold, det.config.signature_strong).fit(
        history_messages, y_train[labelled], det.message_vectors([line for m in history_messages for line in m]))
    det.aligner_ = history.aligner
    key = det.config.pattern_key
    det.pattern_by_set_ = key == "set" or (key == "auto" and set_keys_are_pure(tr.messages, y_train))
    det.messages_ = {}
    det.routine_ = set()
    # Failures' base rate: the labels' where they show failures, else the expected contamination.
    rate = float((given[given >= 0] == 1).mean()) if det.mode_ is not Mode.LABEL_FREE else det.config.contamination
    factor = det.config.common_message_factor
    det.prevalence_ = Prevalence(min(1.0, factor * rate) if factor is not None and rate > 0 else 1.0)
    # One failure pattern's base rate: the largest share of the labelled history any single
    # failure pattern holds (the upper end of its 95% Wilson interval), else the contamination.
    pattern_rate = rate if det.mode_ is Mode.LABEL_FREE else largest_failure_pattern(
        [pattern_key(m, det.pattern_by_set_) for m, g in zip(tr.messages, given) if g >= 0], given[given >= 0])
    det.key_prevalence_ = Prevalence(min(1.0, factor * pattern_rate) if factor is not None and pattern_rate > 0
                                      else 1.0)
    pattern_labels = y_train
    det.novelty_ = None
    if det.mode_ is not Mode.SUPERVISED:
        train_losses = det.coordinator_.score(tr.vectors)
        det.novelty_ = Novelty(det.config.contamination).fit(
            [m for m, g in zip(tr.messages, given) if g != 1], train_losses, det.coordinator_.valid_losses_)
        notice = det.novelty_.floor_notice()
        if notice is not None:
            det.mode_reason_ += f"; {notice}"
        # Only what looks normal (or is labelled) makes a known pattern: the unlabelled history
        # holds failures too, and a rare pattern of it must not vouch for new sequences.
        novel = det.novelty_.score(tr.messages, train_losses).novel
        trusted = (given == 1) | ((given == 0) & (det.mode_ is Mode.SEMI_SUPERVISED)) | ~novel
        pattern_labels = np.where(trusted, y_train, -1).astype(np.int8)
    det.held_ = {}
    det.patterns_ = single_label_patterns([det.pattern_of(m) for m in tr.messages], pattern_labels, ids)
    det.vanished_ = Vanished(det.config.vanish_evidence).fit(tr.messages, message_levels(log, train, tr.messages))
    det.learned_batches_ = 0
