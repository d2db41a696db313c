"""Shared fixtures. The helpers module beside this file builds every input the tests need."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _restore_pil_pixel_limit():
    """decode() sets PIL's global MAX_IMAGE_PIXELS; keep one test's limit out of the next."""
    saved = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = saved


@pytest.fixture
def offline_pip(tmp_path, monkeypatch):
    """pip sees only a local wheelhouse (returned), caches into tmp_path, reads no config."""
    house = tmp_path / "wheelhouse"
    house.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(house))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.setenv("AVATAR_TYPE_CACHE", str(tmp_path / "cache"))
    return house
