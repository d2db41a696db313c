"""Held-out sources: whole sources go to unseen_val / unseen_test, identical across scenarios,
never to training; units that mix a held-out source with another keep the others unused."""

from __future__ import annotations

import pandas as pd
import pytest
from test_split import BT_FRACTION, FRACTIONS, SCENARIOS, SEED, synthetic_index

from avatar_type.data.split import make_split, split_summary, unseen_sources

UNSEEN = {
    "val": {"real": ["real-c"], "drawing": ["drawing-c"]},
    "test": {"real": ["real-b"], "generated": ["generated-b"]},
}


def with_sources(index: pd.DataFrame) -> pd.DataFrame:
    """Give each image a source: <label>-a/-b/-c by position within its class."""
    out = index.copy()
    rank = out.groupby("label").cumcount()
    out["source"] = [
        f"{label}-{'abc'[r % 3]}" if not label.startswith("ood:") else label
        for label, r in zip(out["label"], rank, strict=True)
    ]
    return out


@pytest.fixture(scope="module")
def index() -> pd.DataFrame:
    return with_sources(synthetic_index())


@pytest.fixture(scope="module")
def splits(index):
    return {
        name: make_split(index, shares, SEED, BT_FRACTION, FRACTIONS, unseen=UNSEEN)
        for name, shares in SCENARIOS.items()
    }


def test_held_out_sources_never_train(index, splits):
    held = unseen_sources(UNSEEN)
    for out in splits.values():
        source = index["source"]
        for name, part in held.items():
            parts = set(out.loc[source == name, "split"])
            assert parts <= {part, ""}, (name, parts)
            assert part in parts
        trained = set(source[out["split"].isin(["train", "val", "test", "balanced_test"])])
        assert not trained & set(held)


def test_held_out_sets_identical_across_scenarios(splits):
    first = next(iter(splits.values()))
    for out in splits.values():
        for part in ("unseen_val", "unseen_test"):
            assert list(out["split"] == part) == list(first["split"] == part)


def test_a_unit_mixing_a_held_out_source_keeps_the_others_unused():
    index = with_sources(synthetic_index())
    # link one held-out image with one of another source: the other one must not train
    a = index.index[index["source"] == "real-b"][0]
    b = index.index[index["source"] == "real-a"][0]
    index.loc[b, "dup_group"] = index.loc[a, "dup_group"] = index.loc[a, "id"]
    out = make_split(index, SCENARIOS["balanced"], SEED, BT_FRACTION, FRACTIONS, unseen=UNSEEN)
    assert out.loc[a, "split"] == "unseen_test"
    assert out.loc[b, "split"] == ""


def test_no_unseen_param_changes_nothing():
    index = with_sources(synthetic_index())
    plain = make_split(index, "natural", SEED, BT_FRACTION, FRACTIONS)
    assert not plain["split"].str.startswith("unseen").any()
    assert list(plain["split"]) == list(
        make_split(index, "natural", SEED, BT_FRACTION, FRACTIONS, unseen={})["split"]
    )


def test_summary_counts_missing_and_wrong_class(index, splits):
    unseen = {"val": {"real": ["real-c", "not-fetched"]}, "test": {"real": ["real-b"]}}
    out = make_split(index, "natural", SEED, BT_FRACTION, FRACTIONS, unseen=unseen)
    summary = split_summary(out, index, unseen)
    assert summary["unseen_missing"] == ["not-fetched"]
    assert summary["unseen_val"]["real"] == summary["unseen_sources"]["val"]["real"]["real-c"] > 0
    with pytest.raises(ValueError, match="wrong class"):
        split_summary(out, index, {"test": {"drawing": ["real-b"]}})


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"train": {"real": ["x"]}}, "unknown part"),
        ({"val": {"cat": ["x"]}}, "unknown class"),
        ({"val": {"real": ["x"]}, "test": {"real": ["x"]}}, "twice"),
    ],
)
def test_bad_unseen_params(bad, message):
    with pytest.raises(ValueError, match=message):
        unseen_sources(bad)


def with_more(index: pd.DataFrame, label: str, source: str, n: int) -> pd.DataFrame:
    """``index`` plus ``n`` singleton images of ``label`` from ``source``."""
    rows = [
        {"id": f"{source}-{k}", "label": label, "group": f"{source}/g{k}", "source": source}
        for k in range(n)
    ]
    more = pd.DataFrame(rows).assign(dup_group=lambda f: f["id"])
    return pd.concat([index, more], ignore_index=True)


@pytest.mark.parametrize("scenario", ["balanced", "natural"])
def test_adding_a_held_out_source_or_ood_set_moves_no_other_image(index, splits, scenario):
    grown = with_more(with_more(index, "generated", "generated-new", 12), "ood:new", "ood:new", 5)
    unseen = {**UNSEEN, "test": {**UNSEEN["test"], "generated": ["generated-b", "generated-new"]}}
    after = make_split(grown, SCENARIOS[scenario], SEED, BT_FRACTION, FRACTIONS, unseen=unseen)
    before = splits[scenario].set_index("id")["split"]
    after = after.set_index("id")["split"]
    assert after[before.index].equals(before)
    assert set(after.drop(before.index)) == {"unseen_test", "ood"}


def test_adding_images_of_one_class_moves_no_image_of_the_others(index, splits):
    grown = with_more(index, "drawing", "drawing-new", 15)
    after = make_split(grown, "natural", SEED, BT_FRACTION, FRACTIONS, unseen=UNSEEN)
    before = splits["natural"].set_index("id")
    after = after.set_index("id")["split"]
    others = before[~before["label"].isin(["drawing"])].index
    assert after[others].equals(before.loc[others, "split"])
    assert after[before.index].ne(before["split"]).sum() < 15  # drawings move only at the edges
