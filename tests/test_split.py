"""Split invariants on a synthetic index: groups and near-duplicate clusters never straddle splits,
the balanced test and OOD sets are shared by all scenarios, class shares follow the scenario."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from avatar_type.data.split import SPLITS, make_split, scenario_targets, split_units
from avatar_type.labels import CLASSES, is_ood

FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
BT_FRACTION = 0.2
SEED = 42
SCENARIOS = {
    "balanced": {"drawing": 1, "real": 1, "generated": 1},
    "d50": {"drawing": 0.5, "real": 0.25, "generated": 0.25},
    "d70": {"drawing": 0.7, "real": 0.15, "generated": 0.15},
    "d80": {"drawing": 0.8, "real": 0.1, "generated": 0.1},
    "natural": "natural",
}


class IndexBuilder:
    """Rows with id, label, group and dup_group (a cluster's first id, as aggregate writes it)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.counter = itertools.count()

    def group(self, label: str, size: int) -> list[str]:
        gid = f"{label}/g{next(self.counter)}"
        ids = []
        for _ in range(size):
            image_id = f"img{next(self.counter)}"
            self.rows.append({"id": image_id, "label": label, "group": gid, "dup_group": image_id})
            ids.append(image_id)
        return ids

    def singletons(self, label: str, n: int) -> list[str]:
        return [self.group(label, 1)[0] for _ in range(n)]

    def link(self, ids: list[str]) -> None:
        """Make ``ids`` one near-duplicate cluster (whatever their groups)."""
        for row in self.rows:
            if row["id"] in ids:
                row["dup_group"] = ids[0]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def synthetic_index() -> pd.DataFrame:
    """real 60, drawing 90, generated 50 in-domain images; 10 OOD images in two sets."""
    b = IndexBuilder()
    # real: 30 singletons, 5 groups of 3, 3 pairs, 9 singletons in near-dup clusters
    b.singletons("real", 30)
    triples = [b.group("real", 3) for _ in range(5)]
    for _ in range(3):
        b.group("real", 2)
    linked = b.singletons("real", 9)
    b.link(linked[0:2])
    b.link(linked[2:5])
    b.link([triples[0][0], linked[5]])  # a cluster that joins a 3-image group and a singleton
    b.link([triples[1][2], triples[2][1], linked[6]])  # two groups and a singleton
    # drawing: 60 singletons, 6 groups of 4, 6 singletons in 3 near-dup pairs
    b.singletons("drawing", 60)
    for _ in range(6):
        b.group("drawing", 4)
    pairs = b.singletons("drawing", 6)
    for k in range(0, 6, 2):
        b.link(pairs[k : k + 2])
    # generated: 30 singletons, 4 pairs, 2 triples, 6 singletons in 2 near-dup triples
    b.singletons("generated", 30)
    for _ in range(4):
        b.group("generated", 2)
    for _ in range(2):
        b.group("generated", 3)
    trip = b.singletons("generated", 6)
    b.link(trip[:3])
    b.link(trip[3:])
    # out-of-domain sets, one with a group and one with a near-duplicate pair
    b.group("ood:animals", 2)
    b.singletons("ood:animals", 4)
    objects = b.singletons("ood:objects", 4)
    b.link(objects[:2])
    return b.frame()


@pytest.fixture(scope="module")
def index() -> pd.DataFrame:
    return synthetic_index()


@pytest.fixture(scope="module")
def splits(index) -> dict[str, pd.DataFrame]:
    return {
        name: make_split(index, shares, SEED, BT_FRACTION, FRACTIONS)
        for name, shares in SCENARIOS.items()
    }


def test_synthetic_index_is_as_designed(index):
    counts = index["label"].value_counts()
    assert counts["real"] == 60 and counts["drawing"] == 90 and counts["generated"] == 50
    assert counts["ood:animals"] == 6 and counts["ood:objects"] == 4
    assert index["id"].is_unique


def test_split_units_join_groups_and_clusters():
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e", "f"],
            "group": ["g1", "g1", "g2", "g3", "g4", "g5"],
            "dup_group": ["a", "b", "b", "d", "d", "f"],  # b~c joins g1-g2; d~e joins g3-g4
            "label": ["real"] * 6,
        }
    )
    units = split_units(frame)
    assert units[0] == units[1] == units[2]
    assert units[3] == units[4]
    assert len({units[0], units[3], units[5]}) == 3


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_rows_and_values(index, splits, scenario):
    out = splits[scenario]
    assert list(out["id"]) == list(index["id"])
    assert list(out["label"]) == list(index["label"])
    assert set(out["split"]) <= {*SPLITS, ""}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("key", ["unit", "group", "dup_group"])
def test_nothing_straddles_splits(index, splits, scenario, key):
    out = splits[scenario].assign(group=index["group"], dup_group=index["dup_group"])
    per_key = out.groupby(key)["split"].nunique()
    assert (per_key == 1).all(), per_key[per_key > 1]


def test_balanced_test_is_shared_and_balanced(index, splits):
    sets = {
        name: frozenset(out.loc[out["split"] == "balanced_test", "id"])
        for name, out in splits.items()
    }
    assert len(set(sets.values())) == 1
    out = splits["balanced"]
    bt = out[out["split"] == "balanced_test"]
    counts = bt["label"].value_counts()
    n_bal = int(BT_FRACTION * 50)  # of the weakest class (generated, 50 images)
    assert {c: counts.get(c, 0) for c in CLASSES} == {c: n_bal for c in CLASSES}
    assert not any(index.set_index("id").loc[list(bt["id"]), "label"].map(is_ood))


def test_impure_unit_never_in_balanced_test():
    b = IndexBuilder()
    for c in CLASSES:
        b.singletons(c, 10)
    mixed = [b.singletons("real", 1)[0], b.singletons("drawing", 1)[0]]
    b.link(mixed)  # a real and a drawing image that are near-duplicates: one impure unit
    for seed in range(10):
        # a balanced test fraction of 0.9 takes nearly every pure unit of the weakest class's size
        out = make_split(b.frame(), "natural", seed, 0.9, FRACTIONS)
        splits_of_mixed = set(out.loc[out["id"].isin(mixed), "split"])
        assert len(splits_of_mixed) == 1 and "balanced_test" not in splits_of_mixed


def test_ood_is_shared_and_complete(index, splits):
    ood_ids = set(index.loc[index["label"].map(is_ood), "id"])
    for out in splits.values():
        assert set(out.loc[out["split"] == "ood", "id"]) == ood_ids


def expected_shares(shares) -> dict[str, float]:
    total = sum(shares[c] for c in CLASSES)
    return {c: shares[c] / total for c in CLASSES}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "natural"])
def test_class_shares_follow_the_scenario(splits, scenario):
    out = splits[scenario]
    used = out[out["split"].isin(["train", "val", "test"])]
    counts = used["label"].value_counts()
    total = sum(counts.get(c, 0) for c in CLASSES)
    for c, share in expected_shares(SCENARIOS[scenario]).items():
        assert counts.get(c, 0) / total == pytest.approx(share, abs=0.02), (c, counts.to_dict())


def test_scenario_sizes_are_the_largest_that_fit(splits):
    # after the balanced test (10 per class) the pool has real 50, drawing 80, generated 40:
    # d80 -> total min(50/.1, 80/.8, 40/.1) = 100: drawing 80, real 10, generated 10
    out = splits["d80"]
    used = out[out["split"].isin(["train", "val", "test"])]["label"].value_counts()
    assert used["drawing"] == 80
    assert 8 <= used["real"] <= 10 and 8 <= used["generated"] <= 10
    # natural uses every in-domain image outside the balanced test
    assert (splits["natural"]["split"] != "").all()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_train_val_test_fractions_within_each_class(splits, scenario):
    out = splits[scenario]
    for c in CLASSES:
        rows = out[(out["label"] == c) & out["split"].isin(["train", "val", "test"])]
        n = len(rows)
        for part in ("val", "test"):
            got = int((rows["split"] == part).sum())
            want = round(FRACTIONS[part] * n)
            assert want - 4 <= got <= want + 1, (scenario, c, part, got, want)
        assert (rows["split"] == "train").sum() >= 0.6 * n


def test_deterministic_and_seeded(index):
    a = make_split(index, SCENARIOS["d50"], 3, BT_FRACTION, FRACTIONS)
    b = make_split(index, SCENARIOS["d50"], 3, BT_FRACTION, FRACTIONS)
    pd.testing.assert_frame_equal(a, b)
    c = make_split(index, SCENARIOS["d50"], 4, BT_FRACTION, FRACTIONS)
    assert not a["split"].equals(c["split"])


def test_scenario_targets_by_hand():
    available = {"real": 50, "drawing": 80, "generated": 40}
    assert scenario_targets(available, SCENARIOS["balanced"]) == {
        "real": 40,
        "drawing": 40,
        "generated": 40,
    }
    assert scenario_targets(available, SCENARIOS["d50"]) == {
        "real": 40,
        "drawing": 80,
        "generated": 40,
    }
    assert scenario_targets(available, SCENARIOS["d80"]) == {
        "real": 10,
        "drawing": 80,
        "generated": 10,
    }
    assert scenario_targets(available, {"real": 2, "drawing": 2, "generated": 4}) == {
        "real": 20,
        "drawing": 20,
        "generated": 40,
    }
    assert scenario_targets(available, "natural") == available
    # natural with a cap of 85 of 170: each class halved
    assert scenario_targets(available, "natural", 85) == {
        "real": 25,
        "drawing": 40,
        "generated": 20,
    }
    assert scenario_targets(available, SCENARIOS["balanced"], 30) == {
        "real": 10,
        "drawing": 10,
        "generated": 10,
    }


@pytest.mark.parametrize(
    "fractions",
    [
        {"train": 0.7, "val": 0.2, "test": 0.2},
        {"train": 0.5, "val": 0.15, "test": 0.15},
        {"train": 1.2, "val": -0.1, "test": -0.1},
    ],
)
def test_bad_fractions(index, fractions):
    with pytest.raises(ValueError, match="fractions"):
        make_split(index, "natural", SEED, BT_FRACTION, fractions)


@pytest.mark.parametrize(
    "shares",
    [
        {"drawing": 1, "real": 1},
        {"drawing": 1, "real": 1, "generated": 1, "other": 1},
        {"drawing": 1, "real": 0, "generated": 1},
        {"drawing": 1, "real": -1, "generated": 1},
        "unnatural",
    ],
)
def test_bad_shares(index, shares):
    with pytest.raises(ValueError, match="shares"):
        make_split(index, shares, SEED, BT_FRACTION, FRACTIONS)


def test_missing_class_is_named():
    b = IndexBuilder()
    b.singletons("real", 5)
    b.singletons("drawing", 5)
    b.singletons("ood:x", 2)
    with pytest.raises(ValueError, match="generated"):
        make_split(b.frame(), "natural", SEED, BT_FRACTION, FRACTIONS)


def test_ood_near_duplicate_of_indomain_image_stays_out_of_training():
    b = IndexBuilder()
    for c in CLASSES:
        b.singletons(c, 20)
    real0 = b.rows[0]["id"]
    ood = b.singletons("ood:animals", 2)
    b.link([real0, ood[0]])
    index = b.frame()
    out = make_split(index, "natural", SEED, BT_FRACTION, FRACTIONS)
    ood_rows = out[out["label"].map(is_ood)]
    assert (ood_rows["split"].isin(["ood", ""])).all(), ood_rows
    assert not (out.loc[~out["label"].map(is_ood), "split"] == "ood").any()


def test_balanced_test_equal_when_a_class_has_only_triples():
    b = IndexBuilder()
    b.singletons("drawing", 30)
    b.singletons("generated", 30)
    for _ in range(10):
        b.group("real", 3)
    out = make_split(b.frame(), "natural", SEED, 0.25, FRACTIONS)  # n_bal = int(7.5) = 7
    counts = out.loc[out["split"] == "balanced_test", "label"].value_counts()
    assert counts["real"] == counts["drawing"] == counts["generated"], counts.to_dict()
