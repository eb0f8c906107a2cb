"""CollaborLog: log anomaly detection that survives software upgrades.

The public API, and only it; everything else is reached through its stage package (``data``,
``parsing``, ``features``, ``models``, ``memory``, ``llm``, ``detector``, ``experiments``).
The detector's names are imported on first use, so ``import collaborlog`` stays light (no torch).

>>> import collaborlog
>>> collaborlog.CollaborLog.__module__
'collaborlog.detector.facade'
>>> sorted(set(collaborlog.__all__) - set(dir(collaborlog))), sorted(set(collaborlog.LAZY) - set(collaborlog.__all__))
([], [])
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from collaborlog.errors import (
    CollaborLogError,
    ConfigError,
    DataError,
    DatasetNotFoundError,
    MissingDependencyError,
    NotFittedError,
)

if TYPE_CHECKING:
    from collaborlog.detector.config import AEMConfig, DetectorConfig, Mode
    from collaborlog.detector.facade import CollaborLog
    from collaborlog.detector.persistence import load, save
    from collaborlog.records import LogFrame, Sequence
    from collaborlog.verdicts import Branch, Detection, Route

__version__ = "0.1.0"

LAZY = {
    "CollaborLog": "collaborlog.detector.facade",
    "DetectorConfig": "collaborlog.detector.config", "AEMConfig": "collaborlog.detector.config",
    "Mode": "collaborlog.detector.config",
    "load": "collaborlog.detector.persistence", "save": "collaborlog.detector.persistence",
    "Detection": "collaborlog.verdicts", "Branch": "collaborlog.verdicts", "Route": "collaborlog.verdicts",
    "LogFrame": "collaborlog.records", "Sequence": "collaborlog.records",
}
"""Public name -> the module that defines it (imported when the name is first read)."""

__all__ = ["CollaborLogError", "ConfigError", "DataError", "DatasetNotFoundError", "MissingDependencyError",
           "NotFittedError", "__version__", "CollaborLog", "DetectorConfig", "AEMConfig", "Mode", "load", "save",
           "Detection", "Branch", "Route", "LogFrame", "Sequence"]


def __getattr__(name: str) -> Any:
    if name in LAZY:
        value = getattr(import_module(LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'collaborlog' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(LAZY))
