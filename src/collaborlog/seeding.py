"""Reproducible torch training without touching the caller's random state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded(seed: int) -> Iterator[torch.Generator]:
    """Run a block under ``seed`` and restore torch's global RNG afterwards.

    Yields a private generator for shuffling, so nothing outside the block is disturbed.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)
