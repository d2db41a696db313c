"""The ``avatar-type`` command. ``predict`` classifies image files with a trained model;
``export`` writes one as ONNX."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from avatar_type.device import resolve_device
from avatar_type.errors import AvatarTypeError
from avatar_type.evaluate import ood
from avatar_type.evaluate.calibration import softmax
from avatar_type.infer.inputs import scan
from avatar_type.infer.prepare import Prepared, Preparer, Preprocessing, UsageError, chunks
from avatar_type.infer.writers import CsvWriter, JsonWriter, TableWriter, Writer
from avatar_type.runs import run_id
from avatar_type.train.data import Normalise, resize_batch
from avatar_type.train.output import CARD, load_trained, read_card

SUMMARY = Path("metrics/summary.json")
MODELS = Path("models")
PARAMS = Path("params.yaml")

PREDICT_DESCRIPTION = """Classify image files with a trained model.

Every image is prepared exactly as the model's training data was: decoded,
EXIF-oriented, transparency composited, centre-cropped to a square, resized,
re-encoded and (where training did) denoised with the settings recorded in the
model's card.json, then resized to the model's input size. Where today's
params.yaml says otherwise, the card wins and a note says so.

Files a folder scan skips (extensions PIL cannot open) are counted per extension
on stderr, or named one by one with --verbose. Every image also gets an
ood_score (free energy, -logsumexp of the logits: higher is less familiar) and,
where the card records a threshold fitted on validation images, an unfamiliar
flag (ood_score above it, or nothing visible: a fully transparent image);
--abstain labels flagged images "unknown"."""

EXIT_STATUS = """exit status:
  0  every input was predicted
  1  some input could not be read (each is named on stderr; the others are still predicted)
  2  usage error: bad arguments, no model, no such device"""

EXPORT_DESCRIPTION = """Write a trained model as an ONNX graph (dynamic batch axis) and a JSON
sidecar (OUT with .json). The graph takes uint8 RGB images, NHWC, at the model's
input size and normalises them inside; the sidecar records how to prepare those
images from files (the card's preprocessing), the class order and the OOD
threshold."""

EXPORT_STATUS = """exit status:
  0  written
  2  usage error: bad arguments, no model"""

UNKNOWN = "unknown"  # the label of an image --abstain abstains on
POOL_WORTH = 0.25  # --workers auto: preparing / model time of a batch above which workers pay


# ------------------------------------------------------------------ model


def resolve_model(spec: str | None) -> Path:
    """The model directory: ``spec`` (a directory with card.json, or NAME/SCENARIO/sSEED under
    ./models), or by default the best run named in metrics/summary.json."""
    if spec is None:
        if not SUMMARY.is_file():
            raise UsageError(
                f"{SUMMARY} not found, so no best model is known: run `dvc repro` (its report "
                "stage writes it) or pass --model NAME/SCENARIO/sSEED or --model DIR"
            )
        best = json.loads(SUMMARY.read_text(encoding="utf-8")).get("best") or {}
        if not {"model", "scenario", "seed"} <= set(best):
            raise UsageError(f"{SUMMARY}: no best model, scenario and seed in it; pass --model")
        directory = MODELS / run_id(best["model"], best["scenario"], best["seed"])
    else:
        directory = Path(spec) if (Path(spec) / CARD).is_file() else MODELS / spec
    if not (directory / CARD).is_file():
        raise UsageError(
            f"{directory}: no trained model ({CARD} missing); name one as NAME/SCENARIO/sSEED "
            f"of a model under ./{MODELS} or as a directory with {CARD}"
        )
    return directory


# ------------------------------------------------------------------ predict


def _unique_png(folder: Path, stem: str, taken: set[str]) -> Path:
    """``stem.png``, or ``stem-2.png``, ... when two inputs share a stem."""
    name, k = f"{stem}.png", 1
    while name in taken:
        k += 1
        name = f"{stem}-{k}.png"
    taken.add(name)
    return folder / name


def _write_overlays(
    model: torch.nn.Module,
    card: dict,
    images: np.ndarray,
    predicted: np.ndarray,
    paths: list[Path],
    folder: Path,
    taken: set[str],
    device: torch.device,
) -> None:
    # pytorch-grad-cam takes seconds to import, and only --gradcam needs it
    from avatar_type.explain.gradcam import gradcam_maps, overlay

    cams = gradcam_maps(model, card, images, predicted, device, batch_size=len(images))
    for image, cam, path in zip(images, cams, paths, strict=True):
        Image.fromarray(overlay(image, cam)).save(_unique_png(folder, path.stem, taken))


def _fail(where: str, problem: str) -> None:
    tqdm.write(f"avatar-type: {where}: {problem}", file=sys.stderr)  # keeps a live bar intact


class Tally:
    """Messages on stderr; problems (unreadable inputs) set the exit status, notes do not."""

    def __init__(self) -> None:
        self.problems = 0

    def problem(self, where: str, what: str) -> None:
        self.problems += 1
        _fail(where, what)

    def note(self, where: str, what: str) -> None:
        _fail(where, what)


def _quiet(where: str, what: str) -> None:
    """Says nothing: for a scan that only measures."""


def _writer(args: argparse.Namespace, columns: list[str], classes: list[str]) -> Writer:
    if args.format != "table":
        return {"json": JsonWriter, "csv": CsvWriter}[args.format](columns)
    # the path column's width, from a scan that lists nothing, so rows print as they come
    width = max((len(str(p)) for p in scan(args.paths, _quiet, _quiet)), default=0)
    return TableWriter(columns, width, [*classes, UNKNOWN])


def _rows(
    good: list[Prepared], logits: np.ndarray, card: dict, abstain: bool
) -> tuple[list[dict], np.ndarray]:
    """One output row per image, and the predicted class indices."""
    classes, probs = card["classes"], softmax(logits)
    predicted = probs.argmax(axis=1)
    scores = ood.ood_score(logits)
    threshold = (card.get("ood") or {}).get("threshold")
    energy = [None] * len(good) if threshold is None else ood.unfamiliar(logits, threshold)
    rows = []
    for item, p, k, score, flag in zip(good, probs, predicted, scores, energy, strict=True):
        # an image with nothing visible is unfamiliar whatever the model makes of its background
        flag = True if item.blank else flag
        label = UNKNOWN if abstain and flag else classes[k]
        rows.append(
            {"path": str(item.path), "label": label}
            | {f"p_{c}": float(v) for c, v in zip(classes, p, strict=True)}
            | {"ood_score": float(score), "unfamiliar": None if flag is None else bool(flag)}
        )
    return rows, predicted


def _logits(
    model: torch.nn.Module, normalise: Normalise, stored: np.ndarray, size: int, device
) -> np.ndarray:
    batch = resize_batch(torch.from_numpy(stored), size).to(device)
    with torch.inference_mode():
        return model(normalise(batch)).float().cpu().numpy()


def _spare_cores() -> int:
    """Cores the model's threads leave free: worker processes on the model's cores only slow it
    (on 2 cores both DINOv2 at 224 px and MobileNetV2 at 96 px predicted faster with none)."""
    return max(default_workers() - torch.get_num_threads(), 0)


def _pool_pays(prepare_seconds: float, model_seconds: float) -> bool:
    """Workers pay where there are spare cores and preparing a batch costs more than POOL_WORTH
    of the model's time on it."""
    return _spare_cores() > 0 and prepare_seconds > POOL_WORTH * model_seconds


def _predict_all(
    args: argparse.Namespace,
    model: torch.nn.Module,
    card: dict,
    preparer: Preparer,
    device: torch.device,
) -> int:
    """Predict and print batch by batch; returns the exit status. With ``--workers`` auto, the
    first batch is prepared in this process and timed against the model, which decides whether
    the rest is prepared by worker processes."""
    pre = card["preprocessing"]
    normalise = Normalise(tuple(pre["mean"]), tuple(pre["std"])).to(device)
    if args.gradcam:
        args.gradcam.mkdir(parents=True, exist_ok=True)
    columns = ["path", "label", *(f"p_{c}" for c in card["classes"]), "ood_score", "unfamiliar"]
    writer = _writer(args, columns, card["classes"])
    tally, taken = Tally(), set()

    def predict_batch(batch: list[Prepared]) -> float:
        """Write the rows of one batch; returns the seconds the model took on it."""
        bar.update(len(batch))
        for item in batch:
            if item.reason is not None:
                tally.problem(str(item.path), item.reason)
        good = [item for item in batch if item.reason is None]
        if not good:
            return 0.0
        stored = np.stack([item.image for item in good])
        started = time.perf_counter()
        logits = _logits(model, normalise, stored, pre["img_size"], device)
        seconds = time.perf_counter() - started
        rows, predicted = _rows(good, logits, card, args.abstain)
        writer.write(rows)
        if args.gradcam:
            good_paths = [item.path for item in good]
            _write_overlays(model, card, stored, predicted, good_paths, args.gradcam, taken, device)
        return seconds

    paths = scan(args.paths, tally.problem, tally.note, args.verbose)
    with tqdm(desc="predict", unit="img", disable=None) as bar:
        started = time.perf_counter()
        first = list(preparer(islice(paths, args.batch_size)))
        prepare_seconds = time.perf_counter() - started
        model_seconds = predict_batch(first)
        if args.workers is None and _pool_pays(prepare_seconds, model_seconds):
            preparer.start(_spare_cores())
        for batch in chunks(preparer(paths), args.batch_size):
            predict_batch(batch)
    writer.close()
    return 1 if tally.problems else 0


def predict(args: argparse.Namespace) -> int:
    device = resolve_device(args.device, "--device")
    model_dir = resolve_model(args.model)
    card = read_card(model_dir)
    if args.abstain and "ood" not in card:
        raise UsageError(
            f"--abstain: {model_dir / CARD} records no OOD threshold (a model trained by an "
            "older version); retrain it with `dvc repro`, or predict without --abstain"
        )
    prepare = Preprocessing.from_card(card, model_dir)
    # an explicit --workers N starts its pool now; auto decides after the first batch
    with Preparer(prepare, args.workers or 1) as preparer:
        model, card = load_trained(model_dir)
        model.to(device)
        print(
            f"model: {model_dir} ({card['arch']}, {card['preprocessing']['img_size']} px)",
            file=sys.stderr,
        )
        differences = prepare.differences(PARAMS)
        if differences:
            print(
                f"note: {PARAMS} differs from how this model's training images were made; "
                f"using the model's: {', '.join(differences)}",
                file=sys.stderr,
            )
        return _predict_all(args, model, card, preparer, device)


def export(args: argparse.Namespace) -> int:
    from avatar_type.infer.export import export_model, sidecar_path

    model_dir = resolve_model(args.model)
    if sidecar_path(args.out) == args.out:
        raise UsageError(f"{args.out}: the sidecar would overwrite the graph; name it *.onnx")
    sidecar = export_model(model_dir, args.out)
    print(f"wrote {args.out} and {sidecar}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ command line


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def default_workers() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avatar-type",
        description="Classify avatar images as a real photo, a drawing or generated (AI-made).",
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "predict",
        help="classify image files with a trained model",
        description=PREDICT_DESCRIPTION,
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="image file, folder (searched recursively for images) or glob pattern",
    )
    p.add_argument(
        "--model",
        help="NAME/SCENARIO/sSEED of a model under ./models, or a directory with card.json "
        "(default: the best model of metrics/summary.json)",
    )
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="default: table"
    )
    p.add_argument(
        "--gradcam",
        type=Path,
        metavar="DIR",
        help="also write a Grad-CAM overlay of the predicted class per image, DIR/<stem>.png",
    )
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N", help="default: 32")
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="auto",
        help="default: auto (cuda when available)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="processes preparing images; 1 prepares them in this one (default: auto, one per "
        "core the model's threads leave free, where preparing a batch costs more than "
        f"{POOL_WORTH:.0%} of the model's time on it, else none)",
    )
    p.add_argument(
        "--abstain",
        action="store_true",
        help=f"label images flagged unfamiliar {UNKNOWN!r} (needs a card with an OOD threshold)",
    )
    p.add_argument("--verbose", action="store_true", help="name every file a folder scan skips")
    p.set_defaults(run=predict)

    e = commands.add_parser(
        "export",
        help="write a trained model as ONNX",
        description=EXPORT_DESCRIPTION,
        epilog=EXPORT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument(
        "model",
        metavar="MODEL",
        help="NAME/SCENARIO/sSEED of a model under ./models, or a directory with card.json",
    )
    e.add_argument("out", type=Path, metavar="OUT", help="the ONNX file to write, e.g. model.onnx")
    e.add_argument("--format", choices=("onnx",), default="onnx", help="default: onnx")
    e.set_defaults(run=export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``avatar-type`` script: returns the exit status (argparse exits 2 on bad arguments)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except AvatarTypeError as exc:
        print(f"avatar-type {args.command}: error: {exc}", file=sys.stderr)
        return 2
