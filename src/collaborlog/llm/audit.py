"""The audit log of LLM exchanges: every question the LLM stage asks and what came of it, in SQLite.

Modelled on simonw/llm's ``logs.db``: one ``responses`` table, one row per exchange, and an
index on its time. A row holds when it was, the backend and model, the question's kind (the
agent's branch, e.g. ``evol_detect``), the sequences it served, the system and user prompt, the
answer, the token counts, the seconds it took, its :class:`Outcome`, whether the question fell
back (no answer came of it) and why. Credentials never reach it: the prompts hold log lines and
history, never a client setting, and error texts are redacted (:func:`~collaborlog.llm.backends.redact`).

Several threads (one connection, a lock) and several processes (SQLite's WAL journal and a busy
timeout) may write at once. Writing is never allowed to cost a verdict: a row that cannot be
written is dropped with a logged warning, and the run goes on.

>>> log = AuditLog(Path("llm-audit.sqlite"))  # doctest: +SKIP
>>> Governor(client, audit=log)  # every exchange of this governor is recorded  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from collaborlog.errors import CollaborLogError
from collaborlog.llm.backends import redact

logger = logging.getLogger(__name__)

AUDIT_FILE = "llm-audit.sqlite"
"""The audit log's name in the cache folder, where CLI runs keep it by default."""
BUSY_TIMEOUT_S = 10.0
"""How long a writer waits for another process's write to finish before giving up on a row."""
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
"""Fixed width, UTC, no zone: the stored times sort as text in time order."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY,
    datetime_utc TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    sequences TEXT NOT NULL,
    system TEXT NOT NULL,
    prompt TEXT NOT NULL,
    response TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    fallback INTEGER NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_datetime_utc ON responses (datetime_utc);
"""
_COLUMNS = ("datetime_utc", "backend", "model", "kind", "sequences", "system", "prompt", "response",
            "prompt_tokens", "completion_tokens", "duration_ms", "outcome", "fallback", "error")


class AuditError(CollaborLogError):
    """The audit log cannot be read, or a query of it is malformed."""


class Outcome(str, Enum):
    """What came of one exchange."""

    ANSWERED = "answered"
    """The LLM answered and the caller could read the answer."""
    CACHED = "cached"
    """Answered from the response cache: no call was made."""
    FAILED = "failed"
    """The LLM did not answer (timeout, refused or failed call, a response of the wrong shape)."""
    UNREADABLE = "unreadable"
    """The LLM answered in a form the caller could not read."""
    REFUSED = "refused"
    """Not asked: the run's call or token budget was spent, or its deadline had passed."""


_FELL_BACK = frozenset({Outcome.FAILED, Outcome.UNREADABLE, Outcome.REFUSED})


@dataclass(frozen=True)
class Exchange:
    """One question to the LLM and what came of it."""

    time: float
    """Seconds since the epoch when the question was asked."""
    backend: str
    model: str
    kind: str
    """The question's kind: the agent's branch (``new_message``, ``evol_detect``, ``ad_certain``, ...)."""
    sequences: tuple[str, ...]
    """The ids of the sequences the question served (empty when the caller named none)."""
    system: str
    prompt: str
    response: str | None
    """The answer's text; ``None`` when none came."""
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    outcome: Outcome
    error: str = ""
    """Why no usable answer came (empty when one did)."""

    @property
    def fell_back(self) -> bool:
        """No usable answer came of it: the question fell back (to the small model's verdict for
        the AD agent; Evol Detect then asks the AD agent; a new message stays unjudged)."""
        return self.outcome in _FELL_BACK


@dataclass(frozen=True)
class AuditTotals:
    exchanges: int
    calls: int
    """Exchanges that reached the LLM (answered, failed or unreadable): not cached, not refused."""
    cached: int
    prompt_tokens: int
    completion_tokens: int
    fallbacks: int


def split_identity(identity: str) -> tuple[str, str]:
    """A client identity (``openai:SERVER:MODEL``, ``embedded:FILE``) as backend and model: the
    backend is what precedes the first colon, the model the rest (for ``openai`` the server too,
    which the identity names without credentials)."""
    backend, _, model = identity.partition(":")
    return backend, model or backend


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime(_TIME_FORMAT)


def _seconds(stamp: str) -> float:
    return datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=timezone.utc).timestamp()


class AuditLog:
    """Appends :class:`Exchange` rows to the SQLite file ``path`` (thread- and process-safe).

    The file and its folder are made on the first row. :meth:`record` never raises for a
    database or file error: the row is dropped and a warning logged (the verdict matters more
    than its audit row).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.dropped = 0
        """Rows that could not be written."""
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            try:
                # WAL: readers never block the writer, and writers of two processes take turns.
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
            except sqlite3.Error:
                db.close()
                raise
            self._db = db
        return self._db

    def record(self, exchange: Exchange) -> None:
        """Append ``exchange``; a failure to write is logged as a warning, never raised."""
        values = (_stamp(exchange.time), exchange.backend, exchange.model, exchange.kind,
                  json.dumps(list(exchange.sequences), ensure_ascii=False), exchange.system, exchange.prompt,
                  exchange.response, exchange.prompt_tokens, exchange.completion_tokens,
                  round(exchange.seconds * 1000), exchange.outcome.value, int(exchange.fell_back),
                  redact(exchange.error))
        with self._lock:
            try:
                db = self._connect()
                with db:  # one transaction: committed, or rolled back on error
                    db.execute(f"INSERT INTO responses ({', '.join(_COLUMNS)}) "
                               f"VALUES ({', '.join('?' * len(_COLUMNS))})", values)
            except (sqlite3.Error, OSError) as err:
                self.dropped += 1
                logger.warning("could not write the LLM audit log %s (%s: %s); the verdict is kept, the audit row "
                               "of this %s question is lost (%d so far). Free disk space or fix the file's "
                               "permissions, or give another path (llm: {audit: PATH}, or --audit)",
                               self.path, type(err).__name__, err, exchange.kind, self.dropped)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: Callable[[], float] = time.time) -> float:
    """Seconds since the epoch that ``text`` names: a duration back from ``now`` (``30m``,
    ``2h``, ``7d``) or an ISO 8601 date or time (read as UTC when it names no zone)."""
    m = _DURATION.match(text)
    if m:
        return now() - float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AuditError(f"--since {text!r} is neither a duration (30m, 2h, 7d) nor an ISO date or time "
                         f"(2024-05-01, 2024-05-01T10:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


@dataclass(frozen=True)
class AuditQuery:
    since: float | None = None
    """Only exchanges at or after this time (seconds since the epoch)."""
    sequence: str | None = None
    """Only exchanges that served this sequence id."""
    limit: int | None = None
    """Only the latest this many (listed oldest first)."""

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.since is not None:
            clauses.append("datetime_utc >= ?")
            params.append(_stamp(self.since))
        if self.sequence is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(responses.sequences) WHERE value = ?)")
            params.append(self.sequence)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _open_to_read(path: Path) -> sqlite3.Connection:
    if not Path(path).is_file():
        raise AuditError(f"no LLM audit log at {path}: it is written by runs that ask an LLM (llm: {{audit: PATH}} "
                         f"in the experiment file, or detect --audit PATH); give the path of one")
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        db.execute("SELECT 1 FROM responses LIMIT 1").fetchall()
    except sqlite3.Error as err:
        raise AuditError(f"{path} is not an LLM audit log ({type(err).__name__}: {err}); give the file that "
                         f"llm: {{audit: PATH}} or detect --audit names") from None
    return db


def read_exchanges(path: Path, query: AuditQuery = AuditQuery()) -> list[Exchange]:
    """The exchanges in the audit log ``path`` that ``query`` selects, oldest first."""
    where, params = query.where()
    sql = f"SELECT {', '.join(_COLUMNS)} FROM responses{where} ORDER BY datetime_utc DESC, id DESC"
    if query.limit is not None:
        sql += " LIMIT ?"
        params.append(query.limit)
    db = _open_to_read(path)
    try:
        rows = db.execute(sql, params).fetchall()
    except sqlite3.Error as err:
        raise AuditError(f"cannot read the LLM audit log {path} ({type(err).__name__}: {err})") from None
    finally:
        db.close()
    return [Exchange(_seconds(r[0]), r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6], r[7], r[8], r[9],
                     r[10] / 1000, Outcome(r[11]), r[13]) for r in reversed(rows)]


def totals(exchanges: list[Exchange]) -> AuditTotals:
    """Counts and tokens over ``exchanges``."""
    cached = sum(e.outcome is Outcome.CACHED for e in exchanges)
    refused = sum(e.outcome is Outcome.REFUSED for e in exchanges)
    return AuditTotals(len(exchanges), len(exchanges) - cached - refused, cached,
                       sum(e.prompt_tokens for e in exchanges), sum(e.completion_tokens for e in exchanges),
                       sum(e.fell_back for e in exchanges))
