"""The integrated score: a weighted mean of min-max normalised metrics, each with a direction.

For metric m with weight w_m and direction d_m, over every evaluated run r (model x scenario):

    norm_m(r) = (x_m(r) - min_m) / (max_m - min_m)   if d_m is "higher"
    norm_m(r) = (max_m - x_m(r)) / (max_m - min_m)   if d_m is "lower"
    score(r)  = sum_m w_m norm_m(r) / sum_m w_m

so 1 is the best run on every metric and 0 the worst. A metric on which every run ties
contributes 1 to all of them. A run that lacks a metric others have is an error, never a silent
skip; a metric that no run has (held-out sources in data that has none) is left out of the score,
and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from avatar_type.errors import AvatarTypeError, InputError, ParamsError
from avatar_type.runs import run_id

SOURCES = ("eval", "bench")


class MissingMetric(AvatarTypeError, KeyError):
    """A metric the score needs is absent: reported in one line naming the metrics file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


DIRECTIONS = ("higher", "lower")


@dataclass(frozen=True)
class ScoreTerm:
    """One metric of the score: ``source`` (eval or bench) and a dotted path into its JSON."""

    name: str
    source: str
    path: str
    direction: str
    weight: float


def parse_terms(raw: dict, where: str = "report.score") -> list[ScoreTerm]:
    """``{"eval:balanced.macro_f1": {"direction": "higher", "weight": 0.3}, ...}`` -> terms."""
    if not isinstance(raw, dict) or not raw:
        raise ParamsError(f"{where}: expected a non-empty mapping of metric -> direction, weight")
    terms = []
    for name, spec in raw.items():
        source, _, path = str(name).partition(":")
        if source not in SOURCES or not path:
            raise ParamsError(f"{where}.{name}: name a metric as '<eval|bench>:<dotted.path>'")
        if not isinstance(spec, dict) or spec.get("direction") not in DIRECTIONS:
            raise ParamsError(f"{where}.{name}.direction: expected one of {DIRECTIONS}")
        weight = spec.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise ParamsError(f"{where}.{name}.weight: expected a positive number, got {weight!r}")
        terms.append(ScoreTerm(name, source, path, spec["direction"], float(weight)))
    return terms


def lookup(data: dict, path: str, where: str) -> float:
    """The number at dotted ``path`` of nested dicts; a clear error when absent or not numeric."""
    value = data
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise MissingMetric(f"{where}: no metric {path!r} (missing {key!r})")
        value = value[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise InputError(f"{where}: metric {path!r} is {value!r}, not a finite number")
    return float(value)


def _has(data: dict, path: str) -> bool:
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def applicable_terms(
    runs: dict[tuple[str, str], dict], terms: list[ScoreTerm]
) -> tuple[list[ScoreTerm], list[ScoreTerm]]:
    """(kept, dropped): eval terms that no run reports are dropped (the data cannot measure
    them, e.g. no held-out sources); a term some runs lack stays, so ``metric_table`` names
    the run that lacks it."""
    dropped = [
        t for t in terms if t.source == "eval" and not any(_has(m, t.path) for m in runs.values())
    ]
    kept = [t for t in terms if t not in dropped]
    if not kept:
        raise MissingMetric("no metric of report.score is reported by any run")
    return kept, dropped


def metric_table(
    runs: dict[tuple[str, str], dict], bench: dict[str, dict], terms: list[ScoreTerm], seed: int
) -> pd.DataFrame:
    """One row per run (model, scenario; training ``seed``), one column per term, raw values."""
    rows = []
    for (model, scenario), metrics in runs.items():
        row = {"model": model, "scenario": scenario}
        for t in terms:
            if t.source == "eval":
                where = f"metrics/eval/{run_id(model, scenario, seed)}.json"
                row[t.name] = lookup(metrics, t.path, where)
            else:
                if model not in bench:
                    raise MissingMetric(
                        f"metrics/bench/{model}.json: missing; run the benchmark stage"
                    )
                row[t.name] = lookup(bench[model], t.path, f"metrics/bench/{model}.json")
        rows.append(row)
    return pd.DataFrame(rows)


def integrated_scores(table: pd.DataFrame, terms: list[ScoreTerm]) -> pd.DataFrame:
    """The table with, per term, its normalised value (``norm:<name>``) and weighted share of the
    score (``weighted:<name>``), and ``score``; best first."""
    out = table.copy()
    total = sum(t.weight for t in terms)
    out["score"] = 0.0
    for t in terms:
        x = out[t.name].to_numpy(float)
        span = x.max() - x.min()
        norm = np.ones_like(x) if span == 0 else (x - x.min()) / span
        if t.direction == "lower" and span > 0:
            norm = 1.0 - norm
        out[f"norm:{t.name}"] = norm
        out[f"weighted:{t.name}"] = t.weight / total * norm
        out["score"] += out[f"weighted:{t.name}"]
    return out.sort_values(
        ["score", "model", "scenario"], ascending=[False, True, True]
    ).reset_index(drop=True)


def formula_text(terms: list[ScoreTerm]) -> str:
    """The score as it was computed, for the report: norm_up for "higher", norm_down for "lower"."""
    total = sum(t.weight for t in terms)
    arrow = {"higher": "norm_up", "lower": "norm_down"}
    return "score = " + " + ".join(
        f"{t.weight / total:.3f} * {arrow[t.direction]}({t.name})" for t in terms
    )
