"""A model's outputs in class order: logits from penultimate features, probability tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from avatar_type.errors import MissingInputError
from avatar_type.evaluate.calibration import softmax
from avatar_type.labels import CLASSES
from avatar_type.runs import run_id

# column names of the class probabilities in every saved prediction table, in class order
PROB_COLUMNS = [f"p_{c}" for c in CLASSES]


@dataclass
class Outputs:
    """Per-image logits (N, K) and penultimate features (N, D)."""

    logits: np.ndarray
    features: np.ndarray

    def probabilities(self, temperature: float = 1.0) -> np.ndarray:
        return softmax(self.logits, temperature)


@torch.inference_mode()
def classify(model: nn.Module, features: np.ndarray, device: torch.device) -> np.ndarray:
    """Logits of the model's classifier on penultimate features."""
    head = model.get_classifier().to(device)
    return head(torch.from_numpy(features).to(device)).float().cpu().numpy()


def probability_table(ids: pd.Series, labels: pd.Series, probs: np.ndarray) -> pd.DataFrame:
    """Per-image probabilities with columns named by class (``p_real``, ...), for saving."""
    table = pd.DataFrame({"id": ids.to_numpy(), "label": labels.to_numpy()})
    for k, column in enumerate(PROB_COLUMNS):
        table[column] = probs[:, k]
    table["predicted"] = [CLASSES[k] for k in probs.argmax(axis=1)]
    return table


def read_tables(
    eval_dir: Path, models: list[str], scenario: str, seed: int
) -> dict[str, pd.DataFrame]:
    """The evaluate stage's probability tables of ``models`` on one scenario and seed."""
    tables = {}
    for m in models:
        path = Path(eval_dir) / run_id(m, scenario, seed) / "probabilities.csv"
        if not path.is_file():
            raise MissingInputError(
                f"{path}: missing; run the evaluate stage of {m} on {scenario} (seed {seed})"
            )
        tables[m] = pd.read_csv(path, keep_default_na=False)
    return tables
