"""Stills from containers of many images: video frames and rows of image-stack arrays."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def extract_frames(video: Path, out_dir: Path, every_seconds: float, max_frames: int) -> list[Path]:
    """Write PNG frames taken every ``every_seconds`` (at most ``max_frames``); [] if unreadable."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        return []
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(1, round(fps * every_seconds))
    written: list[Path] = []
    index = 0
    try:
        while len(written) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                out_dir.mkdir(parents=True, exist_ok=True)
                target = out_dir / f"frame_{index:06d}.png"
                cv2.imwrite(str(target), frame)
                written.append(target)
            index += 1
    finally:
        cap.release()
    return written


def extract_array_rows(
    array_file: Path, out_dir: Path, rows: str = ":", scale: float = 1.0
) -> list[Path]:
    """Write rows ``rows`` (a slice such as ``0:100``) of an image stack .npy as PNG files.

    Values are multiplied by ``scale`` (255 for arrays in [0, 1]); never unpickles.
    """
    from PIL import Image

    stack = np.load(array_file, allow_pickle=False)
    start, _, stop = rows.partition(":")
    selected = stack[slice(int(start) if start else None, int(stop) if stop else None)]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, row in enumerate(selected):
        target = out_dir / f"row_{i:05d}.png"
        Image.fromarray(np.clip(np.asarray(row) * scale, 0, 255).round().astype(np.uint8)).save(
            target
        )
        written.append(target)
    return written
