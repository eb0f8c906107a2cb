"""The detector's settings (:class:`DetectorConfig`, every one settable from an experiment YAML)
and the mode the history's labels allow (:class:`Mode`)."""

from __future__ import annotations

from enum import Enum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from collaborlog.data.config import ParserConfig
from collaborlog.features.encoders import EncoderConfig
from collaborlog.llm.backends import LLMConfig
from collaborlog.llm.governor import GovernorConfig
from collaborlog.models.coordinator import CoordinatorConfig
from collaborlog.models.small_model import SmallModelConfig


class AEMConfig(BaseModel):
    """The adaptive evolve mechanism: how LLM verdicts are fed back after each batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    batch_size: int = Field(default=25, gt=0)
    """Sequences per stream batch; the models learn after each batch that holds an LLM verdict.
    Until a batch is learned every unfamiliar sequence in it goes to the LLM, so a smaller batch
    sends fewer (measured in docs/results.md); a batch without an LLM verdict costs no learning."""
    lookahead: bool = True
    """Whether how common each message is counts the whole input at hand (a file being scored),
    not only the batches judged so far (and, without labels, so does drift): without learning a
    batch's verdicts then do not depend on where in the input it sits. ``False``: strictly online, each verdict from what came before it (as when
    following a live log)."""
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
    ``None`` turns alignment off. See :mod:`collaborlog.features.alignment`."""
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
    this keeps them to plausible ones (see :mod:`collaborlog.memory.rewording`)."""
    signature_strong: float | None = Field(default=0.9, gt=0, le=1)
    """A line at least this close to a failure-only message is a failure signal whatever else it
    resembles (``None`` turns this off)."""
    vanish_evidence: float | None = Field(default=5.0, gt=0)
    """A history message that none of the stream's sequences carries, although its history share
    says at least this many should have, was dropped by the new release (e.g. demoted to DEBUG):
    the history's patterns are then also read without it (see :mod:`collaborlog.memory.vanished`).
    ``None`` turns this off."""
    common_message_factor: float | None = Field(default=3.0, gt=0)
    """A new message that more of the stream's sequences carry than this many times the history's
    anomaly rate is no failure signal, whatever level the LLM gives it or whichever failure message
    it resembles, and a new event that common is routine: failures are rare, so a message most
    sequences carry cannot mark them. The share is the lower end of a 95% Wilson interval over the
    sequences seen so far (see :mod:`collaborlog.memory.prevalence`). ``None`` turns this off, as does a
    history without labelled anomalies (its anomaly rate is unknown)."""
    contamination: float = Field(default=0.05, gt=0, lt=0.5)
    """The expected share of failures when the history's labels do not say it: without labelled
    failures the history is taken as mostly normal (DeepLog's assumption) and a message fewer than
    this share of its sequences carry is rare (see :mod:`collaborlog.memory.novelty`); it is also the
    failure rate the "failures are rare" guard starts from."""
    blame_lines: int = Field(default=5, ge=0)
    """How many lines each anomalous detection names as most responsible (``Detection.blame``, see
    :mod:`collaborlog.detector.localise`); 0 names none."""
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
