"""Encoders free their model on request (:meth:`Encoder.unload`) and read it again when needed."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from collaborlog.features.encoders import EncoderConfig, HashingEncoder, build_encoder

TEXTS = ["Receiving block <BLK> src: /<IP>:<PORT> dest: /<IP>:<PORT>", "PacketResponder <NUM> for block <BLK> terminating",
         "Verification succeeded for <BLK>", ""]


def test_an_unloaded_model_is_freed_and_loads_again_to_the_same_vectors():
    encoder = build_encoder(EncoderConfig(batch_size=2))
    before = encoder.encode(TEXTS)
    assert encoder.loaded
    model = weakref.ref(encoder._model)
    encoder.unload()
    gc.collect()
    assert not encoder.loaded and model() is None  # nothing else holds the weights
    after = encoder.encode(TEXTS)
    assert encoder.loaded and model() is None  # a new model, read again
    assert np.array_equal(before, after)


def test_unloading_a_model_free_encoder_changes_nothing():
    encoder = HashingEncoder(64)
    before = encoder.encode(TEXTS)
    encoder.unload()
    assert np.array_equal(before, encoder.encode(TEXTS))
