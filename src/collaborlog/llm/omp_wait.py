"""How OpenMP worker threads wait: passively, so that a machine shared with other work does not
stall llama.cpp's and torch's thread teams.

llama.cpp (built with OpenMP, as llama-cpp-python's wheels are) and torch's CPU kernels split each
operation over a team of threads that meet at a barrier after it. By default libgomp's threads
spin at the barrier before they sleep. When the cores are busy with other processes, a spinning
thread burns the time slice its partner needs to reach the barrier, and a team of as many threads
as cores slows to a crawl: on 2 cores shared with other jobs, SmolLM2-135M with 2 threads
generated 9.1 tokens/s spinning and 40.5 tokens/s with ``OMP_WAIT_POLICY=PASSIVE``
(``benchmarks/llm_throughput.py --model smollm2-135m --rounds 1``, with and without ``--spin``).

libgomp reads the policy once, when it is loaded (by ``import torch`` or the first llama.cpp
model), so :func:`prefer_passive_wait` must run before either; the CLI calls it first thing. A
policy the caller already chose in the environment is kept.
"""

from __future__ import annotations

import os
import sys

VARIABLE = "OMP_WAIT_POLICY"


def prefer_passive_wait() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the environment names a policy. True when the
    process's OpenMP runtime will follow the policy now set: neither torch nor llama_cpp (the
    libraries here that load libgomp) is imported yet."""
    if VARIABLE in os.environ:
        return False
    os.environ[VARIABLE] = "PASSIVE"
    return not ({"torch", "llama_cpp"} & sys.modules.keys())
