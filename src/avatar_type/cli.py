"""The ``avatar-type`` command. ``predict`` classifies image files with a trained model."""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from avatar_type.data.aggregate import AggregateConfig, Task, process
from avatar_type.data.decode import Rejected
from avatar_type.data.denoise import coherent_noise_filter
from avatar_type.errors import AvatarTypeError
from avatar_type.evaluate.calibration import softmax
from avatar_type.params import load_yaml
from avatar_type.runs import run_id
from avatar_type.train.data import Normalise, resize_batch
from avatar_type.train.output import CARD, load_trained

SUMMARY = Path("metrics/summary.json")
MODELS = Path("models")
PARAMS = Path("params.yaml")

PREDICT_DESCRIPTION = """Classify image files with a trained model.

Every image is prepared exactly as the model's training data was: decoded,
EXIF-oriented, transparency composited, centre-cropped to a square, resized,
re-encoded and (where training did) denoised with the settings recorded in the
model's card.json, then resized to the model's input size. Where today's
params.yaml says otherwise, the card wins and a note says so."""

EXIT_STATUS = """exit status:
  0  every input was predicted
  1  some input could not be read (each is named on stderr; the others are still predicted)
  2  usage error: bad arguments, no model, no such device"""


class UsageError(AvatarTypeError):
    """The command cannot run as asked (no model, no device); exit status 2."""


# ------------------------------------------------------------------ inputs


def _image_suffixes() -> set[str]:
    """Every file extension of a format PIL can open: the decoder is PIL."""
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def expand_paths(patterns: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files named, images under folders (recursively, by extension) and glob matches (expanded
    here as well, for shells that did not); and (pattern, problem) for patterns that gave none.

    A named file is kept whatever its extension: the decoder says whether it is an image.
    """
    suffixes = _image_suffixes()
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    for pattern in patterns:
        # an existing path is taken literally, so a file named "a[1].jpg" is not a pattern
        literal = Path(pattern).exists()
        matches = [pattern] if literal else sorted(glob.glob(pattern, recursive=True))
        if not matches:
            is_glob = glob.escape(pattern) != pattern
            problems.append((pattern, "no file matches" if is_glob else "no such file"))
        for match in map(Path, matches):
            if not match.is_dir():
                files.append(match)
                continue
            found = sorted(p for p in match.rglob("*") if p.suffix.lower() in suffixes)
            files.extend(p for p in found if p.is_file())
            if not found:
                problems.append((str(match), "folder has no image files"))
    return list(dict.fromkeys(files)), problems


@dataclass(frozen=True)
class Preprocessing:
    """What the aggregate and denoise stages do to an image before training sees it."""

    aggregate: AggregateConfig
    denoise: bool = False
    tolerance: int = 30

    @classmethod
    def from_card(cls, card: dict, model_dir: Path) -> Preprocessing:
        """The settings the model's training images were made with (its card's pipeline)."""
        pipeline = card["preprocessing"].get("pipeline")
        if pipeline is None:
            raise UsageError(
                f"{model_dir / CARD}: no preprocessing pipeline recorded (a model trained by an "
                "older version); retrain it with `dvc repro`"
            )
        known = {f.name for f in fields(AggregateConfig)}
        section = {k: v for k, v in pipeline["aggregate"].items() if k in known}
        denoise = pipeline.get("denoise", {})
        return cls(
            AggregateConfig(**section),
            bool(denoise.get("enabled", cls.denoise)),
            int(denoise.get("tolerance", cls.tolerance)),
        )

    def differences(self, params_path: Path) -> list[str]:
        """Settings where ``params_path`` (today's params.yaml) disagrees with this."""
        if not params_path.is_file():
            return []
        params = load_yaml(params_path)
        ours = {f"aggregate.{k}": v for k, v in asdict(self.aggregate).items() if k != "workers"}
        ours.update({"denoise.enabled": self.denoise, "denoise.tolerance": self.tolerance})
        theirs = {
            f"{section}.{k}": v
            for section in ("aggregate", "denoise")
            for k, v in (params.get(section) or {}).items()
        }
        return [
            f"{key}={theirs[key]!r} (the model's: {value!r})"
            for key, value in ours.items()
            if key in theirs and theirs[key] != value
        ]

    def __call__(self, path: Path) -> np.ndarray:
        """``path`` as the pipeline stores it: uint8 (size, size, 3); raises Rejected.

        The aggregate stage's own per-file step (decode, EXIF orientation, transparency onto a
        background, centre square, resize, JPEG) with no face detection, which is for group
        photos; then the denoise stage's decoding of that JPEG and its optional filter.
        """
        # source/path only seed the background that transparency is composited onto
        task = Task(
            source="predict",
            path=str(path),
            file=str(path),
            label="",
            group="",
            licence="",
            generator="",
            face_crop=False,
        )
        rows, reason = process(task, self.aggregate)
        if reason is not None:
            raise Rejected(reason)
        with Image.open(io.BytesIO(rows[0]["jpeg"])) as image:
            rgb = np.asarray(image.convert("RGB"))
        return coherent_noise_filter(rgb, self.tolerance)[0] if self.denoise else rgb


# ------------------------------------------------------------------ model and device


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
            f"{directory}: no trained model ({CARD} missing); pass --model NAME/SCENARIO/sSEED "
            f"of a model under ./{MODELS} or a directory with {CARD}"
        )
    return directory


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device(name)


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


def predict(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    model_dir = resolve_model(args.model)
    model, card = load_trained(model_dir)
    model.to(device)
    pre = card["preprocessing"]
    normalise = Normalise(tuple(pre["mean"]), tuple(pre["std"])).to(device)
    prepare = Preprocessing.from_card(card, model_dir)
    print(f"model: {model_dir} ({card['arch']}, {pre['img_size']} px)", file=sys.stderr)
    differences = prepare.differences(PARAMS)
    if differences:
        print(
            f"note: {PARAMS} differs from how this model's training images were made; "
            f"using the model's: {', '.join(differences)}",
            file=sys.stderr,
        )
    files, problems = expand_paths(args.paths)
    for where, problem in problems:
        _fail(where, problem)
    failed = len(problems)
    if args.gradcam:
        args.gradcam.mkdir(parents=True, exist_ok=True)
    columns = [f"p_{name}" for name in card["classes"]]
    rows: list[dict] = []
    taken: set[str] = set()
    with tqdm(total=len(files), desc="predict", unit="img", disable=None) as bar:
        for start in range(0, len(files), args.batch_size):
            chunk = files[start : start + args.batch_size]
            good, images = [], []
            for path in chunk:
                try:
                    images.append(prepare(path))
                    good.append(path)
                except Rejected as exc:
                    _fail(str(path), exc.reason)
                    failed += 1
            bar.update(len(chunk))
            if not good:
                continue
            stored = np.stack(images)
            batch = resize_batch(torch.from_numpy(stored), pre["img_size"]).to(device)
            with torch.inference_mode():
                probs = softmax(model(normalise(batch)).float().cpu().numpy())
            predicted = probs.argmax(axis=1)
            for path, p, k in zip(good, probs, predicted, strict=True):
                rows.append(
                    {"path": str(path), "label": card["classes"][k]}
                    | {c: float(v) for c, v in zip(columns, p, strict=True)}
                )
            if args.gradcam:
                _write_overlays(model, card, stored, predicted, good, args.gradcam, taken, device)
    FORMATS[args.format](rows, ["path", "label", *columns])
    return 1 if failed else 0


# ------------------------------------------------------------------ output


def _table(rows: list[dict], columns: list[str]) -> None:
    """Aligned text: paths and labels left, probabilities right with 4 decimals."""
    cells = [columns] + [
        [row[c] if isinstance(row[c], str) else f"{row[c]:.4f}" for c in columns] for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        left = [v.ljust(w) for v, w in zip(line[:2], widths[:2], strict=True)]
        right = [v.rjust(w) for v, w in zip(line[2:], widths[2:], strict=True)]
        print("  ".join(left + right).rstrip())


def _json(rows: list[dict], columns: list[str]) -> None:
    print(json.dumps(rows, indent=2))


def _csv(rows: list[dict], columns: list[str]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


FORMATS: dict[str, Callable[[list[dict], list[str]], None]] = {
    "table": _table,
    "json": _json,
    "csv": _csv,
}


# ------------------------------------------------------------------ command line


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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
    p.add_argument("--format", choices=list(FORMATS), default="table", help="default: table")
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
    p.set_defaults(run=predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``avatar-type`` script: returns the exit status (argparse exits 2 on bad arguments)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except AvatarTypeError as exc:
        print(f"avatar-type {args.command}: error: {exc}", file=sys.stderr)
        return 2
