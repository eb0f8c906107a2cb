"""Which log ``detect`` reads: the dataset's own file, another file in the same format, or stdin (``-``).

Stdin is spooled to a private temporary file first: the readers sniff the head (gzip or text) and
then read from the start, which a pipe cannot do. The file is removed when the context ends.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from collaborlog.data.config import DatasetConfig
from collaborlog.errors import ConfigError

STDIN = "-"


@contextmanager
def with_log(cfg: DatasetConfig, log: str | None, stdin: BinaryIO | None = None) -> Iterator[DatasetConfig]:
    """``cfg`` reading ``log`` instead of its own file (``-``: ``stdin``, default the process's own)."""
    if log is None:
        yield cfg
        return
    if cfg.source.kind == "logevol":
        raise ConfigError("--log replaces one log file; a logevol source is a folder of versions, give its YAML instead")
    if log != STDIN:
        yield _reading(cfg, str(Path(log).resolve()))
        return
    source = stdin if stdin is not None else sys.stdin.buffer
    with tempfile.TemporaryDirectory(prefix="collaborlog-stdin-") as folder:
        spool = Path(folder) / "stdin.log"
        with open(spool, "wb") as fh:
            shutil.copyfileobj(source, fh)
        yield _reading(cfg, str(spool))


def _reading(cfg: DatasetConfig, path: str) -> DatasetConfig:
    return cfg.model_copy(update={"source": cfg.source.model_copy(update={"path": path})})
