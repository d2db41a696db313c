"""DVC stage: the group-aware split of one imbalance scenario."""

import argparse
from pathlib import Path

from avatar_type.data import packed
from avatar_type.data.split import SPLITS, make_split
from avatar_type.labels import CLASSES, is_ood
from avatar_type.params import load_yaml
from avatar_type.runner import run, write_json


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
        raise ValueError(f"{args.params}: split.scenarios has no {args.scenario!r}")
    _, index = packed.load(Path(args.denoised))
    split = make_split(
        index,
        scenarios[args.scenario],
        params["seed"],
        cfg["balanced_test_fraction"],
        cfg["fractions"],
        cfg.get("max_images"),
    )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    split.to_csv(Path(args.out) / f"{args.scenario}.csv", index=False)
    counts = {}
    for name in SPLITS:
        rows = split[split["split"] == name]
        if name == "ood":
            counts[name] = {
                k.split(":", 1)[1]: int(v) for k, v in rows["label"].value_counts().items()
            }
        else:
            counts[name] = {c: int((rows["label"] == c).sum()) for c in CLASSES}
    counts["unused"] = int(((split["split"] == "") & ~split["label"].map(is_ood)).sum())
    counts["largest_unit"] = int(split.groupby("unit").size().max())
    write_json(f"metrics/split/{args.scenario}.json", counts)


if __name__ == "__main__":
    run(main)
