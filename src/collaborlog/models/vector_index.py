"""Nearest-neighbour search over unit vectors (cosine).

:class:`FaissIndex` is exact (inner product over normalised vectors) below ``hnsw_above``
vectors and switches to an HNSW graph above it, so a memory can grow to millions of sequences.
A saved detector keeps the memory's vectors, not the index: loading rebuilds it.
"""

from __future__ import annotations

import numpy as np

from collaborlog.errors import MissingDependencyError


def _faiss():
    try:
        import faiss
    except ImportError:
        raise MissingDependencyError("faiss-cpu", "The small model's neighbour search") from None
    return faiss


class FaissIndex:
    def __init__(self, dim: int, hnsw_above: int = 200_000) -> None:
        self.dim = dim
        self.hnsw_above = hnsw_above
        self._index = _faiss().IndexFlatIP(dim)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if isinstance(self._index, faiss.IndexFlatIP) and len(self) + len(vectors) > self.hnsw_above:
            # Grow out of exact search: rebuild as an HNSW graph over all stored vectors.
            stored = self._index.reconstruct_n(0, len(self)) if len(self) else np.zeros((0, self.dim), np.float32)
            self._index = faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT)
            self._index.hnsw.efSearch = 64
            if len(stored):
                self._index.add(stored)
        self._index.add(vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if len(queries) == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        return self._index.search(queries, k)
