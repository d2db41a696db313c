"""Ensembles of the trained models of one scenario, from their saved per-image probabilities.

Three combinations: soft voting (mean probability), weighted soft voting with weight
accuracy x (1 - ECE) measured on validation, and the best subset of models chosen on validation.
Every choice is made on one validation set: ``unseen_val`` (held-out sources) where the split
has it, since in-source validation favours the model that memorises its sources, else ``val``.
The test sets (balanced, held-out sources) only score the choice. Diversity is the
Pearson correlation of the members' correctness on the balanced test (Kuncheva and Whitaker 2003):
members that err on the same images add little to each other.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from avatar_type.errors import InputError
from avatar_type.evaluate.calibration import ece
from avatar_type.evaluate.predict import PROB_COLUMNS
from avatar_type.labels import CLASS_TO_INDEX, CLASSES

SCORED_SETS = ("val", "test", "balanced_test")
UNSEEN_SETS = ("unseen_val", "unseen_test")  # scored too where the split holds sources out


@dataclass
class Predictions:
    """Aligned probabilities of several models: ``probs[model][set]`` is (N, K); ``y[set]`` (N,)."""

    probs: dict[str, dict[str, np.ndarray]]
    y: dict[str, np.ndarray]

    @property
    def models(self) -> list[str]:
        return list(self.probs)

    @property
    def sets(self) -> list[str]:
        return list(self.y)

    @property
    def choice_set(self) -> str:
        """Where choices are made: held-out-source validation when there is one."""
        return "unseen_val" if "unseen_val" in self.y else "val"


def load_predictions(tables: dict[str, pd.DataFrame]) -> Predictions:
    """Align the probability tables of the evaluate stage (one per model) image by image."""
    if not tables:
        raise ValueError("an ensemble needs at least one model's predictions")
    probs: dict[str, dict[str, np.ndarray]] = {m: {} for m in tables}
    y = {}
    present = [s for s in UNSEEN_SETS if all((t["set"] == s).any() for t in tables.values())]
    for set_name in (*SCORED_SETS, *present):
        reference = None
        for model, table in tables.items():
            chosen = table[table["set"] == set_name].sort_values("id")
            if chosen.empty:
                raise InputError(f"{model}: no predictions for the {set_name} set")
            if reference is None:
                reference = chosen["id"].to_numpy()
                y[set_name] = chosen["label"].map(CLASS_TO_INDEX).to_numpy()
            elif not np.array_equal(chosen["id"].to_numpy(), reference):
                raise InputError(f"{model}: its {set_name} images differ from the other models'")
            probs[model][set_name] = chosen[PROB_COLUMNS].to_numpy(dtype=float)
    return Predictions(probs, y)


def scores(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 and balanced accuracy of argmax predictions."""
    pred = probs.argmax(axis=1)
    labels = list(range(len(CLASSES)))
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
    }


def soft_vote(members: list[np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted mean of the members' probabilities (equal weights by default)."""
    w = np.ones(len(members)) if weights is None else np.asarray(weights, float)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"ensemble weights must be non-negative and not all zero, got {w}")
    return np.tensordot(w / w.sum(), np.stack(members), axes=1)


def reliability_weights(preds: Predictions, models: list[str]) -> np.ndarray:
    """accuracy x (1 - ECE) of each model on the choice set."""
    name = preds.choice_set
    y = preds.y[name]
    return np.array(
        [
            accuracy_score(y, preds.probs[m][name].argmax(1)) * (1 - ece(preds.probs[m][name], y))
            for m in models
        ]
    )


def best_subset(preds: Predictions, max_size: int, exhaustive_up_to: int = 12) -> list[str]:
    """The subset of at most ``max_size`` models whose soft vote has the best macro-F1 on the
    choice set: every subset when there are few models, greedy forward selection otherwise.
    Ties go to the smaller subset, then to the order of the model list."""
    models, name = preds.models, preds.choice_set
    y = preds.y[name]

    def f1(subset: tuple[str, ...]) -> float:
        return scores(soft_vote([preds.probs[m][name] for m in subset]), y)["macro_f1"]

    if len(models) <= exhaustive_up_to:
        candidates = (
            c
            for k in range(1, min(max_size, len(models)) + 1)
            for c in itertools.combinations(models, k)
        )
        return list(max(candidates, key=lambda c: (f1(c), -len(c))))
    chosen: list[str] = []
    best = -1.0
    while len(chosen) < max_size:
        score, pick = max((f1((*chosen, m)), m) for m in models if m not in chosen)
        if score <= best:
            break
        chosen.append(pick)
        best = score
    return chosen


def correctness_correlation(preds: Predictions, set_name: str = "balanced_test") -> pd.DataFrame:
    """Pairwise Pearson correlation of the models' per-image correctness (1 right, 0 wrong).
    A model right (or wrong) on every image has no variance: its correlations are NaN."""
    y = preds.y[set_name]
    correct = pd.DataFrame(
        {m: (preds.probs[m][set_name].argmax(1) == y).astype(float) for m in preds.models}
    )
    return correct.corr()


def disagreement(preds: Predictions, set_name: str = "balanced_test") -> pd.DataFrame:
    """Pairwise share of images on which two models predict different classes."""
    labels = {m: preds.probs[m][set_name].argmax(1) for m in preds.models}
    return pd.DataFrame(
        {a: {b: float((labels[a] != labels[b]).mean()) for b in preds.models} for a in preds.models}
    )


def ensemble_report(preds: Predictions, max_size: int) -> dict:
    """Single models and the three ensembles scored on every set, gains and diversity."""
    models = preds.models
    weights = reliability_weights(preds, models)
    subset = best_subset(preds, max_size)
    combos = {
        "soft_vote": (models, None),
        "weighted_vote": (models, weights),
        "best_subset": (subset, None),
    }
    result: dict = {"chosen_on": preds.choice_set, "models": {}, "ensembles": {}}
    for m in models:
        result["models"][m] = {s: scores(preds.probs[m][s], preds.y[s]) for s in preds.sets}
    for name, (members, w) in combos.items():
        result["ensembles"][name] = {
            "members": list(members),
            **(
                {"weights": dict(zip(members, np.round(w, 6).tolist(), strict=True))}
                if w is not None
                else {}
            ),
            **{
                s: scores(soft_vote([preds.probs[m][s] for m in members], w), preds.y[s])
                for s in preds.sets
            },
        }

    def balanced_f1(entry: dict) -> float:
        return entry["balanced_test"]["macro_f1"]

    best_on_test = max(models, key=lambda m: balanced_f1(result["models"][m]))
    best_on_val = max(models, key=lambda m: result["models"][m]["val"]["macro_f1"])
    result["best_single"] = {
        "by_balanced_test": best_on_test,
        "by_val": best_on_val,
        "balanced_macro_f1": balanced_f1(result["models"][best_on_test]),
    }
    # gain over the best single model on the balanced test (a bar the ensemble chose blind)
    result["gain_balanced_macro_f1"] = {
        name: balanced_f1(entry) - balanced_f1(result["models"][best_on_test])
        for name, entry in result["ensembles"].items()
    }
    if "unseen_test" in preds.sets:

        def unseen_f1(entry: dict) -> float:
            return entry["unseen_test"]["macro_f1"]

        by_choice = max(models, key=lambda m: result["models"][m]["unseen_val"]["macro_f1"])
        result["best_single"].update(
            by_unseen_val=by_choice, unseen_macro_f1=unseen_f1(result["models"][by_choice])
        )
        # the honest comparison: the model the same choice set would pick, on unseen sources
        result["gain_unseen_macro_f1"] = {
            name: unseen_f1(entry) - unseen_f1(result["models"][by_choice])
            for name, entry in result["ensembles"].items()
        }
    corr = correctness_correlation(preds).to_numpy()
    upper = corr[np.triu_indices(len(models), 1)]
    dis = disagreement(preds).to_numpy()[np.triu_indices(len(models), 1)]
    result["diversity"] = {
        "mean_correctness_correlation": float(np.nanmean(upper))
        if np.isfinite(upper).any()
        else None,
        "mean_disagreement": float(dis.mean()) if len(dis) else 0.0,
    }
    return result
