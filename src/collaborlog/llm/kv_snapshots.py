"""Snapshots of the embedded model's KV cache for the prompt prefixes that calls share.

Every question of one kind (Evol Detect, AD certain, AD uncertain, new message) starts with the
same system prompt and task text, about a hundred tokens. llama-cpp-python already skips the
prefix a call shares with the call just before it, but a run asks the kinds in turn (Evol Detect,
then the AD agent, for each sequence), so consecutive calls share only a few tokens. Here the KV
cells of each kind's shared prefix are kept (a few MB each for a 1.5B model) and put back before
a call whose prompt they start, so its prefix is not computed again.

The shared prefix is learned, not declared: it is the longest token prefix a call has in common
with the previous call of its kind. llama-cpp-python still checks the restored tokens against the
prompt before it reuses them, so a wrong snapshot costs time, never a wrong answer: the KV values
of a restored prefix are those the same tokens produced before.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

_SEQ = 0
"""llama-cpp-python's Llama keeps its one conversation in sequence 0."""


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """The number of leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


@dataclass(eq=False)
class Snapshot:
    """One kind's prompt prefix and the KV state after it. Compared by identity: a generated
    ``__eq__`` would compare token arrays of different lengths."""

    tokens: np.ndarray
    state: ctypes.Array


class PrefixSnapshots:
    """Keeps up to ``slots`` prefix snapshots of one ``llama_cpp.Llama`` (one per prompt kind).

    Call :meth:`before` with a call's prompt tokens, then the completion, then :meth:`after` with
    the same tokens and messages; both run under the caller's lock, as the model itself does.
    """

    def __init__(self, llama: Any, formatter: Any, slots: int = 4, min_shared: int = 32) -> None:
        self.llama = llama
        self.formatter = formatter
        """The model's own chat template, as llama-cpp-python applies it to a chat completion."""
        self.slots = slots
        self.min_shared = min_shared
        """Fewer shared tokens than this are not worth a snapshot (and mark another kind)."""
        self.snapshots: list[Snapshot] = []
        self.restored_tokens = 0
        """Prompt tokens not computed again thanks to a restored snapshot, in all."""

    @classmethod
    def for_model(cls, llama: Any) -> "PrefixSnapshots | None":
        """Snapshots for ``llama`` when its chat completions use the GGUF's chat template (whose
        prompt tokens can be known before the call); None otherwise."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llama.metadata.get("tokenizer.chat_template")
        if template is None or llama.chat_format != "chat_template.default" or llama.chat_handler is not None:
            return None
        eos, bos = llama.token_eos(), llama.token_bos()
        text = {t: llama.detokenize([t], special=True).decode("utf-8", "replace") if t != -1 else "" for t in (eos, bos)}
        return cls(llama, Jinja2ChatFormatter(template, text[eos], text[bos], stop_token_ids=[eos]))

    def prompt_tokens(self, messages: list[dict]) -> np.ndarray:
        """The tokens llama-cpp-python evaluates for a chat completion of ``messages``."""
        chat = self.formatter(messages=messages)
        tokens = self.llama.tokenize(chat.prompt.encode("utf-8"), add_bos=not chat.added_special, special=True)
        return np.array(tokens, dtype=np.intc)

    def _live(self) -> np.ndarray:
        return self.llama.input_ids[: self.llama.n_tokens]

    def before(self, prompt: np.ndarray) -> int:
        """Restore the snapshot that starts ``prompt`` when it covers at least ``min_shared`` more
        tokens than the live cache does; the tokens restored (0 when none was)."""
        import llama_cpp

        live = common_prefix(self._live(), prompt)
        best, shared = None, live + self.min_shared - 1
        for snap in self.snapshots:
            # One token short of the whole prompt at most: the last one is evaluated again, which
            # gives the logits the first answer token is sampled from.
            n = min(common_prefix(snap.tokens, prompt), len(prompt) - 1)
            if n > shared:
                best, shared = snap, n
        if best is None:
            return 0
        ctx = self.llama.ctx
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), _SEQ, -1, -1)
        if not llama_cpp.llama_state_seq_set_data(ctx, best.state, len(best.state), _SEQ):
            self.llama.reset()  # nothing usable in the cache: the call evaluates its whole prompt
            return 0
        # Cells past ``shared`` are dropped by llama-cpp-python itself, which reuses exactly the
        # first n_tokens tokens of input_ids when they match the prompt.
        self.llama.input_ids[: len(best.tokens)] = best.tokens
        self.llama.n_tokens = shared
        self.restored_tokens += shared - live
        return shared

    def after(self, prompt: np.ndarray, messages: list[dict]) -> None:
        """Keep the prefix this call's ``prompt`` shares with the last call of its kind (for the
        first call of a kind, its first message: the system prompt)."""
        import llama_cpp

        same = max(self.snapshots, key=lambda s: common_prefix(s.tokens, prompt), default=None)
        shared = common_prefix(same.tokens, prompt) if same is not None else 0
        if same is None or shared < self.min_shared:
            keep, same = common_prefix(self.prompt_tokens(messages[:1]), prompt), None
        else:
            keep = shared
        keep = min(keep, common_prefix(self._live(), prompt), len(prompt) - 1)
        if keep < self.min_shared:
            return
        ctx = self.llama.ctx
        # The answer and the call's own text are of no use to the next call of another sequence.
        if not llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), _SEQ, keep, -1):
            return
        self.llama.n_tokens = keep
        size = llama_cpp.llama_state_seq_get_size(ctx, _SEQ)
        state = (ctypes.c_uint8 * size)()
        if not llama_cpp.llama_state_seq_get_data(ctx, state, size, _SEQ):
            return
        snap = Snapshot(np.array(prompt[:keep], dtype=np.intc), state)
        if same is not None:
            self.snapshots.remove(same)
        self.snapshots.append(snap)
        del self.snapshots[: -self.slots]
