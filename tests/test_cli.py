"""The avatar-type command: inputs, model resolution, output formats, bad files, Grad-CAM."""

from __future__ import annotations

import csv
import io
import json
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import jpeg_bytes, png_bytes
from PIL import Image
from train_fixtures import synthetic_image

from avatar_type.cli import main
from avatar_type.labels import CLASSES
from avatar_type.models.registry import build_model, data_config
from avatar_type.train.output import save_model

COLUMNS = ["path", "label", *(f"p_{c}" for c in CLASSES)]


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
    }
    save_model(model, directory, card)
    return directory


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
    assert sorted(r["path"] for r in rows) == GOOD
    for row in rows:
        assert list(row) == COLUMNS and row["label"] in CLASSES
        probs = [row[c] for c in COLUMNS[2:]]
        assert sum(probs) == pytest.approx(1.0, abs=1e-6)
        assert row["label"] == CLASSES[int(np.argmax(probs))]


def test_csv_and_table_name_the_classes_in_order(inputs, model_dir, capsys):
    status, out, _ = _predict(capsys, "--model", str(model_dir), "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and len(table) == len(GOOD)
    assert out.splitlines()[0].split(",") == COLUMNS
    for row in table:
        assert sum(float(row[c]) for c in COLUMNS[2:]) == pytest.approx(1.0, abs=1e-6)
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
    problems = [line for line in err.splitlines() if line.startswith("avatar-type: ")]
    assert len(problems) == 3
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
