"""End to end: `dvc repro` through `split` on tiny sources in a temporary copy of the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from avatar_type.labels import CLASSES

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("balanced", "d50", "d70", "d80", "natural")
pytestmark = pytest.mark.e2e


def _texture(seed: int, size: int = 48) -> Image.Image:
    """A distinct smooth random image (distinct perceptual hashes for distinct seeds)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)


def _make_inputs(root: Path) -> None:
    real = root / "inputs" / "people"
    for person in range(6):
        (real / f"person{person}").mkdir(parents=True, exist_ok=True)
        for shot in range(3):
            _texture(100 + person * 10 + shot).save(real / f"person{person}" / f"shot{shot}.jpg")
    (real / "person0" / "broken.jpg").write_bytes(b"not really a jpeg")
    gen = root / "inputs" / "gen"
    gen.mkdir(parents=True)
    for i in range(18):
        _texture(500 + i, 64).save(gen / f"g{i}.png")
    with zipfile.ZipFile(root / "inputs" / "ood.zip", "w") as zf:
        for i in range(5):
            path = root / f"ood{i}.png"
            _texture(900 + i).save(path)
            zf.write(path, f"objects/ood{i}.png")
            path.unlink()


SOURCES = {
    "people": {
        "kind": "folder",
        "path": "inputs/people",
        "label": "real",
        "licence": "test",
        "provenance": "synthetic",
        "group": "pattern",
        "group_pattern": r"^(person\d+)/",
    },
    "gen": {
        "kind": "folder",
        "path": "inputs/gen",
        "label": "generated",
        "licence": "test",
        "provenance": "synthetic",
    },
    "lorelei": {
        "kind": "generator",
        "label": "drawing",
        "licence": "CC0 1.0",
        "provenance": "DiceBear",
        "pin": {"package": "dicebear-styles==10.6.0", "seed": 0, "count": 40},
        "options": {"engine": "dicebear", "style": "lorelei", "size": 64},
    },
    "objects": {
        "kind": "archive",
        "path": "inputs/ood.zip",
        "label": "ood:objects",
        "licence": "test",
        "provenance": "synthetic",
    },
}


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("repo")
    for name in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "stages", repo / "stages")
    shutil.copytree(ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".dvc").mkdir()
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    _make_inputs(repo)
    (repo / "sources.yaml").write_text(yaml.safe_dump({"sources": SOURCES}), encoding="utf-8")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["aggregate"].update(size=32, workers=1, audit_folds=2, contact_sheet_images=8)
    params["split"]["balanced_test_fraction"] = 0.25
    (repo / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    result = _dvc(repo, "repro", "split")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return repo


def test_repro_builds_every_scenario(repo: Path) -> None:
    agg = json.loads((repo / "metrics" / "aggregate.json").read_text())
    assert agg["sources"] == 4
    assert agg["rejected"] == 1  # broken.jpg is recorded, not a crash
    assert agg["ood_counts"] == {"objects": 5}
    balanced_tests = []
    for scenario in SCENARIOS:
        split = pd.read_csv(repo / "data" / "splits" / f"{scenario}.csv", keep_default_na=False)
        counts = json.loads((repo / "metrics" / "split" / f"{scenario}.json").read_text())
        for name in ("train", "val", "test", "balanced_test"):
            assert counts[name] == {
                c: int(((split["split"] == name) & (split["label"] == c)).sum()) for c in CLASSES
            }
        assert counts["ood"] == {"objects": 5}
        balanced_tests.append(set(split.loc[split["split"] == "balanced_test", "id"]))
        assigned = split[split["split"] != ""]
        assert (assigned.groupby("unit")["split"].nunique() == 1).all()
    assert balanced_tests[0] and all(b == balanced_tests[0] for b in balanced_tests)


def test_second_repro_does_nothing(repo: Path) -> None:
    result = _dvc(repo, "repro", "split")
    assert result.returncode == 0
    assert "Running stage" not in result.stdout, result.stdout


def test_changing_one_scenario_reruns_only_it(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["split"]["scenarios"]["d50"] = {"drawing": 0.6, "real": 0.2, "generated": 0.2}
    (repo / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    status = _dvc(repo, "status", "--json", "--with-deps", "split")
    assert set(json.loads(status.stdout)) == {"split@d50"}
