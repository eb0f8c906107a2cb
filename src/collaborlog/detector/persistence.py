"""Saving and loading a fitted :class:`CollaborLog` as a directory, without pickle.

Each learned component describes itself (``state_dict()`` / ``from_state()``); this module only
lays those states out as files and checks them. Per component ``<name>``: ``<name>.json`` (its
plain values, or ``null`` for a component the configuration turns off), one ``<name>.<key>.npy``
per array (loaded with ``allow_pickle=False``) and one ``<name>.<key>.safetensors`` per set of
network weights; ``manifest.json`` holds the format version, the package version, the
configuration and the size and sha256 of every other file, sealed by a sha256 of its own. The
directory is built beside its target and renamed into place (:func:`collaborlog.atomic.atomic_dir`),
so a crash never leaves a half-written model, and concurrent saves of one target leave the last
one whole. A model directory may also keep versions, each such a directory
(:mod:`collaborlog.detector.model_dir`): loading it loads the newest. Loading checks every file against the manifest and every JSON part's shape before
using it, and runs no code from the directory: a damaged or incomplete directory is a
:class:`DataError` naming the file, never a silently different detector.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import numpy as np
from pydantic import TypeAdapter, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save_file
from typing_extensions import NotRequired, TypedDict

from collaborlog import __version__
from collaborlog.atomic import atomic_dir, locked, previous, recover
from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.detector.model_dir import is_versioned, reading, rollback_hint
from collaborlog.detector.state import StateError
from collaborlog.errors import DataError
from collaborlog.features.encoders import Encoder
from collaborlog.llm.backends import LLMClient, LLMConfig

FORMAT = "collaborlog-detector"
FORMAT_VERSION = 8
"""5: the manifest lists every file's size and sha256 and is sealed by its own. 6: ``state.json``
(the mode the labels allowed, novelty, pattern and vanished-message counts). 7: no
``relations.json`` (the evolution relations were saved and never read). 8: one part per component
(its ``state_dict``), arrays and weights beside it."""

MANIFEST = "manifest.json"
REFIT = "re-fit it (collaborlog fit ...) or restore the directory from a backup"


# The shapes of the JSON parts, checked before any of them is used.
class _File(TypedDict):
    sha256: str
    size: int


class _Manifest(TypedDict):
    config: dict[str, Any]
    files: dict[str, _File]


class _Detector(TypedDict):
    mode: str
    reason: str
    learned_batches: int
    pattern_by_set: bool


class _Cluster(TypedDict):
    id: int
    tokens: list[str]
    size: int


class _Templates(TypedDict):
    version: int
    config: dict[str, Any]
    clusters: list[_Cluster]


class _Coordinator(TypedDict):
    tau: float
    quantile: float
    dim: int


class _SmallModel(TypedDict):
    k: int
    dim: int
    memory_ids: list[str]


class _History(TypedDict):
    ids: list[str]
    labels: list[int]
    pattern_of: list[int]
    patterns: list[list[str]]


class _Patterns(TypedDict):
    entries: list[tuple[list[str], int, str]]
    held: NotRequired[list[tuple[list[str], str, str]]]


class _Message(TypedDict):
    message: str
    level: str
    rewords: Optional[str]
    problem: bool
    reason: str


class _Messages(TypedDict):
    verdicts: list[_Message]


class _Signatures(TypedDict):
    threshold: float
    strong: Optional[float]
    messages: list[str]
    failure_only: list[bool]


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
    stream_seen: NotRequired[int]
    stream_novel: NotRequired[int]
    floor: NotRequired[float]


class _Vanished(TypedDict):
    evidence: Optional[float]
    z: float
    history_seen: int
    history_counts: dict[str, int]
    stream_seen: int
    stream_counts: dict[str, int]
    history_levels: NotRequired[dict[str, str]]


class _Aligner(TypedDict):
    threshold: float
    messages: list[str]
    aliases: dict[str, str]
    history: NotRequired[int]


COMPONENTS: dict[str, tuple[TypeAdapter, dict[str, int], tuple[str, ...]]] = {
    "detector": (TypeAdapter(_Detector), {"replay": 2}, ()),
    "templates": (TypeAdapter(_Templates), {}, ()),
    "coordinator": (TypeAdapter(_Coordinator), {"valid_losses": 1}, ("weights",)),
    "small_model": (TypeAdapter(_SmallModel), {"memory_inputs": 2, "memory_labels": 1, "memory_sources": 1},
                    ("weights",)),
    "history": (TypeAdapter(_History), {}, ()),
    "patterns": (TypeAdapter(_Patterns), {}, ()),
    "messages": (TypeAdapter(_Messages), {}, ()),
    "signatures": (TypeAdapter(_Signatures), {"vectors": 2}, ()),
    "prevalence": (TypeAdapter(_Prevalence), {}, ()),
    "pattern_prevalence": (TypeAdapter(_Prevalence), {}, ()),
    "vanished": (TypeAdapter(_Vanished), {}, ()),
    "novelty": (TypeAdapter(Optional[_Novelty]), {}, ()),
    "aligner": (TypeAdapter(Optional[_Aligner]), {"vectors": 2}, ()),
}
"""Each component of :meth:`CollaborLog.state_dict`: the shape of its JSON part, its arrays (with
their number of dimensions) and its network weights."""


def _parts(config: DetectorConfig) -> list[str]:
    """The files a detector of ``config`` is saved as (the aligner's arrays only with alignment on)."""
    out = []
    for name, (_, arrays, tensors) in COMPONENTS.items():
        out.append(f"{name}.json")
        if name != "aligner" or config.align_threshold is not None:
            out += [f"{name}.{key}.npy" for key in arrays] + [f"{name}.{key}.safetensors" for key in tensors]
    return out


def _seal(manifest: dict) -> str:
    """The sha256 of the manifest without its seal (keys sorted, so it survives a JSON round trip)."""
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def _file_entry(path: Path) -> dict:
    data = path.read_bytes()  # hashlib.file_digest is Python 3.11+; this package supports 3.10
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def save(detector: CollaborLog, path: Path) -> Path:
    """Write ``detector`` to the directory ``path`` atomically (replacing an older one; the last of
    concurrent saves wins). A directory that keeps versions is refused: replacing it would drop
    them all (:func:`collaborlog.detector.versions.commit` adds a version instead)."""
    detector.check_fitted()
    path = Path(path)
    if path.is_dir() and is_versioned(path):
        raise DataError(f"{path} keeps model versions; saving over it would drop them all. Add a version "
                        "instead (collaborlog.detector.versions.commit, as detect --learn and feedback do), "
                        "or save to another directory")
    with atomic_dir(path) as tmp:
        write(detector, tmp)
    return path


def write(detector: CollaborLog, tmp: Path) -> None:
    """Fill the empty folder ``tmp`` with ``detector``'s files, the sealed manifest last (the
    caller renames the folder into place, see :func:`collaborlog.atomic.atomic_dir`)."""
    state = detector.state_dict()
    for name, (_, arrays, tensors) in COMPONENTS.items():
        part = state[name]
        _write_json(tmp / f"{name}.json", None if part is None else
                    {k: v for k, v in part.items() if k not in arrays and k not in tensors})
        if part is None:
            continue
        for key in arrays:
            np.save(tmp / f"{name}.{key}.npy", part[key])
        for key in tensors:
            save_file(part[key], str(tmp / f"{name}.{key}.safetensors"))
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "collaborlog_version": __version__,
        # Never where requests go nor which variable holds the key: the loader's own (LLMConfig.portable).
        "config": detector.config.model_copy(
            update={"llm": detector.config.llm.portable()}).model_dump(mode="json"),
        "files": {f.name: _file_entry(f) for f in sorted(tmp.iterdir())},
    }
    manifest["sha256"] = _seal(manifest)
    # The manifest goes last: a directory without one was never finished.
    _write_json(tmp / MANIFEST, manifest)


def _damaged(path: Path, name: str, problem: str) -> DataError:
    return DataError(f"{path} is a damaged CollaborLog detector: {name} {problem}; {REFIT}")


def _shape(path: Path, name: str, data: bytes) -> Any:
    """Parse the JSON part ``name`` and check its shape (mapping or list, and the types inside)."""
    try:
        adapter = TypeAdapter(_Manifest) if name == MANIFEST else COMPONENTS[name.removesuffix(".json")][0]
        return adapter.validate_json(data, strict=True)
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
        config = DetectorConfig.model_validate(manifest["config"])
    except ValidationError as err:
        raise _damaged(path, MANIFEST, f"holds a configuration this CollaborLog cannot read ({err})") from None
    expected = _parts(config)
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


@contextmanager
def present(path: Path) -> Iterator[None]:
    """Hold the lock of ``path``'s folder shared for the block, once ``path`` is found to be a
    directory (else :class:`DataError`). A save swaps the directory only under that lock held
    exclusive, so ``path`` stays there while the block reads it."""
    missing = DataError(f"{path} is not a saved CollaborLog detector (no {MANIFEST})")
    if not path.parent.is_dir():
        raise missing
    with locked(path.parent, shared=True):
        if not path.is_dir():
            raise missing
        yield


def verify(path: Path) -> dict[str, str]:
    """Each saved file's sha256, after checking every one against the sealed manifest (else :class:`DataError`)."""
    path = Path(path)
    with present(path), reading(path) as folder, _versioned_hint(path, folder), locked(folder.parent, shared=True):
        manifest = _read_manifest(folder)
        parts = _read_verified(folder, manifest)
        sealed = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
    return {MANIFEST: sealed} | {name: manifest["files"][name]["sha256"] for name in parts}


@contextmanager
def _versioned_hint(path: Path, folder: Path) -> Iterator[None]:
    """A :class:`DataError` about a version of ``path`` says how to roll back past it."""
    try:
        yield
    except DataError as err:
        if folder == path:
            raise
        raise DataError(f"{err}; {rollback_hint(path, int(folder.name))}") from None


def load(path: Path, llm: LLMConfig | LLMClient | None = None, encoder: Encoder | None = None,
         cache_dir: Path | None = None) -> CollaborLog:
    """Load a detector saved by :func:`save`, without refitting anything.

    ``llm``: judge with this LLM (a backend configuration or a client) instead of the one it was
    fitted with; ``encoder``: an encoder already built (it must be the one the detector was fitted
    with); ``cache_dir``: see :class:`CollaborLog`. A directory that a killed save left only as
    ``<name>.old`` is put back first.
    """
    path = Path(path)
    try:
        recover(path)
    except OSError as err:
        raise DataError(f"{path} is missing, but {previous(path)} holds the detector a killed save was replacing, "
                        f"and putting it back failed ({err}); restore it with: "
                        f"mv {shlex.quote(str(previous(path)))} {shlex.quote(str(path))}") from None
    with present(path), reading(path) as folder, _versioned_hint(path, folder):
        det = load_folder(folder, encoder, cache_dir)
    return det.use_llm(llm) if llm is not None else det


def load_folder(folder: Path, encoder: Encoder | None = None, cache_dir: Path | None = None) -> CollaborLog:
    """The detector saved in exactly ``folder`` (a plain model directory or one version of a
    versioned one), checked as :func:`load` checks it; the caller holds the model's lock."""
    with locked(folder.parent, shared=True):
        manifest = _read_manifest(folder)
        parts = _read_verified(folder, manifest)
    try:
        return _build(folder, manifest, parts, encoder, cache_dir)
    except (ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as err:
        # The files are as saved and well-formed, yet do not fit together.
        raise DataError(f"{folder} is a damaged CollaborLog detector ({type(err).__name__}: {err}); {REFIT}") from None


def file_names() -> frozenset[str]:
    """Every name a file of a saved detector may have (the manifest's included)."""
    return frozenset([MANIFEST, *_parts(DetectorConfig())])


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


def _build(path: Path, manifest: dict, parts: dict[str, bytes], encoder: Encoder | None,
           cache_dir: Path | None) -> CollaborLog:
    config = DetectorConfig.model_validate(manifest["config"])
    # A directory saved by an older CollaborLog may still name a server and a key variable: ignored.
    config = config.model_copy(update={"llm": config.llm.portable()})
    state: dict[str, dict | None] = {}
    for name, (_, arrays, tensors) in COMPONENTS.items():
        part = _shape(path, f"{name}.json", parts[f"{name}.json"])
        if part is not None:
            part.update({key: _array(path, parts, f"{name}.{key}.npy", ndim) for key, ndim in arrays.items()})
            part.update({key: _tensors(path, parts, f"{name}.{key}.safetensors") for key in tensors})
        state[name] = part
    try:
        return CollaborLog.from_state(config, state, encoder=encoder, cache_dir=cache_dir)
    except StateError as err:
        raise _damaged(path, f"{err.component}.json", f"does not fit the rest of the detector ({err})") from None
