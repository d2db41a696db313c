"""Group-aware splits per imbalance scenario, with one balanced test set shared by all scenarios.

Images that share a group (one identity, one video, one group photo) or a near-duplicate cluster
are merged into one unit and always land in the same split. The shared balanced test set and the
out-of-domain sets are chosen before any scenario and are identical across scenarios; each
scenario then draws train/val/test from the rest in its own class proportions. Selections follow
one seeded order of units, so scenarios differ only where their proportions differ. A unit that
holds an out-of-domain image is out-of-domain as a whole: its in-domain images are left unused,
so an in-domain near-duplicate of an OOD image can never leak into training.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from avatar_type.labels import CLASSES, is_ood

SPLITS = ("train", "val", "test", "balanced_test", "ood")


def split_units(index: pd.DataFrame) -> np.ndarray:
    """Union of ``group`` and ``dup_group``: a unit id per row (connected components)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for group, dup in zip(index["group"], index["dup_group"], strict=True):
        a, b = root("g:" + group), root("d:" + dup)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([root("g:" + g) for g in index["group"]])


def _unit_table(index: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Units with their size, majority label and a seeded random rank."""
    units = pd.DataFrame({"unit": split_units(index), "label": index["label"]})
    table = units.groupby("unit").agg(
        size=("label", "size"),
        label=("label", lambda s: s.value_counts().index[0]),
        pure=("label", lambda s: s.nunique() == 1),
        ood=("label", lambda s: any(is_ood(x) for x in s)),
    )
    table = table.sort_index()
    table["rank"] = np.random.default_rng(seed).permutation(len(table))
    return table.sort_values("rank")


def _take(table: pd.DataFrame, target: int) -> list[str]:
    """Units in rank order whose sizes add up to at most ``target`` (skipping ones too big)."""
    chosen, total = [], 0
    for unit, size in zip(table.index, table["size"], strict=True):
        if total >= target:
            break
        if total + size <= target:
            chosen.append(unit)
            total += size
    return chosen


def scenario_targets(
    available: Mapping[str, int], shares: Mapping[str, float] | str, max_images: int | None = None
) -> dict[str, int]:
    """Per-class image counts for a scenario: the largest set with these shares that fits."""
    if shares == "natural":
        targets = dict(available)
        total = sum(targets.values())
        if max_images and total > max_images:
            targets = {c: int(n * max_images / total) for c, n in targets.items()}
        return targets
    if not isinstance(shares, Mapping) or set(shares) != set(CLASSES):
        raise ValueError(f"scenario shares must give {', '.join(CLASSES)} (or be 'natural')")
    weights = {c: float(shares[c]) for c in CLASSES}
    if any(w <= 0 for w in weights.values()):
        raise ValueError(f"scenario shares must be positive: {dict(shares)}")
    norm = sum(weights.values())
    weights = {c: w / norm for c, w in weights.items()}
    total = min(available[c] / weights[c] for c in CLASSES)
    if max_images:
        total = min(total, max_images)
    return {c: int(total * weights[c]) for c in CLASSES}


def make_split(
    index: pd.DataFrame,
    shares: Mapping[str, float] | str,
    seed: int,
    balanced_test_fraction: float,
    fractions: Mapping[str, float],
    max_images: int | None = None,
) -> pd.DataFrame:
    """Assign every row of ``index`` to a split (or to none: column ``split`` empty)."""
    fr = {k: float(fractions[k]) for k in ("train", "val", "test")}
    if any(v < 0 for v in fr.values()) or abs(sum(fr.values()) - 1) > 1e-6:
        raise ValueError(f"split fractions must be non-negative and sum to 1: {dict(fractions)}")
    if not 0 < balanced_test_fraction < 1:
        raise ValueError(f"balanced_test_fraction must be in (0, 1), got {balanced_test_fraction}")
    units = split_units(index)
    table = _unit_table(index, seed)
    assignment: dict[str, str] = {}

    ood_units = table[table["ood"]]
    assignment.update({u: "ood" for u in ood_units.index})
    indomain = table.drop(ood_units.index)
    missing = [c for c in CLASSES if c not in set(indomain["label"])]
    if missing:
        raise ValueError(f"no in-domain images of class(es) {', '.join(missing)}")

    counts = indomain.groupby("label")["size"].sum()
    n_bal = int(balanced_test_fraction * counts[list(CLASSES)].min())
    pure = {c: indomain[(indomain["label"] == c) & indomain["pure"]] for c in CLASSES}
    while True:  # whole units may undershoot a target: lower it until every class reaches it
        taken = {c: _take(pure[c], n_bal) for c in CLASSES}
        reached = {c: int(pure[c].loc[taken[c], "size"].sum()) for c in CLASSES}
        if len(set(reached.values())) == 1:
            break
        n_bal = min(reached.values())
    for c in CLASSES:
        assignment.update({u: "balanced_test" for u in taken[c]})

    pool = indomain.drop([u for u in indomain.index if u in assignment])
    available = pool.groupby("label")["size"].sum().reindex(list(CLASSES), fill_value=0)
    targets = scenario_targets(available.to_dict(), shares, max_images)
    for c in CLASSES:
        chosen = pool.loc[_take(pool[pool["label"] == c], targets[c])]
        n = int(chosen["size"].sum())
        test = _take(chosen, round(fr["test"] * n))
        rest = chosen.drop(test)
        val = _take(rest, round(fr["val"] * n))
        assignment.update({u: "test" for u in test})
        assignment.update({u: "val" for u in val})
        assignment.update({u: "train" for u in rest.drop(val).index})

    out = pd.DataFrame(
        {
            "id": index["id"],
            "label": index["label"],
            "unit": units,
            "split": [
                "" if a == "ood" and not is_ood(label) else a
                for a, label in zip(
                    (assignment.get(u, "") for u in units), index["label"], strict=True
                )
            ],
        }
    )
    return out
