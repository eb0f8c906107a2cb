"""Scale-out: score a cluster's logs with Ray, with one LLM service and one memory (``pip install 'collaborlog[ray]'``).

Ray is imported only when a job runs; see :mod:`collaborlog.scale.ray_engine` and ``docs/scale-out.md``.
"""

from collaborlog.scale.output import write_detections
from collaborlog.scale.ray_engine import RayConfig, RayResult, detect_on_ray
from collaborlog.scale.versions import DetectorVersion

__all__ = ["DetectorVersion", "RayConfig", "RayResult", "detect_on_ray", "write_detections"]
