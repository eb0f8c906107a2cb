"""LLM backends behind one small protocol: an OpenAI-compatible server, an embedded GGUF model
(llama-cpp-python), and a scripted client for tests.

A backend answers a :class:`ChatRequest` with a :class:`Completion` (text, token counts,
seconds) or raises :class:`LLMError`. Retries with backoff on 429/5xx and timeouts are the
OpenAI client's own (``max_retries``); the embedded model runs in-process.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from collaborlog.errors import CollaborLogError, ConfigError, MissingDependencyError


class LLMError(CollaborLogError):
    """The LLM did not answer: a timeout, a refused or failed call, a server error after retries."""


@dataclass(frozen=True)
class ChatRequest:
    system: str
    user: str
    schema: dict | None = None
    """JSON schema of the answer; backends that can constrain their output to it do."""
    max_tokens: int = 256
    temperature: float = 0.01
    top_p: float = 0.95


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class LLMClient(Protocol):
    identity: str
    """Backend and model, e.g. ``openai:qwen-plus``; part of every cache key."""

    def complete(self, request: ChatRequest) -> Completion: ...


class LLMConfig(BaseModel):
    """Which LLM judges routed sequences. Every default lives here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["embedded", "openai"] = "embedded"
    model: str = "qwen2.5-coder-1.5b"
    """``embedded``: a name from :data:`collaborlog.gguf.MODELS` or a path to a .gguf file.
    ``openai``: the served model's name (e.g. ``qwen-plus``, ``gpt-4o-mini``)."""
    base_url: str | None = None
    """``openai``: the server's URL; default ``$OPENAI_BASE_URL``, else OpenAI's."""
    api_key_env: str = "OPENAI_API_KEY"
    """``openai``: the environment variable that holds the key (never the key itself)."""
    response_format: Literal["json_schema", "json_object_schema", "json_object", "none"] = "json_schema"
    """``openai``: how to ask for JSON. ``json_schema``: OpenAI, vLLM, llama.cpp's C++ server;
    ``json_object_schema``: llama-cpp-python's server (``json_object`` with a ``schema``);
    ``json_object``: servers that only promise some JSON (Qwen's DashScope); ``none``."""
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    concurrency: int = Field(default=4, ge=1)
    temperature: float = Field(default=0.01, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=200, gt=0)
    context: int = Field(default=4096, gt=0)
    """``embedded``: context window in tokens."""
    threads: int | None = None
    """``embedded``: CPU threads for generation and prompt processing (default: all cores;
    llama-cpp-python's own default is half of them)."""
    seed: int = 0


class OpenAIClient:
    """Any OpenAI-compatible chat-completions server: OpenAI, Qwen (DashScope), vLLM, llama.cpp."""

    def __init__(self, config: LLMConfig) -> None:
        import os

        try:
            import openai
        except ImportError:
            raise MissingDependencyError("openai", "The OpenAI-compatible LLM backend") from None
        key = os.environ.get(config.api_key_env)
        base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
        if not key and base_url is None:
            raise ConfigError(
                f"the openai backend needs an API key in ${config.api_key_env} (or a base_url of a local server)")
        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url, api_key=key or "not-needed",
                                     timeout=config.timeout_s, max_retries=config.max_retries)
        self._config = config
        self.identity = f"openai:{base_url or 'api.openai.com'}:{config.model}"

    def _response_format(self, schema: dict | None) -> dict | None:
        mode = self._config.response_format
        if schema is None or mode == "none":
            return None
        if mode == "json_object":
            return {"type": "json_object"}
        if mode == "json_object_schema":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}

    def complete(self, request: ChatRequest) -> Completion:
        kwargs = {}
        fmt = self._response_format(request.schema)
        if fmt is not None:
            kwargs["response_format"] = fmt
        start = time.perf_counter()
        try:
            out = self._client.chat.completions.create(
                model=self._config.model,
                messages=[{"role": "system", "content": request.system}, {"role": "user", "content": request.user}],
                temperature=request.temperature, top_p=request.top_p, max_tokens=request.max_tokens,
                seed=self._config.seed, **kwargs,
            )
        except self._openai.APIError as err:
            raise LLMError(f"{self.identity}: {type(err).__name__}: {err}") from None
        seconds = time.perf_counter() - start
        if not out.choices:
            raise LLMError(f"{self.identity} returned no choices")
        usage = out.usage
        return Completion(out.choices[0].message.content or "", getattr(usage, "prompt_tokens", 0) or 0,
                          getattr(usage, "completion_tokens", 0) or 0, seconds)


class EmbeddedClient:
    """A GGUF model run in-process by llama-cpp-python; JSON answers are grammar-constrained."""

    def __init__(self, config: LLMConfig) -> None:
        from collaborlog.gguf import resolve_model

        try:
            from llama_cpp import Llama
        except ImportError:
            raise MissingDependencyError("llama-cpp-python", "The embedded offline LLM") from None
        import os

        path = resolve_model(config.model)
        threads = config.threads or os.cpu_count() or 1
        self._llama = Llama(model_path=str(path), n_ctx=config.context, n_threads=threads, n_threads_batch=threads,
                            seed=config.seed, verbose=False)
        # llama.cpp contexts are not thread-safe: one call at a time.
        self._lock = threading.Lock()
        self.identity = f"embedded:{Path(path).name}"

    def complete(self, request: ChatRequest) -> Completion:
        kwargs = {}
        if request.schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.schema}
        with self._lock:
            # Timed inside the lock: seconds spent computing, not waiting for another call.
            start = time.perf_counter()
            try:
                out = self._llama.create_chat_completion(
                    messages=[{"role": "system", "content": request.system}, {"role": "user", "content": request.user}],
                    temperature=request.temperature, top_p=request.top_p, max_tokens=request.max_tokens, **kwargs,
                )
            except (ValueError, RuntimeError) as err:
                raise LLMError(f"{self.identity}: {err}") from None
        usage = out.get("usage", {})
        return Completion(out["choices"][0]["message"].get("content") or "", int(usage.get("prompt_tokens", 0)),
                          int(usage.get("completion_tokens", 0)), time.perf_counter() - start)


@dataclass
class ScriptedClient:
    """Answers from a queue, for tests of the agent logic: ``enqueue`` a text or an exception.

    With an empty queue it answers ``default`` (or raises :class:`LLMError` when that is None).
    """

    identity: str = "scripted:test"
    default: str | None = None
    answers: deque = field(default_factory=deque)
    requests: list[ChatRequest] = field(default_factory=list)

    def enqueue(self, *answers: str | Exception) -> "ScriptedClient":
        self.answers.extend(answers)
        return self

    def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        answer = self.answers.popleft() if self.answers else self.default
        if answer is None:
            raise LLMError("scripted client: no answer queued")
        if isinstance(answer, Exception):
            raise answer
        return Completion(answer, len(request.system.split()) + len(request.user.split()), len(answer.split()), 0.0)


BACKENDS = {"embedded": EmbeddedClient, "openai": OpenAIClient}


def build_client(config: LLMConfig) -> LLMClient:
    return BACKENDS[config.backend](config)
