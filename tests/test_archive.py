"""Safe extraction: no path traversal, no links, no decompression bombs; include/exclude globs."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile

import pytest

from avatar_type.errors import UnsafeArchiveError
from avatar_type.sources.archive import extract, matches, safe_relpath, scan_folder

MEMBERS = {
    "pkg/templates/a-1.webp": b"a1",
    "pkg/templates/b-2.webp": b"b2",
    "pkg/templates/logo/brand-1.webp": b"logo",
    "pkg/templates/readme.txt": b"text",
    "pkg/__init__.py": b"",
}


def make_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("maker,suffix", [(make_zip, "zip"), (make_tar, "tar.gz")])
def test_extracts_all_regular_files(tmp_path, maker, suffix):
    archive = maker(tmp_path / f"a.{suffix}", MEMBERS)
    dest = tmp_path / "out"
    got = extract(archive, dest)
    assert got == sorted(MEMBERS)
    for name, data in MEMBERS.items():
        assert (dest / name).read_bytes() == data


@pytest.mark.parametrize("maker,suffix", [(make_zip, "zip"), (make_tar, "tar.gz")])
def test_include_exclude_globs(tmp_path, maker, suffix):
    archive = maker(tmp_path / f"a.{suffix}", MEMBERS)
    dest = tmp_path / "out"
    got = extract(archive, dest, include=("pkg/templates/*.webp",), exclude=("*/logo/*",))
    assert got == ["pkg/templates/a-1.webp", "pkg/templates/b-2.webp"]
    on_disk = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert on_disk == got


def test_matches_star_crosses_slashes():
    assert matches("a/b/c.png", ("*.png",))
    assert matches("a/b/c.png", ("a/*",))
    assert not matches("a/b/c.png", ("*.jpg",))
    assert not matches("a/logo/c.png", ("*.png",), ("*/logo/*",))
    assert matches("a/b/c.png", ("*.jpg", "*.png"))
    assert not matches("a/b/C.PNG", ("*.png",))  # case-sensitive on every platform


@pytest.mark.parametrize(
    "name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "..\\evil.txt", "C:/evil.txt", ""]
)
def test_safe_relpath_refuses(tmp_path, name):
    with pytest.raises(UnsafeArchiveError) as info:
        safe_relpath(name, tmp_path / "x.zip")
    assert repr(name) in str(info.value)


def test_safe_relpath_normalises_harmless_names(tmp_path):
    assert safe_relpath("./a/b.png", tmp_path) == "a/b.png"
    assert safe_relpath("a\\b.png", tmp_path) == "a/b.png"


@pytest.mark.parametrize("evil", ["../evil.txt", "sub/../../evil.txt", "ABSOLUTE"])
@pytest.mark.parametrize("maker,suffix", [(make_zip, "zip"), (make_tar, "tar.gz")])
def test_traversal_member_is_refused(tmp_path, maker, suffix, evil):
    if evil == "ABSOLUTE":
        evil = (tmp_path / "abs-evil.txt").as_posix()
    archive = maker(tmp_path / f"a.{suffix}", {"ok.txt": b"fine", evil: b"pwned"})
    dest = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError) as info:
        extract(archive, dest)
    assert repr(evil) in str(info.value)
    assert str(archive) in str(info.value)
    # nothing was written outside the target
    assert not (tmp_path / "deep" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "abs-evil.txt").exists()


def test_tar_symlink_and_hardlink_are_refused(tmp_path):
    for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        archive = tmp_path / f"link{kind!r}.tar"
        with tarfile.open(archive, "w") as tf:
            info = tarfile.TarInfo("pkg/link.png")
            info.type = kind
            info.linkname = "/etc/passwd"
            tf.addfile(info)
        with pytest.raises(UnsafeArchiveError) as err:
            extract(archive, tmp_path / "out")
        assert "'pkg/link.png'" in str(err.value) and "link" in str(err.value)
        assert not (tmp_path / "out" / "pkg" / "link.png").exists()


def test_tar_device_file_is_refused(tmp_path):
    archive = tmp_path / "fifo.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("pkg/fifo")
        info.type = tarfile.FIFOTYPE
        tf.addfile(info)
    with pytest.raises(UnsafeArchiveError, match="not a regular file"):
        extract(archive, tmp_path / "out")


def test_zip_symlink_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/ok.png", b"fine")
        info = zipfile.ZipInfo("pkg/link.png")
        info.create_system = 3  # unix
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, tmp_path / "out")
    assert "'pkg/link.png'" in str(err.value) and "symbolic link" in str(err.value)
    assert not (tmp_path / "out" / "pkg" / "link.png").exists()


def test_zip_decompression_bomb_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    size = 4 * 1024**2  # 4 MiB of zeros deflate to a few KiB: a ratio of ~1000
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/zeros.bin", b"\x00" * size)
    info = zipfile.ZipFile(archive).getinfo("pkg/zeros.bin")
    assert info.file_size > 1024**2 and info.file_size / info.compress_size > 200
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, tmp_path / "out")
    assert "'pkg/zeros.bin'" in str(err.value) and "bomb" in str(err.value)
    assert not (tmp_path / "out" / "pkg" / "zeros.bin").exists()


def test_small_highly_compressible_member_is_fine(tmp_path):
    # under 1 MiB the ratio is not held against a member (tiny files compress very well)
    archive = make_zip(tmp_path / "small.zip", {"zeros.bin": b"\x00" * 500_000})
    assert extract(archive, tmp_path / "out") == ["zeros.bin"]
    assert (tmp_path / "out" / "zeros.bin").stat().st_size == 500_000


def test_total_size_limit(tmp_path):
    archive = make_zip(
        tmp_path / "big.zip",
        {"a.bin": os.urandom(600), "b.bin": os.urandom(600)},
        compression=zipfile.ZIP_STORED,
    )
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, tmp_path / "out", max_total_bytes=1000)
    assert "'b.bin'" in str(err.value)
    assert extract(archive, tmp_path / "out2", max_total_bytes=1200) == ["a.bin", "b.bin"]


def test_not_an_archive(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a zip or tar"):
        extract(path, tmp_path / "out")


def test_scan_folder_refuses_links_and_applies_globs(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "x.png").write_bytes(b"x")
    (src / "a" / "y.txt").write_bytes(b"y")
    (src / "b.png").write_bytes(b"bb")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    (src / "link.png").symlink_to(outside)
    (src / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(src / "pipe.png")
    scan = scan_folder(src, ("*.png",), ())
    assert sorted(scan.files) == ["a/x.png", "b.png"]
    size, mtime_ns = scan.files["b.png"]
    assert size == 2 and mtime_ns == (src / "b.png").stat().st_mtime_ns
    assert scan.refused == {
        "link.png": "symbolic link (not followed)",
        "pipe.png": "not a regular file",
    }
    assert scan.skipped == 2  # a/y.txt and linked_dir: not selected, so neither kept nor refused
    everything = scan_folder(src, ("*",), ("a/*",))
    assert sorted(everything.files) == ["b.png"]
    assert sorted(everything.refused) == ["link.png", "linked_dir", "pipe.png"]
    assert everything.skipped == 2
