"""The cost governor: a persistent response cache, per-run budgets, and per-call accounting.

Identical prompts (same backend, model, rendered prompt, schema and sampling settings) are
answered from the cache, so reruns are cheap and reproducible. Past a budget, :meth:`ask`
raises :class:`BudgetExceeded` and the caller falls back to the small model.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from collaborlog.errors import CollaborLogError
from collaborlog.llm_backends import ChatRequest, Completion, LLMClient, LLMError


class BudgetExceeded(CollaborLogError):
    """The run's LLM budget (calls or tokens) is spent."""


class GovernorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_calls: int | None = Field(default=None, ge=0)
    """LLM calls allowed per run (cached answers are free); ``None`` for no limit."""
    max_tokens: int | None = Field(default=None, ge=0)
    """Prompt + completion tokens allowed per run; ``None`` for no limit."""
    cache: bool = True


@dataclass(frozen=True)
class CallRecord:
    branch: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cached: bool
    ok: bool
    error: str = ""


class ResponseCache:
    """Completions keyed by a hash of backend, model and request, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, completion TEXT NOT NULL)")
        self._db.commit()
        self._lock = threading.Lock()

    @staticmethod
    def key(identity: str, request: ChatRequest) -> str:
        payload = json.dumps([identity, asdict(request)], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT completion FROM answers WHERE key = ?", (key,)).fetchone()
        return Completion(**json.loads(row[0])) if row else None

    def put(self, key: str, completion: Completion) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, json.dumps(asdict(completion))))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Governor:
    """Wraps an :class:`LLMClient` with the cache, the budgets and the accounting (thread-safe)."""

    def __init__(self, client: LLMClient, config: GovernorConfig = GovernorConfig(),
                 cache: ResponseCache | None = None) -> None:
        self.client = client
        self.config = config
        self.cache = cache if config.cache else None
        self.records: list[CallRecord] = []
        self._calls = 0
        self._tokens = 0
        self._lock = threading.Lock()

    def ask(self, request: ChatRequest, branch: str) -> Completion:
        """An answer from the cache or the LLM; raises :class:`BudgetExceeded` or :class:`LLMError`."""
        key = ResponseCache.key(self.client.identity, request) if self.cache is not None else ""
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self._record(CallRecord(branch, hit.prompt_tokens, hit.completion_tokens, 0.0, True, True))
                return hit
        with self._lock:
            if self.config.max_calls is not None and self._calls >= self.config.max_calls:
                raise BudgetExceeded(f"the LLM call budget ({self.config.max_calls}) is spent")
            if self.config.max_tokens is not None and self._tokens >= self.config.max_tokens:
                raise BudgetExceeded(f"the LLM token budget ({self.config.max_tokens}) is spent")
            self._calls += 1
        try:
            completion = self.client.complete(request)
        except LLMError as err:
            self._record(CallRecord(branch, 0, 0, 0.0, False, False, str(err)[:300]))
            raise
        with self._lock:
            self._tokens += completion.prompt_tokens + completion.completion_tokens
        self._record(CallRecord(branch, completion.prompt_tokens, completion.completion_tokens,
                                completion.seconds, False, True))
        if self.cache is not None:
            self.cache.put(key, completion)
        return completion

    def _record(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)

    def mark_unparsed(self, branch: str) -> None:
        """Count an answer that arrived but could not be read."""
        self._record(CallRecord(branch, 0, 0, 0.0, False, False, "unparseable answer"))

    def summary(self) -> dict[str, dict[str, float]]:
        """Per branch: calls made, cached answers, failures, tokens and mean seconds per call."""
        out: dict[str, dict[str, float]] = {}
        for r in self.records:
            s = out.setdefault(r.branch, {"calls": 0, "cached": 0, "failures": 0, "prompt_tokens": 0,
                                          "completion_tokens": 0, "seconds": 0.0})
            if r.cached:
                s["cached"] += 1
            elif r.ok:
                s["calls"] += 1
            else:
                s["failures"] += 1
            s["prompt_tokens"] += r.prompt_tokens
            s["completion_tokens"] += r.completion_tokens
            s["seconds"] += r.seconds
        for s in out.values():
            s["seconds_per_call"] = s["seconds"] / s["calls"] if s["calls"] else 0.0
        return out
