"""Sequence features: message encoders, the embedding cache, message alignment, the featurizer."""
