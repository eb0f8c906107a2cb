"""A job's detections on disk: JSON Lines, or parquet for a ``.parquet`` path; written atomically."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

from collaborlog.atomic import atomic_write_bytes, atomic_write_text
from collaborlog.verdicts import Detection


def rows(detections: list[Detection], versions: list[int]) -> list[dict]:
    """One JSON-ready row per detection (the fields of ``detect --out``), with the detector version that judged it."""
    return [{**json.loads(json.dumps(asdict(d), default=str)), "detector_version": v}
            for d, v in zip(detections, versions)]


def write_detections(path: Path, detections: list[Detection], versions: list[int]) -> Path:
    """Write ``detections`` to ``path``: parquet when it ends in ``.parquet``, else JSON Lines."""
    table = rows(detections, versions)
    if path.suffix == ".parquet":
        import pandas as pd

        buffer = io.BytesIO()
        frame = pd.DataFrame(table)
        for name in ("neighbours", "compared_with"):
            # Nested values as JSON text: one column type whatever the rows hold.
            frame[name] = [json.dumps(v) for v in frame[name]]
        frame.to_parquet(buffer, index=False)
        atomic_write_bytes(path, buffer.getvalue())
    else:
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in table))
    return path
