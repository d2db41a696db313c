"""The integrated score: parsing with clear errors, normalisation by direction, no silent skips."""

from __future__ import annotations

import pandas as pd
import pytest

from avatar_type.errors import ParamsError
from avatar_type.report.score import (
    applicable_terms,
    formula_text,
    integrated_scores,
    lookup,
    metric_table,
    parse_terms,
)

TERMS = {
    "eval:balanced.macro_f1": {"direction": "higher", "weight": 3},
    "eval:calibration.ece": {"direction": "lower", "weight": 1},
}


def _runs():
    return {
        ("a", "s"): {"balanced": {"macro_f1": 0.9}, "calibration": {"ece": 0.10}},
        ("b", "s"): {"balanced": {"macro_f1": 0.5}, "calibration": {"ece": 0.02}},
        ("c", "s"): {"balanced": {"macro_f1": 0.7}, "calibration": {"ece": 0.06}},
    }


def test_scores_are_weighted_means_of_directed_min_max_norms():
    terms = parse_terms(TERMS)
    scores = integrated_scores(metric_table(_runs(), {}, terms, 42), terms).set_index("model")
    # a: F1 best (1), ECE worst (0) -> 0.75; b: 0 and 1 -> 0.25; c: 0.5 and 0.5 -> 0.5
    assert scores.loc["a", "score"] == pytest.approx(0.75)
    assert scores.loc["b", "score"] == pytest.approx(0.25)
    assert scores.loc["c", "score"] == pytest.approx(0.5)
    assert list(scores.index) == ["a", "c", "b"]  # best first
    weighted = [c for c in scores.columns if c.startswith("weighted:")]
    assert scores[weighted].sum(axis=1).to_numpy() == pytest.approx(scores["score"].to_numpy())


def test_a_metric_on_which_all_runs_tie_counts_fully():
    terms = parse_terms({"eval:x": {"direction": "lower", "weight": 1}})
    table = pd.DataFrame({"model": ["a", "b"], "scenario": ["s", "s"], "eval:x": [0.3, 0.3]})
    assert integrated_scores(table, terms)["score"].tolist() == [1.0, 1.0]


def test_bench_metrics_come_from_the_models_benchmark():
    terms = parse_terms({"bench:params": {"direction": "lower", "weight": 1}})
    table = metric_table(
        _runs(), {"a": {"params": 10}, "b": {"params": 20}, "c": {"params": 30}}, terms, 42
    )
    assert table.set_index("model")["bench:params"].to_dict() == {"a": 10, "b": 20, "c": 30}
    with pytest.raises(KeyError, match=r"metrics/bench/c\.json"):
        metric_table(_runs(), {"a": {"params": 1}, "b": {"params": 2}}, terms, 42)


def test_a_missing_metric_is_an_error_naming_the_run():
    runs = _runs()
    del runs[("c", "s")]["calibration"]
    with pytest.raises(KeyError, match=r"metrics/eval/c/s/s42.json.*calibration"):
        metric_table(runs, {}, parse_terms(TERMS), 42)
    with pytest.raises(ValueError, match="not a finite number"):
        lookup({"x": None}, "x", "somewhere")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "non-empty"),
        ({"balanced.macro_f1": {"direction": "higher", "weight": 1}}, "<eval|bench>"),
        ({"eval:x": {"direction": "up", "weight": 1}}, "direction"),
        ({"eval:x": {"direction": "higher", "weight": 0}}, "weight"),
        ({"eval:x": {"direction": "higher", "weight": True}}, "weight"),
    ],
)
def test_bad_score_params_are_refused_by_name(raw, message):
    with pytest.raises(ParamsError, match=message):
        parse_terms(raw)


def test_formula_names_every_metric_with_its_share():
    text = formula_text(parse_terms(TERMS))
    assert "0.750 * norm_up(eval:balanced.macro_f1)" in text
    assert "0.250 * norm_down(eval:calibration.ece)" in text


def test_a_metric_no_run_has_is_left_out_and_one_some_lack_is_kept():
    terms = parse_terms(
        {
            "eval:balanced.macro_f1": {"direction": "higher", "weight": 1},
            "eval:unseen.macro_f1": {"direction": "higher", "weight": 2},
        }
    )
    runs = _runs()
    kept, dropped = applicable_terms(runs, terms)
    assert [t.name for t in dropped] == ["eval:unseen.macro_f1"] and len(kept) == 1
    runs[("a", "s")]["unseen"] = {"macro_f1": 0.5}
    kept, dropped = applicable_terms(runs, terms)
    assert not dropped
    with pytest.raises(KeyError, match="unseen"):
        metric_table(runs, {}, kept, 42)
