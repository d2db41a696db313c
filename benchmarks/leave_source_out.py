"""Unseen-source performance of a frozen-feature probe over every training family: each family of
sources is left out of the probe's training in turn and predicted by the probe fitted on the rest,
so every in-source image is classified by a model that never saw its family.

    python benchmarks/leave_source_out.py                     # clip_vitb16_160_probe, natural
    python benchmarks/leave_source_out.py --scenario balanced --plot lofo.png

The pipeline's ``unseen_val`` and ``unseen_test`` hold a few sources out once; this asks the same
question of every family of the training data. A family is one source, or all the sources of one
package family (FAMILY_PREFIXES: DiceBear's styles share a renderer, ComfyUI's packages a
front-end, Scratch's photos and drawings a media library), so a left-out DiceBear style is not
predicted by a probe that trained on its 22 siblings. The probe is the train stage's for
``--model`` (its params.yaml entry: C, balanced classes, source balance), on the train stage's
cached features, fitted on every in-source image of the scenario (train, val, test and balanced
test rows) outside the family. The held-out sources of ``split.unseen`` stay out of it entirely.
Intervals: 95%, 1,000 bootstrap resamples of whole families (images of one family are not
independent draws).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from probe_study import backbone_features, pipeline_probe, study_parser
from tqdm import tqdm

from avatar_type.data import packed
from avatar_type.evaluate.uncertainty import macro_f1
from avatar_type.labels import CLASSES
from avatar_type.params import load_yaml
from avatar_type.train.config import model_config
from avatar_type.train.imbalance import source_weights
from avatar_type.train.modes import mode

FAMILY_PREFIXES = (
    "comfyui-",
    "dicebear-",
    "freecol-",
    "opencv-",
    "psychopy-",
    "pyfeat-",
    "scratch-",
    "skimage-",
)
IN_SOURCE = ("train", "val", "test", "balanced_test")
RESAMPLES = 1000


def family(source: str) -> str:
    """The family a source belongs to: its package family's prefix, or the source itself."""
    for prefix in FAMILY_PREFIXES:
        if source.startswith(prefix):
            return prefix.rstrip("-")
    return source


def predictions(
    x: np.ndarray, y: np.ndarray, sources: np.ndarray, families: np.ndarray, cfg
) -> np.ndarray:
    """Every image's predicted class from the probe fitted without its family."""
    pred = np.empty(len(y), dtype=int)
    for name in tqdm(sorted(set(families)), desc="families left out", unit="family"):
        out = families == name
        probe = pipeline_probe(cfg.probe_c)
        weights = source_weights(y[~out], sources[~out], cfg.source_balance)
        probe.fit(x[~out], y[~out], sample_weight=weights)
        pred[out] = probe.predict(x[out])
    return pred


def family_bootstrap(
    y: np.ndarray, pred: np.ndarray, families: np.ndarray, seed: int
) -> dict[str, list[float]]:
    """95% intervals of macro-F1 and per-class recall over resamples of whole families."""
    names = np.unique(families)
    members = [np.flatnonzero(families == name) for name in names]
    draws = np.random.default_rng(seed).integers(0, len(names), size=(RESAMPLES, len(names)))
    stats: dict[str, list[float]] = {"macro_f1": []} | {c: [] for c in CLASSES}
    for draw in draws:
        rows = np.concatenate([members[i] for i in draw])
        stats["macro_f1"].append(float(macro_f1(y[rows][None], pred[rows][None])[0]))
        for k, label in enumerate(CLASSES):
            hit = pred[rows][y[rows] == k] == k
            if hit.size:  # a resample may draw no family of a class
                stats[label].append(float(hit.mean()))
    return {key: np.percentile(v, [2.5, 97.5]).round(2).tolist() for key, v in stats.items()}


def family_table(
    y: np.ndarray, pred: np.ndarray, sources: np.ndarray, families: np.ndarray
) -> pd.DataFrame:
    """Per family: class, sources, images, accuracy and where its misses went."""
    frame = pd.DataFrame(
        {
            "family": families,
            "source": sources,
            "class": np.array(CLASSES)[y],
            "predicted": np.array(CLASSES)[pred],
        }
    )
    rows = []
    for (name, label), part in frame.groupby(["family", "class"]):
        misses = part.loc[part["predicted"] != label, "predicted"].value_counts()
        rows.append(
            {
                "family": name,
                "class": label,
                "sources": part["source"].nunique(),
                "images": len(part),
                "accuracy": round(float((part["predicted"] == label).mean()), 2),
                "misses called": ", ".join(f"{c} {n}" for c, n in misses.items()),
            }
        )
    return pd.DataFrame(rows).sort_values(["class", "accuracy", "family"]).reset_index(drop=True)


def plot(table: pd.DataFrame, title: str, path: Path) -> None:
    """Accuracy per left-out family, grouped by class, images per family on the bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from avatar_type.viz.figures import save_figure

    colours = dict(zip(CLASSES, ("tab:blue", "tab:orange", "tab:red"), strict=True))
    fig, ax = plt.subplots(figsize=(7, 0.22 * len(table) + 1.2))
    positions = np.arange(len(table))[::-1]
    ax.barh(positions, table["accuracy"], color=table["class"].map(colours))
    for pos, (_, row) in zip(positions, table.iterrows(), strict=True):
        ax.text(1.01, pos, str(row["images"]), va="center", fontsize=7)
    ax.set_yticks(
        positions, [f"{f} ({c})" for f, c in zip(table["family"], table["class"], strict=True)]
    )
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("accuracy when the family is left out of training (images on the right)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def main() -> None:
    parser = study_parser(__doc__, "natural")
    parser.add_argument("--model", default="clip_vitb16_160_probe")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--plot", type=Path, default=None, help="write the per-family bar chart")
    args = parser.parse_args()
    cfg = model_config(load_yaml(args.params), args.model, str(args.params))
    if not mode(cfg.mode).sklearn_probe:
        parser.error(
            f"--model {args.model}: mode {cfg.mode!r}; this refits linear_probe models only"
        )
    if cfg.imbalance == "none":  # the pipeline's probe then fits without balanced classes
        parser.error(f"--model {args.model}: imbalance 'none'; this refits balanced probes")
    if cfg.weights != "offline":
        parser.error(f"--model {args.model}: weights {cfg.weights!r}; this reads offline weights")
    _, index = packed.load(args.pack)
    split = pd.read_csv(args.splits / f"{args.scenario}.csv", keep_default_na=False)
    chosen = split.loc[split["split"].isin(IN_SOURCE), "id"]
    rows = np.flatnonzero(index["id"].isin(chosen).to_numpy())
    x = backbone_features(args.pack, cfg.arch, cfg.img_size, args.seed)[rows]
    y = index["label"].iloc[rows].map(CLASSES.index).to_numpy()
    sources = index["source"].iloc[rows].to_numpy()
    families = np.array([family(s) for s in sources])
    pred = predictions(x, y, sources, families, cfg)
    ci = family_bootstrap(y, pred, families, args.seed)
    table = family_table(y, pred, sources, families)
    f1 = float(macro_f1(y[None], pred[None])[0])
    print(
        f"\n{args.model}, {args.scenario}: {len(y)} in-source images of {len(set(families))} "
        f"families, each predicted with its family left out of training"
    )
    print(f"macro-F1 {f1:.3f} {ci['macro_f1']}, accuracy {float((pred == y).mean()):.3f}")
    for k, label in enumerate(CLASSES):
        of_class = table[table["class"] == label]
        print(
            f"recall {label}: {float((pred[y == k] == k).mean()):.2f} {ci[label]} over "
            f"{len(of_class)} families; mean per family {of_class['accuracy'].mean():.2f}"
        )
    confusion = pd.crosstab(
        pd.Categorical(np.array(CLASSES)[y], CLASSES),
        pd.Categorical(np.array(CLASSES)[pred], CLASSES),
        rownames=["true"],
        colnames=["predicted"],
        dropna=False,
    )
    print(confusion.to_markdown())
    print(table.to_markdown(index=False))
    if args.plot is not None:
        plot(table, f"{args.model}, {args.scenario}: leave-one-family-out", args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
