"""The LLM stage against a misbehaving OpenAI-compatible server: a fake one on 127.0.0.1, run in a
thread, that answers each fault in turn. Every fault ends in the small model's verdict with a
reason, one verdict per sequence; nothing unreadable is cached; once the server recovers, the same
question is asked again and answered. Also: credentials never reach a message, a reason or a log
line; base_url is validated; a saved detector carries neither a server nor a key variable; the
answer parser returns a typed answer or raises AnswerError, whatever the text."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import sqlite3
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collaborlog.data.config import parse_model
from collaborlog.errors import ConfigError
from collaborlog.llm.agents import EvolCoT
from collaborlog.llm.answers import (
    LEVELS,
    AnswerError,
    EvolAnswer,
    MessageAnswer,
    StateAnswer,
    parse_evol,
    parse_message,
    parse_state,
)
from collaborlog.llm.backends import ChatRequest, Completion, LLMConfig, LLMError, ScriptedClient, build_client, redact
from collaborlog.llm.governor import Governor, GovernorConfig, ResponseCache
from collaborlog.llm.prompts import load_prompts
from collaborlog.verdicts import Branch, Evidence, HistoryItem, KnownMessage

pytest.importorskip("openai", reason="the openai package is a core dependency")

GOOD = '{"reason": "fine", "IsEvol": false, "System State": "Normal", "level": "INFO", "same_as": 0}'


def _completion(content: object = GOOD, usage: object = None) -> dict:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": usage if usage is not None else {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}


def _with_message(message: object) -> dict:
    out = _completion()
    out["choices"][0]["message"] = message
    return out


JSON = "application/json"
RESPONSES = {
    "ok": (200, JSON, json.dumps(_completion())),
    "html": (200, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "not_json": (200, JSON, "this is not json {"),
    "message_null": (200, JSON, json.dumps(_with_message(None))),
    "choices_none": (200, JSON, json.dumps({**_completion(), "choices": "none"})),
    "top_level_list": (200, JSON, json.dumps([_completion()])),
    "content_42": (200, JSON, json.dumps(_completion(content=42))),
    "tokens_as_strings": (200, JSON, json.dumps(_completion(usage={"prompt_tokens": "12", "completion_tokens": "5"}))),
    "error_with_200": (200, JSON, json.dumps({"error": {"message": "model is loading", "code": 503}})),
    "unreadable_answer": (200, JSON, json.dumps(_completion(content="I would say it looks fine."))),
    "server_error": (500, JSON, json.dumps({"error": {"message": "internal error"}})),
    "rate_limited": (429, JSON, json.dumps({"error": {"message": "slow down"}})),
}
FAULTS = [m for m in RESPONSES if m != "ok"] + ["hang", "closed"]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        server: _FakeServer = self.server
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server.requests.append(self.headers.get("Authorization", ""))
        mode = server.script.popleft() if server.script else server.mode
        if mode == "hang":
            server.release.wait(30)  # longer than any client's patience in these tests
            return
        if mode == "closed":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "echo_auth":
            # A careless server repeats the credentials it was sent in its error message.
            said = self.headers.get("Authorization")
            status, kind, text = 401, JSON, json.dumps({"error": {"message": f"bad key: {said}"}})
        else:
            status, kind, text = RESPONSES[mode]
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:  # the test output stays quiet
        pass


class _FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "ok"
        self.script: deque[str] = deque()
        self.requests: list[str] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture
def server():
    srv = _FakeServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _llm(url: str, **overrides) -> LLMConfig:
    settings_ = {"backend": "openai", "model": "fake", "base_url": url, "timeout_s": 0.3, "max_retries": 0,
                 "call_deadline_s": 5.0, "concurrency": 2, **overrides}
    return LLMConfig(**settings_)


def _agents(llm: LLMConfig, cache: ResponseCache | None = None, **governor) -> EvolCoT:
    return EvolCoT(Governor(build_client(llm), GovernorConfig(**governor), cache), load_prompts(), llm)


NORMAL = HistoryItem("h-normal", 0, ("Receiving block <BLK>", "Received block <BLK>"), 0.9)


def _sequences(n: int = 3) -> list[Evidence]:
    # The small model says anomalous (1); the fake server's good answer says Normal (0).
    return [Evidence((f"Accepting block <BLK> step {i}", "Received block <BLK>"), (NORMAL, NORMAL), NORMAL, None,
                     sm_verdict=1, sm_certain=True) for i in range(n)]


MESSAGES = {"Accepting block <BLK>": [KnownMessage("Receiving block <BLK>", 0.9, False)],
            "Cache warmed up: <NUM> entries": []}


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_falls_back_with_a_reason_caches_nothing_and_recovers(fault, server, tmp_path):
    server.mode = fault
    llm = _llm(server.url)
    cache = ResponseCache(tmp_path / "llm.sqlite")
    agents = _agents(llm, cache)
    sequences = _sequences()
    out = agents.judge_many(sequences)
    assert len(out) == len(sequences)
    assert all(j.branch is Branch.FALLBACK and j.verdict == 1 and j.fallback for j in out)
    assert all("LLM failed" in j.fallback for j in out)
    assert agents.judge_messages(MESSAGES) == {}
    assert len(cache) == 0
    asked = len(server.requests)
    assert asked >= len(sequences)

    server.mode = "ok"
    # The next run reads the same cache file: it holds nothing that would stop the question.
    rerun = _agents(llm, ResponseCache(tmp_path / "llm.sqlite"))
    again = rerun.judge_many(sequences)
    assert [(j.branch, j.verdict) for j in again] == [(Branch.AD_CERTAIN, 0)] * len(sequences)
    assert len(server.requests) == asked + 2 * len(sequences)  # Evol Detect and the AD agent, each asked again
    said = rerun.judge_messages(MESSAGES)
    assert sorted(said) == sorted(MESSAGES) and all(v.level == "INFO" for v in said.values())
    assert len(cache) == 2 * len(sequences) + len(MESSAGES)


def test_a_down_server_falls_back(free_port):
    agents = _agents(_llm(f"http://127.0.0.1:{free_port}/v1"))
    out = agents.judge_many(_sequences())
    assert len(out) == 3 and all(j.branch is Branch.FALLBACK and "LLM failed" in j.fallback for j in out)


def test_failed_attempts_are_retried_within_the_call(server):
    server.script.extend(["server_error", "closed"])
    client = build_client(_llm(server.url, max_retries=2))
    out = client.complete(ChatRequest("s", "u"))
    assert out.text == GOOD and (out.prompt_tokens, out.completion_tokens) == (12, 5)
    assert len(server.requests) == 3


def test_a_rate_limit_is_retried_and_its_retry_after_read():
    from collaborlog.llm.backends import retry_after

    assert [retry_after(h) for h in ("2", "0.5", None, "", "Wed, 21 Oct 2026 07:28:00 GMT", "-3")] == [
        2.0, 0.5, 0.0, 0.0, 0.0, 0.0]


def test_a_rate_limited_call_succeeds_on_its_retry(server):
    server.script.append("rate_limited")
    out = build_client(_llm(server.url, max_retries=1)).complete(ChatRequest("s", "u"))
    assert out.text == GOOD and len(server.requests) == 2


def test_a_hung_server_costs_one_call_deadline_not_every_retry(server):
    server.mode = "hang"
    client = build_client(_llm(server.url, timeout_s=30, max_retries=5, call_deadline_s=0.5))
    start = time.monotonic()
    with pytest.raises(LLMError, match="deadline"):
        client.complete(ChatRequest("s", "u"))
    # Without the deadline: 6 attempts of 30 s. With it: one attempt cut at 0.5 s.
    assert time.monotonic() - start < 10
    assert len(server.requests) == 1


def test_past_the_run_deadline_every_question_falls_back_at_once(server):
    server.mode = "hang"
    # The first question hangs for its whole timeout (0.3 s), longer than the run's deadline.
    agents = _agents(_llm(server.url, concurrency=1), deadline_s=0.2)
    out = agents.judge_many(_sequences())
    assert len(out) == 3 and all(j.branch is Branch.FALLBACK for j in out)
    assert all("run deadline reached" in j.fallback for j in out)
    assert len(server.requests) == 1
    assert agents.judge_message("Accepting block <BLK>", []) is None


def test_an_unreadable_answer_is_never_cached_and_an_old_one_is_dropped(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = ScriptedClient().enqueue("garbage", "garbage")
    agents = EvolCoT(Governor(client, cache=cache), load_prompts(), contrast=False)
    ev = _sequences(1)[0]
    assert agents.judge(ev).branch is Branch.FALLBACK and len(cache) == 0
    # A cache written before this rule holds an unreadable answer: it is dropped and asked again.
    request = client.requests[0]
    cache.put(ResponseCache.key(client.identity, request), Completion("garbage", 1, 1, 0.0))
    client.enqueue('{"reason": "same", "IsEvol": true}')
    judged = agents.judge(ev)
    assert judged.branch is Branch.EVOL_DETECT and len(cache) == 1


def test_a_cached_row_of_the_wrong_shape_is_dropped(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO answers VALUES (?, ?)", [
            ("number", json.dumps({"text": 42, "prompt_tokens": 1, "completion_tokens": 1, "seconds": 0.0})),
            ("fields", json.dumps({"answer": "x"})), ("json", "{not json")])
    assert [cache.get(k) for k in ("number", "fields", "json")] == [None, None, None] and len(cache) == 0


@pytest.mark.parametrize("damage", [b"this is not an sqlite file at all" * 100, None])
def test_a_damaged_cache_file_is_moved_aside_and_rebuilt(tmp_path, damage):
    path = tmp_path / "llm.sqlite"
    if damage is None:  # a real cache cut short
        ResponseCache(path).close()
        with sqlite3.connect(path) as db:
            db.executemany("INSERT INTO answers VALUES (?, ?)",
                           [(f"k{i}", json.dumps({"text": "x" * 200, "prompt_tokens": 1, "completion_tokens": 1,
                                                   "seconds": 0.0})) for i in range(300)])
        damage = path.read_bytes()[:4096 * 3]
    path.write_bytes(damage)
    with pytest.warns(UserWarning, match="damaged"):
        cache = ResponseCache(path)
    assert len(cache) == 0 and (tmp_path / "llm.sqlite.damaged").is_file()
    cache.put("k", Completion("answer", 1, 1, 0.0))
    assert cache.get("k") is not None


def test_a_cache_path_that_cannot_be_a_cache_is_a_clear_error(tmp_path):
    from collaborlog.llm.governor import CacheError

    folder = tmp_path / "llm.sqlite"
    folder.mkdir()
    with pytest.raises(CacheError, match=r"llm\.sqlite.*delete it"):
        ResponseCache(folder)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE answers (something_else TEXT)")
    with pytest.raises(CacheError, match=r"other\.sqlite.*cache: false"):
        ResponseCache(other)


# -- credentials ----------------------------------------------------------------------------------

SECRET_KEY = "sk-live-9f8e7d6c5b4a"
USER, PASSWORD = "alice", "pw-s3cr3t-word"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def test_credentials_never_reach_a_reason_an_error_or_a_log_line(server, monkeypatch, caplog):
    monkeypatch.setenv("COLLABORLOG_TEST_KEY", SECRET_KEY)
    caplog.set_level(logging.DEBUG)
    url = server.url.replace("http://", f"http://{USER}:{PASSWORD}@")
    for mode in ("echo_auth", "server_error", "html"):
        server.mode = mode
        agents = _agents(_llm(url, api_key_env="COLLABORLOG_TEST_KEY"))
        judged = agents.judge(_sequences(1)[0])
        assert judged.branch is Branch.FALLBACK
        written = [judged.fallback, agents.governor.client.identity, *(r.error for r in agents.governor.records)]
        with pytest.raises(LLMError) as err:
            agents.governor.client.complete(ChatRequest("s", "u"))
        written.append(str(err.value))
        for text in written + [caplog.text]:
            assert not any(secret in text for secret in (SECRET_KEY, PASSWORD, f"{USER}:", BASIC)), text
    # The credentials were sent, to their server (the URL's user and password win over the key).
    assert set(server.requests) == {f"Basic {BASIC}"}
    assert "***@127.0.0.1" in agents.governor.client.identity


def test_a_third_party_clients_error_is_redacted_in_the_fallback_reason():
    leak = LLMError("POST https://bob:hunter2-long@llm.example/v1 failed; Authorization: Bearer abc.def-123")
    agents = EvolCoT(Governor(ScriptedClient().enqueue(leak, leak)), load_prompts())
    why = agents.judge(_sequences(1)[0]).fallback
    assert "hunter2-long" not in why and "abc.def-123" not in why and "bob" not in why and "llm.example" in why


@pytest.mark.parametrize("text,expected", [
    ("https://user:pass@host/v1", "https://***@host/v1"),
    ("http://token@10.0.0.1:8080", "http://***@10.0.0.1:8080"),
    ("http://u:p@ss@host/v1 and http://host/x?mail=a@b", "http://***@host/v1 and http://host/x?mail=a@b"),
    ("header Authorization: Bearer sk-abc_123.x", "header Authorization: Bearer ***"),
    ('{"api_key": "sk-1234"}', '{"api_key": "***"}'),
    ("mail alice@example.com is no URL", "mail alice@example.com is no URL"),
])
def test_redact(text, expected):
    assert redact(text) == expected
    assert redact(f"key {SECRET_KEY}!", [SECRET_KEY]) == "key ***!"


@pytest.mark.parametrize("url", ["ftp://host/v1", "http://", "localhost:8080/v1", "not a url", "http://host:99999/v1",
                                 "http://exa mple.com/v1", "file:///etc/passwd", "ftp://bob:pw-s3cr3t-word@host"])
def test_invalid_base_urls_are_config_errors_that_hide_credentials(url):
    with pytest.raises(ConfigError, match="base_url") as err:
        parse_model(LLMConfig, {"backend": "openai", "base_url": url}, "llm")
    assert PASSWORD not in str(err.value)
    with pytest.raises(ValueError) as err:
        LLMConfig(backend="openai", base_url=url)
    assert PASSWORD not in str(err.value)


def test_valid_base_urls_and_an_invalid_environment_url(monkeypatch):
    for url in ("http://127.0.0.1:8080/v1", "https://api.openai.com/v1", "http://[::1]:8000", "https://u:p@h.example"):
        assert LLMConfig(base_url=url).base_url == url
    monkeypatch.setenv("OPENAI_BASE_URL", "127.0.0.1:8080")
    with pytest.raises(ConfigError, match=r"\$OPENAI_BASE_URL"):
        build_client(LLMConfig(backend="openai"))


# -- a saved detector does not say where to send requests ----------------------------------------------

def _tiny_dataset():
    from synthetic import block_log

    frame, seqs = block_log(60)
    return frame, seqs[:45], seqs[45:]


def test_a_saved_detector_carries_neither_server_nor_key_variable(tmp_path, monkeypatch):
    from collaborlog.detector.config import DetectorConfig
    from collaborlog.detector.facade import CollaborLog
    from collaborlog.detector.persistence import load, save

    config = DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 2}, "small_model": {"epochs": 2, "k": 3},
        "governor": {"cache": False},
        "llm": {"backend": "openai", "model": "m", "base_url": "http://evil.example:9/v1",
                "api_key_env": "AWS_SECRET_ACCESS_KEY"}})
    frame, train, valid = _tiny_dataset()
    det = CollaborLog(config, llm=ScriptedClient(default=GOOD)).fit(frame, train, valid)
    save(det, tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["config"]["llm"]["base_url"] is None
    assert manifest["config"]["llm"]["api_key_env"] == "OPENAI_API_KEY"
    assert manifest["config"]["llm"]["model"] == "m"  # the rest of the LLM settings travel
    for f in (tmp_path / "model").iterdir():
        text = f.read_bytes()
        assert b"evil.example" not in text and b"AWS_SECRET" not in text, f.name
    # A directory that still names them (saved by an older CollaborLog) does not pass them on.
    with monkeypatch.context() as old:
        old.setattr(LLMConfig, "portable", lambda self: self)
        save(det, tmp_path / "old")
    assert "evil.example" in (tmp_path / "old" / "manifest.json").read_text()
    loaded = load(tmp_path / "old", llm=ScriptedClient(default=GOOD))
    assert (loaded.config.llm.base_url, loaded.config.llm.api_key_env) == (None, "OPENAI_API_KEY")
    assert loaded.config.llm.model == "m"


def _unfamiliar(n: int = 12):
    from collaborlog.data.config import SessionGrouping
    from collaborlog.data.grouping import GroupStats, group_sessions
    from collaborlog.records import LogFrame

    lines = []
    for s in range(n):
        lines += [f"Opening replica rpl_{s} on volume /data{s % 3}",
                  f"Replica rpl_{s} checksum mismatch at offset {s * 512}",
                  f"Quarantined replica rpl_{s} after {s % 4 + 2} retries"]
    frame = LogFrame(lines, np.arange(len(lines), dtype=np.float64), np.zeros(len(lines), np.int8), {},
                     np.ones(len(lines), bool))
    return frame, group_sessions(frame, SessionGrouping(regex=r"rpl_\d+"), GroupStats())


def test_detection_gives_every_sequence_a_verdict_whatever_the_server_sends(server):
    from collaborlog.detector.config import DetectorConfig
    from collaborlog.detector.facade import CollaborLog

    config = DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 2}, "small_model": {"epochs": 2, "k": 3},
        "governor": {"cache": False}})
    frame, train, valid = _tiny_dataset()
    det = CollaborLog(config).fit(frame, train, valid)
    log, sequences = _unfamiliar()
    for mode in ("html", "message_null", "choices_none", "top_level_list", "content_42", "tokens_as_strings", "hang"):
        server.mode = mode
        out = det.use_llm(_llm(server.url, timeout_s=0.1)).detect(log, sequences)
        assert len(out) == len(sequences)
        routed = [d for d in out if d.route.value == "llm"]
        assert routed and all(d.branch is Branch.FALLBACK and "LLM failed" in d.fallback for d in routed), mode
    server.mode = "ok"
    out = det.use_llm(_llm(server.url)).detect(log, sequences)
    assert len(out) == len(sequences) and not any(d.branch is Branch.FALLBACK for d in out)


# -- whatever the LLM writes ---------------------------------------------------------------------------

_KEYS = st.sampled_from(["IsEvol", "is_evol", "reason", "System State", "state", "level", "same_as", "sameAs"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["true", "yes", "Normal", "Abnormal", "WARN", "error", "0", "2", "9"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS | st.text(max_size=6), inner, max_size=4),
    max_leaves=12)
_ANSWERS = st.text() | st.builds(lambda a, obj, b: a + json.dumps(obj) + b, st.text(max_size=20),
                                 st.dictionaries(_KEYS, _JSON, max_size=5), st.text(max_size=20))


def _typed(value, kind, candidates=3) -> None:
    assert isinstance(value, kind) and isinstance(value.reason, str)
    if kind is EvolAnswer:
        assert isinstance(value.is_evol, bool)
    if kind is StateAnswer:
        assert isinstance(value.anomalous, bool)
    if kind is MessageAnswer:
        assert value.level in LEVELS and isinstance(value.same_as, int) and 0 <= value.same_as <= candidates


@settings(max_examples=400, deadline=None)
@given(text=_ANSWERS, candidates=st.integers(0, 5))
def test_the_parsers_return_a_typed_answer_or_raise_answer_error(text, candidates):
    for parse, kind in ((parse_evol, EvolAnswer), (parse_state, StateAnswer),
                        (lambda t: parse_message(t, candidates), MessageAnswer)):
        try:
            value = parse(text)
        except AnswerError:
            continue
        _typed(value, kind, candidates)


def test_deeply_nested_answers_are_answer_errors_not_recursion_errors():
    for text in ('{"IsEvol": ' + "[" * 100_000 + "]" * 100_000 + "}", "{" * 5000 + "}" * 5000):
        for parse in (parse_evol, parse_state, lambda t: parse_message(t, 2)):
            with contextlib.suppress(AnswerError):
                parse(text)


@settings(max_examples=60, deadline=None)
@given(answers=st.lists(_ANSWERS, min_size=3, max_size=3))
def test_the_agents_never_raise_whatever_the_llm_writes(answers):
    client = ScriptedClient().enqueue(*answers)
    agents = EvolCoT(Governor(client, GovernorConfig(cache=False)), load_prompts())
    judged = agents.judge(_sequences(1)[0])
    assert judged.verdict in (0, 1) and (judged.branch is not Branch.FALLBACK or judged.fallback)
    verdict = agents.judge_message("Accepting block <BLK>", list(MESSAGES["Accepting block <BLK>"]))
    assert verdict is None or isinstance(verdict.problem, bool)
