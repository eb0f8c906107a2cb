"""From log lines to what the models read: template sequences and sequence embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collaborlog.features.alignment import MessageAligner
from collaborlog.features.embeddings import EmbeddingCache, embed_lines, embed_messages
from collaborlog.features.encoders import Encoder
from collaborlog.gc_pause import gc_paused
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
        used, contents = _used_lines(log, sequences)
        parsed = self.miner.parse(contents, learn=learn)
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
        # Not while the encoder runs (above): a long fit must not hold back what the collector frees.
        with gc_paused():
            return SequenceFeatures(
                vectors=lines.of_sequences(sequences),
                templates=_per_sequence_array(line_template, position, sequences),
                messages=_per_sequence(parsed.messages, line_message, sequences),
                aligned=_per_sequence(names, line_message, sequences),
            )

    def read(self, log: LogFrame, sequences: list[Sequence]) -> tuple[list[list[str]], list[list[str]]]:
        """Each of ``sequences``' masked messages and the known messages they align to, as
        :meth:`transform` reads them, with nothing mined or learned and no sequence embedded
        (what the stream statistics count ahead of the batches)."""
        used, contents = _used_lines(log, sequences)
        index, messages = self.miner.masked(contents)
        line_message = np.zeros(len(log), dtype=np.int64)
        line_message[used] = index
        names = messages
        if self.aligner is not None:
            names = self.aligner.align(messages, embed_messages(messages, self.encoder, self.cache)).names
        return _per_sequence(messages, line_message, sequences), _per_sequence(names, line_message, sequences)


def _used_lines(log: LogFrame, sequences: list[Sequence]) -> tuple[np.ndarray, list[str]]:
    """The lines any of ``sequences`` holds, in order, and their content."""
    covered = np.zeros(len(log), dtype=bool)
    if sequences:
        covered[np.concatenate([s.lines for s in sequences])] = True
    used = np.flatnonzero(covered)
    # Sequences that cover every line (sessions of a whole log) need no copy of its content.
    return used, log.content if used.size == len(log) else list(map(log.content.__getitem__, used.tolist()))


def _per_sequence_array(values: np.ndarray, position: np.ndarray, sequences: list[Sequence]) -> list[np.ndarray]:
    """Each sequence's lines as ``values[position[line]]``, in order (one gather for them all)."""
    if not sequences:
        return []
    every = values[position[np.concatenate([s.lines for s in sequences])]]
    return np.split(every, np.cumsum([s.lines.size for s in sequences])[:-1])


def _per_sequence(names: list[str], line_message: np.ndarray, sequences: list[Sequence]) -> list[list[str]]:
    """Each sequence's lines as ``names[line_message[line]]``, in order (one gather for them all)."""
    if not sequences:
        return []
    every = np.concatenate([s.lines for s in sequences])
    flat = np.asarray(names, dtype=object)[line_message[every]].tolist()
    ends = np.cumsum([s.lines.size for s in sequences]).tolist()
    return [flat[begin:end] for begin, end in zip([0, *ends[:-1]], ends)]


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
