"""``collaborlog serve``: a real server on a local port, spoken to over HTTP, with a tiny detector
fitted on a synthetic world (file writes, a few of which fail)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from synthetic import FAILED, NORMAL, world

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from collaborlog.detector.config import DetectorConfig  # noqa: E402
from collaborlog.detector.facade import CollaborLog  # noqa: E402
from collaborlog.detector.persistence import save  # noqa: E402
from collaborlog.records import LogFrame, Sequence  # noqa: E402
from collaborlog.server import create_app  # noqa: E402

TOKEN = "s3cret"
MAX_BODY = 64 * 1024
MAX_LINES = 500
NEW_ERROR = [("INFO", "Opening file {n}"), ("ERROR", "Replica {n} lost: checksum mismatch"), ("INFO", "Closed file {n}")]


def history() -> tuple[LogFrame, list[Sequence]]:
    labels = [1 if k % 20 == 0 else 0 for k in range(400)]
    return world([FAILED if y else NORMAL for y in labels], labels, "h")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    cfg = DetectorConfig.model_validate({"encoder": {"kind": "hashing"}, "coordinator": {"epochs": 5},
                                         "small_model": {"epochs": 2, "k": 3}, "llm": {"backend": "none"}})
    frame, seqs = history()
    return save(CollaborLog(cfg).fit(frame, seqs[:320], seqs[320:]), tmp_path_factory.mktemp("model") / "detector")


@pytest.fixture(scope="module")
def base_url(model_dir):
    with running(create_app(model_dir, token=TOKEN, max_body_bytes=MAX_BODY, max_lines=MAX_LINES)) as url:
        yield url


@contextmanager
def running(app):
    """``app`` served by uvicorn on a free local port for the block; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # the port is ours before the server starts: no race for a free one
    config = uvicorn.Config(app, log_level="warning")
    config.install_signal_handlers = False
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20  # a bound on start-up, not a timing assumption: started is a flag
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert server.started, "the test server did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def sequence(sid: str, lines: list[tuple[str, str]], n: int) -> dict:
    return {"id": sid, "lines": [t.format(n=n) for _, t in lines], "levels": [level for level, _ in lines]}


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text ``text`` (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # the exposition sorts them
    line = f"{name}{{{want}}} " if labels else f"{name} "
    values = [float(row[len(line):]) for row in text.splitlines() if row.startswith(line)]
    return values[0] if values else 0.0


def test_health_names_the_model(base_url, model_dir):
    body = httpx.get(f"{base_url}/v1/health").json()
    assert body["status"] == "ok" and body["model_dir"] == str(model_dir)
    assert body["mode"] == "supervised" and body["llm_enabled"] is False
    assert isinstance(body["format_version"], int) and body["uptime_s"] >= 0
    assert body["model_version"] == 1


def test_detect_judges_each_sequence_and_points_at_the_new_error_line(base_url):
    # Twenty normal writes beside one new failure: a new message one sequence in 21 carries is rare
    # enough to be a failure signal (a batch of one would make any message common).
    payload = {"sequences": [sequence(f"ok{k}", NORMAL, k) for k in range(20)]
               + [sequence("failed", FAILED, 5), sequence("new", NEW_ERROR, 77)]}
    reply = httpx.post(f"{base_url}/v1/detect", json=payload, headers=auth())
    assert reply.status_code == 200
    out = {d["sequence_id"]: d for d in reply.json()["detections"]}
    assert list(out) == [s["id"] for s in payload["sequences"]]
    assert all(out[f"ok{k}"]["verdict"] == 0 and out[f"ok{k}"]["lines"] == [] for k in range(20))
    # A failure pattern the history labelled: known, so its messages are not new and no line is named.
    assert out["failed"]["verdict"] == 1 and out["failed"]["branch"] == "reused"
    new = out["new"]
    assert new["verdict"] == 1 and new["route"] == "llm" and new["branch"] == "not_judged"
    # The new error line is blamed first, with why: the reason quotes it, the request logs it at ERROR, and
    # the history never showed it.
    first = new["lines"][0]
    assert (first["index"], first["text"]) == (1, "Replica 77 lost: checksum mismatch")
    assert {"cited", "problem_level", "new"} <= set(first["reasons"]) and first["score"] > 0
    assert all(line["score"] < first["score"] for line in new["lines"][1:])
    assert set(new) >= {"score", "reason", "loss", "evolved_from", "fallback"}


def test_malformed_and_invalid_bodies_are_422_with_the_reason(base_url):
    bad_json = httpx.post(f"{base_url}/v1/detect", content=b'{"sequences": [', headers={
        **auth(), "Content-Type": "application/json"})
    assert bad_json.status_code == 422 and "json" in bad_json.text.lower()
    mismatched = httpx.post(f"{base_url}/v1/detect", headers=auth(), json={
        "sequences": [{"id": "a", "lines": ["x", "y"], "levels": ["INFO"]}]})
    assert mismatched.status_code == 422 and "2 lines but 1 levels" in mismatched.text
    too_many = httpx.post(f"{base_url}/v1/detect", headers=auth(), json={
        "sequences": [{"id": "a", "lines": ["Opening file 1"] * (MAX_LINES + 1)}]})
    assert too_many.status_code == 422 and f"limit of {MAX_LINES}" in too_many.json()["detail"]


def test_an_oversized_body_is_413_declared_or_streamed(base_url):
    big = {"sequences": [{"id": "a", "lines": ["x" * 1000] * (MAX_BODY // 1000 + 1)}]}
    declared = httpx.post(f"{base_url}/v1/detect", json=big, headers=auth())
    assert declared.status_code == 413 and "larger than" in declared.json()["detail"]
    chunks = (b"x" * 8192 for _ in range(MAX_BODY // 8192 + 2))  # no Content-Length: chunked
    streamed = httpx.post(f"{base_url}/v1/detect", content=chunks, headers={**auth(), "Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_post_needs_the_token(base_url):
    payload = {"sequences": [sequence("ok", NORMAL, 1)]}
    assert httpx.post(f"{base_url}/v1/detect", json=payload).status_code == 401
    wrong = httpx.post(f"{base_url}/v1/detect", json=payload, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{base_url}/v1/health").status_code == 200


def test_metrics_count_requests_sequences_and_verdicts(base_url):
    before = httpx.get(f"{base_url}/metrics").text
    payload = {"sequences": [sequence(f"ok{k}", NORMAL, k) for k in range(3)] + [sequence("failed", FAILED, 9)]}
    assert httpx.post(f"{base_url}/v1/detect", json=payload, headers=auth()).status_code == 200
    assert httpx.post(f"{base_url}/v1/detect", json=payload).status_code == 401
    after = httpx.get(f"{base_url}/metrics").text
    for name, labels, rise in [
        ("collaborlog_http_requests_total", {"endpoint": "/v1/detect", "status": "200"}, 1),
        ("collaborlog_http_requests_total", {"endpoint": "/v1/detect", "status": "401"}, 1),
        ("collaborlog_http_requests_total", {"endpoint": "/metrics", "status": "200"}, 1),
        ("collaborlog_http_request_duration_seconds_count", {"endpoint": "/v1/detect"}, 2),
        ("collaborlog_verdicts_total", {"verdict": "normal"}, 3),
        ("collaborlog_verdicts_total", {"verdict": "anomalous"}, 1),
        ("collaborlog_sequences_total", {"route": "small_model", "branch": "reused"}, 1),
    ]:
        assert metric(after, name, **labels) - metric(before, name, **labels) == rise, (name, labels)
    assert "collaborlog_fallbacks_total 0.0" in after


def test_the_openapi_spec_describes_the_endpoints(base_url):
    spec = httpx.get(f"{base_url}/openapi.json").json()
    assert {"/v1/detect", "/v1/feedback", "/v1/health", "/metrics"} <= set(spec["paths"])
    assert "DetectRequest" in spec["components"]["schemas"]


def test_the_cli_refuses_an_unknown_or_damaged_model_dir(tmp_path, model_dir):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "manifest.json").write_text("{not json", encoding="utf-8")
    for path in (tmp_path / "no-such-model", damaged):
        run = subprocess.run([sys.executable, "-m", "collaborlog", "serve", str(path), "--port", "1"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, run.stderr
        assert "Traceback" not in run.stderr and str(path.name) in run.stderr


def test_a_missing_serve_dependency_names_the_extra(monkeypatch, model_dir):
    from collaborlog.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'collaborlog\[serve\]'"):
        create_app(model_dir)


def test_feedback_corrects_a_verdict_and_survives_a_restart(model_dir, tmp_path):
    from collaborlog.detector.persistence import load
    from collaborlog.detector.versions import VersionKind, versions

    model = tmp_path / "detector"  # a copy: the shared model stays as the other tests expect it
    shutil.copytree(model_dir, model)
    window = [sequence(f"ok{k}", NORMAL, k) for k in range(20)] + [sequence("new", NEW_ERROR, 77)]
    with running(create_app(model, token=TOKEN)) as url:
        before = httpx.post(f"{url}/v1/detect", json={"sequences": window}, headers=auth()).json()["detections"]
        assert before[-1]["verdict"] == 1  # the new error line, unjudged (no LLM)
        fix = {"corrections": [{**sequence("new", NEW_ERROR, 77), "label": 0}]}
        assert httpx.post(f"{url}/v1/feedback", json=fix).status_code == 401
        assert httpx.post(f"{url}/v1/feedback", headers=auth(), json={
            "corrections": [{**sequence("new", NEW_ERROR, 77), "label": 2}]}).status_code == 422
        reply = httpx.post(f"{url}/v1/feedback", json=fix, headers=auth())
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["version"] == 2 and body["parent"] == 1
        assert body["summary"]["sequences_learned"] == 1 and body["summary"]["anomalous_learned"] == 0
        assert body["summary"]["patterns_added"] == 1
        # Another sequence of the same pattern now reads as the operator said.
        window[-1] = sequence("again", NEW_ERROR, 91)
        after = httpx.post(f"{url}/v1/detect", json={"sequences": window}, headers=auth()).json()["detections"]
        assert after[-1]["verdict"] == 0 and "corrected by an operator" in after[-1]["reason"]
        assert httpx.get(f"{url}/v1/health").json()["model_version"] == 2
    # Saved before the answer: a restarted server (a fresh load) has the correction.
    assert [(v.number, v.kind) for v in versions(model)] == [(1, VersionKind.FIT), (2, VersionKind.FEEDBACK)]
    restarted = load(model)
    assert any(sid == "operator:new" for _, sid in restarted.patterns_.values())


def test_serve_with_an_audit_log_records_the_llm_exchanges(model_dir, tmp_path):
    from collaborlog.llm.audit import read_exchanges

    audit = tmp_path / "audit.sqlite"
    down = socket.socket()
    down.bind(("127.0.0.1", 0))  # a port nothing listens on: the LLM server is down
    url_down = f"http://127.0.0.1:{down.getsockname()[1]}/v1"
    down.close()
    with running(create_app(model_dir, llm=url_down, audit=audit)) as url:
        payload = {"sequences": [sequence(f"ok{k}", NORMAL, k) for k in range(20)] + [sequence("new", NEW_ERROR, 77)]}
        reply = httpx.post(f"{url}/v1/detect", json=payload, timeout=300)
    assert reply.status_code == 200
    new = {d["sequence_id"]: d for d in reply.json()["detections"]}["new"]
    assert new["route"] == "llm" and new["branch"] == "fallback"
    rows = read_exchanges(audit)
    assert rows and all(r.fell_back for r in rows)
    assert any("new" in r.sequences for r in rows)
