"""Evaluation metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_type.evaluate.calibration import (
    brier,
    calibration_report,
    ece,
    fit_temperature,
    mce,
    nll,
    reliability_bins,
    softmax,
)
from avatar_type.evaluate.embedding import separation
from avatar_type.evaluate.ood import class_shares, detection_auroc, energy_score, unbias
from avatar_type.evaluate.prior_shift import adjust_to_priors, em_priors, resample_to_priors


def test_ece_and_mce_of_a_known_toy():
    # two bins hit: confidence 0.9 (4 images, 3 right) and 0.6 (1 image, wrong)
    probs = np.array([[0.9, 0.05, 0.05]] * 4 + [[0.6, 0.3, 0.1]])
    y = np.array([0, 0, 0, 1, 1])
    # bin 0.9: |0.75 - 0.9| x 4/5 = 0.12; bin 0.6: |0 - 0.6| x 1/5 = 0.12
    assert ece(probs, y, 15) == pytest.approx(0.24)
    assert ece(probs, y, 10) == pytest.approx(0.24)
    assert mce(probs, y, 15) == pytest.approx(0.6)
    bins = reliability_bins(probs, y, 10)
    assert bins["count"].sum() == 5 and bins["count"][8] == 4 and bins["count"][5] == 1


def test_perfectly_confident_and_right_is_perfectly_calibrated():
    probs = np.eye(3)[[0, 1, 2, 1]]
    y = np.array([0, 1, 2, 1])
    report = calibration_report(probs, y)
    assert report["ece"] == 0 and report["mce"] == 0 and report["brier"] == 0
    assert report["nll"] == pytest.approx(0, abs=1e-9)


def test_nll_and_brier_by_hand():
    probs = np.array([[0.5, 0.25, 0.25], [0.2, 0.6, 0.2]])
    y = np.array([0, 2])
    assert nll(probs, y) == pytest.approx(-(np.log(0.5) + np.log(0.2)) / 2)
    # (0.25 + 0.0625 + 0.0625 + 0.04 + 0.36 + 0.64) / 2
    assert brier(probs, y) == pytest.approx((0.375 + 1.04) / 2)


def test_temperature_scaling_recovers_the_overconfidence_factor():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3000, 3)) * 2
    y = np.array([rng.choice(3, p=p) for p in softmax(logits)])
    assert fit_temperature(logits, y) == pytest.approx(1.0, abs=0.1)
    assert fit_temperature(logits * 3, y) == pytest.approx(3.0, rel=0.1)
    before = ece(softmax(logits * 3), y)
    after = ece(softmax(logits * 3, fit_temperature(logits * 3, y)), y)
    assert after < before / 2


def test_em_recovers_shifted_priors():
    rng = np.random.default_rng(1)
    train_priors = np.array([1 / 3, 1 / 3, 1 / 3])
    true_test = np.array([0.7, 0.2, 0.1])
    y = rng.choice(3, size=6000, p=true_test)
    # a calibrated classifier under balanced training priors: Gaussian class clusters
    means = np.eye(3) * 2.0
    x = means[y] + rng.normal(size=(len(y), 3))
    loglik = -0.5 * ((x[:, None, :] - means[None]) ** 2).sum(-1)
    posterior = softmax(loglik)  # equal priors: posterior proportional to likelihood
    estimate = em_priors(posterior, train_priors)
    assert estimate == pytest.approx(true_test, abs=0.03)
    corrected = adjust_to_priors(posterior, train_priors, estimate)
    assert (corrected.argmax(1) == y).mean() > (posterior.argmax(1) == y).mean()


def test_resampling_hits_the_requested_priors():
    y = np.repeat([0, 1, 2], [100, 60, 40])
    idx = resample_to_priors(y, np.array([0.5, 0.25, 0.25]), seed=0)
    counts = np.bincount(y[idx], minlength=3)
    assert counts.tolist() == [80, 40, 40]  # generated (40) limits the total to 160
    assert len(set(idx)) == len(idx)
    assert resample_to_priors(y, np.array([0.5, 0.25, 0.25]), seed=0).tolist() == idx.tolist()


def test_unbias_and_shares():
    one_class = np.eye(3)[[1, 1, 1, 1]]
    assert unbias(one_class) == 0.0
    spread = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    assert unbias(spread) == pytest.approx(2 / 3)
    assert class_shares(np.eye(3)[[0, 0, 2, 1]]).tolist() == [0.5, 0.25, 0.25]


def test_ood_detection_auroc_and_energy():
    assert detection_auroc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert detection_auroc(np.array([0.1, 0.2]), np.array([0.9, 0.8])) == 0.0
    logits = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    assert energy_score(logits) == pytest.approx([np.log(3), 10 + np.log(1 + 2 * np.exp(-10))])


def test_separation_of_two_known_clusters():
    features = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    y = np.array([0, 0, 1, 1])
    result = separation(features, y)
    assert result["intra_distance"] == pytest.approx(1.0)
    # inter distances: 10, sqrt(101), sqrt(101), 10 (each pair counted both ways)
    assert result["inter_distance"] == pytest.approx((20 + 2 * np.sqrt(101)) / 4)
    # silhouette per point: b = mean(10, sqrt 101), a = 1 -> (b - a) / b
    b = (10 + np.sqrt(101)) / 2
    assert result["silhouette"] == pytest.approx((b - 1) / b)
    assert result["separation_ratio"] == pytest.approx(result["inter_distance"])


def test_classification_report_by_hand():
    from avatar_type.evaluate.classification import classification_report

    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    probs = np.eye(3)[pred] * 0.8 + 0.2 / 3
    report = classification_report(probs, y)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report["per_class"]["real"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert report["per_class"]["drawing"]["precision"] == pytest.approx(2 / 3)
    assert report["balanced_accuracy"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    f1_drawing, f1_generated = 2 * (2 / 3) / (2 / 3 + 1), 2 * 0.5 / 1.5
    assert report["macro_f1"] == pytest.approx((0.5 + f1_drawing + f1_generated) / 3)


def test_permuted_outputs_fail_a_consistency_check():
    """A model whose output columns are in another class order cannot pass: the study's bug."""
    from avatar_type.evaluate.classification import classification_report

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    good = np.eye(3)[y] * 0.9 + 0.1 / 3
    assert classification_report(good, y)["macro_f1"] == 1.0
    permuted = good[:, [1, 2, 0]]  # alphabetical (drawing, generated, real) read as (real, ...)
    report = classification_report(permuted, y)
    assert report["macro_f1"] == 0.0 and report["balanced_accuracy"] == 0.0


def test_corruptions_are_deterministic_and_graded():
    from avatar_type.evaluate.corruptions import CORRUPTIONS, SEVERITIES, corrupt_all

    rng = np.random.default_rng(3)
    images = rng.integers(40, 200, (4, 32, 32, 3), dtype=np.uint8)
    for name, severities in SEVERITIES.items():
        assert name in CORRUPTIONS
        changes = []
        for severity in severities:
            a = corrupt_all(images, name, severity, seed=7)
            assert a.dtype == np.uint8 and a.shape == images.shape
            assert np.array_equal(a, corrupt_all(images, name, severity, seed=7))
            changes.append(np.abs(a.astype(int) - images).mean())
        assert changes == sorted(changes), (name, changes)  # stronger severity, bigger change
    # the study's settings are among the severities
    assert 15.0 in SEVERITIES["gaussian_noise"] and 5.0 in SEVERITIES["gaussian_blur"]
    assert 1.5 in SEVERITIES["brightness"] and 15.0 in SEVERITIES["rotation"]
    assert 30.0 in SEVERITIES["jpeg"]
    # noise of sigma 15 has the right strength
    flat = np.full((1, 64, 64, 3), 128, np.uint8)
    noisy = corrupt_all(flat, "gaussian_noise", 15.0, seed=1).astype(float)
    assert noisy.std() == pytest.approx(15.0, rel=0.05)
    assert corrupt_all(flat, "brightness", 1.5, seed=0).max() == 192
