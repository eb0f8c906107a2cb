"""The Ray engine against the single-process path: a local cluster (2 CPUs) on small synthetic logs.

Each test compares detections sequence by sequence with ``CollaborLog.detect`` (or
``detect_stream``) over the same sequences in one process: they must be identical.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from collaborlog.data.config import DatasetConfig
from collaborlog.data.grouping import GroupStats, group_sessions
from collaborlog.data.readers import read_log
from collaborlog.errors import ConfigError, DataError
from collaborlog.llm.backends import LLMConfig, ScriptedClient
from collaborlog.scale.sessions import input_files, merge_parts, read_parts

ray = pytest.importorskip("ray", reason="the Ray engine needs pip install 'collaborlog[ray]'")
pytestmark = pytest.mark.ray

ANSWER = '{"reason": "fine", "IsEvol": false, "System State": "Normal", "level": "INFO", "same_as": 0}'
SESSIONS = 120


def _dataset(path: str) -> DatasetConfig:
    return DatasetConfig.model_validate({
        "name": "blocks", "source": {"kind": "text", "path": path, "log_format": "<Level> <Content>"},
        "grouping": {"kind": "session", "regex": r"blk_\d+"}})


def _lines(n: int, start: int = 0, novel: bool = True) -> list[str]:
    """Block sessions whose lines interleave, so that a session's lines fall into several files."""
    out = []
    for s in range(start, start + n):
        out += [f"INFO Receiving block blk_{s} src: /10.0.0.{s % 9}:500{s % 7}",
                f"INFO Received block blk_{s} of size {1000 + s} from /10.0.0.{s % 9}"]
        if s % 10 == 9:
            out.append(f"ERROR Exception in receiveBlock for block blk_{s} java.io.IOException")
        if novel and s % 17 == 5:
            # Messages the history never showed: routed to the LLM.
            out += [f"INFO Deleting block blk_{s} file /data/current/subdir{s % 5}/blk_{s}",
                    f"INFO BLOCK* NameSystem.delete: blk_{s} is added to invalidSet of 10.0.0.{s % 9}:50010",
                    f"WARN Unexpected error trying to delete block blk_{s}. BlockInfo not found in volumeMap"]
        out.append(f"INFO PacketResponder {s % 3} for block blk_{s} terminating")
    # Interleave: every session's last line comes after every other session's first lines.
    return [line for line in out if "PacketResponder" not in line] + [line for line in out if "PacketResponder" in line]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cache = tmp_path_factory.mktemp("ray-cache")
    patch = pytest.MonkeyPatch()
    # A failing test must not leave Ray Data threads that start a second cluster and hang the run.
    patch.setenv("RAY_ENABLE_AUTO_CONNECT", "0")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR",
             runtime_env={"env_vars": {"COLLABORLOG_CACHE_DIR": str(cache)}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()
    patch.undo()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A detector fitted on history block sessions, saved."""
    return _fitted(tmp_path_factory.mktemp("model"), labelled=True)


@pytest.fixture(scope="module")
def label_free_model(tmp_path_factory):
    """The same, fitted on the history without its labels."""
    return _fitted(tmp_path_factory.mktemp("label-free-model"), labelled=False)


def _fitted(folder, labelled: bool):
    from collaborlog.detector.config import DetectorConfig
    from collaborlog.detector.facade import CollaborLog
    from collaborlog.detector.persistence import save

    history = folder / "history.log"
    history.write_text("\n".join(_lines(200, start=10_000, novel=False)) + "\n")
    ds = _dataset(str(history))
    frame = read_log(history, ds.source, keep_fields={"Level"})
    seqs = group_sessions(frame, ds.grouping, GroupStats())
    labelled = [s.__class__(s.id, s.lines, int(any("Exception" in frame.content[i] for i in s.lines))
                            if labelled else -1, s.start) for s in seqs]
    config = DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 40}, "small_model": {"epochs": 2, "k": 3},
        "governor": {"cache": False}, "aem": {"batch_size": 40, "coordinator_epochs": 1, "small_model_epochs": 1}})
    detector = CollaborLog(config, llm=ScriptedClient(default=ANSWER)).fit(frame, labelled[:160], labelled[160:])
    return save(detector, folder / "detector")


@pytest.fixture
def logs(tmp_path):
    """The same log as one file and cut into three files (and a dataset describing either)."""
    lines = _lines(SESSIONS)
    whole = tmp_path / "whole.log"
    whole.write_text("\n".join(lines) + "\n")
    parts = tmp_path / "parts"
    parts.mkdir()
    for k, chunk in enumerate(np.array_split(np.array(lines, dtype=object), 3)):
        (parts / f"part-{k}.log").write_text("\n".join(chunk) + "\n")
    return whole, parts


def _single_process(model, whole, learn=False, batch=None):
    from collaborlog.detector.persistence import load

    ds = _dataset(str(whole))
    frame = read_log(whole, ds.source, keep_fields={"Level"})
    seqs = group_sessions(frame, ds.grouping, GroupStats())
    client = ScriptedClient(default=ANSWER)
    detector = load(model, llm=client)
    if learn:
        return [d for b in detector.detect_stream(frame, seqs, batch_size=batch) for d in b], client
    return detector.detect(frame, seqs), client


def _as_rows(detections):
    from dataclasses import asdict

    # The blamed lines are left out: the Ray engine judges without the log's frame, so it names none.
    return {d.sequence_id: json.loads(json.dumps({**asdict(d), "blame": ()}, default=str)) for d in detections}


def test_sessions_spanning_files_are_merged_in_file_order(logs):
    whole, parts = logs
    ds = _dataset(str(whole))
    pieces = [p for k, f in enumerate(input_files([parts])) for p in read_parts(str(f), k, ds)]
    by_key: dict[str, list[dict]] = {}
    for p in reversed(pieces):  # the shuffle delivers parts in any order
        by_key.setdefault(p["key"], []).append(p)
    merged = {k: merge_parts(v) for k, v in by_key.items()}
    frame = read_log(whole, ds.source, keep_fields={"Level"})
    expected = group_sessions(frame, ds.grouping, GroupStats())
    assert len(merged) == len(expected) == SESSIONS
    assert sum(len(v) > 1 for v in by_key.values()) > SESSIONS // 2  # most sessions do span files
    for s in expected:
        assert merged[s.id]["content"] == [frame.content[i] for i in s.lines]
        assert merged[s.id]["level"] == [frame.fields["Level"][i] for i in s.lines]
    # Order of first appearance, as one process groups them.
    assert [s.id for s in expected] == [r["key"] for r in sorted(merged.values(), key=lambda r: r["order"])]


def test_ray_detections_equal_the_single_process_ones(cluster, model, logs, tmp_path):
    from collaborlog.detector.persistence import load
    from collaborlog.scale import RayConfig, detect_on_ray, write_detections

    whole, parts = logs
    expected, single = _single_process(model, whole)
    client = ScriptedClient(default=ANSWER)
    result = detect_on_ray(load(model, llm=client), _dataset("unused"), [parts], RayConfig(workers=2, batch_size=16))
    assert result.files == 3 and set(result.versions) == {0}
    got = _as_rows(result.detections)
    assert got == _as_rows(expected)
    routed = [d for d in result.detections if d.route.value == "llm"]
    assert routed, "the fixture must route some sequences to the LLM"
    # One governor for the job: no more LLM calls than one process makes.
    assert len(client.requests) == len(single.requests) > 0
    out = write_detections(tmp_path / "d.jsonl", result.detections, result.versions)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["sequence_id"] for r in written] == [d.sequence_id for d in result.detections]
    assert {r["detector_version"] for r in written} == {0}


def test_ray_with_the_aem_equals_detect_stream_and_hands_out_new_versions(cluster, model, logs):
    from collaborlog.detector.persistence import load
    from collaborlog.scale import RayConfig, detect_on_ray

    whole, parts = logs
    expected, _ = _single_process(model, whole, learn=True, batch=60)
    learned = []
    result = detect_on_ray(load(model, llm=ScriptedClient(default=ANSWER)), _dataset("unused"), [parts],
                           RayConfig(workers=2, batch_size=16, round_size=60), learn=True, on_learned=learned.append)
    assert _as_rows(result.detections) == _as_rows(expected)
    # Rounds of 60 sequences: each judged by one version, the one the rounds before it taught.
    per_round = [set(result.versions[k:k + 60]) for k in range(0, len(result.versions), 60)]
    assert all(len(v) == 1 for v in per_round)
    numbers = [v.pop() for v in per_round]
    assert numbers[0] == 0 and all(b - a in (0, 1) for a, b in zip(numbers, numbers[1:]))
    assert learned and max(numbers) <= len(learned) <= max(numbers) + 1


def test_ray_with_the_aem_equals_detect_stream_without_labels(cluster, label_free_model, logs):
    # Without labels drift is read on the whole input's losses: the actors read them ahead too.
    from collaborlog.detector.persistence import load
    from collaborlog.scale import RayConfig, detect_on_ray

    whole, parts = logs
    assert load(label_free_model).novelty_ is not None
    expected, _ = _single_process(label_free_model, whole, learn=True, batch=60)
    result = detect_on_ray(load(label_free_model, llm=ScriptedClient(default=ANSWER)), _dataset("unused"), [parts],
                           RayConfig(workers=2, batch_size=16, round_size=60), learn=True)
    assert _as_rows(result.detections) == _as_rows(expected)


def test_window_grouping_and_missing_inputs_are_clear_errors(cluster, model, tmp_path):
    from collaborlog.detector.persistence import load
    from collaborlog.scale import detect_on_ray

    windows = DatasetConfig.model_validate({"name": "w", "source": {"kind": "text", "path": "x",
                                            "log_format": "<Content>"}, "grouping": {"kind": "count"}})
    with pytest.raises(ConfigError, match="session key"):
        detect_on_ray(load(model), windows, [tmp_path])
    with pytest.raises(DataError, match="does not exist"):
        detect_on_ray(load(model), _dataset("x"), [tmp_path / "nowhere"])
    (tmp_path / "keyless.log").write_text("INFO no session key here\n")
    with pytest.raises(ConfigError, match="no session key"):
        detect_on_ray(load(model), _dataset("x"), [tmp_path / "keyless.log"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no files"):
        input_files([tmp_path / "empty"])


def test_the_cli_runs_a_ray_job_over_a_folder(cluster, model, logs, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from collaborlog.cli import app
    from collaborlog.detector.persistence import load

    whole, parts = logs
    config = tmp_path / "blocks.yaml"
    config.write_text(yaml.safe_dump(_dataset(str(whole)).model_dump(mode="json")))
    out = tmp_path / "d.parquet"
    result = CliRunner().invoke(app, ["detect", str(model), str(config), "--engine", "ray", "--input", str(parts),
                                      "--llm", "none", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{SESSIONS} sequences from 3 files judged on Ray" in result.output
    ds = _dataset(str(whole))
    frame = read_log(whole, ds.source, keep_fields={"Level"})
    detector = load(model).use_llm(LLMConfig(backend="none"))
    expected = {d.sequence_id: (d.verdict, d.branch.value) for d in
                detector.detect(frame, group_sessions(frame, ds.grouping, GroupStats()))}
    table = pd.read_parquet(out)
    assert dict(zip(table["sequence_id"], zip(table["verdict"], table["branch"]))) == expected
    assert "not_judged" in set(table["branch"])
    refused = CliRunner().invoke(app, ["detect", str(model), str(config), "--engine", "ray", "--split", "test"])
    assert refused.exit_code != 0 and "leave out --split" in str(refused.exception)


def test_without_ray_the_error_names_the_install(monkeypatch):
    from collaborlog.errors import MissingDependencyError
    from collaborlog.scale.ray_engine import require_ray

    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'collaborlog\[ray\]'"):
        require_ray()
