"""Complexity and speed of one architecture, measured the same way for every model.

Speed does not depend on the weights, so models are built with random initialisation: the
benchmark never waits on training or on weight files. Every timing excludes warm-up calls (lazy
allocation, kernel selection and caches make first calls slow) and, on CUDA, synchronises the
device before reading the clock (kernels run asynchronously, so an unsynchronised clock measures
the launch, not the work).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from avatar_type.errors import ParamsError
from avatar_type.models.onnx_export import INPUT, cpu_session, export_onnx
from avatar_type.models.registry import build_model


@dataclass(frozen=True)
class BenchSettings:
    """How long and where to measure (the ``benchmark:`` section of params.yaml)."""

    runs: int
    warmup: int
    batch_size: int  # throughput batch; latency is always batch 1
    threads: int | None  # None: PyTorch's default thread count
    cuda: bool  # also measure on CUDA when a GPU is present

    def validate(self, where: str) -> None:
        for key in ("runs", "warmup", "batch_size", "threads"):
            value = getattr(self, key)
            if not (key == "threads" and value is None) and value <= 0:
                raise ParamsError(f"{where}.{key}: expected a positive integer, got {value!r}")


def count_parameters(model: nn.Module) -> int:
    """Number of parameters, trainable or not (shared tensors counted once)."""
    return sum(p.numel() for p in model.parameters())


def weight_megabytes(model: nn.Module) -> float:
    """Bytes of the state dict's tensors / 1e6: what a safetensors file of it holds, header aside.

    Buffers (BatchNorm statistics) count, since they ship with the weights.
    """
    return sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 1e6


def count_flops(model: nn.Module, img_size: int) -> int:
    """FLOPs of one forward pass on one 3 x img_size x img_size image (batch 1).

    As ``torch.utils.flop_counter.FlopCounterMode`` defines them: 2 per multiply-add, counted for
    matrix multiplications, convolutions and attention only (activations, normalisation and
    pooling add none). Papers and timm often quote multiply-adds (MACs), half this figure.
    """
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.randn(1, 3, img_size, img_size))
    return int(counter.get_total_flops())


def time_calls(
    step: Callable[[], object], runs: int, warmup: int, device: torch.device | str
) -> list[float]:
    """Seconds of each of ``runs`` calls of ``step``, after ``warmup`` untimed calls."""
    device = torch.device(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else _no_sync
    for _ in range(warmup):
        step()
    timings = []
    for _ in range(runs):
        sync()  # no earlier queued work may leak into this call's time
        start = time.perf_counter()
        step()
        sync()
        timings.append(time.perf_counter() - start)
    return timings


def _no_sync() -> None:
    """CPU work is synchronous: nothing to wait for."""


def _timed_forward(
    model: nn.Module,
    img_size: int,
    batch_size: int,
    device: torch.device | str,
    runs: int,
    warmup: int,
    amp: bool,
    channels_last: bool,
) -> list[float]:
    """Per-call seconds of an inference forward pass on a random batch.

    Moves ``model`` to ``device`` (and memory format) in place and puts it in eval mode.
    """
    device = torch.device(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.eval().to(device, memory_format=memory_format)
    x = torch.randn(batch_size, 3, img_size, img_size, device=device)
    x = x.contiguous(memory_format=memory_format)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            model(x)

    with torch.inference_mode():
        return time_calls(step, runs, warmup, device)


def latency_ms(
    model: nn.Module,
    img_size: int,
    device: torch.device | str,
    runs: int,
    warmup: int,
    amp: bool = False,
    channels_last: bool = False,
) -> dict[str, float]:
    """Batch-1 latency in milliseconds over ``runs`` timed calls: median, p90 and mean."""
    return _milliseconds(
        _timed_forward(model, img_size, 1, device, runs, warmup, amp, channels_last)
    )


def _milliseconds(seconds: list[float]) -> dict[str, float]:
    ms = 1000 * np.asarray(seconds)
    return {
        "median": float(np.median(ms)),
        "p90": float(np.percentile(ms, 90)),
        "mean": float(ms.mean()),
    }


def throughput(
    model: nn.Module,
    img_size: int,
    device: torch.device | str,
    batch_size: int,
    runs: int,
    warmup: int,
    amp: bool = False,
    channels_last: bool = False,
) -> float:
    """Images per second at ``batch_size``, from the median batch time (robust to stray pauses)."""
    seconds = _timed_forward(model, img_size, batch_size, device, runs, warmup, amp, channels_last)
    return batch_size / float(np.median(seconds))


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _speed(
    model: nn.Module,
    img_size: int,
    device: str,
    settings: BenchSettings,
    fast: bool,
    bar: tqdm,
) -> dict[str, Any]:
    """Latency and throughput on one device; ``fast`` turns on bf16 autocast and channels_last."""
    bar.set_postfix_str(f"{device} latency")
    latency = latency_ms(model, img_size, device, settings.runs, settings.warmup, fast, fast)
    bar.update()
    bar.set_postfix_str(f"{device} throughput")
    images_per_s = throughput(
        model, img_size, device, settings.batch_size, settings.runs, settings.warmup, fast, fast
    )
    bar.update()
    return {
        "amp_bf16": fast,
        "channels_last": fast,
        "batch_size": settings.batch_size,
        "latency_ms": latency,
        "throughput": images_per_s,  # images/s at batch_size
    }


def _onnxruntime_speed(model: nn.Module, img_size: int, settings: BenchSettings) -> dict[str, Any]:
    """The same model exported to ONNX (float NCHW input, as PyTorch is timed) on ONNX Runtime's
    CPU provider with PyTorch's thread count: batch-1 latency and throughput at batch_size."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(model.cpu(), torch.randn(2, 3, img_size, img_size), path)
        session = cpu_session(path, torch.get_num_threads())
    rng = np.random.default_rng(0)

    def seconds(batch: int) -> list[float]:
        x = rng.standard_normal((batch, 3, img_size, img_size), dtype=np.float32)
        return time_calls(
            lambda: session.run(None, {INPUT: x}), settings.runs, settings.warmup, "cpu"
        )

    return {
        "version": onnxruntime.__version__,
        "threads": torch.get_num_threads(),
        "batch_size": settings.batch_size,
        "latency_ms": _milliseconds(seconds(1)),
        "throughput": settings.batch_size / float(np.median(seconds(settings.batch_size))),
    }


def benchmark_model(
    arch: str, img_size: int, settings: BenchSettings, progress: bool = False
) -> dict[str, Any]:
    """Complexity of ``arch`` at ``img_size`` and its speed on CPU (PyTorch and ONNX Runtime),
    and on CUDA when present.

    CPU runs in float32 with ``settings.threads`` threads (when given); CUDA, used only when
    ``settings.cuda`` and a GPU is present, runs with bf16 autocast and channels_last, as
    training does. ``progress`` shows a bar over the measurements.
    """
    model = build_model(arch, "none", num_classes=3, img_size=img_size)
    on_cuda = settings.cuda and torch.cuda.is_available()
    result: dict[str, Any] = {
        "arch": arch,
        "img_size": img_size,
        "params": count_parameters(model),
        "weights_mb": weight_megabytes(model),
        "torch": torch.__version__,
    }
    saved_threads = torch.get_num_threads()
    with tqdm(total=2 + 2 * (1 + on_cuda), desc=arch, unit="step", disable=not progress) as bar:
        bar.set_postfix_str("flops")
        result["flops"] = count_flops(model, img_size)
        result["gflops"] = result["flops"] / 1e9
        bar.update()
        try:
            if settings.threads is not None:
                torch.set_num_threads(settings.threads)  # thread count changes latency most
            result["cpu"] = {
                "device_name": _cpu_name(),
                "threads": torch.get_num_threads(),
                **_speed(model, img_size, "cpu", settings, False, bar),
            }
            bar.set_postfix_str("onnxruntime")
            result["onnxruntime"] = _onnxruntime_speed(model, img_size, settings)
            bar.update()
        finally:
            torch.set_num_threads(saved_threads)
        if on_cuda:
            result["cuda"] = {
                "device_name": torch.cuda.get_device_name(),
                **_speed(model, img_size, "cuda", settings, True, bar),
            }
    return result


def shared_benchmark(arch: str, img_size: int, settings: BenchSettings) -> dict[str, Any]:
    """``benchmark_model``, measured once per architecture, input size and settings on this
    machine and reused by every model entry that shares them (a frozen head and a probe on one
    backbone run the same network): a 224-px ViT takes minutes to time on a CPU."""
    from avatar_type.train.data import local_cache  # the machine-local derived-data cache

    blob = json.dumps([arch, img_size, dataclasses.asdict(settings), torch.__version__])
    path = local_cache("bench") / f"{hashlib.sha256(blob.encode()).hexdigest()[:20]}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    result = benchmark_model(arch, img_size, settings, progress=True)
    path.write_text(json.dumps(result), encoding="utf-8")
    return result
