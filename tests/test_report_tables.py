"""Report tables computed from predictions (not just copied from metrics)."""

from __future__ import annotations

import pandas as pd
import pytest

from avatar_type.report.sections import source_accuracy


def _table(rows):
    return pd.DataFrame(rows, columns=["id", "label", "predicted", "set"])


def test_accuracy_per_source_of_the_balanced_test():
    sources = pd.Series({"a": "lfw", "b": "lfw", "c": "groups", "d": "dicebear", "e": "lfw"})
    tables = {
        "m1": _table(
            [
                ("a", "real", "real", "balanced_test"),
                ("b", "real", "generated", "balanced_test"),
                ("c", "real", "real", "balanced_test"),
                ("d", "drawing", "drawing", "balanced_test"),
                ("e", "real", "drawing", "test"),  # another set: not counted
            ]
        ),
        "m2": _table(
            [
                ("a", "real", "real", "balanced_test"),
                ("b", "real", "real", "balanced_test"),
                ("c", "real", "drawing", "balanced_test"),
                ("d", "drawing", "real", "balanced_test"),
            ]
        ),
    }
    table = source_accuracy(tables, sources).set_index(["class", "source"])
    assert table.loc[("real", "lfw"), "n"] == 2
    assert table.loc[("real", "lfw"), "m1"] == pytest.approx(0.5)
    assert table.loc[("real", "lfw"), "m2"] == pytest.approx(1.0)
    assert table.loc[("real", "groups"), "m2"] == 0.0
    assert table.loc[("drawing", "dicebear"), "m1"] == 1.0
    assert len(table) == 3
