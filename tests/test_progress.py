"""Progress stages: the library reports what it is doing to whoever listens, and to nobody by default."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from synthetic import FAILED, NORMAL, world

from collaborlog.detector.config import DetectorConfig
from collaborlog.detector.facade import CollaborLog
from collaborlog.ops.console import progress_bars
from collaborlog.progress import reporting, stage


class Recorder:
    """A sink that keeps, per stage, its total and how much was reported done."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, int | None, int]] = []

    @contextmanager
    def stage(self, name, total):
        done = [0]
        yield lambda n: done.__setitem__(0, done[0] + n)
        self.stages.append((name, total, done[0]))


def test_fit_reports_embedding_and_training_to_the_sink_and_nothing_without_one():
    labels = [1 if k % 20 == 0 else 0 for k in range(200)]
    frame, seqs = world([FAILED if y else NORMAL for y in labels], labels, "h")
    cfg = DetectorConfig.model_validate({"encoder": {"kind": "hashing"}, "coordinator": {"epochs": 4},
                                         "small_model": {"epochs": 3, "k": 3}, "llm": {"backend": "none"}})
    recorder = Recorder()
    with reporting(recorder):
        CollaborLog(cfg).fit(frame, seqs[:160], seqs[160:])
    by_name = {name: (total, done) for name, total, done in recorder.stages}
    assert by_name["training the small model (epochs)"] == (3, 3)
    total, done = by_name["training the coordinator (epochs)"]
    assert total == 4 and 1 <= done <= 4  # early stopping may end it sooner
    total, done = by_name["embedding messages"]
    assert total == done and done > 0
    # Outside the context nobody listens: a stage is a no-op that still runs its body.
    with stage("alone", 2) as advance:
        advance(2)
    assert [s[0] for s in recorder.stages].count("alone") == 0


def test_bars_are_drawn_only_on_a_terminal():
    seen = []
    for terminal in (False, True):
        console = Console(file=open("/dev/null", "w"), force_terminal=terminal)
        with progress_bars(console, enabled=True):
            with stage("x", 1) as advance:
                advance(1)
                seen.append(advance.__qualname__)
        console.file.close()
    # Off a terminal the library's own no-op is called; on one, the bar's.
    assert seen[0] == "_ignore" and seen[1].startswith("Bars.stage")
    with progress_bars(Console(force_terminal=True), enabled=False), stage("y") as advance:
        assert advance.__qualname__ == "_ignore"
