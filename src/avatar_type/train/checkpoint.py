"""Per-epoch checkpoints for resuming a killed run; loaded with ``weights_only=True``.

They live outside the DVC outputs (DVC deletes a stage's outputs before running it) and are
removed once the run has saved its final model. A checkpoint written under other settings
(another fingerprint) is ignored, never resumed.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)
LAST = "last.pt"


class Checkpointer:
    def __init__(self, directory: Path, fingerprint: str, enabled: bool = True) -> None:
        self.directory, self.fingerprint, self.enabled = Path(directory), fingerprint, enabled

    def resume(
        self, model: nn.Module, optimizer, scheduler, gen: torch.Generator
    ) -> dict[str, Any]:
        """Restore a matching checkpoint into the objects; return the loop state (fresh if none)."""
        fresh = {
            "epoch": 0,
            "best_f1": -1.0,
            "best_epoch": 0,
            "bad_epochs": 0,
            "history": [],
            "images_seen": 0,
            "train_seconds": 0.0,
            "best_state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        }
        path = self.directory / LAST
        if not path.is_file():
            return fresh
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("fingerprint") != self.fingerprint:
            log.warning("%s: written under other settings; starting afresh", path)
            return fresh
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        gen.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        log.info("resuming from %s after epoch %d", path, saved["state"]["epoch"])
        return saved["state"]

    def save(
        self, model: nn.Module, optimizer, scheduler, gen: torch.Generator, state: dict[str, Any]
    ) -> None:
        if not self.enabled:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f"{LAST}.{os.getpid()}.tmp"
        torch.save(
            {
                "fingerprint": self.fingerprint,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "state": state,
            },
            tmp,
        )
        os.replace(tmp, self.directory / LAST)  # a kill mid-write leaves the previous one

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
