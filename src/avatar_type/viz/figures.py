"""Saving a matplotlib figure the same way everywhere."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def save_figure(fig: Figure, path: Path, dpi: int = 80) -> Path:
    """Lay out, write ``path`` (creating its folder) and close ``fig``; return ``path``."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
