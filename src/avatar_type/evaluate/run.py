"""Evaluate one trained model on its scenario: in-domain test, shared balanced test, OOD sets,
prior shift, robustness, calibration and embeddings, as one metrics dict plus per-image
probabilities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from avatar_type.evaluate import calibration, ood, prior_shift
from avatar_type.evaluate.classification import classification_report
from avatar_type.evaluate.corruptions import SEVERITIES
from avatar_type.evaluate.embedding import separation, tsne_2d
from avatar_type.evaluate.features import FeatureSource
from avatar_type.evaluate.predict import Outputs, probability_table
from avatar_type.labels import CLASSES, ood_set
from avatar_type.train.data import packed_at, row_positions, split_rows
from avatar_type.train.output import load_trained

# sets whose predictions are saved; val and unseen_val are kept for choices (temperature,
# ensemble subset, best model), the others only ever measure
EVALUATED_SETS = ("val", "test", "balanced_test", "unseen_val", "unseen_test")


@dataclass
class Evaluation:
    """One run's metrics, per-image probabilities (column ``set`` says which set) and t-SNE map."""

    metrics: dict
    probabilities: pd.DataFrame
    tsne: pd.DataFrame


def _priors_in_class_order(shares: Mapping[str, float]) -> np.ndarray:
    p = np.array([float(shares[c]) for c in CLASSES], dtype=float)
    return p / p.sum()


def _prior_shift(
    out: Outputs,
    y: np.ndarray,
    train_priors: np.ndarray,
    seed: int,
    priors: Mapping[str, Mapping[str, float]],
) -> dict:
    probs = out.probabilities()
    result = {}
    for name, shares in priors.items():
        target = _priors_in_class_order(shares)
        idx = prior_shift.resample_to_priors(y, target, seed)
        p, t = probs[idx], y[idx]
        estimated = prior_shift.em_priors(p, train_priors)
        result[name] = {
            "n": len(idx),
            "macro_f1": classification_report(p, t)["macro_f1"],
            "macro_f1_known_priors": classification_report(
                prior_shift.adjust_to_priors(p, train_priors, target), t
            )["macro_f1"],
            "macro_f1_em_priors": classification_report(
                prior_shift.adjust_to_priors(p, train_priors, estimated), t
            )["macro_f1"],
            "em_priors": dict(zip(CLASSES, np.round(estimated, 4).tolist(), strict=True)),
        }
    return result


def robustness_subset(y: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Positions of at most ``per_class`` images of each class (a seeded sample, in order):
    15 corrupted copies of every balanced-test image cost a large backbone minutes."""
    if per_class is None:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.nonzero(y == k)[0])[:per_class] for k in np.unique(y)]
    return np.sort(np.concatenate(keep))


def _robustness(source: FeatureSource, rows: np.ndarray, y: np.ndarray) -> dict:
    clean = float((source.outputs(source.clean(rows)).logits.argmax(1) == y).mean())
    accuracy = {}
    for name, severities in SEVERITIES.items():
        for severity in severities:
            out = source.outputs(source.corrupted(rows, name, severity))
            accuracy[f"{name}@{severity:g}"] = float((out.logits.argmax(1) == y).mean())
    mean = float(np.mean(list(accuracy.values())))
    return {
        "accuracy": accuracy,
        "mean_accuracy": mean,
        "clean_accuracy": clean,
        "n": len(rows),
        "mean_drop": clean - mean,
    }


def _ood(source: FeatureSource, split: pd.DataFrame, position: pd.Series, in_domain: Outputs):
    """Per OOD set: predicted-class shares, Unbias, confidence and detection AUROCs; also the
    logits per set, for abstention."""
    per_set, tables, logits = {}, [], {}
    for label, rows in split[split["split"] == "ood"].groupby("label"):
        out = source.outputs(source.clean(position.loc[rows["id"]].to_numpy()))
        probs = out.probabilities()
        per_set[ood_set(label)] = {
            "n": len(rows),
            "shares": dict(zip(CLASSES, ood.class_shares(probs).round(4).tolist(), strict=True)),
            "unbias": ood.unbias(probs),
            "mean_confidence": float(ood.max_softmax(probs).mean()),
            "auroc_max_softmax": ood.detection_auroc(
                ood.max_softmax(in_domain.probabilities()), ood.max_softmax(probs)
            ),
            "auroc_energy": ood.detection_auroc(
                ood.energy_score(in_domain.logits), ood.energy_score(out.logits)
            ),
        }
        tables.append(probability_table(rows["id"], rows["label"], probs).assign(set="ood"))
        logits[ood_set(label)] = out.logits
    summary = (
        {"sets": per_set, "unbias": float(np.mean([s["unbias"] for s in per_set.values()]))}
        if per_set
        else None
    )
    return summary, tables, logits


def _abstention(card_ood: dict, outputs: dict[str, Outputs], ood_logits: dict) -> dict:
    """Shares flagged unfamiliar at the card's threshold (fitted on val): false alarms on the
    in-domain test, detections on each OOD set. unseen_test holds in-domain classes from
    held-out sources, so its flag rate says how often new sources are abstained on, not how
    well OOD images are caught."""
    threshold = card_ood["threshold"]

    def rate(logits: np.ndarray) -> float:
        return float(ood.unfamiliar(logits, threshold).mean())

    result = {
        **card_ood,
        "false_alarm_rate": rate(outputs["test"].logits),
        "detection_rate": {name: rate(logits) for name, logits in ood_logits.items()},
    }
    if "unseen_test" in outputs:
        result["unseen_test_flag_rate"] = rate(outputs["unseen_test"].logits)
    return result


def _unseen(outputs: dict[str, Outputs], sets: dict, index: pd.DataFrame, seed: int) -> dict:
    """Held-out sources: classification on unseen_test, per-source accuracy and calibration
    (temperature fitted on unseen_val when it has images), plus the unseen_val scores used for
    choices."""
    rows, y = sets["unseen_test"]
    probs = outputs["unseen_test"].probabilities()
    correct = probs.argmax(1) == y
    per_source = (
        pd.DataFrame({"source": index["source"].to_numpy()[rows], "correct": correct})
        .groupby("source")["correct"]
        .agg(["size", "mean"])
    )
    report = {
        **classification_report(probs, y, seed=seed),
        "per_source": {
            name: {"n": int(r["size"]), "accuracy": round(float(r["mean"]), 4)}
            for name, r in per_source.iterrows()
        },
        "calibration": _calibration(
            outputs["unseen_test"], y, outputs.get("unseen_val"), sets.get("unseen_val")
        ),
    }
    return report


def _calibration(
    tested: Outputs, y: np.ndarray, fit_on: Outputs | None, fit_set: tuple | None
) -> dict:
    """Calibration of ``tested``, and after temperature scaling fitted on ``fit_on`` (rows and
    labels ``fit_set``) when there is such a set."""
    report = calibration.calibration_report(tested.probabilities(), y)
    if fit_on is None:
        return report
    temperature = calibration.fit_temperature(fit_on.logits, fit_set[1])
    scaled = calibration.calibration_report(tested.probabilities(temperature), y)
    return report | {"temperature": temperature} | {f"{k}_after_ts": v for k, v in scaled.items()}


def evaluate_run(
    model_dir: Path,
    pack_dir: Path,
    split_csv: Path,
    seed: int,
    prior_scenarios: Mapping[str, Mapping[str, float]],
    robustness: bool = True,
    robustness_per_class: int | None = None,
) -> Evaluation:
    """Metrics of one trained model, per-image probabilities of every evaluated set (val, test,
    balanced test, held-out sources, OOD) and a 2-D t-SNE map of its balanced-test features.

    ``prior_scenarios`` (name -> class shares) are the test priors of the prior-shift audit;
    robustness is measured on ``robustness_per_class`` balanced-test images per class (all
    when None)."""
    model, card = load_trained(model_dir)
    images, index = packed_at(pack_dir, card["preprocessing"]["img_size"])
    # a frozen random backbone is identified by the seed that drew it: the run's own
    source = FeatureSource(model, card, images, pack_dir, card.get("seed", seed))
    split = pd.read_csv(split_csv, keep_default_na=False)
    present = [n for n in EVALUATED_SETS if (split["split"] == n).any()]
    sets = {name: split_rows(index, split, name) for name in present}
    outputs = {name: source.outputs(source.clean(rows)) for name, (rows, _) in sets.items()}

    test_y, bal_y = (sets[n][1] for n in ("test", "balanced_test"))
    test_probs = outputs["test"].probabilities()
    bal_probs = outputs["balanced_test"].probabilities()
    counts = np.array([card["summary"]["train_class_counts"][c] for c in CLASSES], float)
    bal_features = outputs["balanced_test"].features

    metrics = {
        "test": classification_report(test_probs, test_y, seed=seed),
        "balanced": classification_report(bal_probs, bal_y, seed=seed),
        "calibration": _calibration(outputs["test"], test_y, outputs["val"], sets["val"]),
        "prior_shift": _prior_shift(
            outputs["balanced_test"], bal_y, counts / counts.sum(), seed, prior_scenarios
        ),
        "embedding": separation(bal_features, bal_y),
    }
    if "unseen_test" in outputs:
        metrics["unseen"] = _unseen(outputs, sets, index, seed)
    if "unseen_val" in outputs:
        val_probs = outputs["unseen_val"].probabilities()
        full = classification_report(val_probs, sets["unseen_val"][1])
        metrics["unseen_val"] = {k: full[k] for k in ("n", "accuracy", "macro_f1")}
    if robustness:
        pick = robustness_subset(bal_y, robustness_per_class, seed)
        metrics["robustness"] = _robustness(source, sets["balanced_test"][0][pick], bal_y[pick])
    position = row_positions(index)
    ood_summary, tables, ood_logits = _ood(source, split, position, outputs["test"])
    if ood_summary:
        metrics["ood"] = ood_summary
    if "ood" in card:  # older models have no threshold
        metrics["abstention"] = _abstention(card["ood"], outputs, ood_logits)

    for name in present:
        chosen = split[split["split"] == name]
        probs = outputs[name].probabilities()
        tables.append(probability_table(chosen["id"], chosen["label"], probs).assign(set=name))
    bal = split[split["split"] == "balanced_test"]
    x, y = tsne_2d(bal_features, seed).T
    tsne = pd.DataFrame(
        {"id": bal["id"].to_numpy(), "x": x, "y": y, "label": bal["label"].to_numpy()}
    )
    return Evaluation(metrics, pd.concat(tables, ignore_index=True), tsne)
