"""Face boxes from OpenCV's bundled Haar cascade, for cropping group photos into portraits."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np


@lru_cache(maxsize=1)
def _cascade() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"{path}: OpenCV face cascade could not be loaded")
    return cascade


def detect_faces(
    rgb: np.ndarray, min_size: int = 40, min_neighbors: int = 6
) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h), largest first, with overlapping detections merged by OpenCV."""
    grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    boxes = _cascade().detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=min_neighbors, minSize=(min_size, min_size)
    )
    return sorted((tuple(int(v) for v in b) for b in boxes), key=lambda b: -b[2] * b[3])
