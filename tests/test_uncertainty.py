"""Bootstrap intervals and the paired comparison of two models (evaluate.uncertainty)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from avatar_type.evaluate.calibration import ece, softmax
from avatar_type.evaluate.classification import classification_report
from avatar_type.evaluate.uncertainty import (
    bootstrap_intervals,
    macro_f1,
    paired_bootstrap,
    tied,
)


def _noisy_model(n: int, seed: int, skill: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and over-confident probabilities of a model that is right most of the time."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), y] += skill
    return y, softmax(logits * 2)


def _width(interval: list[float]) -> float:
    return interval[1] - interval[0]


def test_intervals_contain_the_point_estimates():
    y, probs = _noisy_model(400, 0)
    ci = bootstrap_intervals(y, probs, seed=1)
    point = classification_report(probs, y)
    for name, value in [
        ("macro_f1", point["macro_f1"]),
        ("accuracy", point["accuracy"]),
        ("ece", ece(probs, y)),
    ]:
        assert ci[name][0] <= value <= ci[name][1], name


def test_intervals_shrink_with_more_images():
    small = bootstrap_intervals(*_noisy_model(100, 0), seed=1)
    large = bootstrap_intervals(*_noisy_model(2000, 0), seed=1)
    for name in ("macro_f1", "accuracy", "ece"):
        assert _width(large[name]) < _width(small[name]) / 2, name


def test_intervals_are_seeded():
    y, probs = _noisy_model(200, 0)
    assert bootstrap_intervals(y, probs, seed=3) == bootstrap_intervals(y, probs, seed=3)
    assert bootstrap_intervals(y, probs, seed=3) != bootstrap_intervals(y, probs, seed=4)


def test_perfect_predictions_have_a_degenerate_interval():
    y = np.arange(90) % 3
    ci = bootstrap_intervals(y, np.eye(3)[y], seed=0)
    assert ci == {"macro_f1": [1.0, 1.0], "accuracy": [1.0, 1.0], "ece": [0.0, 0.0]}


def test_report_carries_the_intervals_only_with_a_seed():
    y, probs = _noisy_model(150, 0)
    assert "ci95" not in classification_report(probs, y)
    assert classification_report(probs, y, seed=5)["ci95"] == bootstrap_intervals(y, probs, 5)


@pytest.mark.parametrize("case", range(20))
def test_macro_f1_matches_sklearn(case):
    rng = np.random.default_rng(case)
    n = int(rng.integers(1, 60))
    y = rng.integers(0, 3, n)
    # some cases never predict class 2 (or never contain it), where zero_division matters
    pred = rng.integers(0, 2 if case % 2 else 3, n)
    if case % 4 == 0:
        y = np.where(y == 2, 0, y)
    expected = f1_score(y, pred, labels=[0, 1, 2], average="macro", zero_division=0)
    assert macro_f1(y, pred)[0] == pytest.approx(expected)


def test_macro_f1_scores_every_row():
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 3, (5, 40)), rng.integers(0, 3, (5, 40))
    expected = [
        f1_score(a, b, labels=[0, 1, 2], average="macro", zero_division=0)
        for a, b in zip(y, pred, strict=True)
    ]
    assert macro_f1(y, pred) == pytest.approx(expected)


def test_a_model_against_itself_is_tied():
    y, probs = _noisy_model(200, 0)
    pred = probs.argmax(1)
    result = paired_bootstrap(y, pred, pred, seed=0)
    assert result == {"diff": 0.0, "ci95": [0.0, 0.0], "p_a_not_better": 1.0}
    assert tied(result)


def test_a_clearly_better_model_is_not_tied():
    y, good = _noisy_model(300, 0, skill=4.0)
    rng = np.random.default_rng(1)
    weak = np.where(rng.random(len(y)) < 0.5, rng.integers(0, 3, len(y)), y)
    result = paired_bootstrap(y, good.argmax(1), weak, seed=0)
    assert result["diff"] > 0 and result["ci95"][0] > 0
    assert result["p_a_not_better"] == 0.0
    assert not tied(result)
    assert not tied(paired_bootstrap(y, weak, good.argmax(1), seed=0))
