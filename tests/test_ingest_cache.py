"""The fast ingest path (token-cached masking, distinct lines mined once) against the plain one:
drain3's own masker and Drain, line by line; and an encoder that loads only when it must."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from drain3.drain import Drain
from drain3.masking import LogMasker, MaskingInstruction

from collaborlog.data.config import MaskRule, ParserConfig
from collaborlog.features.embeddings import EmbeddingCache, embed_messages
from collaborlog.features.encoders import EncoderConfig, build_encoder
from collaborlog.parsing.masking import PRESETS, build_masker, masking_rules
from collaborlog.parsing.templates import TemplateMiner

# Values whose masks interact at token edges: an IP then its port, a path that ends in an IP,
# punctuation glued to ids, hex that is also a number, separators other than one space.
_VALUES = [
    "blk_-1608999687919862906", "blk_42", "10.250.19.102", "10.250.19.102:50010", "/10.250.19.102:54106",
    "/mnt/hadoop/job_1/job.jar", "/a/b/", "0xdeadbeef", "c0a8012e", "deadbeefcafe1234", "12.5", "-7", "+3", "42",
    "12ms", "node7", "R02", "ext4", "attempt_2015_0042", "task_0042_attempt_7", "block-n5436ab4ae7efeda0",
    "b9000564-fe1a-409b-b8cc-1e88b294cd1d", "(42)", "[10.0.0.1]", "id=0x1f,", "size:1024;", "v1.2.3", "a.b.c",
    "R12-M0-N3-C:J02-U11", "R02-M1-L4", "<IP>:", "<IP>:80", ":8080", "x/12", "abc123def456.", "user-42-bob",
    "3.", ".5", "1,234", "0042", "ID:abc123def456", "12:34:56", "2015-10-18", "ffff", "blk_-1:2",
]
_WORDS = ["Receiving", "block", "src:", "dest:", "served", "to", "from", "for", "on", "Deleting", "file",
          "PacketResponder", "terminating", "verification", "succeeded", "size", "at", "id", "is", "ok"]
_SEPARATORS = [" ", " ", " ", " ", "  ", "\t", " \t", ": ", ", "]


def synthetic_lines(n: int, seed: int = 0) -> list[str]:
    """``n`` lines from a few dozen shapes, ids varying, with odd spacing at the ends and inside."""
    rng = random.Random(seed)
    shapes = [[rng.choice(_WORDS + ["{}"] * 6) for _ in range(rng.randint(2, 9))] for _ in range(30)]
    lines = []
    for _ in range(n):
        shape = rng.choice(shapes)
        parts = [rng.choice(_VALUES) if p == "{}" else p for p in shape]
        line = parts[0]
        for part in parts[1:]:
            line += rng.choice(_SEPARATORS) + part
        lines.append(rng.choice(["", "", " ", "  "]) + line + rng.choice(["", "", " ", "\t"]))
    # Lines that repeat exactly, as real logs do.
    return lines + [rng.choice(lines) for _ in range(n // 4)]


def drain3_masker(rules: tuple[MaskRule, ...]) -> LogMasker:
    return LogMasker([MaskingInstruction(r.regex, r.mask) for r in rules], "<", ">")


@pytest.mark.parametrize("preset", ["default", "bgl"])
def test_token_cached_masking_equals_drain3_masking_the_whole_line(preset):
    rules = masking_rules(ParserConfig(masking=preset))
    masker, reference = build_masker(rules), drain3_masker(rules)
    assert masker.by_token
    lines = synthetic_lines(400, seed=1)
    assert [masker.mask(line) for line in lines] == [reference.mask(line) for line in lines]
    # Each value also alone, and beside every other one.
    for a in _VALUES:
        assert masker.mask(a) == reference.mask(a)
        for b in _VALUES:
            assert masker.mask(a + " " + b) == reference.mask(a + " " + b)


def test_a_full_token_cache_still_masks_every_line_and_stays_bounded(monkeypatch):
    masker = build_masker(PRESETS["default"])
    monkeypatch.setattr(masker, "_TOKEN_CACHE_LIMIT", 50)
    lines = synthetic_lines(400, seed=4)
    assert [masker.mask(line) for line in lines] == [masker.mask_text(line) for line in lines]
    assert 0 < masker.cached_tokens <= 50


def test_the_edge_cases_mask_as_they_did():
    masker = build_masker(PRESETS["default"])
    assert masker.mask("served /10.0.0.1:50010 to 10.0.0.2 :80") == "served /<IP>:<PORT> to <IP> :<NUM>"
    assert masker.mask("  two  spaces\tand a tab ") == "  two  spaces\tand a tab "
    assert masker.mask("") == ""


def test_rules_not_known_to_be_token_local_mask_whole_lines():
    # This rule's match spans a space: masking token by token would miss it.
    cfg = ParserConfig(extra_masks=(MaskRule(regex=r"user \w+", mask="USER"),))
    masker = build_masker(masking_rules(cfg))
    assert not masker.by_token
    assert masker.mask("login user bob 3 times") == "login <USER> <NUM> times"


def line_by_line(cfg: ParserConfig, lines: list[str]) -> tuple[list[str], list[int], list[tuple[int, int]]]:
    """The plain path: drain3 masks every line; each distinct masked message is mined once, in order
    of first appearance, its cluster grown by its repeats. Returns each line's masked message and
    template id, and the clusters' (id, size)."""
    reference = drain3_masker(masking_rules(cfg))
    drain = Drain(depth=cfg.depth, sim_th=cfg.sim_th, max_children=cfg.max_children)
    masked = [reference.mask(line) for line in lines]
    repeats = Counter(masked)
    template_of = {}
    for message in dict.fromkeys(masked):
        cluster, _ = drain.add_log_message(message)
        cluster.size += repeats[message] - 1
        template_of[message] = cluster.cluster_id
    return masked, [template_of[m] for m in masked], sorted((c.cluster_id, c.size) for c in drain.clusters)


@pytest.mark.parametrize("preset", ["default", "bgl"])
def test_fast_parse_gives_the_messages_and_templates_of_line_by_line_parsing(preset):
    cfg = ParserConfig(masking=preset)
    lines = synthetic_lines(300, seed=2)
    miner = TemplateMiner(cfg)
    parsed = miner.parse(lines)
    masked, templates, clusters = line_by_line(cfg, lines)
    assert [parsed.messages[j] for j in parsed.message_index] == masked
    assert parsed.messages == list(dict.fromkeys(masked))
    assert parsed.line_templates().tolist() == templates
    assert [(c["id"], c["size"]) for c in miner.to_json()["clusters"]] == clusters
    # A second batch (learning online) goes on from the same state.
    more = synthetic_lines(200, seed=3)
    assert miner.parse(more).line_templates().tolist() == line_by_line(cfg, lines + more)[1][len(lines):]


def test_the_encoder_loads_only_when_a_message_is_missing_from_the_cache():
    encoder = build_encoder(EncoderConfig(kind="minilm"))
    assert not encoder.loaded
    cache = EmbeddingCache(encoder.identity)
    messages = ["Receiving block <BLK> src: /<IP>:<PORT>", "Deleting block <BLK> file <PATH>"]
    cache.put_many(messages, np.eye(2, 384, dtype=np.float32))
    vectors = embed_messages(messages, encoder, cache)
    assert np.array_equal(vectors, np.eye(2, 384, dtype=np.float32))
    assert not encoder.loaded
