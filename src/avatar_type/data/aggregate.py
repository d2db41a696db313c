"""Aggregate every fetched source into one normalised, deduplicated image set with an index.

Every input file ends in exactly one place: the index (one row per kept image; a group photo
may give several face crops) or the rejects table (with the reason, duplicates included).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from avatar_type.data.decode import Rejected, decode
from avatar_type.data.dedupe import find_duplicates, near_duplicate_groups, phash64
from avatar_type.data.faces import detect_faces
from avatar_type.data.normalise import composite, encode_jpeg, resize, square_crop
from avatar_type.data.preprocessing import write_preprocessing
from avatar_type.errors import InputError, MissingInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AggregateConfig:
    size: int = 224
    jpeg_quality: int = 90
    min_side: int = 24
    max_pixels: int = 40_000_000
    face_margin: float = 1.8
    face_min_fraction: float = 0.08  # smallest face, as a share of the image's shorter side
    face_min_neighbors: int = 8
    face_fallback_whole: bool = True  # no face found: keep the whole image rather than reject
    dedupe_distance: int = 4
    group_distance: int = 6
    workers: int = 2


@dataclass(frozen=True)
class Task:
    source: str
    path: str  # relative to the source's files/ folder, or to the root of a folder source
    file: str  # absolute path on disk
    label: str
    group: str
    licence: str
    generator: str
    face_crop: bool
    face_crop_keep_whole: bool = False


def image_id(source: str, path: str, face: int) -> str:
    digest = hashlib.sha1(f"{source}/{path}".encode()).hexdigest()[:12]
    return f"{source}-{digest}" + (f"-f{face}" if face >= 0 else "")


def _manifests(raw_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    paths = sorted(Path(raw_dir).glob("*/manifest.json"))
    if not paths:
        raise MissingInputError(f"{raw_dir}: no source manifests found; run the fetch stages first")
    return [(path, json.loads(path.read_text(encoding="utf-8"))) for path in paths]


def missing_sources(raw_dir: Path) -> dict[str, str]:
    """{source: reason} of the optional sources that could not be fetched (no files)."""
    return {m["source"]: m["reason"] for _, m in _manifests(raw_dir) if m.get("missing")}


def refused_from_raw(raw_dir: Path) -> list[dict[str, str]]:
    """Entries a folder source's fetch refused (e.g. symbolic links), with the reason."""
    return [
        {"source": m["source"], "path": r["path"], "label": r["label"], "reason": r["reason"]}
        for _, m in _manifests(raw_dir)
        for r in m.get("refused", [])
    ]


def tasks_from_raw(raw_dir: Path) -> list[Task]:
    """Every file listed by the manifests under ``raw_dir`` (one sub-folder per source).

    A folder source's files are read where they are: under its ``root`` (relative to the
    working directory, the repository root, unless absolute), except the ``derived`` ones
    fetch made (frames, rows, crops), which are under ``files/`` as for every other kind."""
    tasks = []
    for manifest_path, manifest in _manifests(raw_dir):
        if manifest.get("missing"):
            log.warning("%s: not fetched, skipped: %s", manifest["source"], manifest["reason"])
            continue
        files_dir = manifest_path.parent / "files"
        root = Path(manifest["root"]).expanduser().absolute() if "root" in manifest else files_dir
        for entry in manifest["files"]:
            tasks.append(
                Task(
                    source=manifest["source"],
                    path=entry["path"],
                    file=str((files_dir if entry.get("derived") else root) / entry["path"]),
                    label=entry["label"],
                    group=entry["group"],
                    licence=manifest["licence"],
                    generator=entry.get("generator", ""),
                    face_crop=bool(manifest["face_crop"]),
                    face_crop_keep_whole=bool(manifest.get("face_crop_keep_whole", False)),
                )
            )
    return tasks


def process(task: Task, cfg: AggregateConfig) -> tuple[list[dict], str | None]:
    """Decode and normalise one file: (rows with JPEG bytes, None) or ([], reject reason)."""
    try:
        decoded = decode(Path(task.file), cfg.min_side, cfg.max_pixels)
    except Rejected as exc:
        return [], exc.reason
    except Exception as exc:  # a decoder bug must not end the run; it is recorded instead
        return [], f"unexpected decoder error: {type(exc).__name__}: {exc}"
    rgb = composite(decoded.pixels, f"{task.source}/{task.path}")
    crops = [(-1, square_crop(rgb))]
    if task.face_crop:
        min_size = max(cfg.min_side, round(cfg.face_min_fraction * min(rgb.shape[:2])))
        boxes = detect_faces(rgb, min_size, cfg.face_min_neighbors)
        if boxes:
            faces = [(k, square_crop(rgb, box, cfg.face_margin)) for k, box in enumerate(boxes)]
            # the photo also stays whole (same group as its crops), so `real` is not only tight
            # face crops: otherwise the framing itself tells the class
            crops = crops + faces if task.face_crop_keep_whole else faces
        elif not cfg.face_fallback_whole:
            return [], "no face found for face cropping"
    meta = {k: v for k, v in asdict(decoded).items() if k != "pixels"}
    rows = []
    for face, crop in crops:
        if min(crop.shape[:2]) < cfg.min_side:
            continue
        small = resize(crop, cfg.size)
        rows.append(
            {
                "id": image_id(task.source, task.path, face),
                "label": task.label,
                "source": task.source,
                "path": task.path,
                "face": face,
                "group": task.group,
                "licence": task.licence,
                "generator": task.generator,
                **{f"orig_{k}": v for k, v in meta.items()},
                "phash": int(phash64(small)),
                "jpeg": encode_jpeg(small, cfg.jpeg_quality),
            }
        )
    if not rows:
        return [], f"every face crop is smaller than {cfg.min_side} px"
    return rows, None


def _run(tasks: list[Task], cfg: AggregateConfig) -> Iterable[tuple[list[dict], str | None]]:
    bar = dict(total=len(tasks), desc="aggregate", unit="file", mininterval=2)
    if cfg.workers <= 1:
        yield from tqdm((process(t, cfg) for t in tasks), **bar)
        return
    with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
        yield from tqdm(pool.map(process, tasks, [cfg] * len(tasks), chunksize=16), **bar)


def aggregate(
    raw_dir: Path, out_dir: Path, cfg: AggregateConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``out_dir/images/<id>.jpg``, ``index.csv`` and ``rejects.csv``; return both tables."""
    tasks = tasks_from_raw(raw_dir)
    rows: list[dict] = []
    rejects: list[dict] = [{**r, "duplicate_of": ""} for r in refused_from_raw(raw_dir)]
    for task, (task_rows, reason) in zip(tasks, _run(tasks, cfg), strict=True):
        if reason is not None:
            rejects.append(
                {
                    "source": task.source,
                    "path": task.path,
                    "label": task.label,
                    "reason": reason,
                    "duplicate_of": "",
                }
            )
        rows.extend(task_rows)
    index = pd.DataFrame(rows)
    if index.empty:
        raise InputError(f"{raw_dir}: no usable image in any source ({len(rejects)} rejected)")
    index = index.sort_values(["source", "path", "face"], kind="stable").reset_index(drop=True)
    hashes = index["phash"].to_numpy(dtype=np.uint64)
    dup_of = find_duplicates(hashes, cfg.dedupe_distance)
    for i in np.nonzero(dup_of >= 0)[0]:
        row, kept = index.iloc[i], index.iloc[dup_of[i]]
        same = "exact" if row["phash"] == kept["phash"] else "near"
        rejects.append(
            {
                "source": row["source"],
                "path": row["path"],
                "label": row["label"],
                "reason": f"{same} duplicate (pHash)",
                "duplicate_of": kept["id"],
            }
        )
    index = index[dup_of < 0].reset_index(drop=True)
    groups = near_duplicate_groups(index["phash"].to_numpy(dtype=np.uint64), cfg.group_distance)
    index["dup_group"] = [index["id"].iat[g] for g in groups]
    images = Path(out_dir) / "images"
    images.mkdir(parents=True, exist_ok=True)
    sizes = []
    for image_id_, data in zip(index["id"], index["jpeg"], strict=True):
        (images / f"{image_id_}.jpg").write_bytes(data)
        sizes.append(len(data))
    index["file_size"] = sizes
    index["phash"] = [f"{int(h):016x}" for h in index["phash"]]
    index = index.drop(columns=["jpeg"])
    rejects_df = pd.DataFrame(
        rejects, columns=["source", "path", "label", "reason", "duplicate_of"]
    )
    index.to_csv(Path(out_dir) / "index.csv", index=False)
    rejects_df.to_csv(Path(out_dir) / "rejects.csv", index=False)
    # the settings that shape the images (the worker count does not)
    settings = {k: v for k, v in asdict(cfg).items() if k != "workers"}
    write_preprocessing(Path(out_dir), {"aggregate": settings})
    log.info("aggregate: %d images kept, %d rejected", len(index), len(rejects_df))
    return index, rejects_df
