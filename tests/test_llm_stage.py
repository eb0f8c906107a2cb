from __future__ import annotations

import threading

import pytest

from collaborlog.llm.agents import EvolCoT
from collaborlog.llm.answers import AnswerError, parse_evol, parse_message, parse_state
from collaborlog.llm.backends import ChatRequest, LLMConfig, LLMError, ScriptedClient
from collaborlog.llm.governor import Governor, GovernorConfig, ResponseCache
from collaborlog.llm.prompts import load_prompts, render_diff, render_sequence
from collaborlog.verdicts import Branch, Evidence, HistoryItem, KnownMessage

NORMAL = HistoryItem("h-normal", 0, ("Receiving block <BLK>", "Received block <BLK>", "PacketResponder <NUM> terminating"), 0.9)
ABNORMAL = HistoryItem("h-bad", 1, ("Receiving block <BLK>", "Exception in receiveBlock for block <BLK>"), 0.8)


def _evidence(certain=True, messages=("Accepting block <BLK>", "Received block <BLK>", "PacketResponder <NUM> exiting")):
    neighbours = (NORMAL, NORMAL, NORMAL) if certain else (NORMAL, ABNORMAL, NORMAL)
    return Evidence(tuple(messages), neighbours, NORMAL, ABNORMAL, sm_verdict=1, sm_certain=certain)


def _agents(client, **governor):
    return EvolCoT(Governor(client, GovernorConfig(**governor)), load_prompts())


@pytest.mark.parametrize("text,expected", [
    ('{"reason": "same steps", "IsEvol": true}', True),
    ('```json\n{"reason": "x", "IsEvol": "True"}\n```', True),
    ('Sure! Here it is: {"isevol": "yes", "Reason": "renamed"} hope that helps', True),
    ('{"reason": "an exception appeared", "is_evol": false}', False),
    ('{"reason": "cut off", "IsEvol": "no"', False),
])
def test_parse_evol_tolerates_common_shapes(text, expected):
    assert parse_evol(text).is_evol is expected


@pytest.mark.parametrize("text,expected", [
    ('{"reason": "r", "System State": "Abnormal"}', True),
    ('{"REASON": "r", "system_state": "normal"}', False),
    ('answer: {"systemState": "Anomalous"}', True),
])
def test_parse_state_tolerates_common_shapes(text, expected):
    assert parse_state(text).anomalous is expected


@pytest.mark.parametrize("text", ["", "I think it is fine", '{"IsEvol": "maybe"}', "{{{"])
def test_garbage_answers_are_answer_errors(text):
    with pytest.raises(AnswerError):
        parse_evol(text)
    with pytest.raises(AnswerError):
        parse_state(text)


def test_prompts_render_with_diff_and_schema_order():
    diff = render_diff(list(NORMAL.messages), ["Accepting block <BLK>", "Received block <BLK>", "Metrics published",
                                               "PacketResponder <NUM> terminating"])
    assert "~ changed: [Receiving -> Accepting] block <BLK>" in diff
    assert "= Received block <BLK>" in diff and "+ added: Metrics published" in diff
    assert render_sequence(["a", "a", "a", "b"]) == "  1. a (x3)\n  2. b"
    prompts = load_prompts()
    system, user = prompts["evol_detect"].render(diff=diff)
    assert "Entry evolution" in system and diff in user
    assert user.index('"reason"') < user.index('"IsEvol"')  # reasoning before the verdict


def test_prompt_folder_overrides_one_prompt(tmp_path):
    (tmp_path / "ad_certain.txt").write_text("[system]\nS\n[user]\nJudge $sequence given $examples")
    prompts = load_prompts(tmp_path)
    assert prompts["ad_certain"].render(sequence="X", examples="E") == ("S", "Judge X given E")
    assert "Entry evolution" in prompts["evol_detect"].render(diff="d")[0]


YES = '{"reason": "only wording changed", "IsEvol": true}'
NO = '{"reason": "a new error", "IsEvol": false}'


def test_evolved_sequence_inherits_the_historical_label():
    client = ScriptedClient().enqueue(YES)
    j = _agents(client).judge(_evidence())
    assert (j.verdict, j.branch, j.evolved_from, j.reason) == (0, Branch.EVOL_DETECT, "h-normal", "only wording changed")
    # No failure signal: only the nearest normal history is a candidate.
    assert len(client.requests) == 1 and "-> Accepting] block" in client.requests[0].user


def test_failure_signals_steer_evol_detect_to_the_abnormal_history():
    ev = _evidence(messages=("Accepting block <BLK>", "Exception in receiveBlock for block <BLK>"))
    ev = Evidence(ev.messages, ev.neighbours, NORMAL, ABNORMAL, 0, True,
                  failure_signals=("Exception in receiveBlock for block <BLK>",))
    client = ScriptedClient().enqueue(YES)
    j = _agents(client).judge(ev)
    assert (j.verdict, j.evolved_from, len(client.requests)) == (1, "h-bad", 1)
    # The AD agent is shown the signals too.
    client = ScriptedClient().enqueue(NO, '{"reason": "exception", "System State": "Abnormal"}')
    _agents(client).judge(ev)
    assert "resemble messages seen only in past failures" in client.requests[1].user
    assert "Exception in receiveBlock" in client.requests[1].user.split("Failure signals")[1]


def test_without_contrast_one_call_to_the_nearest():
    client = ScriptedClient().enqueue('{"reason": "same", "IsEvol": true}')
    agents = EvolCoT(Governor(client), load_prompts(), contrast=False)
    j = agents.judge(_evidence(certain=False))
    assert (j.branch, j.evolved_from, len(client.requests)) == (Branch.EVOL_DETECT, "h-normal", 1)


def test_certain_branch_gets_few_shot_neighbours():
    client = ScriptedClient().enqueue(NO, '{"reason": "exception present", "System State": "Abnormal"}')
    j = _agents(client).judge(_evidence(certain=True))
    assert (j.verdict, j.branch, j.compared_with) == (1, Branch.AD_CERTAIN, ("h-normal",))
    assert "Example 1 (Normal)" in client.requests[1].user


def test_uncertain_branch_gets_normal_and_abnormal_contrast():
    client = ScriptedClient().enqueue(NO, '{"reason": "fine", "System State": "Normal"}')
    j = _agents(client).judge(_evidence(certain=False))
    assert (j.verdict, j.branch, j.compared_with) == (0, Branch.AD_UNCERTAIN, ("h-normal", "h-bad"))
    assert "Most similar ABNORMAL" in client.requests[1].user and "Exception in receiveBlock" in client.requests[1].user
    # Sampling defaults follow the paper.
    assert (client.requests[0].temperature, client.requests[0].top_p) == (0.01, 0.95)


@pytest.mark.parametrize("failure", [LLMError("timeout"), "not json at all"])
def test_failures_fall_back_to_the_small_model(failure):
    client = ScriptedClient().enqueue(failure, failure)
    agents = _agents(client)
    j = agents.judge(_evidence())
    assert j.branch is Branch.FALLBACK and j.verdict == 1 and j.fallback and j.failures == 2
    assert sum(s["failures"] for s in agents.governor.summary().values()) == 2


def test_evol_failure_still_lets_the_ad_agent_answer():
    client = ScriptedClient().enqueue(LLMError("503"), '{"reason": "fine", "System State": "Normal"}')
    j = _agents(client).judge(_evidence())
    assert (j.branch, j.verdict, j.failures) == (Branch.AD_CERTAIN, 0, 1)


def test_budget_ends_in_fallback_not_loss():
    client = ScriptedClient(default='{"reason": "r", "IsEvol": false, "System State": "Normal"}')
    agents = _agents(client, max_calls=5, cache=False)
    out = agents.judge_many([_evidence(messages=(f"event {i}",)) for i in range(4)])
    assert len(out) == 4 and len(client.requests) == 5
    assert [j.branch for j in out].count(Branch.FALLBACK) >= 2
    assert all(j.fallback and "budget" in j.fallback for j in out if j.branch is Branch.FALLBACK)


def test_token_budget():
    client = ScriptedClient(default='{"reason": "r", "IsEvol": true}')
    agents = EvolCoT(Governor(client, GovernorConfig(max_tokens=1, cache=False)), load_prompts(), contrast=False)
    first, second = agents.judge(_evidence(messages=("a",))), agents.judge(_evidence(messages=("b",)))
    assert first.branch is Branch.EVOL_DETECT and second.branch is Branch.FALLBACK


def test_identical_patterns_in_a_batch_are_judged_once():
    client = ScriptedClient(default='{"reason": "r", "IsEvol": true}')
    agents = EvolCoT(Governor(client), load_prompts(), contrast=False)
    same = [_evidence(), _evidence(), _evidence(messages=("Accepting block <BLK>", "Accepting block <BLK>"))]
    out = agents.judge_many(same + [_evidence(messages=("Accepting block <BLK>",))])
    # Three distinct patterns ("x2" counts as a different pattern from a single line): three calls.
    assert len(out) == 4 and len(client.requests) == 3 and out[0] == out[1]


def test_response_cache_persists_across_runs(tmp_path):
    request = ChatRequest("s", "u", None)
    client = ScriptedClient().enqueue('{"IsEvol": true}')
    Governor(client, cache=ResponseCache(tmp_path / "c.sqlite")).ask(request, "evol_detect")
    again = ScriptedClient()  # would fail if asked
    gov = Governor(again, cache=ResponseCache(tmp_path / "c.sqlite"))
    assert gov.ask(request, "evol_detect").text == '{"IsEvol": true}' and again.requests == []
    assert gov.summary()["evol_detect"]["cached"] == 1
    other = ScriptedClient(identity="scripted:other").enqueue("x")
    Governor(other, cache=ResponseCache(tmp_path / "c.sqlite")).ask(request, "evol_detect")
    assert len(other.requests) == 1  # another model never reads this one's answers


def test_governor_accounting_is_thread_safe():
    client = ScriptedClient(default="{}")
    gov = Governor(client, GovernorConfig(cache=False, max_calls=50))
    threads = [threading.Thread(target=lambda: [gov.ask(ChatRequest("s", "u"), "b") for _ in range(10)]) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gov.summary()["b"]["calls"] == 50 and len(client.requests) == 50


def test_failure_signatures_align_lines_to_failure_only_history():
    import numpy as np

    from collaborlog.memory.signatures import FailureSignatures

    def unit(*v):
        v = np.array(v, dtype=np.float32)
        return v / np.linalg.norm(v)

    vec = {"ok a": unit(1, 0, 0), "ok b": unit(0, 1, 0), "boom": unit(0, 0, 1),
           "kaboom (new wording)": unit(0, 0.1, 1), "fresh routine": unit(0.7, 0.7, 0.1),
           # Close to the failure message, but closer still to its routine original: no signal.
           "ok b, reworded": unit(0, 1, 0.8)}
    sig = FailureSignatures(threshold=0.6).fit([["ok a", "ok b"], ["ok a", "boom"]], np.array([0, 1]), vec)
    assert [m for m, f in zip(sig.messages_, sig.failure_only_) if f] == ["boom"]
    lines = ["ok a", "kaboom (new wording)", "fresh routine", "ok b, reworded"]
    assert sig.signals(lines, vec) == ("kaboom (new wording)",)
    again = FailureSignatures.from_state(sig.state_dict())
    assert again.signals(["boom"], vec) == ("boom",)


@pytest.mark.parametrize("text,expected", [
    ('{"reason": "renamed", "level": "INFO", "same_as": 2}', ("INFO", 2, False)),
    ('```json\n{"Reason": "a failure", "Level": "warning", "sameAs": "0"}\n```', ("WARN", 0, True)),
    ('{"reason": "cut off", "level": "error", "same_as": 1', ("ERROR", 1, True)),
])
def test_parse_message_tolerates_common_shapes(text, expected):
    answer = parse_message(text, candidates=3)
    assert (answer.level, answer.same_as, answer.problem) == expected


@pytest.mark.parametrize("text", ['{"reason": "x", "level": "INFO", "same_as": 4}',
                                  '{"reason": "x", "level": "INFO"}', '{"reason": "x", "level": "LOUD", "same_as": 0}'])
def test_parse_message_rejects_answers_it_cannot_trust(text):
    with pytest.raises(AnswerError):
        parse_message(text, candidates=3)


ROUTINE = KnownMessage("Receiving block <BLK> src: /<IP>", 0.8, failure_only=False)
FAILURE = KnownMessage("Exception in receiveBlock for block <BLK>", 0.7, failure_only=True)


def test_a_rewording_inherits_the_old_messages_standing_and_a_new_event_is_judged_by_its_level():
    ask = '{"reason": "r", "level": "%s", "same_as": %d}'
    client = ScriptedClient().enqueue(ask % ("INFO", 1), ask % ("INFO", 2), ask % ("ERROR", 1), ask % ("INFO", 0),
                                      ask % ("WARN", 0))
    agents = _agents(client)
    reworded = agents.judge_message("Accepting chunk <BLK> src= /<IP>", [ROUTINE, FAILURE])
    assert (reworded.rewords, reworded.problem, reworded.routine, reworded.level) == (ROUTINE.message, False, False, "INFO")
    # A rewording of a failure-only message is a failure, whatever level the LLM gives it ...
    failure = agents.judge_message("throwable in receiveBlock of chunk <BLK>", [ROUTINE, FAILURE])
    assert (failure.rewords, failure.problem) == (FAILURE.message, True)
    # ... and a rewording of a routine one is routine: the history outweighs one word of a small model.
    truncated = agents.judge_message("Receiving block <BLK> src", [ROUTINE, FAILURE])
    assert (truncated.rewords, truncated.problem) == (ROUTINE.message, False)
    routine = agents.judge_message("Cache warmed up: <NUM> entries", [ROUTINE])
    assert routine.routine and routine.rewords is None
    warning = agents.judge_message("Disk <PATH> is <NUM>% full", [])
    assert (warning.problem, warning.routine) == (True, False)
    assert "2. Exception in receiveBlock" in client.requests[0].user
    assert client.requests[3].schema["properties"]["same_as"]["enum"] == [0, 1]
    assert "(none)" in client.requests[4].user


def test_new_messages_that_fail_or_exceed_the_budget_get_no_verdict():
    client = ScriptedClient().enqueue("garbage", '{"reason": "r", "level": "INFO", "same_as": 0}')
    agents = EvolCoT(Governor(client, GovernorConfig(max_calls=2)), load_prompts(), LLMConfig(concurrency=1))
    out = agents.judge_messages({"a <NUM>": [ROUTINE], "b <NUM>": [ROUTINE], "c <NUM>": [ROUTINE]})
    assert list(out) == ["b <NUM>"] and out["b <NUM>"].routine
