"""The deb source kind on tiny .deb files built here (ar + data.tar.*): no apt, no network."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile

import pytest
from helpers import blocky, png_bytes, sha256_file
from PIL import Image

from avatar_type.errors import SourceError, UnsafeArchiveError
from avatar_type.sources.fetch import MANIFEST, fetch_source
from avatar_type.sources.spec import parse_source

PACKAGE, DEB_FILE = "pics=1.0-1", "pics_1.0-1_all.deb"
IMAGES = {
    "usr/share/pics/people/a.png": png_bytes(Image.fromarray(blocky(1, 32, 32))),
    "usr/share/pics/people/b.png": png_bytes(Image.fromarray(blocky(2, 32, 32))),
    "usr/share/pics/people/placeholder.png": png_bytes(Image.fromarray(blocky(3, 32, 32))),
    "usr/share/doc/pics/copyright": b"Files: *\nLicense: CC0-1.0\n",
}
INCLUDE = ["usr/share/pics/*.png"]
EXCLUDE = ["*/placeholder.png"]


def ar_member(name: str, data: bytes) -> bytes:
    header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
    assert len(header) == 60
    return header + data + b"\n" * (len(data) % 2)  # padded to an even offset


def data_tar(files: dict[str, bytes], links: dict[str, str], compression: str) -> bytes:
    """A data.tar as dpkg-deb writes it: './'-prefixed names, folders, links."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}") as tf:
        folder = tarfile.TarInfo("./")
        folder.type = tarfile.DIRTYPE
        tf.addfile(folder)
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(f"./{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return buf.getvalue()


def build_deb(
    path,
    files: dict[str, bytes] | None = None,
    links: dict[str, str] | None = None,
    compression: str = "xz",
):
    # an unselected link, as real packages have many (doc symlinks, fonts)
    links = {"usr/share/doc/pics/changelog.gz": "../other/changelog.gz", **(links or {})}
    data = data_tar(IMAGES if files is None else files, links, compression)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"!<arch>\n"
        + ar_member("debian-binary", b"2.0\n")
        + ar_member("control.tar.xz", b"odd")  # never read; its odd size tests the padding
        + ar_member(f"data.tar.{compression}", data)
    )
    return path


def deb_spec(name: str = "pics", sha256: str | None = None, **fields):
    raw = {
        "kind": "deb",
        "label": "drawing",
        "licence": "CC0-1.0",
        "provenance": "tests",
        "pin": {"package": PACKAGE, "file": DEB_FILE, "sha256": sha256 or "0" * 64},
        "include": INCLUDE,
        "exclude": EXCLUDE,
        **fields,
    }
    return parse_source(name, raw)


def selected(files: dict[str, bytes] = IMAGES) -> list[str]:
    return sorted(p for p in files if p.endswith(".png") and "placeholder" not in p)


@pytest.mark.parametrize("compression", ["xz", "gz", "bz2"])
def test_deb_by_path_extracts_the_selection(tmp_path, compression):
    deb = build_deb(tmp_path / DEB_FILE, compression=compression)
    out = tmp_path / "raw" / "pics"
    manifest = fetch_source(deb_spec(sha256=sha256_file(deb), path=str(deb)), out)
    assert [e["path"] for e in manifest["files"]] == selected()
    for rel in selected():
        assert (out / "files" / rel).read_bytes() == IMAGES[rel]
    assert sorted(p.name for p in (out / "files").rglob("*") if p.is_file()) == ["a.png", "b.png"]
    assert manifest["kind"] == "deb" and manifest["pin"]["package"] == PACKAGE


def test_relative_path_is_read_from_the_repository_root(tmp_path):
    deb = build_deb(tmp_path / "debs" / DEB_FILE)
    spec = deb_spec(sha256=sha256_file(deb), path=f"debs/{DEB_FILE}")
    manifest = fetch_source(spec, tmp_path / "raw" / "pics", base=tmp_path)
    assert [e["path"] for e in manifest["files"]] == selected()


def test_wrong_sha256_of_a_supplied_deb(tmp_path):
    deb = build_deb(tmp_path / DEB_FILE)
    with pytest.raises(SourceError) as info:
        fetch_source(deb_spec(sha256="1" * 64, path=str(deb)), tmp_path / "raw" / "pics")
    assert info.value.source == "pics" and "sha256" in str(info.value)


def test_missing_supplied_deb(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        fetch_source(deb_spec(path=str(tmp_path / "nope.deb")), tmp_path / "raw" / "pics")


def test_path_traversal_member_is_refused(tmp_path):
    deb = build_deb(tmp_path / DEB_FILE, files={**IMAGES, "../../evil.png": b"pwned"})
    spec = deb_spec(sha256=sha256_file(deb), path=str(deb))
    with pytest.raises(UnsafeArchiveError) as info:
        fetch_source(spec, tmp_path / "raw" / "pics")
    assert "evil.png" in str(info.value) and DEB_FILE in str(info.value)
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "raw" / "evil.png").exists()


def test_selected_symlink_member_is_refused(tmp_path):
    deb = build_deb(tmp_path / DEB_FILE, links={"usr/share/pics/people/c.png": "/etc/passwd"})
    spec = deb_spec(sha256=sha256_file(deb), path=str(deb))
    with pytest.raises(UnsafeArchiveError) as info:
        fetch_source(spec, tmp_path / "raw" / "pics")
    assert "c.png" in str(info.value) and "link" in str(info.value)
    assert not (tmp_path / "raw" / "pics" / "files" / "usr" / "share" / "pics" / "c.png").exists()


@pytest.mark.parametrize(
    "content,words",
    [
        (b"PK\x03\x04 not an ar archive at all", ["ar archive"]),
        (b"!<arch>\n" + ar_member("debian-binary", b"2.0\n")[:40], ["corrupt ar"]),
        (b"!<arch>\n" + ar_member("debian-binary", b"2.0\n"), ["no data.tar", "debian-binary"]),
        (b"!<arch>\n" + ar_member("data.tar.xz", b"not xz data"), ["data.tar.xz"]),
    ],
)
def test_broken_deb_names_the_source(tmp_path, content, words):
    deb = tmp_path / "broken.deb"
    deb.write_bytes(content)
    with pytest.raises(SourceError) as info:
        fetch_source(deb_spec(sha256=sha256_file(deb), path=str(deb)), tmp_path / "raw" / "pics")
    assert info.value.source == "pics"
    for word in words:
        assert word in str(info.value)


def test_zstd_data_without_zstd_support_says_so(tmp_path, monkeypatch):
    monkeypatch.delitem(tarfile.TarFile.OPEN_METH, "zst", raising=False)
    deb = tmp_path / "zst.deb"
    deb.write_bytes(b"!<arch>\n" + ar_member("data.tar.zst", b"\x28\xb5\x2f\xfd zstd frame"))
    with pytest.raises(SourceError) as info:
        fetch_source(deb_spec(sha256=sha256_file(deb), path=str(deb)), tmp_path / "raw" / "pics")
    assert "zstd" in str(info.value) and "dpkg-deb -x" in str(info.value)


# ------------------------------------------------------------------ apt-get download


def fake_apt(folder, script: str):
    """An ``apt-get`` on a PATH of its own: ``script`` is its shell body."""
    folder.mkdir(parents=True, exist_ok=True)
    apt = folder / "apt-get"
    apt.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    apt.chmod(apt.stat().st_mode | stat.S_IEXEC)
    return folder


def test_apt_download_is_verified_and_cached(tmp_path, monkeypatch):
    deb = build_deb(tmp_path / "pool" / DEB_FILE)
    calls = tmp_path / "calls.txt"
    bin_dir = fake_apt(tmp_path / "bin", f'echo "$@" >> {calls}\ncp {deb} "./{DEB_FILE}"')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AVATAR_TYPE_CACHE", str(tmp_path / "cache"))
    sha = sha256_file(deb)
    manifest = fetch_source(deb_spec(sha256=sha), tmp_path / "raw" / "pics")
    assert [e["path"] for e in manifest["files"]] == selected()
    assert calls.read_text().split() == ["download", PACKAGE]
    assert (tmp_path / "cache" / "downloads" / sha / DEB_FILE).read_bytes() == deb.read_bytes()
    fetch_source(deb_spec(sha256=sha), tmp_path / "raw" / "again")  # from the cache
    assert calls.read_text().count("download") == 1


def test_apt_wrong_sha256_names_the_source(tmp_path, monkeypatch):
    deb = build_deb(tmp_path / "pool.deb")
    bin_dir = fake_apt(tmp_path / "bin", f'cp {deb} "./{DEB_FILE}"')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AVATAR_TYPE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SourceError) as info:
        fetch_source(deb_spec(sha256="2" * 64), tmp_path / "raw" / "pics")
    assert info.value.source == "pics" and "sha256" in str(info.value)


def test_missing_apt_names_the_source_and_the_path_option(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SourceError) as info:
        fetch_source(deb_spec(), tmp_path / "raw" / "pics")
    message = str(info.value)
    assert info.value.source == "pics" and "'pics'" in message
    assert "apt-get is not installed" in message and "'path:'" in message and DEB_FILE in message


def test_version_not_served_names_the_source_and_the_path_option(tmp_path, monkeypatch):
    bin_dir = fake_apt(
        tmp_path / "bin", "echo \"E: Version '1.0-1' for 'pics' was not found\" >&2\nexit 100"
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AVATAR_TYPE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SourceError) as info:
        fetch_source(deb_spec(), tmp_path / "raw" / "pics")
    message = str(info.value)
    assert info.value.source == "pics" and message.count("source 'pics'") == 1
    assert "was not found" in message and "apt-get update" in message and "'path:'" in message


def test_optional_deb_without_apt_is_recorded_as_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "raw" / "pics"
    manifest = fetch_source(deb_spec(optional=True), out)
    assert manifest["missing"] is True and "apt-get is not installed" in manifest["reason"]
    assert manifest["files"] == [] and manifest["kept"] == 0
    assert json.loads((out / MANIFEST).read_text(encoding="utf-8")) == manifest
    assert not any((out / "files").glob("*"))  # nothing fetched
