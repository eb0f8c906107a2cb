"""Model versions: every learning step writes a new version of a saved detector, and the last
``keep`` are kept, so that a bad lesson can be undone (:func:`rollback`).

A version is a whole detector directory (:mod:`collaborlog.detector.persistence`) under
``MODEL/versions/<n>/`` with a ``version.json`` record (:class:`ModelVersion`): when it was
made, by what (:class:`VersionKind`), from which version, and what that step learned (a
:class:`~collaborlog.detector.learning.LearningSummary`). Loading ``MODEL`` loads the newest
(:mod:`collaborlog.detector.model_dir`). A plain directory (what ``collaborlog fit`` writes)
becomes version 1 at its first learning step.

A version is built in a temporary folder and renamed into place, and every writer holds the
model directory's lock from choosing the version's number to pruning the oldest, so two
processes learning at once each add their own version: neither is lost, and the later is
current. A rollback copies an earlier version as a new one, so it too can be undone.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from collaborlog.atomic import atomic_dir, locked
from collaborlog.detector import learning
from collaborlog.detector.facade import CollaborLog
from collaborlog.detector.learning import LearningSummary
from collaborlog.detector.model_dir import RECORD, numbers, rollback_hint, version_dir, versions_dir
from collaborlog.detector.persistence import MANIFEST, file_names, load_folder, verify, write
from collaborlog.errors import ConfigError, DataError
from collaborlog.features.encoders import Encoder

DEFAULT_KEEP = 5
"""How many versions a model directory keeps, the current one included."""

_PRUNED = ".pruned-"
"""A pruned version is renamed to ``.pruned-<n>-<random>`` first, then deleted: a kill midway
never leaves a half-deleted version under its number."""


class VersionKind(str, Enum):
    """What made a version."""

    FIT = "fit"
    LEARN = "learn"
    """``detect --learn``: the AEM learned the LLM's verdicts."""
    FEEDBACK = "feedback"
    """An operator's corrections."""
    ROLLBACK = "rollback"
    """A copy of an earlier version, made current."""


@dataclass(frozen=True)
class ModelVersion:
    """One version's record."""

    number: int
    created: str
    """When it was written (ISO 8601, UTC)."""
    kind: VersionKind
    summary: LearningSummary
    parent: int | None
    """The version it was learned from (a rollback: the version it restores); ``None`` for a fit."""
    note: str = ""

    def to_json(self) -> dict:
        return {"number": self.number, "created": self.created, "kind": self.kind.value, "parent": self.parent,
                "note": self.note, "summary": self.summary.to_json()}

    @classmethod
    def read(cls, folder: Path) -> ModelVersion:
        """The record in the version folder ``folder``; a missing or malformed one is a :class:`DataError`."""
        path = folder / RECORD
        try:
            data = json.loads(path.read_bytes())
            record = cls(number=data["number"], created=data["created"], kind=VersionKind(data["kind"]),
                         summary=LearningSummary.from_json(data["summary"]), parent=data["parent"],
                         note=data["note"])
        except FileNotFoundError:
            raise DataError(f"{folder} is a damaged model version: it has no {RECORD}") from None
        except (ValueError, KeyError, TypeError, DataError) as err:  # invalid JSON too
            raise DataError(f"{path} is a damaged version record ({type(err).__name__}: {err})") from None
        if record.number != int(folder.name) or not isinstance(record.created, str) or not isinstance(record.note, str) \
                or not (record.parent is None or type(record.parent) is int):
            raise DataError(f"{path} is a damaged version record: it does not describe version {folder.name}")
        return record


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_keep(keep: int) -> None:
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ConfigError(f"keep must be a whole number of versions, at least 1 (the current one); it was {keep!r}")


def versions(path: Path) -> list[ModelVersion]:
    """The versions of the model directory ``path``, oldest first; the last is current. A plain
    directory is one version (number 1, a fit, without a record: its summary is read from it)."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path} is not a saved CollaborLog detector (no {MANIFEST})")
    with locked(path, shared=True):
        found = numbers(path)
        if not found:
            return [_plain_record(path)]
        return [ModelVersion.read(version_dir(path, n)) for n in found]


def current(path: Path) -> int | None:
    """The current version's number (1 for a plain directory), ``None`` when ``path`` holds no model yet."""
    path = Path(path)
    if not path.is_dir():
        return None
    with locked(path, shared=True):
        found = numbers(path)
    return found[-1] if found else 1


def commit(detector: CollaborLog, path: Path, kind: VersionKind, summary: LearningSummary, parent: int | None,
           keep: int = DEFAULT_KEEP, replace: int | None = None, note: str = "") -> ModelVersion:
    """Write ``detector`` as the newest version of the model directory ``path`` (created if
    missing) and prune all but the newest ``keep``; its record.

    ``parent``: the version ``detector`` was loaded from. ``replace``: a version this caller
    wrote earlier in the same run (a checkpoint); it is rewritten in place while it is still
    the newest, else a new version is added, so that nothing another writer added is lost.
    """
    _check_keep(keep)
    detector.check_fitted()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with locked(path):
        found = _adopt_plain(path)
        number = replace if replace is not None and found and found[-1] == replace else (found[-1] + 1 if found else 1)
        return _write_version(detector, path, ModelVersion(number, _now(), kind, summary, parent, note), keep)


def update(path: Path, step: Callable[[CollaborLog], LearningSummary], kind: VersionKind, keep: int = DEFAULT_KEEP,
           note: str = "", encoder: Encoder | None = None,
           cache_dir: Path | None = None) -> tuple[ModelVersion, CollaborLog]:
    """Load the current version of ``path``, let ``step`` teach it, and write the result as a new
    version, all under the model's lock: updates at once are applied one after the other, each
    to the version the one before it wrote, so none is lost. The new record and detector.

    ``encoder``, ``cache_dir``: as for :func:`collaborlog.detector.persistence.load`."""
    path = _saved_model(path, keep)
    with locked(path):
        found = _current_versions(path)
        try:
            detector = load_folder(version_dir(path, found[-1]), encoder, cache_dir)
        except DataError as err:
            raise DataError(f"{err}; {rollback_hint(path, found[-1])}") from None
        summary = step(detector)
        record = ModelVersion(found[-1] + 1, _now(), kind, summary, found[-1], note)
        return _write_version(detector, path, record, keep), detector


def _write_version(detector: CollaborLog, path: Path, record: ModelVersion, keep: int) -> ModelVersion:
    """Write ``detector`` as the version ``record`` describes and prune; the caller holds the lock."""
    with atomic_dir(version_dir(path, record.number)) as tmp:
        write(detector, tmp)
        (tmp / RECORD).write_text(json.dumps(record.to_json(), indent=2), encoding="utf-8")
    _prune(path, keep)
    return record


def _saved_model(path: Path, keep: int) -> Path:
    """``path`` as a saved detector's folder, with ``keep`` checked; a clear error otherwise."""
    _check_keep(keep)
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path} is not a saved CollaborLog detector (no {MANIFEST})")
    return path


def rollback(path: Path, to: int | None = None, keep: int = DEFAULT_KEEP) -> ModelVersion:
    """Make version ``to`` (default: the one before the current) current again, by copying it
    as a new version (recorded as a rollback, so the rollback can be undone too); its record.
    The copy is checked against its manifest first: a damaged version is refused."""
    path = _saved_model(path, keep)
    with locked(path):
        found = _current_versions(path)
        if to is None:
            if len(found) < 2:
                raise DataError(f"{path} keeps only version {found[-1]}: there is no earlier version to roll back to")
            to = found[-2]
        if to not in found:
            raise DataError(f"{path} keeps no version {to}; it keeps {', '.join(map(str, found))} "
                            "(see collaborlog models list)")
        if to == found[-1]:
            raise DataError(f"version {to} of {path} is already current")
        source = version_dir(path, to)
        names = verify(source)  # the whole version, against its sealed manifest
        target, now = ModelVersion.read(source), ModelVersion.read(version_dir(path, found[-1]))
        summary = LearningSummary(0, 0, 0, 0, 0, 0, 0, 0, tau_before=now.summary.tau_after,
                                  tau_after=target.summary.tau_after)
        record = ModelVersion(found[-1] + 1, _now(), VersionKind.ROLLBACK, summary, to,
                              f"rolled back from version {found[-1]} to version {to}")
        with atomic_dir(version_dir(path, record.number)) as tmp:
            for name in names:
                shutil.copyfile(source / name, tmp / name)
            (tmp / RECORD).write_text(json.dumps(record.to_json(), indent=2), encoding="utf-8")
        _prune(path, keep)
    return record


def _plain_record(path: Path) -> ModelVersion:
    """A plain directory's detector as version 1 (a fit, summarized by what its memory holds)."""
    det = load_folder(path)
    summary = learning.summarize(learning.EMPTY, det, len(det.small_model_.memory_ids_))
    created = datetime.fromtimestamp((path / MANIFEST).stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    return ModelVersion(1, created, VersionKind.FIT, summary, None, "saved before versions were kept")


def _current_versions(path: Path) -> list[int]:
    """:func:`_adopt_plain`, for a step that needs a detector there already; the caller holds the lock."""
    found = _adopt_plain(path)
    if not found:
        raise DataError(f"{path} holds no saved CollaborLog detector (no {MANIFEST}, no versions/): "
                        "fit one first (collaborlog fit ... --out PATH)")
    return found


def _adopt_plain(path: Path) -> list[int]:
    """Turn the plain directory ``path`` into version 1 of itself (a copy first, then the
    originals removed: a kill at any point leaves one whole current detector); its version
    numbers. The caller holds ``path``'s lock exclusive."""
    found = numbers(path)
    plain = [f for f in path.iterdir() if f.name in file_names() and f.is_file()]
    if not found and plain:
        record = _plain_record(path)  # checks every file
        with atomic_dir(version_dir(path, 1)) as tmp:
            for f in plain:
                shutil.copyfile(f, tmp / f.name)
            (tmp / RECORD).write_text(json.dumps(record.to_json(), indent=2), encoding="utf-8")
        found = [1]
    for f in plain:  # now kept as version 1 (or left by a conversion that was killed)
        f.unlink()
    return found


def _prune(path: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` versions, and what earlier prunes left half deleted."""
    folder = versions_dir(path)
    for entry in folder.iterdir():
        if entry.name.startswith(_PRUNED):
            shutil.rmtree(entry)
    for n in numbers(path)[:-keep]:
        doomed = folder / f"{_PRUNED}{n}-{secrets.token_hex(4)}"
        os.replace(version_dir(path, n), doomed)
        shutil.rmtree(doomed)


@dataclass
class LearningRun:
    """One learning run's version (``detect --learn``): its first checkpoint adds a version, the
    later ones rewrite that version while it is the newest, so a crash loses at most one batch
    and a run adds one version, not one per batch.

    >>> run = LearningRun.start(detector, model)  # doctest: +SKIP
    >>> for batch in detector.detect_stream(log, sequences, on_learned=lambda _: run.save()):  # doctest: +SKIP
    ...     pass
    >>> run.save().summary.sequences_learned  # doctest: +SKIP
    """

    detector: CollaborLog
    path: Path
    kind: VersionKind
    keep: int
    parent: int | None
    before: learning.Snapshot
    number: int | None = None
    """The version this run wrote, once it has."""

    @classmethod
    def start(cls, detector: CollaborLog, path: Path, kind: VersionKind = VersionKind.LEARN,
              keep: int = DEFAULT_KEEP) -> LearningRun:
        """A run that learns from ``detector`` as it is now, loaded from ``path``'s current version."""
        _check_keep(keep)
        return cls(detector, Path(path), kind, keep, current(path), learning.snapshot(detector))

    def save(self, sequences_seen: int | None = None) -> ModelVersion:
        """Write what the run has learned so far (having read ``sequences_seen``, default: what
        the AEM read from the stream); the version's record."""
        record = commit(self.detector, self.path, self.kind, learning.summarize(self.before, self.detector,
                        sequences_seen), self.parent, self.keep, replace=self.number)
        self.number = record.number
        return record
