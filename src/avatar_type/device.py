"""The one device resolver: of the train stage, the benchmarks and the ``avatar-type`` command.

It imports torch and nothing of the training stack, so the command starts without it.
"""

from __future__ import annotations

import torch

from avatar_type.errors import DeviceError


def resolve_device(name: str, where: str = "device") -> torch.device:
    """``auto`` is CUDA when present, else the CPU; ``cpu``, ``cuda`` or ``cuda:N`` force one.

    A name that is no device, or a CUDA device that is not there, is a DeviceError naming
    ``where`` (the option or parameter that asked for it) up front, not a CUDA failure later.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"{where} {name}: not a device; use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda":
        _check_cuda(device, where)
    return device


def _check_cuda(device: torch.device, where: str) -> None:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise DeviceError(f"{where} {device}: no CUDA device is available; use cpu or auto")
    if device.index is not None and device.index >= count:
        raise DeviceError(f"{where} {device}: there are only {count} CUDA devices (cuda:0 on)")
