"""The cost governor: a persistent response cache, per-run budgets and deadline, and per-call accounting.

Identical prompts (same backend, model, rendered prompt, schema and sampling settings) are
answered from the cache, so reruns are cheap and reproducible. Only answers that the caller
could read are cached (:meth:`Governor.answer`): an unreadable one is asked again next time.
Past a budget or the run's deadline, :meth:`Governor.answer` raises :class:`BudgetExceeded`
and the caller falls back to the small model. Every exchange, whatever came of it, is
recorded in the :class:`~collaborlog.llm.audit.AuditLog` when the governor has one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from collaborlog.errors import CollaborLogError
from collaborlog.llm.answers import AnswerError
from collaborlog.llm.audit import AuditLog, Exchange, Outcome, split_identity
from collaborlog.llm.backends import ChatRequest, Completion, LLMClient, LLMError, redact

T = TypeVar("T")


class BudgetExceeded(CollaborLogError):
    """The run's LLM budget (calls or tokens) is spent, or its deadline has passed."""


class DeadlineReached(BudgetExceeded):
    """The run's deadline (:attr:`GovernorConfig.deadline_s`) has passed."""


class CacheError(CollaborLogError):
    """The response cache's file cannot be used."""


class GovernorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_calls: int | None = Field(default=None, ge=0)
    """LLM calls allowed per run (cached answers are free); ``None`` for no limit."""
    max_tokens: int | None = Field(default=None, ge=0)
    """Prompt + completion tokens allowed per run; ``None`` for no limit."""
    deadline_s: float | None = Field(default=None, gt=0)
    """Seconds of wall time per run, from its first question, after which no LLM call is made:
    every further question falls back at once ("run deadline reached"). A call in flight ends
    within its own deadline (``LLMConfig.call_deadline_s``). ``None`` for no limit."""
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
    """Completions keyed by a hash of backend, model and request, in one SQLite file.

    A file that is not an SQLite database (or a damaged one) is moved aside to ``<name>.damaged``
    with a warning and an empty cache is started: it holds nothing that cannot be asked again.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as err:
            if isinstance(err, sqlite3.OperationalError) or not self.path.is_file():
                # Locked, read-only, a folder, a table of another shape: moving it aside would not help.
                raise self._error(err, "open") from None
            damaged = self.path.with_name(self.path.name + ".damaged")
            try:
                os.replace(self.path, damaged)
                self._db = self._open()
            except (OSError, sqlite3.DatabaseError):
                raise self._error(err, "open") from None
            warnings.warn(f"the LLM response cache {self.path} was damaged ({err}); moved it to {damaged} "
                          f"and started an empty one", stacklevel=2)
        self._lock = threading.Lock()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, completion TEXT NOT NULL)")
            db.commit()
            # Reads every page once: a damaged file fails here, not in the middle of a run.
            (check,) = db.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {check}")
            db.execute("SELECT key, completion FROM answers LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _error(self, err: sqlite3.Error, action: str) -> CacheError:
        return CacheError(f"cannot {action} the LLM response cache {self.path} ({type(err).__name__}: {err}); "
                          f"delete it (it holds only answers that can be asked again) or turn the cache off "
                          f"(governor: {{cache: false}})")

    @staticmethod
    def key(identity: str, request: ChatRequest) -> str:
        payload = json.dumps([identity, asdict(request)], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def get(self, key: str) -> Completion | None:
        """The stored completion, or ``None``; a row that no longer reads as one is dropped."""
        with self._lock:
            try:
                row = self._db.execute("SELECT completion FROM answers WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as err:
                raise self._error(err, "read") from None
        if row is None:
            return None
        try:
            stored = Completion(**json.loads(row[0]))
        except (json.JSONDecodeError, TypeError):
            stored = None
        if stored is None or not _is_completion(stored):
            self.drop(key)
            return None
        return stored

    def put(self, key: str, completion: Completion) -> None:
        with self._lock:
            try:
                self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, json.dumps(asdict(completion))))
                self._db.commit()
            except sqlite3.Error as err:
                raise self._error(err, "write") from None

    def drop(self, key: str) -> None:
        with self._lock:
            try:
                self._db.execute("DELETE FROM answers WHERE key = ?", (key,))
                self._db.commit()
            except sqlite3.Error as err:
                raise self._error(err, "write") from None

    def __len__(self) -> int:
        with self._lock:
            try:
                return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            except sqlite3.Error as err:
                raise self._error(err, "read") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _is_completion(value: object) -> bool:
    """A :class:`Completion` with text and token counts: a client outside this package, or a
    cache file edited by hand, may hold anything."""
    return (isinstance(value, Completion) and isinstance(value.text, str)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                    for n in (value.prompt_tokens, value.completion_tokens)))


def _checked(completion: object, identity: str) -> Completion:
    if not _is_completion(completion):
        raise LLMError(f"{identity} returned {completion!r:.200}, not a Completion with text and token counts")
    assert isinstance(completion, Completion)
    return completion


class Governor:
    """Wraps an :class:`LLMClient` with the cache, the budgets, the deadline, the accounting and
    the audit log (thread-safe). Every question the LLM stage asks passes through here."""

    def __init__(self, client: LLMClient, config: GovernorConfig = GovernorConfig(),
                 cache: ResponseCache | None = None, audit: AuditLog | None = None) -> None:
        self.client = client
        self.config = config
        self.cache = cache if config.cache else None
        self.audit = audit
        self.records: list[CallRecord] = []
        self._calls = 0
        self._tokens = 0
        self._started: float | None = None
        self._lock = threading.Lock()

    def answer(self, request: ChatRequest, branch: str, parse: Callable[[str], T],
               served: tuple[str, ...] = ()) -> T:
        """The answer to ``request`` as read by ``parse``, from the cache or the LLM; ``served``:
        the ids of the sequences the question is asked for (for the audit log).

        Raises :class:`BudgetExceeded` (budget spent, deadline passed), :class:`LLMError`, or the
        :class:`AnswerError` of ``parse``; an answer ``parse`` rejects is counted as a failure and
        never cached, so the question is asked again next time (a cached one that no longer
        parses is dropped and asked again now).
        """
        return self._answer(request, branch, lambda completion: parse(completion.text), served)

    def ask(self, request: ChatRequest, branch: str, served: tuple[str, ...] = ()) -> Completion:
        """The completion itself, from the cache or the LLM, cached as it is: for callers that
        do not read the text. Raises :class:`BudgetExceeded` or :class:`LLMError`."""
        return self._answer(request, branch, lambda completion: completion, served)

    def _answer(self, request: ChatRequest, branch: str, read: Callable[[Completion], T],
                served: tuple[str, ...] = ()) -> T:
        asked = time.time()
        with self._lock:
            if self._started is None:
                self._started = time.monotonic()

        def audit(outcome: Outcome, completion: Completion | None = None, error: str = "") -> None:
            if self.audit is not None:
                backend, model = split_identity(self.client.identity)
                self.audit.record(Exchange(
                    asked, backend, model, branch, served, request.system, request.user,
                    completion.text if completion is not None else None,
                    completion.prompt_tokens if completion is not None else 0,
                    completion.completion_tokens if completion is not None else 0,
                    completion.seconds if completion is not None and outcome is not Outcome.CACHED else 0.0,
                    outcome, error))

        key = ResponseCache.key(self.client.identity, request) if self.cache is not None else ""
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    value = read(hit)
                except AnswerError:
                    # Stored before unreadable answers were kept out of the cache.
                    self.cache.drop(key)
                else:
                    self._record(CallRecord(branch, hit.prompt_tokens, hit.completion_tokens, 0.0, True, True))
                    audit(Outcome.CACHED, hit)
                    return value
        try:
            self._admit()
        except BudgetExceeded as err:
            audit(Outcome.REFUSED, error=str(err))
            raise
        try:
            completion = _checked(self.client.complete(request), self.client.identity)
        except LLMError as err:
            self._record(CallRecord(branch, 0, 0, 0.0, False, False, redact(str(err))[:300]))
            audit(Outcome.FAILED, error=redact(str(err)))
            raise
        with self._lock:
            self._tokens += completion.prompt_tokens + completion.completion_tokens
        self._record(CallRecord(branch, completion.prompt_tokens, completion.completion_tokens,
                                completion.seconds, False, True))
        try:
            value = read(completion)
        except AnswerError as err:
            self._record(CallRecord(branch, 0, 0, 0.0, False, False, "unparseable answer"))
            audit(Outcome.UNREADABLE, completion, f"unparseable answer: {err}")
            raise
        audit(Outcome.ANSWERED, completion)
        if self.cache is not None:
            self.cache.put(key, completion)
        return value

    def _admit(self) -> None:
        """Count one more call, or raise when the run's budget or deadline forbids it."""
        with self._lock:
            if (self.config.deadline_s is not None and self._started is not None
                    and time.monotonic() - self._started >= self.config.deadline_s):
                raise DeadlineReached(f"run deadline reached: the run's {self.config.deadline_s:g} s for LLM work "
                                      f"(governor.deadline_s) have passed")
            if self.config.max_calls is not None and self._calls >= self.config.max_calls:
                raise BudgetExceeded(f"the LLM call budget ({self.config.max_calls}) is spent")
            if self.config.max_tokens is not None and self._tokens >= self.config.max_tokens:
                raise BudgetExceeded(f"the LLM token budget ({self.config.max_tokens}) is spent")
            self._calls += 1

    def _record(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)

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
