"""The class list, defined once. Every model output, metric and prediction file uses this order."""

from __future__ import annotations

CLASSES: tuple[str, ...] = ("real", "drawing", "generated")
CLASS_TO_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}
OOD_PREFIX = "ood:"


def is_ood(label: str) -> bool:
    """True for an out-of-domain label such as ``ood:animals``."""
    return label.startswith(OOD_PREFIX)


def ood_set(label: str) -> str:
    """The set name of an out-of-domain label (``ood:animals`` -> ``animals``)."""
    if not is_ood(label):
        raise ValueError(f"not an out-of-domain label: {label!r}")
    return label[len(OOD_PREFIX) :]


def validate_label(label: str) -> str:
    """Return ``label`` if it is a class or ``ood:<set>``; raise ValueError naming it otherwise."""
    if label in CLASS_TO_INDEX:
        return label
    if is_ood(label) and ood_set(label).strip():
        return label
    raise ValueError(
        f"unknown label {label!r}: expected one of {', '.join(CLASSES)} or 'ood:<set>'"
    )
