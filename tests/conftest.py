from __future__ import annotations

import os
from pathlib import Path

import pytest

from collaborlog.data.dataset import find_data_dir


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Tests never write to the user's home.
    monkeypatch.setenv("COLLABORLOG_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = find_data_dir(os.environ.get("COLLABORLOG_DATA_DIR"))
    if found is None or not (found / "SOURCES.md").is_file():
        pytest.skip("the shared loghub data folder is not available")
    return found


@pytest.fixture(scope="session")
def hdfs20k(data_dir):
    """The first 20,000 raw HDFS lines (the hdfs-20k preset), read once for the session."""
    from collaborlog.data.dataset import load_dataset, preset_config

    return load_dataset(preset_config("hdfs-20k"), data_dir)


@pytest.fixture(scope="session")
def minilm():
    from collaborlog.features.encoders import EncoderConfig, build_encoder

    return build_encoder(EncoderConfig(kind="minilm"))


@pytest.fixture
def free_port() -> int:
    """A local TCP port that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
