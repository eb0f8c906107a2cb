"""Give freed memory back to the operating system.

CPython and the allocators under it (glibc's malloc, pyarrow's memory pool) keep freed blocks for
reuse, so a process that has dropped a large frame still holds its pages. :func:`release` is
called after such a drop, before a large allocation (the embedded LLM's weights), so that the
peak is the larger of the two, not their sum.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
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


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` where the C library has none (musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)
