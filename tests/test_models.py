from __future__ import annotations

import numpy as np
import pytest
import torch

from collaborlog.models.coordinator import Coordinator, CoordinatorConfig
from collaborlog.models.metrics import f1_score, score
from collaborlog.models.small_model import SmallModel, SmallModelConfig, supervised_contrastive_loss
from collaborlog.models.vector_index import FaissIndex
from collaborlog.verdicts import MemorySource, Route


def _blobs(n_normal=300, n_anomalous=30, dim=16, seed=0):
    centres = np.random.default_rng(0).normal(size=(2, dim)) * 3
    rng = np.random.default_rng(seed + 100)
    x = np.concatenate([centres[0] + rng.normal(size=(n_normal, dim)), centres[1] + rng.normal(size=(n_anomalous, dim))])
    y = np.concatenate([np.zeros(n_normal, np.int8), np.ones(n_anomalous, np.int8)])
    return x.astype(np.float32), y


def test_coordinator_threshold_is_the_validation_quantile_and_routes_the_unfamiliar():
    x, _ = _blobs()
    rng = np.random.default_rng(1)
    train, valid = x[:250], x[250:300]
    co = Coordinator(CoordinatorConfig(epochs=30, quantile=0.8)).fit(train, valid)
    assert co.tau_ == pytest.approx(np.quantile(co.score(valid), 0.8))
    assert (co.score(valid) > co.tau_).mean() == pytest.approx(0.2, abs=0.03)
    far = (x[:50] + rng.normal(size=(50, x.shape[1])) * 8).astype(np.float32)
    losses, routes = co.route(far)
    assert (losses > co.tau_).mean() > 0.9 and routes.count(Route.LLM) == int((losses > co.tau_).sum())


def test_coordinator_is_deterministic_and_leaves_global_rng_alone():
    x, _ = _blobs()
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = Coordinator(CoordinatorConfig(epochs=5, seed=7)).fit(x[:200], x[200:250])
    after = torch.rand(1)
    b = Coordinator(CoordinatorConfig(epochs=5, seed=7)).fit(x[:200], x[200:250])
    np.testing.assert_array_equal(a.score(x), b.score(x))
    assert after == expected_next


def test_coordinator_learn_makes_new_sequences_familiar():
    x, _ = _blobs()
    co = Coordinator(CoordinatorConfig(epochs=30)).fit(x[:250], x[250:300])
    new = (x[:40] + 6.0).astype(np.float32)
    before = co.score(new).mean()
    co.learn(new, replay=x[:100], epochs=40)
    assert co.score(new).mean() < before / 3


def test_small_model_separates_labels_with_evidence_and_certainty():
    x, y = _blobs()
    ids = [f"s{i}" for i in range(len(y))]
    sm = SmallModel(SmallModelConfig(epochs=10, k=5)).fit(x, y, ids)
    queries, truth = _blobs(50, 10, seed=2)
    out = sm.predict(queries)
    assert f1_score(truth, out.verdict) > 0.9
    one = out[len(out) - 1]
    assert len(one.neighbours) == 5 and one.neighbours[0].similarity >= one.neighbours[-1].similarity
    assert all(n.source is MemorySource.HISTORY and n.id.startswith("s") for n in one.neighbours)
    assert one.certain == (len({n.label for n in one.neighbours}) == 1)
    assert one.verdict == int(sum(n.label for n in one.neighbours) > 2)


def test_certainty_comes_from_the_neighbours_alone():
    # A memory where every neighbour of the query disagrees: uncertain, whatever the truth.
    x = np.array([[1, 0], [1, 0.01], [1, -0.01], [0, 1]], np.float32)
    y = np.array([0, 1, 0, 1], np.int8)
    sm = SmallModel(SmallModelConfig(epochs=1, k=3, hidden=(2,))).fit(x, y, list("abcd"))
    sm.net_ = torch.nn.Sequential()  # identity map: neighbours by raw cosine
    sm.net_.forward = lambda t: torch.nn.functional.normalize(t, dim=1)  # type: ignore[method-assign]
    sm.rebuild_index()
    out = sm.predict(np.array([[1, 0.001]], np.float32))
    assert not out.certain[0] and out.verdict[0] == 0 and out.score[0] == pytest.approx(1 / 3, abs=0.01)


def test_k_is_chosen_on_validation():
    x, y = _blobs(400, 40)
    sm = SmallModel(SmallModelConfig(epochs=5)).fit(x[::2], y[::2], [str(i) for i in range(len(y[::2]))], x[1::2], y[1::2])
    assert sm.k_ in (1, 3, 5, 7, 9) and set(sm.k_scores_) == {1, 3, 5, 7, 9}
    assert sm.k_scores_[sm.k_] == max(sm.k_scores_.values())
    no_anomalies = SmallModel(SmallModelConfig(epochs=1)).fit(x, y, [str(i) for i in range(len(y))], x[:10], y[:10] * 0)
    assert no_anomalies.k_ == 5


def test_small_model_learn_adds_llm_memory():
    x, y = _blobs()
    sm = SmallModel(SmallModelConfig(epochs=5, k=3)).fit(x, y, [str(i) for i in range(len(y))])
    new = (x[:5] + 20).astype(np.float32)
    sm.learn(new, np.ones(5, np.int8), [f"llm{i}" for i in range(5)], epochs=3)
    out = sm.predict(new)
    assert (out.verdict == 1).all()
    assert any(n.source is MemorySource.LLM for n in out[0].neighbours)


def test_supcon_loss_prefers_label_clusters():
    y = torch.tensor([0, 0, 1, 1])
    good = torch.nn.functional.normalize(torch.tensor([[1.0, 0], [1, 0.1], [0, 1], [0.1, 1]]), dim=1)
    bad = torch.nn.functional.normalize(torch.tensor([[1.0, 0], [0, 1], [1, 0.1], [0.1, 1]]), dim=1)
    assert supervised_contrastive_loss(good, y, 0.1) < supervised_contrastive_loss(bad, y, 0.1)


def test_faiss_index_grows_into_hnsw():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(300, 8)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = FaissIndex(8, hnsw_above=200)
    index.add(v[:150])
    index.add(v[150:])  # crosses the limit: becomes HNSW
    sims, rows = index.search(v[:20], 1)
    assert (rows[:, 0] == np.arange(20)).mean() >= 0.95
    assert len(index) == 300


def test_scores_report_anomalies_and_an_interval():
    y = np.array([0] * 90 + [1] * 10)
    p = y.copy()
    p[:3] = 1
    s = score(y, p)
    assert s.anomalies == 10 and s.tp == 10 and s.fp == 3 and s.f1 == pytest.approx(20 / 23)
    assert s.f1_low <= s.f1 <= s.f1_high
