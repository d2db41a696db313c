"""The report stage: the integrated report (Markdown and self-contained HTML) and summary
metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from avatar_type.data import packed
from avatar_type.evaluate.predict import read_tables
from avatar_type.params import section
from avatar_type.report.build import ReportInputs, build_report
from avatar_type.report.collect import Results
from avatar_type.report.score import parse_terms
from avatar_type.report.sections import honest_notes
from avatar_type.runner import write_json
from avatar_type.runs import TrainSettings


@dataclass(frozen=True)
class ReportConfig:
    """The ``report:`` section of params.yaml."""

    scenario: str  # scenario of the per-model figures; tables cover every scenario
    score: dict[str, dict[str, Any]]  # metric -> direction and weight of the integrated score


def run(params: dict[str, Any], params_file: str) -> None:
    cfg = section(params, "report", ReportConfig, params_file)
    train = section(params, "train", TrainSettings, params_file)
    terms = parse_terms(cfg.score, "report.score")
    results = Results.load(Path("metrics"), train.models, train.scenarios, train.seeds)
    index = pd.read_csv(Path("data/denoised") / packed.INDEX, keep_default_na=False)
    tables = {
        (m, s): table
        for s in train.scenarios
        for m, table in read_tables(Path("data/eval"), train.models, s, train.seeds[0]).items()
    }
    inputs = ReportInputs(
        plots_dir=Path("plots"),
        out_dir=Path("reports"),
        tables=tables,
        sources=index.set_index("id")["source"],
        seed=section(params, "seed", int, params_file),
    )
    summary, headline = build_report(results, terms, cfg.scenario, inputs, honest_notes(results))
    write_json(Path("metrics/summary.json"), summary)
    write_json(Path("metrics/headline.json"), headline)
