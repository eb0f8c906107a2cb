"""The audit log of LLM exchanges (collaborlog.llm.audit) and ``collaborlog llm-log``."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from collaborlog.cli import app
from collaborlog.llm.agents import EvolCoT
from collaborlog.llm.audit import (
    AuditError,
    AuditLog,
    AuditQuery,
    Exchange,
    Outcome,
    parse_since,
    read_exchanges,
    totals,
)
from collaborlog.llm.backends import ChatRequest, LLMConfig, LLMError, ScriptedClient, build_client
from collaborlog.llm.governor import Governor, GovernorConfig, ResponseCache
from collaborlog.llm.prompts import load_prompts
from collaborlog.verdicts import Branch, Evidence, HistoryItem

NORMAL = HistoryItem("h-normal", 0, ("Receiving block <BLK>", "Received block <BLK>"), 0.9)
NO = '{"reason": "a new step", "IsEvol": false}'
FINE = '{"reason": "fine", "System State": "Normal"}'
BOTH = '{"reason": "fine", "IsEvol": false, "System State": "Normal"}'


def _evidence(tag: str = "") -> Evidence:
    return Evidence((f"Accepting block <BLK>{tag}", "Received block <BLK>"), (NORMAL, NORMAL), NORMAL, None,
                    sm_verdict=1, sm_certain=True)


def _agents(client, audit: AuditLog, cache: ResponseCache | None = None, **governor) -> EvolCoT:
    return EvolCoT(Governor(client, GovernorConfig(**governor), cache, audit), load_prompts())


def test_each_exchange_is_a_row_with_what_was_asked_and_what_came_of_it(tmp_path):
    audit = AuditLog(tmp_path / "audit.sqlite")
    client = ScriptedClient().enqueue(NO, FINE)
    judged = _agents(client, audit).judge(_evidence(), served=("blk_1", "blk_7"))
    assert judged.branch is Branch.AD_CERTAIN
    rows = read_exchanges(audit.path)
    assert [(r.kind, r.outcome, r.fell_back) for r in rows] == [
        ("evol_detect", Outcome.ANSWERED, False), ("ad_certain", Outcome.ANSWERED, False)]
    for row, request, answer in zip(rows, client.requests, (NO, FINE)):
        assert (row.backend, row.model, row.sequences) == ("scripted", "test", ("blk_1", "blk_7"))
        assert (row.system, row.prompt, row.response) == (request.system, request.user, answer)
        assert row.prompt_tokens == len(request.system.split()) + len(request.user.split()) > 0
        assert row.completion_tokens == len(answer.split()) and row.error == "" and row.time > 0


def test_failures_unreadable_answers_refusals_and_cache_hits_are_recorded_with_why(tmp_path):
    audit = AuditLog(tmp_path / "audit.sqlite")
    client = ScriptedClient().enqueue(LLMError("HTTP 503: overloaded"), "I cannot say")
    agents = _agents(client, audit, max_calls=2)
    judged = agents.judge(_evidence(), served=("blk_2",))
    assert judged.branch is Branch.FALLBACK
    agents.judge(_evidence(" again"), served=("blk_3",))  # the call budget (2) is spent
    rows = read_exchanges(audit.path)
    assert [(r.kind, r.outcome, r.fell_back) for r in rows] == [
        ("evol_detect", Outcome.FAILED, True), ("ad_certain", Outcome.UNREADABLE, True),
        ("evol_detect", Outcome.REFUSED, True)]
    assert "HTTP 503: overloaded" in rows[0].error and rows[0].response is None
    assert "unparseable answer" in rows[1].error and rows[1].response == "I cannot say"
    assert "budget (2) is spent" in rows[2].error and rows[2].sequences == ("blk_3",)
    # A cached answer is recorded as such: no call, no latency.
    cache = ResponseCache(tmp_path / "cache.sqlite")
    cached = _agents(ScriptedClient().enqueue(NO, FINE), audit, cache)
    cached.judge(_evidence(), served=("blk_4",))
    _agents(ScriptedClient(), audit, cache).judge(_evidence(), served=("blk_5",))
    last = read_exchanges(audit.path, AuditQuery(sequence="blk_5"))
    assert [(r.outcome, r.seconds, r.fell_back) for r in last] == [(Outcome.CACHED, 0.0, False)] * 2
    total = totals(read_exchanges(audit.path))
    assert (total.exchanges, total.calls, total.cached, total.fallbacks) == (7, 4, 2, 3)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.server.echo:  # a careless server repeats the credentials it was sent
            status, body = 401, {"error": {"message": f"bad credentials: {self.headers.get('Authorization')}"}}
        else:
            status, body = 200, {"choices": [{"message": {"role": "assistant", "content": BOTH}}],
                                 "usage": {"prompt_tokens": 12, "completion_tokens": 5}}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


def test_no_credential_of_the_client_config_reaches_the_audit_log(tmp_path, monkeypatch):
    key, password = "sk-audit-secret-4242", "pa55word-audit"
    monkeypatch.setenv("COLLABORLOG_TEST_KEY", key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.echo = False
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        for url in (f"http://127.0.0.1:{server.server_address[1]}/v1",
                    f"http://bob:{password}@127.0.0.1:{server.server_address[1]}/v1"):
            config = LLMConfig(backend="openai", model="m", base_url=url, api_key_env="COLLABORLOG_TEST_KEY",
                               max_retries=0, timeout_s=5)
            audit = AuditLog(tmp_path / "audit.sqlite")
            for echo in (False, True):
                server.echo = echo
                _agents(build_client(config), audit).judge(_evidence(url[-20:] + str(echo)), served=("blk_9",))
            audit.close()
    finally:
        server.shutdown()
        server.server_close()
    rows = read_exchanges(tmp_path / "audit.sqlite")
    assert {r.outcome for r in rows} == {Outcome.ANSWERED, Outcome.FAILED}
    assert any("bad credentials" in r.error for r in rows) and {r.backend for r in rows} == {"openai"}
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("audit.sqlite"))
    assert key.encode() not in stored and password.encode() not in stored


def _exchange(i: int, writer: str) -> Exchange:
    return Exchange(1_700_000_000.0 + i, "scripted", "test", "ad_certain", (f"{writer}-{i}",), "s", f"p{i}", "{}",
                    3, 1, 0.01, Outcome.ANSWERED)


_WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_llm_audit import _exchange
from collaborlog.llm.audit import AuditLog
log = AuditLog(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    log.record(_exchange(i, sys.argv[2]))
assert log.dropped == 0
"""


def test_threads_and_processes_write_at_once_without_losing_a_row(tmp_path):
    path = tmp_path / "audit.sqlite"
    script = _WRITER.format(tests=str(Path(__file__).parent))
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), f"proc{k}", "150"]) for k in range(2)]
    log = AuditLog(path)
    threads = [threading.Thread(target=lambda k=k: [log.record(_exchange(i, f"thread{k}")) for i in range(40)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    rows = read_exchanges(path)
    assert len(rows) == 2 * 150 + 4 * 40 and log.dropped == 0
    assert len({r.sequences for r in rows}) == len(rows)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_log_that_cannot_be_written_costs_a_warning_not_the_verdict(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    audit = AuditLog(blocker / "audit.sqlite")
    with caplog.at_level(logging.WARNING, logger="collaborlog.llm.audit"):
        judged = _agents(ScriptedClient().enqueue(NO, FINE), audit).judge(_evidence())
    assert (judged.branch, judged.verdict) == (Branch.AD_CERTAIN, 0)
    assert audit.dropped == 2 and "could not write the LLM audit log" in caplog.text
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"this is no database" * 100)
    audit = AuditLog(damaged)
    assert _agents(ScriptedClient().enqueue(NO, FINE), audit).judge(_evidence()).branch is Branch.AD_CERTAIN
    assert audit.dropped == 2


def test_the_detector_records_the_sequences_each_question_served(tmp_path):
    from synthetic import block_log

    from collaborlog.data.config import SessionGrouping
    from collaborlog.data.grouping import GroupStats, group_sessions
    from collaborlog.detector.config import DetectorConfig
    from collaborlog.detector.facade import CollaborLog
    from collaborlog.records import LogFrame

    path = tmp_path / "audit.sqlite"
    config = DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 2}, "small_model": {"epochs": 2, "k": 3},
        "governor": {"cache": False}, "llm": {"audit": str(path)}})
    frame, seqs = block_log(60)
    answer = '{"reason": "r", "IsEvol": false, "System State": "Normal", "level": "INFO", "same_as": 0}'
    det = CollaborLog(config, llm=ScriptedClient(default=answer)).fit(frame, seqs[:45], seqs[45:])
    lines = [text for s in range(6) for text in (f"Opening replica rpl_{s} on volume /data{s % 3}",
                                                 f"Replica rpl_{s} checksum mismatch at offset {s * 512}")]
    log = LogFrame(lines, np.arange(len(lines), dtype=np.float64), np.zeros(len(lines), np.int8), {},
                   np.ones(len(lines), bool))
    sequences = group_sessions(log, SessionGrouping(regex=r"rpl_\d+"), GroupStats())
    routed = [d.sequence_id for d in det.detect(log, sequences) if d.route.value == "llm"]
    rows = read_exchanges(path)
    assert routed and rows and all(r.outcome is Outcome.ANSWERED and r.sequences for r in rows)
    assert {"new_message"} < {r.kind for r in rows}
    for sid in routed:
        mine = read_exchanges(path, AuditQuery(sequence=sid))
        assert mine and all(sid in r.sequences for r in mine)
    # The path is where this run writes, not part of the detector: a saved one does not carry it.
    assert det.config.llm.portable().audit is None


def _fill(path: Path) -> None:
    log = AuditLog(path)
    base = 1_714_557_600.0  # 2024-05-01T10:00:00Z
    log.record(Exchange(base, "openai", "srv:m", "new_message", ("blk_1", "blk_2"), "s", "p1",
                        '{"same_as": 0}', 10, 2, 0.25, Outcome.ANSWERED))
    log.record(Exchange(base + 3600, "openai", "srv:m", "evol_detect", ("blk_2",), "s", "p2", None, 0, 0, 0.0,
                        Outcome.FAILED, "HTTP 503"))
    log.record(Exchange(base + 7200, "openai", "srv:m", "ad_certain", ("blk_3",), "s", "p3", FINE, 20, 4, 0.0,
                        Outcome.CACHED))
    log.close()


def test_llm_log_lists_filters_and_totals(tmp_path):
    path = tmp_path / "audit.sqlite"
    _fill(path)
    runner = CliRunner()
    out = runner.invoke(app, ["llm-log", str(path), "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["new_message", "evol_detect", "ad_certain"]
    assert rows[1]["outcome"] == "failed" and rows[1]["fell_back"] and rows[1]["error"] == "HTTP 503"
    assert rows[0]["sequences"] == ["blk_1", "blk_2"] and rows[0]["prompt_tokens"] == 10
    assert "3 exchanges: 2 calls, 1 cached; 36 tokens (30 prompt, 6 completion); 1 fell back" in out.stderr
    out = runner.invoke(app, ["llm-log", str(path), "--json", "--sequence", "blk_2"])
    assert [json.loads(line)["prompt"] for line in out.stdout.splitlines()] == ["p1", "p2"]
    out = runner.invoke(app, ["llm-log", str(path), "--json", "--since", "2024-05-01T10:30"])
    assert [json.loads(line)["prompt"] for line in out.stdout.splitlines()] == ["p2", "p3"]
    out = runner.invoke(app, ["llm-log", str(path), "--json", "--limit", "1"])
    assert [json.loads(line)["prompt"] for line in out.stdout.splitlines()] == ["p3"]
    out = runner.invoke(app, ["llm-log", str(path)], env={"COLUMNS": "200"})
    assert out.exit_code == 0 and "evol_detect" in out.stdout and "HTTP 503" in out.stdout
    assert "3 exchanges: 2 calls, 1 cached" in out.stdout


def test_llm_log_reads_the_default_file_and_refuses_what_is_no_audit_log(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLABORLOG_CACHE_DIR", str(tmp_path))
    _fill(tmp_path / "llm-audit.sqlite")
    out = CliRunner().invoke(app, ["llm-log", "--json"])
    assert out.exit_code == 0 and len(out.stdout.splitlines()) == 3
    (tmp_path / "other.sqlite").write_bytes(b"not sqlite" * 200)
    for args in ([str(tmp_path / "missing.sqlite")], [str(tmp_path / "other.sqlite")],
                 [str(tmp_path / "llm-audit.sqlite"), "--since", "yesterday"]):
        done = subprocess.run([sys.executable, "-m", "collaborlog", "llm-log", *args], capture_output=True, text=True)
        assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_since_reads_durations_and_iso_times():
    assert parse_since("90m", now=lambda: 10_000.0) == 10_000.0 - 5400
    assert parse_since("2d", now=lambda: 200_000.0) == 200_000.0 - 172_800
    assert parse_since("2024-05-01") == 1_714_521_600.0
    assert parse_since("2024-05-01T12:00+02:00") == 1_714_557_600.0
    with pytest.raises(AuditError, match="neither a duration"):
        parse_since("last week")


def test_governor_without_an_audit_log_records_nothing(tmp_path):
    gov = Governor(ScriptedClient().enqueue(NO))
    assert gov.audit is None and gov.ask(ChatRequest("s", "u"), "b").text == NO
