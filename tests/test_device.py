"""The one device resolver: auto picks CUDA when present; a device that is not there is a clear
error naming who asked for it."""

import pytest
import torch

from avatar_type.device import resolve_device
from avatar_type.errors import DeviceError


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def test_auto_and_cpu_without_cuda(no_cuda):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_picks_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_missing_cuda_names_the_option(no_cuda, name):
    with pytest.raises(DeviceError, match=rf"--device {name}: no CUDA device is available"):
        resolve_device(name, "--device")


def test_cuda_index_past_the_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceError, match=r"train\.device cuda:2: there are only 2 CUDA devices"):
        resolve_device("cuda:2", "train.device")


def test_not_a_device():
    with pytest.raises(DeviceError, match="gpu: not a device"):
        resolve_device("gpu")
