"""The OpenMP wait policy: set passive before libgomp loads, never over the caller's choice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def run(code: str, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    clean["PYTHONPATH"] = SRC + os.pathsep + clean.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def test_sets_passive_and_says_it_takes_effect_before_libgomp_loads():
    code = "import os; from collaborlog.llm.omp_wait import prefer_passive_wait as p; print(p(), os.environ['OMP_WAIT_POLICY'])"
    assert run(code) == ["True", "PASSIVE"]


def test_keeps_the_callers_policy():
    code = "import os; from collaborlog.llm.omp_wait import prefer_passive_wait as p; print(p(), os.environ['OMP_WAIT_POLICY'])"
    assert run(code, OMP_WAIT_POLICY="ACTIVE") == ["False", "ACTIVE"]


def test_says_when_it_comes_too_late():
    code = "import torch, os; from collaborlog.llm.omp_wait import prefer_passive_wait as p; print(p())"
    assert run(code) == ["False"]


def test_the_cli_sets_it_before_any_command_runs():
    code = ("import os, sys; sys.argv = ['collaborlog', '--help']\n"
            "from collaborlog.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('policy', os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
    assert run(code)[-3:] == ["policy", "PASSIVE", "False"]
