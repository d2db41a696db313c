"""The report's renderer: Markdown built section by section, and one self-contained HTML file
with every figure embedded. The sections' tables and notes come from ``sections``."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import markdown
import pandas as pd

from avatar_type.errors import MissingInputError


@dataclass
class Document:
    """Markdown built section by section; figure paths are relative to the report's folder."""

    root: Path
    parts: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"{'#' * level} {text}\n")

    def text(self, text: str) -> None:
        self.parts.append(text.strip() + "\n")

    def table(self, frame: pd.DataFrame, floatfmt: str = ".3f") -> None:
        self.parts.append(frame.to_markdown(index=False, floatfmt=floatfmt) + "\n")

    def figure(self, path: Path, caption: str) -> None:
        path = Path(path)
        if not path.is_file():
            raise MissingInputError(f"{path}: figure missing; run `dvc repro`")
        relative = Path(_relative(path, self.root))
        self.figures.append(relative)
        self.parts.append(f"![{caption}]({relative.as_posix()})\n\n*{caption}*\n")

    def markdown(self) -> str:
        return "\n".join(self.parts)


def _relative(path: Path, root: Path) -> str:
    return os.path.relpath(Path(path).absolute(), Path(root).absolute())


def to_html(md: str, root: Path, title: str) -> str:
    """HTML of the Markdown with every image inlined as a data URI (no file beside it needed)."""
    body = markdown.markdown(md, extensions=["tables"])

    def inline(match: re.Match) -> str:
        data = base64.b64encode((Path(root) / match.group(1)).read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+\.png)"', inline, body)
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em;line-height:1.4}"
        "table{border-collapse:collapse;margin:0.5em 0;font-size:0.85em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "img{max-width:100%}code{background:#f4f4f4}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{style}</style></head><body>\n{body}\n</body></html>\n"
    )
