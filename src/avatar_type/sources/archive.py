"""Safe extraction of zip and tar archives (no path traversal, no links, no decompression bombs)
and the walk of a local folder (no links followed)."""

from __future__ import annotations

import fnmatch
import os
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from avatar_type.errors import UnsafeArchiveError

MAX_TOTAL_BYTES = 2 * 1024**3  # all extracted members together
MAX_MEMBER_BYTES = 512 * 1024**2
MAX_ZIP_RATIO = 200  # uncompressed/compressed; images compress far less than this


@dataclass(frozen=True)
class Member:
    """A regular file inside an archive."""

    path: str  # POSIX path inside the archive
    size: int


def matches(path: str, include: tuple[str, ...], exclude: tuple[str, ...] = ()) -> bool:
    """fnmatch-style selection on the full POSIX path; ``*`` also crosses ``/``."""
    return any(fnmatch.fnmatchcase(path, p) for p in include) and not any(
        fnmatch.fnmatchcase(path, p) for p in exclude
    )


def safe_relpath(name: str, archive: Path | str) -> str:
    """Normalise a member name; refuse absolute paths and ``..`` components."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or ":" in name or not posix.parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} would extract outside the target")
    return posix.as_posix()


def _zip_members(
    zf: zipfile.ZipFile, archive: Path, include: tuple[str, ...], exclude: tuple[str, ...]
) -> Iterator[tuple[Member, zipfile.ZipInfo]]:
    for info in zf.infolist():
        if info.is_dir():
            continue
        path = safe_relpath(info.filename, archive)
        if not matches(path, include, exclude):
            continue  # never opened, so links and ratios of unselected members do not matter
        mode = info.external_attr >> 16
        if mode and (mode & 0o170000) == 0o120000:
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a symbolic link")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024**2 and ratio > MAX_ZIP_RATIO:
            raise UnsafeArchiveError(
                f"{archive}: member {info.filename!r} expands {ratio:.0f}x (decompression bomb?)"
            )
        yield Member(path, info.file_size), info


def _tar_members(
    tf: tarfile.TarFile, archive: Path | str, include: tuple[str, ...], exclude: tuple[str, ...]
) -> Iterator[tuple[Member, tarfile.TarInfo]]:
    for info in tf:
        if info.isdir():
            continue
        path = safe_relpath(info.name, archive)
        if not matches(path, include, exclude):
            continue  # e.g. the many symlinks of a Debian package outside the selection
        if info.issym() or info.islnk():
            raise UnsafeArchiveError(f"{archive}: member {info.name!r} is a link")
        if not info.isfile():
            raise UnsafeArchiveError(f"{archive}: member {info.name!r} is not a regular file")
        yield Member(path, info.size), info


def _copy_limited(src: IO[bytes], dst: Path, limit: int, archive: Path | str, name: str) -> int:
    """Copy at most ``limit`` bytes; a member that reads past its limit is a bomb."""
    written = 0
    with dst.open("wb") as out:
        while chunk := src.read(1024 * 1024):
            written += len(chunk)
            if written > limit:
                out.close()
                dst.unlink()
                raise UnsafeArchiveError(f"{archive}: member {name!r} exceeds {limit} bytes")
            out.write(chunk)
    return written


def _extract_members(
    members: Iterator[tuple[Member, Callable[[], IO[bytes]]]],
    archive: Path | str,
    dest: Path,
    max_total_bytes: int,
) -> list[str]:
    extracted: list[str] = []
    total = 0
    for member, opener in members:
        if member.size > MAX_MEMBER_BYTES or total + member.size > max_total_bytes:
            raise UnsafeArchiveError(f"{archive}: member {member.path!r} is too large")
        target = dest / member.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with opener() as src:
            total += _copy_limited(
                src, target, min(MAX_MEMBER_BYTES, max_total_bytes - total), archive, member.path
            )
        extracted.append(member.path)
    return sorted(extracted)


def extract_tar(
    tf: tarfile.TarFile,
    archive: Path | str,
    dest: Path,
    include: tuple[str, ...] = ("*",),
    exclude: tuple[str, ...] = (),
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> list[str]:
    """``extract`` for a tar already open (e.g. one read from inside a .deb); ``archive`` names
    it in errors."""
    members = (
        (m, lambda i=info: tf.extractfile(i))
        for m, info in _tar_members(tf, archive, include, exclude)
    )
    return _extract_members(members, archive, dest, max_total_bytes)


def extract(
    archive: Path,
    dest: Path,
    include: tuple[str, ...] = ("*",),
    exclude: tuple[str, ...] = (),
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> list[str]:
    """Extract the regular files matching ``include``/``exclude`` into ``dest``.

    Returns the extracted POSIX paths (relative to ``dest``), sorted. Raises UnsafeArchiveError
    naming the archive and member for traversal, links or oversized members, and ValueError for
    a file that is neither zip nor tar.
    """
    archive = Path(archive)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = (
                (m, lambda i=info: zf.open(i))
                for m, info in _zip_members(zf, archive, include, exclude)
            )
            return _extract_members(members, archive, dest, max_total_bytes)
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            return extract_tar(tf, archive, dest, include, exclude, max_total_bytes)
    raise ValueError(f"{archive}: not a zip or tar archive")


@dataclass(frozen=True)
class FolderScan:
    """One walk of a folder: what a folder source lists, refuses and leaves out."""

    files: dict[str, tuple[int, int]]  # POSIX path -> (size, mtime_ns) of each selected file
    refused: dict[str, str]  # POSIX path -> reason (links, special files, unreadable folders)
    skipped: int  # entries the include/exclude selection left out


def scan_folder(root: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> FolderScan:
    """Walk ``root`` once (os.scandir, one stat per file; thousands of files are read nowhere
    else). Symbolic links are never followed: a selected one is refused, as is any other entry
    that is not a regular file or folder. An unreadable sub-folder is refused; the root raises."""
    files: dict[str, tuple[int, int]] = {}
    refused: dict[str, str] = {}
    skipped = 0
    todo = [("", Path(root))]
    while todo:
        prefix, folder = todo.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            if not prefix:
                raise
            refused[prefix.rstrip("/")] = f"folder not readable ({exc.strerror})"
            continue
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                todo.append((f"{rel}/", Path(entry.path)))
            elif not matches(rel, include, exclude):
                skipped += 1
            elif entry.is_symlink():
                refused[rel] = "symbolic link (not followed)"
            elif entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                files[rel] = (stat.st_size, stat.st_mtime_ns)
            else:
                refused[rel] = "not a regular file"
    return FolderScan(files, refused, skipped)
