"""The small model: a semantic network over sequence embeddings, then KNN over a labelled memory.

The network (hidden [128, 64, 32]) is trained with a supervised contrastive loss on
class-balanced batches, so that sequences with the same label lie close together even though
anomalies are rare. Its verdict is the vote of the ``k`` nearest memory sequences (cosine);
``k`` is chosen on the validation split. Certainty comes from the neighbours alone (do their
labels agree?), never from a label of the sequence being judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from torch.nn import functional as F

from collaborlog.models.metrics import f1_score
from collaborlog.models.mlp import mlp
from collaborlog.models.seeding import DEFAULT_THREADS, seeded
from collaborlog.models.training import train as train_network
from collaborlog.models.vector_index import FaissIndex
from collaborlog.progress import stage
from collaborlog.verdicts import MemorySource, Neighbour

_PROJECT_BATCH = 65_536


class SmallModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden: tuple[int, ...] = (128, 64, 32)
    epochs: int = Field(default=30, gt=0)
    batch_size: int = Field(default=256, gt=1)
    lr: float = Field(default=1e-3, gt=0)
    temperature: float = Field(default=0.1, gt=0)
    noise: float = Field(default=0.2, ge=0)
    """Gaussian input noise during training, as a share of the mean input norm: smooths the map so
    that a slightly reworded sequence lands near its original instead of off the learned manifold."""
    k_candidates: tuple[int, ...] = (1, 3, 5, 7, 9)
    k: int | None = None
    """Fixed ``k``; ``None`` picks the best of ``k_candidates`` on the validation split."""
    seed: int = 0
    threads: int = Field(default=DEFAULT_THREADS, gt=0)
    """torch threads while training: the same seed and thread count give the same model."""


@dataclass(frozen=True)
class SMPrediction:
    verdict: int
    score: float
    """Similarity-weighted share of anomalous neighbours; higher means more anomalous."""
    certain: bool
    """Whether all ``k`` neighbours carry the same label."""
    neighbours: tuple[Neighbour, ...]


@dataclass
class SMBatch:
    """Predictions for many sequences at once, as arrays; :meth:`__getitem__` gives one with evidence."""

    verdict: np.ndarray
    score: np.ndarray
    certain: np.ndarray
    rows: np.ndarray
    similarity: np.ndarray
    memory_ids: list[str]
    memory_labels: np.ndarray
    memory_sources: np.ndarray

    def __len__(self) -> int:
        return len(self.verdict)

    def __getitem__(self, i: int) -> SMPrediction:
        neighbours = tuple(
            Neighbour(self.memory_ids[r], int(self.memory_labels[r]), float(s), MemorySource(int(self.memory_sources[r])))
            for r, s in zip(self.rows[i], self.similarity[i]) if r >= 0
        )
        return SMPrediction(int(self.verdict[i]), float(self.score[i]), bool(self.certain[i]), neighbours)


class SemanticNet(nn.Module):
    def __init__(self, dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = mlp([dim, *hidden])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=1)


def supervised_contrastive_loss(z: torch.Tensor, y: torch.Tensor, temperature: float) -> torch.Tensor:
    """Khosla et al.'s SupCon loss over unit vectors ``z`` with labels ``y``."""
    logits = z @ z.T / temperature
    self_mask = torch.eye(len(z), dtype=torch.bool)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (y[:, None] == y[None, :]) & ~self_mask
    n_pos = positives.sum(dim=1)
    has = n_pos > 0
    if not has.any():
        return z.sum() * 0.0
    pos_log_prob = log_prob.masked_fill(~positives, 0.0).sum(dim=1)
    return -(pos_log_prob[has] / n_pos[has]).mean()


class SmallModel:
    """Semantic network + KNN memory.

    ``fit`` trains the network on labelled sequence embeddings and fills the memory;
    ``predict`` returns verdicts with their neighbours as evidence.
    """

    def __init__(self, config: SmallModelConfig = SmallModelConfig()) -> None:
        self.config = config

    # -- training ---------------------------------------------------------------------------
    def fit(self, x: np.ndarray, y: np.ndarray, ids: list[str],
            valid_x: np.ndarray | None = None, valid_y: np.ndarray | None = None) -> "SmallModel":
        keep = y >= 0
        x, y = x[keep], y[keep]
        ids = [i for i, k in zip(ids, keep) if k]
        with seeded(self.config.seed, self.config.threads) as gen:
            self.net_ = SemanticNet(x.shape[1], self.config.hidden)
            if len(np.unique(y)) > 1:
                # One class gives the contrastive loss nothing to separate (it would collapse the
                # map): the seeded initial network, a random projection, keeps neighbourhoods.
                self._train(x, y, self.config.epochs, gen)
        self.memory_inputs_ = np.asarray(x, dtype=np.float32)
        self.memory_labels_ = np.asarray(y, dtype=np.int8)
        self.memory_ids_ = list(ids)
        self.memory_sources_ = np.full(len(y), MemorySource.HISTORY, dtype=np.int8)
        self.rebuild_index()
        self.k_ = self.config.k or self._choose_k(valid_x, valid_y)
        return self

    def _train(self, x: np.ndarray, y: np.ndarray, epochs: int, gen: torch.Generator) -> None:
        cfg = self.config
        xt = torch.as_tensor(x, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.long)
        counts = torch.bincount(yt, minlength=2).clamp(min=1).float()
        # Class-balanced sampling: each class is drawn about equally often.
        weights = (1.0 / counts)[yt]
        steps = max(1, int(np.ceil(len(x) / cfg.batch_size)))
        sigma = cfg.noise * float(xt.norm(dim=1).mean()) / np.sqrt(xt.shape[1])

        def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for _ in range(steps):
                idx = torch.multinomial(weights, min(cfg.batch_size, len(x)), replacement=True, generator=gen)
                batch = xt[idx]
                if sigma > 0:
                    batch = batch + sigma * torch.randn(batch.shape, generator=gen)
                yield batch, yt[idx]

        def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            return supervised_contrastive_loss(self.net_(batch[0]), batch[1], cfg.temperature)

        with stage("training the small model (epochs)", epochs) as advance:
            def epoch_done() -> bool:
                advance(1)
                return False

            train_network(self.net_, cfg.lr, epochs, batches, loss, epoch_done)

    def project(self, x: np.ndarray) -> np.ndarray:
        """The semantic network's unit vectors for ``x``."""
        self.net_.eval()
        out = []
        with torch.no_grad():
            for begin in range(0, len(x), _PROJECT_BATCH):
                out.append(self.net_(torch.as_tensor(x[begin:begin + _PROJECT_BATCH], dtype=torch.float32)).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.config.hidden[-1]), np.float32)

    def rebuild_index(self) -> None:
        """Index the memory under the current network (after ``net_`` or the memory changed)."""
        self.index_ = FaissIndex(self.config.hidden[-1])
        self.index_.add(self.project(self.memory_inputs_))

    def _choose_k(self, valid_x: np.ndarray | None, valid_y: np.ndarray | None) -> int:
        cands = self.config.k_candidates
        default = min(cands, key=lambda k: abs(k - 5))
        if valid_x is None or valid_y is None or not (valid_y == 1).any():
            return default
        keep = valid_y >= 0
        self.k_scores_ = {}
        for k in cands:
            self.k_ = k
            self.k_scores_[k] = f1_score(valid_y[keep], self.predict(valid_x[keep]).verdict)
        best = max(self.k_scores_.values())
        return min((k for k, s in self.k_scores_.items() if s == best), key=lambda k: abs(k - 5))

    # -- inference --------------------------------------------------------------------------
    def predict(self, x: np.ndarray, k: int | None = None) -> SMBatch:
        """Verdicts (1 anomalous) by neighbour vote, with scores, certainty and evidence."""
        k = min(k or self.k_, len(self.memory_labels_))
        sims, rows = self.index_.search(self.project(x), k)
        labels = np.where(rows >= 0, self.memory_labels_[np.maximum(rows, 0)], -1)
        valid = labels >= 0
        n_valid = valid.sum(axis=1).clip(min=1)
        votes = (labels == 1).sum(axis=1)
        w = np.clip(sims, 0.0, None) * valid + 1e-6 * valid
        score = ((labels == 1) * w).sum(axis=1) / w.sum(axis=1).clip(min=1e-12)
        certain = ((labels == labels[:, :1]) | ~valid).all(axis=1)
        return SMBatch(
            verdict=(votes * 2 > n_valid).astype(np.int8), score=score.astype(np.float32), certain=certain,
            rows=rows, similarity=sims, memory_ids=self.memory_ids_, memory_labels=self.memory_labels_,
            memory_sources=self.memory_sources_,
        )

    def nearest_by_label(self, x: np.ndarray, depth: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Memory rows of the nearest normal and the nearest anomalous sequence (-1 if none within ``depth``)."""
        depth = min(depth, len(self.memory_labels_))
        _, rows = self.index_.search(self.project(x), depth)
        out = np.full((len(x), 2), -1, dtype=np.int64)
        for i, row in enumerate(rows):
            for r in row:
                if r < 0:
                    continue
                label = int(self.memory_labels_[r])
                if out[i, label] < 0:
                    out[i, label] = r
                if (out[i] >= 0).all():
                    break
        return out[:, 0], out[:, 1]

    # -- adaptive evolve mechanism ----------------------------------------------------------
    def learn(self, x: np.ndarray, y: np.ndarray, ids: list[str], replay: int = 1024,
              epochs: int = 5, seed: int = 0, source: MemorySource = MemorySource.LLM) -> None:
        """Add sequences labelled by ``source`` (the LLM, or an operator) to the memory and
        fine-tune the network on them with replay."""
        rng = np.random.default_rng(seed)
        n_hist = len(self.memory_labels_)
        pick = rng.choice(n_hist, size=min(replay, n_hist), replace=False) if n_hist else np.zeros(0, np.int64)
        self.memory_inputs_ = np.concatenate([self.memory_inputs_, np.asarray(x, np.float32)])
        self.memory_labels_ = np.concatenate([self.memory_labels_, np.asarray(y, np.int8)])
        self.memory_ids_ = self.memory_ids_ + list(ids)
        self.memory_sources_ = np.concatenate([self.memory_sources_, np.full(len(y), source, np.int8)])
        train_x = np.concatenate([x, self.memory_inputs_[pick]])
        train_y = np.concatenate([y, self.memory_labels_[pick]])
        if len(np.unique(train_y)) > 1:
            with seeded(seed, self.config.threads) as gen:
                self._train(train_x, train_y, epochs, gen)
        self.rebuild_index()

    def forget(self, ids: set[str]) -> int:
        """Drop the memory rows remembered under ``ids`` (labels a correction supersedes); how many."""
        keep = np.array([i not in ids for i in self.memory_ids_], dtype=bool)
        dropped = int((~keep).sum())
        if dropped:
            self.memory_inputs_, self.memory_labels_ = self.memory_inputs_[keep], self.memory_labels_[keep]
            self.memory_sources_ = self.memory_sources_[keep]
            self.memory_ids_ = [i for i, k in zip(self.memory_ids_, keep) if k]
            self.rebuild_index()
        return dropped

    def state_dict(self) -> dict:
        """What ``fit`` and ``learn`` taught it: the network's weights, the KNN memory and ``k_``."""
        return {"k": self.k_, "dim": int(self.memory_inputs_.shape[1]), "memory_ids": self.memory_ids_,
                "memory_inputs": self.memory_inputs_, "memory_labels": self.memory_labels_,
                "memory_sources": self.memory_sources_,
                "weights": {k: v.contiguous() for k, v in self.net_.state_dict().items()}}

    @classmethod
    def from_state(cls, config: SmallModelConfig, state: dict) -> "SmallModel":
        """The small model :meth:`state_dict` describes (``ValueError`` where its parts do not line up)."""
        out = cls(config)
        dim = int(state["dim"])
        out.net_ = SemanticNet(dim, config.hidden)
        out.net_.load_state_dict(state["weights"])
        out.memory_inputs_ = np.asarray(state["memory_inputs"], dtype=np.float32)
        out.memory_labels_ = np.asarray(state["memory_labels"], dtype=np.int8)
        out.memory_sources_ = np.asarray(state["memory_sources"], dtype=np.int8)
        out.memory_ids_ = list(state["memory_ids"])
        rows = len(out.memory_inputs_)
        if out.memory_inputs_.ndim != 2 or out.memory_inputs_.shape[1] != dim:
            raise ValueError(f"memory_inputs has rows of {out.memory_inputs_.shape[1:]} values where the model reads {dim}")
        for name, n in (("memory_labels", len(out.memory_labels_)), ("memory_sources", len(out.memory_sources_)),
                        ("memory_ids", len(out.memory_ids_))):
            if n != rows:
                raise ValueError(f"{name} has {n} entries where the memory holds {rows}")
        out.k_ = int(state["k"])
        out.rebuild_index()
        return out
