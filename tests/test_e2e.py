"""End to end: the whole `dvc repro` on tiny sources and two tiny models, in a temporary copy of
the repository: data stages, training, evaluation, ensembles, Grad-CAM, benchmark and report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from avatar_type.labels import CLASSES

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("balanced", "d50", "d70", "d80", "natural")
TRAINED = ("balanced", "d80")
TINY_MODELS = {
    "tiny_full": {
        "arch": "detector_cnn",
        "mode": "full",
        "img_size": 32,
        "epochs": 2,
        "batch_size": 16,
        "lr": 0.003,
        "imbalance": "weighted_loss",
    },
    "tiny_frozen": {
        "arch": "mid_cnn",
        "mode": "frozen",
        "img_size": 64,
        "epochs": 2,
        "batch_size": 16,
        "lr": 0.003,
        "imbalance": "none",
    },
}
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


LOCAL = {  # folders and archives on disk: sources.yaml's `local:`
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
    "objects": {
        "kind": "archive",
        "path": "inputs/ood.zip",
        "label": "ood:objects",
        "licence": "test",
        "provenance": "synthetic",
    },
}
SOURCES = {
    "lorelei": {
        "kind": "generator",
        "label": "drawing",
        "licence": "CC0 1.0",
        "provenance": "DiceBear",
        "pin": {"package": "dicebear-styles==10.6.0", "seed": 0, "count": 40},
        "options": {"engine": "dicebear", "style": "lorelei", "size": 64},
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


def _tiny_params() -> dict:
    """params.yaml shrunk to seconds (32 px, two tiny models on two scenarios); everything
    else, split.unseen included, stays as the repository has it."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["aggregate"].update(size=32, workers=1, audit_folds=2, contact_sheet_images=8)
    params["split"]["balanced_test_fraction"] = 0.25
    params["models"] = TINY_MODELS
    params["train"].update(models=list(TINY_MODELS), scenarios=list(TRAINED), seeds=[42])
    params["benchmark"].update(runs=3, warmup=1, batch_size=4)
    params["explain"].update(images_per_class=2, map_size=32, mistakes=4)
    return params


def _make_repo(repo: Path, sources: dict, local: dict, params: dict) -> None:
    """Copy the pipeline's code into ``repo`` (its inputs already there), write the registry
    and params, and commit: dvclive reads the current commit, as in any user's repository."""
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "stages", repo / "stages")
    shutil.copytree(ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".dvc").mkdir()
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    registry = {"sources": sources, "local": local}
    (repo / "sources.yaml").write_text(yaml.safe_dump(registry), encoding="utf-8")
    (repo / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "inputs"], cwd=repo, check=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("repo")
    _make_inputs(repo)
    _make_repo(repo, SOURCES, LOCAL, _tiny_params())
    result = _dvc(repo, "repro")
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


def test_every_run_is_trained_evaluated_and_benchmarked(repo: Path) -> None:
    for model in TINY_MODELS:
        bench = json.loads((repo / "metrics" / "bench" / f"{model}.json").read_text())
        assert bench["params"] > 0 and bench["cpu"]["latency_ms"]["median"] > 0
        for scenario in TRAINED:
            metrics = json.loads(
                (repo / "metrics" / "eval" / model / scenario / "s42.json").read_text()
            )
            assert 0 <= metrics["balanced"]["macro_f1"] <= 1
            assert (repo / "plots" / "eval" / model / scenario / "s42" / "evaluation.png").is_file()
    for scenario in TRAINED:
        ensemble = json.loads((repo / "metrics" / "ensemble" / f"{scenario}.json").read_text())
        assert set(ensemble["models"]) == set(TINY_MODELS)
    explain = json.loads((repo / "metrics" / "explain.json").read_text())
    assert set(explain["overlap"]) <= set(CLASSES) and explain["overlap"]


def test_report_embeds_every_figure_and_fills_every_table(repo: Path) -> None:
    html = (repo / "reports" / "report.html").read_text(encoding="utf-8")
    md = (repo / "reports" / "report.md").read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    figures_in_md = md.count("![")
    # report-wide figures (data, imbalance, bias, robustness, calibration, 3 Grad-CAM,
    # ensembles, speed, ranking = 11) and one evaluation panel per model
    assert figures_in_md == 11 + len(TINY_MODELS)
    assert len(page.images) == figures_in_md
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert all(len(src) > 1000 for src in page.images)  # a real picture, not an empty one
    assert page.tables and all(rows > 0 for rows in page.tables)
    runs = len(TINY_MODELS) * len(TRAINED)
    assert runs in page.tables  # the integrated ranking lists every run
    summary = json.loads((repo / "metrics" / "summary.json").read_text())
    assert len(summary["ranking"]) == runs
    assert summary["best"]["model"] in TINY_MODELS
    assert set(summary["best_per_scenario"]) == set(TRAINED)


class _Page(HTMLParser):
    """Image sources and the body-row count of every table of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.tables: list[int] = []
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))
        elif tag == "table":
            self.tables.append(0)
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[-1] += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False


def test_second_repro_does_nothing(repo: Path) -> None:
    result = _dvc(repo, "repro")
    assert result.returncode == 0
    assert "Running stage" not in result.stdout, result.stdout


def test_changing_one_models_param_touches_only_its_stages(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"]["tiny_full"]["lr"] = 0.004
    (repo / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    try:
        status = json.loads(_dvc(repo, "status", "--json").stdout)
        assert set(status) == {f"train@tiny_full-{s}-42" for s in TRAINED}
    finally:
        params["models"]["tiny_full"]["lr"] = 0.003
        (repo / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")


def test_changing_one_scenario_reruns_only_it(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["split"]["scenarios"]["d50"] = {"drawing": 0.6, "real": 0.2, "generated": 0.2}
    (repo / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    status = _dvc(repo, "status", "--json", "--with-deps", "split")
    assert set(json.loads(status.stdout)) == {"split@d50"}
