"""Line and sequence embeddings with a persistent per-message cache.

Each distinct masked message is embedded once per encoder and kept on disk; a sequence's
vector is the mean of its lines' vectors.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import time
import zipfile
from pathlib import Path

import numpy as np
from scipy import sparse

from collaborlog.atomic import TMP_MARK, atomic_write_bytes, locked
from collaborlog.features.encoders import Encoder
from collaborlog.progress import stage
from collaborlog.records import Sequence

log = logging.getLogger(__name__)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def default_cache_dir() -> Path:
    """``$COLLABORLOG_CACHE_DIR``, else ``~/.cache/collaborlog``."""
    env = os.environ.get("COLLABORLOG_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "collaborlog"


class EmbeddingCache:
    """Message text -> vector for one encoder, persisted as one ``.npz``, safe to share between processes.

    ``directory=None`` keeps the cache in memory only. A damaged file is moved aside (with a
    warning) and rebuilt.
    """

    def __init__(self, identity: str, directory: Path | None = None) -> None:
        self.identity = identity
        slug = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.path = Path(directory) / f"embeddings-{slug}.npz" if directory is not None else None
        self._rows: dict[str, int] = {}
        self._vectors: list[np.ndarray] = []
        self._dirty = False
        if self.path is not None and self.path.is_file():
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        with locked(self.path.parent, shared=True):  # no writer replaces the file meanwhile
            keys, vectors = self._read()
        self._rows = {str(k): i for i, k in enumerate(keys)}
        self._vectors = list(vectors)

    def _read(self) -> tuple[np.ndarray, np.ndarray]:
        """The keys and vectors the file holds for this encoder (none if it is absent, for
        another encoder, or damaged; a damaged file is moved aside, to be rebuilt). The caller
        holds the folder's lock."""
        assert self.path is not None
        empty = (np.zeros(0, dtype="<U64"), np.zeros((0, 0), np.float32))
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors, identity = data["keys"], data["vectors"], str(data["identity"])
        except FileNotFoundError:
            return empty
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
            # Another process may have moved it aside, or replaced it, first: then there is nothing to move.
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path, aside)
            log.warning("the embedding cache %s is damaged (%s: %s); moved it to %s and rebuilding it",
                        self.path, type(err).__name__, err, aside)
            return empty
        if identity != self.identity or len(keys) != len(vectors) or vectors.ndim != 2:
            return empty
        return keys, vectors

    def __len__(self) -> int:
        return len(self._rows)

    def get_many(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        """Row numbers of cached texts (-1 where missing) and the positions of the missing ones."""
        rows = np.array([self._rows.get(_key(t), -1) for t in texts], dtype=np.int64)
        return rows, [i for i, r in enumerate(rows) if r < 0]

    def put_many(self, texts: list[str], vectors: np.ndarray) -> None:
        for text, vec in zip(texts, vectors):
            key = _key(text)
            if key not in self._rows:
                self._rows[key] = len(self._vectors)
                self._vectors.append(np.asarray(vec, dtype=np.float32))
                self._dirty = True

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        return np.stack([self._vectors[r] for r in rows]) if len(rows) else np.zeros((0, 0), np.float32)

    def save(self) -> None:
        """Merge this cache into its file. Processes sharing the file take turns (``flock`` on its
        folder), each adding what the others wrote, and replace it whole: none loses entries, and
        a reader never sees a half-written file."""
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.path.parent):
            # Writers hold this lock throughout, so a temporary file here is a killed writer's.
            for stale in self.path.parent.glob(f".{self.path.name}{TMP_MARK}*"):
                stale.unlink(missing_ok=True)
            keys, vectors = self._read()
            for key, vec in zip(keys, vectors):
                if str(key) not in self._rows:
                    self._rows[str(key)] = len(self._vectors)
                    self._vectors.append(vec)
            ordered = np.array(sorted(self._rows, key=self._rows.__getitem__), dtype="<U64")
            buffer = io.BytesIO()
            np.savez(buffer, keys=ordered, vectors=np.stack(self._vectors), identity=np.array(self.identity))
            atomic_write_bytes(self.path, buffer.getvalue())
        self._dirty = False


def embed_messages(messages: list[str], encoder: Encoder, cache: EmbeddingCache) -> np.ndarray:
    """Vectors for ``messages`` (one row each), encoding only those the cache lacks."""
    _, missing = cache.get_many(messages)
    if missing:
        texts = [messages[i] for i in missing]
        log.info("embedding %d new message(s) of %d", len(texts), len(messages))
        with stage("embedding messages", len(texts)) as advance:
            # In slices, so that progress moves; the encoder batches within each.
            step = 1024
            for begin in range(0, len(texts), step):
                part = texts[begin:begin + step]
                cache.put_many(part, encoder.encode(part))
                advance(len(part))
        cache.save()
    rows, still = cache.get_many(messages)
    assert not still
    return cache.vectors(rows)


def sequence_matrix(sequences: list[Sequence], line_message: np.ndarray, n_messages: int) -> sparse.csr_matrix:
    """Row *i* holds sequence *i*'s share of each message (rows sum to 1)."""
    lengths = np.fromiter((s.lines.size for s in sequences), dtype=np.int64, count=len(sequences))
    indptr = np.zeros(len(sequences) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(lengths)
    cols = line_message[np.concatenate([s.lines for s in sequences])] if sequences else np.zeros(0, np.int64)
    weights = np.repeat(1.0 / np.maximum(lengths, 1), lengths)
    m = sparse.csr_matrix((weights, cols, indptr), shape=(len(sequences), n_messages))
    m.sum_duplicates()
    return m


def sequence_embeddings(sequences: list[Sequence], line_message: np.ndarray, message_vectors: np.ndarray) -> np.ndarray:
    """The mean of each sequence's line vectors, as float32 rows."""
    m = sequence_matrix(sequences, line_message, message_vectors.shape[0])
    return np.asarray(m @ message_vectors, dtype=np.float32)


class LineEmbeddings:
    """Every line of a log as a row into ``message_vectors`` (one vector per distinct masked message)."""

    def __init__(self, line_message: np.ndarray, messages: list[str], message_vectors: np.ndarray) -> None:
        self.line_message = line_message
        self.messages = messages
        self.message_vectors = message_vectors

    def of_sequences(self, sequences: list[Sequence]) -> np.ndarray:
        return sequence_embeddings(sequences, self.line_message, self.message_vectors)


def embed_lines(masked_index: np.ndarray, messages: list[str], encoder: Encoder, cache: EmbeddingCache) -> LineEmbeddings:
    """Embed each distinct masked message once; lines point at their message's vector."""
    return LineEmbeddings(masked_index, messages, embed_messages(messages, encoder, cache))
