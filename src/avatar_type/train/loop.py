"""The training loop: every mode, imbalance method, checkpoint/resume, AMP and DDP in one place.

A run trains one model on one scenario's split. It checkpoints after every epoch outside the DVC
outputs, so a killed run started again with the same settings resumes after its last finished
epoch and, on CPU, ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from torch import nn

from avatar_type.data.preprocessing import read_preprocessing
from avatar_type.errors import InputError, ParamsError
from avatar_type.evaluate import ood
from avatar_type.labels import CLASSES
from avatar_type.models.freeze import backbone_groups, head_parameter_names, set_trainable
from avatar_type.models.registry import build_model, data_config
from avatar_type.train import imbalance
from avatar_type.train.augment import AugmentStrength, augment, minority_classes, strengths_for
from avatar_type.train.checkpoint import Checkpointer
from avatar_type.train.config import TrainConfig
from avatar_type.train.data import Normalise, packed_at, split_rows
from avatar_type.train.distributed import Dist
from avatar_type.train.features import cached_features, embed, feature_key
from avatar_type.train.modes import mode
from avatar_type.train.output import EpochLogger, save_model

log = logging.getLogger(__name__)
K = len(CLASSES)
OOD_TPR = 0.95  # share of in-domain validation images the abstention threshold keeps familiar


@dataclass(frozen=True)
class Runtime:
    """Where and how to run: device, precision, and the paths of one run's outputs."""

    device: torch.device
    amp: bool
    channels_last: bool
    model_dir: Path
    metrics_file: Path
    live_dir: Path
    checkpoint_dir: Path
    seed: int = 42


def _few_shot(rows: np.ndarray, y: np.ndarray, per_class: int, seed: int):
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.permutation(np.nonzero(y == k)[0])[:per_class] for k in range(K)])
    keep.sort()
    return rows[keep], y[keep]


def _scores(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    return (
        float(accuracy_score(y, pred)),
        float(f1_score(y, pred, average="macro", labels=list(range(K)), zero_division=0)),
    )


class Batches:
    """Yields (inputs, labels, sample weights) for an epoch: images from the pack or cached
    features; the weights balance sources within a class (all ones when not given)."""

    def __init__(
        self,
        data: np.ndarray,
        rows: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        device: torch.device,
        weights: np.ndarray | None = None,
    ):
        self.data, self.rows, self.y = data, rows, y
        self.batch_size, self.device = batch_size, device
        self.weights = (
            np.ones(len(y), np.float32) if weights is None else weights.astype(np.float32)
        )

    def epoch(self, order: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        for start in range(0, len(order), self.batch_size):
            pick = order[start : start + self.batch_size]
            batch = torch.from_numpy(np.ascontiguousarray(self.data[self.rows[pick]]))
            yield (
                batch.to(self.device, non_blocking=True),
                torch.from_numpy(self.y[pick]).to(self.device),
                torch.from_numpy(self.weights[pick]).to(self.device),
            )


# (inputs, labels, generator, training?) -> model input
Transform = Callable[[torch.Tensor, torch.Tensor, torch.Generator | None, bool], torch.Tensor]


def _as_float(x: torch.Tensor, _y: torch.Tensor, _gen, _train: bool) -> torch.Tensor:
    return x.float()


def _epoch_order(
    cfg: TrainConfig, batches: Batches, gen: torch.Generator, dist: Dist
) -> np.ndarray:
    """This rank's sample order for one epoch; a final batch of one image is dropped, since
    batch normalisation cannot train on a single sample."""
    y = batches.y
    if cfg.imbalance in ("weighted_sampler", "loss_and_sampler"):
        # the sampler draws sources in proportion to their weights, so the loss must not
        # weigh them again: the caller trains on uniform weights then
        order = np.array(list(imbalance.sampler(y, K, gen, batches.weights)))
    else:
        order = torch.randperm(len(y), generator=gen).numpy()
    # equal shards (padded like DistributedSampler): every rank runs the same number of
    # batches and draws the same amount of randomness, so ranks stay in step
    order = np.resize(order, -(-len(order) // dist.world) * dist.world)[dist.rank :: dist.world]
    if len(order) % cfg.batch_size == 1 and len(order) > 1:
        order = order[:-1]
    return order


@torch.inference_mode()
def _logits(net: nn.Module, batches: Batches, transform: Transform) -> torch.Tensor:
    """(N, K) float32 logits of every image of ``batches``, in order, in eval mode."""
    net.eval()
    order = np.arange(len(batches.y))
    return torch.cat(
        [net(transform(x, y, None, False)).float() for x, y, _ in batches.epoch(order)]
    )


def _evaluate(net: nn.Module, batches: Batches, loss_fn, transform: Transform) -> dict[str, float]:
    logits = _logits(net, batches, transform)
    loss = loss_fn(logits, torch.from_numpy(batches.y).to(logits.device), train=False)
    acc, f1 = _scores(batches.y, logits.argmax(1).cpu().numpy())
    return {"loss": float(loss), "accuracy": acc, "macro_f1": f1}


def _make_loss(cfg: TrainConfig, y_train: np.ndarray, device: torch.device):
    weight = None
    if cfg.imbalance in ("weighted_loss", "loss_and_sampler"):
        weight = imbalance.class_weights(y_train, K).to(device)
    prior = imbalance.log_prior(y_train, K).to(device) * cfg.logit_tau

    def loss_fn(
        logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None, train: bool = True
    ) -> torch.Tensor:
        """Cross-entropy, weighted per class (``weight``) and per sample (``w``) in training;
        a weighted mean, so it equals PyTorch's class-weighted loss when ``w`` is all ones."""
        if not train:
            return F.cross_entropy(logits, y)
        if cfg.imbalance == "logit_adjust":
            logits = logits + prior  # Menon et al.: adjust during training only
        total = w if w is not None else torch.ones_like(y, dtype=logits.dtype)
        if weight is not None:
            total = total * weight[y]
        return (F.cross_entropy(logits, y, reduction="none") * total).sum() / total.sum()

    return loss_fn


def _param_groups(net: nn.Module, cfg: TrainConfig) -> list[dict]:
    """Head at lr; the backbone groups the mode ever trains at lr, or lr x stage2_lr_factor
    where the mode scales it (progressive)."""
    if not hasattr(net, "get_classifier"):  # a bare classifier trained on cached features
        return [{"params": list(net.parameters()), "lr": cfg.lr}]
    spec = mode(cfg.mode)
    head = head_parameter_names(net)
    named = dict(net.named_parameters())
    last = spec.final_groups(cfg)
    if last is None:
        rest = [p for n, p in named.items() if n not in head]
    else:
        names = [n for g in backbone_groups(net)[-last:] for n in g] if last > 0 else []
        rest = [named[n] for n in names]
    factor = cfg.stage2_lr_factor if spec.scaled_backbone_lr else 1.0
    groups = [{"params": [named[n] for n in sorted(head)], "lr": cfg.lr}]
    if rest:
        groups.append({"params": rest, "lr": cfg.lr * factor})
    return groups


def _apply_stage(net: nn.Module, cfg: TrainConfig, epoch: int) -> None:
    if not hasattr(net, "get_classifier"):  # a bare classifier: all of it trains
        set_trainable(net, None)
    else:
        set_trainable(net, mode(cfg.mode).trainable_groups(cfg, epoch))


def image_transform(
    cfg: TrainConfig, normalise: Normalise, train_counts: list[int], channels_last: bool
) -> Transform:
    """uint8 NHWC batch -> model input: augmentation (training only; stronger for minority
    classes), normalisation and memory format."""
    aug = cfg.augment
    light = AugmentStrength(aug.jitter, aug.rotate, aug.translate, aug.flip)
    strong = AugmentStrength(aug.strong_jitter, aug.strong_rotate, aug.strong_translate, aug.flip)
    minority = minority_classes(train_counts, aug.minority_ratio)

    def transform(x: torch.Tensor, y: torch.Tensor, gen, train: bool) -> torch.Tensor:
        raw = x.permute(0, 3, 1, 2).float()
        if train:
            raw = augment(raw, strengths_for(y, minority, light, strong), gen, aug)
        out = normalise.nchw(raw)
        return out.contiguous(memory_format=torch.channels_last) if channels_last else out

    return transform


def _freeze_norm_statistics(model: nn.Module) -> None:
    """Normalisation layers whose parameters are frozen keep their running statistics too."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                module.eval()


def _fit(
    net: nn.Module,
    cfg: TrainConfig,
    rt: Runtime,
    train: Batches,
    val: Batches,
    trainable_model: nn.Module,
    dist: Dist,
    transform: Transform = _as_float,
    fingerprint: str | None = None,
) -> dict:
    """Epochs with early stopping on validation macro-F1; returns the run summary.

    ``fingerprint`` identifies the run for resuming (default: the config's).
    """
    gen = torch.Generator().manual_seed(rt.seed)
    loss_fn = _make_loss(cfg, train.y, rt.device)
    groups = _param_groups(trainable_model, cfg)
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    if cfg.scheduler == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    else:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=cfg.plateau_factor, patience=cfg.plateau_patience
        )
    ckpt = Checkpointer(rt.checkpoint_dir, fingerprint or cfg.fingerprint(), enabled=dist.is_main)
    state = ckpt.resume(trainable_model, optimizer, scheduler, gen)
    logger = EpochLogger(rt.live_dir, epochs_done=state["epoch"], enabled=dist.is_main)
    seen, seconds = state["images_seen"], state["train_seconds"]
    for epoch in range(state["epoch"], cfg.epochs):
        _apply_stage(trainable_model, cfg, epoch)
        net.train()
        _freeze_norm_statistics(trainable_model)
        start, losses, preds, ys = time.perf_counter(), [], [], []
        sampled = cfg.imbalance in ("weighted_sampler", "loss_and_sampler")
        for x, y, w in train.epoch(_epoch_order(cfg, train, gen, dist)):
            x = transform(x, y, gen, True)
            with torch.autocast(rt.device.type, dtype=torch.bfloat16, enabled=rt.amp):
                logits = net(x)
            loss = loss_fn(logits.float(), y, None if sampled else w)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()) * len(y))
            preds.append(logits.argmax(1).detach().cpu().numpy())
            ys.append(y.cpu().numpy())
        seconds += time.perf_counter() - start
        seen += sum(len(v) for v in ys) * dist.world
        acc, f1 = _scores(np.concatenate(ys), np.concatenate(preds))
        metrics = {
            "train_loss": sum(losses) / max(len(np.concatenate(ys)), 1),
            "train_accuracy": acc,
            "train_macro_f1": f1,
        }
        metrics.update({f"val_{k}": v for k, v in _evaluate(net, val, loss_fn, transform).items()})
        metrics["lr"] = optimizer.param_groups[0]["lr"]
        if cfg.scheduler == "cosine":
            scheduler.step()
        else:
            scheduler.step(metrics["val_macro_f1"])
        improved = metrics["val_macro_f1"] > state["best_f1"]
        if improved:
            state.update(
                best_f1=metrics["val_macro_f1"],
                best_epoch=epoch + 1,
                bad_epochs=0,
                best_state={k: v.detach().clone() for k, v in trainable_model.state_dict().items()},
            )
        else:
            state["bad_epochs"] += 1
        state["history"].append(metrics)
        state.update(epoch=epoch + 1, images_seen=seen, train_seconds=seconds)
        logger.log(metrics)
        ckpt.save(trainable_model, optimizer, scheduler, gen, state)
        log.info(
            "epoch %d/%d %s",
            epoch + 1,
            cfg.epochs,
            " ".join(f"{k}={v:.4f}" for k, v in metrics.items()),
        )
        if state["bad_epochs"] >= cfg.early_stopping:
            log.info("early stopping: no better val macro-F1 for %d epochs", cfg.early_stopping)
            break
    logger.close()
    trainable_model.load_state_dict(state["best_state"])
    return state


def train_run(
    cfg: TrainConfig,
    key: str,
    scenario: str,
    pack_dir: Path,
    split_csv: Path,
    rt: Runtime,
    dist: Dist | None = None,
) -> dict:
    """Train ``key`` on ``scenario``; write weights, card, metrics and logs; return metrics."""
    dist = dist or Dist.from_env(rt.device)
    torch.manual_seed(rt.seed)
    torch.use_deterministic_algorithms(rt.device.type == "cpu", warn_only=True)
    images, index = packed_at(pack_dir, cfg.img_size)
    split = pd.read_csv(split_csv, keep_default_na=False)
    train_rows, train_y = split_rows(index, split, "train")
    val_rows, val_y = split_rows(index, split, "val")
    spec = mode(cfg.mode)
    if spec.few_shot:
        train_rows, train_y = _few_shot(train_rows, train_y, cfg.few_shot_per_class, rt.seed)
    counts = np.bincount(train_y, minlength=K)
    if (counts == 0).any():
        raise InputError(f"{split_csv}: no training image of {CLASSES[int(np.argmin(counts))]}")
    sources = index["source"].to_numpy()[train_rows] if "source" in index else train_rows
    weights = imbalance.source_weights(train_y, sources, cfg.source_balance)

    model = build_model(cfg.arch, cfg.weights, img_size=cfg.img_size, drop_rate=cfg.drop_rate)
    dc = data_config(model)
    normalise = Normalise(dc["mean"], dc["std"]).to(rt.device)
    model.to(rt.device)
    channels_last = rt.channels_last and rt.device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)

    if spec.frozen_features:
        state = _train_on_features(
            cfg,
            model,
            images,
            normalise,
            pack_dir,
            (train_rows, train_y, weights),
            (val_rows, val_y),
            rt,
            dist,
        )
    else:
        transform = image_transform(cfg, normalise, counts.tolist(), channels_last)

        net = dist.wrap(model)
        val = Batches(images, val_rows, val_y, cfg.batch_size, rt.device)
        state = _fit(
            net,
            cfg,
            rt,
            Batches(images, train_rows, train_y, cfg.batch_size, rt.device, weights),
            val,
            model,
            dist,
            transform,
        )
        state["val_logits"] = _logits(model, val, transform)  # of the best weights, now loaded
    summary = {
        "best_val_macro_f1": round(state["best_f1"], 6),
        "best_epoch": state["best_epoch"],
        "epochs": state["epoch"],
        "train_seconds": round(state["train_seconds"], 3),
        "images_per_second": round(state["images_seen"] / max(state["train_seconds"], 1e-9), 2),
        "train_images": len(train_y),
        "train_class_counts": dict(zip(CLASSES, counts.tolist(), strict=True)),
        "mode": cfg.mode,
        # frozen modes train the classifier on cached features: their speed is the head's
        "throughput_of": "classifier" if spec.frozen_features else "model",
        "device": rt.device.type,
    }
    if dist.is_main:
        save_model(
            model,
            rt.model_dir,
            card={
                "model": key,
                "arch": cfg.arch,
                "classes": list(CLASSES),
                "scenario": scenario,
                "seed": rt.seed,
                "preprocessing": {
                    "img_size": cfg.img_size,
                    **dc,
                    # stored images -> input size, as packed_at does it
                    "resize": "bilinear, antialiased",
                    "pipeline": read_preprocessing(pack_dir),
                },
                "params": dataclasses.asdict(cfg),
                "summary": summary,
                # ood_score (free energy) above the threshold: unfamiliar; 95% of val is below
                "ood": {
                    "score": "energy",
                    "threshold": ood.fit_threshold(state["val_logits"].cpu().numpy(), OOD_TPR),
                    "tpr": OOD_TPR,
                    "fitted_on": "val",
                },
            },
        )
        from avatar_type.runner import write_json

        write_json(rt.metrics_file, summary)
        Checkpointer(rt.checkpoint_dir, cfg.fingerprint()).clear()
    dist.close()
    return summary


def _train_on_features(
    cfg: TrainConfig,
    model: nn.Module,
    images: np.ndarray,
    normalise,
    pack_dir: Path,
    train_set: tuple[np.ndarray, np.ndarray, np.ndarray],
    val_set: tuple[np.ndarray, np.ndarray],
    rt: Runtime,
    dist: Dist,
) -> dict:
    """frozen: a linear head trained by the loop; linear_probe: scikit-learn's LogisticRegression.

    Only the classifier changes; every backbone weight stays exactly as loaded. ``train_set`` is
    (rows, labels, source-balance weights), ``val_set`` (rows, labels).
    """
    train_rows, train_y, weights = train_set
    val_rows, val_y = val_set
    from avatar_type.data import packed

    key = feature_key(cfg.arch, cfg.weights, cfg.img_size, Path(pack_dir) / packed.IMAGES, rt.seed)
    features = cached_features(
        key, lambda: embed(model, images, normalise, rt.device, desc=f"{cfg.arch} features")
    )
    head = model.get_classifier()
    if not isinstance(head, nn.Linear):
        raise ParamsError(f"{cfg.arch}: frozen modes need a linear classifier, got {type(head)}")
    head_only = nn.Sequential(head)  # the classifier alone, on cached features
    val = Batches(features, val_rows, val_y, cfg.batch_size, rt.device)
    if mode(cfg.mode).sklearn_probe:
        start = time.perf_counter()
        balanced = cfg.imbalance != "none"
        probe = LogisticRegression(
            C=cfg.probe_c, max_iter=2000, class_weight="balanced" if balanced else None
        )
        probe.fit(features[train_rows], train_y, sample_weight=weights)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(probe.coef_).float())
            head.bias.copy_(torch.from_numpy(probe.intercept_).float())
        _, f1 = _scores(val_y, probe.predict(features[val_rows]))
        logger = EpochLogger(rt.live_dir, epochs_done=0, enabled=dist.is_main)
        logger.log({"val_macro_f1": f1})
        logger.close()
        state = {
            "best_f1": f1,
            "best_epoch": 1,
            "epoch": 1,
            "train_seconds": seconds,
            "images_seen": len(train_y),
        }
    else:
        train = Batches(features, train_rows, train_y, cfg.batch_size, rt.device, weights)
        # head_only has no get_classifier, so all of it trains, whatever the mode says
        state = _fit(
            dist.wrap(head_only),
            cfg,
            rt,
            train,
            val,
            head_only,
            dist,
            fingerprint=f"{cfg.fingerprint()}-head",
        )
    # the head holds its best weights now; the cached features make these logits cheap
    return state | {"val_logits": _logits(head_only, val, _as_float)}
