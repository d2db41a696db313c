"""Source registry validation: every error names the source and the field at fault."""

from __future__ import annotations

import pytest

from avatar_type.errors import ParamsError, SourceError
from avatar_type.labels import is_ood, ood_set, validate_label
from avatar_type.sources.spec import load_sources, parse_source

NAME = "my-source"


def folder_entry(**overrides) -> dict:
    entry = {
        "kind": "folder",
        "label": "real",
        "licence": "CC0",
        "provenance": "tests",
        "path": "somewhere",
    }
    entry.update(overrides)
    return {k: v for k, v in entry.items() if v is not None}


PYPI_PIN = {"package": "pkg==1.0", "file": "pkg-1.0-py3-none-any.whl", "sha256": "ab" * 32}
DEB_PIN = {"package": "pkg=1.0-1", "file": "pkg_1.0-1_all.deb", "sha256": "ab" * 32}

BAD_ENTRIES = {
    "missing licence": (folder_entry(licence=None), ["licence"]),
    "empty licence": (folder_entry(licence=""), ["licence"]),
    "missing provenance": (folder_entry(provenance=None), ["provenance"]),
    "missing kind": (folder_entry(kind=None), ["kind"]),
    "bad kind": (folder_entry(kind="ftp"), ["kind", "ftp"]),
    "bad label": (folder_entry(label="photo"), ["label", "photo"]),
    "empty ood set": (folder_entry(label="ood:"), ["label", "ood:"]),
    "label and label_by_subfolder": (
        folder_entry(label_by_subfolder={"a": "real"}),
        ["label", "label_by_subfolder"],
    ),
    "neither label nor label_by_subfolder": (folder_entry(label=None), ["label"]),
    "bad label in label_by_subfolder": (
        folder_entry(label=None, label_by_subfolder={"a": "real", "b": "cartoon"}),
        ["label", "cartoon"],
    ),
    "label_by_subfolder not a mapping": (
        folder_entry(label=None, label_by_subfolder=["real"]),
        ["label_by_subfolder"],
    ),
    "bad group rule": (folder_entry(group="identity"), ["group", "identity"]),
    "pattern without group_pattern": (folder_entry(group="pattern"), ["group_pattern"]),
    "group_pattern not a regex": (
        folder_entry(group="pattern", group_pattern="(unclosed"),
        ["group_pattern"],
    ),
    "group_pattern without a capture group": (
        folder_entry(group="pattern", group_pattern=r"id\d+"),
        ["group_pattern"],
    ),
    "pypi without sha256": (
        folder_entry(
            kind="pypi", path=None, pin={k: v for k, v in PYPI_PIN.items() if k != "sha256"}
        ),
        ["sha256"],
    ),
    "pypi without file": (
        folder_entry(
            kind="pypi", path=None, pin={k: v for k, v in PYPI_PIN.items() if k != "file"}
        ),
        ["pin.file"],
    ),
    "pypi package without version": (
        folder_entry(kind="pypi", path=None, pin={**PYPI_PIN, "package": "pkg"}),
        ["pin.package", "pkg"],
    ),
    "npm without sha256": (
        folder_entry(
            kind="npm",
            path=None,
            pin={"package": "@scope/pkg@1.0.0", "file": "scope-pkg-1.0.0.tgz"},
        ),
        ["sha256"],
    ),
    "npm package without version": (
        folder_entry(
            kind="npm",
            path=None,
            pin={"package": "@scope/pkg", "file": "scope-pkg-1.0.0.tgz", "sha256": "ab" * 32},
        ),
        ["pin.package", "@scope/pkg"],
    ),
    "deb without sha256": (
        folder_entry(kind="deb", path=None, pin={**DEB_PIN, "sha256": None}),
        ["deb", "pin.sha256"],
    ),
    "deb package without version": (
        folder_entry(kind="deb", path=None, pin={**DEB_PIN, "package": "pkg"}),
        ["pin.package", "name=version"],
    ),
    "optional not a flag": (folder_entry(optional="yes"), ["optional", "yes"]),
    "face_crop_keep_whole without face_crop": (
        folder_entry(face_crop_keep_whole=True),
        ["face_crop_keep_whole", "face_crop: true"],
    ),
    "crop of three numbers": (folder_entry(crop=[0.1, 0.1, 0.9]), ["crop"]),
    "crop box inverted": (folder_entry(crop=[0.9, 0.1, 0.1, 0.9]), ["crop", "x0 < x1"]),
    "crop outside the image": (folder_entry(crop=[0, 0, 1.2, 1]), ["crop"]),
    "crop not numbers": (folder_entry(crop=[0, 0, "1", True]), ["crop"]),
    "pin not a mapping": (folder_entry(pin=["x"]), ["pin"]),
    "folder without path": (folder_entry(path=None), ["path"]),
    "archive without path": (folder_entry(kind="archive", path=None), ["path"]),
    "generator without engine": (
        folder_entry(kind="generator", path=None, pin={"count": 3}),
        ["engine"],
    ),
    "generator without count": (
        folder_entry(kind="generator", path=None, options={"engine": "dicebear"}),
        ["count"],
    ),
    "generator with zero count": (
        folder_entry(kind="generator", path=None, pin={"count": 0}, options={"engine": "dicebear"}),
        ["count"],
    ),
    "cap zero": (folder_entry(cap=0), ["cap"]),
    "cap negative": (folder_entry(cap=-3), ["cap"]),
    "cap a string": (folder_entry(cap="10"), ["cap"]),
    "include not strings": (folder_entry(include=[1, 2]), ["include"]),
    "exclude not strings": (folder_entry(exclude={"a": 1}), ["exclude"]),
    "entry not a mapping": ("just a string", ["mapping"]),
}


@pytest.mark.parametrize("case", list(BAD_ENTRIES))
def test_invalid_entry_names_source_and_field(case):
    raw, words = BAD_ENTRIES[case]
    with pytest.raises(SourceError) as info:
        parse_source(NAME, raw)
    message = str(info.value)
    assert info.value.source == NAME
    assert repr(NAME) in message
    for word in words:
        assert word in message, f"{case}: {word!r} not in {message!r}"


def test_boolean_cap_is_rejected():
    with pytest.raises(SourceError, match="cap"):
        parse_source(NAME, folder_entry(cap=True))


def test_valid_folder_entry_gets_defaults():
    spec = parse_source(NAME, folder_entry())
    assert spec.name == NAME and spec.kind == "folder" and spec.label == "real"
    assert spec.include == ("*",) and spec.exclude == ()
    assert spec.group == "file" and spec.cap is None and spec.face_crop is False
    assert spec.optional is False and spec.crop is None and spec.face_crop_keep_whole is False
    assert spec.options["path"] == "somewhere"


def test_valid_entries_of_every_kind():
    pypi = parse_source(
        "p",
        folder_entry(kind="pypi", path=None, pin=PYPI_PIN, include="pkg/*.png", pip_args="--pre"),
    )
    assert pypi.include == ("pkg/*.png",)
    assert pypi.options["pip_args"] == ["--pre"]
    gen = parse_source(
        "g",
        folder_entry(
            kind="generator",
            path=None,
            label="drawing",
            pin={"count": 2},
            options={"engine": "dicebear"},
        ),
    )
    assert gen.pin["count"] == 2 and gen.options["engine"] == "dicebear"
    arch = parse_source(
        "a",
        folder_entry(
            kind="archive", path="x.zip", cap=5, exclude=["*/logo/*"], label="ood:animals"
        ),
    )
    assert arch.cap == 5 and arch.exclude == ("*/logo/*",) and arch.label == "ood:animals"
    npm = parse_source(
        "n",
        folder_entry(
            kind="npm",
            path=None,
            pin={"package": "@scope/pkg@1.0.0", "file": "scope-pkg-1.0.0.tgz", "sha256": "ab" * 32},
        ),
    )
    assert npm.kind == "npm" and npm.pin["package"] == "@scope/pkg@1.0.0"
    deb = parse_source("d", folder_entry(kind="deb", path=None, pin=DEB_PIN, optional=True))
    assert deb.kind == "deb" and deb.optional and "path" not in deb.options
    by_hand = parse_source("d", folder_entry(kind="deb", path="debs/pkg.deb", pin=DEB_PIN))
    assert by_hand.options["path"] == "debs/pkg.deb"
    framed = parse_source(
        "f", folder_entry(crop=[0.1, 0, 0.9, 1], face_crop=True, face_crop_keep_whole=True)
    )
    assert framed.crop == (0.1, 0.0, 0.9, 1.0) and framed.face_crop_keep_whole
    video = parse_source("v", folder_entry(video={"every_seconds": 2, "max_frames": 3}))
    assert video.video_every_seconds == 2.0 and video.video_max_frames == 3


def test_label_for_fixed_and_by_subfolder():
    fixed = parse_source(NAME, folder_entry(label="drawing"))
    assert fixed.label_for("any/path/x.png") == "drawing"
    by_sub = parse_source(
        NAME,
        folder_entry(
            label=None,
            label_by_subfolder={"photos": "real", "art": "drawing", "zoo": "ood:animals"},
        ),
    )
    assert by_sub.label_for("photos/a/b.jpg") == "real"
    assert by_sub.label_for("art/c.png") == "drawing"
    assert by_sub.label_for("zoo/cat.png") == "ood:animals"
    with pytest.raises(SourceError) as info:
        by_sub.label_for("misc/d.png")
    assert "'misc'" in str(info.value) and "misc/d.png" in str(info.value)
    assert info.value.source == NAME


def test_group_rules():
    per_file = parse_source(NAME, folder_entry())
    assert per_file.group_for("id1/a.png") == f"{NAME}/id1/a.png"
    per_source = parse_source(NAME, folder_entry(group="source"))
    assert per_source.group_for("id1/a.png") == per_source.group_for("id2/b.png") == NAME
    pattern = parse_source(NAME, folder_entry(group="pattern", group_pattern=r"^(id\d+)/"))
    assert pattern.group_for("id1/a.png") == pattern.group_for("id1/sub/b.png") == f"{NAME}/id1"
    assert pattern.group_for("id2/a.png") == f"{NAME}/id2"
    # a path the pattern does not match is its own group
    assert pattern.group_for("loose.png") == f"{NAME}/loose.png"
    # several capture groups join into one key: skin-tone variants of an emoji share a group
    emoji = parse_source(
        NAME,
        folder_entry(
            group="pattern",
            group_pattern=r"([0-9a-f]+)(?:-1f3f[b-f])?((?:-[0-9a-f]+)*?)(?:-1f3f[b-f])?\.webp$",
        ),
    )
    farmer = emoji.group_for("1f468-200d-1f33e.webp")
    assert farmer == emoji.group_for("1f468-1f3fd-200d-1f33e.webp") == f"{NAME}/1f468/-200d-1f33e"
    assert emoji.group_for("1f468-1f3fb.webp") == emoji.group_for("1f468.webp") == f"{NAME}/1f468"
    assert emoji.group_for("1f469-200d-1f33e.webp") != farmer


def test_labels_module():
    assert validate_label("real") == "real"
    assert validate_label("ood:animals") == "ood:animals"
    assert is_ood("ood:x") and not is_ood("real")
    assert ood_set("ood:animals") == "animals"
    for bad in ("Real", "ood:", "ood:  ", "", "photo"):
        with pytest.raises(ValueError):
            validate_label(bad)
    with pytest.raises(ValueError):
        ood_set("real")


def test_load_sources(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "local:\n"
        "  one: {kind: folder, label: real, licence: CC0, provenance: p, path: a}\n"
        "  two: {kind: archive, label: drawing, licence: CC0, provenance: p, path: b.zip}\n",
        encoding="utf-8",
    )
    specs = load_sources(path)
    assert sorted(specs) == ["one", "two"]
    assert specs["two"].kind == "archive" and specs["two"].label == "drawing"

    path.write_text(
        "local:\n"
        "  one: {kind: folder, label: real, licence: CC0, provenance: p, path: a}\n"
        "  broken: {kind: folder, label: real, provenance: p, path: a}\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError) as info:
        load_sources(path)
    assert info.value.source == "broken" and "licence" in str(info.value)

    path.write_text("sources: {}\n", encoding="utf-8")
    with pytest.raises(SourceError, match="sources"):
        load_sources(path)
    with pytest.raises(ParamsError, match="not found"):
        load_sources(tmp_path / "missing.yaml")
