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
from collaborlog.errors import ConfigError, DatasetNotFoundError

STDIN = "-"


@contextmanager
def with_log(cfg: DatasetConfig, log: str | list[str] | None, stdin: BinaryIO | None = None) -> Iterator[DatasetConfig]:
    """``cfg`` reading ``log`` (one file, or several read one after another) instead of its own
    file; ``-`` is ``stdin`` (default the process's own)."""
    logs = [log] if isinstance(log, str) else list(log or [])
    if not logs:
        yield cfg
        return
    if cfg.source.kind == "logevol":
        raise ConfigError("--log replaces one log file; a logevol source is a folder of versions, give its YAML instead")
    if logs.count(STDIN) > 1:
        raise ConfigError("--log - (stdin) may be given once: stdin can be read only once")
    paths = [str(Path(p).resolve()) for p in logs]
    missing = [p for p in logs if p != STDIN and not Path(p).is_file()]
    if missing:
        what = "not a file" if Path(missing[0]).exists() else "no such file"
        raise DatasetNotFoundError(f"--log {missing[0]}: {what} (give the path of a log file, or - for stdin)")
    if STDIN not in logs:
        yield _reading(cfg, paths)
        return
    source = stdin if stdin is not None else sys.stdin.buffer
    with tempfile.TemporaryDirectory(prefix="collaborlog-stdin-") as folder:
        spool = Path(folder) / "stdin.log"
        with open(spool, "wb") as fh:
            shutil.copyfileobj(source, fh)
        paths[logs.index(STDIN)] = str(spool)
        yield _reading(cfg, paths)


def shown_names(reading: DatasetConfig, log: str | list[str] | None) -> dict[str, str]:
    """How the files ``reading`` reads are named in output: a spooled stdin as ``-``."""
    logs = [log] if isinstance(log, str) else list(log or [])
    if STDIN not in logs:
        return {}
    return {[reading.source.path, *reading.source.more_paths][logs.index(STDIN)]: STDIN}


def _reading(cfg: DatasetConfig, paths: list[str]) -> DatasetConfig:
    return cfg.model_copy(update={"source": cfg.source.model_copy(update={"path": paths[0],
                                                                          "more_paths": tuple(paths[1:])})})
