"""The training loop on a tiny synthetic pack (CPU): every mode, its outputs, determinism,
resuming after a kill, imbalance handling, settings validation and augmentation."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file
from sklearn.metrics import f1_score
from train_fixtures import (
    TEST_PREPROCESSING,
    TinyData,
    read_json,
    synthetic_image,
    write_pack,
    write_split,
)

from avatar_type.errors import ParamsError
from avatar_type.labels import CLASSES
from avatar_type.models.freeze import backbone_groups, head_parameter_names
from avatar_type.models.registry import build_model
from avatar_type.params import from_mapping
from avatar_type.train import imbalance, loop
from avatar_type.train.augment import AugmentStrength, augment, minority_classes, strengths_for
from avatar_type.train.checkpoint import LAST, Checkpointer
from avatar_type.train.config import TrainConfig
from avatar_type.train.data import Normalise, packed_at, split_rows
from avatar_type.train.output import load_trained

pytest_plugins = ("train_fixtures",)  # the isolated and tiny_data fixtures

K = len(CLASSES)
SERIES = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "train_macro_f1",
          "val_macro_f1", "lr")  # fmt: skip
REPO = Path(__file__).resolve().parents[1]


def config(**overrides) -> TrainConfig:
    base = {"arch": "detector_cnn", "img_size": 32, "epochs": 3, "batch_size": 16, "lr": 0.003}
    return TrainConfig(**{**base, **overrides})


def fresh_model(cfg: TrainConfig, seed: int = 42) -> torch.nn.Module:
    """The model train_run starts from (it seeds torch, then builds)."""
    torch.manual_seed(seed)
    return build_model(cfg.arch, cfg.weights, img_size=cfg.img_size, drop_rate=cfg.drop_rate)


def saved_weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(model_dir) / "model.safetensors"))


def series(live_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(Path(live_dir) / "plots" / "metrics" / f"{name}.tsv", sep="\t")


def evaluate_saved(model_dir: Path, data: TinyData) -> tuple[float, float]:
    """Val macro-F1 and mean cross-entropy of a saved model, fed as its card says."""
    model, card = load_trained(model_dir)
    prep = card["preprocessing"]
    images, index = packed_at(data.pack, prep["img_size"])
    rows, y = split_rows(index, data.split_frame(), "val")
    x = torch.from_numpy(np.ascontiguousarray(images[rows]))
    with torch.no_grad():
        logits = model(Normalise(prep["mean"], prep["std"])(x))
    loss = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)))
    pred = logits.argmax(1).numpy()
    return float(f1_score(y, pred, average="macro", labels=list(range(K)))), loss


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], names) -> list[str]:
    """Names whose tensors are bit-identical in ``a`` and ``b``."""
    return [n for n in names if torch.equal(a[n], b[n])]


@pytest.fixture
def snapshots(monkeypatch) -> list[tuple[int, dict[str, torch.Tensor]]]:
    """(epoch, trainable state) after every epoch, captured where the loop checkpoints."""
    taken: list[tuple[int, dict[str, torch.Tensor]]] = []
    original = Checkpointer.save

    def save(self, model, optimizer, scheduler, gen, state):
        taken.append(
            (state["epoch"], {k: v.detach().clone() for k, v in model.state_dict().items()})
        )
        original(self, model, optimizer, scheduler, gen, state)

    monkeypatch.setattr(Checkpointer, "save", save)
    return taken


# ------------------------------------------------------------------ full mode


def test_full_mode_learns_and_writes_model_card_metrics_and_logs(tiny_data):
    cfg = config()
    rt = tiny_data.runtime("full")
    summary = loop.train_run(cfg, "tiny_detector", "tiny", tiny_data.pack, tiny_data.split, rt)

    assert summary["best_val_macro_f1"] > 0.8  # chance is ~0.33
    metrics = read_json(rt.metrics_file)
    assert metrics == summary
    assert metrics["epochs"] == 3
    assert metrics["train_seconds"] > 0 and metrics["images_per_second"] > 0
    assert metrics["train_images"] == sum(tiny_data.train_counts()) == 63
    assert metrics["train_class_counts"] == dict(
        zip(CLASSES, tiny_data.train_counts(), strict=True)
    )

    card = read_json(rt.model_dir / "card.json")
    assert card["classes"] == list(CLASSES)
    assert (card["model"], card["arch"], card["scenario"]) == ("tiny_detector", cfg.arch, "tiny")
    prep = card["preprocessing"]
    assert prep["img_size"] == 32 and len(prep["mean"]) == 3 and len(prep["std"]) == 3
    assert "interpolation" in prep
    # the pack's own description travels with the model: predict prepares images from it
    assert prep["pipeline"] == TEST_PREPROCESSING and card["seed"] == rt.seed

    for name in SERIES:
        frame = series(rt.live_dir, name)
        assert frame["step"].tolist() == [0, 1, 2], name
        assert frame[name].notna().all(), name
    assert not (rt.live_dir / "metrics.json").exists()  # the best epoch is the summary
    f1 = series(rt.live_dir, "val_macro_f1")["val_macro_f1"]
    assert round(f1.max(), 6) == summary["best_val_macro_f1"]
    assert int(f1.to_numpy().argmax()) + 1 == summary["best_epoch"]
    assert not rt.checkpoint_dir.exists()  # removed once the model is saved

    # the saved weights are the best epoch's, and they rebuild from the card alone
    val_f1, val_loss = evaluate_saved(rt.model_dir, tiny_data)
    assert val_f1 == pytest.approx(summary["best_val_macro_f1"], abs=1e-6)
    logged = series(rt.live_dir, "val_loss")["val_loss"].iloc[summary["best_epoch"] - 1]
    assert val_loss == pytest.approx(logged, rel=1e-4, abs=1e-7)
    start = fresh_model(cfg).state_dict()
    weights = saved_weights(rt.model_dir)
    assert not same(weights, start, [n for n in weights if n.endswith("weight")])


def test_identical_runs_give_bit_identical_weights(tiny_data):
    # dropout, the sampler and augmentation all draw random numbers
    cfg = config(arch="mid_cnn", epochs=2, drop_rate=0.5, imbalance="weighted_sampler")
    dirs = []
    for name in ("first", "second"):
        rt = tiny_data.runtime(name)
        loop.train_run(cfg, "m", "tiny", tiny_data.pack, tiny_data.split, rt)
        dirs.append(rt.model_dir)
    a, b = (saved_weights(d) for d in dirs)
    assert a.keys() == b.keys()
    assert same(a, b, a) == list(a)


def test_cosine_schedule_and_double_correction_when_allowed(tiny_data):
    cfg = config(
        arch="mid_cnn",
        scheduler="cosine",
        imbalance="loss_and_sampler",
        allow_double_correction=True,
    )
    rt = tiny_data.runtime("cosine")
    loop.train_run(cfg, "m", "tiny", tiny_data.pack, tiny_data.split, rt)
    lr = series(rt.live_dir, "lr")["lr"].tolist()
    expected = [0.003 * (1 + math.cos(math.pi * e / 3)) / 2 for e in range(3)]
    assert lr == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------ frozen backbones


def test_frozen_mode_changes_only_the_classifier(tiny_data):
    cfg = config(arch="mobilenetv2_100", mode="frozen", lr=0.01)
    rt = tiny_data.runtime("frozen")
    summary = loop.train_run(cfg, "m", "tiny", tiny_data.pack, tiny_data.split, rt)
    start = fresh_model(cfg)
    head = head_parameter_names(start)
    before, after = start.state_dict(), saved_weights(rt.model_dir)
    assert after.keys() == before.keys()
    rest = [n for n in before if n not in head]  # backbone parameters and every buffer
    assert same(after, before, rest) == rest
    assert not same(after, before, head)
    assert summary["epochs"] == 3
    # the saved backbone + head reproduce the score measured on the cached features
    val_f1, _ = evaluate_saved(rt.model_dir, tiny_data)
    assert val_f1 == pytest.approx(summary["best_val_macro_f1"], abs=1e-6)


def test_linear_probe_changes_only_the_classifier_and_reuses_features(tiny_data, monkeypatch):
    calls = []
    original = loop.embed
    monkeypatch.setattr(loop, "embed", lambda *a, **k: calls.append(1) or original(*a, **k))
    cfg = config(arch="tf_efficientnet_lite0", mode="linear_probe")
    other_split = write_split(tiny_data.index, tiny_data.root / "other.csv", val_share=0.4)
    summaries = {}
    for scenario, split in (("a", tiny_data.split), ("b", other_split)):
        rt = tiny_data.runtime(f"probe-{scenario}")
        summaries[scenario] = loop.train_run(cfg, "m", scenario, tiny_data.pack, split, rt)
    assert len(calls) == 1  # the second scenario reused the first one's features
    assert len(list((tiny_data.root / "local-cache" / "features").glob("*.npy"))) == 1
    assert summaries["a"]["train_images"] != summaries["b"]["train_images"]

    start = fresh_model(cfg)
    head = head_parameter_names(start)
    before, after = start.state_dict(), saved_weights(tiny_data.runtime("probe-a").model_dir)
    rest = [n for n in before if n not in head]
    assert same(after, before, rest) == rest
    assert not same(after, before, head)
    val_f1, _ = evaluate_saved(tiny_data.runtime("probe-a").model_dir, tiny_data)
    assert val_f1 == pytest.approx(summaries["a"]["best_val_macro_f1"], abs=1e-6)
    assert summaries["a"]["best_val_macro_f1"] > 0.8


def test_frozen_features_are_not_reused_across_different_random_backbones(tiny_data, monkeypatch):
    """weights none: another seed is another backbone, so its features are computed anew and
    the saved backbone + head reproduce the reported score (regression: the seed was not part
    of the feature key)."""
    calls = []
    original = loop.embed
    monkeypatch.setattr(loop, "embed", lambda *a, **k: calls.append(1) or original(*a, **k))
    cfg = config(arch="detector_cnn", mode="frozen", epochs=2)
    for seed in (1, 2, 1):
        rt = tiny_data.runtime(f"s{seed}", seed)
        summary = loop.train_run(cfg, "m", "tiny", tiny_data.pack, tiny_data.split, rt)
        val_f1, _ = evaluate_saved(rt.model_dir, tiny_data)
        assert val_f1 == pytest.approx(summary["best_val_macro_f1"], abs=1e-6)
    assert len(calls) == 2  # the third run (seed 1 again) reused the first one's features


# ------------------------------------------------------------------ partial and progressive


def _group_names(cfg: TrainConfig) -> tuple[list[list[str]], set[str]]:
    model = fresh_model(cfg)
    return backbone_groups(model), head_parameter_names(model)


def _frozen_buffers(cfg: TrainConfig, trainable: set[str]) -> list[str]:
    """Buffers (BatchNorm running statistics) of modules whose own parameters are all frozen."""
    names = []
    for prefix, module in fresh_model(cfg).named_modules():
        own = [f"{prefix}.{n}" if prefix else n for n, _ in module.named_parameters(recurse=False)]
        buffers = [f"{prefix}.{n}" if prefix else n for n, _ in module.named_buffers(recurse=False)]
        if own and buffers and not set(own) & trainable:
            names += buffers
    return names


def test_partial_mode_trains_only_head_and_last_groups(tiny_data):
    cfg = config(arch="mobilenetv2_100", mode="partial", partial_groups=1, epochs=2)
    rt = tiny_data.runtime("partial")
    loop.train_run(cfg, "m", "tiny", tiny_data.pack, tiny_data.split, rt)
    groups, head = _group_names(cfg)
    before, after = fresh_model(cfg).state_dict(), saved_weights(rt.model_dir)
    frozen = [n for g in groups[:-1] for n in g]
    assert same(after, before, frozen) == frozen
    assert not same(after, before, groups[-1])
    assert not same(after, before, head)
    still = _frozen_buffers(cfg, set(head).union(groups[-1]))
    assert still and same(after, before, still) == still  # frozen BatchNorm statistics too


PROGRESSIVE = {
    "arch": "mobilenetv2_100",
    "mode": "progressive",
    "epochs": 3,
    "head_epochs": 1,
    "unfreeze_groups": 2,
    "lr": 0.01,
}


def test_progressive_trains_head_first_then_the_last_groups(tiny_data, snapshots):
    cfg = config(**PROGRESSIVE)
    loop.train_run(cfg, "m", "tiny", tiny_data.pack, tiny_data.split, tiny_data.runtime("prog"))
    groups, head = _group_names(cfg)
    start = fresh_model(cfg).state_dict()
    assert [e for e, _ in snapshots] == [1, 2, 3]
    stage1, end = snapshots[0][1], snapshots[-1][1]
    backbone = [n for g in groups for n in g]
    assert same(stage1, start, backbone) == backbone  # stage 1: only the head moved
    assert not same(stage1, start, head)
    stage1_buffers = _frozen_buffers(cfg, set(head))  # every backbone BatchNorm statistic
    assert same(stage1, start, stage1_buffers) == stage1_buffers
    unfrozen = [n for g in groups[-2:] for n in g]
    earlier = [n for g in groups[:-2] for n in g]
    assert same(end, stage1, earlier) == earlier
    assert same(end, stage1, unfrozen) == []  # every unfrozen tensor moved in stage 2
    earlier_buffers = _frozen_buffers(cfg, set(head).union(unfrozen))
    assert same(end, start, earlier_buffers) == earlier_buffers
    moved = [n for n in stage1_buffers if n not in earlier_buffers and "running_mean" in n]
    assert moved and not same(end, start, moved)  # unfrozen groups' statistics do update


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_image_training_runs_on_cuda(tiny_data):
    rt = dataclasses.replace(
        tiny_data.runtime("cuda"), device=torch.device("cuda"), amp=True, channels_last=True
    )
    summary = loop.train_run(config(epochs=2), "m", "tiny", tiny_data.pack, tiny_data.split, rt)
    assert summary["device"] == "cuda"
    assert summary["best_val_macro_f1"] > 0.8


# ------------------------------------------------------------------ few-shot


def test_few_shot_trains_on_exactly_per_class_images(tiny_data, monkeypatch):
    seen: list[np.ndarray] = []
    original = loop.Batches.epoch

    def spy(self, order):
        for x, y, w in original(self, order):
            if torch.is_grad_enabled():  # training batches (evaluation runs in inference mode)
                seen.append(y.numpy().copy())
            yield x, y, w

    monkeypatch.setattr(loop.Batches, "epoch", spy)
    cfg = config(arch="mid_cnn", mode="few_shot", few_shot_per_class=5, epochs=2, batch_size=8)
    summary = loop.train_run(
        cfg, "m", "tiny", tiny_data.pack, tiny_data.split, tiny_data.runtime("fs")
    )
    assert summary["train_images"] == 5 * K
    assert summary["train_class_counts"] == dict.fromkeys(CLASSES, 5)
    labels = np.concatenate(seen)
    assert len(labels) == 2 * 5 * K  # two epochs
    assert np.bincount(labels, minlength=K).tolist() == [10] * K


def test_a_last_batch_of_one_image_does_not_crash(tiny_data, monkeypatch):
    """Regression: a final training batch of one image made BatchNorm1d (MidCnn) raise."""
    sizes: list[int] = []
    original = loop.Batches.epoch

    def spy(self, order):
        for x, y, w in original(self, order):
            if torch.is_grad_enabled():
                sizes.append(len(y))
            yield x, y, w

    monkeypatch.setattr(loop.Batches, "epoch", spy)
    cfg = config(arch="mid_cnn", epochs=1, batch_size=31)  # 63 training images: 31 + 31 + 1
    loop.train_run(cfg, "m", "tiny", tiny_data.pack, tiny_data.split, tiny_data.runtime("b1"))
    assert sizes == [31, 31]


def test_a_frozen_checkpoint_is_not_resumed_by_a_full_run(tiny_data, monkeypatch):
    """Regression: frozen runs checkpointed under the fingerprint of the full-mode config, so
    a full run with otherwise equal settings tried to load a head-only checkpoint."""
    rt = tiny_data.runtime("switch")
    with monkeypatch.context() as patch:  # as if killed after the last epoch's checkpoint
        patch.setattr(Checkpointer, "clear", lambda self: None)
        loop.train_run(config(mode="frozen", epochs=1), "m", "tiny", tiny_data.pack,
                       tiny_data.split, rt)  # fmt: skip
    assert (rt.checkpoint_dir / LAST).is_file()
    loop.train_run(config(mode="full", epochs=1), "m", "tiny", tiny_data.pack, tiny_data.split, rt)


# ------------------------------------------------------------------ resume after a kill

RESUME_SCRIPT = '''
"""Train like stages/train.py (runner.run: INFO logging, clean error exits)."""
import sys
import time
from pathlib import Path

import torch

from avatar_type.runner import run
from avatar_type.train import loop
from avatar_type.train.config import TrainConfig


def main():
    root, name, delay = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    if delay > 0:  # slow every batch so the test can kill the run in the middle of an epoch
        original = loop.Batches.epoch

        def slow(self, order):
            for batch in original(self, order):
                time.sleep(delay)
                yield batch

        loop.Batches.epoch = slow
    cfg = TrainConfig(arch="mid_cnn", img_size=32, epochs=4, batch_size=16, lr=0.003,
                      drop_rate=0.5, imbalance="weighted_sampler", early_stopping=10)
    out = root / "runs" / name
    rt = loop.Runtime(device=torch.device("cpu"), amp=False, channels_last=False,
                      model_dir=out / "model", metrics_file=out / "metrics.json",
                      live_dir=out / "live", checkpoint_dir=root / "checkpoints" / name, seed=42)
    loop.train_run(cfg, "tiny", "tiny", root / "pack", root / "split.csv", rt)


if __name__ == "__main__":
    run(main)
'''
EPOCHS = 4


def _checkpoint_epoch(path: Path) -> int | None:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["state"]["epoch"])
    except (FileNotFoundError, RuntimeError, EOFError, KeyError, OSError):
        return None


@pytest.fixture(scope="module")
def resumed(tmp_path_factory) -> dict:
    """A run SIGKILLed after its first checkpoint, started again; and an uninterrupted twin."""
    root = tmp_path_factory.mktemp("resume")
    _, index = write_pack(root / "pack")
    write_split(index, root / "split.csv")
    script = root / "train_tiny.py"
    script.write_text(RESUME_SCRIPT, encoding="utf-8")
    env = {
        **os.environ,
        "AVATAR_TYPE_LOCAL_CACHE": str(root / "local-cache"),
        "PYTHONPATH": str(REPO / "src"),
        "DVC_NO_ANALYTICS": "1",
        "DO_NOT_TRACK": "1",
    }
    env.pop("WORLD_SIZE", None)

    def start(name: str, delay: float) -> subprocess.Popen:
        log = (root / f"{name}.log").open("w")
        return subprocess.Popen(
            [sys.executable, str(script), str(root), name, str(delay)],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    clean = start("clean", 0)
    victim = start("interrupted", 0.3)
    last = root / "checkpoints" / "interrupted" / LAST
    killed_epoch = None
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if victim.poll() is not None:
                break
            epoch = _checkpoint_epoch(last) if last.is_file() else None
            if epoch is not None and epoch >= 1:
                victim.send_signal(signal.SIGKILL)
                killed_epoch = epoch
                break
            time.sleep(0.05)
    finally:
        if victim.poll() is None and killed_epoch is None:
            victim.kill()
        victim.wait(timeout=30)
    first_log = (root / "interrupted.log").read_text()
    assert killed_epoch is not None, f"the run ended before it could be killed:\n{first_log}"
    assert killed_epoch < EPOCHS
    assert not (root / "runs" / "interrupted" / "model" / "model.safetensors").exists()
    again = subprocess.run(
        [sys.executable, str(script), str(root), "interrupted", "0"],
        cwd=root, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert clean.wait(timeout=180) == 0, (root / "clean.log").read_text()[-3000:]
    return {"root": root, "killed_epoch": killed_epoch, "log": again.stderr}


def test_a_killed_run_resumes_after_its_last_checkpoint(resumed):
    assert f"after epoch {resumed['killed_epoch']}" in resumed["log"]
    assert "resuming from" in resumed["log"]
    metrics = read_json(resumed["root"] / "runs" / "interrupted" / "metrics.json")
    assert metrics["epochs"] == EPOCHS
    assert not (resumed["root"] / "checkpoints" / "interrupted").exists()


def test_a_resumed_run_ends_like_an_uninterrupted_one(resumed):
    runs = resumed["root"] / "runs"
    a = saved_weights(runs / "interrupted" / "model")
    b = saved_weights(runs / "clean" / "model")
    assert same(a, b, b) == list(b)
    ma, mb = (read_json(runs / r / "metrics.json") for r in ("interrupted", "clean"))
    for key in ("best_val_macro_f1", "best_epoch", "epochs", "train_images"):
        assert ma[key] == mb[key], key
    for name in ("val_loss", "train_loss", "lr"):  # every epoch logged once, same values
        assert series(runs / "interrupted" / "live", name)[name].tolist() == pytest.approx(
            series(runs / "clean" / "live", name)[name].tolist(), rel=1e-12
        )


def test_a_resumed_run_logs_one_step_per_epoch(resumed):
    if resumed["killed_epoch"] != 1:
        pytest.skip("the kill landed after epoch 2; the step-0 case did not arise")
    steps = series(resumed["root"] / "runs" / "interrupted" / "live", "val_loss")["step"]
    assert steps.tolist() == list(range(EPOCHS))


# ------------------------------------------------------------------ imbalance


def test_class_weights_are_total_over_k_times_count():
    labels = np.repeat([0, 1, 2], [50, 20, 20])
    expected = [90 / (3 * 50), 90 / (3 * 20), 90 / (3 * 20)]  # 0.6, 1.5, 1.5
    assert imbalance.class_weights(labels, 3).tolist() == pytest.approx(expected)
    # a class without images gets weight 0, not a division by zero
    assert imbalance.class_weights(np.array([0, 0, 2]), 3).tolist() == pytest.approx([0.5, 0, 1])


def test_weighted_sampler_draws_classes_about_equally_and_reproducibly():
    labels = np.repeat([0, 1, 2], [50, 20, 20])
    draws = [
        np.array(list(imbalance.sampler(labels, 3, torch.Generator().manual_seed(7))))
        for _ in range(2)
    ]
    assert np.array_equal(draws[0], draws[1])
    assert len(draws[0]) == len(labels)
    many = np.concatenate(
        [list(imbalance.sampler(labels, 3, torch.Generator().manual_seed(s))) for s in range(20)]
    )
    share = np.bincount(labels[many], minlength=3) / len(many)
    assert share == pytest.approx([1 / 3] * 3, abs=0.04)


def test_double_correction_needs_explicit_consent():
    with pytest.raises(ParamsError, match=r"models\.x\.imbalance.*allow_double_correction"):
        from_mapping(
            {"arch": "simple_cnn", "imbalance": "loss_and_sampler"}, TrainConfig, "models.x"
        )
    ok = from_mapping(
        {"arch": "simple_cnn", "imbalance": "loss_and_sampler", "allow_double_correction": True},
        TrainConfig,
        "models.x",
    )
    assert ok.imbalance == "loss_and_sampler"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"arch": "simple_cnn", "epoch": 3}, "epoch"),
        ({"arch": "simple_cnn", "mode": "fine_tune"}, "models.x.mode"),
        ({"arch": "simple_cnn", "scheduler": "step"}, "models.x.scheduler"),
        ({"arch": "simple_cnn", "imbalance": "smote"}, "models.x.imbalance"),
        ({"mode": "full"}, "arch"),
        ({"arch": "simple_cnn", "augment": {"hue": 0.1}}, "hue"),
        ({"arch": "simple_cnn", "epochs": 0}, "models.x.epochs"),
        ({"arch": "simple_cnn", "mode": "progressive", "epochs": 2, "head_epochs": 2},
         "head_epochs"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_key(raw, named):
    with pytest.raises(ParamsError) as info:
        from_mapping(raw, TrainConfig, "models.x")
    assert named in str(info.value)


def test_params_yaml_models_are_valid():
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for key, raw in params["models"].items():
        from_mapping(raw, TrainConfig, f"models.{key}")
    assert set(params["train"]["models"]) <= set(params["models"])


def test_a_string_learning_rate_is_a_params_error():
    raw = yaml.safe_load("arch: simple_cnn\nlr: 1e-3\n")
    with pytest.raises(ParamsError, match=r"models\.x\.lr"):
        from_mapping(raw, TrainConfig, "models.x")


def test_training_refuses_a_split_without_some_class(tiny_data):
    split = tiny_data.split_frame()
    split.loc[(split["label"] == "generated") & (split["split"] == "train"), "split"] = ""
    path = tiny_data.root / "no-generated.csv"
    split.to_csv(path, index=False)
    with pytest.raises(ValueError, match="no training image of generated"):
        loop.train_run(config(), "m", "tiny", tiny_data.pack, path, tiny_data.runtime("x"))


# ------------------------------------------------------------------ augmentation

LIGHT = AugmentStrength(jitter=0.1, rotate=0.0, translate=0.05, flip=True)
STRONG = AugmentStrength(jitter=0.3, rotate=30.0, translate=0.15, flip=True)
NONE = AugmentStrength(jitter=0.0, rotate=0.0, translate=0.0, flip=False)


def _batch(n: int = 32) -> torch.Tensor:
    rng = np.random.default_rng(3)
    images = np.stack([synthetic_image(CLASSES[i % K], rng) for i in range(n)])
    return torch.from_numpy(images).permute(0, 3, 1, 2).float()


def test_augment_is_deterministic_given_the_generator():
    x = _batch()
    runs = [augment(x, [STRONG] * len(x), torch.Generator().manual_seed(s)) for s in (5, 5, 6)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])
    assert runs[0].shape == x.shape
    assert runs[0].min() >= 0 and runs[0].max() <= 255


def test_strong_augmentation_changes_images_more_than_light():
    x = _batch()

    def change(strength):
        out = augment(x, [strength] * len(x), torch.Generator().manual_seed(11))
        return float((out - x).abs().mean())

    assert change(NONE) < 1e-3
    assert change(LIGHT) < change(STRONG)


def test_augment_strength_is_per_sample():
    x = _batch(8)
    strengths = [NONE, STRONG] * 4
    out = augment(x, strengths, torch.Generator().manual_seed(2))
    plain = [i for i, s in enumerate(strengths) if s is NONE]
    strong = [i for i, s in enumerate(strengths) if s is STRONG]
    assert torch.allclose(out[plain], x[plain], atol=1e-3)
    assert all((out[i] - x[i]).abs().mean() > 1 for i in strong)


def test_minority_classes_and_strengths():
    counts = [20, 50, 20]  # CLASSES order: real, drawing, generated
    assert minority_classes(counts, 0.5) == {0, 2}
    assert minority_classes([50, 25, 24], 0.5) == {2}  # strictly below ratio x largest
    assert minority_classes(counts, 0.3) == set()
    labels = torch.tensor([0, 1, 2, 1])
    assert strengths_for(labels, {0, 2}, LIGHT, STRONG) == [STRONG, LIGHT, STRONG, LIGHT]


# ------------------------------------------------------------------ packed data


def test_packed_at_another_size_is_made_once_in_the_local_cache(tiny_data, monkeypatch):
    images, index = packed_at(tiny_data.pack, 48)
    assert images.shape == (len(tiny_data.index), 48, 48, 3) and images.dtype == np.uint8
    cached = list((tiny_data.root / "local-cache" / "packed").glob("*.npy"))
    assert len(cached) == 1
    import avatar_type.train.data as data_module

    monkeypatch.setattr(data_module, "resize_batch", lambda *a: pytest.fail("resized again"))
    again, _ = packed_at(tiny_data.pack, 48)
    assert np.array_equal(np.asarray(again), np.asarray(images))
    same_size, _ = packed_at(tiny_data.pack, 32)  # the stored size needs no copy
    assert same_size.shape[1] == 32
    assert index["id"].tolist() == tiny_data.index["id"].tolist()
