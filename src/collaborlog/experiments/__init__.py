"""Experiments on top of the detector: configs, the fast path, the full run, reports, the simulator."""
