"""Source balance within a class: weights, the weighted loss and the sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from avatar_type.params import from_mapping
from avatar_type.train import imbalance
from avatar_type.train.config import TrainConfig
from avatar_type.train.loop import _make_loss

LABELS = np.array([0] * 10 + [1] * 6)
SOURCES = np.array(["a"] * 8 + ["b"] * 2 + ["c"] * 3 + ["d"] * 3)


def per_source_total(weights: np.ndarray) -> dict[str, float]:
    return {s: float(weights[np.equal(SOURCES, s)].sum()) for s in np.unique(SOURCES)}


def test_power_zero_weighs_every_image_alike():
    assert (imbalance.source_weights(LABELS, SOURCES, 0.0) == 1).all()


def test_power_one_gives_each_source_of_a_class_the_same_total():
    w = imbalance.source_weights(LABELS, SOURCES, 1.0)
    totals = per_source_total(w)
    assert totals["a"] == pytest.approx(totals["b"]) == pytest.approx(5.0)
    assert totals["c"] == pytest.approx(totals["d"]) == pytest.approx(3.0)


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_class_totals_are_unchanged(power):
    w = imbalance.source_weights(LABELS, SOURCES, power)
    for k in (0, 1):
        assert w[np.equal(LABELS, k)].sum() == pytest.approx(np.equal(LABELS, k).sum())


def test_half_power_tempers_the_large_source():
    totals = per_source_total(imbalance.source_weights(LABELS, SOURCES, 0.5))
    assert 5.0 < totals["a"] < 8.0  # between equal sources (5) and equal images (8)


def test_a_source_name_shared_by_two_classes_is_two_sources():
    labels, sources = np.array([0, 0, 1]), np.array(["x", "y", "x"])
    assert (imbalance.source_weights(labels, sources, 1.0) == 1).all()


def test_bad_power_is_refused():
    with pytest.raises(ValueError, match="power"):
        imbalance.source_weights(LABELS, SOURCES, 1.5)


def test_weighted_loss_with_unit_weights_is_pytorchs_class_weighted_loss():
    cfg = TrainConfig(arch="simple_cnn", imbalance="weighted_loss")
    y_train = np.array([0, 0, 0, 1, 2, 2])
    loss_fn = _make_loss(cfg, y_train, torch.device("cpu"))
    logits, y = (
        torch.randn(6, 3, generator=torch.Generator().manual_seed(0)),
        torch.tensor([0, 1, 2, 0, 1, 2]),
    )
    weight = imbalance.class_weights(y_train, 3)
    expected = F.cross_entropy(logits, y, weight=weight)
    assert float(loss_fn(logits, y, torch.ones(6))) == pytest.approx(float(expected), rel=1e-6)
    # a sample weight of 0 removes that sample from the mean
    w = torch.tensor([1.0, 1, 1, 0, 1, 1])
    keep = w > 0
    expected = F.cross_entropy(logits[keep], y[keep], weight=weight)
    assert float(loss_fn(logits, y, w)) == pytest.approx(float(expected), rel=1e-6)


def test_sampler_draws_sources_by_their_weights():
    labels = np.array([0] * 90 + [0] * 10 + [1] * 100)
    sources = np.array(["big"] * 90 + ["small"] * 10 + ["other"] * 100)
    w = imbalance.source_weights(labels, sources, 1.0)
    draws = np.array(list(imbalance.sampler(labels, 3, torch.Generator().manual_seed(0), w)))
    big, small = np.isin(draws, np.arange(90)).sum(), np.isin(draws, np.arange(90, 100)).sum()
    assert abs(big - small) < 0.25 * (big + small)  # equal in expectation, not 9:1


def test_config_validates_source_balance():
    from avatar_type.errors import ParamsError

    with pytest.raises(ParamsError, match="source_balance"):
        from_mapping({"arch": "simple_cnn", "source_balance": 2}, TrainConfig, "models.x")
