"""The report's best run: the model is chosen on its mean unseen_val macro-F1 over its runs,
so that one lucky run of a model that is worse elsewhere does not become the default."""

from __future__ import annotations

import pandas as pd

from avatar_type.report.build import best_run
from avatar_type.report.collect import Results


def _results(val: dict[tuple[str, str], float], seeds: list[int] | None = None) -> Results:
    evals = {run: {"unseen_val": {"macro_f1": f}} for run, f in val.items()}
    return Results(
        models=sorted({m for m, _ in val}),
        scenarios=sorted({s for _, s in val}),
        data={},
        splits={},
        train={},
        eval=evals,
        bench={},
        ensembles={},
        explain={},
        seeds=seeds or [0],
    )


def _scores(runs: list[tuple[str, str]]) -> pd.DataFrame:
    """Integrated-score table, best first, in the given order."""
    return pd.DataFrame(
        {"model": [m for m, _ in runs], "scenario": [s for _, s in runs], "score": 1.0}
    )


def test_a_model_better_on_average_beats_one_lucky_run():
    val = {("steady", "a"): 0.79, ("steady", "b"): 0.75, ("lucky", "a"): 0.80, ("lucky", "b"): 0.69}
    model, scenario, rule = best_run(_scores(list(val)), _results(val))
    assert (model, scenario) == ("steady", "a")  # its own best scenario
    assert "mean" in rule


def test_within_one_scenario_the_best_run_of_that_scenario_wins():
    val = {("steady", "a"): 0.79, ("lucky", "a"): 0.80}
    assert best_run(_scores(list(val)), _results(val))[:2] == ("lucky", "a")


def test_equal_means_go_to_the_better_integrated_score():
    val = {("x", "a"): 0.7, ("y", "a"): 0.7}
    assert best_run(_scores([("y", "a"), ("x", "a")]), _results(val))[0] == "y"


def test_every_seed_counts_in_the_mean():
    val = {("p", "a"): 0.80, ("q", "a"): 0.78}  # first seed: p ahead
    results = _results(val, seeds=[1, 2])
    results.eval_by_seed = {
        ("p", "a", 1): {"unseen_val": {"macro_f1": 0.80}},
        ("p", "a", 2): {"unseen_val": {"macro_f1": 0.70}},
        ("q", "a", 1): {"unseen_val": {"macro_f1": 0.78}},
        ("q", "a", 2): {"unseen_val": {"macro_f1": 0.78}},
    }
    assert best_run(_scores(list(val)), results)[0] == "q"


def test_without_held_out_sources_the_integrated_score_decides():
    results = _results({})
    results.eval = {("m", "a"): {}, ("n", "a"): {}}
    assert best_run(_scores([("n", "a"), ("m", "a")]), results) == ("n", "a", "integrated score")
