"""A detector's learned state as one mapping of components (``state_dict``) and back (``restore``):
what persistence saves, and what :meth:`CollaborLog.copy` copies."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from collaborlog.detector.config import Mode
from collaborlog.features.alignment import MessageAligner
from collaborlog.memory.history import History
from collaborlog.memory.novelty import Novelty
from collaborlog.memory.prevalence import Prevalence
from collaborlog.memory.signatures import FailureSignatures
from collaborlog.memory.vanished import Vanished
from collaborlog.models.coordinator import Coordinator
from collaborlog.models.small_model import SmallModel
from collaborlog.parsing.templates import TemplateMiner
from collaborlog.verdicts import MessageVerdict

if TYPE_CHECKING:
    from collaborlog.detector.facade import CollaborLog

T = TypeVar("T")


class StateError(ValueError):
    """A component's saved state does not fit the rest of the detector."""

    def __init__(self, component: str, problem: str) -> None:
        super().__init__(problem)
        self.component = component


def state_dict(det: CollaborLog) -> dict[str, dict | None]:
    """Every learned component's state by name (``None``: turned off by the configuration)."""
    return {
        "detector": {"mode": det.mode_.value, "reason": det.mode_reason_, "learned_batches": det.learned_batches_,
                     "pattern_by_set": det.pattern_by_set_, "replay": det.replay_},
        "templates": det.miner_.to_json(), "coordinator": det.coordinator_.state_dict(),
        "small_model": det.small_model_.state_dict(), "history": det.history_.state_dict(),
        "patterns": {"entries": [[list(p), v, sid] for p, (v, sid) in det.patterns_.items()],
                     "held": [[list(p), sid, why] for p, (sid, why) in det.held_.items()]},
        "messages": {"verdicts": [v.to_json() for v in det.messages_.values()]},
        "signatures": det.signatures_.state_dict(), "prevalence": det.prevalence_.state_dict(),
        "pattern_prevalence": det.key_prevalence_.state_dict(), "vanished": det.vanished_.state_dict(),
        "novelty": det.novelty_.state_dict() if det.novelty_ is not None else None,
        "aligner": det.aligner_.state_dict() if det.aligner_ is not None else None,
    }


def restore(det: CollaborLog, state: dict[str, dict | None]) -> None:
    """Set ``det``'s learned state from :func:`state_dict`'s mapping; a part that does not fit is a :class:`StateError`."""

    def part(name: str) -> dict:
        value = state[name]
        if value is None:
            raise StateError(name, "is missing")
        return value

    def build(name: str, make: Callable[[dict], T]) -> T:
        try:
            return make(part(name))
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise StateError(name, f"{type(err).__name__}: {err}") from None

    top = part("detector")
    if top["mode"] not in {m.value for m in Mode}:
        raise StateError("detector", f"names no known mode ({top['mode']!r})")
    det.mode_, det.mode_reason_ = Mode(top["mode"]), top["reason"]
    det.learned_batches_, det.pattern_by_set_ = top["learned_batches"], top["pattern_by_set"]
    det.miner_ = build("templates", TemplateMiner.from_json)
    det.coordinator_ = build("coordinator", lambda s: Coordinator.from_state(det.config.coordinator, s))
    det.small_model_ = build("small_model", lambda s: SmallModel.from_state(det.config.small_model, s))
    det.replay_ = top["replay"]
    if det.replay_.shape[1:] != det.small_model_.memory_inputs_.shape[1:]:
        raise StateError("detector", f"holds replay rows of {det.replay_.shape[1:]} values, not the models' width")
    det.history_ = build("history", History.from_state)
    det.patterns_ = {tuple(p): (v, sid) for p, v, sid in part("patterns")["entries"]}
    det.held_ = {tuple(p): (sid, why) for p, sid, why in part("patterns").get("held", [])}
    det.messages_ = {v.message: v for v in (MessageVerdict.from_json(m) for m in part("messages")["verdicts"])}
    det.signatures_ = build("signatures", FailureSignatures.from_state)
    det.prevalence_ = build("prevalence", Prevalence.from_state)
    det.key_prevalence_ = build("pattern_prevalence", Prevalence.from_state)
    det.vanished_ = build("vanished", Vanished.from_state)
    if (state["novelty"] is None) != (det.mode_ is Mode.SUPERVISED):
        raise StateError("novelty", "holds novelty statistics that do not fit the detector's mode")
    det.novelty_ = build("novelty", Novelty.from_state) if state["novelty"] is not None else None
    if (state["aligner"] is None) != (det.config.align_threshold is None):
        raise StateError("aligner", "does not fit the configuration's alignment setting")
    det.aligner_ = build("aligner", MessageAligner.from_state) if state["aligner"] is not None else None
    det.refresh_routine()
