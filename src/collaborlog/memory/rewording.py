"""Which old message a new one may reword: a whole-version upgrade is a mapping problem.

When a release rewords its statements, most old messages vanish and new ones appear together.
Judging each new message alone against a few near strings fails when the release also changes
an id format every line carries (character overlap then drops for every pair). So the new
messages of a batch are matched against the old messages the stream no longer writes as often
as before, all at once: a one-to-one assignment over similarities (meaning from the encoder,
wording from shared words), and each new message is offered its assigned old message first,
then its next best, for the LLM to confirm or reject.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment

_PLACEHOLDER = re.compile(r"<[A-Z*]+>")
_CLOSE = {"[": "]", "{": "}", "(": ")"}
_VALUE_END = frozenset(" \t,;&)]}")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z]{3,}")
_SUFFIX = re.compile(r"(?:ations?|ions?|ings?|ed|es|er|e|s)$")
_STOP = frozenset({"the", "and", "for", "from", "with", "was", "are", "has", "have", "this", "that"})


@lru_cache(maxsize=1 << 16)
def words(message: str) -> frozenset[str]:
    """The word stems of a masked message: lower-cased, camelCase split, masks, the values of
    ``name=value`` pairs (a variable's value, such as ``kind=PRIMARY_NODE``: the name stays),
    words under three letters and the commonest function words left out, and inflections cut
    ("deleting", "deletion" and "deleted" are one stem), so that a reworded statement keeps its
    words.

    >>> sorted(words("Worker done, kind=PRIMARY_NODE, state=OK"))
    ['don', 'kind', 'stat', 'work']
    """
    text = _CAMEL.sub(" ", _PLACEHOLDER.sub(" ", without_values(message)))
    out = set()
    for word in _WORD.findall(text):
        word = word.lower()
        if word not in _STOP:
            stem = _SUFFIX.sub("", word)
            out.add(stem if len(stem) >= 3 else word)
    return frozenset(out)


def without_values(text: str) -> str:
    """``text`` with the value of each ``name=value`` pair left out: a run up to a space, comma,
    semicolon, ``&`` or closing bracket, or a whole bracketed group (``replicas=[a[b], c]``).

    >>> without_values("type=LAST, replicas=[R[[DISK]DS-1], R[x]]} for f, src= /a")
    'type , replicas } for f, src  /a'
    """
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        out.append(c)
        i += 1
        if c != "=" or i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"):
            continue
        out[-1] = " "
        if i < n and text[i] in _CLOSE:
            depth = 0
            while i < n:
                if text[i] in _CLOSE:
                    depth += 1
                elif text[i] in _CLOSE.values():
                    depth -= 1
                i += 1
                if depth == 0:
                    break
        else:
            while i < n and text[i] not in _VALUE_END:
                i += 1
    return "".join(out)


def variant_of(message: str, known: list[str]) -> str | None:
    """The first of ``known`` that ``message`` is a variant of: one statement printed with other
    variables, repeats or optional parts (the shorter's word stems all in the longer, and at
    least three quarters of all their stems shared), else ``None``.

    >>> variant_of("allocate <BLK> state=UNDER_CONSTRUCTION primary=<NUM> replicas=[] for <PATH>",
    ...            ["open <PATH>", "allocate <BLK> state=UNDER_CONSTRUCTION primary=<NUM> replicas=[DISK <IP> NORMAL]"])
    'allocate <BLK> state=UNDER_CONSTRUCTION primary=<NUM> replicas=[DISK <IP> NORMAL]'
    """
    mine = words(message)
    for other in known:
        theirs = words(other)
        if mine and theirs and overlap(mine, theirs) == 1.0 and len(mine & theirs) >= 0.75 * len(mine | theirs):
            return other
    return None


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared words over the shorter message's words: a rewording keeps most of what it says."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def offer(new: list[str], old: list[str], cosine: np.ndarray, k: int, min_overlap: float,
          allowed: np.ndarray | None = None) -> dict[str, list[int]]:
    """For each of ``new``, up to ``k`` indices of ``old`` to offer as what it rewords, best first.

    ``cosine[i, j]``: the encoder's similarity of ``new[i]`` and ``old[j]``; ``allowed[i, j]``
    (all pairs when None): whether the stream's counts leave ``old[j]`` room to be what
    ``new[i]`` rewords. A pair is a candidate when it is allowed and the two share at least
    ``min_overlap`` of the shorter one's words; its score is the mean
    of the cosine and the word overlap. The one-to-one assignment that maximises the total score
    goes first, so that two new messages do not both claim the old message only one rewords.

    >>> offer(["Receiving blk from peer", "Deleted blk file"], ["Receive block from peer", "Deleting block file"],
    ...       np.array([[0.9, 0.5], [0.5, 0.8]]), k=2, min_overlap=0.5)
    {'Receiving blk from peer': [0], 'Deleted blk file': [1]}
    """
    if not new or not old or k <= 0:
        return {m: [] for m in new}
    new_words, old_words = [words(m) for m in new], [words(m) for m in old]
    shared = np.array([[overlap(a, b) for b in old_words] for a in new_words], dtype=np.float64)
    ok = shared >= min_overlap if allowed is None else (shared >= min_overlap) & allowed
    score = np.where(ok, (np.asarray(cosine, np.float64) + shared) / 2, -np.inf)
    # Variants of one statement (other variables, repeats or optional parts) are one row of the
    # assignment: they all reword the same old message.
    heads: list[str] = []
    group = np.zeros(len(new), dtype=int)
    for i, m in enumerate(new):
        head = variant_of(m, heads)
        if head is None:
            heads.append(head := m)
        group[i] = heads.index(head)
    best = np.stack([score[group == g].max(axis=0) for g in range(len(heads))])
    rows, cols = linear_sum_assignment(np.where(np.isfinite(best), -best, 1e6))
    assigned = {int(r): int(c) for r, c in zip(rows, cols) if np.isfinite(best[r, c])}
    out = {}
    for i, m in enumerate(new):
        ranked = [int(j) for j in np.argsort(-score[i], kind="stable") if np.isfinite(score[i, j])]
        first = [assigned[group[i]]] if group[i] in assigned and np.isfinite(score[i, assigned[group[i]]]) else []
        out[m] = (first + [j for j in ranked if j not in first])[:k]
    return out
