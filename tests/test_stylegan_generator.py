"""The MobileStyleGAN engine (``stylegan-faces``): seeded, the same bytes on one or two cores,
and clear errors for a wrong runtime or an archive without the graphs.

OpenVINO sizes its thread pool from the cores the process may run on, so each configuration
renders in its own interpreter pinned to one or two cores.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import pinned_generator_source, tree_snapshot
from PIL import Image

from avatar_type.errors import SourceError
from avatar_type.sources.generators import ENGINES
from avatar_type.sources.spec import parse_source

FACES = 3
RENDER = """
import json, os, sys
from pathlib import Path
os.sched_setaffinity(0, set(json.loads(sys.argv[1])))
from avatar_type.sources.generators import ENGINES
from avatar_type.sources.spec import parse_source
spec = parse_source("faces", json.loads(sys.argv[2]))
ENGINES[spec.options["engine"]](spec, Path(sys.argv[3]))
"""


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    """The pinned ``stylegan-faces`` source cut to a few faces."""
    return pinned_generator_source("stylegan-faces", FACES)


def render_on_cores(source: dict[str, Any], out: Path, cores: list[int]) -> dict[str, bytes]:
    out.mkdir()
    cmd = [sys.executable, "-c", RENDER, json.dumps(cores), json.dumps(source), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tree_snapshot(out)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_same_bytes_on_one_and_two_cores(source, tmp_path):
    cores = sorted(os.sched_getaffinity(0))[:2]
    one = render_on_cores(source, tmp_path / "one", cores[:1])
    two = render_on_cores(source, tmp_path / "two", cores)
    assert one == two
    assert sorted(one) == [f"face_{i:05d}.jpg" for i in range(FACES)]
    assert len(set(one.values())) == FACES  # distinct faces, not one constant image
    for data in one.values():
        image = Image.open(io.BytesIO(data))
        assert (image.format, image.size, image.mode) == ("JPEG", (1024, 1024), "RGB")


def test_generator_recorded_and_seed_changes_faces(source, tmp_path):
    spec = parse_source("faces", source)
    (tmp_path / "a").mkdir()
    files = ENGINES["mobilestylegan"](spec, tmp_path / "a")
    assert {meta["generator"] for meta in files.values()} == {"mobilestylegan-ffhq"}
    reseeded = {**source, "pin": {**source["pin"], "seed": source["pin"]["seed"] + 1}}
    (tmp_path / "b").mkdir()
    ENGINES["mobilestylegan"](parse_source("faces", reseeded), tmp_path / "b")
    first, second = tree_snapshot(tmp_path / "a"), tree_snapshot(tmp_path / "b")
    assert first.keys() == second.keys()
    assert all(first[rel] != second[rel] for rel in first)


def test_other_runtime_version_is_refused(source, tmp_path):
    pinned = {**source, "options": {**source["options"], "runtime": "openvino==0.0.1"}}
    refused = r"'faces': openvino \S+ is installed but openvino==0\.0\.1 is pinned"
    with pytest.raises(SourceError, match=refused):
        ENGINES["mobilestylegan"](parse_source("faces", pinned), tmp_path)


def test_archive_without_the_graphs_names_what_is_missing(source, tmp_path):
    moved = {**source, "options": {**source["options"], "graphs": "elsewhere"}}
    with pytest.raises(SourceError, match=r"has no elsewhere/MappingNetwork\.xml"):
        ENGINES["mobilestylegan"](parse_source("faces", moved), tmp_path)
    assert list(tmp_path.iterdir()) == []
