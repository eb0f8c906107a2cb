"""Detector versions as bytes: what the driver hands to workers, so no worker needs the driver's disk.

A version is the saved detector directory (:func:`collaborlog.detector.persistence.save`: no pickle,
checksummed) packed as an uncompressed tar. Version 0 is the detector as loaded; each batch
that the adaptive evolve mechanism learns from makes the next one. Workers only ever load a
version; they never learn.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from collaborlog.detector.facade import CollaborLog
from collaborlog.detector.persistence import load, save
from collaborlog.errors import DataError

MODEL = "model"
"""The directory name inside the tar."""


@dataclass(frozen=True)
class DetectorVersion:
    """One version of the detector: its number (0 = as loaded) and its saved directory as tar bytes."""

    number: int
    blob: bytes

    @classmethod
    def of(cls, detector: CollaborLog, number: int) -> "DetectorVersion":
        with tempfile.TemporaryDirectory(prefix="collaborlog-version-") as tmp:
            folder = save(detector, Path(tmp) / MODEL)
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                for path in sorted(folder.iterdir()):
                    tar.add(path, arcname=f"{MODEL}/{path.name}")
        return cls(number, buffer.getvalue())

    def load(self, **components) -> CollaborLog:
        """The detector of this version (``components`` as for :func:`collaborlog.detector.persistence.load`)."""
        with tempfile.TemporaryDirectory(prefix="collaborlog-version-") as tmp:
            with tarfile.open(fileobj=io.BytesIO(self.blob), mode="r") as tar:
                members = tar.getmembers()
                if any(not m.isfile() or Path(m.name).parent != Path(MODEL) for m in members):
                    raise DataError(f"detector version {self.number} holds entries other than {MODEL}/<file>")
                tar.extractall(tmp, members=members, filter="data")
            return load(Path(tmp) / MODEL, **components)
