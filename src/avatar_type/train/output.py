"""What a training run leaves behind: safetensors weights with a JSON card, and dvclive logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_model
from safetensors.torch import save_model as save_safetensors
from torch import nn

WEIGHTS = "model.safetensors"
CARD = "card.json"


def save_model(model: nn.Module, directory: Path, card: dict[str, Any]) -> None:
    """Weights as safetensors (never a pickle) and a card saying how to rebuild and feed them."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_safetensors(model, str(directory / WEIGHTS))
    (directory / CARD).write_text(json.dumps(card, indent=2, sort_keys=True), encoding="utf-8")


def read_card(directory: Path) -> dict[str, Any]:
    return json.loads((Path(directory) / CARD).read_text(encoding="utf-8"))


def load_trained(directory: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained model from its card and weights (no unpickling anywhere)."""
    from avatar_type.models.registry import build_model

    directory = Path(directory)
    card = read_card(directory)
    model = build_model(
        card["arch"],
        "none",
        num_classes=len(card["classes"]),
        img_size=card["preprocessing"]["img_size"],
    )
    load_model(model, str(directory / WEIGHTS))
    return model.eval(), card


class EpochLogger:
    """dvclive per-epoch metrics (plots declared in dvc.yaml); a no-op on non-main DDP ranks."""

    def __init__(self, directory: Path, epochs_done: int, enabled: bool = True) -> None:
        self.live = None
        if enabled:
            from dvclive import Live

            self.live = Live(
                str(directory),
                resume=epochs_done > 0,
                save_dvc_exp=False,
                dvcyaml=None,
                report=None,
            )
            self.live.step = epochs_done  # the next epoch's step, also after a resume

    def log(self, metrics: dict[str, float]) -> None:
        if self.live is None:
            return
        for name, value in metrics.items():
            self.live.log_metric(name, value)
        self.live.next_step()

    def close(self) -> None:
        """Keep the per-epoch series only: the run's summary is the best epoch, written by the
        train stage, and dvclive's last-epoch summary file would contradict it."""
        if self.live is not None:
            self.live.end()
            Path(self.live.metrics_file).unlink(missing_ok=True)
