"""Group-aware splits per imbalance scenario, with one balanced test set shared by all scenarios.

Images that share a group (one identity, one video, one group photo) or a near-duplicate cluster
are merged into one unit and always land in the same split. The shared balanced test set and the
out-of-domain sets are chosen before any scenario and are identical across scenarios; each
scenario then draws train/val/test from the rest in its own class proportions. Selections follow
one seeded order of units, so scenarios differ only where their proportions differ; each unit's
place in it comes from a hash of the unit and the seed, so adding a source does not reshuffle the
units already there. A unit that holds an out-of-domain image is out-of-domain as a whole: its
in-domain images are left unused, so an in-domain near-duplicate of an OOD image can never leak
into training.

Whole sources named in ``unseen`` are held out before anything else, as ``unseen_val`` (for
choices only) and ``unseen_test`` (never used for a choice), identical across scenarios: they
measure performance on sources no model trained on. As with OOD, a unit that holds an image of
a held-out source is held out as a whole, and its images of other sources are left unused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from avatar_type.errors import InputError, ParamsError
from avatar_type.labels import CLASSES, is_ood

SPLITS = ("train", "val", "test", "balanced_test", "unseen_val", "unseen_test", "ood")
UNSEEN_SPLITS = ("unseen_val", "unseen_test")


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


def unseen_sources(unseen: Mapping[str, Mapping[str, list[str]]] | None) -> dict[str, str]:
    """Source name -> ``unseen_val`` / ``unseen_test`` from the ``split.unseen`` param
    ({val: {class: [sources]}, test: {class: [sources]}}); a source may be held out once."""
    chosen: dict[str, str] = {}
    for part, per_class in (unseen or {}).items():
        if part not in ("val", "test"):
            raise ParamsError(f"split.unseen: unknown part {part!r}; expected val and test")
        for label, names in (per_class or {}).items():
            if label not in CLASSES:
                raise ParamsError(f"split.unseen.{part}: unknown class {label!r}")
            for name in names or []:
                if name in chosen:
                    raise ParamsError(f"split.unseen: source {name!r} is held out twice")
                chosen[name] = f"unseen_{part}"
    return chosen


def _unit_table(index: pd.DataFrame, seed: int, held_out: Mapping[str, str]) -> pd.DataFrame:
    """Units with their size, majority label, held-out part (or "") and a seeded random rank."""
    sources = index["source"] if "source" in index else pd.Series("", index=index.index)
    units = pd.DataFrame(
        {"unit": split_units(index), "label": index["label"], "held": sources.map(held_out)}
    )
    table = units.groupby("unit").agg(
        size=("label", "size"),
        label=("label", lambda s: s.value_counts().index[0]),
        pure=("label", lambda s: s.nunique() == 1),
        ood=("label", lambda s: any(is_ood(x) for x in s)),
        held=("held", lambda s: s.dropna().min() if s.notna().any() else ""),
    )
    table["rank"] = [unit_rank(unit, seed) for unit in table.index]
    return table.sort_values("rank")


def unit_rank(unit: str, seed: int) -> int:
    """A unit's place in the seeded order, from the unit and the seed alone: adding or removing
    other units (a new source, a source held out) leaves the order of the rest as it was, so a
    data change moves only the units whose split it must change."""
    digest = hashlib.sha256(f"{seed}\0{unit}".encode()).digest()
    return int.from_bytes(digest[:7], "big")  # below 2**56: an exact int64


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
        raise ParamsError(f"scenario shares must give {', '.join(CLASSES)} (or be 'natural')")
    weights = {c: float(shares[c]) for c in CLASSES}
    if any(w <= 0 for w in weights.values()):
        raise ParamsError(f"scenario shares must be positive: {dict(shares)}")
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
    unseen: Mapping[str, Mapping[str, list[str]]] | None = None,
) -> pd.DataFrame:
    """Assign every row of ``index`` to a split (or to none: column ``split`` empty)."""
    fr = {k: float(fractions[k]) for k in ("train", "val", "test")}
    if any(v < 0 for v in fr.values()) or abs(sum(fr.values()) - 1) > 1e-6:
        raise ParamsError(f"split fractions must be non-negative and sum to 1: {dict(fractions)}")
    if not 0 < balanced_test_fraction < 1:
        raise ParamsError(f"balanced_test_fraction must be in (0, 1), got {balanced_test_fraction}")
    units = split_units(index)
    held_out = unseen_sources(unseen)
    table = _unit_table(index, seed, held_out)
    assignment: dict[str, str] = {}

    ood_units = table[table["ood"]]
    assignment.update({u: "ood" for u in ood_units.index})
    held_units = table[~table["ood"] & (table["held"] != "")]
    assignment.update(dict(held_units["held"]))
    indomain = table.drop(ood_units.index).drop(held_units.index)
    missing = [c for c in CLASSES if c not in set(indomain["label"])]
    if missing:
        raise InputError(f"no in-domain images of class(es) {', '.join(missing)}")

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

    sources = index["source"] if "source" in index else pd.Series("", index=index.index)

    def final(part: str, label: str, source: str) -> str:
        """Images that only share a unit with an OOD or held-out image are left unused."""
        if part == "ood" and not is_ood(label):
            return ""
        if part in UNSEEN_SPLITS and (is_ood(label) or held_out.get(source) != part):
            return ""
        return part

    return pd.DataFrame(
        {
            "id": index["id"],
            "label": index["label"],
            "unit": units,
            "split": [
                final(assignment.get(u, ""), label, source)
                for u, label, source in zip(units, index["label"], sources, strict=True)
            ],
        }
    )


def split_summary(
    split: pd.DataFrame,
    index: pd.DataFrame,
    unseen: Mapping[str, Mapping[str, list[str]]] | None = None,
) -> dict:
    """Images per split and class (OOD per set), the held-out sources with their image counts,
    and the named held-out sources that the data does not have (an optional source not fetched)."""
    counts: dict = {}
    for name in SPLITS:
        rows = split[split["split"] == name]
        if name == "ood":
            counts[name] = {
                k.split(":", 1)[1]: int(v) for k, v in rows["label"].value_counts().items()
            }
        else:
            counts[name] = {c: int((rows["label"] == c).sum()) for c in CLASSES}
    counts["unused"] = int(((split["split"] == "") & ~split["label"].map(is_ood)).sum())
    counts["largest_unit"] = int(split.groupby("unit").size().max())
    source = split["id"].map(dict(zip(index["id"], index["source"], strict=True)))
    present = set(index["source"])
    counts["unseen_sources"] = {
        part: {
            label: {
                name: int(((source == name) & (split["split"] == f"unseen_{part}")).sum())
                for name in names or []
                if name in present
            }
            for label, names in (per_class or {}).items()
        }
        for part, per_class in (unseen or {}).items()
    }
    counts["unseen_missing"] = sorted(set(unseen_sources(unseen)) - present)
    label_of = index.groupby("source")["label"].agg(lambda s: s.value_counts().index[0])
    wrong = [
        f"{name} (its images are {label_of[name]}, listed under {label})"
        for per_class in (unseen or {}).values()
        for label, names in (per_class or {}).items()
        for name in names or []
        if name in present and label_of[name] != label
    ]
    if wrong:
        raise ParamsError(f"split.unseen lists sources under the wrong class: {'; '.join(wrong)}")
    return counts
