"""Writing files and directories so that readers and crashes only ever see a whole version.

A file or directory is built under a temporary name beside its target, flushed to disk, and
renamed into place. Processes that share a target coordinate with ``flock`` on the folder that
holds it (advisory, so only CollaborLog's own writers and readers take part): writers of one
folder rename one at a time, readers of a directory take the lock shared, so none sees a
directory half swapped. Nothing here leaves a lock file behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

TMP_MARK = ".tmp-"
"""Temporary names are ``.<target name>.tmp-<random>``; nothing else is ever cleaned up."""


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(folder: Path, shared: bool = False) -> Iterator[None]:
    """Hold ``flock`` on ``folder`` (exclusive, or ``shared``) for the ``with`` block."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step: a reader sees the old bytes or the new, never a mix.

    Each writer has its own temporary file, so concurrent writers never write into one file;
    the last to rename wins.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def previous(path: Path) -> Path:
    """Where :func:`atomic_dir` keeps the replaced directory for the instant between its two renames."""
    return path.with_name(path.name + ".old")


def _remove_stale_temps(path: Path) -> None:
    """Delete temporary directories of ``path`` that killed writers left. A live writer holds
    ``flock`` on its own from creation on (see :func:`atomic_dir`); the caller holds the folder's
    lock, so none is created meanwhile."""
    pattern = re.compile(re.escape(f".{path.name}{TMP_MARK}") + r"[A-Za-z0-9_]+")
    for tmp in path.parent.iterdir():
        if not pattern.fullmatch(tmp.name):
            continue
        try:
            fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # its writer failed and removed it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            log.info("removing %s, left by a save that was killed", tmp)
            shutil.rmtree(tmp)
        except BlockingIOError:
            continue  # a live writer's
        finally:
            os.close(fd)


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; the caller holds the folder's lock.

    POSIX cannot rename a directory over a non-empty one, so the current one steps aside to
    ``<name>.old`` first. A kill between the two renames leaves only ``<name>.old``, which
    :func:`recover` puts back.
    """
    old = previous(path)
    if path.exists():
        if old.exists():
            shutil.rmtree(old)  # left by a writer killed after its swap: path is newer
        os.replace(path, old)
    os.replace(tmp, path)
    _fsync(path.parent)
    if old.exists():
        shutil.rmtree(old)


def _new_folder(path: Path) -> Path:
    """A fresh temporary folder beside ``path``, with the umask's permissions (``mkdtemp`` would
    make it private, and so the saved directory)."""
    while True:
        tmp = path.with_name(f".{path.name}{TMP_MARK}{secrets.token_hex(4)}")
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Build a directory in the yielded temporary folder; on leaving the block it replaces ``path`` whole.

    An exception in the block leaves ``path`` as it was. Concurrent writers of one ``path`` each
    build their own folder and swap in turn: the last one wins, and none sees a partial one.
    Temporary folders that killed writers left are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Cleaners look only under the exclusive lock, so they never see this folder unlocked.
    with locked(path.parent, shared=True):
        tmp = _new_folder(path)
        fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield tmp
        for f in tmp.iterdir():
            _fsync(f)
        _fsync(tmp)
        with locked(path.parent):
            _remove_stale_temps(path)
            _swap_into_place(tmp, path)
    finally:
        if tmp.exists():  # the block failed: nothing of it may stay (removed while still locked)
            shutil.rmtree(tmp)
        os.close(fd)


def recover(path: Path) -> bool:
    """Put back ``<name>.old`` when a writer was killed between its two renames; True if it did."""
    path = Path(path)
    if path.exists() or not previous(path).is_dir():
        return False
    with locked(path.parent):
        if path.exists() or not previous(path).is_dir():
            return False  # another process recovered it, or a writer finished meanwhile
        os.replace(previous(path), path)
        _fsync(path.parent)
    log.warning("restored %s from %s, left by a save that was killed between its two renames",
                path, previous(path))
    return True
