"""The benchmark's table and its speed-against-complexity figure, one entry per model."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from avatar_type.viz.figures import save_figure


def bench_table(results: dict[str, dict]) -> pd.DataFrame:
    """One row per model (the keys of ``results``); CUDA columns when any model has them."""
    rows = []
    for model, r in results.items():
        cpu = r["cpu"]
        row = {
            "model": model,
            "arch": r["arch"],
            "img_size": r["img_size"],
            "params (M)": r["params"] / 1e6,
            "GFLOPs": r["gflops"],
            "weights MB": r["weights_mb"],
            "CPU latency median ms": cpu["latency_ms"]["median"],
            f"CPU throughput img/s (batch {cpu['batch_size']})": cpu["throughput"],
        }
        if "cuda" in r:
            cuda = r["cuda"]
            row["CUDA latency median ms"] = cuda["latency_ms"]["median"]
            row[f"CUDA throughput img/s (batch {cuda['batch_size']})"] = cuda["throughput"]
        rows.append(row)
    return pd.DataFrame(rows)


def plot_speed_vs_complexity(results: dict[str, dict], path: Path) -> Path:
    """CPU batch-1 latency (log y) against GFLOPs (log x), point area by parameters; returns
    ``path``."""
    names = list(results)
    gflops = np.array([results[m]["gflops"] for m in names])
    latency = np.array([results[m]["cpu"]["latency_ms"]["median"] for m in names])
    params = np.array([results[m]["params"] for m in names], dtype=float)
    # area, not radius, follows the parameter count, so a model twice as large looks twice as big
    sizes = 30 + 600 * params / params.max()
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(gflops, latency, s=sizes, alpha=0.6, color="tab:blue", edgecolor="black")
    for name, x, y in zip(names, gflops, latency, strict=True):
        ax.annotate(name, (x, y), xytext=(6, 4), textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("GFLOPs per image (2 per multiply-add, log scale)")
    ax.set_ylabel("CPU latency, batch 1, median ms (log scale)")
    ax.set_title("Speed against complexity (point area: parameters)")
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path, dpi=110)
