"""DVC stage: the group-aware split of one imbalance scenario."""

import argparse
import logging
from pathlib import Path

from avatar_type.data import packed
from avatar_type.data.split import make_split, split_summary
from avatar_type.errors import ParamsError
from avatar_type.params import load_yaml
from avatar_type.runner import run, write_json

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario")
    parser.add_argument("--denoised", default="data/denoised")
    parser.add_argument("--out", default="data/splits")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_yaml(args.params)
    cfg = params["split"]
    scenarios = cfg["scenarios"]
    if args.scenario not in scenarios:
        raise ParamsError(f"{args.params}: split.scenarios has no {args.scenario!r}")
    _, index = packed.load(Path(args.denoised))
    unseen = cfg.get("unseen")
    split = make_split(
        index,
        scenarios[args.scenario],
        params["seed"],
        cfg["balanced_test_fraction"],
        cfg["fractions"],
        cfg.get("max_images"),
        unseen,
    )
    summary = split_summary(split, index, unseen)
    if summary["unseen_missing"]:
        log.warning("held-out sources not in the data: %s", ", ".join(summary["unseen_missing"]))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    split.to_csv(Path(args.out) / f"{args.scenario}.csv", index=False)
    write_json(f"metrics/split/{args.scenario}.json", summary)


if __name__ == "__main__":
    run(main)
