"""aggregate() over a raw folder holding the whole bad-input corpus, good images and duplicates:
no crash, and every input file ends in exactly one place (the index or the rejects table)."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from helpers import MIN_SIDE, blocky, corpus, png_bytes, tree_snapshot, write_manifest
from PIL import Image

from avatar_type.data.aggregate import AggregateConfig, aggregate, image_id, tasks_from_raw
from avatar_type.data.faces import detect_faces
from avatar_type.errors import AvatarTypeError
from avatar_type.params import from_mapping
from avatar_type.sources.fetch import fetch_source
from avatar_type.sources.spec import parse_source

SIZE = 48


def folder_source(tmp_path, name, files: dict[str, bytes], label: str, **fields):
    src = tmp_path / "inputs" / name
    src.mkdir(parents=True)
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    spec = parse_source(
        name,
        {
            "kind": "folder",
            "label": label,
            "licence": f"{name} licence",
            "provenance": "tests",
            "path": str(src),
            **fields,
        },
    )
    return fetch_source(spec, tmp_path / "raw" / name)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """data/raw with four sources; returns (raw dir, corpus expectations, duplicate info)."""
    tmp_path = tmp_path_factory.mktemp("agg")
    expect = corpus(tmp_path / "inputs" / "corpus")
    spec = parse_source(
        "corpus",
        {
            "kind": "folder",
            "label": "real",
            "licence": "corpus licence",
            "provenance": "tests",
            "path": str(tmp_path / "inputs" / "corpus"),
        },
    )
    fetch_source(spec, tmp_path / "raw" / "corpus")

    originals = {f"img{k}.png": blocky(200 + k, 80, 80) for k in range(3)}
    folder_source(
        tmp_path,
        "a-good",
        {k: png_bytes(Image.fromarray(v)) for k, v in originals.items()},
        "drawing",
    )
    exact = (tmp_path / "inputs" / "a-good" / "img0.png").read_bytes()
    folder_source(
        tmp_path,
        "b-copy",
        {"copy.png": exact, "own.png": png_bytes(Image.fromarray(blocky(210, 64, 64)))},
        "drawing",
    )
    brighter = np.clip(originals["img0.png"].astype(int) + 10, 0, 255).astype(np.uint8)
    folder_source(
        tmp_path, "c-bright", {"bright.png": png_bytes(Image.fromarray(brighter))}, "generated"
    )
    duplicates = {("b-copy", "copy.png"): "exact", ("c-bright", "bright.png"): None}
    return tmp_path / "raw", expect, duplicates


@pytest.fixture(scope="module")
def result(raw, tmp_path_factory):
    raw_dir, _, _ = raw
    out = tmp_path_factory.mktemp("aggregated")
    cfg = AggregateConfig(size=SIZE, min_side=MIN_SIDE, workers=2)
    index, rejects = aggregate(raw_dir, out, cfg)
    return out, index, rejects


def manifest_files(raw_dir) -> set[tuple[str, str]]:
    found = set()
    for path in raw_dir.glob("*/manifest.json"):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        found |= {(manifest["source"], e["path"]) for e in manifest["files"]}
    return found


def read_tables(out):
    index = pd.read_csv(out / "index.csv", keep_default_na=False)
    rejects = pd.read_csv(out / "rejects.csv", keep_default_na=False)
    return index, rejects


def test_every_input_is_accounted_for_exactly_once(raw, result):
    raw_dir, expect, _ = raw
    out, _, _ = result
    index, rejects = read_tables(out)
    inputs = manifest_files(raw_dir)
    assert len(inputs) == len(expect) + 3 + 2 + 1
    kept = set(zip(index["source"], index["path"], strict=True))
    rejected = set(zip(rejects["source"], rejects["path"], strict=True))
    assert len(kept) == len(index) and len(rejected) == len(rejects)  # one row each
    assert kept | rejected == inputs
    assert not kept & rejected
    assert (rejects["reason"].str.len() > 0).all()
    assert not rejects["reason"].str.contains("unexpected").any()


def test_corpus_outcomes(raw, result):
    _, expect, _ = raw
    out, _, _ = result
    index, rejects = read_tables(out)
    corpus_rejects = rejects[rejects["source"] == "corpus"].set_index("path")["reason"]
    want_rejected = {name for name, e in expect.items() if "reject" in e}
    assert set(corpus_rejects.index) == want_rejected
    for name in want_rejected:
        assert expect[name]["reject"] in corpus_rejects[name].lower(), (name, corpus_rejects[name])
    kept = index[index["source"] == "corpus"].set_index("path")
    assert set(kept.index) == {name for name, e in expect.items() if "ok" in e}
    assert kept.loc["anim.gif", "orig_frames"] == 3
    assert kept.loc["anim.webp", "orig_frames"] == 3
    assert kept.loc["cmyk.jpg", "orig_mode"] == "CMYK"
    assert kept.loc["grey16.png", "orig_mode"] == "I;16"
    assert (kept.loc["exif6.jpg", "orig_width"], kept.loc["exif6.jpg", "orig_height"]) == (64, 32)
    assert bool(kept.loc["palette.png", "orig_has_alpha"]) is True
    assert bool(kept.loc["good1.jpg", "orig_has_alpha"]) is False
    assert kept.loc["good1.jpg", "orig_jpeg_quality"] > 0
    assert kept.loc["good2.png", "orig_jpeg_quality"] == -1
    assert (kept["label"] == "real").all() and (kept["licence"] == "corpus licence").all()


def test_duplicates_removed_across_sources(raw, result):
    _, _, duplicates = raw
    out, _, _ = result
    index, rejects = read_tables(out)
    original = image_id("a-good", "img0.png", -1)
    assert original in set(index["id"])
    dups = rejects[rejects["duplicate_of"] != ""]
    assert set(zip(dups["source"], dups["path"], strict=True)) == set(duplicates)
    for (source, path), kind in duplicates.items():
        row = dups[(dups["source"] == source) & (dups["path"] == path)].iloc[0]
        assert "duplicate" in row["reason"]
        assert row["duplicate_of"] == original
        if kind == "exact":
            assert row["reason"].startswith("exact")
    assert ("b-copy", "own.png") in set(zip(index["source"], index["path"], strict=True))
    assert rejects.loc[rejects["duplicate_of"] == "", "reason"].str.contains("duplicate").sum() == 0


def gradient_png() -> bytes:
    ramp = np.repeat(np.linspace(40, 200, 64).astype(np.uint8)[None, :, None], 64, axis=0)
    return png_bytes(Image.fromarray(np.repeat(ramp, 3, axis=2)))


def test_detect_faces():
    rgb = np.asarray(Image.open(io.BytesIO(gradient_png())).convert("RGB"))
    assert detect_faces(rgb) == []
    skdata = pytest.importorskip("skimage.data")
    astronaut = skdata.astronaut()  # a portrait bundled with scikit-image
    boxes = detect_faces(astronaut)
    assert len(boxes) >= 1
    x, y, w, h = boxes[0]
    assert w >= 40 and h >= 40 and x + w <= 512 and y + h <= 512
    areas = [bw * bh for _, _, bw, bh in boxes]
    assert areas == sorted(areas, reverse=True)  # largest first


@pytest.mark.parametrize("fallback", [True, False])
def test_face_crop_without_face(tmp_path, fallback):
    folder_source(tmp_path, "faces", {"noface.png": gradient_png()}, "real", face_crop=True)
    folder_source(
        tmp_path, "plain", {"ok.png": png_bytes(Image.fromarray(blocky(5, 64, 64)))}, "real"
    )
    cfg = AggregateConfig(size=SIZE, min_side=MIN_SIDE, workers=1, face_fallback_whole=fallback)
    index, rejects = aggregate(tmp_path / "raw", tmp_path / "out", cfg)
    row = rejects[rejects["source"] == "faces"]
    if fallback:  # the whole image is kept, as face -1
        assert row.empty
        kept = index[index["source"] == "faces"]
        assert list(kept["path"]) == ["noface.png"] and list(kept["face"]) == [-1]
    else:
        assert list(row["path"]) == ["noface.png"] and "no face" in row["reason"].iat[0]
        assert (index["source"] != "faces").all()


def test_face_crop_keeps_one_row_per_face(tmp_path):
    skdata = pytest.importorskip("skimage.data")
    portrait = png_bytes(Image.fromarray(skdata.astronaut()))
    n_faces = len(detect_faces(skdata.astronaut()))
    folder_source(tmp_path, "portraits", {"astronaut.png": portrait}, "real", face_crop=True)
    index, rejects = aggregate(
        tmp_path / "raw",
        tmp_path / "out",
        AggregateConfig(size=SIZE, min_side=MIN_SIDE, workers=1, face_fallback_whole=False),
    )
    assert rejects.empty
    assert 1 <= len(index) <= n_faces  # every face at most once (duplicates aside)
    assert (index["face"] >= 0).all()
    base = image_id("portraits", "astronaut.png", -1)
    assert set(index["id"]) <= {f"{base}-f{k}" for k in range(n_faces)}
    for image_id_ in index["id"]:
        with Image.open(tmp_path / "out" / "images" / f"{image_id_}.jpg") as image:
            assert image.size == (SIZE, SIZE)


def test_images_folder_matches_index(result):
    out, _, _ = result
    index, _ = read_tables(out)
    assert index["id"].is_unique
    files = {p.name for p in (out / "images").iterdir()}
    assert files == {f"{i}.jpg" for i in index["id"]}
    for image_id_, size in zip(index["id"], index["file_size"], strict=True):
        path = out / "images" / f"{image_id_}.jpg"
        assert path.stat().st_size == size
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size == (SIZE, SIZE) and image.mode == "RGB"


def test_index_columns(raw, result):
    out, index_df, rejects_df = result
    index, rejects = read_tables(out)
    assert len(index) == len(index_df) and len(rejects) == len(rejects_df)
    assert list(rejects.columns) == ["source", "path", "label", "reason", "duplicate_of"]
    for col in (
        "id",
        "label",
        "source",
        "path",
        "face",
        "group",
        "licence",
        "generator",
        "phash",
        "dup_group",
        "file_size",
        "orig_format",
        "orig_width",
        "orig_height",
        "orig_mode",
        "orig_file_size",
        "orig_has_alpha",
        "orig_jpeg_quality",
        "orig_frames",
    ):
        assert col in index.columns, col
    assert "jpeg" not in index.columns
    assert index["phash"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert (index["face"] == -1).all()
    assert set(index["dup_group"]) <= set(index["id"])
    assert list(index.sort_values(["source", "path"])["id"]) == list(index["id"])
    raw_dir, _, _ = raw
    for _, row in index.iterrows():
        manifest = json.loads((raw_dir / row["source"] / "manifest.json").read_text())
        entry = next(e for e in manifest["files"] if e["path"] == row["path"])
        assert row["group"] == entry["group"] and row["label"] == entry["label"]
        assert row["orig_file_size"] == entry["size"]  # folders are read in place
    labels = dict(zip(index["source"], index["label"], strict=True))
    assert labels["a-good"] == "drawing" and labels["corpus"] == "real"


def test_serial_and_parallel_runs_agree(raw, result, tmp_path):
    raw_dir, _, _ = raw
    out, _, _ = result
    aggregate(
        raw_dir, tmp_path / "serial", AggregateConfig(size=SIZE, min_side=MIN_SIDE, workers=1)
    )
    assert tree_snapshot(tmp_path / "serial") == tree_snapshot(out)


def test_no_manifests_and_nothing_usable(tmp_path):
    with pytest.raises(AvatarTypeError, match="no source manifests"):
        tasks_from_raw(tmp_path)
    write_manifest(tmp_path / "raw" / "bad", "bad", {"x.jpg": b"", "y.png": b"nope"}, "real")
    with pytest.raises(AvatarTypeError, match="no usable image"):
        aggregate(tmp_path / "raw", tmp_path / "out", AggregateConfig(workers=1))


def test_config_from_params():
    cfg = from_mapping({"size": 64, "workers": 1}, AggregateConfig, "aggregate")
    assert cfg.size == 64 and cfg.workers == 1 and cfg.jpeg_quality == 90
    with pytest.raises(AvatarTypeError, match="sizee"):
        from_mapping({"sizee": 64}, AggregateConfig, "aggregate")


def test_image_id():
    a = image_id("src", "a/b.png", -1)
    assert a.startswith("src-") and len(a) == len("src-") + 12
    assert image_id("src", "a/b.png", -1) == a
    assert image_id("src", "a/c.png", -1) != a
    assert image_id("src", "a/b.png", 2) == a + "-f2"
