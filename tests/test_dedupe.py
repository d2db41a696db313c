"""Exact and near-duplicate detection on hand-made 64-bit hashes and on real pHashes."""

from __future__ import annotations

import numpy as np
from helpers import blocky

from avatar_type.data.dedupe import find_duplicates, hamming, near_duplicate_groups, phash64


def u64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


def test_hamming():
    hashes = u64(0, 0b1, 0b1011, 2**64 - 1, 1 << 63)
    np.testing.assert_array_equal(hamming(hashes, np.uint64(0)), [0, 1, 3, 64, 1])
    np.testing.assert_array_equal(hamming(hashes, np.uint64(1 << 63)), [1, 2, 4, 63, 0])


def test_find_duplicates_points_at_first_kept():
    #            0    1 (d=1 to 0)  2 (d=8 to 0)  3 (d=2 to 2)  4 (d=3 to 0, 5 to 2)
    hashes = u64(0x0, 0b1, 0xFF, 0xFC, 0b111)
    np.testing.assert_array_equal(find_duplicates(hashes, 3), [-1, 0, -1, 2, 0])
    np.testing.assert_array_equal(find_duplicates(hashes, 0), [-1, -1, -1, -1, -1])
    np.testing.assert_array_equal(find_duplicates(hashes, 64), [-1, 0, 0, 0, 0])


def test_find_duplicates_exact_copies():
    hashes = u64(0xDEADBEEF, 0x12345678, 0xDEADBEEF, 0xDEADBEEF, 0x12345678)
    np.testing.assert_array_equal(find_duplicates(hashes, 0), [-1, -1, 0, 0, 1])


def test_find_duplicates_picks_the_nearest_kept_hash():
    # 0 and 0b111 (distance 3) are both kept at max 2; 0b110 is 2 from the first, 1 from the second
    np.testing.assert_array_equal(find_duplicates(u64(0, 0b111, 0b110), 2), [-1, -1, 1])


def test_find_duplicates_never_chains_through_a_duplicate():
    # 0b01 repeats 0b00; 0b11 is 1 away from the duplicate but 2 from the kept hash: kept
    np.testing.assert_array_equal(find_duplicates(u64(0b00, 0b01, 0b11), 1), [-1, 0, -1])


def test_find_duplicates_high_bits():
    hashes = u64(1 << 63, (1 << 63) | 1, 0)
    np.testing.assert_array_equal(find_duplicates(hashes, 1), [-1, 0, 0])
    assert len(find_duplicates(u64(), 4)) == 0


def test_near_duplicate_groups_are_transitive():
    # 0 - 0b11 - 0b1111 is a chain of distance-2 links (ends 4 apart); 0xFF00 stands alone
    hashes = u64(0, 0b11, 0b1111, 0xFF00)
    np.testing.assert_array_equal(near_duplicate_groups(hashes, 2), [0, 0, 0, 3])
    np.testing.assert_array_equal(near_duplicate_groups(hashes, 1), [0, 1, 2, 3])


def test_near_duplicate_groups_id_is_smallest_member():
    # link order 3-1 and 2-0 only, written out of order
    hashes = u64(0xF0F0, 0x0F0F, 0xF0F1, 0x0F0E, 2**64 - 1)
    np.testing.assert_array_equal(near_duplicate_groups(hashes, 1), [0, 1, 0, 1, 4])


def test_phash_of_noisy_copy_is_close_and_of_other_image_far():
    base = blocky(11, 128, 128)
    rng = np.random.default_rng(0)
    noisy = np.clip(base.astype(int) + rng.normal(0, 4, base.shape).round(), 0, 255)
    noisy = noisy.astype(np.uint8)
    other = blocky(12, 128, 128)
    h_base, h_noisy, h_other = phash64(base), phash64(noisy), phash64(other)
    assert isinstance(h_base, np.uint64)
    assert int(hamming(u64(h_base), h_noisy)[0]) <= 4
    assert int(hamming(u64(h_base), h_other)[0]) >= 16
    assert phash64(base.copy()) == h_base  # deterministic
    brighter = np.clip(base.astype(int) + 12, 0, 255).astype(np.uint8)
    assert int(hamming(u64(h_base), phash64(brighter))[0]) <= 4
