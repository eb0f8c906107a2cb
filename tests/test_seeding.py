"""Training is reproducible: same seed and thread count, same model, whatever the caller's torch settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from collaborlog.models.coordinator import Coordinator, CoordinatorConfig
from collaborlog.models.seeding import seeded
from collaborlog.models.small_model import SmallModel, SmallModelConfig


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _data(n: int = 300, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.2).astype(np.int8)
    x = rng.normal(size=(n, dim)).astype(np.float32) + 2.0 * y[:, None]
    return x, y


def _weights(module: torch.nn.Module) -> list[np.ndarray]:
    return [t.detach().numpy().copy() for t in module.state_dict().values()]


def test_seeded_restores_the_callers_torch_settings():
    torch.set_num_threads(2)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7, threads=1) as gen:
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled()
        torch.rand(5)
        first = torch.rand(2, generator=gen)
    assert torch.get_num_threads() == 2
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.rand(3), expected)
    with seeded(7, threads=1) as gen:
        torch.rand(5)
        assert torch.equal(torch.rand(2, generator=gen), first)


def test_training_gives_the_same_model_whatever_threads_the_caller_set():
    x, y = _data()
    ids = [str(i) for i in range(len(y))]
    models = []
    for caller_threads in (1, 2, 1):
        torch.set_num_threads(caller_threads)
        sm = SmallModel(SmallModelConfig(epochs=3, batch_size=64, k=3)).fit(x, y, ids)
        sm.learn(x[:10], y[:10], ids[:10], replay=50, epochs=2, seed=3)
        coordinator = Coordinator(CoordinatorConfig(epochs=3, hidden=(8,))).fit(x[:200], x[200:])
        coordinator.learn(x[:10], x[10:60], epochs=2, seed=3)
        models.append((_weights(sm.net_), _weights(coordinator.model_), coordinator.tau_))
    for sm_weights, coordinator_weights, tau in models[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(sm_weights, models[0][0]))
        assert all(np.array_equal(a, b) for a, b in zip(coordinator_weights, models[0][1]))
        assert tau == models[0][2]
