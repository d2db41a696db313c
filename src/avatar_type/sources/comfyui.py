"""Select AI-generated outputs among ComfyUI workflow-template media by the templates' index.

Template media files are named ``<template>-<k>.webp``; ``index.json`` (from the pinned
comfyui-workflow-templates-json archive) gives each template's tags, generating models and, per
``k``, whether the file shows the workflow's input (possibly a real photo) or its output. By
default only outputs of workflows without image or video inputs are kept, so no input photo
passes as a generated image. A source with ``edited_outputs: true`` also keeps the outputs of
image-edit workflows (every pixel of which the model decodes anew), but only the file that the
index, or the two-image layout, names as the output: never one that may be the input.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from avatar_type.errors import SourceError
from avatar_type.sources import archive, pypi
from avatar_type.sources.spec import SourceSpec

MEDIA_NAME = re.compile(r"(?:.*/)?(?P<name>[^/]+)-(?P<k>\d+)\.webp")
TWO_IMAGE_VARIANTS = ("compareSlider", "hoverDissolve")


def load_index(spec: SourceSpec) -> dict[str, dict[str, Any]]:
    """Templates by name, from the index archive pinned in ``options.index``."""
    pin = spec.options.get("index") or {}
    for key in ("package", "file", "sha256", "member"):
        if not pin.get(key):
            raise SourceError(
                spec.name, f"options.index.{key} is required for the comfyui selector"
            )
    path = pypi.download(spec.name, pin["package"], pin["file"], pin["sha256"])
    with tempfile.TemporaryDirectory() as tmp:
        if not archive.extract(path, Path(tmp), (pin["member"],)):
            raise SourceError(spec.name, f"{pin['file']} has no {pin['member']}")
        categories = json.loads((Path(tmp) / pin["member"]).read_text(encoding="utf-8"))
    return {t["name"]: t for category in categories for t in category.get("templates", [])}


def is_generated_output(template: dict, k: int, cfg: dict[str, Any]) -> bool:
    """True when media file ``k`` of ``template`` is a selected workflow's generated output."""
    tags = set(template.get("tags", []))
    if not set(cfg.get("tags_any", [])) & tags or tags & set(cfg.get("tags_none", [])):
        return False
    if template["name"] in set(cfg.get("exclude_templates", [])):
        return False
    thumbs = template.get("thumbnail") or []
    two_images = template.get("thumbnailVariant") in TWO_IMAGE_VARIANTS
    named = k <= len(thumbs)  # the index says what file k shows
    is_output = str(thumbs[k - 1]).startswith("output/") if named else not (two_images and k == 1)
    inputs = template.get("io", {}).get("inputs", [])
    if any(i.get("mediaType") in ("image", "video") for i in inputs):
        # an edit: its output only where the index or the before/after layout says which it is
        return bool(cfg.get("edited_outputs", False)) and is_output and (named or two_images)
    return is_output


def select(spec: SourceSpec, files_dir: Path, rels: list[str]) -> dict[str, dict[str, Any]]:
    """Keep the generated outputs among ``rels`` (deleting the rest); record each generator."""
    templates = load_index(spec)
    kept: dict[str, dict[str, Any]] = {}
    for rel in rels:
        match = MEDIA_NAME.fullmatch(rel)
        template = templates.get(match["name"]) if match else None
        if template and is_generated_output(template, int(match["k"]), spec.options):
            kept[rel] = {"generator": "+".join(template.get("models", [])) or template["name"]}
        else:
            (files_dir / rel).unlink()
    return kept
