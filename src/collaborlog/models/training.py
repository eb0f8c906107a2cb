"""The one training loop every network uses (the coordinator's fit and fine-tuning, the small
model's fit and AEM updates): Adam over the batches an epoch yields, with an optional check after
each epoch, and early stopping as one such check."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import torch
from torch import nn

Batch = TypeVar("Batch")


def train(module: nn.Module, lr: float, epochs: int, batches: Callable[[], Iterable[Batch]],
          loss: Callable[[Batch], torch.Tensor], stop: Callable[[], bool] | None = None) -> None:
    """Run ``epochs`` epochs of Adam at ``lr`` on ``loss`` over ``batches()``; after each epoch
    ``stop()`` may end training early."""
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    for _ in range(epochs):
        module.train()
        for batch in batches():
            opt.zero_grad()
            loss(batch).backward()
            opt.step()
        if stop is not None and stop():
            break


class EarlyStopping:
    """A ``stop`` check for :func:`train`: stop after ``patience`` epochs without a lower validation
    loss, and :meth:`restore` the best epoch's weights."""

    def __init__(self, module: nn.Module, validation_loss: Callable[[], float], patience: int) -> None:
        self.module = module
        self.validation_loss = validation_loss
        self.patience = patience
        self.best = float("inf")
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad = 0

    def __call__(self) -> bool:
        value = self.validation_loss()
        if value < self.best - 1e-9:
            self.best, self.bad = value, 0
            self.best_state = {k: t.clone() for k, t in self.module.state_dict().items()}
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore(self) -> None:
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)
