"""Saving and loading a fitted :class:`CollaborLog` as a directory, without pickle.

Layout: ``manifest.json`` (format version, package version, configuration, scalars),
``templates.json``, ``coordinator.safetensors``, ``small_model.safetensors``, numpy arrays
(``.npy``, loaded with ``allow_pickle=False``) for the memory and losses, and JSON for ids,
the history and the evolution relations. The directory is written beside its target and
renamed into place, so a crash never leaves a half-written model; loading runs no code from it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from collaborlog import __version__
from collaborlog.agents import MessageVerdict
from collaborlog.alignment import MessageAligner
from collaborlog.coordinator import Autoencoder, Coordinator
from collaborlog.detector import CollaborLog, DetectorConfig
from collaborlog.errors import DataError
from collaborlog.history import History
from collaborlog.prevalence import Prevalence
from collaborlog.signatures import FailureSignatures
from collaborlog.small_model import SemanticNet, SmallModel
from collaborlog.templates import TemplateMiner

FORMAT = "collaborlog-detector"
FORMAT_VERSION = 4


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def save(detector: CollaborLog, path: Path) -> Path:
    """Write ``detector`` to the directory ``path`` atomically (replacing an older one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        co, sm = detector.coordinator_, detector.small_model_
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "collaborlog_version": __version__,
            "config": detector.config.model_dump(mode="json"),
            "coordinator": {"tau": co.tau_, "quantile": co.quantile_, "dim": int(detector.replay_.shape[1])},
            "small_model": {"k": sm.k_},
            "learned_batches": detector.learned_batches_,
            "pattern_by_set": detector.pattern_by_set_,
        }
        detector.miner_.save(tmp / "templates.json")
        save_file({k: v.contiguous() for k, v in co.model_.state_dict().items()}, str(tmp / "coordinator.safetensors"))
        save_file({k: v.contiguous() for k, v in sm.net_.state_dict().items()}, str(tmp / "small_model.safetensors"))
        np.save(tmp / "coordinator_valid_losses.npy", co.valid_losses_)
        np.save(tmp / "memory_inputs.npy", sm.memory_inputs_)
        np.save(tmp / "memory_labels.npy", sm.memory_labels_)
        np.save(tmp / "memory_sources.npy", sm.memory_sources_)
        np.save(tmp / "replay.npy", detector.replay_)
        _write_json(tmp / "memory_ids.json", sm.memory_ids_)
        _write_json(tmp / "history.json", detector.history_.to_json())
        _write_json(tmp / "relations.json", detector.relations_)
        _write_json(tmp / "patterns.json", [[list(p), v, sid] for p, (v, sid) in detector.patterns_.items()])
        _write_json(tmp / "signatures.json", detector.signatures_.to_json())
        _write_json(tmp / "messages.json", [v.to_json() for v in detector.messages_.values()])
        _write_json(tmp / "prevalence.json", detector.prevalence_.to_json())
        np.save(tmp / "signature_vectors.npy", detector.signatures_.vectors_)
        if detector.aligner_ is not None:
            _write_json(tmp / "aligner.json", detector.aligner_.to_json())
            np.save(tmp / "aligner_vectors.npy", detector.aligner_.vectors_)
        # The manifest goes last: a directory without one was never finished.
        _write_json(tmp / "manifest.json", manifest)
        old = path.with_name(path.name + ".old")
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def load(path: Path, **components) -> CollaborLog:
    """Load a detector saved by :func:`save`. ``components`` (``encoder=``, ``llm=``) replace built ones."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        old = path.with_name(path.name + ".old")
        hint = f"; an earlier copy is at {old}" if old.is_dir() else ""
        raise DataError(f"{path} is not a saved CollaborLog detector (no manifest.json){hint}")
    try:
        manifest = _read_json(manifest_path)
    except json.JSONDecodeError as err:
        raise DataError(f"{manifest_path} is not valid JSON: {err}") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{path} holds a detector in format {manifest.get('format')!r} version {manifest.get('format_version')!r}, "
            f"saved by CollaborLog {manifest.get('collaborlog_version', 'unknown')}; this CollaborLog ({__version__}) "
            f"reads version {FORMAT_VERSION}. Re-fit it with this version (collaborlog fit ...).")
    try:
        return _load_parts(path, manifest, components)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as err:
        # A part missing or damaged after the manifest was written (the save itself is atomic).
        raise DataError(f"{path} is a damaged CollaborLog detector ({type(err).__name__}: {err}); "
                        f"re-fit it (collaborlog fit ...)") from None


def _load_parts(path: Path, manifest: dict, components: dict) -> CollaborLog:
    config = DetectorConfig.model_validate(manifest["config"])
    det = CollaborLog(config, **components)
    det.miner_ = TemplateMiner.load(path / "templates.json")
    dim = int(manifest["coordinator"]["dim"])
    co = Coordinator(config.coordinator)
    co.model_ = Autoencoder(dim, config.coordinator.hidden)
    co.model_.load_state_dict(load_file(str(path / "coordinator.safetensors")))
    co.valid_losses_ = np.load(path / "coordinator_valid_losses.npy", allow_pickle=False)
    co.tau_ = float(manifest["coordinator"]["tau"])
    co.quantile_ = float(manifest["coordinator"]["quantile"])
    sm = SmallModel(config.small_model)
    sm.net_ = SemanticNet(dim, config.small_model.hidden)
    sm.net_.load_state_dict(load_file(str(path / "small_model.safetensors")))
    sm.memory_inputs_ = np.load(path / "memory_inputs.npy", allow_pickle=False)
    sm.memory_labels_ = np.load(path / "memory_labels.npy", allow_pickle=False)
    sm.memory_sources_ = np.load(path / "memory_sources.npy", allow_pickle=False)
    sm.memory_ids_ = _read_json(path / "memory_ids.json")
    sm.k_ = int(manifest["small_model"]["k"])
    sm._rebuild_index()
    det.coordinator_, det.small_model_ = co, sm
    det.history_ = History.from_json(_read_json(path / "history.json"))
    det.relations_ = [tuple(r) for r in _read_json(path / "relations.json")]
    det.replay_ = np.load(path / "replay.npy", allow_pickle=False)
    det.patterns_ = {tuple(p): (int(v), str(sid)) for p, v, sid in
                     _read_json(path / "patterns.json")}
    det.signatures_ = FailureSignatures.from_json(
        _read_json(path / "signatures.json"),
        np.load(path / "signature_vectors.npy", allow_pickle=False))
    said = [MessageVerdict.from_json(v) for v in _read_json(path / "messages.json")]
    det.messages_ = {v.message: v for v in said}
    det.prevalence_ = Prevalence.from_json(_read_json(path / "prevalence.json"))
    det.refresh_routine()
    det.learned_batches_ = int(manifest["learned_batches"])
    det.pattern_by_set_ = bool(manifest["pattern_by_set"])
    det.aligner_ = (MessageAligner.from_json(_read_json(path / "aligner.json"),
                                             np.load(path / "aligner_vectors.npy", allow_pickle=False))
                    if (path / "aligner.json").is_file() else None)
    return det
