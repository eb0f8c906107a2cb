"""Where in a model directory the current detector lives.

A model directory is either *plain*, the detector's files themselves (what ``collaborlog fit``
writes), or *versioned*: ``versions/<n>/`` holds one whole detector directory per version, each
with a ``version.json`` record, and the current detector is the newest (the highest ``n``). The
first learning step turns a plain directory into a versioned one, its detector becoming
version 1 (see :mod:`collaborlog.detector.versions`).

The model directory's own ``flock`` orders its versions: writers take it exclusive, readers
shared, so a reader never picks a version that a writer is pruning. The directory itself is never
replaced once versioned, so the lock always guards the directory readers open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from collaborlog.atomic import locked, recover

VERSIONS = "versions"
RECORD = "version.json"
"""Each version's record: its number, time, kind, parent and learning summary."""


def versions_dir(path: Path) -> Path:
    return Path(path) / VERSIONS


def version_dir(path: Path, number: int) -> Path:
    return versions_dir(path) / str(number)


def numbers(path: Path) -> list[int]:
    """The model's version numbers, oldest first (empty for a plain directory). A version that a
    killed writer left only as ``<n>.old`` (between the two renames of a replace) is put back."""
    folder = versions_dir(path)
    if not folder.is_dir():
        return []
    for entry in folder.iterdir():
        base = entry.name.removesuffix(".old")
        if entry.name.endswith(".old") and base.isdigit():
            recover(folder / base)
    return sorted(int(entry.name) for entry in folder.iterdir() if entry.name.isdigit() and entry.is_dir())


def is_versioned(path: Path) -> bool:
    return bool(numbers(path))


@contextmanager
def reading(path: Path) -> Iterator[Path]:
    """Hold ``path``'s lock shared for the block and yield the folder of its current detector:
    the newest version of a versioned directory, else ``path`` itself."""
    with locked(Path(path), shared=True):
        found = numbers(path)
        yield version_dir(path, found[-1]) if found else Path(path)


def rollback_hint(path: Path, number: int) -> str:
    """What to do about a damaged version ``number`` of the model ``path``."""
    earlier = [n for n in numbers(path) if n < number]
    if not earlier:
        return f"it is version {number} of {path} and no earlier version is kept: re-fit it (collaborlog fit ...)"
    return (f"it is version {number} of {path}: make an earlier version current with "
            f"collaborlog models rollback {path} --to {earlier[-1]}")
