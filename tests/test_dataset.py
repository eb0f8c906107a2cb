from __future__ import annotations

import pytest

from collaborlog.data.config import SplitConfig, load_dataset_config
from collaborlog.data.dataset import (
    held_out,
    load_dataset,
    preset_config,
    preset_names,
    resolve_config,
)
from collaborlog.data.summary import summarize
from collaborlog.errors import ConfigError, DatasetNotFoundError


def test_presets_exist():
    assert {"hdfs", "hdfs-20k", "bgl-2k", "bgl-2k-time"} <= set(preset_names())
    with pytest.raises(ConfigError, match="presets are"):
        preset_config("nope")


def test_hdfs_preset_matches_the_published_counts(data_dir):
    result = summarize(load_dataset(preset_config("hdfs"), data_dir))
    assert (result.lines, result.sequences, result.anomalous_sequences) == (222_579, 11_501, 350)
    assert sum(p.sequences for p in result.splits.values()) == 11_501
    assert result.splits["train"].sequences == 9_201 and result.unlabelled_sequences == 0
    assert 20 <= result.templates <= 60


def test_hdfs_20k_raw_log_preset(data_dir):
    result = summarize(load_dataset(preset_config("hdfs-20k"), data_dir))
    assert (result.lines, result.unmatched_lines, result.sequences, result.anomalous_sequences) == (20_000, 0, 1_782, 43)


@pytest.mark.parametrize("name", ["bgl-2k", "bgl-2k-time"])
def test_bgl_presets_label_windows_from_lines(name, data_dir):
    ds = load_dataset(preset_config(name), data_dir)
    assert len(ds.log) == 2000
    assert int((ds.log.label == 1).sum()) == 143
    covered = sorted(int(i) for s in ds.splits.all() for i in s.lines)
    assert covered == list(range(2000)) if name == "bgl-2k" else set(covered) == set(range(2000))
    anomalous_lines = {int(i) for i in (ds.log.label == 1).nonzero()[0]}
    for s in ds.splits.all():
        assert s.label == int(bool(anomalous_lines & set(s.lines.tolist())))


def test_missing_dataset_names_files_and_download(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="hdfs_events_2percent.parquet.*loghub"):
        load_dataset(preset_config("hdfs"), tmp_path)


def test_user_config_file_with_relative_paths(tmp_path):
    (tmp_path / "app.log").write_text(
        "".join(f"2024-01-01 00:00:{i:02d} INFO svc: request {i} session=s{i % 3} ok\n" for i in range(30))
        + "2024-01-01 00:00:59 ERROR svc: request 99 session=s1 failed\n")
    cfg_path = tmp_path / "app.yaml"
    cfg_path.write_text(
        "name: app\nsource:\n  path: app.log\n  log_format: '<Date> <Time> <Level> <Component>: <Content>'\n"
        "  timestamp: {fields: [Date, Time]}\n"
        "grouping: {kind: session, regex: 'session=s\\d'}\n")
    cfg, base = resolve_config(str(cfg_path))
    result = summarize(load_dataset(cfg, base))
    assert result.lines == 31 and result.sequences == 3 and result.unlabelled_sequences == 3


def test_unknown_config_keys_are_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsource: {path: a.log, kind: text, log_format: '<Content>'}\ngroupin: {kind: count}\n")
    with pytest.raises(ConfigError, match="groupin.*valid keys"):
        load_dataset_config(path)
    path.write_text("name: x\nsource: {path: a.log, kind: text, log_format: '<Content>', colour: red}\n")
    with pytest.raises(ConfigError, match="unknown key 'source.colour'"):
        load_dataset_config(path)


def test_a_history_for_fitting_only_has_no_test_part_and_refuses_to_be_scored(tmp_path):
    (tmp_path / "app.log").write_text(
        "".join(f"2024-01-01 00:{i // 60:02d}:{i % 60:02d} INFO svc: request {i} ok\n" for i in range(100)))
    cfg_path = tmp_path / "app.yaml"
    cfg_path.write_text(
        "name: app\nsource:\n  path: app.log\n  log_format: '<Date> <Time> <Level> <Component>: <Content>'\n"
        "grouping: {kind: count, size: 10, step: 10}\nsplit: {kind: chronological, ratios: [0.9, 0.1, 0.0]}\n")
    cfg, base = resolve_config(str(cfg_path))
    ds = load_dataset(cfg, base)
    assert (len(ds.splits.train), len(ds.splits.valid), len(ds.splits.test)) == (9, 1, 0)
    with pytest.raises(ConfigError, match="no test split"):
        held_out(ds)
    # Train must not be empty.
    with pytest.raises(ValueError):
        SplitConfig(ratios=(0.0, 0.5, 0.5))
