"""Load on ``collaborlog serve``: requests per second and latency of ``POST /v1/detect``.

    python benchmarks/serve_load.py [--requests 2000] [--concurrency 8] [--model DIR] [--data-dir DIR]

Starts ``collaborlog serve`` in a subprocess on 127.0.0.1 (a free port), so the client's work does
not share the server's interpreter. Without ``--model`` it first fits a detector (default
configuration, no LLM) on the ``hdfs-20k`` preset's history and saves it in a temporary folder.
Each request carries one 20-line sequence of real raw HDFS lines: a test-split block's lines,
repeated to 20 where the block is shorter. ``--concurrency`` clients send ``--requests`` requests
in all (after 50 untimed warm-up requests), then the server is stopped. Goal: at least 200
requests/s with p99 latency under 100 ms.
Data: loghub (Zhu et al., ISSRE 2023), https://github.com/logpai/loghub (see the data's SOURCES.md).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from collaborlog.data.dataset import find_data_dir, load_dataset, resolve_config

GOAL_RPS = 200
GOAL_P99_MS = 100
LINES = 20
WARMUP = 50


def fit_small(data_dir: Path, out: Path) -> Path:
    from collaborlog.detector.config import DetectorConfig
    from collaborlog.detector.facade import CollaborLog
    from collaborlog.detector.persistence import save

    cfg, _ = resolve_config("hdfs-20k")
    ds = load_dataset(cfg, data_dir)
    detector = CollaborLog(DetectorConfig(parser=cfg.parser, llm={"backend": "none"}))
    return save(detector.fit(ds.log, ds.splits.train, ds.splits.valid), out)


def payloads(data_dir: Path) -> list[dict]:
    """One request body per test-split block: its first 20 lines (cycled when shorter), with levels."""
    cfg, _ = resolve_config("hdfs-20k")
    ds = load_dataset(cfg, data_dir)
    levels = ds.log.fields.get("Level")
    out = []
    for s in ds.splits.test:
        rows = list(itertools.islice(itertools.cycle(s.lines.tolist()), LINES))
        seq = {"id": s.id, "lines": [ds.log.content[i] for i in rows]}
        if levels is not None:
            seq["levels"] = [levels[i] for i in rows]
        out.append({"sequences": [seq]})
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, server: subprocess.Popen, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer {url}/v1/health within {limit_s:.0f} s")


async def load(url: str, bodies: list[dict], requests: int, concurrency: int) -> tuple[list[float], dict[int, int], float]:
    """Latencies (s) of ``requests`` requests sent by ``concurrency`` workers, the status counts, and the wall time."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        for k in queue:  # a shared iterator: each request is taken by exactly one worker
            begin = time.perf_counter()
            reply = await client.post(f"{url}/v1/detect", json=bodies[k % len(bodies)])
            latencies.append(time.perf_counter() - begin)
            statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        for body in bodies[:WARMUP]:
            await client.post(f"{url}/v1/detect", json=body)
        begin = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - begin
    return latencies, statuses, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--model", type=Path, default=None, help="A saved detector (default: fit one on hdfs-20k).")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    data_dir = find_data_dir(args.data_dir)
    if data_dir is None:
        raise SystemExit("no data directory: give --data-dir or set COLLABORLOG_DATA_DIR")
    bodies = payloads(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            begin = time.perf_counter()
            model = fit_small(data_dir, Path(tmp) / "detector")
            print(f"fitted a detector on hdfs-20k in {time.perf_counter() - begin:.1f} s")
        url = f"http://127.0.0.1:{free_port()}"
        # No token: the load measures detection, not authentication.
        env = {k: v for k, v in os.environ.items() if k != "COLLABORLOG_TOKEN"}
        server = subprocess.Popen([sys.executable, "-m", "collaborlog", "serve", str(model), "--llm", "none",
                                   "--port", url.rsplit(":", 1)[1]], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(url, server)
            latencies, statuses, wall = asyncio.run(load(url, bodies, args.requests, args.concurrency))
            routes = [row for row in httpx.get(f"{url}/metrics").text.splitlines()
                      if row.startswith("collaborlog_sequences_total")]
        finally:
            server.terminate()
            server.wait(timeout=30)
    ms = np.asarray(latencies) * 1000
    rps = len(latencies) / wall
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    print(f"{len(latencies):,} requests ({LINES}-line sequences), concurrency {args.concurrency}, "
          f"statuses {statuses}, {wall:.1f} s")
    print(f"requests/s {rps:,.0f}  (goal >= {GOAL_RPS}: {'met' if rps >= GOAL_RPS else 'NOT met'})")
    print(f"p50 {p50:.1f} ms, p99 {p99:.1f} ms  (goal p99 < {GOAL_P99_MS} ms: "
          f"{'met' if p99 < GOAL_P99_MS else 'NOT met'})")
    print("sequences by route and branch (warm-up included):", "; ".join(routes))


if __name__ == "__main__":
    main()
