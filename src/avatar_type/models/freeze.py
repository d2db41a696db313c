"""Which parameters train: freeze/unfreeze plans over timm's depth-ordered parameter groups."""

from __future__ import annotations

from timm.models import group_parameters
from torch import nn


def head_parameter_names(model: nn.Module) -> set[str]:
    head = model.get_classifier()
    ids = {id(p) for p in head.parameters()}
    return {name for name, p in model.named_parameters() if id(p) in ids}


def backbone_groups(model: nn.Module) -> list[list[str]]:
    """Parameter names of the backbone in depth order (stem first), the classifier excluded."""
    head = head_parameter_names(model)
    groups = group_parameters(model, model.group_matcher(coarse=True))
    ordered = [groups[k] for k in sorted(groups)]
    return [names for names in ([n for n in g if n not in head] for g in ordered) if names]


def set_trainable(model: nn.Module, last_groups: int | None) -> list[str]:
    """Train the classifier plus the last ``last_groups`` backbone groups (None: everything).

    Returns the names of the trainable parameters.
    """
    if last_groups is None:
        for p in model.parameters():
            p.requires_grad_(True)
        return [n for n, _ in model.named_parameters()]
    names = set(head_parameter_names(model))
    if last_groups > 0:
        for group in backbone_groups(model)[-last_groups:]:
            names.update(group)
    for name, p in model.named_parameters():
        p.requires_grad_(name in names)
    return sorted(names)
