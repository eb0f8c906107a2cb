"""Give freed memory back to the operating system, and keep the C heap from spreading.

CPython and the allocators under it (glibc's malloc, pyarrow's memory pool) keep freed blocks for
reuse, so a process that has dropped a large frame still holds its pages. :func:`release` is
called after such a drop, before a large allocation (the embedded LLM's weights), so that the
peak is the larger of the two, not their sum.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
from collections.abc import Callable


def release() -> None:
    """Collect garbage, then return free heap pages to the OS where the platform allows
    (glibc's ``malloc_trim``; pyarrow's pool when pyarrow is loaded). Harmless elsewhere."""
    gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


ARENAS = 1
"""glibc malloc arenas a process of this CLI keeps (``MALLOC_ARENA_MAX`` in the environment wins)."""

_M_ARENA_MAX = -8
"""``mallopt``'s parameter for the arena limit (glibc's ``malloc.h``)."""


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas``, unless ``MALLOC_ARENA_MAX`` is set; True when
    capped. By default glibc gives threads up to 8 arenas per core, and each keeps the blocks
    freed in it: the LLM's worker threads, new for each batch, left ~200 MB more resident on the
    main job (2,428 MiB peak RSS against 2,214 with 2 arenas, `/usr/bin/time -v collaborlog run
    configs/hdfs-evolved.yaml`). With one, the embedded LLM's thread also allocates where the
    fit freed the history (pages scattered among live objects, which no trim returns) and the
    Python side reuses what a call frees: 2,041-2,070 MiB with 2 arenas, 2,003-2,012 with 1
    (``benchmarks/memory.py --llm embedded``, alternated). Arenas made before the call stay."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    return bool(mallopt is not None and mallopt(_M_ARENA_MAX, arenas))


def _libc() -> ctypes.CDLL | None:
    """The C library on Linux (glibc or musl), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name is not None else None


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` where the C library has none (musl, macOS, Windows)."""
    libc = _libc()
    return getattr(libc, "malloc_trim", None) if libc is not None else None
