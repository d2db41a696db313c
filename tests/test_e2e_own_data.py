"""End to end on the user's own data only: sources.yaml holds no registry source, just `local:`
folders (and an archive). `dvc repro` runs through the report with no OOD set, and with one;
the default held-out sources of split.unseen are absent, so no run has unseen sets. A file added
to the folder (or to the archive) reruns exactly that source's fetch and what depends on it."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from test_e2e import TINY_MODELS, TRAINED, _dvc, _make_repo, _texture, _tiny_params

from avatar_type.data.split import unseen_sources
from avatar_type.labels import CLASSES

pytestmark = pytest.mark.e2e
PER_CLASS = {"real": 18, "drawing": 36, "generated": 18}  # drawing-heavy, as the scenarios need
MINE = {
    "kind": "folder",
    "path": "inputs/mine",
    "label_by_subfolder": {c: c for c in CLASSES},
    "licence": "test",
    "provenance": "synthetic",
}
OBJECTS = {
    "kind": "archive",
    "path": "inputs/ood.zip",
    "label": "ood:objects",
    "licence": "test",
    "provenance": "synthetic",
}


def _make_folder(repo: Path) -> None:
    """inputs/mine/<class>/ with distinct textures, and one symbolic link, which is refused."""
    for k, (label, count) in enumerate(PER_CLASS.items()):
        folder = repo / "inputs" / "mine" / label
        folder.mkdir(parents=True)
        for i in range(count):
            _texture(1000 * (k + 1) + i).save(folder / f"img{i:02d}.png")
    os.symlink("img00.png", repo / "inputs" / "mine" / "real" / "alias.png")


def _write_archive(path: Path, count: int) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(count):
            buf = io.BytesIO()
            _texture(9000 + i).save(buf, format="PNG")
            zf.writestr(f"objects/ood{i}.png", buf.getvalue())


def _repro(repo: Path) -> str:
    result = _dvc(repo, "repro")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _check_through_report(repo: Path, ood: dict[str, int], scenarios: tuple[str, ...]) -> None:
    """The report is written, names a best run, and every scenario's split holds no unseen
    set: the held-out sources split.unseen names are recorded as missing."""
    assert (repo / "reports" / "report.md").is_file()
    summary = json.loads((repo / "metrics" / "summary.json").read_text())
    assert summary["best"]["model"] in TINY_MODELS and summary["best"]["scenario"] in scenarios
    assert set(summary["best_per_scenario"]) == set(scenarios)
    unseen = _tiny_params()["split"].get("unseen")
    for scenario in scenarios:
        counts = json.loads((repo / "metrics" / "split" / f"{scenario}.json").read_text())
        assert counts["ood"] == ood
        assert counts["unseen_missing"] == sorted(unseen_sources(unseen))
        assert counts["unseen_val"] == counts["unseen_test"] == dict.fromkeys(CLASSES, 0)


def _changed_fetch_stages(repo: Path) -> set[str]:
    status = _dvc(repo, "status", "--json")
    assert status.returncode == 0, status.stderr
    return {name for name in json.loads(status.stdout) if name.startswith("fetch")}


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("own")
    _make_folder(repo)
    _make_repo(repo, {}, {"mine": MINE}, _tiny_params())
    _repro(repo)
    return repo


def test_own_folder_without_ood_runs_through_report(own: Path) -> None:
    _check_through_report(own, ood={}, scenarios=TRAINED)
    assert os.listdir(own / "data" / "raw" / "mine") == ["manifest.json"]  # read in place
    agg = json.loads((own / "metrics" / "aggregate.json").read_text())
    assert agg["counts"] == PER_CLASS and agg["ood_counts"] == {}
    rejects = pd.read_csv(own / "data" / "aggregated" / "rejects.csv", keep_default_na=False)
    assert rejects[["path", "label", "reason"]].to_dict("records") == [
        {"path": "real/alias.png", "label": "real", "reason": "symbolic link (not followed)"}
    ]


def test_a_file_added_to_the_folder_refetches_only_it(own: Path) -> None:
    assert "Running stage" not in _repro(own)
    # a copy of an image already there: a new file for the fetch, a duplicate for aggregate
    folder = own / "inputs" / "mine" / "generated"
    (folder / "zz_copy.png").write_bytes((folder / "img00.png").read_bytes())
    assert _changed_fetch_stages(own) == {"fetch_local@mine"}
    stdout = _repro(own)
    assert "Running stage 'fetch_local@mine'" in stdout
    assert "Running stage 'aggregate'" in stdout
    manifest = json.loads((own / "data" / "raw" / "mine" / "manifest.json").read_text())
    assert "generated/zz_copy.png" in {e["path"] for e in manifest["files"]}
    assert "Running stage" not in _repro(own)


def test_own_folder_with_an_ood_archive_runs_through_report(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    repo = tmp_path_factory.mktemp("own_ood")
    _make_folder(repo)
    _write_archive(repo / "inputs" / "ood.zip", 5)
    params = _tiny_params()  # one scenario is enough here: the OOD path is the point
    params["split"]["scenarios"] = {"balanced": params["split"]["scenarios"]["balanced"]}
    params["train"]["scenarios"] = ["balanced"]
    _make_repo(repo, {}, {"mine": MINE, "objects": OBJECTS}, params)
    _repro(repo)
    _check_through_report(repo, ood={"objects": 5}, scenarios=("balanced",))
    _write_archive(repo / "inputs" / "ood.zip", 6)  # the archive gains a member
    assert _changed_fetch_stages(repo) == {"fetch_local@objects"}
