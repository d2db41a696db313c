"""Which runs are statistically tied with the best: a paired bootstrap on the same test images."""

from __future__ import annotations

import pandas as pd

from avatar_type.errors import InputError
from avatar_type.evaluate.uncertainty import paired_bootstrap, tied
from avatar_type.labels import CLASS_TO_INDEX

Run = tuple[str, str]  # (model, scenario)


def _predictions(table: pd.DataFrame, set_name: str) -> pd.DataFrame:
    return table[table["set"] == set_name].set_index("id")[["label", "predicted"]].sort_index()


def ties_with_best(
    tables: dict[Run, pd.DataFrame], best: Run, set_name: str, seed: int
) -> pd.DataFrame:
    """Per run: macro-F1 difference to ``best`` on ``set_name`` (run minus best) with its 95%
    paired-bootstrap interval, and whether the interval contains 0 (``tied``).

    ``tables`` are the evaluate stage's probability tables; a run whose images differ from the
    best run's on that set is an error (the comparison would not be paired)."""
    reference = _predictions(tables[best], set_name)
    y = reference["label"].map(CLASS_TO_INDEX).to_numpy()
    best_pred = reference["predicted"].map(CLASS_TO_INDEX).to_numpy()
    rows = []
    for (model, scenario), table in tables.items():
        run = _predictions(table, set_name)
        if not run.index.equals(reference.index):
            raise InputError(
                f"{model} on {scenario}: its {set_name} images differ from {best[0]} on {best[1]}'s"
            )
        result = paired_bootstrap(
            y, run["predicted"].map(CLASS_TO_INDEX).to_numpy(), best_pred, seed
        )
        rows.append(
            {
                "model": model,
                "scenario": scenario,
                "diff": result["diff"],
                "diff_lo": result["ci95"][0],
                "diff_hi": result["ci95"][1],
                "tied": (model, scenario) == best or tied(result),
            }
        )
    return pd.DataFrame(rows)
