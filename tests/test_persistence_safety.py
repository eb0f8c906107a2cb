"""Model directories and the embedding cache under kills, damage and concurrent processes.

Kills are deterministic: a forked child counts its own file-system operations (Python audit
events) and SIGKILLs itself just before the chosen one, so the same seed kills at the same
points on any machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import block_log

from collaborlog.data.config import SessionGrouping
from collaborlog.data.grouping import GroupStats, group_sessions
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.detector.persistence import load, save
from collaborlog.errors import DataError
from collaborlog.features.embeddings import EmbeddingCache
from collaborlog.llm.backends import ScriptedClient
from collaborlog.records import LogFrame

ANSWER = '{"reason": "routine block transfer", "IsEvol": false, "System State": "Normal"}'
FS_EVENTS = {"open", "os.remove", "os.rename", "os.mkdir", "os.rmdir", "tempfile.mkdtemp", "shutil.rmtree",
             "fcntl.flock"}
"""Audit events of the operations a save or a cache write makes on files."""


def _log(n_sessions: int):
    return block_log(n_sessions)


def _stream(batches: int, size: int):
    """Sessions the history never showed: each batch brings messages of its own, so each teaches."""
    words = ["quorum", "lease", "snapshot", "compaction", "gossip", "tombstone", "shard", "vacuum"]
    lines = []
    for b in range(batches):
        for s in range(1000 + b * size, 1000 + (b + 1) * size):
            lines += [f"Receiving block blk_{s} src: /10.0.0.{s % 9}:500{s % 7}",
                      f"{words[b]} {words[-1 - b]} round {s} for blk_{s} finished"]
    n = len(lines)
    frame = LogFrame(lines, np.arange(n, dtype=np.float64), np.zeros(n, np.int8), {}, np.ones(n, bool))
    return frame, group_sessions(frame, SessionGrouping(regex=r"blk_\d+"), GroupStats())


@pytest.fixture(scope="module")
def tiny():
    frame, seqs = _log(60)
    config = DetectorConfig.model_validate({
        "encoder": {"kind": "hashing"}, "coordinator": {"epochs": 40, "patience": 40}, "small_model": {"epochs": 2, "k": 3},
        "governor": {"cache": False},
        "aem": {"batch_size": 5, "replay": 16, "coordinator_epochs": 2, "small_model_epochs": 1},
    })
    det = CollaborLog(config, llm=ScriptedClient(default=ANSWER)).fit(frame, seqs[:40], seqs[40:50])
    return det, frame, seqs


@pytest.fixture
def model(tiny, tmp_path) -> Path:
    return save(tiny[0], tmp_path / "model")


def _fork(work) -> int:
    """Start ``work()`` in a forked child; its pid. The child exits 0 if ``work`` returned, else 1."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            torch.set_num_threads(1)  # torch's thread pool does not survive a fork: it would hang
            work()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def _wait(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _in_children(*works) -> list[int]:
    """Run each of ``works`` in its own forked child, side by side; their exit codes."""
    return [_wait(pid) for pid in [_fork(work) for work in works]]


def _in_child(work, kill_at: int | None = None, count_to: Path | None = None) -> int:
    """Run ``work()`` in a forked child; its exit code (-9 when killed just before its
    ``kill_at``-th file operation). ``count_to``: where to write, as JSON, how many file
    operations ``work`` made and which of them renamed what to where."""
    def watched() -> None:
        ops = itertools.count(1)
        seen = {"total": 0, "renames": []}

        def hook(event: str, args) -> None:
            if event in FS_EVENTS:
                seen["total"] = next(ops)
                if event == "os.rename":
                    seen["renames"].append([seen["total"], str(args[1])])
                if seen["total"] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

        sys.addaudithook(hook)  # in the child only: audit hooks cannot be removed
        work()
        if count_to is not None:
            count_to.write_text(json.dumps(seen))

    return _wait(_fork(watched))


def _operations(work, tmp: Path) -> dict:
    assert _in_child(work, count_to=tmp / "count") == 0
    return json.loads((tmp / "count").read_text())


def _kill_points(total: int, seed: int, n: int) -> list[int]:
    """``n`` seeded points among ``total`` file operations, plus the first and the last."""
    rng = np.random.default_rng(seed)
    return sorted({1, total, *rng.choice(np.arange(1, total + 1), size=min(n, total), replace=False).tolist()})


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in ("model", "count"))


def _save_version(det: CollaborLog, path: Path, version: int):
    def work() -> None:
        det.learned_batches_ = version  # the child's copy: marks which save this is
        save(det, path)
    return work


def test_a_save_killed_anywhere_leaves_the_old_or_the_new_model(tiny, model, tmp_path):
    ops = _operations(_save_version(tiny[0], model, 0), tmp_path)
    # Seeded points, and every rename: the swap's two renames are where a kill hurts most.
    points = sorted(set(_kill_points(ops["total"], seed=5, n=8)) | {i for i, _ in ops["renames"]})
    assert len(points) >= 10
    current = load(model).learned_batches_
    for version, point in enumerate(points, start=1):
        assert _in_child(_save_version(tiny[0], model, version), kill_at=point) == -signal.SIGKILL
        loaded = load(model).learned_batches_
        assert loaded in (current, version)
        current = loaded
    # The next save clears what the killed ones left behind.
    save(load(model), model)
    assert _leftovers(tmp_path) == []


def test_a_save_killed_between_its_two_renames_is_recovered_on_load(tiny, model, tmp_path, caplog):
    ops = _operations(_save_version(tiny[0], model, 7), tmp_path)
    into_place = [i for i, dst in ops["renames"] if dst == str(model)]
    assert len(into_place) == 1
    save(tiny[0], model)  # back to version 0 (the child saved version 7)
    assert _in_child(_save_version(tiny[0], model, 7), kill_at=into_place[0]) == -signal.SIGKILL
    assert not model.exists() and Path(str(model) + ".old").is_dir()
    with caplog.at_level(logging.WARNING, logger="collaborlog.atomic"):
        again = load(model)
    assert again.learned_batches_ == 0 and model.is_dir() and "restored" in caplog.text


def test_a_failed_recovery_names_the_command_that_restores(model, monkeypatch):
    os.replace(model, str(model) + ".old")

    def refuse(path):
        raise PermissionError("read-only folder")

    monkeypatch.setattr("collaborlog.detector.persistence.recover", refuse)
    with pytest.raises(DataError, match=r"mv .*model\.old .*model"):
        load(model)


def test_learning_killed_anywhere_leaves_the_last_checkpoint(tiny, tmp_path):
    det = tiny[0]
    frame, sequences = _stream(4, 5)
    path = tmp_path / "model"

    def learn() -> None:
        for _ in det.detect_stream(frame, sequences, on_learned=lambda _: save(det, path)):
            pass
        save(det, path)

    save(det, path)
    total = _operations(learn, tmp_path)["total"]
    learned_all = load(path).learned_batches_
    assert learned_all >= 2  # the stream taught the models in several batches
    seen = set()
    for point in _kill_points(total, seed=11, n=5):
        save(det, path)  # back to the fitted detector
        assert _in_child(learn, kill_at=point) == -signal.SIGKILL
        loaded = load(path)
        assert 0 <= loaded.learned_batches_ <= learned_all
        seen.add(loaded.learned_batches_)
    # Killed at the start nothing was learned; killed at the end every batch had been saved.
    assert {0, learned_all} <= seen


def test_detect_learn_saves_a_checkpoint_after_each_learned_batch(tiny, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import collaborlog.detector.persistence as persistence
    import collaborlog.detector.versions as versions
    from collaborlog.cli import app

    frame, _ = _stream(4, 5)
    (tmp_path / "stream.log").write_text("\n".join(frame.content) + "\n", encoding="utf-8")
    dataset = tmp_path / "stream.yaml"
    dataset.write_text("name: stream\nsource: {kind: text, path: stream.log, log_format: '<Content>'}\n"
                       "grouping: {kind: session, regex: 'blk_\\d+'}\nlabels: {kind: none}\n", encoding="utf-8")
    model = save(tiny[0], tmp_path / "model")
    load_file, write_file = persistence.load, versions.write
    saved = []

    def write_noted(det, folder):
        saved.append(det.learned_batches_)
        return write_file(det, folder)

    monkeypatch.setattr(persistence, "load", lambda path, **kw: load_file(path, llm=ScriptedClient(default=ANSWER), **kw))
    monkeypatch.setattr(versions, "write", write_noted)
    result = CliRunner().invoke(app, ["detect", str(model), str(dataset), "--learn"])
    assert result.exit_code == 0, result.output
    learned = load(model).learned_batches_
    # One checkpoint per batch that taught the models, then the final save, all into the run's one version.
    assert learned >= 2 and saved == [*range(1, learned + 1), learned]
    assert [(v.number, v.kind.value) for v in versions.versions(model)] == [(1, "fit"), (2, "learn")]


def test_concurrent_saves_and_loads_of_one_directory(tiny, model, tmp_path):
    det = tiny[0]

    def saver(version: int):
        def work() -> None:
            for _ in range(15):
                _save_version(det, model, version)()
        return work

    def loader() -> None:
        for _ in range(15):
            assert load(model).learned_batches_ in (0, 101, 102)

    assert _in_children(saver(101), saver(102), loader) == [0, 0, 0]
    assert load(model).learned_batches_ in (101, 102)
    assert _leftovers(tmp_path) == []


def _reseal(model: Path, name: str, data: bytes) -> None:
    """Replace a part *and* its checksum, as a buggy writer would: only the shape checks stand."""
    (model / name).write_bytes(data)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    manifest["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    (model / "manifest.json").write_text(json.dumps(manifest))


def test_a_flipped_byte_in_any_file_is_a_clean_error_naming_it(model):
    rng = np.random.default_rng(3)
    for part in sorted(model.iterdir()):
        original = part.read_bytes()
        for at in rng.choice(len(original), size=min(3, len(original)), replace=False):
            damaged = bytearray(original)
            damaged[at] ^= 0xFF
            part.write_bytes(bytes(damaged))
            with pytest.raises(DataError) as err:
                load(model)
            message = str(err.value)
            assert str(model) in message
            assert part.name in message or (part.name == "manifest.json" and "Re-fit" in message), message
        part.write_bytes(original)
    load(model)


def test_an_empty_array_or_a_missing_part_is_a_clean_error_naming_it(model):
    array = (model / "small_model.memory_inputs.npy").read_bytes()
    (model / "small_model.memory_inputs.npy").write_bytes(b"")
    with pytest.raises(DataError, match=r"small_model\.memory_inputs\.npy has 0 bytes.*re-fit"):
        load(model)
    (model / "small_model.memory_inputs.npy").write_bytes(array)
    (model / "aligner.json").unlink()  # never a silent detector without alignment
    with pytest.raises(DataError, match=r"aligner\.json is missing.*re-fit"):
        load(model)


def test_a_hand_edited_manifest_is_refused(model):
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["config"]["seed"] += 1
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"manifest\.json does not match its own checksum"):
        load(model)
    manifest["format_version"] = 4
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="Re-fit"):
        load(model)


def test_a_part_without_an_alignment_entry_is_refused(model):
    manifest = json.loads((model / "manifest.json").read_text())
    del manifest["files"]["aligner.json"]
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    manifest["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"manifest\.json does not list the parts.*aligner\.json"):
        load(model)


@pytest.mark.parametrize(("part", "content", "why"), [
    ("prevalence.json", b"[1, 2]", "Input should be an object"),
    ("history.json", b'{"ids": ["a"], "labels": ["x"], "pattern_of": [0], "patterns": [["m"]]}', "labels/0"),
    ("small_model.json", {"memory_ids": {"a": 1}}, "valid array"),
    ("small_model.json", {"memory_ids": ["only-one"]}, "has 1 entries where the memory holds"),
    ("patterns.json", b"[[\"a\", 1]]", "patterns.json"),
    ("messages.json", b'{"verdicts": [{"message": "m"}]}', "Field required"),
    ("detector.json", b'{"mode": "psychic", "reason": "", "learned_batches": 0, "pattern_by_set": true}', "no known mode"),
    ("aligner.json", b"null", "alignment"),
])
def test_a_json_part_of_the_wrong_shape_is_a_clean_error_naming_it(model, part, content, why):
    if isinstance(content, dict):  # these entries changed, the rest as saved
        content = json.dumps({**json.loads((model / part).read_text()), **content}).encode()
    _reseal(model, part, content)
    with pytest.raises(DataError) as err:
        load(model)
    assert part in str(err.value) and why in str(err.value) and "re-fit" in str(err.value)


def test_stale_temporary_folders_are_cleaned_and_live_ones_kept(tiny, model, tmp_path):
    stale, live, other = (tmp_path / ".model.tmp-dead0001", tmp_path / ".model.tmp-live0001",
                          tmp_path / ".model.v2.tmp-other001")
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "memory_inputs.npy").write_bytes(b"partial")
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a save in progress holds it
        save(tiny[0], model)
        assert not stale.exists() and live.is_dir() and other.is_dir()
    finally:
        os.close(fd)
    load(model)


# -- the embedding cache ------------------------------------------------------------------------
def _vector(text: str) -> np.ndarray:
    return np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint8).astype(np.float32)


def test_two_processes_writing_one_embedding_cache_keep_both(tmp_path):
    rounds, per_round = 40, 3

    def writer(name: str):
        def work() -> None:
            for r in range(rounds):
                cache = EmbeddingCache("hashing-test", tmp_path)
                texts = [f"{name} message {r}.{j}" for j in range(per_round)]
                cache.put_many(texts, np.stack([_vector(t) for t in texts]))
                cache.save()
        return work

    assert _in_children(writer("first"), writer("second")) == [0, 0]
    cache = EmbeddingCache("hashing-test", tmp_path)
    texts = [f"{name} message {r}.{j}" for name in ("first", "second") for r in range(rounds) for j in range(per_round)]
    rows, missing = cache.get_many(texts)
    assert missing == [] and len(cache) == len(texts)
    assert np.array_equal(cache.vectors(rows), np.stack([_vector(t) for t in texts]))
    assert sorted(p.name for p in tmp_path.iterdir()) == [cache.path.name]  # no temporary, nothing damaged


def _damage_garbage(path: Path) -> None:
    path.write_bytes(b"not a zip file at all")


def _damage_flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the vectors: the zip's CRC no longer matches
    path.write_bytes(bytes(data))


def _damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _damage_empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [_damage_garbage, _damage_flip, _damage_truncate, _damage_empty])
def test_a_damaged_embedding_cache_is_moved_aside_and_rebuilt(tmp_path, caplog, damage):
    cache = EmbeddingCache("hashing-test", tmp_path)
    texts = [f"message {i}" for i in range(50)]
    cache.put_many(texts, np.stack([_vector(t) for t in texts]))
    cache.save()
    damage(cache.path)
    with caplog.at_level(logging.WARNING, logger="collaborlog.features.embeddings"):
        rebuilt = EmbeddingCache("hashing-test", tmp_path)
    assert len(rebuilt) == 0 and "damaged" in caplog.text
    assert [p.name.split(".damaged-")[0] for p in tmp_path.glob("*.damaged-*")] == [cache.path.name]
    killed = tmp_path / f".{cache.path.name}.tmp-k1ll3d"  # what a writer killed mid-write leaves
    killed.write_bytes(b"PK")
    rebuilt.put_many(texts[:5], np.stack([_vector(t) for t in texts[:5]]))
    rebuilt.save()
    assert len(EmbeddingCache("hashing-test", tmp_path)) == 5 and not killed.exists()
