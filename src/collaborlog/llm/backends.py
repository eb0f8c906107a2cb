"""LLM backends behind one small protocol: an OpenAI-compatible server, an embedded GGUF model
(llama-cpp-python), and a scripted client for tests.

A backend answers a :class:`ChatRequest` with a :class:`Completion` (text, token counts,
seconds) or raises :class:`LLMError`: a server that times out, refuses, fails or answers in a
shape that is not a chat completion (an HTML page, ``message: null``, a number for the text)
is an :class:`LLMError`, never another exception. The OpenAI client retries 429/5xx, timeouts
and dropped connections with backoff (``max_retries``) within one deadline per call
(``call_deadline_s``); the embedded model runs in-process.

Credentials (a URL's ``user:password@``, bearer tokens, the API key's value) are redacted
from every message, identity and log line the backends write (:func:`redact`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from collaborlog.errors import NO_LLM_HINT, CollaborLogError, ConfigError, MissingDependencyError
from collaborlog.llm.kv_snapshots import PrefixSnapshots


class LLMError(CollaborLogError):
    """The LLM did not answer: a timeout, a refused or failed call, a server error after retries,
    or a response that is not a chat completion."""


# Up to the last "@" before the host: a password may hold an "@" of its own.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s?#]+@")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=\-]+")
_KEY_FIELD = re.compile(r"""(?i)\b(api[_-]?key["']?\s*[:=]\s*["']?)[^\s"',;}&]+""")
_SHORTEST_SECRET = 4
"""Shorter values are not replaced: they would blank out ordinary words and protect nothing."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials replaced by ``***``: the values in ``secrets``, the
    ``user:password@`` of URLs, bearer and basic tokens, and ``api_key=...`` fields.

    >>> redact("POST http://bob:hunter22@10.0.0.1/v1 failed: Bearer sk-abc")
    'POST http://***@10.0.0.1/v1 failed: Bearer ***'
    """
    for secret in secrets:
        if secret and len(secret) >= _SHORTEST_SECRET:
            text = text.replace(secret, "***")
    text = _USERINFO.sub(r"\1***@", text)
    text = _AUTH_SCHEME.sub(r"\1\2***", text)
    return _KEY_FIELD.sub(r"\1***", text)


def check_base_url(url: str, where: str = "base_url") -> str:
    """``url`` when it is an http(s) URL with a host; otherwise a :class:`ConfigError`."""
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a port that is no number in 0..65535
    except ValueError as err:
        problem = str(err)
    else:
        if parts.scheme not in ("http", "https"):
            problem = "the scheme must be http or https"
        elif not parts.hostname:
            problem = "it names no host"
        elif any(ch.isspace() or ord(ch) < 32 for ch in url):
            problem = "it contains spaces or control characters"
    if problem is not None:
        raise ConfigError(f"{where} {redact(url)!r} is not a server URL ({problem}); "
                          f"give one like http://127.0.0.1:8080/v1 or https://api.openai.com/v1")
    return url


class _RedactLogs(logging.Filter):
    """Redacts the log records of the HTTP libraries the OpenAI client uses (one, shared)."""

    def __init__(self) -> None:
        super().__init__()
        # Replaced, never changed in place: other threads may be filtering while a client is built.
        self.secrets: tuple[str, ...] = ()

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(sorted(set(self.secrets) | set(secrets)))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_LOG_FILTER = _RedactLogs()
# Filters on a logger do not apply to its children's records, so each logger that writes is named.
_HTTP_LOGGERS = ("openai", "openai._base_client", "httpx", "httpx2", "httpcore", "httpcore2")


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
    """Which LLM judges routed sequences. Every default lives here.

    ``base_url`` and ``api_key_env`` say where requests go and which variable of the caller's
    environment holds the key: they are never saved with a detector (see :meth:`portable`).
    """

    # Pydantic's messages would otherwise repeat a rejected base_url with its credentials.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    backend: Literal["embedded", "openai", "none"] = "embedded"
    model: str = "qwen2.5-coder-1.5b"
    """``embedded``: a name from :data:`collaborlog.llm.gguf.MODELS` or a path to a .gguf file.
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
    """``openai``: seconds one attempt may wait for the server."""
    max_retries: int = Field(default=3, ge=0)
    """``openai``: further attempts after a timeout, a dropped connection, 408, 409, 429 or 5xx."""
    call_deadline_s: float = Field(default=120.0, gt=0)
    """``openai``: seconds one question may take in all, retries and backoff included; past it the
    call is an :class:`LLMError` (and the sequence falls back), so a hung server costs at most this."""
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
    """Sampling seed, sent to the server and to llama.cpp, so that reruns sample alike."""
    audit: str | None = None
    """The SQLite file that records every exchange with the LLM (see :mod:`collaborlog.llm.audit`);
    ``None`` records none. Not saved with a detector: whoever runs it says where (``detect --audit``)."""

    @field_validator("base_url")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_base_url(value)
        except ConfigError as err:
            # Pydantic reports a ValueError as a validation error; parse_model makes it a ConfigError.
            raise ValueError(str(err)) from None

    def portable(self) -> "LLMConfig":
        """These settings without ``base_url``, ``api_key_env`` and ``audit``: what a saved detector keeps.

        Whoever runs a detector names the server and the key (``$OPENAI_BASE_URL`` and
        ``$OPENAI_API_KEY``, or their own configuration), so loading someone else's detector
        never sends a variable of one's environment to a host of theirs.
        """
        defaults = LLMConfig.model_fields
        return self.model_copy(update={"base_url": defaults["base_url"].default,
                                       "api_key_env": defaults["api_key_env"].default,
                                       "audit": defaults["audit"].default})


def _token_count(usage: dict, name: str) -> int:
    value = usage.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"usage.{name} is {value!r}, not a count")
    return value


def read_chat_completion(data: object, seconds: float) -> Completion:
    """The :class:`Completion` in a decoded chat-completion response; ``ValueError`` naming what
    is wrong when it has another shape (the caller makes that an :class:`LLMError`)."""
    if not isinstance(data, dict):
        raise ValueError(f"the response is a JSON {type(data).__name__}, not an object")
    if data.get("error") is not None:  # some servers report failures with status 200
        raise ValueError(f"it reports an error: {data['error']!r:.200}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValueError(f"choices is {choices!r:.80}, not a non-empty list")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise ValueError(f"choices[0].message is {message!r:.80}, not an object")
    content = message.get("content")
    if not isinstance(content, str):
        refusal = message.get("refusal")
        why = f" (refusal: {refusal!r:.120})" if refusal else ""
        raise ValueError(f"choices[0].message.content is {content!r:.80}, not text{why}")
    usage = data.get("usage")
    if usage is None:
        usage = {}
    if not isinstance(usage, dict):
        raise ValueError(f"usage is {usage!r:.80}, not an object")
    return Completion(content, _token_count(usage, "prompt_tokens"), _token_count(usage, "completion_tokens"), seconds)


_RETRIED_STATUS = frozenset({408, 409, 429})
_BACKOFF_S, _MAX_BACKOFF_S = 0.5, 8.0


def retry_after(header: str | None) -> float:
    """The seconds a 429 or 503 asks to wait (``Retry-After: 2``); 0 when it names none or a date."""
    try:
        return max(float(header), 0.0) if header else 0.0
    except ValueError:
        return 0.0


class OpenAIClient:
    """Any OpenAI-compatible chat-completions server: OpenAI, Qwen (DashScope), vLLM, llama.cpp.

    The response body is read and checked here rather than by the SDK's models, which accept any
    shape and fail later with AttributeError or TypeError.
    """

    def __init__(self, config: LLMConfig) -> None:
        try:
            import openai
        except ImportError:
            raise MissingDependencyError("openai", "The OpenAI-compatible LLM backend") from None
        key = os.environ.get(config.api_key_env)
        base_url = config.base_url
        if base_url is None and os.environ.get("OPENAI_BASE_URL"):
            base_url = check_base_url(os.environ["OPENAI_BASE_URL"], "$OPENAI_BASE_URL")
        if not key and base_url is None:
            raise ConfigError(
                f"the openai backend needs an API key in ${config.api_key_env} (or a base_url of a local server)")
        parts = urlsplit(base_url) if base_url else None
        self._secrets = tuple(s for s in (key, parts and parts.password, parts and parts.username) if s)
        _LOG_FILTER.add(self._secrets)
        for name in _HTTP_LOGGERS:
            logger = logging.getLogger(name)
            if _LOG_FILTER not in logger.filters:
                logger.addFilter(_LOG_FILTER)
        self._openai = openai
        # Retries are counted here, within the call's deadline, not by the SDK.
        self._client = openai.OpenAI(base_url=base_url, api_key=key or "not-needed",
                                     timeout=config.timeout_s, max_retries=0)
        self._config = config
        self.identity = f"openai:{redact(base_url, self._secrets) if base_url else 'api.openai.com'}:{config.model}"

    def _response_format(self, schema: dict | None) -> dict | None:
        mode = self._config.response_format
        if schema is None or mode == "none":
            return None
        if mode == "json_object":
            return {"type": "json_object"}
        if mode == "json_object_schema":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}

    def _error(self, what: str) -> LLMError:
        return LLMError(redact(f"{self.identity}: {what}", self._secrets))

    def complete(self, request: ChatRequest) -> Completion:
        kwargs: dict[str, Any] = {}
        fmt = self._response_format(request.schema)
        if fmt is not None:
            kwargs["response_format"] = fmt
        start = time.perf_counter()
        deadline = start + self._config.call_deadline_s
        attempt = 0
        while True:
            attempt += 1
            # An attempt may wait no longer than the call has left.
            timeout = max(min(self._config.timeout_s, deadline - time.perf_counter()), 1e-3)
            try:
                raw = self._client.chat.completions.with_raw_response.create(
                    model=self._config.model,
                    messages=[{"role": "system", "content": request.system}, {"role": "user", "content": request.user}],
                    temperature=request.temperature, top_p=request.top_p, max_tokens=request.max_tokens,
                    seed=self._config.seed, timeout=timeout, **kwargs,
                )
                body = raw.http_response.text
                break
            except self._openai.APIStatusError as err:
                if err.status_code not in _RETRIED_STATUS and err.status_code < 500:
                    raise self._error(f"HTTP {err.status_code}: {err}") from None
                failure = f"HTTP {err.status_code}: {err}"
                asked_wait = retry_after(err.response.headers.get("retry-after"))
            except self._openai.APIConnectionError as err:  # timeouts, refused or dropped connections
                failure = f"{type(err).__name__}: {err} {err.__cause__ or ''}".strip()
                asked_wait = 0.0
            except self._openai.APIError as err:
                raise self._error(f"{type(err).__name__}: {err}") from None
            wait = max(min(_BACKOFF_S * 2 ** (attempt - 1), _MAX_BACKOFF_S), asked_wait)
            if attempt > self._config.max_retries or time.perf_counter() + wait >= deadline:
                limit = "" if attempt > self._config.max_retries else \
                    f" (the call's deadline of {self._config.call_deadline_s:g} s leaves no time to retry)"
                raise self._error(f"{failure}; gave up after {attempt} attempt(s) in "
                                  f"{time.perf_counter() - start:.1f} s{limit}")
            time.sleep(wait)
        seconds = time.perf_counter() - start
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, RecursionError):
            kind = raw.http_response.headers.get("content-type", "no content type")
            raise self._error(f"HTTP {raw.http_response.status_code} with a body that is not JSON ({kind}): "
                              f"{body[:120]!r}") from None
        try:
            return read_chat_completion(data, seconds)
        except ValueError as err:
            raise self._error(f"the response is not a chat completion: {err}") from None


PROMPT_STEP = 256
"""``embedded``: prompt tokens processed per step (llama.cpp's batch)."""


class EmbeddedClient:
    """A GGUF model run in-process by llama-cpp-python; JSON answers are grammar-constrained.

    Every llama.cpp call (loading the model included) runs on one thread the client owns, one at a
    time (a llama.cpp context is not thread-safe), whichever thread asks: the C library's
    per-thread memory (glibc's arena for the thread, OpenMP's team of workers started from it) is
    then set up once, not again for each of the governor's worker threads that asks a question.
    """

    def __init__(self, config: LLMConfig) -> None:
        from collaborlog.llm.gguf import resolve_model

        try:
            from llama_cpp import Llama
        except ImportError:
            raise MissingDependencyError("llama-cpp-python", "The embedded offline LLM",
                                         alternative=NO_LLM_HINT) from None

        path = resolve_model(config.model)
        threads = config.threads or os.cpu_count() or 1
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collaborlog-llama")
        # Read, not mapped: llama.cpp repacks the quantised weights for the CPU, and a mapped file
        # kept its touched pages resident beside the repacked copy (about 0.6 GB more RSS for the
        # 1.5B model). Prompts are processed 256 tokens at a time, which halves the compute buffer.
        self._llama = self._thread.submit(
            Llama, model_path=str(path), n_ctx=config.context, n_threads=threads, n_threads_batch=threads,
            n_batch=PROMPT_STEP, n_ubatch=PROMPT_STEP, use_mmap=False, seed=config.seed, verbose=False).result()
        self._seed = config.seed
        self.snapshots = PrefixSnapshots.for_model(self._llama)
        self.identity = f"embedded:{Path(path).name}"

    def complete(self, request: ChatRequest) -> Completion:
        out, seconds = self._thread.submit(self._run, request).result()
        try:
            return read_chat_completion(out, seconds)
        except ValueError as err:
            raise LLMError(f"{self.identity}: the response is not a chat completion: {err}") from None

    def _run(self, request: ChatRequest) -> tuple[Any, float]:
        """One chat completion, on the client's thread: the answer and the seconds it took to compute."""
        kwargs: dict[str, Any] = {}
        if request.schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.schema}
        messages = [{"role": "system", "content": request.system}, {"role": "user", "content": request.user}]
        start = time.perf_counter()
        snapshots = self.snapshots
        try:
            tokens = snapshots.prompt_tokens(messages) if snapshots is not None else None
            if snapshots is not None and tokens is not None:
                snapshots.before(tokens)
            # The seed again per call: without one, llama-cpp-python draws each call's seed from the
            # previous call's (and reads Llama(seed=0) as "random"), so an answer would depend on
            # which questions came before it.
            out = self._llama.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]  # llama_cpp's TypedDicts of the same shape
                temperature=request.temperature, top_p=request.top_p,
                max_tokens=request.max_tokens, seed=self._seed, **kwargs,
            )
        except (ValueError, RuntimeError) as err:
            raise LLMError(f"{self.identity}: {err}") from None
        if snapshots is not None and tokens is not None:
            snapshots.after(tokens, messages)
        return out, time.perf_counter() - start


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


BACKENDS: dict[str, Callable[[LLMConfig], LLMClient]] = {"embedded": EmbeddedClient, "openai": OpenAIClient}


def build_client(config: LLMConfig) -> LLMClient:
    if config.backend == "none":
        raise ConfigError("llm backend 'none' has no client: routed sequences keep the small model's verdict")
    return BACKENDS[config.backend](config)
