"""avatar-type export: an ONNX graph that ONNX Runtime runs to PyTorch's logits, and a sidecar
that says how to feed it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar_type.cli import main
from avatar_type.infer.export import deployed
from avatar_type.labels import CLASSES
from avatar_type.models.onnx_export import INPUT, cpu_session
from avatar_type.models.registry import build_model, data_config
from avatar_type.train.output import load_trained, save_model

PIPELINE = {"aggregate": {"size": 64, "jpeg_quality": 90}, "denoise": {"enabled": False}}
OOD = {"score": "energy", "threshold": -1.5, "tpr": 0.95, "fitted_on": "val"}


def _model_dir(root: Path, arch: str, size: int) -> Path:
    torch.manual_seed(0)
    model = build_model(arch, "none", img_size=size)
    card = {
        "arch": arch,
        "classes": list(CLASSES),
        "preprocessing": {"img_size": size, **data_config(model), "pipeline": PIPELINE},
        "ood": OOD,
    }
    save_model(model, root / arch, card)
    return root / arch


@pytest.mark.parametrize(
    ("arch", "size"),
    [
        ("detector_cnn", 32),
        ("vit_small_patch14_dinov2", 56),
        ("vit_small_patch14_dinov2_allblocks", 56),
        ("vit_base_patch16_clip_quickgelu_224_allblocks", 32),
    ],
)
def test_onnx_runtime_matches_pytorch(tmp_path, capsys, arch, size):
    model_dir = _model_dir(tmp_path, arch, size)
    out = tmp_path / "out" / f"{arch}.onnx"
    assert main(["export", str(model_dir), "--format", "onnx", str(out)]) == 0
    model, card = load_trained(model_dir)
    images = np.random.default_rng(0).integers(0, 256, (5, size, size, 3), dtype=np.uint8)
    with torch.inference_mode():
        expected = deployed(model, card)(torch.from_numpy(images)).numpy()
    (got,) = cpu_session(out).run(None, {INPUT: images})
    assert got.shape == (5, len(CLASSES))
    assert np.abs(got - expected).max() < 1e-4
    assert cpu_session(out).run(None, {INPUT: images[:1]})[0].shape == (1, len(CLASSES))

    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["classes"] == list(CLASSES) and sidecar["ood"] == OOD
    assert sidecar["preprocessing"] == card["preprocessing"]
    assert sidecar["preprocessing"]["pipeline"] == PIPELINE
    assert sidecar["input"]["shape"] == ["batch", size, size, 3]
    assert sidecar["input"]["dtype"] == "uint8" and sidecar["input"]["layout"] == "NHWC"
    assert str(out) in capsys.readouterr().err


def test_export_refuses_a_json_output_and_a_missing_model(tmp_path, capsys):
    model_dir = _model_dir(tmp_path, "detector_cnn", 32)
    assert main(["export", str(model_dir), str(tmp_path / "model.json")]) == 2
    assert "sidecar would overwrite" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nothing"), str(tmp_path / "m.onnx")]) == 2
    assert "card.json missing" in capsys.readouterr().err
