"""What the CLI shows while it works: the library's log records, and progress bars for its stages.

Both go to stderr, so that stdout stays the command's result (a table, rows, or one JSON
object). Bars are drawn only on a terminal and never with ``--quiet``; a log record is shown at
WARNING and above, or from INFO with ``--verbose`` (DEBUG with ``-vv``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from collaborlog.progress import Advance, reporting

LOGGER = "collaborlog"


def configure_logging(verbosity: int, console: Console) -> None:
    """Show the library's records on ``console``: WARNING and up, INFO with 1, DEBUG with 2 or more."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, RichHandler):
            logger.removeHandler(handler)
    handler = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    # The records are shown here, once: not again by a handler on the root logger.
    logger.propagate = False


class Bars:
    """A :class:`~collaborlog.progress.ProgressSink` drawing one rich bar per running stage."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    @contextmanager
    def stage(self, name: str, total: int | None) -> Iterator[Advance]:
        task = self.progress.add_task(name, total=total)

        def advance(amount: int) -> None:
            self.progress.advance(task, amount)

        try:
            yield advance
        finally:
            self.progress.remove_task(task)


@contextmanager
def progress_bars(console: Console, enabled: bool) -> Iterator[None]:
    """Bars on ``console`` for the stages run inside, when ``enabled`` and ``console`` is a terminal."""
    if not (enabled and console.is_terminal):
        yield
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress, reporting(Bars(progress)):
        yield
