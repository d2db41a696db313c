"""Run a trained model over rows of a pack: logits and penultimate features, in class order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from avatar_type.evaluate.calibration import softmax
from avatar_type.labels import CLASSES
from avatar_type.train.data import Normalise
from avatar_type.train.features import embed


@dataclass
class Outputs:
    """Per-image logits (N, K) and penultimate features (N, D)."""

    logits: np.ndarray
    features: np.ndarray

    def probabilities(self, temperature: float = 1.0) -> np.ndarray:
        return softmax(self.logits, temperature)


@torch.inference_mode()
def run_model(
    model: nn.Module,
    card: dict,
    images: np.ndarray,
    batch_size: int = 128,
    device: torch.device | None = None,
) -> Outputs:
    """Logits and features of a uint8 NHWC array, preprocessed as the model's card says."""
    device = device or torch.device("cpu")
    pre = card["preprocessing"]
    normalise = Normalise(tuple(pre["mean"]), tuple(pre["std"]))
    features = embed(model, images, normalise, device, batch_size, desc="predict")
    return Outputs(classify(model, features, device), features)


@torch.inference_mode()
def classify(model: nn.Module, features: np.ndarray, device: torch.device) -> np.ndarray:
    """Logits of the model's classifier on penultimate features."""
    head = model.get_classifier().to(device)
    return head(torch.from_numpy(features).to(device)).float().cpu().numpy()


def probability_table(ids: pd.Series, labels: pd.Series, probs: np.ndarray) -> pd.DataFrame:
    """Per-image probabilities with columns named by class (``p_real``, ...), for saving."""
    table = pd.DataFrame({"id": ids.to_numpy(), "label": labels.to_numpy()})
    for k, name in enumerate(CLASSES):
        table[f"p_{name}"] = probs[:, k]
    table["predicted"] = [CLASSES[k] for k in probs.argmax(axis=1)]
    return table
