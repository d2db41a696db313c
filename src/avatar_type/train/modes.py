"""Training modes as data: what trains when, at which learning rate, on what.

Every mode string of params.yaml (``models.<name>.mode``) is looked up here; nothing else
compares mode names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from avatar_type.errors import ParamsError


class GroupSettings(Protocol):
    """The TrainConfig fields a mode's plan reads (a protocol, so that the evaluate stage,
    which looks modes up, does not import the training config)."""

    partial_groups: int
    unfreeze_groups: int
    head_epochs: int


class Plan(enum.Enum):
    """Which parameters of a model with a classifier train."""

    ALL = "all"  # every parameter, every epoch
    HEAD = "head"  # the classifier alone (the backbone stays as loaded)
    LAST = "last"  # the classifier and the last N backbone groups
    HEAD_THEN_LAST = "head_then_last"  # the classifier alone for head_epochs, then also last N


@dataclass(frozen=True)
class Mode:
    name: str
    plan: Plan
    groups_field: str | None = None  # the TrainConfig field giving N for LAST / HEAD_THEN_LAST
    scaled_backbone_lr: bool = False  # backbone groups learn at lr x stage2_lr_factor
    frozen_features: bool = False  # the classifier trains on cached backbone features
    sklearn_probe: bool = False  # the classifier is fitted by scikit-learn, not the loop
    few_shot: bool = False  # training draws few_shot_per_class images of each class

    @property
    def two_phase(self) -> bool:
        return self.plan is Plan.HEAD_THEN_LAST

    def final_groups(self, cfg: GroupSettings) -> int | None:
        """Backbone groups that train beside the classifier in the last phase (None: every
        parameter); the optimiser holds these from the start."""
        if self.plan is Plan.ALL:
            return None
        if self.plan is Plan.HEAD:
            return 0
        return getattr(cfg, self.groups_field)

    def trainable_groups(self, cfg: GroupSettings, epoch: int) -> int | None:
        """Backbone groups that train beside the classifier at ``epoch`` (None: every one)."""
        if self.two_phase and epoch < cfg.head_epochs:
            return 0
        return self.final_groups(cfg)


MODES = {
    m.name: m
    for m in (
        Mode("full", Plan.ALL),
        Mode("frozen", Plan.HEAD, frozen_features=True),
        Mode("partial", Plan.LAST, groups_field="partial_groups"),
        Mode(
            "progressive",
            Plan.HEAD_THEN_LAST,
            groups_field="unfreeze_groups",
            scaled_backbone_lr=True,
        ),
        Mode("few_shot", Plan.ALL, few_shot=True),
        Mode("linear_probe", Plan.HEAD, frozen_features=True, sklearn_probe=True),
    )
}


def mode(name: str, where: str = "mode") -> Mode:
    """The mode called ``name``; a ParamsError naming ``where`` and the valid modes otherwise."""
    if name not in MODES:
        raise ParamsError(f"{where}: {name!r} is not one of {', '.join(MODES)}")
    return MODES[name]
