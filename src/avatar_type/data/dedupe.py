"""Exact and near-duplicate detection by 64-bit perceptual hash (DCT pHash via imagehash)."""

from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image


def phash64(pixels: np.ndarray) -> np.uint64:
    """The 64-bit pHash of an RGB image as an unsigned integer."""
    bits = imagehash.phash(Image.fromarray(pixels), hash_size=8).hash.flatten()
    return np.uint64(int("".join("1" if b else "0" for b in bits), 2))


def hamming(hashes: np.ndarray, one: np.uint64) -> np.ndarray:
    """Hamming distances between ``one`` and every hash in ``hashes``."""
    return np.bitwise_count(np.bitwise_xor(hashes, one)).astype(np.int64)


def find_duplicates(hashes: np.ndarray, max_distance: int) -> np.ndarray:
    """For each hash in order, the index of an earlier kept hash within ``max_distance``, else -1.

    The first occurrence of every cluster is kept; later ones point at the kept image they repeat.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    duplicate_of = np.full(len(hashes), -1, dtype=np.int64)
    kept: list[int] = []
    kept_hashes = np.empty(0, dtype=np.uint64)
    for i, h in enumerate(hashes):
        if len(kept):
            d = hamming(kept_hashes, h)
            j = int(np.argmin(d))
            if d[j] <= max_distance:
                duplicate_of[i] = kept[j]
                continue
        kept.append(i)
        kept_hashes = np.append(kept_hashes, h)
    return duplicate_of


def near_duplicate_groups(hashes: np.ndarray, max_distance: int) -> np.ndarray:
    """A group id per hash: connected components of hashes within ``max_distance``."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    parent = np.arange(len(hashes))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(hashes)):
        for j in np.nonzero(hamming(hashes[i + 1 :], hashes[i]) <= max_distance)[0] + i + 1:
            ri, rj = root(i), root(int(j))
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    return np.array([root(i) for i in range(len(hashes))])
