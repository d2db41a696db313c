"""Generator engines write the same bytes for any thread count, CPU vector path or batch.

torch fixes its intra-op thread pool at first use, so each configuration renders in its own
interpreter. One of them imitates another x86-64 machine: torch's scalar kernels
(``ATEN_CPU_CAPABILITY=default``), OpenBLAS's SSE kernels and numpy without its dispatched
AVX2/AVX-512 loops; under it the former float32 renderer changed 3 of these 12 faces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import pinned_generator_source, tree_snapshot

from avatar_type.sources.generators import ENGINES
from avatar_type.sources.spec import parse_source

FACES = 12
RENDER = """
import json, sys
from pathlib import Path
import torch
torch.set_num_threads(int(sys.argv[1]))
from avatar_type.sources.generators import ENGINES
from avatar_type.sources.spec import parse_source
for name, raw in json.loads(sys.argv[2]).items():
    out = Path(sys.argv[3]) / name
    out.mkdir(parents=True)
    spec = parse_source(name, raw)
    ENGINES[spec.options["engine"]](spec, out)
"""


@pytest.fixture(scope="module")
def sources() -> dict[str, dict[str, Any]]:
    """The pinned DCGAN source cut to a few faces, and a few DiceBear styles."""
    dicebear = {
        "kind": "generator",
        "label": "drawing",
        "licence": "CC0",
        "provenance": "tests",
        "pin": {"package": "dicebear-styles==10.6.0", "seed": 0, "count": 2},
        "options": {"engine": "dicebear", "style": ["lorelei", "glass", "bottts"], "size": 64},
    }
    return {"faces": pinned_generator_source("gan-face-dcgan", FACES), "drawings": dicebear}


def render_in_process(sources: dict[str, dict[str, Any]], out: Path) -> dict[str, bytes]:
    for name, raw in sources.items():
        spec = parse_source(name, raw)
        (out / name).mkdir(parents=True)
        ENGINES[spec.options["engine"]](spec, out / name)
    return tree_snapshot(out)


def render_in_subprocess(
    sources: dict[str, dict[str, Any]], out: Path, threads: int, other_cpu: bool = False
) -> dict[str, bytes]:
    env = {**os.environ, **dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"), str(threads))}
    if other_cpu:
        umath = np._core._multiarray_umath
        dispatched = [f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f)]
        env |= {
            "ATEN_CPU_CAPABILITY": "default",
            "OPENBLAS_CORETYPE": "Prescott",
            "NPY_DISABLE_CPU_FEATURES": " ".join(dispatched),
        }
    cmd = [sys.executable, "-c", RENDER, str(threads), json.dumps(sources), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tree_snapshot(out)


def differing(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


def png_chunks(data: bytes) -> list[str]:
    chunks, at = [], 8
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        chunks.append(data[at + 4 : at + 8].decode("ascii"))
        at += 12 + size
    return chunks


def test_same_bytes_for_any_thread_count_and_cpu_path(sources, tmp_path):
    one = render_in_subprocess(sources, tmp_path / "t1", threads=1)
    assert len(one) == FACES + 6
    two = render_in_subprocess(sources, tmp_path / "t2", threads=2)
    other = render_in_subprocess(sources, tmp_path / "cpu", threads=2, other_cpu=True)
    assert differing(one, two) == []
    assert differing(one, other) == []


def test_same_bytes_twice_in_one_process_and_for_any_batch(sources, tmp_path):
    first = render_in_process(sources, tmp_path / "a")
    assert differing(first, render_in_process(sources, tmp_path / "b")) == []
    faces = {rel: data for rel, data in first.items() if rel.startswith("faces/")}
    assert len(set(faces.values())) == FACES  # distinct faces, not one constant image
    assert {tuple(png_chunks(data)) for data in first.values()} == {("IHDR", "IDAT", "IEND")}
    few = {**sources["faces"], "pin": {**sources["faces"]["pin"], "count": 3}}
    alone = render_in_process({"faces": few}, tmp_path / "c")  # a batch of 3, not of 12
    assert alone == {rel: faces[rel] for rel in alone} and len(alone) == 3
