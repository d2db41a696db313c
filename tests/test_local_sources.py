"""Local sources (`local:` in sources.yaml): a folder is read in place in one walk, its manifest
changes with any edit, symbolic links are refused and end in rejects.csv, and each kind is only
accepted in its own mapping."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
import yaml
from helpers import blocky, png_bytes
from PIL import Image

from avatar_type.data.aggregate import AggregateConfig, aggregate, tasks_from_raw
from avatar_type.errors import SourceError
from avatar_type.sources.fetch import fetch_source
from avatar_type.sources.spec import load_sources, parse_source

ENTRY = {"licence": "CC0", "provenance": "tests"}


def image_bytes(seed: int) -> bytes:
    return png_bytes(Image.fromarray(blocky(seed, 32, 32)))


def folder_spec(path: Path, **fields):
    return parse_source(
        "mine", {"kind": "folder", "label": "real", "path": str(path), **ENTRY, **fields}
    )


def make_folder(root: Path, layout: dict[str, bytes]) -> Path:
    for rel, data in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_manifest_gives_size_and_mtime_and_changes_with_an_edit(tmp_path):
    src = make_folder(tmp_path / "in", {"a.png": image_bytes(1), "sub/b.png": image_bytes(2)})
    out = tmp_path / "raw" / "mine"
    first = fetch_source(folder_spec(src), out)
    for entry in first["files"]:
        stat = (src / entry["path"]).stat()
        assert (entry["size"], entry["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns)
    assert first["root"] == str(src) and first["skipped"] == 0
    before = (out / "manifest.json").read_bytes()

    # same name, same size, new content: only the mtime tells, and the manifest shows it
    edited = src / "sub" / "b.png"
    data = bytearray(edited.read_bytes())
    data[-20] ^= 0xFF
    edited.write_bytes(bytes(data))
    stat = edited.stat()
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = fetch_source(folder_spec(src), out)
    assert (out / "manifest.json").read_bytes() != before
    entry = next(e for e in second["files"] if e["path"] == "sub/b.png")
    assert entry["size"] == len(data) and entry["mtime_ns"] == edited.stat().st_mtime_ns


def test_folder_is_walked_once_and_never_copied(tmp_path, monkeypatch):
    layout = {f"d{d}/e{e}/{i}.png": b"x" for d in range(3) for e in range(2) for i in range(4)}
    src = make_folder(tmp_path / "in", layout)
    listed: Counter[str] = Counter()
    scandir = os.scandir

    def counting(path="."):
        listed[os.fspath(path)] += 1
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    manifest = fetch_source(folder_spec(src), tmp_path / "raw" / "mine")
    assert manifest["kept"] == len(layout)
    ours = {p: n for p, n in listed.items() if Path(p).is_relative_to(src)}
    assert len(ours) == 1 + 3 + 6 and set(ours.values()) == {1}  # every folder listed once
    assert os.listdir(tmp_path / "raw" / "mine") == ["manifest.json"]


def test_symlink_is_refused_and_lands_in_rejects(tmp_path, monkeypatch):
    src = make_folder(
        tmp_path / "in",
        {"real/a.png": image_bytes(1), "drawing/b.png": image_bytes(2), "x.txt": b""},
    )
    outside = make_folder(tmp_path / "elsewhere", {"c.png": image_bytes(3)})
    (src / "real" / "link.png").symlink_to(outside / "c.png")
    (src / "drawing" / "linked").symlink_to(outside, target_is_directory=True)
    spec = folder_spec(
        Path("in"),
        label=None,
        label_by_subfolder={"real": "real", "drawing": "drawing"},
        include="*/*",  # x.txt, at the top, is not asked for: counted, neither kept nor refused
    )
    raw = tmp_path / "raw"
    manifest = fetch_source(spec, raw / "mine", base=tmp_path)
    reason = "symbolic link (not followed)"
    assert manifest["refused"] == [
        {"path": "drawing/linked", "label": "drawing", "reason": reason},
        {"path": "real/link.png", "label": "real", "reason": reason},
    ]
    assert [e["path"] for e in manifest["files"]] == ["drawing/b.png", "real/a.png"]
    assert manifest["skipped"] == 1

    monkeypatch.chdir(tmp_path)  # the root "in" is relative to the repository root
    assert {Path(t.file) for t in tasks_from_raw(raw)} == {
        (tmp_path / "in" / p).absolute() for p in ("drawing/b.png", "real/a.png")
    }
    index, rejects = aggregate(raw, tmp_path / "out", AggregateConfig(size=32, workers=1))
    assert sorted(index["path"]) == ["drawing/b.png", "real/a.png"]
    assert rejects[["path", "label", "reason"]].to_dict("records") == [
        {"path": "drawing/linked", "label": "drawing", "reason": reason},
        {"path": "real/link.png", "label": "real", "reason": reason},
    ]


def test_a_folder_of_only_links_names_what_was_refused(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(SourceError, match=r"no files matched.*1 refused.*a\.png: symbolic link"):
        fetch_source(folder_spec(tmp_path / "in"), tmp_path / "raw" / "mine")


def write_sources(path: Path, sources: dict | None, local: dict | None) -> Path:
    data = {k: v for k, v in (("sources", sources), ("local", local)) if v is not None}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


FOLDER = {"kind": "folder", "label": "real", "path": "ext/mine", **ENTRY}
GENERATOR = {
    "kind": "generator",
    "label": "drawing",
    "pin": {"package": "dicebear-styles==10.6.0", "seed": 0, "count": 3},
    "options": {"engine": "dicebear", "style": "lorelei"},
    **ENTRY,
}


def test_each_kind_is_accepted_only_in_its_mapping(tmp_path):
    path = tmp_path / "sources.yaml"
    specs = load_sources(write_sources(path, {"gen": GENERATOR}, {"mine": FOLDER}))
    assert {n: s.kind for n, s in specs.items()} == {"gen": "generator", "mine": "folder"}
    assert set(load_sources(write_sources(path, {}, {"mine": FOLDER}))) == {"mine"}
    assert set(load_sources(write_sources(path, {"gen": GENERATOR}, None))) == {"gen"}

    with pytest.raises(SourceError) as info:
        load_sources(write_sources(path, {"gen": GENERATOR, "mine": FOLDER}, {}))
    assert info.value.source == "mine"
    assert "kind folder belongs under 'local:'" in str(info.value)
    assert "not 'sources:'" in str(info.value)

    with pytest.raises(SourceError) as info:
        load_sources(write_sources(path, {}, {"gen": GENERATOR}))
    assert info.value.source == "gen" and "kind generator belongs under 'sources:'" in str(
        info.value
    )

    with pytest.raises(SourceError, match="named in both"):
        load_sources(write_sources(path, {"x": GENERATOR}, {"x": FOLDER}))
    with pytest.raises(SourceError, match="no source"):
        load_sources(write_sources(path, {}, {}))


def test_the_repository_registry_has_a_local_mapping():
    path = Path(__file__).resolve().parents[1] / "sources.yaml"
    assert isinstance(yaml.safe_load(path.read_text())["local"], dict)  # dvc.yaml iterates it
    assert load_sources(path)
