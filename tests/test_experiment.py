from __future__ import annotations

import gc
import json
import weakref

from collaborlog.detector.facade import CollaborLog
from collaborlog.experiments import run
from collaborlog.experiments.config import ExperimentConfig
from collaborlog.experiments.run import markdown, run_experiment, write_run
from collaborlog.features.encoders import HashingEncoder
from collaborlog.llm.backends import ScriptedClient

ANSWER = '{"reason": "routine transfer", "IsEvol": false, "System State": "Normal"}'


def _cfg(**kw) -> ExperimentConfig:
    return ExperimentConfig.model_validate({
        "name": "fixture", "dataset": "hdfs-20k", "encoder": {"kind": "hashing"},
        "coordinator": {"epochs": 10}, "small_model": {"epochs": 3, "k": 3}, "governor": {"cache": False},
        "aem": {"batch_size": 40, "coordinator_epochs": 20}, "llm_alone_sample": 12,
        "evolve": {"seed": 0, "template_ratio": 0.5}, **kw})


def test_experiment_table_on_a_small_fixture(data_dir, tmp_path):
    report, detector = run_experiment(_cfg(), None, data_dir, llm=ScriptedClient(default=ANSWER))
    names = [s.system for s in report.systems]
    assert names == ["small model alone", "CollaborLog without AEM", "CollaborLog with AEM"]
    assert report.on_sample[0].system == "LLM alone (random sample of 12, 6 anomalous)"
    assert report.on_sample[0].scores.anomalies == 6
    assert all(s.scores.n <= 12 for s in report.on_sample)
    assert report.systems[0].llm_share == 0.0 and report.systems[1].llm_share > 0
    # The AEM learns: it never sends more to the LLM than the same detector without it.
    assert report.systems[2].llm_share <= report.systems[1].llm_share
    assert len(report.stream["with_aem"]) == len(report.stream["without_aem"]) == -(-report.test_sequences // 40)
    assert abs(sum(b["share"] for b in report.branches) - 1.0) < 1e-9
    assert report.systems[2].llm_calls > 0 and report.systems[2].tokens > 0
    text = markdown(report)
    assert "| CollaborLog with AEM |" in text and "Evol-CoT branches" in text and "by third" in text
    assert len(report.llm_share_by_third) == 3
    files = write_run(report, tmp_path)
    assert {p.name for p in files} == {"results.json", "results.md", "detections.jsonl", "stream.png"}
    rows = [json.loads(line) for line in (tmp_path / "detections.jsonl").read_text().splitlines()]
    assert len(rows) == report.test_sequences and "detections" not in json.loads((tmp_path / "results.json").read_text())
    with_aem = report.systems[2].scores
    assert sum(r["verdict"] == 1 and r["label"] == 1 for r in rows) == with_aem.tp
    assert sum(r["verdict"] == 1 and r["label"] == 0 for r in rows) == with_aem.fp
    assert all(r["reason"] for r in rows if r["route"] == "llm" and r["branch"] != "fallback")
    assert detector.learned_batches_ >= 1
    tracked = report.tracked()
    assert tracked.metrics["CollaborLog with AEM/f1"] == with_aem.f1
    assert tracked.metrics["CollaborLog with AEM/llm_calls"] == report.systems[2].llm_calls
    assert len(tracked.tables["branches"].rows) == len(report.branches)


def test_experiment_is_reproducible(data_dir):
    a, _ = run_experiment(_cfg(llm_alone_sample=0), None, data_dir, llm=ScriptedClient(default=ANSWER))
    b, _ = run_experiment(_cfg(llm_alone_sample=0), None, data_dir, llm=ScriptedClient(default=ANSWER))
    assert [s.scores for s in a.systems] == [s.scores for s in b.systems]
    assert a.stream == b.stream and a.branches == b.branches


def test_systems_are_also_scored_on_the_changed_sequences_alone(data_dir):
    cfg = _cfg(llm_alone_sample=0, evolve={"seed": 0, "template_ratio": 0.0, "sequence_ratio": 0.3})
    report, _ = run_experiment(cfg, None, data_dir, llm=ScriptedClient(default=ANSWER))
    assert 0 < report.changed < report.test_sequences
    assert [r.system for r in report.on_changed] == [
        "small model alone (changed only)", "CollaborLog without AEM (changed only)", "CollaborLog with AEM (changed only)"]
    assert all(r.scores.n == report.changed for r in report.on_changed)


def test_the_history_the_fitted_detector_and_the_encoder_model_are_freed_before_the_llm_loads(data_dir, monkeypatch):
    """Memory: the embedded LLM is built (``build_client``) only once what the LLM phase does not
    need is gone, so that the run's peak is the larger of the two phases, not their sum."""
    held: dict[str, weakref.ref] = {}
    events: list = []
    load, fit = run.load_experiment_dataset, CollaborLog.fit

    def loading(*args, **kwargs):
        dataset = load(*args, **kwargs)
        held["dataset"] = weakref.ref(dataset)
        return dataset

    def fitting(self, *args, **kwargs):
        held["fitted"] = weakref.ref(self)
        return fit(self, *args, **kwargs)

    def building(config):
        gc.collect()
        events.append(("client", held["dataset"]() is None, held["fitted"]() is None))
        return ScriptedClient(default=ANSWER)

    monkeypatch.setattr(run, "load_experiment_dataset", loading)
    monkeypatch.setattr(CollaborLog, "fit", fitting)
    monkeypatch.setattr(HashingEncoder, "unload", lambda self: events.append("unload"))
    monkeypatch.setattr(run, "build_client", building)
    cfg = _cfg(llm_alone_sample=0)
    assert cfg.detector.llm.backend == "embedded"  # no client given: the run builds the configured one
    report, _ = run_experiment(cfg, None, data_dir)
    assert events == ["unload", ("client", True, True)]
    # The same results as with the client given from the start (nothing was built then).
    given, _ = run_experiment(cfg, None, data_dir, llm=ScriptedClient(default=ANSWER))
    assert [s.scores for s in report.systems] == [s.scores for s in given.systems]
    assert report.stream == given.stream and report.branches == given.branches
