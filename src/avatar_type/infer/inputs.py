"""The files ``predict`` reads, produced lazily: files named, folders (recursively) and globs.

A folder is walked depth first with each directory's entries sorted by name, which is the order
of ``sorted(folder.rglob("*"))`` without ever listing the whole tree: a folder of any size costs
the memory of its largest directory. Every entry a folder scan passes over is reported.
"""

from __future__ import annotations

import glob
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from PIL import Image

# (where, message): a problem (the exit status says so) or a note (a skipped file)
Report = Callable[[str, str], None]
NOT_REGULAR = "not a regular file"


def image_suffixes() -> set[str]:
    """Every file extension of a format PIL can open: the decoder is PIL."""
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def _walk(folder: str) -> Iterator[os.DirEntry]:
    """Entries under ``folder`` that are not directories; links to folders are not followed."""
    with os.scandir(folder) as entries:
        ordered = sorted(entries, key=lambda e: e.name)
    for entry in ordered:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path)
        else:
            yield entry


def _skip_reason(entry: os.DirEntry, suffixes: set[str]) -> str | None:
    """Why a folder scan leaves ``entry`` out: its extension, or that it is no regular file."""
    suffix = Path(entry.name).suffix.lower()
    if suffix not in suffixes:
        return suffix or "(none)"
    return None if entry.is_file() else NOT_REGULAR


def _why(reason: str) -> str:
    if reason == NOT_REGULAR:
        return reason
    if reason == "(none)":
        return "no extension: not an image format"
    return f"extension {reason}: not an image format"


def _skip_line(reason: str, count: int) -> str:
    files = f"{count} file{'s' if count != 1 else ''}"
    if reason == NOT_REGULAR:
        return f"skipped {count} entr{'ies' if count != 1 else 'y'} that are not regular files"
    if reason == "(none)":
        return f"skipped {files} with no extension (not an image format)"
    return f"skipped {files} with extension {reason} (not an image format)"


def _folder(
    folder: str, suffixes: set[str], problem: Report, note: Report, verbose: bool
) -> Iterator[Path]:
    """Image files under ``folder``; skipped entries named (``verbose``) or counted."""
    skipped: Counter[str] = Counter()
    found = 0
    for entry in _walk(folder):
        reason = _skip_reason(entry, suffixes)
        if reason is None:
            found += 1
            yield Path(entry.path)
        elif verbose:
            note(entry.path, f"skipped ({_why(reason)})")
        else:
            skipped[reason] += 1
    shown = folder if folder.endswith(os.sep) else folder + os.sep
    for reason, count in sorted(skipped.items()):
        note(shown, f"{_skip_line(reason, count)}; --verbose lists them")
    if not found:
        problem(folder, "folder has no image files")


def scan(
    patterns: list[str], problem: Report, note: Report, verbose: bool = False
) -> Iterator[Path]:
    """Each input file once, in order: named files (whatever their extension: the decoder says
    whether they are images), images under folders, and glob matches (expanded here as well,
    for shells that did not); a pattern that gives none is a ``problem``."""
    suffixes = image_suffixes()
    # only overlapping patterns can repeat a file, so one pattern needs no memory of paths
    seen: set[Path] | None = set() if len(patterns) > 1 else None
    for pattern in patterns:
        # an existing path is taken literally, so a file named "a[1].jpg" is not a pattern
        literal = Path(pattern).exists()
        matches = [pattern] if literal else sorted(glob.glob(pattern, recursive=True))
        if not matches:
            is_glob = glob.escape(pattern) != pattern
            problem(pattern, "no file matches" if is_glob else "no such file")
        for match in matches:
            found = (
                _folder(match, suffixes, problem, note, verbose)
                if os.path.isdir(match)
                else (Path(match),)
            )
            for path in found:
                if seen is None:
                    yield path
                elif path not in seen:
                    seen.add(path)
                    yield path
