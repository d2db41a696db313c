"""Feature caches are keyed by what the weights are, not by how they were named."""

from __future__ import annotations

import numpy as np

from avatar_type.train.features import feature_key, weights_identity


def test_a_weights_file_is_identified_by_its_content(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    a.write_bytes(b"weights one")
    b.write_bytes(b"weights one")
    assert weights_identity("m", str(a), 0) == weights_identity("m", str(b), 0)
    b.write_bytes(b"weights two")
    assert weights_identity("m", str(a), 0) != weights_identity("m", str(b), 0)


def test_the_key_follows_weights_size_pixels_and_seed(tmp_path):
    pack = tmp_path / "images.npy"
    np.save(pack, np.zeros((2, 4, 4, 3), np.uint8))
    w = tmp_path / "w.pth"
    w.write_bytes(b"x")
    key = feature_key("m", str(w), 32, pack, 0)
    assert key == feature_key("m", str(w), 32, pack, 1)  # a file's seed plays no part
    assert key != feature_key("m", str(w), 48, pack, 0)
    assert feature_key("m", "none", 32, pack, 0) != feature_key("m", "none", 32, pack, 1)
    w.write_bytes(b"y")
    assert key != feature_key("m", str(w), 32, pack, 0)
