"""Masking rules that replace variable parts of a message (ids, addresses, numbers) before mining.

Rules run in order, so the specific ones (block ids, IP addresses) come before the general
ones (numbers). Presets are picked by name from :data:`PRESETS`.
"""

from __future__ import annotations

import re
from itertools import islice

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collaborlog.data.config import MaskRule, ParserConfig
from collaborlog.errors import ConfigError

_BLOCK = MaskRule(regex=r"blk_-?\d+", mask="BLK")
_IP = MaskRule(regex=r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])", mask="IP")
_PORT = MaskRule(regex=r"(?<=<IP>:)\d{1,5}\b", mask="PORT")
# A path segment may hold what an earlier rule masked ("/data/BP-<NUM>-<IP>-<NUM>/current"); one
# segment alone ("/<IP>:<PORT>") is no path.
_PATH = MaskRule(regex=r"(?<![\w/<>])(?:/[\w.\-$@~+<>]+){2,}/?", mask="PATH")
_UUID = MaskRule(regex=r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", mask="UUID")
_HEX = MaskRule(regex=r"\b(?:0[xX][0-9a-fA-F]+|(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,})\b", mask="HEX")
_TOKEN_END = r"(?![\w<>/-]|\.\w)"
# A name followed by small counters ("rdd_2_4", "Thread-123", "broadcast_12_piece0", "node-171"):
# the counters are numbers, masked as such whatever their size, so that one statement keeps one
# message when a counter passes 99 (three digits would make the whole token an identifier). A
# counter has at most 4 digits and a word part at most 2 (longer runs are ids or timestamps).
# (Each part's first character decides its kind, so the match is linear in the token's length.)
_COUNTED_NAME = (r"[A-Za-z]+(?:[_-][A-Za-z]+\d{0,2})*[_-]\d{1,4}(?:[_-](?:[A-Za-z]+\d{0,2}|\d{1,4}))*"
                 + _TOKEN_END)
# Any other long token that mixes letters with at least three digits is an identifier, whatever
# its shape ("block-n5436ab4ae7", "job_1445144423722_0020", "c0a8012e"): new versions invent id formats.
_ID = MaskRule(regex=r"(?<![\w<>./-])(?!" + _COUNTED_NAME + r")(?=(?:[A-Za-z_-]*\d){3})(?=[\w-]*[A-Za-z])[A-Za-z0-9_-]{8,}"
               + _TOKEN_END, mask="ID")
_NUM = MaskRule(regex=r"(?<![A-Za-z0-9.])[-+]?\d+(?:\.\d+)?(?![A-Za-z0-9])", mask="NUM")
# Masks glued together (or to digits) by "_", "-" or "." are one variable: a new id format that
# appends a generation stamp ("<BLK>_<NUM>") or builds an id from parts ("<IP>-<NUM>") must not
# read as a different message. "<IP>:<PORT>" keeps its two parts.
_GLUED = MaskRule(regex=r"<([A-Z]+)>(?:[-_.]?(?:<[A-Z]+>|\d+))+(?![\w<])", mask=r"\1")  # keeps the first name
_BGL_NODE = MaskRule(regex=r"R\d{2}-M\d-[LN][\dA-F](?:-[A-Z]:J\d{2}-U\d{2}|-I:J18-U\d{2})?", mask="NODE")

# Rules whose matches hold no space and whose look-arounds read a space exactly as they read the
# end of the text: masking a line rule after rule equals masking each space-separated token
# alone. tests/test_ingest_cache.py checks it on lines built to stress token edges.
TOKEN_LOCAL: frozenset[MaskRule] = frozenset({_BLOCK, _IP, _PORT, _PATH, _UUID, _HEX, _ID, _NUM, _BGL_NODE, _GLUED})

PRESETS: dict[str, tuple[MaskRule, ...]] = {
    "default": (_BLOCK, _UUID, _IP, _PORT, _PATH, _ID, _HEX, _NUM, _GLUED),
    "bgl": (_BGL_NODE, _BLOCK, _UUID, _IP, _PORT, _PATH, _ID, _HEX, _NUM, _GLUED),
    "none": (),
}


def masking_rules(cfg: ParserConfig) -> tuple[MaskRule, ...]:
    """The rules a parser configuration asks for: its extra masks, then the named preset."""
    if cfg.masking not in PRESETS:
        raise ConfigError(f"unknown masking preset {cfg.masking!r}; choose one of {sorted(PRESETS)}")
    return tuple(cfg.extra_masks) + PRESETS[cfg.masking]


_ARROW_LINES = 1 << 20
"""Lines masked in one Arrow pass: memory stays bounded, and a pass's token count fits Arrow's 32-bit list offsets."""


class Masker:
    """Writes ``<MASK>`` for each rule's match, rule after rule over the whole text (as drain3's
    ``LogMasker`` does).

    When every rule is in :data:`TOKEN_LOCAL`, a text is masked token by token and each distinct
    token is masked once: ids make most lines distinct, but their tokens repeat, so a log costs a
    dictionary look-up per token instead of every regex over every line.
    """

    _TOKEN_CACHE_LIMIT = 1_000_000
    """Distinct tokens remembered; past it new tokens are masked each time (memory stays bounded)."""

    def __init__(self, rules: tuple[MaskRule, ...]) -> None:
        compiled = []
        for rule in rules:
            try:
                compiled.append((re.compile(rule.regex), f"<{rule.mask}>"))
            except re.error as err:
                raise ConfigError(f"mask regex {rule.regex!r} is invalid: {err}") from None
        self._rules = tuple(compiled)
        self.by_token = bool(rules) and all(rule in TOKEN_LOCAL for rule in rules)
        self._tokens: dict[str, str] = {}

    @property
    def cached_tokens(self) -> int:
        """How many distinct tokens the cache holds (at most ``_TOKEN_CACHE_LIMIT``)."""
        return len(self._tokens)

    def mask_text(self, text: str) -> str:
        """``text`` masked rule after rule, without the token cache."""
        for pattern, mask in self._rules:
            text = pattern.sub(mask, text)
        return text

    def factorize(self, contents: list[str]) -> tuple[np.ndarray, list[str]]:
        """Mask every text: ``(codes, messages)``, where ``messages`` are the distinct masked texts in
        order of first appearance and ``codes[i]`` is the row of ``contents[i]``'s (as
        ``pd.factorize([self.mask(c) for c in contents])`` gives them).

        With a token cache this is done column-wise in Arrow, a million lines at a time: split every
        text into tokens, mask each distinct token once, join the masked tokens back. The tokens
        no one has seen yet are masked together, joined by spaces into one text that every rule
        runs over once (with :data:`TOKEN_LOCAL` rules that equals masking each alone).
        """
        if self.by_token:
            try:
                return self._factorize_by_token(contents)
            except UnicodeEncodeError:
                pass  # a lone surrogate, which Arrow's UTF-8 cannot hold: mask line by line below
        raw_codes, raw = pd.factorize(np.asarray(contents, dtype=object))
        codes, messages = pd.factorize(np.asarray([self.mask(c) for c in raw.tolist()], dtype=object))
        return codes[raw_codes].astype(np.int64, copy=False), messages.tolist()

    def _factorize_by_token(self, contents: list[str]) -> tuple[np.ndarray, list[str]]:
        rows: dict[str, int] = {}  # message -> its row, across the passes
        codes = []
        for begin in range(0, len(contents), _ARROW_LINES):
            local, messages = self._factorize_tokens(contents[begin:begin + _ARROW_LINES])
            codes.append(np.asarray([rows.setdefault(m, len(rows)) for m in messages], dtype=np.int64)[local])
        return (np.concatenate(codes) if codes else np.zeros(0, np.int64)), list(rows)

    def _factorize_tokens(self, contents: list[str]) -> tuple[np.ndarray, list[str]]:
        lines = pc.split_pattern(pa.array(contents, type=pa.large_string()), " ")
        tokens = pc.dictionary_encode(lines.flatten())
        distinct = tokens.dictionary.to_pylist()
        cache = self._tokens
        new = [t for t in distinct if t not in cache]
        masked = dict(zip(new, self.mask_text(" ".join(new)).split(" "), strict=True)) if new else {}
        room = self._TOKEN_CACHE_LIMIT - len(cache)
        cache.update(islice(masked.items(), max(room, 0)))
        # Past the cache's limit the tokens it had no room for are read from this call's own table.
        out = [masked[t] if t in masked else cache[t] for t in distinct]
        joined = pc.binary_join(pa.ListArray.from_arrays(lines.offsets, pa.array(out, pa.large_string()).take(tokens.indices)),
                                pa.scalar(" ", pa.large_string()))
        messages = pc.dictionary_encode(joined)
        return messages.indices.to_numpy(zero_copy_only=False).astype(np.int64), messages.dictionary.to_pylist()

    def mask(self, content: str) -> str:
        if not self.by_token:
            return self.mask_text(content)
        tokens = self._tokens
        out = []
        for token in content.split(" "):
            masked = tokens.get(token)
            if masked is None:
                masked = self.mask_text(token)
                if len(tokens) < self._TOKEN_CACHE_LIMIT:
                    tokens[token] = masked
            out.append(masked)
        return " ".join(out)


def build_masker(rules: tuple[MaskRule, ...]) -> Masker:
    """A masker that writes ``<MASK>`` for each rule's match; an invalid regex is a :class:`ConfigError`."""
    return Masker(rules)
