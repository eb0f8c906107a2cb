"""A saved detector behind HTTP: ``POST /v1/detect``, ``POST /v1/feedback``, ``GET /v1/health``,
Prometheus ``GET /metrics``.

``create_app`` loads the detector once and returns a FastAPI app; ``collaborlog serve`` runs it
with uvicorn. FastAPI, uvicorn and prometheus-client are the optional ``serve`` extra, imported
only here and only when an app is built.

Detection runs in the thread pool, one request at a time behind a lock: the detector learns
templates and caches embeddings while it judges, so it is not thread-safe, and the event loop
stays free to answer health and metrics meanwhile.

Each anomalous detection names up to :data:`MAX_BLAMED` of its lines, most responsible first,
with a score and the reasons (see :mod:`collaborlog.detector.localise`): the failure signals,
messages the history saw only in failures, the level the request gives, what the reason quotes,
messages the history never or rarely showed, and what the nearest normal sequence lacks. A line
with none of these is not named.

``POST /v1/feedback`` takes an operator's corrections (each sequence's lines and its true label),
teaches them to the detector (:meth:`CollaborLog.correct`) and saves the result as a new model
version (:mod:`collaborlog.detector.versions`) before it answers, so a restart loses nothing;
it learns on the newest version on disk, so corrections sent through the command line meanwhile
are kept too. The server serves the corrected detector from then on.

A request is judged as one batch, as ``collaborlog detect`` judges a file: how common a new
message is counts among the request's sequences, and a message most of them carry is read as
routine, not as a failure. Send the sequences of a time window together; a request of one
sequence makes each of its new messages "common".
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at runtime,
# and the FastAPI types they name are imported inside ``create_app``.

import hmac
import importlib
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from collaborlog import __version__
from collaborlog.detector.facade import CollaborLog
from collaborlog.detector.learning import LearningSummary
from collaborlog.detector.versions import DEFAULT_KEEP, VersionKind, current, update
from collaborlog.errors import CollaborLogError, MissingDependencyError
from collaborlog.llm.backends import LLMConfig
from collaborlog.records import UNLABELLED, LogFrame, Sequence
from collaborlog.verdicts import BlameReason, Detection

DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_MAX_LINES = 10_000
MAX_BLAMED = 3
DETECT_PATH, FEEDBACK_PATH, HEALTH_PATH, METRICS_PATH = "/v1/detect", "/v1/feedback", "/v1/health", "/metrics"
# Request metrics are labelled by these paths only (anything else is "other"), so that probes of
# random URLs cannot grow the label set without bound.
KNOWN_PATHS = frozenset({DETECT_PATH, FEEDBACK_PATH, HEALTH_PATH, METRICS_PATH, "/openapi.json", "/docs", "/redoc"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PIP_EXTRA = "'collaborlog[serve]'"


def _require(module: str, package: str):
    """``module``, or the error that names the install fixing its absence."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package, "collaborlog serve", pip_name=PIP_EXTRA) from None


# -- the API's shapes ---------------------------------------------------------------------------
class SequenceIn(BaseModel):
    """One sequence to judge: its raw messages in order, and optionally each line's level."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    lines: list[str] = Field(min_length=1)
    levels: Optional[list[str]] = None
    """One level per line (``INFO``, ``ERROR``...): a new message logged below WARN is read as routine."""

    @model_validator(mode="after")
    def _levels_match_lines(self) -> "SequenceIn":
        if self.levels is not None and len(self.levels) != len(self.lines):
            raise ValueError(f"sequence {self.id!r} has {len(self.lines)} lines but {len(self.levels)} levels: "
                             "give one level per line, or none")
        return self


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sequences: list[SequenceIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_unique(self) -> "DetectRequest":
        seen: set[str] = set()
        for s in self.sequences:
            if s.id in seen:
                raise ValueError(f"sequence id {s.id!r} appears twice: ids must be unique within a request")
            seen.add(s.id)
        return self


class CorrectionIn(SequenceIn):
    """One corrected sequence: its lines, as for detection, and its true label."""

    label: int = Field(ge=0, le=1, strict=True)
    """1 anomalous, 0 normal."""


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corrections: list[CorrectionIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_unique(self) -> "FeedbackRequest":
        seen: set[str] = set()
        for s in self.corrections:
            if s.id in seen:
                raise ValueError(f"sequence id {s.id!r} appears twice: correct each sequence once per request")
            seen.add(s.id)
        return self


class FeedbackResponse(BaseModel):
    version: int
    """The model version the corrections were saved as (now current)."""
    parent: Optional[int]
    summary: LearningSummary
    """What the corrections taught."""


class LineOut(BaseModel):
    index: int
    """Position of the line in the request's ``lines``."""
    text: str
    score: float
    """Higher is more responsible."""
    reasons: list[BlameReason]


class DetectionOut(BaseModel):
    sequence_id: str
    verdict: int
    """1 anomalous, 0 normal."""
    score: float
    """Higher is more anomalous."""
    route: str
    branch: str
    reason: str
    loss: float
    evolved_from: Optional[str]
    fallback: Optional[str]
    lines: list[LineOut]
    """For an anomalous sequence, up to three lines to look at first, most responsible first (see
    the module docstring)."""


class DetectResponse(BaseModel):
    detections: list[DetectionOut]


class Health(BaseModel):
    status: str
    model_dir: str
    format_version: int
    collaborlog_version: str
    model_version: int
    """The version of the model directory being served (1 for a plain directory); it grows with
    each ``/v1/feedback``."""
    mode: str
    llm_enabled: bool
    uptime_s: float


class ErrorOut(BaseModel):
    detail: object


# -- detection ----------------------------------------------------------------------------------
def request_log(sequences: Collection[SequenceIn]) -> tuple[LogFrame, list[Sequence]]:
    """The request's lines as one :class:`LogFrame` (content, and levels where given) and its sequences."""
    content: list[str] = []
    levels: list[str] = []
    out: list[Sequence] = []
    for k, s in enumerate(sequences):
        start = len(content)
        content.extend(s.lines)
        # A sequence without levels gets empty ones, which no level reading recognises.
        levels.extend(s.levels if s.levels is not None else [""] * len(s.lines))
        out.append(Sequence(s.id, np.arange(start, len(content)), UNLABELLED, float(k)))
    n = len(content)
    fields = {"Level": levels} if any(s.levels is not None for s in sequences) else {}
    log = LogFrame(content=content, timestamp=np.full(n, np.nan), label=np.full(n, UNLABELLED, np.int8),
                   fields=fields, matched=np.ones(n, bool))
    return log, out


def blamed_lines(detection: Detection) -> list[LineOut]:
    """Up to :data:`MAX_BLAMED` of the lines the detection blames, most responsible first."""
    return [LineOut(index=b.position, text=b.text, score=b.score, reasons=list(b.reasons))
            for b in detection.blame[:MAX_BLAMED]]


@dataclass
class Service:
    """The loaded detector, the lock that serialises its use, and where it came from."""

    detector: CollaborLog
    model_dir: Path
    started: float
    lock: threading.Lock
    llm: Optional[LLMConfig] = None
    """The LLM the server judges with instead of the model's own (``--llm``)."""
    keep: int = DEFAULT_KEEP
    version: int = 1
    """The model directory's version being served."""

    def detect(self, request: DetectRequest) -> list[DetectionOut]:
        log, sequences = request_log(request.sequences)
        with self.lock:
            detections = self.detector.detect(log, sequences)
        return [DetectionOut(sequence_id=d.sequence_id, verdict=d.verdict, score=d.score, route=d.route.value,
                             branch=d.branch.value, reason=d.reason, loss=d.loss, evolved_from=d.evolved_from,
                             fallback=d.fallback, lines=blamed_lines(d))
                for d in detections]

    def feedback(self, request: FeedbackRequest) -> FeedbackResponse:
        """Teach the corrections to the newest saved version, save the result as a new version and serve it."""
        log, sequences = request_log(request.corrections)
        labels = [c.label for c in request.corrections]
        with self.lock:
            record, detector = update(self.model_dir, lambda det: det.correct(log, sequences, labels),
                                      VersionKind.FEEDBACK, self.keep, note=f"{len(labels)} correction(s) over HTTP",
                                      encoder=self.detector.encoder, cache_dir=self.detector.cache_dir)
            if self.llm is not None:
                detector.use_llm(self.llm)
            self.detector, self.version = detector, record.number
        return FeedbackResponse(version=record.number, parent=record.parent,
                                summary=record.summary)


# -- metrics ------------------------------------------------------------------------------------
class Metrics:
    """The app's Prometheus metrics, in a registry of its own (two apps in one process never mix)."""

    def __init__(self) -> None:
        prom = _require("prometheus_client", "prometheus-client")
        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter("collaborlog_http_requests", "HTTP requests by endpoint and status.",
                                     ["endpoint", "status"], registry=self.registry)
        self.latency = prom.Histogram("collaborlog_http_request_duration_seconds",
                                      "Time from request to the end of the response, by endpoint.",
                                      ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.sequences = prom.Counter("collaborlog_sequences", "Sequences judged, by route and branch.",
                                      ["route", "branch"], registry=self.registry)
        self.verdicts = prom.Counter("collaborlog_verdicts", "Sequences judged, by verdict.",
                                     ["verdict"], registry=self.registry)
        self.fallbacks = prom.Counter("collaborlog_fallbacks", "Routed sequences the small model judged because "
                                      "the LLM failed or its budget was spent.", registry=self.registry)
        self._text = prom.generate_latest
        self.content_type = prom.CONTENT_TYPE_LATEST

    def observe(self, detections: list[DetectionOut]) -> None:
        for d in detections:
            self.sequences.labels(d.route, d.branch).inc()
            self.verdicts.labels("anomalous" if d.verdict == 1 else "normal").inc()
            if d.fallback is not None:
                self.fallbacks.inc()

    def text(self) -> bytes:
        return self._text(self.registry)


class _RequestMetrics:
    """ASGI middleware counting and timing every request, those refused before routing included."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        status = {"code": 500}  # what a crash before the response starts is counted as

        async def recording_send(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        begin = time.perf_counter()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - begin)
            self.metrics.requests.labels(endpoint, str(status["code"])).inc()


class _BodyLimit:
    """ASGI middleware refusing bodies over ``limit`` bytes with 413: a declared length before
    reading, a streamed (chunked) body as soon as it passes the limit."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _too_large(self) -> str:
        return f"the request body is larger than {self.limit:,} bytes: send fewer sequences per request"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.exceptions import HTTPException
        from starlette.responses import JSONResponse

        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"detail": self._too_large()}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised while the endpoint reads its body; FastAPI answers it as a 413.
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, limited_receive, send)


# -- the app ------------------------------------------------------------------------------------
def create_app(model_dir: Path, llm: Optional[str] = None, token: Optional[str] = None,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, max_lines: int = DEFAULT_MAX_LINES,
               keep: int = DEFAULT_KEEP, audit: Optional[Path] = None):
    """A FastAPI app serving the detector saved in ``model_dir``.

    ``llm`` is a ``--llm`` value (``none``, ``embedded``, a URL) replacing the saved LLM;
    ``token``, when given, is required as ``Authorization: Bearer <token>`` on POST endpoints;
    ``keep``: how many model versions ``/v1/feedback`` keeps; ``audit``: an SQLite file recording
    every LLM exchange (see :mod:`collaborlog.llm.audit`).
    A missing or damaged ``model_dir`` raises :class:`~collaborlog.errors.DataError` here, before
    anything is served.
    """
    fastapi = _require("fastapi", "fastapi")
    _require("uvicorn", "uvicorn")
    from fastapi import Depends, HTTPException, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    from collaborlog.detector.persistence import FORMAT_VERSION, load
    from collaborlog.features.embeddings import default_cache_dir

    if max_body_bytes <= 0 or max_lines <= 0:
        raise CollaborLogError(f"the limits must be positive: max_body_bytes={max_body_bytes}, max_lines={max_lines}")
    if keep < 1:
        raise CollaborLogError(f"keep must be at least 1 (the current version), not {keep}")
    detector = load(Path(model_dir), cache_dir=default_cache_dir())
    override = None
    if llm is not None:
        from collaborlog.cli import llm_config

        override = llm_config(llm, None, detector.config.llm)
        detector.use_llm(override)
    if audit is not None and detector.llm_enabled:
        override = (override or detector.config.llm).model_copy(update={"audit": str(audit)})
        detector.use_llm(override)
    service = Service(detector, Path(model_dir), time.monotonic(), threading.Lock(), override, keep,
                      current(Path(model_dir)) or 1)
    metrics = Metrics()
    bearer = HTTPBearer(auto_error=False, description="Required on POST endpoints when the server has a token.")

    def authorised(credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer)) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "a valid 'Authorization: Bearer <token>' header is required",
                                headers={"WWW-Authenticate": "Bearer"})

    app = fastapi.FastAPI(title="CollaborLog", version=__version__,
                          description="Log anomaly detection with a saved CollaborLog detector.")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        # The reasons without the echoed input: a bad 1 MiB body must not come back in the answer.
        reasons = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                   for e in err.errors()]
        return JSONResponse({"detail": reasons}, status_code=422)

    @app.exception_handler(CollaborLogError)
    async def detector_failed(request: Request, err: CollaborLogError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=500)

    @app.post(DETECT_PATH, response_model=DetectResponse, dependencies=[Depends(authorised)],
              responses={401: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}})
    async def detect(payload: DetectRequest) -> DetectResponse:
        """Judge sequences of raw log messages; anomalous ones name the lines to look at first."""
        lines = sum(len(s.lines) for s in payload.sequences)
        if lines > max_lines:
            raise HTTPException(422, f"the request holds {lines:,} lines, more than the limit of {max_lines:,}: "
                                     "send fewer lines per request")
        detections = await run_in_threadpool(service.detect, payload)
        metrics.observe(detections)
        return DetectResponse(detections=detections)

    @app.post(FEEDBACK_PATH, response_model=FeedbackResponse, dependencies=[Depends(authorised)],
              responses={401: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}})
    async def feedback(payload: FeedbackRequest) -> FeedbackResponse:
        """Teach an operator's corrections (they outrank the LLM's verdicts); saved as a new model version."""
        lines = sum(len(s.lines) for s in payload.corrections)
        if lines > max_lines:
            raise HTTPException(422, f"the request holds {lines:,} lines, more than the limit of {max_lines:,}: "
                                     "send fewer corrections per request")
        return await run_in_threadpool(service.feedback, payload)

    @app.get(HEALTH_PATH, response_model=Health)
    async def health() -> Health:
        """The loaded model and how long the server has run."""
        return Health(status="ok", model_dir=str(service.model_dir), format_version=FORMAT_VERSION,
                      collaborlog_version=__version__, model_version=service.version,
                      mode=service.detector.mode_.value,
                      llm_enabled=service.detector.llm_enabled, uptime_s=round(time.monotonic() - service.started, 3))

    @app.get(METRICS_PATH, response_class=Response)
    async def prometheus_metrics() -> Response:
        """Prometheus metrics of this server."""
        return Response(metrics.text(), media_type=metrics.content_type)

    # Added last, so it runs first: the metrics see the requests the body limit refuses.
    app.add_middleware(_BodyLimit, limit=max_body_bytes)
    app.add_middleware(_RequestMetrics, metrics=metrics)
    return app


def serve(model_dir: Path, host: str = "127.0.0.1", port: int = 8080, llm: Optional[str] = None,
          token: Optional[str] = None, keep: int = DEFAULT_KEEP, audit: Optional[Path] = None) -> None:
    """Load the detector and serve it until interrupted (a bad model directory fails before listening)."""
    app = create_app(model_dir, llm=llm, token=token, keep=keep, audit=audit)
    uvicorn = _require("uvicorn", "uvicorn")
    uvicorn.run(app, host=host, port=port, log_level="info")
