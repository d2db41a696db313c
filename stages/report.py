"""DVC stage: the integrated report (Markdown and self-contained HTML) and summary metrics."""

import argparse
from pathlib import Path

import pandas as pd

from avatar_type.data import packed
from avatar_type.evaluate.predict import read_tables
from avatar_type.params import load_yaml, require
from avatar_type.report.build import ReportInputs, build_report
from avatar_type.report.collect import Results
from avatar_type.report.document import honest_notes
from avatar_type.report.score import parse_terms
from avatar_type.runner import run, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_yaml(args.params)
    cfg = params["report"]
    terms = parse_terms(require(cfg, "score", dict, "report"), "report.score")
    models, reference = params["train"]["models"], require(cfg, "scenario", str, "report")
    seeds = params["train"]["seeds"]
    results = Results.load(Path("metrics"), models, params["train"]["scenarios"], seeds)
    index = pd.read_csv(Path("data/denoised") / packed.INDEX, keep_default_na=False)
    tables = {
        (m, s): table
        for s in params["train"]["scenarios"]
        for m, table in read_tables(Path("data/eval"), models, s, seeds[0]).items()
    }
    inputs = ReportInputs(
        plots_dir=Path("plots"),
        out_dir=Path("reports"),
        tables=tables,
        sources=index.set_index("id")["source"],
        seed=int(params["seed"]),
    )
    summary, headline = build_report(results, terms, reference, inputs, honest_notes(results))
    write_json(Path("metrics/summary.json"), summary)
    write_json(Path("metrics/headline.json"), headline)


if __name__ == "__main__":
    run(main)
