"""The ComfyUI template-media selector: which media files pass as generated outputs, by the
templates' index (tags, inputs, which file is the output), end to end through a pinned wheel."""

from __future__ import annotations

import io
import json

import pytest
from helpers import blocky, build_wheel, sha256_file
from PIL import Image

from avatar_type.sources.comfyui import is_generated_output
from avatar_type.sources.fetch import fetch_source
from avatar_type.sources.spec import parse_source

PROMPT_ONLY = {"name": "t2i", "tags": ["Text to Image"], "models": ["Flux"]}
EDIT_SLIDER = {
    "name": "edit_slider",
    "tags": ["Image Edit"],
    "models": ["Qwen-Image-Edit"],
    "io": {"inputs": [{"mediaType": "image"}]},
    "thumbnailVariant": "compareSlider",
}
EDIT_NAMED = {
    "name": "edit_named",
    "tags": ["Image Edit"],
    "io": {"inputs": [{"mediaType": "image"}]},
    "thumbnail": ["output/edit_named.png", "input/photo.png"],
}
EDIT_UNKNOWN = {  # one image, nothing says whether it shows the input or the output
    "name": "edit_unknown",
    "tags": ["Image Edit"],
    "io": {"inputs": [{"mediaType": "image"}]},
}
TEMPLATES = (PROMPT_ONLY, EDIT_SLIDER, EDIT_NAMED, EDIT_UNKNOWN)
PROMPTS = {"tags_any": ["Text to Image"], "tags_none": ["Image Edit"]}
EDITS = {"tags_any": ["Image Edit"], "edited_outputs": True}


@pytest.mark.parametrize(
    ("template", "k", "cfg", "kept"),
    [
        (PROMPT_ONLY, 1, PROMPTS, True),
        (PROMPT_ONLY, 1, {**PROMPTS, "exclude_templates": ["t2i"]}, False),
        (PROMPT_ONLY, 1, {**PROMPTS, "tags_none": ["Text to Image"]}, False),
        # edits are refused unless the source asks for their outputs
        (EDIT_SLIDER, 2, {"tags_any": ["Image Edit"]}, False),
        # before/after slider: file 1 is the input, file 2 the output
        (EDIT_SLIDER, 1, EDITS, False),
        (EDIT_SLIDER, 2, EDITS, True),
        # the index names each file
        (EDIT_NAMED, 1, EDITS, True),
        (EDIT_NAMED, 2, EDITS, False),
        # nothing tells input from output: never kept as generated
        (EDIT_UNKNOWN, 1, EDITS, False),
        (EDIT_UNKNOWN, 1, {**EDITS, "tags_any": ["Text to Image"]}, False),
    ],
)
def test_which_media_file_is_a_generated_output(template, k, cfg, kept):
    assert is_generated_output(template, k, cfg) is kept


def _webp(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(blocky(seed)).save(buf, format="WEBP")
    return buf.getvalue()


def test_edit_outputs_end_to_end_through_pinned_wheels(tmp_path, offline_pip):
    index = build_wheel(
        offline_pip,
        "tplindex",
        "1.0",
        {"tplindex/index.json": json.dumps([{"templates": list(TEMPLATES)}]).encode()},
    )
    names = [f"{t['name']}-{k}.webp" for t in TEMPLATES for k in (1, 2)]
    media = build_wheel(
        offline_pip,
        "tplmedia",
        "1.0",
        {f"tplmedia/templates/{n}": _webp(i) for i, n in enumerate(names)},
    )
    media_pin = {"package": "tplmedia==1.0", "file": media.name, "sha256": sha256_file(media)}
    index_pin = {
        "package": "tplindex==1.0",
        "file": index.name,
        "sha256": sha256_file(index),
        "member": "tplindex/index.json",
    }

    def fetched(name: str, selection: dict) -> dict[str, str]:
        spec = parse_source(
            name,
            {
                "kind": "pypi",
                "label": "generated",
                "licence": "MIT",
                "provenance": "tests",
                "pin": media_pin,
                "include": ["tplmedia/templates/*.webp"],
                "options": {"select": "comfyui", "index": index_pin, **selection},
            },
        )
        out = tmp_path / "raw" / name
        manifest = fetch_source(spec, out)
        on_disk = {p.relative_to(out / "files").as_posix() for p in (out / "files").rglob("*.webp")}
        assert on_disk == {e["path"] for e in manifest["files"]}  # refused files are deleted
        return {e["path"].rsplit("/", 1)[-1]: e.get("generator", "") for e in manifest["files"]}

    assert fetched("prompts", PROMPTS) == {"t2i-1.webp": "Flux", "t2i-2.webp": "Flux"}
    assert fetched("edits", EDITS) == {
        "edit_slider-2.webp": "Qwen-Image-Edit",
        "edit_named-1.webp": "edit_named",  # no models listed: the template names the generator
    }
