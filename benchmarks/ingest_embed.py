"""Ingest + parse + embed every line of a dataset from a cold cache, and print the figures.

    python benchmarks/ingest_embed.py [--dataset hdfs] [--encoder minilm]

Target (issue 2): the 222,579 lines of the ``hdfs`` preset in under 30 s wall on 2 cores.
Model loading is reported separately and included in the total.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from collaborlog.dataset import find_data_dir, load_dataset, resolve_config
from collaborlog.embeddings import EmbeddingCache, embed_lines
from collaborlog.encoders import EncoderConfig, build_encoder
from collaborlog.templates import TemplateMiner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="hdfs")
    ap.add_argument("--encoder", default="minilm", choices=["minilm", "hashing"])
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()

    t0 = time.perf_counter()
    cfg, config_dir = resolve_config(args.dataset)
    dataset = load_dataset(cfg, config_dir if args.data_dir is None and config_dir else find_data_dir(args.data_dir))
    t_read = time.perf_counter()
    miner = TemplateMiner(cfg.parser)
    parsed = miner.parse(dataset.log.content)
    t_parse = time.perf_counter()
    encoder = build_encoder(EncoderConfig(kind=args.encoder))
    t_load = time.perf_counter()
    with tempfile.TemporaryDirectory() as cold:
        cache = EmbeddingCache(encoder.identity, Path(cold))
        lines = embed_lines(parsed.message_index, parsed.messages, encoder, cache)
        t_embed = time.perf_counter()
        vectors = lines.of_sequences(dataset.splits.all())
    t_end = time.perf_counter()
    n = len(dataset.log)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"dataset            {cfg.name}")
    print(f"lines              {n:,}")
    print(f"sequences          {vectors.shape[0]:,} x {vectors.shape[1]}-d")
    print(f"distinct messages  {len(parsed.messages):,} embedded (templates: {len(miner.templates)})")
    print(f"read + group       {t_read - t0:6.2f} s")
    print(f"mask + mine        {t_parse - t_read:6.2f} s")
    print(f"encoder load       {t_load - t_parse:6.2f} s")
    print(f"embed messages     {t_embed - t_load:6.2f} s")
    print(f"sequence means     {t_end - t_embed:6.2f} s")
    print(f"total wall         {t_end - t0:6.2f} s  ({n / (t_end - t0):,.0f} lines/s)")
    print(f"peak memory (RSS)  {peak_mb:,.0f} MiB")


if __name__ == "__main__":
    main()
