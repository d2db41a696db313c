"""evaluate_run end to end on a tiny trained model: every metric family, in class order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from train_fixtures import TEST_PREPROCESSING, synthetic_image

from avatar_type.data import packed
from avatar_type.data.preprocessing import write_preprocessing
from avatar_type.evaluate.corruptions import SEVERITIES
from avatar_type.evaluate.features import FeatureSource
from avatar_type.evaluate.run import evaluate_run
from avatar_type.labels import CLASSES
from avatar_type.models.registry import build_model
from avatar_type.train.config import TrainConfig
from avatar_type.train.loop import train_run
from avatar_type.viz import eval_plots

pytest_plugins = ("train_fixtures",)
PER_CLASS = {"drawing": 60, "real": 36, "generated": 36}
PRIORS = {
    "balanced": {c: 1 for c in CLASSES},
    "skewed": {"drawing": 0.8, "real": 0.1, "generated": 0.1},
}


@pytest.fixture
def evaluated(isolated, tiny_data):
    rng = np.random.default_rng(0)
    labels = [c for c, n in PER_CLASS.items() for _ in range(n)] + ["ood:grey"] * 10
    images = packed.create(isolated / "pack2", len(labels), 32)
    rows = []
    for i, label in enumerate(labels):
        if label == "ood:grey":
            images[i] = rng.integers(100, 140, (32, 32, 3), dtype=np.uint8)
        else:
            images[i] = synthetic_image(label, rng)
        rows.append({"id": f"img-{i:04d}", "label": label, "source": f"{label}-{i % 2}"})
    images.flush()
    index = pd.DataFrame(rows)
    index.to_csv(isolated / "pack2" / packed.INDEX, index=False)
    write_preprocessing(isolated / "pack2", TEST_PREPROCESSING)
    split = []
    for label, group in index.groupby("label", sort=False):
        for j, image_id in enumerate(group["id"]):
            if label.startswith("ood:"):
                name = "ood"
            else:
                name = ["balanced_test"] * 8 + ["val"] * 8 + ["test"] * 8
                name += ["unseen_val"] * 2 + ["unseen_test"] * 4
                name = name[j] if j < len(name) else "train"
            split.append({"id": image_id, "label": label, "unit": image_id, "split": name})
    pd.DataFrame(split).to_csv(isolated / "split2.csv", index=False)
    cfg = TrainConfig(arch="detector_cnn", img_size=32, epochs=3, batch_size=16, lr=0.003)
    rt = tiny_data.runtime("eval")
    train_run(cfg, "tiny", "tiny", isolated / "pack2", isolated / "split2.csv", rt)
    return evaluate_run(
        rt.model_dir, isolated / "pack2", isolated / "split2.csv", seed=1, prior_scenarios=PRIORS
    )


def test_every_metric_family_is_reported(evaluated):
    metrics, table = evaluated.metrics, evaluated.probabilities
    assert metrics["test"]["n"] == 24 and metrics["balanced"]["n"] == 24
    assert metrics["balanced"]["macro_f1"] > 0.6  # the synthetic classes are easy
    for key in ("ece", "ece_10", "mce", "nll", "brier", "ece_after_ts", "temperature"):
        assert key in metrics["calibration"]
    assert set(metrics["prior_shift"]) == set(PRIORS)
    expected = {f"{n}@{s:g}" for n, sev in SEVERITIES.items() for s in sev}
    assert set(metrics["robustness"]["accuracy"]) == expected
    assert metrics["robustness"]["clean_accuracy"] == metrics["balanced"]["accuracy"]
    grey = metrics["ood"]["sets"]["grey"]
    assert grey["n"] == 10 and 0 <= grey["unbias"] <= 2 / 3 + 1e-9
    assert sum(grey["shares"].values()) == pytest.approx(1.0)
    assert "silhouette" in metrics["embedding"]
    assert set(table["set"]) == {"val", "test", "balanced_test", "unseen_val", "unseen_test", "ood"}


def test_abstention_is_measured_at_the_cards_threshold(evaluated):
    abstention = evaluated.metrics["abstention"]
    expected = {"score": "energy", "tpr": 0.95, "fitted_on": "val"}
    assert {k: abstention[k] for k in expected} == expected
    assert set(abstention["detection_rate"]) == {"grey"}
    # shares flagged of the 24 test, 12 unseen_test and 10 grey OOD images
    for key, n in (("false_alarm_rate", 24), ("unseen_test_flag_rate", 12)):
        assert abstention[key] * n == pytest.approx(round(abstention[key] * n))
    assert abstention["detection_rate"]["grey"] * 10 == pytest.approx(
        round(abstention["detection_rate"]["grey"] * 10)
    )


def test_unseen_sources_are_measured_apart(evaluated):
    metrics, table = evaluated.metrics, evaluated.probabilities
    unseen = metrics["unseen"]
    assert unseen["n"] == 12 and metrics["unseen_val"]["n"] == 6
    test = table[table["set"] == "unseen_test"]
    assert unseen["accuracy"] == pytest.approx((test["predicted"] == test["label"]).mean())
    # per source: the two sources of each class, weighted back to the overall accuracy
    per_source = unseen["per_source"]
    assert sum(s["n"] for s in per_source.values()) == 12
    overall = sum(s["n"] * s["accuracy"] for s in per_source.values()) / 12
    assert overall == pytest.approx(unseen["accuracy"], abs=1e-3)
    assert set(unseen["per_class"]) == set(CLASSES)
    for key in ("ece", "temperature", "ece_after_ts"):
        assert key in unseen["calibration"]


def test_tsne_maps_every_balanced_test_image(evaluated):
    tsne = evaluated.tsne
    balanced = evaluated.probabilities.query("set == 'balanced_test'")
    assert list(tsne["id"]) == list(balanced["id"])
    assert list(tsne["label"]) == list(balanced["label"])
    assert np.isfinite(tsne[["x", "y"]].to_numpy()).all() and tsne["x"].std() > 0


def test_plot_tables_follow_the_metrics(evaluated, isolated):
    metrics, table = evaluated.metrics, evaluated.probabilities
    robustness = eval_plots.robustness_rows(metrics["robustness"])
    assert robustness.loc[0, "jpeg"] == metrics["robustness"]["clean_accuracy"]
    assert robustness.loc[2, "jpeg"] == metrics["robustness"]["accuracy"]["jpeg@30"]
    bias = eval_plots.bias_rows(table)
    assert len(bias) == 10 and set(bias["ood_set"]) == {"grey"}
    confusion = eval_plots.confusion_rows(table, "balanced_test")
    counts = pd.crosstab(confusion["actual"], confusion["predicted"])
    assert counts.to_numpy().sum() == metrics["balanced"]["n"]
    eval_plots.plot_run("tiny", metrics, table, evaluated.tsne, isolated / "run.png")
    assert (isolated / "run.png").stat().st_size > 10_000


def test_probability_table_names_columns_by_class(evaluated):
    table = evaluated.probabilities
    columns = [f"p_{c}" for c in CLASSES]
    assert np.allclose(table[columns].sum(axis=1), 1.0)
    argmax = np.array(CLASSES)[table[columns].to_numpy().argmax(axis=1)]
    assert (table["predicted"] == argmax).all()
    in_domain = table[table["set"] == "balanced_test"]
    assert (in_domain["predicted"] == in_domain["label"]).mean() > 0.6


def _frozen_source(tiny_data, mode: str) -> FeatureSource:
    model = build_model("detector_cnn", "none", img_size=32)
    card = {
        "arch": "detector_cnn",
        "params": {"mode": mode, "weights": "none"},
        "preprocessing": {"img_size": 32, "mean": [0.5] * 3, "std": [0.25] * 3},
    }
    images, _ = packed.load(tiny_data.pack)
    return FeatureSource(model.eval(), card, images, tiny_data.pack, seed=3)


def test_frozen_backbone_features_are_shared_across_scenarios(tiny_data, monkeypatch):
    rows = np.arange(5)
    first = _frozen_source(tiny_data, "frozen")
    clean, noisy = first.clean(rows), first.corrupted(rows, "gaussian_noise", 15.0)
    assert not np.allclose(clean, noisy)

    # another scenario's evaluation of the same backbone never runs it on these images again
    second = _frozen_source(tiny_data, "linear_probe")
    calls = []
    monkeypatch.setattr(second, "_embed", lambda images, desc: calls.append(desc))
    second._check_matches = lambda features: None
    assert np.array_equal(second.clean(rows), clean)
    assert np.array_equal(second.corrupted(rows, "gaussian_noise", 15.0), noisy)
    assert calls == []


def test_a_trained_backbone_never_reads_shared_features(tiny_data):
    source = _frozen_source(tiny_data, "full")
    assert source.shared_key is None
    assert np.allclose(source.clean(np.arange(3)), source.clean(np.arange(3)))


def test_stale_shared_features_are_refused(tiny_data):
    source = _frozen_source(tiny_data, "frozen")
    source.clean(np.arange(2))
    stale = _frozen_source(tiny_data, "frozen")
    with torch.no_grad():
        for p in stale.model.parameters():
            p.add_(1.0)
    with pytest.raises(ValueError, match="do not match"):
        stale.clean(np.arange(2))


def test_robustness_subset_takes_at_most_n_per_class_seeded():
    from avatar_type.evaluate.run import robustness_subset

    y = np.array([0] * 10 + [1] * 3 + [2] * 7)
    pick = robustness_subset(y, 4, seed=0)
    assert np.bincount(y[pick]).tolist() == [4, 3, 4]
    assert list(pick) == sorted(pick) and list(pick) == list(robustness_subset(y, 4, seed=0))
    assert list(robustness_subset(y, 4, seed=1)) != list(pick)
    assert list(robustness_subset(y, None, seed=0)) == list(range(20))
