"""From log lines to what the models read: template sequences and sequence embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collaborlog.features.alignment import MessageAligner
from collaborlog.features.embeddings import EmbeddingCache, embed_lines, embed_messages
from collaborlog.features.encoders import Encoder
from collaborlog.parsing.templates import TemplateMiner
from collaborlog.records import LogFrame, Sequence


@dataclass
class SequenceFeatures:
    """Per sequence: its embedding (mean of line vectors) and its lines' template ids in order."""

    vectors: np.ndarray
    templates: list[np.ndarray]
    messages: list[list[str]]
    """Each sequence's masked messages, in order (what the LLM stage shows)."""
    aligned: list[list[str]]
    """The same lines read as the known messages they align to (see :mod:`collaborlog.features.alignment`);
    equal to ``messages`` without an aligner."""


class Featurizer:
    """Masks, mines and embeds lines; each distinct masked message is embedded once (cached)."""

    def __init__(self, miner: TemplateMiner, encoder: Encoder, cache: EmbeddingCache,
                 aligner: MessageAligner | None = None) -> None:
        self.miner = miner
        self.encoder = encoder
        self.cache = cache
        self.aligner = aligner

    def transform(self, log: LogFrame, sequences: list[Sequence], learn: bool = True) -> SequenceFeatures:
        """Features of ``sequences`` cut from ``log``; ``learn`` lets Drain add templates for new messages."""
        used = np.unique(np.concatenate([s.lines for s in sequences])) if sequences else np.zeros(0, np.int64)
        parsed = self.miner.parse([log.content[i] for i in used], learn=learn)
        position = np.full(len(log), -1, dtype=np.int64)
        position[used] = np.arange(used.size)
        line_message = np.full(len(log), 0, dtype=np.int64)
        line_message[used] = parsed.message_index
        lines = embed_lines(line_message, parsed.messages, self.encoder, self.cache)
        names = parsed.messages
        if self.aligner is not None:
            aligned = self.aligner.align(parsed.messages, lines.message_vectors)
            lines.message_vectors, names = aligned.vectors, aligned.names
        line_template = parsed.line_templates()
        return SequenceFeatures(
            vectors=lines.of_sequences(sequences),
            templates=[line_template[position[s.lines]] for s in sequences],
            messages=[[parsed.messages[j] for j in line_message[s.lines]] for s in sequences],
            aligned=[[names[j] for j in line_message[s.lines]] for s in sequences],
        )


@dataclass
class HistoryFeatures:
    """The history's features as a detector is fitted on them, and the aligner fitted on its messages."""

    train: SequenceFeatures
    valid: SequenceFeatures
    aligner: MessageAligner | None


def fit_history(featurizer: Featurizer, log: LogFrame, train: list[Sequence], valid: list[Sequence],
                align_threshold: float | None) -> HistoryFeatures:
    """Mine and embed the history (in time order, as a stream would see it), then fit the aligner on
    its distinct messages (``None`` turns alignment off) and set it on ``featurizer``: what it reads
    from then on is read as the history's messages. The one way both ``collaborlog fit``/``run``
    and the fast-path evaluation featurize."""
    tr = featurizer.transform(log, train)
    va = featurizer.transform(log, valid)
    aligner = None
    if align_threshold is not None:
        known = list(dict.fromkeys(line for m in tr.messages + va.messages for line in m))
        aligner = MessageAligner(align_threshold).fit(known, embed_messages(known, featurizer.encoder, featurizer.cache))
    featurizer.aligner = aligner
    return HistoryFeatures(tr, va, aligner)
