"""Returning freed memory to the OS (:mod:`collaborlog.heap`)."""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
import weakref

import pytest

from collaborlog import heap


class _Node:
    pass


def test_release_collects_cycles_and_trims_the_heap(monkeypatch):
    trimmed = []
    monkeypatch.setattr(heap, "_malloc_trim", lambda: trimmed.append)
    gc.disable()
    try:
        node = _Node()
        node.self = node  # a cycle: only the collector frees it
        alive = weakref.ref(node)
        del node
        assert alive() is not None
        heap.release()
        assert alive() is None and trimmed == [0]
    finally:
        gc.enable()


def test_release_without_a_trim_function(monkeypatch):
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    heap.release()  # musl, macOS, Windows: garbage is still collected, nothing else is called


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_glibc_trim_is_found():
    trim = heap._malloc_trim()
    assert trim is not None and trim(0) in (0, 1)


def test_arenas_are_capped_unless_the_environment_says(monkeypatch):
    calls = []

    class Libc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(heap, "_libc", Libc)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert heap.limit_arenas() is True and calls == [(-8, heap.ARENAS)]
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert heap.limit_arenas() is False and len(calls) == 1
    monkeypatch.setattr(heap, "_libc", lambda: None)  # not Linux
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert heap.limit_arenas() is False


_ARENAS = """
import ctypes, ctypes.util, sys, threading
from collaborlog import heap
if sys.argv[1] == "capped":
    assert heap.limit_arenas()
kept = []
worker = threading.Thread(target=lambda: kept.extend(bytearray(1000) for _ in range(100)))  # malloc'd blocks
worker.start()
worker.join()
ctypes.CDLL(ctypes.util.find_library("c")).malloc_stats()  # one "Arena N:" paragraph per arena, on stderr
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="mallopt's M_ARENA_MAX is glibc's")
@pytest.mark.parametrize(("mode", "arenas"), [("capped", heap.ARENAS), ("default", 2)])
def test_capped_a_new_thread_allocates_from_the_main_arena(mode, arenas):
    # In a child process: the cap lasts for the process, and this one's threads have arenas already.
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    out = subprocess.run([sys.executable, "-c", _ARENAS, mode], env=env, capture_output=True, text=True, check=True)
    assert sum(line.startswith("Arena ") for line in out.stderr.splitlines()) == arenas
