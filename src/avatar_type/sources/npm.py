"""The ``npm`` source kind: one pinned package tarball from the npm registry (``npm pack``).

The tarball is downloaded, never installed; files inside start with ``package/``. npm's own
configuration applies (registry mirrors, ``.npmrc``).
"""

from __future__ import annotations

from pathlib import Path

from avatar_type.sources.pinned import download as download_pinned


def download(source: str, package: str, filename: str, sha256: str) -> Path:
    """The pinned tarball of ``package`` (``name@version``), verified and cached."""
    cmd = ["npm", "pack", package, "--pack-destination", "{dest}", "--silent", "--ignore-scripts"]
    return download_pinned(source, filename, sha256, cmd, f"npm pack {package}")
