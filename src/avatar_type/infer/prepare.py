"""Images prepared exactly as the model's training images were, in worker processes.

Decoding and re-encoding dominate prediction on a CPU, so they run in a pool while the main
process runs the model. Paths are read lazily and at most a small window of chunks is in flight,
so memory stays constant however many files there are, and results come back in input order.
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.pool
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from itertools import islice
from pathlib import Path
from typing import NamedTuple, TypeVar

import cv2
import numpy as np
from PIL import Image

from avatar_type.data.aggregate import AggregateConfig, Task, process
from avatar_type.data.decode import Rejected
from avatar_type.data.denoise import coherent_noise_filter
from avatar_type.errors import AvatarTypeError
from avatar_type.params import load_yaml
from avatar_type.train.output import CARD

T = TypeVar("T")


class Prepared(NamedTuple):
    """One input file: its stored image, or the reason it was rejected."""

    path: Path
    image: np.ndarray | None
    reason: str | None
    blank: bool = False  # nothing visible (fully transparent): nothing to classify


class UsageError(AvatarTypeError):
    """The command cannot run as asked (no model, no device); exit status 2."""


@dataclass(frozen=True)
class Preprocessing:
    """What the aggregate and denoise stages do to an image before training sees it."""

    aggregate: AggregateConfig
    denoise: bool = False
    tolerance: int = 30

    @classmethod
    def from_card(cls, card: dict, model_dir: Path) -> Preprocessing:
        """The settings the model's training images were made with (its card's pipeline)."""
        pipeline = card["preprocessing"].get("pipeline")
        if pipeline is None:
            raise UsageError(
                f"{model_dir / CARD}: no preprocessing pipeline recorded (a model trained by an "
                "older version); retrain it with `dvc repro`"
            )
        known = {f.name for f in fields(AggregateConfig)}
        section = {k: v for k, v in pipeline["aggregate"].items() if k in known}
        denoise = pipeline.get("denoise", {})
        return cls(
            AggregateConfig(**section),
            bool(denoise.get("enabled", cls.denoise)),
            int(denoise.get("tolerance", cls.tolerance)),
        )

    def differences(self, params_path: Path) -> list[str]:
        """Settings where ``params_path`` (today's params.yaml) disagrees with this."""
        if not params_path.is_file():
            return []
        params = load_yaml(params_path)
        ours = {f"aggregate.{k}": v for k, v in asdict(self.aggregate).items() if k != "workers"}
        ours.update({"denoise.enabled": self.denoise, "denoise.tolerance": self.tolerance})
        theirs = {
            f"{section}.{k}": v
            for section in ("aggregate", "denoise")
            for k, v in (params.get(section) or {}).items()
        }
        return [
            f"{key}={theirs[key]!r} (the model's: {value!r})"
            for key, value in ours.items()
            if key in theirs and theirs[key] != value
        ]

    def __call__(self, path: Path) -> tuple[np.ndarray, bool]:
        """``path`` as the pipeline stores it, uint8 (size, size, 3), and whether nothing of it
        is visible (fully transparent); raises Rejected.

        The aggregate stage's own per-file step (decode, EXIF orientation, transparency onto a
        background, centre square, resize, JPEG) with no face detection, which is for group
        photos; then the denoise stage's decoding of that JPEG and its optional filter.
        """
        # source/path only seed the background that transparency is composited onto
        task = Task(
            source="predict",
            path=str(path),
            file=str(path),
            label="",
            group="",
            licence="",
            generator="",
            face_crop=False,
        )
        rows, reason = process(task, self.aggregate)
        if reason is not None:
            raise Rejected(reason)
        with Image.open(io.BytesIO(rows[0]["jpeg"])) as image:
            rgb = np.asarray(image.convert("RGB"))
        stored = coherent_noise_filter(rgb, self.tolerance)[0] if self.denoise else rgb
        return stored, rows[0]["orig_visible"] == 0


def _prepare(prepare: Preprocessing, path: Path) -> Prepared:
    try:
        image, blank = prepare(path)
    except Rejected as exc:
        return Prepared(path, None, exc.reason)
    return Prepared(path, image, None, blank)


_WORKER_PREPARE: Preprocessing | None = None  # set once per worker process


def _start_worker(prepare: Preprocessing) -> None:
    global _WORKER_PREPARE
    _WORKER_PREPARE = prepare
    cv2.setNumThreads(1)  # one worker per core already: more threads would only contend


def _prepare_chunk(paths: list[Path]) -> list[Prepared]:
    assert _WORKER_PREPARE is not None
    return [_prepare(_WORKER_PREPARE, path) for path in paths]


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` consecutive items (the last may be shorter), read lazily."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class Preparer:
    """Prepares images in ``workers`` processes (in this one when 1), in input order.

    Used as a context manager: the pool starts on entry, or later with ``start``. Workers come
    from a fork server (a clean process started for the purpose), never from a fork of this one:
    a fork of a process whose OpenCV or OpenMP thread pools are running can deadlock in the child.
    """

    def __init__(self, prepare: Preprocessing, workers: int, chunksize: int = 8) -> None:
        self.prepare, self.workers, self.chunksize = prepare, workers, chunksize
        self.pool: multiprocessing.pool.Pool | None = None

    def __enter__(self) -> Preparer:
        self.start(self.workers)
        return self

    def start(self, workers: int) -> None:
        """Prepare in ``workers`` processes from now on (no pool for 1, or when one runs)."""
        if workers <= 1 or self.pool is not None:
            return
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        self.workers = workers
        self.pool = context.Pool(workers, _start_worker, (self.prepare,))

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def __call__(self, paths: Iterable[Path]) -> Iterator[Prepared]:
        if self.pool is None:
            yield from (_prepare(self.prepare, path) for path in paths)
            return
        # two chunks per worker in flight: each finds its next chunk queued when it finishes
        pending: deque[multiprocessing.pool.AsyncResult] = deque()
        for chunk in chunks(paths, self.chunksize):
            pending.append(self.pool.apply_async(_prepare_chunk, (chunk,)))
            if len(pending) >= 2 * self.workers:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
