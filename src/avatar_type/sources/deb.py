"""The ``deb`` source kind: one pinned Debian package, fetched with ``apt-get download``.

A .deb is an ``ar`` archive whose ``data.tar.*`` member holds the package's files. The ar
container is parsed here and the data tarball goes through the same safe extraction as every
other archive. Without apt (or where the version is not served) a .deb supplied by hand is
named with ``path:``; either way its sha256 is checked.
"""

from __future__ import annotations

import io
import lzma
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from avatar_type.errors import SourceError
from avatar_type.sources import archive
from avatar_type.sources.pinned import download as download_pinned
from avatar_type.sources.pinned import sha256_of

AR_MAGIC = b"!<arch>\n"
AR_HEADER = 60
TAR_MODES = {"": "r:", ".gz": "r:gz", ".xz": "r:xz", ".bz2": "r:bz2", ".zst": "r:zst"}


def _hint(package: str, filename: str) -> str:
    return (
        f"apt-get download needs a Debian or Ubuntu system whose package lists serve {package} "
        f"(run 'apt-get update' first); otherwise get {filename} by hand and give its location "
        "as 'path:' in this source (relative to the repository root or absolute)"
    )


def download(source: str, package: str, filename: str, sha256: str) -> Path:
    """The pinned .deb of ``package`` (``name=version``), verified and cached."""
    if shutil.which("apt-get") is None:
        raise SourceError(source, f"apt-get is not installed; {_hint(package, filename)}")
    what = f"apt-get download {package}"
    try:  # apt-get download writes into its working directory, the temporary folder
        return download_pinned(source, filename, sha256, ["apt-get", "download", package], what)
    except SourceError as exc:
        reason = str(exc).removeprefix(f"source {source!r}: ")
        raise SourceError(source, f"{reason}\n{_hint(package, filename)}") from exc


def verified(source: str, path: Path, sha256: str) -> Path:
    """A .deb supplied by hand, checked against the pinned sha256."""
    if not path.is_file():
        raise SourceError(source, f"{path}: .deb not found")
    actual = sha256_of(path)
    if actual != sha256:
        raise SourceError(
            source, f"{path}: sha256 {actual} does not match the pinned {sha256}; wrong file?"
        )
    return path


class _Window(io.RawIOBase):
    """Bytes [start, start + size) of an open file, read in place (no copy of the member)."""

    def __init__(self, fh: BinaryIO, start: int, size: int) -> None:
        self._fh, self._start, self._size, self._pos = fh, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        origin = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = min(max(origin + offset, 0), self._size)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        self._fh.seek(self._start + self._pos)
        data = self._fh.read(n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def ar_members(fh: BinaryIO, length: int) -> Iterator[tuple[str, int, int]]:
    """(name, data offset, size) of every member of an ``ar`` archive of ``length`` bytes."""
    if fh.read(len(AR_MAGIC)) != AR_MAGIC:
        raise ValueError("not a .deb: no ar archive signature")
    offset = len(AR_MAGIC)
    while offset < length:
        fh.seek(offset)
        header = fh.read(AR_HEADER)
        if len(header) < AR_HEADER or header[58:60] != b"`\n":
            raise ValueError(f"corrupt ar member header at byte {offset}")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size_field = header[48:58].decode("ascii", "replace").strip()
        if not size_field.isdigit():
            raise ValueError(f"ar member {name!r}: bad size field {size_field!r}")
        start, size = offset + AR_HEADER, int(size_field)
        if start + size > length:
            raise ValueError(f"ar member {name!r} runs past the end of the file (truncated?)")
        yield name, start, size
        offset = start + size + size % 2  # members are padded to an even offset


def extract(
    source: str, deb: Path, dest: Path, include: tuple[str, ...], exclude: tuple[str, ...]
) -> list[str]:
    """Extract the package files matching ``include``/``exclude`` (paths without ``./``)."""
    length = deb.stat().st_size
    with deb.open("rb") as fh:
        try:
            members = list(ar_members(fh, length))
        except ValueError as exc:
            raise SourceError(source, f"{deb}: {exc}") from exc
        data = [(n, start, size) for n, start, size in members if n.startswith("data.tar")]
        if not data:
            names = ", ".join(n for n, _, _ in members) or "nothing"
            raise SourceError(source, f"{deb}: no data.tar member (has {names})")
        name, start, size = data[0]
        mode = TAR_MODES.get(name.removeprefix("data.tar"))
        if mode is None:
            raise SourceError(source, f"{deb}: unknown data member compression {name!r}")
        if mode == "r:zst" and "zst" not in tarfile.TarFile.OPEN_METH:
            raise SourceError(
                source,
                f"{deb}: its {name} is zstd-compressed, which this Python cannot read "
                "(Python 3.14 can); unpack it with 'dpkg-deb -x' and use a folder source instead",
            )
        window = io.BufferedReader(_Window(fh, start, size), buffer_size=1024**2)
        try:
            with tarfile.open(fileobj=window, mode=mode) as tf:
                return archive.extract_tar(tf, f"{deb}:{name}", dest, include, exclude)
        except (tarfile.TarError, lzma.LZMAError, zlib.error, OSError, EOFError) as exc:
            raise SourceError(source, f"{deb}:{name}: could not be extracted ({exc})") from exc
