# ruff: noqa: E402 (the OpenMP wait policy is set before torch is imported)
"""Raw log text to verdicts on the small-model path (no LLM): lines per second, end to end.

    python benchmarks/small_model_path.py [--data-dir DIR] [--repeats 3]

The HDFS 2% sample (222,579 lines) is written back as the raw text HDFS writes (date, time,
pid, level, component, message) into a temporary file. The detector's models are fitted on its
chronological history first (not timed). Each timed pass then starts from that text: read and
parse the lines, group them by block id, mask and mine (a template store loaded afresh, so no
token is cached from the fit), embed from the embedding cache, route with the coordinator and
judge every block with the small model. Goal (issue 6): at least 100,000 lines/s.
Data: loghub (Zhu et al., ISSRE 2023), https://github.com/logpai/loghub (see the data's SOURCES.md).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from collaborlog.llm.omp_wait import prefer_passive_wait

# As `collaborlog` does first thing: torch's and faiss's threads wait passively on shared cores (see omp_wait).
prefer_passive_wait()

import numpy as np
import pandas as pd

from collaborlog.data.config import DatasetConfig, SessionGrouping, SourceConfig, TimestampSpec
from collaborlog.data.dataset import find_data_dir, load_dataset
from collaborlog.data.grouping import GroupStats, group_sessions
from collaborlog.data.readers import read_log
from collaborlog.features.embeddings import EmbeddingCache
from collaborlog.features.encoders import EncoderConfig, build_encoder
from collaborlog.features.featurizer import Featurizer
from collaborlog.models.coordinator import Coordinator, CoordinatorConfig
from collaborlog.models.small_model import SmallModel, SmallModelConfig
from collaborlog.parsing.templates import TemplateMiner
from collaborlog.verdicts import Route

GOAL = 100_000
SOURCE = SourceConfig(path="hdfs.log", kind="text", log_format="<Date> <Time> <Pid> <Level> <Component>: <Content>",
                      timestamp=TimestampSpec(fields=("Date", "Time"), format="%y%m%d %H%M%S"))
GROUPING = SessionGrouping(regex=r"blk_-?\d+")


def write_raw_text(data_dir: Path, folder: Path) -> None:
    """The parquet sample's lines as HDFS wrote them."""
    events = pd.read_parquet(data_dir / "hdfs_2pct_loglead/hdfs_events_2percent.parquet",
                             columns=["date", "time", "id", "level", "component", "m_message"])
    lines = (events["date"] + " " + events["time"] + " " + events["id"] + " " + events["level"] + " "
             + events["component"] + " " + events["m_message"])
    (folder / SOURCE.path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--encoder", default="minilm", choices=["minilm", "hashing"])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    data_dir = find_data_dir(args.data_dir)
    if data_dir is None:
        raise SystemExit("no data directory: give --data-dir or set COLLABORLOG_DATA_DIR")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_raw_text(data_dir, folder)
        labels = data_dir / "hdfs_2pct_loglead/hdfs_seqs_2percent_labels.csv"
        cfg = DatasetConfig.model_validate({
            "name": "hdfs-raw", "source": SOURCE.model_dump(), "grouping": GROUPING.model_dump(),
            "labels": {"kind": "session_file", "path": str(labels), "id_column": "seq_id", "label_column": "label"},
        })
        t = time.perf_counter()
        dataset = load_dataset(cfg, folder)
        encoder = build_encoder(EncoderConfig(kind=args.encoder))
        cache = EmbeddingCache(encoder.identity)
        miner = TemplateMiner(cfg.parser)
        featurizer = Featurizer(miner, encoder, cache)
        train, valid = dataset.splits.train, dataset.splits.valid
        tr, va = featurizer.transform(dataset.log, train), featurizer.transform(dataset.log, valid)
        y_train = np.array([s.label for s in train], np.int8)
        small_model = SmallModel(SmallModelConfig()).fit(tr.vectors, y_train, [s.id for s in train], va.vectors,
                                                         np.array([s.label for s in valid], np.int8))
        coordinator = Coordinator(CoordinatorConfig()).fit(tr.vectors, va.vectors)
        print(f"fit (not timed): {time.perf_counter() - t:.1f} s on {len(train):,} + {len(valid):,} history blocks")

        store = miner.to_json()
        rates = []
        for _ in range(args.repeats):
            stages = {}
            start = time.perf_counter()
            log = read_log(folder / SOURCE.path, SOURCE)
            stages["read"] = time.perf_counter()
            blocks = group_sessions(log, GROUPING, GroupStats())
            stages["group"] = time.perf_counter()
            features = Featurizer(TemplateMiner.from_json(store), encoder, cache).transform(log, blocks)
            stages["mask+mine+embed"] = time.perf_counter()
            _, routes = coordinator.route(features.vectors)
            verdicts = small_model.predict(features.vectors).verdict
            stages["route+judge"] = time.perf_counter()
            seconds = stages["route+judge"] - start
            rates.append(len(log) / seconds)
            split = ", ".join(f"{name} {end - begin:.2f} s" for (name, end), begin in
                              zip(stages.items(), [start, *list(stages.values())[:-1]]))
            print(f"pass: {len(log):,} lines -> {len(verdicts):,} block verdicts "
                  f"({int(verdicts.sum())} anomalous, {sum(r is Route.LLM for r in routes)} routed to the LLM) "
                  f"in {seconds:.2f} s = {rates[-1]:,.0f} lines/s ({split})")
    print(f"small-model path, raw text -> verdicts: median {statistics.median(rates):,.0f} lines/s "
          f"(min {min(rates):,.0f}, max {max(rates):,.0f}; {args.repeats} passes)   goal >= {GOAL:,} lines/s")


if __name__ == "__main__":
    main()
