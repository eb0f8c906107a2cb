"""The coordinator: a deep autoencoder over sequence embeddings that decides who judges a sequence.

A sequence whose reconstruction loss is above ``tau_`` (a quantile of the validation losses)
does not look like the history: it has *evolved* and goes to the LLM. Anything else goes to the
small model. Higher loss means less familiar.

It is trained on the whole history, normal and abnormal sequences alike: it measures
familiarity, not abnormality. A known kind of failure is familiar, and the small model, whose
memory holds its label, is the right judge for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from collaborlog.models.mlp import mlp
from collaborlog.models.seeding import DEFAULT_THREADS, seeded
from collaborlog.models.training import EarlyStopping
from collaborlog.models.training import train as train_network
from collaborlog.progress import stage
from collaborlog.verdicts import Route


class CoordinatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden: tuple[int, ...] = (64, 128, 64)
    batch_size: int = Field(default=256, gt=0)
    lr: float = Field(default=1e-3, gt=0)
    epochs: int = Field(default=50, gt=0)
    patience: int = Field(default=5, gt=0)
    quantile: float = Field(default=0.9, gt=0, lt=1)
    """tau is this quantile of the validation reconstruction losses."""
    seed: int = 0
    threads: int = Field(default=DEFAULT_THREADS, gt=0)
    """torch threads while training: the same seed and thread count give the same model."""


class Autoencoder(nn.Module):
    def __init__(self, dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = mlp([dim, *hidden, dim])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Coordinator:
    """Routes sequences by their autoencoder reconstruction loss.

    >>> coordinator = Coordinator(CoordinatorConfig(epochs=5)).fit(train_x, valid_x)  # doctest: +SKIP
    >>> routes = coordinator.route(test_x)  # doctest: +SKIP
    """

    def __init__(self, config: CoordinatorConfig = CoordinatorConfig()) -> None:
        self.config = config

    def fit(self, train: np.ndarray, valid: np.ndarray) -> "Coordinator":
        """Train on ``train`` (early stopping on ``valid``) and set ``tau_`` from the validation losses."""
        cfg = self.config
        with seeded(cfg.seed, cfg.threads) as gen:
            self.model_ = Autoencoder(train.shape[1], cfg.hidden)
            self._train(train, valid, cfg.epochs, gen)
        self.set_quantile(cfg.quantile, valid)
        return self

    def _train(self, train: np.ndarray, valid: np.ndarray, epochs: int, gen: torch.Generator) -> None:
        cfg = self.config
        x = torch.as_tensor(train, dtype=torch.float32)
        v = torch.as_tensor(valid if len(valid) else train, dtype=torch.float32)
        early = EarlyStopping(self.model_, lambda: float(self._losses(v).mean()), cfg.patience)
        # The bar may end early: training stops once the validation loss stops falling.
        with stage("training the coordinator (epochs)", epochs) as advance:
            def stop() -> bool:
                advance(1)
                return early()

            train_network(self.model_, cfg.lr, epochs, lambda: self._batches(x, gen), self._reconstruction, stop)
        early.restore()

    def _batches(self, x: torch.Tensor, gen: torch.Generator) -> Iterator[torch.Tensor]:
        for idx in torch.randperm(len(x), generator=gen).split(self.config.batch_size):
            yield x[idx]

    def _reconstruction(self, batch: torch.Tensor) -> torch.Tensor:
        return ((self.model_(batch) - batch) ** 2).mean()

    def _losses(self, x: torch.Tensor) -> torch.Tensor:
        self.model_.eval()
        with torch.no_grad():
            return ((self.model_(x) - x) ** 2).mean(dim=1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Reconstruction loss of each row; higher means less familiar (more likely evolved)."""
        if len(x) == 0:
            return np.zeros(0, dtype=np.float32)
        return self._losses(torch.as_tensor(x, dtype=torch.float32)).numpy()

    def set_quantile(self, quantile: float, valid: np.ndarray) -> None:
        """Set ``tau_`` to the ``quantile`` of the validation losses."""
        self.quantile_ = quantile
        self.valid_losses_ = self.score(valid)
        self.tau_ = float(np.quantile(self.valid_losses_, quantile)) if len(valid) else float("inf")

    def route(self, x: np.ndarray) -> tuple[np.ndarray, list[Route]]:
        """Loss and route per row: :attr:`Route.LLM` when the loss is above ``tau_``."""
        losses = self.score(x)
        return losses, [Route.LLM if loss > self.tau_ else Route.SMALL_MODEL for loss in losses]

    def learn(self, familiar: np.ndarray, replay: np.ndarray, epochs: int = 10, seed: int = 0) -> None:
        """Fine-tune so that ``familiar`` rows count as known, replaying ``replay`` against forgetting.

        The learned rows are familiar by definition, so they join the data ``tau_`` is calibrated
        on: the bar rises, if it must, to the configured quantile of their losses after the
        fine-tuning. Without this a history that repeats itself (validation losses near zero)
        would keep a bar no new sequence can ever get under, however well it has been learned.
        """
        # The new rows are repeated to weigh as much as the replay: a handful of them must not
        # drown in hundreds of history rows.
        repeat = max(1, len(replay) // max(len(familiar), 1))
        data = np.concatenate([np.repeat(familiar, repeat, axis=0), replay]) if len(replay) else familiar
        cfg = self.config
        with seeded(seed, cfg.threads) as gen:
            x = torch.as_tensor(data, dtype=torch.float32)
            train_network(self.model_, cfg.lr, epochs, lambda: self._batches(x, gen), self._reconstruction)
        if len(familiar):
            self.tau_ = max(self.tau_, float(np.quantile(self.score(familiar), self.quantile_)))

    def state_dict(self) -> dict:
        """What ``fit`` and ``learn`` taught it: the autoencoder's weights, the validation losses and ``tau_``."""
        return {"tau": self.tau_, "quantile": self.quantile_, "dim": int(next(self.model_.parameters()).shape[1]),
                "valid_losses": self.valid_losses_,
                "weights": {k: v.contiguous() for k, v in self.model_.state_dict().items()}}

    @classmethod
    def from_state(cls, config: CoordinatorConfig, state: dict) -> "Coordinator":
        """The coordinator :meth:`state_dict` describes (``ValueError`` where its parts do not fit)."""
        out = cls(config)
        out.model_ = Autoencoder(int(state["dim"]), config.hidden)
        out.model_.load_state_dict(state["weights"])
        out.valid_losses_ = np.asarray(state["valid_losses"], dtype=np.float32)
        out.tau_, out.quantile_ = float(state["tau"]), float(state["quantile"])
        return out
