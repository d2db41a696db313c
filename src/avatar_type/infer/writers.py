"""Prediction rows to stdout as they come, batch by batch: an aligned table, JSON or CSV.

A row holds ``path``, ``label``, one probability per class, ``ood_score`` (a float) and
``unfamiliar`` (True, False, or None when the model has no threshold).
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Protocol


class Writer(Protocol):
    def write(self, rows: list[dict]) -> None: ...

    def close(self) -> None: ...


class TableWriter:
    """Aligned text: paths and labels left, numbers and flags right. The path column is as wide
    as ``path_width``, measured before any row exists, so rows print as they come."""

    def __init__(self, columns: list[str], path_width: int, labels: list[str]) -> None:
        self.columns = columns
        widths = [max(len("path"), path_width), max(map(len, ["label", *labels]))]
        # the other values fit their headers: "0.1234" under p_real, "-999.9999" under ood_score
        self.widths = widths + [len(c) for c in columns[2:]]
        self._print(columns)

    def _print(self, cells: list[str]) -> None:
        left = [v.ljust(w) for v, w in zip(cells[:2], self.widths[:2], strict=True)]
        right = [v.rjust(w) for v, w in zip(cells[2:], self.widths[2:], strict=True)]
        print("  ".join(left + right).rstrip())

    def write(self, rows: list[dict]) -> None:
        for row in rows:
            self._print([_cell(row[c], ("yes", "no"), "{:.4f}") for c in self.columns])

    def close(self) -> None:
        """Every line was printed as it came."""


class JsonWriter:
    """One JSON array, as ``json.dumps(rows, indent=2)`` would print it, written row by row."""

    def __init__(self, columns: list[str]) -> None:
        self.count = 0

    def write(self, rows: list[dict]) -> None:
        for row in rows:
            body = json.dumps(row, indent=2).replace("\n", "\n  ")
            print(("[\n  " if self.count == 0 else ",\n  ") + body, end="")
            self.count += 1

    def close(self) -> None:
        print("\n]" if self.count else "[]")


class CsvWriter:
    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.writer = csv.writer(sys.stdout, lineterminator="\n")
        self.writer.writerow(columns)

    def write(self, rows: list[dict]) -> None:
        cells = [[_cell(row[c], ("true", "false"), "{!r}") for c in self.columns] for row in rows]
        self.writer.writerows(cells)

    def close(self) -> None:
        """Every line was written as it came."""


def _cell(value: object, flags: tuple[str, str], number: str) -> str:
    """``value`` as text: a flag as ``flags`` (true, false), a float formatted by ``number``,
    an unknown (None) as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return flags[0] if value else flags[1]
    if isinstance(value, float):
        return number.format(value)
    return str(value)
