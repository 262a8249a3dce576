"""Hand-free crops cut from real whole photos whose hands are all boxed (teacher_hands' ``frames.json``).

A crop the model must answer "no hand" for: the rooms, faces, arms and clutter that surround hands in real
photos, which synthetic clutter alone does not teach (the first release reported a hand on 47% of them).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import DatasetError
from .base import read_json, read_rgb


class HandFreeCrops:
    """Square crops of the photos in a frames file that keep clear of every hand box (grown by ``margin``)."""

    def __init__(self, frames: str | Path, sources: list[str] | None = None, exclude_sources: list[str] | None = None,
                 margin: float = 0.25, min_side: float = 0.15, max_side: float = 0.7):
        path = Path(frames)
        data = read_json(path, "frames file")
        if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
            raise DatasetError(f"{path}: not a frames file (needs a 'frames' list)")
        self.frames = []
        for i, f in enumerate(data["frames"]):
            if "file_name" not in f or "boxes" not in f:
                raise DatasetError(f"{path}: frames[{i}]: needs 'file_name' and 'boxes'")
            src = f.get("source")
            if (sources is not None and src not in sources) or (exclude_sources and src in exclude_sources):
                continue
            self.frames.append((path.parent / f["file_name"], np.asarray(f["boxes"], np.float32).reshape(-1, 4)))
        if not self.frames:
            raise DatasetError(f"{path}: no frames left after the source filter")
        self.margin, self.min_side, self.max_side = margin, min_side, max_side

    def __len__(self) -> int:
        return len(self.frames)

    def square(self, index: int, rng: np.random.Generator, tries: int = 30) -> tuple[np.ndarray, np.ndarray] | None:
        """(RGB photo, [x, y, side] of a hand-free square) or None when no such square was found."""
        path, boxes = self.frames[index % len(self.frames)]
        image = read_rgb(path)
        h, w = image.shape[:2]
        grown = boxes.copy()
        grown[:, :2] -= boxes[:, 2:] * self.margin
        grown[:, 2:] *= 1 + 2 * self.margin
        for _ in range(tries):
            side = rng.uniform(self.min_side, self.max_side) * min(w, h)
            x, y = rng.uniform(0, w - side), rng.uniform(0, h - side)
            clear = ((x + side <= grown[:, 0]) | (x >= grown[:, 0] + grown[:, 2]) |
                     (y + side <= grown[:, 1]) | (y >= grown[:, 1] + grown[:, 3]))
            if clear.all():
                return image, np.array([x, y, side], np.float32)
        return None
