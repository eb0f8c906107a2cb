from __future__ import annotations

import os
import pickle

import pytest

from collaborlog.data.config import DatasetConfig, SourceConfig, SplitConfig
from collaborlog.data.dataset import load_dataset
from collaborlog.data.logevol import convert, read_split
from collaborlog.errors import DataError


def build_logevol_fixture(root):
    """A tiny dataset in the published LOGEVOL layout (dicts pickled per system and split)."""
    for system, word in [("spark2", "Starting"), ("spark3", "Launching")]:
        for split, n in [("train", 6), ("valid", 2), ("test", 3)]:
            sessions = {}
            for i in range(n):
                bad = i % 3 == 2
                content = [f"{word} executor {i} on host node{i}", f"Task {i} finished in 20 ms"]
                if bad:
                    content.append(f"Lost executor {i}: container killed")
                sessions[f"{split}-{i}"] = {
                    "label": int(bad),
                    "templates": [c.replace(str(i), "<*>") for c in content],
                    "Content": content,
                    "rca_label": [0] * (len(content) - 1) + [int(bad)],
                }
            (root / system).mkdir(parents=True, exist_ok=True)
            with open(root / system / f"session_{split}.pkl", "wb") as fh:
                pickle.dump(sessions, fh)
    return root


def test_pickles_need_an_explicit_opt_in(tmp_path):
    root = build_logevol_fixture(tmp_path / "Logevol")
    with pytest.raises(DataError, match="allow-pickle"):
        read_split(root, "spark2", "train")
    sessions = read_split(root, "spark2", "train", allow_pickle=True)
    assert len(sessions) == 6 and sessions[2].label == 1 and sessions[2].line_labels == [0, 0, 1]


def test_code_in_a_pickle_is_refused_even_with_opt_in(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (tmp_path / "spark2").mkdir()
    with open(tmp_path / "spark2" / "session_train.pkl", "wb") as fh:
        pickle.dump({"s": {"label": 0, "Content": [Evil()]}}, fh)
    with pytest.raises(DataError, match="refusing"):
        read_split(tmp_path, "spark2", "train", allow_pickle=True)


def test_conversion_to_jsonl_then_no_pickle_needed(tmp_path):
    root = build_logevol_fixture(tmp_path / "Logevol")
    written = convert(root)
    assert len(written) == 6
    for path in root.rglob("*.pkl"):
        path.unlink()
    sessions = read_split(root, "spark3", "test")
    assert [s.label for s in sessions] == [0, 0, 1]
    assert sessions[0].content[0].startswith("Launching")


def test_logevol_dataset_keeps_the_published_split(tmp_path):
    root = build_logevol_fixture(tmp_path / "Logevol")
    cfg = DatasetConfig(name="spark2", source=SourceConfig(path=str(root), kind="logevol", system="spark2",
                                                            allow_pickle=True), split=SplitConfig(kind="predefined"))
    ds = load_dataset(cfg, None)
    assert (len(ds.splits.train), len(ds.splits.valid), len(ds.splits.test)) == (6, 2, 3)
    s = ds.splits.test[2]
    assert s.label == 1 and ds.log.content[s.lines[-1]].startswith("Lost executor")
    assert ds.log.label[s.lines].tolist() == [0, 0, 1]


def test_missing_logevol_names_where_to_get_it(tmp_path):
    with pytest.raises(DataError, match="EvLog"):
        read_split(tmp_path, "hadoop3", "test")


def test_shipped_logevol_configs_run_on_the_fixture(tmp_path):
    from pathlib import Path

    from collaborlog.experiments.config import load_experiment
    from collaborlog.experiments.run import run_experiment
    from collaborlog.llm.backends import ScriptedClient

    build_logevol_fixture(tmp_path / "Logevol")
    convert(tmp_path / "Logevol")
    config_path = Path(__file__).resolve().parents[1] / "configs" / "logevol-spark.yaml"
    cfg, config_dir = load_experiment(config_path)
    d = cfg.detector
    cfg = cfg.model_copy(update={"llm_alone_sample": 2, "detector": d.model_copy(update={
        "encoder": d.encoder.model_copy(update={"kind": "hashing"}),
        "coordinator": d.coordinator.model_copy(update={"epochs": 5}),
        "small_model": d.small_model.model_copy(update={"epochs": 2, "k": 1}),
        "governor": d.governor.model_copy(update={"cache": False})})})
    answer = '{"reason": "r", "IsEvol": false, "System State": "Abnormal"}'
    report, _ = run_experiment(cfg, config_dir, tmp_path, llm=ScriptedClient(default=answer))
    assert report.test_sequences == 3 and report.test_anomalies == 1
    assert [s.system for s in report.systems][-1] == "CollaborLog with AEM"
