"""The exceptions CollaborLog raises.

Every error derives from :class:`CollaborLogError`; the command-line edge turns them into a
message and an exit code. Messages say what is wrong and how to fix it.
"""

from __future__ import annotations


class CollaborLogError(Exception):
    """Base class of every CollaborLog error."""


class ConfigError(CollaborLogError, ValueError):
    """A configuration value or file is invalid."""


class DataError(CollaborLogError):
    """Input data is missing, unreadable or inconsistent."""


class NotFittedError(CollaborLogError, AttributeError):
    """A detector was used before it was fitted (or loaded)."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """A dataset's files are not where the configuration says."""


class MissingDependencyError(CollaborLogError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` that fixes it."""

    def __init__(self, package: str, purpose: str, pip_name: str | None = None, alternative: str = "") -> None:
        self.package = package
        super().__init__(
            f"{purpose} needs the package '{package}', which is not installed. "
            f"Install it with: pip install {pip_name or package}" + (f"; {alternative}" if alternative else "")
        )


NO_LLM_HINT = ("or run without an LLM (the small model's verdicts, unfamiliar sequences marked 'not judged'): "
               "llm: {backend: none} in the experiment file, or --llm none")
