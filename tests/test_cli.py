"""The avatar-type command: inputs, skipped files, model resolution, output formats, bad files,
worker processes, OOD scores and abstention, Grad-CAM."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import jpeg_bytes, png_bytes
from PIL import Image
from train_fixtures import synthetic_image

from avatar_type import cli
from avatar_type.cli import main
from avatar_type.infer.inputs import scan
from avatar_type.infer.prepare import Preparer, Preprocessing
from avatar_type.infer.writers import JsonWriter
from avatar_type.labels import CLASSES
from avatar_type.models.registry import build_model, data_config
from avatar_type.train.output import CARD, read_card, save_model

PROBS = [f"p_{c}" for c in CLASSES]
COLUMNS = ["path", "label", *PROBS, "ood_score", "unfamiliar"]
THRESHOLD = -1.0  # the fixture's: about the free energy of an untrained net's near-zero logits


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """An untrained detector_cnn with the card a training run writes."""
    torch.manual_seed(0)
    model = build_model("detector_cnn", "none")
    directory = tmp_path / "models" / "tiny" / "balanced" / "s42"
    card = {
        "arch": "detector_cnn",
        "classes": list(CLASSES),
        "preprocessing": {
            "img_size": 32,
            **data_config(model),
            "pipeline": {
                "aggregate": {"size": 64, "jpeg_quality": 90},
                "denoise": {"enabled": True, "tolerance": 30},
            },
        },
        "ood": {"score": "energy", "threshold": THRESHOLD, "tpr": 0.95, "fitted_on": "val"},
    }
    save_model(model, directory, card)
    return directory


def _set_ood(model_dir: Path, entry: dict | None) -> None:
    """Rewrite the card's OOD entry; None: a card of a version that fitted no threshold."""
    card = read_card(model_dir)
    card.pop("ood", None)
    (model_dir / CARD).write_text(json.dumps(card if entry is None else card | {"ood": entry}))


@pytest.fixture
def inputs(tmp_path, monkeypatch) -> Path:
    """cwd = tmp_path: folder/ (two images, one nested, a text file), more/*.png, one.jpg."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "more").mkdir()
    Image.fromarray(synthetic_image("real", rng, 48)).save("folder/a.png")
    Image.fromarray(synthetic_image("drawing", rng, 40)).save("folder/sub/b.jpg")
    Path("folder/notes.txt").write_text("not an image\n")
    rgba = np.dstack([synthetic_image("generated", rng, 64)[:, :40], np.full((64, 40), 128)])
    Path("more/c.png").write_bytes(png_bytes(Image.fromarray(rgba.astype(np.uint8), "RGBA")))
    Path("one.jpg").write_bytes(jpeg_bytes(Image.fromarray(synthetic_image("real", rng, 32))))
    return tmp_path


GOOD = ["folder/a.png", "folder/sub/b.jpg", "more/c.png", "one.jpg"]


def _predict(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["predict", "folder", "more/*.png", "one.jpg", "--device", "cpu", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_covers_folders_globs_and_files(inputs, model_dir, capsys):
    status, out, _ = _predict(capsys, "--model", str(model_dir), "--format", "json")
    rows = json.loads(out)
    assert status == 0
    assert [r["path"] for r in rows] == GOOD  # in the order of the patterns, folders sorted
    for row in rows:
        assert list(row) == COLUMNS and row["label"] in CLASSES
        probs = [row[c] for c in PROBS]
        assert sum(probs) == pytest.approx(1.0, abs=1e-6)
        assert row["label"] == CLASSES[int(np.argmax(probs))]
        assert row["unfamiliar"] is (row["ood_score"] > THRESHOLD)


def test_csv_and_table_name_the_classes_in_order(inputs, model_dir, capsys):
    status, out, _ = _predict(capsys, "--model", str(model_dir), "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and len(table) == len(GOOD)
    assert out.splitlines()[0].split(",") == COLUMNS
    for row in table:
        assert sum(float(row[c]) for c in PROBS) == pytest.approx(1.0, abs=1e-6)
        assert row["unfamiliar"] in ("true", "false")
    _, text, _ = _predict(capsys, "--model", str(model_dir), "--batch-size", "3")
    lines = text.splitlines()
    assert lines[0].split() == COLUMNS and len(lines) == 1 + len(GOOD)
    assert len({len(line) for line in lines}) == 1  # aligned: probabilities flush right


def test_bad_files_are_named_and_the_rest_predicted(inputs, model_dir, capsys):
    whole = jpeg_bytes(Image.fromarray(synthetic_image("real", np.random.default_rng(1), 64)))
    Path("folder/truncated.jpg").write_bytes(whole[: len(whole) // 2])
    Path("folder/text.jpg").write_text("this is a text file, not a JPEG\n" * 20)
    status = main(
        ["predict", "folder", "missing.png", "--model", str(model_dir), "--format", "json"]
    )
    out, err = capsys.readouterr()
    assert status == 1
    assert [r["path"] for r in json.loads(out)] == ["folder/a.png", "folder/sub/b.jpg"]
    lines = [line for line in err.splitlines() if line.startswith("avatar-type: ")]
    problems = [line for line in lines if "skipped" not in line]  # notes.txt: a note
    assert len(problems) == 3 and len(lines) == 4
    assert any("truncated.jpg: corrupt or truncated" in line for line in problems)
    assert any("text.jpg: not an image" in line for line in problems)
    assert any("missing.png: no such file" in line for line in problems)


def test_default_model_comes_from_the_summary(inputs, model_dir, capsys):
    status, _, err = _predict(capsys)
    assert status == 2
    assert "metrics/summary.json not found" in err and "dvc repro" in err and "--model" in err
    Path("metrics").mkdir()
    best = {"best": {"model": "tiny", "scenario": "balanced", "seed": 42, "score": 1.0}}
    Path("metrics/summary.json").write_text(json.dumps(best))
    assert _predict(capsys)[0] == 0
    assert _predict(capsys, "--model", "tiny/balanced/s42")[0] == 0
    status, _, err = _predict(capsys, "--model", "tiny/natural/s42")
    assert status == 2 and "card.json missing" in err
    with pytest.raises(SystemExit) as usage:
        main(["predict", "one.jpg", "--batch-size", "0"])
    assert usage.value.code == 2


def test_gradcam_writes_one_overlay_per_good_image(inputs, model_dir, capsys):
    Path("folder/text.jpg").write_text("not a JPEG")
    # the stored size comes from the model's card, whatever today's params.yaml says
    Path("params.yaml").write_text(
        "aggregate: {size: 96, audit_folds: 5}\ndenoise: {enabled: true, tolerance: 30}\n"
    )
    status, _, err = _predict(capsys, "--model", str(model_dir), "--gradcam", "cams")
    assert status == 1
    assert "aggregate.size=96 (the model's: 64)" in err
    written = sorted(p.name for p in Path("cams").iterdir())
    assert written == ["a.png", "b.png", "c.png", "one.png"]
    with Image.open("cams/a.png") as overlay:
        assert overlay.size == (64, 64) and overlay.mode == "RGB"


def test_console_script_resolves_to_main():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "avatar-type"]
    assert script.value == "avatar_type.cli:main" and script.load() is main


def test_skipped_files_are_counted_per_extension_or_named(inputs, model_dir, capsys):
    Path("folder/logo.svg").write_text("<svg/>")
    Path("folder/sub/icon.svg").write_text("<svg/>")
    Path("folder/README").write_text("no extension")
    status, out, err = _predict(capsys, "--model", str(model_dir), "--format", "json")
    assert status == 0 and len(json.loads(out)) == len(GOOD)  # skips are not errors
    notes = [line for line in err.splitlines() if line.startswith("avatar-type: folder/: ")]
    assert sorted(notes) == [
        "avatar-type: folder/: skipped 1 file with extension .txt (not an image format); "
        "--verbose lists them",
        "avatar-type: folder/: skipped 1 file with no extension (not an image format); "
        "--verbose lists them",
        "avatar-type: folder/: skipped 2 files with extension .svg (not an image format); "
        "--verbose lists them",
    ]
    status, _, err = _predict(capsys, "--model", str(model_dir), "--verbose")
    named = sorted(line for line in err.splitlines() if ": skipped (" in line)
    assert status == 0 and named == [
        "avatar-type: folder/README: skipped (no extension: not an image format)",
        "avatar-type: folder/logo.svg: skipped (extension .svg: not an image format)",
        "avatar-type: folder/notes.txt: skipped (extension .txt: not an image format)",
        "avatar-type: folder/sub/icon.svg: skipped (extension .svg: not an image format)",
    ]


def test_worker_processes_give_the_same_rows_in_the_same_order(inputs, model_dir, capsys):
    for k in range(12):  # more images than one chunk per worker
        image = synthetic_image(CLASSES[k % 3], np.random.default_rng(k), 40)
        Image.fromarray(image).save(f"folder/sub/x{k:02d}.png")
    outputs = []
    for workers in ("1", "2", "3"):
        status, out, _ = _predict(
            capsys, "--model", str(model_dir), "--format", "json", "--workers", workers
        )
        assert status == 0
        outputs.append(json.loads(out))
    assert outputs[0] == outputs[1] == outputs[2]
    assert [r["path"] for r in outputs[0]] == [
        "folder/a.png",
        "folder/sub/b.jpg",
        *(f"folder/sub/x{k:02d}.png" for k in range(12)),
        "more/c.png",
        "one.jpg",
    ]


@pytest.mark.parametrize(
    "model_seconds, spare, pool", [(0.0, 2, True), (2.0, 2, False), (0.0, 0, False)]
)
def test_auto_workers_start_only_on_spare_cores_where_preparing_costs_more_than_the_model(
    inputs, model_dir, capsys, monkeypatch, model_seconds, spare, pool
):
    """--workers auto times the first batch: a fast model leaves preparation the bottleneck
    (workers start on the spare cores for the rest), a slow one does not, and without cores
    beyond the model's threads everything stays in this process."""
    started = []
    monkeypatch.setattr(cli, "default_workers", lambda: torch.get_num_threads() + spare)
    # entering the context asks for 1 (this process); only a pool start counts
    monkeypatch.setattr(Preparer, "start", lambda self, n: n > 1 and started.append(n))

    def model(_model, _normalise, stored, _size, _device):
        time.sleep(model_seconds)
        return np.zeros((len(stored), len(CLASSES)), np.float32)

    monkeypatch.setattr(cli, "_logits", model)
    status, out, _ = _predict(capsys, "--model", str(model_dir), "--format", "json")
    assert status == 0 and len(json.loads(out)) == len(GOOD)
    assert started == ([spare] if pool else [])


def test_folder_scan_is_lazy_and_in_sorted_order(tmp_path, monkeypatch):
    for name in ("b/z.png", "b/a.png", "a.png", "c/d/e.png", "B.png", "b.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    expected = sorted(tmp_path.rglob("*.png"))
    assert list(scan([str(tmp_path)], print, print)) == expected
    # the first file comes before the rest of the tree is walked
    walked = []
    original = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: walked.append(path) or original(path))
    assert next(scan([str(tmp_path)], print, print)) == expected[0]
    assert walked == [str(tmp_path)]


def test_preparation_reads_paths_lazily_with_a_bounded_window(model_dir):
    prepare = Preprocessing.from_card(read_card(model_dir), model_dir)
    pulled = []

    def endless():
        while True:
            pulled.append(None)
            yield Path(f"missing-{len(pulled)}.png")

    with Preparer(prepare, workers=2, chunksize=4) as preparer:
        results = preparer(endless())
        first = [next(results) for _ in range(5)]
    assert all(item.image is None and item.reason for item in first)
    assert len(pulled) <= 5 + 2 * 2 * 4  # at most two chunks per worker ahead


def test_json_is_written_row_by_row_as_one_array(capsys):
    rows = [{"path": "a.png", "p": 0.25, "unfamiliar": None}, {"path": "b", "unfamiliar": True}]
    for batches in ([rows], [rows[:1], rows[1:]], []):
        writer = JsonWriter(["path"])
        for batch in batches:
            writer.write(batch)
        writer.close()
        expected = [row for batch in batches for row in batch]
        assert capsys.readouterr().out == json.dumps(expected, indent=2) + "\n"


def test_ood_score_and_abstention(inputs, model_dir, capsys):
    entry = read_card(model_dir)["ood"]
    _set_ood(model_dir, None)
    # a card from before OOD thresholds: scores still printed, the flag left empty
    status, out, _ = _predict(capsys, "--model", str(model_dir), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and len(rows) == len(GOOD)
    assert all(r["unfamiliar"] == "" and float(r["ood_score"]) < 0 for r in rows)
    status, _, err = _predict(capsys, "--model", str(model_dir), "--abstain")
    assert status == 2 and f"{model_dir / CARD} records no OOD threshold" in err
    # a threshold below every score: every image is flagged and --abstain labels it unknown
    _set_ood(model_dir, entry | {"threshold": -1e9})
    _, out, _ = _predict(capsys, "--model", str(model_dir), "--format", "json", "--abstain")
    assert {(r["label"], r["unfamiliar"]) for r in json.loads(out)} == {("unknown", True)}
    _, text, _ = _predict(capsys, "--model", str(model_dir), "--abstain")
    assert all(
        line.split()[1] == "unknown" and line.endswith("yes") for line in text.splitlines()[1:]
    )
