"""The description of a data folder's images (data/aggregated, data/denoised): the settings that
made them. Models trained on a pack copy it into their card, so prediction prepares an image
exactly as training saw it, whatever params.yaml says today."""

from __future__ import annotations

import json
from pathlib import Path

from avatar_type.errors import MissingInputError

PREPROCESSING = "preprocessing.json"


def write_preprocessing(out_dir: Path, description: dict) -> None:
    """How the images of a data folder were made, beside them: models trained on the folder
    copy it into their card, so prediction prepares an image exactly as training saw it."""
    text = json.dumps(description, indent=1, sort_keys=True)
    (Path(out_dir) / PREPROCESSING).write_text(text, encoding="utf-8")


def read_preprocessing(data_dir: Path) -> dict:
    path = Path(data_dir) / PREPROCESSING
    if not path.is_file():
        raise MissingInputError(f"{path}: missing; rerun the stage that writes {data_dir}")
    return json.loads(path.read_text(encoding="utf-8"))
