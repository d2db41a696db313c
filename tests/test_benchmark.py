"""The benchmark: FLOPs, parameters and weight size of hand-checked nets; timing that excludes
warm-up; settings validation; one real architecture end to end (PyTorch and ONNX Runtime); the
table and the figure."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from avatar_type.bench.measure import (
    BenchSettings,
    benchmark_model,
    count_flops,
    count_parameters,
    latency_ms,
    throughput,
    time_calls,
    weight_megabytes,
)
from avatar_type.bench.plots import bench_table, plot_speed_vs_complexity
from avatar_type.errors import ParamsError
from avatar_type.params import from_mapping


def tiny_net() -> nn.Module:
    """3x8x8 input -> conv 3->4 (3x3, no padding: 4x6x6) -> BN -> linear 144->5."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)
    )


class CountingNet(nn.Module):
    """Records every forward call."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.conv(x)


def test_flops_of_a_hand_built_net_match_the_hand_count():
    conv = 2 * (4 * 6 * 6) * (3 * 3 * 3)  # 2 per multiply-add, per output element
    linear = 2 * 144 * 5
    assert count_flops(tiny_net(), 8) == conv + linear == 9216


def test_parameters_and_weight_bytes_match_the_safetensors_file(tmp_path):
    net = tiny_net()
    assert count_parameters(net) == (4 * 27 + 4) + (4 + 4) + (144 * 5 + 5) == 845
    # float32 parameters and BN running mean/var, plus the int64 num_batches_tracked
    expected_bytes = (845 + 8) * 4 + 8
    assert weight_megabytes(net) == pytest.approx(expected_bytes / 1e6)
    path = tmp_path / "tiny.safetensors"
    save_file(net.state_dict(), str(path))
    raw = path.read_bytes()
    header = int.from_bytes(raw[:8], "little")
    assert len(raw) - 8 - header == expected_bytes


def test_warmup_calls_are_run_but_not_timed():
    calls = []

    def step() -> None:
        calls.append(None)
        if len(calls) <= 2:  # only the warm-up calls are slow
            time.sleep(0.2)

    timings = time_calls(step, runs=5, warmup=2, device="cpu")
    assert len(calls) == 7
    assert len(timings) == 5
    assert max(timings) < 0.1


def test_latency_and_throughput_run_warmup_plus_runs_forward_passes():
    net = CountingNet()
    lat = latency_ms(net, 16, "cpu", runs=4, warmup=3)
    assert net.calls == 7
    assert set(lat) == {"median", "p90", "mean"}
    assert all(math.isfinite(v) and v > 0 for v in lat.values())
    assert lat["median"] <= lat["p90"]
    net.calls = 0
    images_per_s = throughput(net, 16, "cpu", batch_size=4, runs=3, warmup=2)
    assert net.calls == 5
    assert math.isfinite(images_per_s) and images_per_s > 0


VALID = {"runs": 30, "warmup": 5, "batch_size": 32, "threads": None, "cuda": False}


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"runs": -1}, "benchmark.runs"),
        ({"runs": 2.5}, "benchmark.runs"),
        ({"runs": True}, "benchmark.runs"),
        ({"warmup": 0}, "benchmark.warmup"),
        ({"threads": "2"}, "benchmark.threads"),
        ({"cuda": 1}, "benchmark.cuda"),
        ({"repeats": 3}, "repeats"),
    ],
)
def test_settings_reject_bad_values_naming_the_key(raw, key):
    with pytest.raises(ParamsError, match=key):
        from_mapping({**VALID, **raw}, BenchSettings, "benchmark")


def test_settings_accept_a_valid_section():
    assert from_mapping(VALID, BenchSettings, "benchmark") == BenchSettings(**VALID)


def test_benchmark_model_reports_every_figure_and_restores_threads(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    threads = torch.get_num_threads()
    settings = BenchSettings(runs=2, warmup=1, batch_size=2, threads=1, cuda=True)
    result = benchmark_model("simple_cnn", 96, settings)
    assert torch.get_num_threads() == threads
    assert "cuda" not in result
    assert result["arch"] == "simple_cnn" and result["img_size"] == 96
    assert result["params"] > 0 and result["flops"] > 0 and result["weights_mb"] > 0
    assert result["gflops"] == pytest.approx(result["flops"] / 1e9)
    cpu = result["cpu"]
    assert cpu["threads"] == 1 and cpu["batch_size"] == 2
    assert set(cpu["latency_ms"]) == {"median", "p90", "mean"}
    assert cpu["throughput"] > 0
    runtime = result["onnxruntime"]  # the same model exported, at the same threads and batch
    assert runtime["threads"] == 1 and runtime["batch_size"] == 2
    assert set(runtime["latency_ms"]) == {"median", "p90", "mean"}
    assert runtime["latency_ms"]["median"] > 0 and runtime["throughput"] > 0
    json.dumps(result, allow_nan=False)  # what the stage writes


def fake_result(arch: str, params: int, gflops: float, latency: float, cuda: bool) -> dict:
    speed = {"batch_size": 32, "latency_ms": {"median": latency}, "throughput": 1e3 / latency}
    result = {
        "arch": arch,
        "img_size": 96,
        "params": params,
        "gflops": gflops,
        "weights_mb": params * 4e-6,
        "cpu": speed,
    }
    return {**result, "cuda": speed} if cuda else result


def test_table_has_one_row_per_model_and_cuda_columns_when_present(tmp_path):
    results = {
        "small": fake_result("simple_cnn", 700_000, 0.016, 1.0, cuda=False),
        "big": fake_result("resnet50", 23_500_000, 8.2, 50.0, cuda=True),
    }
    table = bench_table(results)
    assert list(table["model"]) == ["small", "big"]
    assert table.loc[1, "params (M)"] == pytest.approx(23.5)
    assert table.loc[1, "CUDA latency median ms"] == 50.0
    assert math.isnan(table.loc[0, "CUDA latency median ms"])
    assert "CUDA latency median ms" not in bench_table({"small": results["small"]})

    path = plot_speed_vs_complexity(results, tmp_path / "figs" / "speed.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_architecture_is_measured_once_per_settings(tmp_path, monkeypatch):
    from avatar_type.bench import measure

    monkeypatch.setenv("AVATAR_TYPE_LOCAL_CACHE", str(tmp_path))
    calls = []

    def fake(arch, img_size, settings, progress=False):
        calls.append((arch, img_size))
        return {"arch": arch, "img_size": img_size}

    monkeypatch.setattr(measure, "benchmark_model", fake)
    settings = measure.BenchSettings(runs=2, warmup=1, batch_size=2, threads=1, cuda=False)
    first = measure.shared_benchmark("m", 32, settings)
    assert measure.shared_benchmark("m", 32, settings) == first and calls == [("m", 32)]
    measure.shared_benchmark("m", 48, settings)
    measure.shared_benchmark(
        "m", 32, measure.BenchSettings(runs=3, warmup=1, batch_size=2, threads=None, cuda=True)
    )
    assert len(calls) == 3
