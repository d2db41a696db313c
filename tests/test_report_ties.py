"""Paired comparisons with the best run: identical runs tie, a clearly worse run does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from avatar_type.labels import CLASSES
from avatar_type.report.ties import ties_with_best


def table(labels: list[str], predicted: list[str], set_name: str = "unseen_test") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"i{k:03d}" for k in range(len(labels))],
            "label": labels,
            "predicted": predicted,
            "set": set_name,
        }
    )


@pytest.fixture
def runs() -> dict:
    rng = np.random.default_rng(0)
    labels = [CLASSES[k] for k in rng.integers(0, 3, 150)]
    good = list(labels)
    for k in range(0, 150, 15):  # 90% right
        good[k] = CLASSES[(CLASSES.index(labels[k]) + 1) % 3]
    near = list(good)
    near[1] = CLASSES[(CLASSES.index(labels[1]) + 1) % 3]  # one more mistake
    poor = [CLASSES[k] for k in rng.integers(0, 3, 150)]  # chance
    return {
        ("good", "a"): table(labels, good),
        ("near", "a"): table(labels, near),
        ("poor", "a"): table(labels, poor),
    }


def test_best_ties_itself_and_a_near_run_chance_does_not(runs):
    out = ties_with_best(runs, ("good", "a"), "unseen_test", seed=0).set_index("model")
    assert out.loc["good", "diff"] == 0 and out.loc["good", "tied"]
    assert out.loc["near", "tied"] and out.loc["near", "diff"] < 0
    assert not out.loc["poor", "tied"] and out.loc["poor", "diff_hi"] < 0


def test_unpaired_images_are_refused(runs):
    runs[("other", "a")] = runs[("poor", "a")].assign(id=lambda t: t["id"] + "x")
    with pytest.raises(ValueError, match="differ"):
        ties_with_best(runs, ("good", "a"), "unseen_test", seed=0)
