"""Reproducible torch training without touching the caller's random state or settings.

Inside :func:`seeded` torch runs on a fixed number of threads with its deterministic algorithms:
a sum split over another number of threads may add in another order, and a few kernels (scatter
adds, for one) are free to add in any order at all. So the same data, seed and thread count give
the same model on one machine. Across machines the matrix products themselves differ: MKL picks
its code path by CPU, and a network trained on another path drifts to other weights. Setting
``MKL_CBWR=COMPATIBLE`` in the environment before torch's first product makes every x86 CPU take
the same (slower) path; nothing here sets it, as it would change the caller's own torch work too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

DEFAULT_THREADS = 1
"""Training threads unless a configuration says otherwise: the small networks train about as fast
on one thread as on two, and one is what every machine has."""


@contextmanager
def seeded(seed: int, threads: int = DEFAULT_THREADS) -> Iterator[torch.Generator]:
    """Run a block under ``seed`` on ``threads`` torch threads with deterministic algorithms, and
    restore torch's global RNG, thread count and determinism setting afterwards.

    Yields a private generator for shuffling, so nothing outside the block is disturbed.
    """
    threads_before = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    warn_only_before = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield torch.Generator().manual_seed(seed)
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before, warn_only=warn_only_before)
