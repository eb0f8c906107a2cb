"""The main job's wall time and peak memory, from a cold cache, beside issue 18's goals.

    python benchmarks/main_job.py [--experiment configs/hdfs-evolved.yaml]

Runs ``collaborlog run EXPERIMENT`` in a child process with an empty cache folder (embeddings
and LLM answers computed afresh) and samples the child's RSS with psutil every 50 ms. The
figures count everything the job holds, the embedded LLM's weights included.
Data: loghub (Zhu et al., ISSRE 2023), https://github.com/logpai/loghub (see the data's SOURCES.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import psutil

GOAL_S = 5 * 60
GOAL_MIB = 2048


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="configs/hdfs-evolved.yaml")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="collaborlog-cache-") as cache:
        env = {**os.environ, "COLLABORLOG_CACHE_DIR": cache}
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "collaborlog", "run", args.experiment], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        proc = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        err = child.stderr.read() if child.stderr else ""
    if child.returncode != 0:
        sys.exit(f"collaborlog run failed ({child.returncode}):\n{err[-2000:]}")
    mib = peak / 2**20
    print(f"main job ({args.experiment}), cold cache")
    print(f"wall      {wall / 60:5.2f} min   goal <= {GOAL_S / 60:.0f} min   ({'met' if wall <= GOAL_S else 'not met'})")
    print(f"peak RSS  {mib:7,.0f} MiB   goal <= {GOAL_MIB:,} MiB ({'met' if mib <= GOAL_MIB else 'not met'})")


if __name__ == "__main__":
    main()
