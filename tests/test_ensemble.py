"""Ensembles: voting arithmetic, validation-only choices, alignment by image and diversity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from avatar_type.ensemble.combine import (
    Predictions,
    best_subset,
    correctness_correlation,
    ensemble_report,
    load_predictions,
    reliability_weights,
    soft_vote,
)
from avatar_type.labels import CLASSES


def onehot(labels, confidence: float = 1.0) -> np.ndarray:
    k = len(CLASSES)
    probs = np.full((len(labels), k), (1 - confidence) / (k - 1))
    probs[np.arange(len(labels)), labels] = confidence
    return probs


def test_soft_vote_is_the_weighted_mean():
    a, b = np.array([[0.6, 0.3, 0.1]]), np.array([[0.0, 0.2, 0.8]])
    assert np.allclose(soft_vote([a, b]), [[0.3, 0.25, 0.45]])
    assert np.allclose(soft_vote([a, b], np.array([3.0, 1.0])), [[0.45, 0.275, 0.275]])
    with pytest.raises(ValueError, match="non-negative"):
        soft_vote([a, b], np.array([0.0, 0.0]))


def _predictions(y: np.ndarray, models: dict[str, np.ndarray]) -> Predictions:
    """The same predicted labels on every set (val, test and balanced test share y)."""
    sets = ("val", "test", "balanced_test")
    probs = {m: {s: onehot(pred, 0.9) for s in sets} for m, pred in models.items()}
    return Predictions(probs, {s: y for s in sets})


def test_weights_are_validation_accuracy_times_one_minus_ece():
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    wrong_half = y.copy()
    wrong_half[:5] = (y[:5] + 1) % 3
    preds = _predictions(y, {"right": y, "half": wrong_half})
    # confidence 0.9 everywhere: ECE = |accuracy - 0.9|
    assert np.allclose(reliability_weights(preds, ["right", "half"]), [1.0 * 0.9, 0.5 * 0.6])


def test_best_subset_is_chosen_on_validation_and_prefers_fewer_models():
    y = np.array([0, 1, 2] * 4)
    preds = _predictions(y, {"a": y, "b": y, "c": (y + 1) % 3})
    assert best_subset(preds, max_size=3) == ["a"]  # a alone is perfect: no larger tie wins
    # the balanced test never decides: a model perfect only there is not picked
    preds.probs["c"]["balanced_test"] = onehot(y, 0.9)
    assert best_subset(preds, max_size=3) == ["a"]


def test_greedy_selection_beyond_the_exhaustive_limit():
    y = np.array([0, 1, 2] * 4)
    preds = _predictions(y, {"bad1": (y + 1) % 3, "good": y, "bad2": (y + 2) % 3})
    assert best_subset(preds, max_size=2, exhaustive_up_to=1) == ["good"]


def test_correlation_of_correctness():
    y = np.array([0, 1, 2, 0, 1, 2])
    twin = y.copy()
    twin[[0, 1]] = [1, 2]
    other = y.copy()
    other[[4, 5]] = [0, 0]
    corr = correctness_correlation(_predictions(y, {"a": twin, "b": twin.copy(), "c": other}))
    assert corr.loc["a", "b"] == pytest.approx(1.0)
    assert corr.loc["a", "c"] == pytest.approx(-0.5)


def _table(ids, labels, probs, set_name):
    table = pd.DataFrame({"id": ids, "label": [CLASSES[k] for k in labels]})
    for k, c in enumerate(CLASSES):
        table[f"p_{c}"] = probs[:, k]
    return table.assign(set=set_name)


def test_tables_are_aligned_by_image_id_not_row_order():
    y = np.array([0, 1, 2, 1])
    ids = ["i0", "i1", "i2", "i3"]
    tables = {}
    for name, order in (("a", [0, 1, 2, 3]), ("b", [3, 1, 0, 2])):
        parts = [
            _table(np.array(ids)[order], y[order], onehot(y[order]), s)
            for s in ("val", "test", "balanced_test")
        ]
        tables[name] = pd.concat(parts)
    preds = load_predictions(tables)
    assert np.array_equal(preds.probs["a"]["test"], preds.probs["b"]["test"])
    tables["b"].loc[tables["b"]["id"] == "i3", "id"] = "other"
    with pytest.raises(ValueError, match="b: its val images differ"):
        load_predictions(tables)


def test_report_gain_is_relative_to_the_best_single_model():
    y = np.array([0, 1, 2] * 6)
    a, b, c = y.copy(), y.copy(), y.copy()
    a[:6] = (y[:6] + 1) % 3
    b[6:12] = (y[6:12] + 1) % 3
    c[12:] = (y[12:] + 1) % 3
    report = ensemble_report(_predictions(y, {"a": a, "b": b, "c": c}), max_size=3)
    # each model errs on a different third: the majority is always right
    assert report["ensembles"]["soft_vote"]["balanced_test"]["macro_f1"] == pytest.approx(1.0)
    best = report["best_single"]["balanced_macro_f1"]
    assert best < 1.0
    assert report["gain_balanced_macro_f1"]["soft_vote"] == pytest.approx(1.0 - best)
    assert report["diversity"]["mean_correctness_correlation"] < 0
