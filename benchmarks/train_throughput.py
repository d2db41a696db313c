"""Training throughput: the real input path against the same model on in-memory tensors.

For each model this times training steps two ways, warm-up steps excluded:

- real: what ``avatar_type.train.loop`` does per step: rows of the memory-mapped pack at the
  model's size (``packed_at``, resized once into the local cache), the loop's ``Batches``
  iterator over a shuffled epoch order, per-sample light/strong augmentation on the device,
  normalisation, forward (bf16 autocast on CUDA), class-weighted loss, backward, AdamW step,
  and the per-step bookkeeping the loop does (loss value, argmax to the host);
- synthetic: the same model, transform (augmentation, normalisation), optimiser and loss on
  random uint8 batches that never leave the device: the ceiling the input path can reach.

The ratio real / synthetic says how much the input path (reading batches from the memory-mapped
pack and moving them to the device) costs the loop (target >= 0.9).
It uses this repository's data/denoised pack and the train rows of data/splits/<scenario>.csv
when they exist, otherwise a synthetic pack made in a temporary folder.

    python benchmarks/train_throughput.py --models simple_cnn detector_cnn mobilenetv2_100 \\
        --img-size 64 --batch-size 64 --steps 20
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from avatar_type.data import packed
from avatar_type.device import resolve_device
from avatar_type.labels import CLASS_TO_INDEX, CLASSES
from avatar_type.models.registry import build_model, data_config
from avatar_type.train.config import TrainConfig
from avatar_type.train.data import Normalise, packed_at, split_rows
from avatar_type.train.loop import (
    Batches,
    _make_loss,
    _param_groups,
    image_transform,
)

REPO = Path(__file__).resolve().parents[1]
K = len(CLASSES)
TARGET = 0.9


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["simple_cnn", "detector_cnn"])
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    parser.add_argument("--repeats", type=int, default=2, help="measurements per path (best)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1")
    parser.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    parser.add_argument("--pack", type=Path, default=REPO / "data" / "denoised")
    parser.add_argument("--splits", type=Path, default=REPO / "data" / "splits")
    parser.add_argument("--scenario", default="natural", help="whose train rows to read")
    parser.add_argument("--synthetic-images", type=int, default=768)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args()


# ------------------------------------------------------------------ data


def synthetic_pack(folder: Path, count: int, size: int = 224, seed: int = 0) -> Path:
    """A pack like the denoise stage's (224 px), labels 50/25/25 drawing/real/generated."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["drawing", "real", "generated"], size=count, p=[0.5, 0.25, 0.25])
    images = packed.create(folder, count, size)
    for start in range(0, count, 64):
        n = min(64, count - start)
        images[start : start + n] = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    images.flush()
    del images
    index = pd.DataFrame({"id": [f"synthetic-{i:05d}" for i in range(count)], "label": labels})
    index.to_csv(folder / packed.INDEX, index=False)
    return folder


def training_rows(pack_dir: Path, split_csv: Path | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Rows and labels the loop would train on: the split's train rows, else every class image."""
    _, index = packed.load(pack_dir)
    if split_csv is not None and split_csv.is_file():
        rows, y = split_rows(index, pd.read_csv(split_csv, keep_default_na=False), "train")
        return rows, y, f"train rows of {split_csv}"
    keep = index["label"].isin(CLASSES).to_numpy()
    rows = np.nonzero(keep)[0]
    y = np.array([CLASS_TO_INDEX[label] for label in index["label"][keep]], dtype=np.int64)
    return rows, y, "every image of a class"


# ------------------------------------------------------------------ the two paths


def smallest_working_size(arch: str, size: int) -> int:
    """The requested size, or the next multiple of 32 the architecture accepts (simple_cnn's
    unpadded convolutions need >= 94 px)."""
    for candidate in [size, *range((size // 32 + 1) * 32, 257, 32)]:
        model = build_model(arch, "none", img_size=candidate).eval()
        try:
            with torch.no_grad():
                model(torch.zeros(2, 3, candidate, candidate))
            return candidate
        except RuntimeError:
            continue
    raise SystemExit(f"{arch}: no input size up to 256 px works")


class Trainer:
    """One model, optimiser and loss set up as train_run does for ``cfg``."""

    def __init__(self, cfg: TrainConfig, y: np.ndarray, device: torch.device, amp: bool) -> None:
        torch.manual_seed(0)
        self.model = build_model(cfg.arch, "none", img_size=cfg.img_size).to(device)
        self.channels_last = device.type == "cuda"
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.AdamW(
            _param_groups(self.model, cfg), weight_decay=cfg.weight_decay
        )
        self.loss_fn = _make_loss(cfg, y, device)
        self.device, self.amp = device, amp
        self.model.train()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            logits = self.model(x)
        loss = self.loss_fn(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return len(y), loss, logits


def real_steps(
    cfg: TrainConfig,
    images: np.ndarray,
    rows: np.ndarray,
    y: np.ndarray,
    trainer: Trainer,
    input_seconds: list[float],
) -> Callable[[], int]:
    """One call = one training step of the loop's image path; returns the batch size.

    Adds the time spent before the forward pass (fetch, augment, normalise) to
    ``input_seconds[0]`` (exact on CPU; on CUDA only the host-side launch time)."""
    device = trainer.device
    normalise = Normalise(*[data_config(trainer.model)[k] for k in ("mean", "std")]).to(device)
    transform = image_transform(
        cfg, normalise, np.bincount(y, minlength=K).tolist(), trainer.channels_last
    )
    gen = torch.Generator().manual_seed(0)
    batches = Batches(images, rows, y, cfg.batch_size, device)

    def stream() -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        while True:  # epoch after epoch, as many steps as asked
            yield from batches.epoch(torch.randperm(len(y), generator=gen).numpy())

    it = stream()

    def step() -> int:
        start = time.perf_counter()
        x, labels, _ = next(it)
        x = transform(x, labels, gen, True)
        input_seconds[0] += time.perf_counter() - start
        n, loss, logits = trainer.step(x, labels)
        float(loss.detach())  # the loop's per-step bookkeeping (a device sync on CUDA)
        logits.argmax(1).detach().cpu().numpy()
        labels.cpu().numpy()
        return n

    return step


def synthetic_steps(cfg: TrainConfig, y: np.ndarray, trainer: Trainer) -> Callable[[], int]:
    """One call = one step on random uint8 batches already in device memory (a few, reused),
    through the same transform (augmentation, normalisation) and step as the real path: the
    ratio of the two isolates what reading batches from the memory-mapped pack costs."""
    g = torch.Generator().manual_seed(1)
    shape = (cfg.batch_size, cfg.img_size, cfg.img_size, 3)
    normalise = Normalise(*[data_config(trainer.model)[k] for k in ("mean", "std")])
    transform = image_transform(
        cfg,
        normalise.to(trainer.device),
        np.bincount(y, minlength=K).tolist(),
        trainer.channels_last,
    )
    pool = [
        (
            torch.randint(0, 256, shape, generator=g, dtype=torch.uint8).to(trainer.device),
            torch.from_numpy(y[: cfg.batch_size]).to(trainer.device),
        )
        for _ in range(4)
    ]
    count = [0]

    def step() -> int:
        x, labels = pool[count[0] % len(pool)]
        count[0] += 1
        n, loss, _ = trainer.step(transform(x, labels, g, True), labels)
        float(loss.detach())
        return n

    return step


def images_per_second(step: Callable[[], int], steps: int, warmup: int, device) -> float:
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    seen = sum(step() for _ in range(steps))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return seen / (time.perf_counter() - start)


# ------------------------------------------------------------------ main


def main() -> None:
    args = parse_args()
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    device = resolve_device(args.device, "--device")
    amp = device.type == "cuda" and not args.no_amp
    tmp = tempfile.TemporaryDirectory(prefix="train-throughput-")
    real_pack = (args.pack / packed.IMAGES).is_file() and (args.pack / packed.INDEX).is_file()
    if real_pack:
        pack_dir = args.pack
        os.environ.setdefault("AVATAR_TYPE_LOCAL_CACHE", str(REPO / "data" / ".cache"))
    else:
        pack_dir = synthetic_pack(Path(tmp.name) / "pack", args.synthetic_images)
        os.environ["AVATAR_TYPE_LOCAL_CACHE"] = str(Path(tmp.name) / "cache")
    split_csv = args.splits / f"{args.scenario}.csv" if real_pack else None
    rows, y, which = training_rows(pack_dir, split_csv)
    stored = np.load(pack_dir / packed.IMAGES, mmap_mode="r").shape

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    threads = torch.get_num_threads()
    print(f"device: {device} ({name}), torch {torch.__version__}, {threads} threads, amp: {amp}")
    source = "real" if real_pack else "synthetic (no data/denoised)"
    counts = dict(zip(CLASSES, np.bincount(y, minlength=K).tolist(), strict=True))
    print(f"data: {pack_dir} [{source}], {stored[0]} images of {stored[1]} px")
    print(f"trained on: {which}: {len(rows)} images {counts}")
    print(
        f"batch {args.batch_size}, {args.warmup} warm-up + {args.steps} timed steps per "
        f"measurement, best of {args.repeats}\n"
    )

    plans = []
    for arch in args.models:  # sizes and packs first: no resizing inside the table
        size = smallest_working_size(arch, args.img_size)
        plans.append((arch, size, packed_at(pack_dir, size)[0]))

    header = (
        f"{'model':<20} {'px':>4} {'real img/s':>11} {'synthetic img/s':>16} {'ratio':>6} "
        f"{'input ms/step':>14}"
    )
    print(header + "  target")
    print("-" * (len(header) + 8))
    for arch, size, images in plans:
        cfg = TrainConfig(arch=arch, img_size=size, batch_size=args.batch_size)
        try:
            input_seconds = [0.0]
            real = real_steps(cfg, images, rows, y, Trainer(cfg, y, device, amp), input_seconds)
            synth = synthetic_steps(cfg, y, Trainer(cfg, y, device, amp))
            best_real = best_synth = 0.0
            for _ in range(args.repeats):  # interleaved, so drift hits both paths alike
                best_real = max(best_real, images_per_second(real, args.steps, args.warmup, device))
                best_synth = max(
                    best_synth, images_per_second(synth, args.steps, args.warmup, device)
                )
        except RuntimeError as exc:
            print(f"{arch:<20} {size:>4}  failed: {str(exc).splitlines()[0]}")
            continue
        ratio = best_real / best_synth
        verdict = "ok" if ratio >= TARGET else f"below {TARGET}"
        note = f"  ({args.img_size} px too small)" if size != args.img_size else ""
        input_ms = 1000 * input_seconds[0] / (args.repeats * (args.steps + args.warmup))
        row = f"{arch:<20} {size:>4} {best_real:>11.1f} {best_synth:>16.1f} {ratio:>6.2f}"
        row += f" {input_ms:>14.1f}"
        print(f"{row}  {verdict}{note}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
