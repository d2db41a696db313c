"""DVC stage: the integrated report (Markdown and self-contained HTML) and summary metrics."""

import argparse
from pathlib import Path

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
    results = Results.load(Path("metrics"), params["train"]["models"], params["train"]["scenarios"])
    summary = build_report(
        results,
        terms,
        require(cfg, "scenario", str, "report"),
        ReportInputs(plots_dir=Path("plots"), out_dir=Path("reports")),
        honest_notes(results),
    )
    write_json(Path("metrics/summary.json"), summary)


if __name__ == "__main__":
    run(main)
