"""Saving and loading a fitted :class:`CollaborLog` as a directory, without pickle.

Layout: ``manifest.json`` (format version, package version, configuration, scalars, and the
size and sha256 of every other file, sealed by a sha256 of its own), ``templates.json``,
``coordinator.safetensors``, ``small_model.safetensors``, numpy arrays (``.npy``, loaded with
``allow_pickle=False``) for the memory and losses, and JSON for ids, the history and the
evolution relations. The directory is built beside its target and renamed into place
(:func:`collaborlog.atomic.atomic_dir`), so a crash never leaves a half-written model, and
concurrent saves of one target leave the last one whole. Loading checks every file against the
manifest and every JSON part's shape before using it, and runs no code from the directory: a
damaged or incomplete directory is a :class:`DataError` naming the file, never a silently
different detector.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
from pathlib import Path
from typing import Any, Optional

import numpy as np
from pydantic import TypeAdapter, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save_file
from typing_extensions import TypedDict

from collaborlog import __version__
from collaborlog.agents import MessageVerdict
from collaborlog.alignment import MessageAligner
from collaborlog.atomic import atomic_dir, locked, previous, recover
from collaborlog.coordinator import Autoencoder, Coordinator
from collaborlog.detector import CollaborLog, DetectorConfig, Mode
from collaborlog.errors import DataError
from collaborlog.history import History
from collaborlog.novelty import Novelty
from collaborlog.prevalence import Prevalence
from collaborlog.signatures import FailureSignatures
from collaborlog.small_model import SemanticNet, SmallModel
from collaborlog.templates import TemplateMiner
from collaborlog.vanished import Vanished

FORMAT = "collaborlog-detector"
FORMAT_VERSION = 6
"""5: the manifest lists every file's size and sha256 and is sealed by its own. 6: ``state.json``
(the mode the labels allowed, novelty, pattern and vanished-message counts)."""

MANIFEST = "manifest.json"
PARTS = ("templates.json", "coordinator.safetensors", "small_model.safetensors", "coordinator_valid_losses.npy",
         "memory_inputs.npy", "memory_labels.npy", "memory_sources.npy", "replay.npy", "memory_ids.json",
         "history.json", "relations.json", "patterns.json", "signatures.json", "messages.json",
         "prevalence.json", "signature_vectors.npy", "state.json")
ALIGNER_PARTS = ("aligner.json", "aligner_vectors.npy")
"""Saved exactly when the configuration turns alignment on."""
REFIT = "re-fit it (collaborlog fit ...) or restore the directory from a backup"


# The shapes of the JSON parts, checked before any of them is used.
class _Coordinator(TypedDict):
    tau: float
    quantile: float
    dim: int


class _SmallModel(TypedDict):
    k: int


class _File(TypedDict):
    sha256: str
    size: int


class _Manifest(TypedDict):
    config: dict[str, Any]
    coordinator: _Coordinator
    small_model: _SmallModel
    learned_batches: int
    pattern_by_set: bool
    files: dict[str, _File]


class _Cluster(TypedDict):
    id: int
    tokens: list[str]
    size: int


class _Templates(TypedDict):
    version: int
    config: dict[str, Any]
    clusters: list[_Cluster]


class _History(TypedDict):
    ids: list[str]
    labels: list[int]
    pattern_of: list[int]
    patterns: list[list[str]]


class _Signatures(TypedDict):
    threshold: float
    strong: Optional[float]
    messages: list[str]
    failure_only: list[bool]


class _Message(TypedDict):
    message: str
    level: str
    rewords: Optional[str]
    problem: bool
    reason: str


class _Prevalence(TypedDict):
    bound: float
    z: float
    seen: int
    counts: dict[str, int]


class _Novelty(TypedDict):
    contamination: float
    seen: int
    counts: dict[str, int]
    loss_bar: float
    cleared: list[str]


class _Vanished(TypedDict):
    evidence: Optional[float]
    z: float
    history_seen: int
    history_counts: dict[str, int]
    stream_seen: int
    stream_counts: dict[str, int]


class _State(TypedDict):
    mode: str
    reason: str
    novelty: Optional[_Novelty]
    pattern_prevalence: _Prevalence
    vanished: _Vanished


class _Aligner(TypedDict):
    threshold: float
    messages: list[str]
    aliases: dict[str, str]


_SHAPES: dict[str, TypeAdapter] = {
    MANIFEST: TypeAdapter(_Manifest), "templates.json": TypeAdapter(_Templates),
    "memory_ids.json": TypeAdapter(list[str]), "history.json": TypeAdapter(_History),
    "relations.json": TypeAdapter(list[tuple[str, str]]),
    "patterns.json": TypeAdapter(list[tuple[list[str], int, str]]),
    "signatures.json": TypeAdapter(_Signatures), "messages.json": TypeAdapter(list[_Message]),
    "prevalence.json": TypeAdapter(_Prevalence), "aligner.json": TypeAdapter(_Aligner),
    "state.json": TypeAdapter(_State),
}


def _seal(manifest: dict) -> str:
    """The sha256 of the manifest without its seal (keys sorted, so it survives a JSON round trip)."""
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def _file_entry(path: Path) -> dict:
    with path.open("rb") as f:
        return {"sha256": hashlib.file_digest(f, "sha256").hexdigest(), "size": path.stat().st_size}


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def save(detector: CollaborLog, path: Path) -> Path:
    """Write ``detector`` to the directory ``path`` atomically (replacing an older one; the last of
    concurrent saves wins)."""
    path = Path(path)
    with atomic_dir(path) as tmp:
        co, sm = detector.coordinator_, detector.small_model_
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
        _write_json(tmp / "state.json", {"mode": detector.mode_.value, "reason": detector.mode_reason_,
                                         "novelty": detector.novelty_.to_json() if detector.novelty_ else None,
                                         "pattern_prevalence": detector.key_prevalence_.to_json(),
                                         "vanished": detector.vanished_.to_json()})
        if detector.aligner_ is not None:
            _write_json(tmp / "aligner.json", detector.aligner_.to_json())
            np.save(tmp / "aligner_vectors.npy", detector.aligner_.vectors_)
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "collaborlog_version": __version__,
            # Never where requests go nor which variable holds the key: the loader's own (LLMConfig.portable).
            "config": detector.config.model_copy(
                update={"llm": detector.config.llm.portable()}).model_dump(mode="json"),
            "coordinator": {"tau": co.tau_, "quantile": co.quantile_, "dim": int(detector.replay_.shape[1])},
            "small_model": {"k": sm.k_},
            "learned_batches": detector.learned_batches_,
            "pattern_by_set": detector.pattern_by_set_,
            "files": {f.name: _file_entry(f) for f in sorted(tmp.iterdir())},
        }
        manifest["sha256"] = _seal(manifest)
        # The manifest goes last: a directory without one was never finished.
        _write_json(tmp / MANIFEST, manifest)
    return path


def _damaged(path: Path, name: str, problem: str) -> DataError:
    return DataError(f"{path} is a damaged CollaborLog detector: {name} {problem}; {REFIT}")


def _shape(path: Path, name: str, data: bytes) -> Any:
    """Parse the JSON part ``name`` and check its shape (mapping or list, and the types inside)."""
    try:
        return _SHAPES[name].validate_json(data, strict=True)
    except ValidationError as err:
        first = err.errors()[0]
        where = "/".join(str(k) for k in first["loc"])
        raise _damaged(path, name, f"is not what a saved detector holds ({where + ': ' if where else ''}"
                                   f"{first['msg']})") from None


def _read_manifest(path: Path) -> dict:
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        hint = f"; an earlier copy is at {previous(path)}" if previous(path).is_dir() else ""
        raise DataError(f"{path} is not a saved CollaborLog detector (no {MANIFEST}){hint}")
    raw = manifest_path.read_bytes()
    try:
        head = json.loads(raw)
    except ValueError as err:  # invalid JSON or invalid UTF-8
        raise _damaged(path, MANIFEST, f"is not valid JSON ({err})") from None
    if not isinstance(head, dict):
        raise _damaged(path, MANIFEST, f"holds a {type(head).__name__}, not a mapping")
    if head.get("format") != FORMAT or head.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{path} holds a detector in format {head.get('format')!r} version {head.get('format_version')!r}, "
            f"saved by CollaborLog {head.get('collaborlog_version', 'unknown')}; this CollaborLog ({__version__}) "
            f"reads version {FORMAT_VERSION}. Re-fit it with this version (collaborlog fit ...).")
    if head.get("sha256") != _seal(head):
        raise _damaged(path, MANIFEST, "does not match its own checksum (it changed after saving)")
    return _shape(path, MANIFEST, raw)


def _read_verified(path: Path, manifest: dict) -> dict[str, bytes]:
    """Every part's bytes, each checked against the size and sha256 the manifest recorded."""
    files = manifest["files"]
    try:
        aligned = DetectorConfig.model_validate(manifest["config"]).align_threshold is not None
    except ValidationError as err:
        raise _damaged(path, MANIFEST, f"holds a configuration this CollaborLog cannot read ({err})") from None
    expected = PARTS + (ALIGNER_PARTS if aligned else ())
    if set(files) != set(expected):
        missing = sorted(set(expected) - set(files)) or sorted(set(files) - set(expected))
        raise _damaged(path, MANIFEST, f"does not list the parts this configuration saves (differs in {missing})")
    parts = {}
    for name in expected:
        try:
            data = (path / name).read_bytes()
        except FileNotFoundError:
            raise _damaged(path, name, "is missing") from None
        if len(data) != files[name]["size"]:
            raise _damaged(path, name, f"has {len(data)} bytes where {files[name]['size']} were saved")
        if hashlib.sha256(data).hexdigest() != files[name]["sha256"]:
            raise _damaged(path, name, "does not match its checksum (its bytes changed after saving)")
        parts[name] = data
    return parts


def verify(path: Path) -> dict[str, str]:
    """Each saved file's sha256, after checking every one against the sealed manifest (else :class:`DataError`)."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path} is not a saved CollaborLog detector (no {MANIFEST})")
    with locked(path.parent, shared=True):
        manifest = _read_manifest(path)
        parts = _read_verified(path, manifest)
        sealed = hashlib.sha256((path / MANIFEST).read_bytes()).hexdigest()
    return {MANIFEST: sealed} | {name: manifest["files"][name]["sha256"] for name in parts}


def load(path: Path, **components) -> CollaborLog:
    """Load a detector saved by :func:`save`. ``components`` (``encoder=``, ``llm=``) replace built ones.

    A directory that a killed save left only as ``<name>.old`` is put back first.
    """
    path = Path(path)
    try:
        recover(path)
    except OSError as err:
        raise DataError(f"{path} is missing, but {previous(path)} holds the detector a killed save was replacing, "
                        f"and putting it back failed ({err}); restore it with: "
                        f"mv {shlex.quote(str(previous(path)))} {shlex.quote(str(path))}") from None
    if not path.is_dir():
        raise DataError(f"{path} is not a saved CollaborLog detector (no {MANIFEST})")
    # Shared with other readers; a save swaps the directory only between reads.
    with locked(path.parent, shared=True):
        manifest = _read_manifest(path)
        parts = _read_verified(path, manifest)
    try:
        return _build(path, manifest, parts, components)
    except (ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as err:
        # The files are as saved and well-formed, yet do not fit together.
        raise DataError(f"{path} is a damaged CollaborLog detector ({type(err).__name__}: {err}); {REFIT}") from None


def _array(path: Path, parts: dict[str, bytes], name: str, ndim: int) -> np.ndarray:
    try:
        out = np.load(io.BytesIO(parts[name]), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise _damaged(path, name, f"is not a numpy array ({err})") from None
    if out.ndim != ndim:
        raise _damaged(path, name, f"has {out.ndim} dimensions where {ndim} were saved")
    return out


def _tensors(path: Path, parts: dict[str, bytes], name: str) -> dict:
    try:
        return load_tensors(parts[name])
    except SafetensorError as err:
        raise _damaged(path, name, f"is not a safetensors file ({err})") from None


def _expect(path: Path, ok: bool, name: str, problem: str) -> None:
    if not ok:
        raise _damaged(path, name, problem)


def _build(path: Path, manifest: dict, parts: dict[str, bytes], components: dict) -> CollaborLog:
    def shape(name: str) -> Any:
        return _shape(path, name, parts[name])

    def array(name: str, ndim: int) -> np.ndarray:
        return _array(path, parts, name, ndim)

    config = DetectorConfig.model_validate(manifest["config"])
    # A directory saved by an older CollaborLog may still name a server and a key variable: ignored.
    config = config.model_copy(update={"llm": config.llm.portable()})
    det = CollaborLog(config, **components)
    det.miner_ = TemplateMiner.from_json(shape("templates.json"))
    dim = manifest["coordinator"]["dim"]
    co = Coordinator(config.coordinator)
    co.model_ = Autoencoder(dim, config.coordinator.hidden)
    co.model_.load_state_dict(_tensors(path, parts, "coordinator.safetensors"))
    co.valid_losses_ = array("coordinator_valid_losses.npy", 1)
    co.tau_ = manifest["coordinator"]["tau"]
    co.quantile_ = manifest["coordinator"]["quantile"]
    sm = SmallModel(config.small_model)
    sm.net_ = SemanticNet(dim, config.small_model.hidden)
    sm.net_.load_state_dict(_tensors(path, parts, "small_model.safetensors"))
    sm.memory_inputs_ = array("memory_inputs.npy", 2)
    sm.memory_labels_ = array("memory_labels.npy", 1)
    sm.memory_sources_ = array("memory_sources.npy", 1)
    sm.memory_ids_ = shape("memory_ids.json")
    rows = sm.memory_inputs_.shape[0]
    _expect(path, sm.memory_inputs_.shape[1] == dim, "memory_inputs.npy", f"has rows of {sm.memory_inputs_.shape[1]} "
            f"values where the model reads {dim}")
    for name, n in [("memory_labels.npy", len(sm.memory_labels_)), ("memory_sources.npy", len(sm.memory_sources_)),
                    ("memory_ids.json", len(sm.memory_ids_))]:
        _expect(path, n == rows, name, f"has {n} entries where the memory holds {rows}")
    sm.k_ = manifest["small_model"]["k"]
    sm._rebuild_index()
    det.coordinator_, det.small_model_ = co, sm
    history = shape("history.json")
    _expect(path, len(history["ids"]) == len(history["labels"]) == len(history["pattern_of"])
            and all(0 <= p < len(history["patterns"]) for p in history["pattern_of"]),
            "history.json", "has ids, labels and patterns that do not line up")
    det.history_ = History.from_json(history)
    det.relations_ = shape("relations.json")
    det.replay_ = array("replay.npy", 2)
    _expect(path, det.replay_.shape[1] == dim, "replay.npy", f"has rows of {det.replay_.shape[1]} values, not {dim}")
    det.patterns_ = {tuple(p): (v, sid) for p, v, sid in shape("patterns.json")}
    signatures, signature_vectors = shape("signatures.json"), array("signature_vectors.npy", 2)
    _expect(path, len(signatures["failure_only"]) == len(signatures["messages"]) == len(signature_vectors),
            "signatures.json", "does not line up with signature_vectors.npy")
    det.signatures_ = FailureSignatures.from_json(signatures, signature_vectors)
    said = [MessageVerdict.from_json(v) for v in shape("messages.json")]
    det.messages_ = {v.message: v for v in said}
    det.prevalence_ = Prevalence.from_json(shape("prevalence.json"))
    state = shape("state.json")
    _expect(path, state["mode"] in {m.value for m in Mode}, "state.json", f"names no known mode ({state['mode']!r})")
    det.mode_, det.mode_reason_ = Mode(state["mode"]), state["reason"]
    det.novelty_ = Novelty.from_json(state["novelty"]) if state["novelty"] is not None else None
    det.key_prevalence_ = Prevalence.from_json(state["pattern_prevalence"])
    det.vanished_ = Vanished.from_json(state["vanished"])
    _expect(path, (det.novelty_ is None) == (det.mode_ is Mode.SUPERVISED), "state.json",
            "holds novelty statistics that do not fit its mode")
    det.refresh_routine()
    det.learned_batches_ = manifest["learned_batches"]
    det.pattern_by_set_ = manifest["pattern_by_set"]
    det.aligner_ = None
    if config.align_threshold is not None:
        aligner, aligner_vectors = shape("aligner.json"), array("aligner_vectors.npy", 2)
        _expect(path, len(aligner["messages"]) == len(aligner_vectors), "aligner.json",
                "does not line up with aligner_vectors.npy")
        det.aligner_ = MessageAligner.from_json(aligner, aligner_vectors)
    return det
