"""The source registry: every image source in sources.yaml, validated into a SourceSpec."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avatar_type.errors import SourceError
from avatar_type.labels import validate_label
from avatar_type.params import load_yaml

KINDS = ("pypi", "npm", "deb", "folder", "archive", "generator")
LOCAL_KINDS = ("folder", "archive")  # under `local:`: DVC tracks their path as a dependency
GROUP_RULES = ("file", "source", "pattern")
REQUIRED = ("kind", "licence", "provenance")
PIN_SEPARATOR = {"pypi": "==", "npm": "@", "deb": "="}


@dataclass(frozen=True)
class SourceSpec:
    """One source. ``label`` is fixed unless ``label_by_subfolder`` maps folders to labels."""

    name: str
    kind: str
    label: str | None
    licence: str
    provenance: str
    pin: dict[str, Any] = field(default_factory=dict)
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    label_by_subfolder: dict[str, str] | None = None
    group: str = "file"
    group_pattern: str | None = None
    cap: int | None = None
    face_crop: bool = False
    face_crop_keep_whole: bool = False  # the photo also stays whole, with its face crops
    crop: tuple[float, float, float, float] | None = None  # fractional box (x0, y0, x1, y1)
    optional: bool = False  # a failed fetch is recorded as missing instead of stopping the run
    video_every_seconds: float = 1.0
    video_max_frames: int = 40
    options: dict[str, Any] = field(default_factory=dict)

    def label_for(self, relpath: str) -> str:
        """The label of a file at ``relpath`` (POSIX path relative to the source root)."""
        if self.label_by_subfolder is None:
            assert self.label is not None
            return self.label
        top = relpath.split("/", 1)[0]
        if top not in self.label_by_subfolder:
            raise SourceError(
                self.name,
                f"{relpath}: top folder {top!r} has no label in label_by_subfolder "
                f"({', '.join(sorted(self.label_by_subfolder))})",
            )
        return self.label_by_subfolder[top]

    def group_for(self, relpath: str) -> str:
        """The group key that keeps related files (one identity, video or style) in one split."""
        if self.group == "source":
            return self.name
        if self.group == "pattern":
            assert self.group_pattern is not None
            match = re.search(self.group_pattern, relpath)
            key = "/".join(g for g in match.groups() if g) if match else ""
            if key:  # several groups join, e.g. an emoji's base and role without its skin tone
                return f"{self.name}/{key}"
        return f"{self.name}/{relpath}"


def _tuple_of_str(value: Any, name: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(name, f"{key} must be a string or a list of strings")
    return tuple(value)


def _flag(raw: dict, name: str, key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise SourceError(name, f"{key} must be true or false, got {value!r}")
    return value


def _crop_box(value: Any, name: str) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    numbers = isinstance(value, list) and len(value) == 4
    numbers = numbers and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if not numbers or not (0 <= value[0] < value[2] <= 1 and 0 <= value[1] < value[3] <= 1):
        raise SourceError(
            name, f"crop must be [x0, y0, x1, y1], fractions with 0 <= x0 < x1 <= 1, got {value!r}"
        )
    return (float(value[0]), float(value[1]), float(value[2]), float(value[3]))


def parse_source(name: str, raw: Any) -> SourceSpec:
    """Validate one sources.yaml entry; errors name the source and the bad field."""
    if not isinstance(raw, dict):
        raise SourceError(name, "entry must be a mapping")
    for key in REQUIRED:
        if not raw.get(key):
            raise SourceError(name, f"missing required field {key!r}")
    kind = raw["kind"]
    if kind not in KINDS:
        raise SourceError(name, f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    label = raw.get("label")
    by_sub = raw.get("label_by_subfolder")
    if (label is None) == (by_sub is None):
        raise SourceError(name, "give exactly one of 'label' or 'label_by_subfolder'")
    if label is None and (not isinstance(by_sub, dict) or not by_sub):
        raise SourceError(name, "label_by_subfolder must map folder names to labels")
    try:
        for one in [label] if label is not None else by_sub.values():
            validate_label(one)
    except ValueError as exc:
        raise SourceError(name, str(exc)) from exc
    pin = raw.get("pin") or {}
    if not isinstance(pin, dict):
        raise SourceError(name, "pin must be a mapping")
    if kind in PIN_SEPARATOR:
        for key in ("package", "file", "sha256"):
            if not pin.get(key):
                raise SourceError(name, f"{kind} sources need pin.{key}")
        sep = PIN_SEPARATOR[kind]
        if sep not in str(pin["package"]).lstrip("@"):
            raise SourceError(
                name, f"pin.package must be 'name{sep}version', got {pin['package']!r}"
            )
    if kind in ("folder", "archive") and not raw.get("path"):
        raise SourceError(name, f"{kind} sources need 'path'")
    if kind == "generator":
        engine = (raw.get("options") or {}).get("engine")
        if not engine:
            raise SourceError(name, "generator sources need options.engine")
        count = pin.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
            raise SourceError(name, "generator sources need pin.count, a positive integer")
    group = raw.get("group", "file")
    if group not in GROUP_RULES:
        raise SourceError(name, f"group must be one of {', '.join(GROUP_RULES)}, got {group!r}")
    pattern = raw.get("group_pattern")
    if group == "pattern":
        if not pattern:
            raise SourceError(name, "group: pattern needs group_pattern (a regex with one group)")
        try:
            if re.compile(pattern).groups < 1:
                raise SourceError(name, "group_pattern needs one capture group")
        except re.error as exc:
            raise SourceError(name, f"group_pattern is not a valid regex: {exc}") from exc
    cap = raw.get("cap")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0):
        raise SourceError(name, f"cap must be a positive integer, got {cap!r}")
    options = dict(raw.get("options") or {})
    if kind in ("folder", "archive") or (kind == "deb" and raw.get("path")):
        options["path"] = raw["path"]
    if "npy" in raw:
        options["npy"] = dict(raw["npy"])
    if "pip_args" in raw:
        options["pip_args"] = list(_tuple_of_str(raw["pip_args"], name, "pip_args"))
    face_crop = _flag(raw, name, "face_crop")
    keep_whole = _flag(raw, name, "face_crop_keep_whole")
    if keep_whole and not face_crop:
        raise SourceError(name, "face_crop_keep_whole needs face_crop: true")
    video = raw.get("video") or {}
    return SourceSpec(
        name=name,
        kind=kind,
        label=label,
        licence=str(raw["licence"]),
        provenance=str(raw["provenance"]),
        pin=pin,
        include=_tuple_of_str(raw.get("include", "*"), name, "include"),
        exclude=_tuple_of_str(raw.get("exclude", []), name, "exclude"),
        label_by_subfolder=by_sub,
        group=group,
        group_pattern=pattern,
        cap=cap,
        face_crop=face_crop,
        face_crop_keep_whole=keep_whole,
        crop=_crop_box(raw.get("crop"), name),
        optional=_flag(raw, name, "optional"),
        video_every_seconds=float(video.get("every_seconds", 1.0)),
        video_max_frames=int(video.get("max_frames", 40)),
        options=options,
    )


def load_sources(path: str | Path = "sources.yaml") -> dict[str, SourceSpec]:
    """Read and validate every source of a sources.yaml file, keyed by name.

    ``sources:`` holds the pinned and generated kinds, ``local:`` the folders and archives on
    the user's disk (dvc.yaml gives those a stage that depends on the path); a name is used once.
    """
    data = load_yaml(path)
    specs: dict[str, SourceSpec] = {}
    for section in ("sources", "local"):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise SourceError("<all>", f"{path}: {section!r} must be a mapping of sources")
        for name, raw in entries.items():
            if name in specs:
                raise SourceError(name, f"{path}: named in both 'sources' and 'local'")
            spec = parse_source(name, raw)
            if (spec.kind in LOCAL_KINDS) != (section == "local"):
                where = (
                    "'local:' (folders and archives on this disk, whose content DVC tracks)"
                    if spec.kind in LOCAL_KINDS
                    else "'sources:' ('local:' holds only folder and archive sources)"
                )
                raise SourceError(name, f"kind {spec.kind} belongs under {where}, not '{section}:'")
            specs[name] = spec
    if not specs:
        raise SourceError("<all>", f"{path}: no source under 'sources' or 'local'")
    return specs
