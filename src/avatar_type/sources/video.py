"""Frames from video files: one still every few seconds, grouped with their video."""

from __future__ import annotations

from pathlib import Path

import cv2

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
