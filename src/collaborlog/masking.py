"""Masking rules that replace variable parts of a message (ids, addresses, numbers) before mining.

Rules run in order, so the specific ones (block ids, IP addresses) come before the general
ones (numbers). Presets are picked by name from :data:`PRESETS`.
"""

from __future__ import annotations

from drain3.masking import LogMasker, MaskingInstruction

from collaborlog.config import MaskRule, ParserConfig
from collaborlog.errors import ConfigError

_BLOCK = MaskRule(regex=r"blk_-?\d+", mask="BLK")
_IP = MaskRule(regex=r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])", mask="IP")
_PORT = MaskRule(regex=r"(?<=<IP>:)\d{1,5}\b", mask="PORT")
_PATH = MaskRule(regex=r"(?<![\w/<>])(?:/[\w.\-$@~+]+)+/?", mask="PATH")
_UUID = MaskRule(regex=r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", mask="UUID")
_HEX = MaskRule(regex=r"\b(?:0[xX][0-9a-fA-F]+|(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,})\b", mask="HEX")
# A long token that mixes letters with at least three digits is an identifier, whatever its
# shape ("block-n5436ab4ae7", "task_0042_attempt_7", "c0a8012e"): new versions invent id formats.
_ID = MaskRule(regex=r"(?<![\w<>./-])(?=(?:[A-Za-z_-]*\d){3})(?=[\w-]*[A-Za-z])[A-Za-z0-9_-]{8,}(?![\w<>/-]|\.\w)",
               mask="ID")
_NUM = MaskRule(regex=r"(?<![A-Za-z0-9.])[-+]?\d+(?:\.\d+)?(?![A-Za-z0-9])", mask="NUM")
_BGL_NODE = MaskRule(regex=r"R\d{2}-M\d-[LN][\dA-F](?:-[A-Z]:J\d{2}-U\d{2}|-I:J18-U\d{2})?", mask="NODE")

PRESETS: dict[str, tuple[MaskRule, ...]] = {
    "default": (_BLOCK, _UUID, _IP, _PORT, _PATH, _ID, _HEX, _NUM),
    "bgl": (_BGL_NODE, _BLOCK, _UUID, _IP, _PORT, _PATH, _ID, _HEX, _NUM),
    "none": (),
}


def masking_rules(cfg: ParserConfig) -> tuple[MaskRule, ...]:
    """The rules a parser configuration asks for: its extra masks, then the named preset."""
    if cfg.masking not in PRESETS:
        raise ConfigError(f"unknown masking preset {cfg.masking!r}; choose one of {sorted(PRESETS)}")
    return tuple(cfg.extra_masks) + PRESETS[cfg.masking]


def build_masker(rules: tuple[MaskRule, ...]) -> LogMasker:
    """A drain3 masker that writes ``<MASK>`` for each rule's match."""
    import re

    for rule in rules:
        try:
            re.compile(rule.regex)
        except re.error as err:
            raise ConfigError(f"mask regex {rule.regex!r} is invalid: {err}") from None
    return LogMasker([MaskingInstruction(r.regex, r.mask) for r in rules], "<", ">")
