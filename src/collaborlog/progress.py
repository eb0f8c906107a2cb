"""Progress of the long stages (reading, embedding, training, LLM batches), for whoever listens.

The library announces a stage and how far it got; it draws nothing and prints nothing. A caller
that wants bars (the CLI, on a terminal) installs a :class:`ProgressSink` with :func:`reporting`;
otherwise nothing listens and a stage only logs its start and end at DEBUG on this module's logger.
The sink lives in a context variable: a stage reports from the thread that runs it.

>>> with stage("embedding", total=3) as advance:
...     advance(3)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Protocol

log = logging.getLogger(__name__)

Advance = Callable[[int], None]
"""Called with how many more units of a stage are done."""


class ProgressSink(Protocol):
    def stage(self, name: str, total: int | None) -> AbstractContextManager[Advance]:
        """Show stage ``name`` (``total`` units, ``None`` when unknown) while the context lasts."""
        ...


_sink: ContextVar[ProgressSink | None] = ContextVar("collaborlog_progress", default=None)


def _ignore(amount: int) -> None:
    return None


@contextmanager
def stage(name: str, total: int | None = None) -> Iterator[Advance]:
    """A stage of ``total`` units: the context gives the function to call as units are done."""
    sink = _sink.get()
    log.debug("%s: started%s", name, "" if total is None else f" ({total:,})")
    if sink is None:
        yield _ignore
    else:
        with sink.stage(name, total) as advance:
            yield advance
    log.debug("%s: done", name)


@contextmanager
def reporting(sink: ProgressSink | None) -> Iterator[None]:
    """Report the stages run inside the context to ``sink`` (``None``: to nobody)."""
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)
