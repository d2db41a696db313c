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
