"""The bundled encoder without sentence-transformers: the same vectors, bit for bit, and a start
that does not import it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from collaborlog.features.bert import BertSentenceModel, is_plain_bert
from collaborlog.features.encoders import bundled_minilm_path

TEXTS = [
    "Receiving block <BLK> src: /<IP>:<PORT> dest: /<IP>:<PORT>", "PacketResponder <NUM> for block <BLK> terminating",
    "", "a", "caf\u00e9 \u4e2d\u6587 \U0001F600 tab\there", "word " * 400,  # longer than the 256 tokens kept
    *(f"Verification succeeded for <BLK> after {i} retries on node{i % 7}" + " again" * (i % 9) for i in range(40)),
]
SAME_LENGTH = [f"the block {c} was moved to the other disk" for c in "abcdefgh"]  # one batch, nothing padded


def test_the_plain_model_gives_sentence_transformers_vectors_bit_for_bit():
    from sentence_transformers import SentenceTransformer

    path = bundled_minilm_path()
    reference = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    model = BertSentenceModel(path)
    # Batches of 8 sorted by length, padded to their longest text; and a batch with no padding at
    # all (attention then runs without a mask, as in transformers).
    for texts in (TEXTS, SAME_LENGTH):
        vectors = model.encode(texts, batch_size=8)
        assert vectors.dtype == np.float32 and vectors.shape == (len(texts), 384)
        # The same ops in the same order: bit for bit on the machines measured; within float32
        # rounding here, so that no processor's kernel choice can fail the suite.
        np.testing.assert_allclose(vectors, reference.encode(texts, batch_size=8, convert_to_numpy=True,
                                                             show_progress_bar=False, normalize_embeddings=True),
                                   rtol=0, atol=1e-6)
    assert model.encode([], batch_size=8).shape == (0, 384)


def _copy_model(tmp_path, change):
    """The bundled folder's configuration, with ``change`` applied to it (the weights are linked, not copied)."""
    source, folder = bundled_minilm_path(), tmp_path / "model"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    (folder / "model.safetensors").symlink_to(source / "model.safetensors")
    change(folder)
    return folder


def _edit(path, **values):
    data = json.loads(path.read_text())
    data.update(values)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("change", [
    lambda f: _edit(f / "1_Pooling" / "config.json", pooling_mode_mean_tokens=False, pooling_mode_cls_token=True),
    lambda f: _edit(f / "1_Pooling" / "config.json", pooling_mode_weightedmean_tokens=True),
    lambda f: _edit(f / "config.json", model_type="roberta"),
    lambda f: _edit(f / "sentence_bert_config.json", do_lower_case=True),
    lambda f: _edit(f / "config_sentence_transformers.json", default_prompt_name="query"),
    lambda f: (f / "modules.json").write_text(json.dumps(json.loads((f / "modules.json").read_text())[:2])),
    lambda f: (f / "tokenizer.json").unlink(),
])
def test_only_the_plain_shape_runs_without_sentence_transformers(tmp_path, change):
    assert is_plain_bert(bundled_minilm_path())
    assert not is_plain_bert(_copy_model(tmp_path, change))


def test_loading_the_default_encoder_does_not_import_sentence_transformers():
    probe = ("import sys; from collaborlog.features.encoders import EncoderConfig, build_encoder; "
             "e = build_encoder(EncoderConfig()); v = e.encode(['Receiving block <BLK>']); "
             "print(v.shape, e.loaded, 'sentence_transformers' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["(1,", "384)", "True", "False", "False"]
