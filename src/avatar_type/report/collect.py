"""Everything the report needs, read from the metrics the stages wrote (git-tracked JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from avatar_type.errors import MissingInputError
from avatar_type.runs import run_id


def read_json(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: missing; run `dvc repro` to produce it")
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class Results:
    """Metrics of one pipeline run, keyed by model and scenario for the first training seed;
    ``eval_by_seed`` holds every seed's evaluation, keyed by (model, scenario, seed)."""

    models: list[str]
    scenarios: list[str]
    data: dict
    splits: dict[str, dict]
    train: dict[tuple[str, str], dict]
    eval: dict[tuple[str, str], dict]
    bench: dict[str, dict]
    ensembles: dict[str, dict]
    explain: dict
    seeds: list[int] = field(default_factory=lambda: [0])
    eval_by_seed: dict[tuple[str, str, int], dict] = field(default_factory=dict)

    @classmethod
    def load(
        cls, metrics_dir: Path, models: list[str], scenarios: list[str], seeds: list[int]
    ) -> Results:
        root = Path(metrics_dir)
        runs = [(m, s) for m in models for s in scenarios]
        by_seed = {
            (m, s, k): read_json(root / "eval" / f"{run_id(m, s, k)}.json")
            for m, s in runs
            for k in seeds
        }
        first = seeds[0]
        return cls(
            models=list(models),
            scenarios=list(scenarios),
            data=read_json(root / "aggregate.json"),
            splits={s: read_json(root / "split" / f"{s}.json") for s in scenarios},
            train={
                (m, s): read_json(root / "train" / f"{run_id(m, s, first)}.json") for m, s in runs
            },
            eval={(m, s): by_seed[(m, s, first)] for m, s in runs},
            bench={m: read_json(root / "bench" / f"{m}.json") for m in models},
            ensembles={s: read_json(root / "ensemble" / f"{s}.json") for s in scenarios},
            explain=read_json(root / "explain.json"),
            seeds=list(seeds),
            eval_by_seed=by_seed,
        )

    def drawing_share(self, model: str, scenario: str) -> float:
        """Share of drawings among the images the run trained on."""
        counts = self.train[(model, scenario)]["train_class_counts"]
        return counts["drawing"] / sum(counts.values())
