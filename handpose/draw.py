"""Keypoints and bones drawn on an image with OpenCV; every front end uses this."""
from __future__ import annotations

import cv2
import numpy as np

from .skeleton import BONES, bone_color, joint_color


def draw_hand(image_bgr: np.ndarray, keypoints: np.ndarray, scores: np.ndarray | None = None,
              threshold: float = 0.0, thickness: int | None = None, box=None, label: str | None = None) -> np.ndarray:
    """Draw one hand in place on a BGR image and return it. Joints scoring under ``threshold`` are skipped."""
    h, w = image_bgr.shape[:2]
    t = thickness or max(1, round(min(h, w) / 160))
    ok = np.ones(len(keypoints), bool) if scores is None else np.asarray(scores) >= threshold
    pts = np.round(np.asarray(keypoints, np.float64) * 16).astype(np.int32)  # 4 fractional bits for sub-pixel lines
    for b, (i, j) in enumerate(BONES):
        if ok[i] and ok[j]:
            cv2.line(image_bgr, tuple(pts[i]), tuple(pts[j]), bone_color(b), t, cv2.LINE_AA, shift=4)
    for i, p in enumerate(pts):
        if ok[i]:
            cv2.circle(image_bgr, tuple(p), (t + 2) * 16, joint_color(i), -1, cv2.LINE_AA, shift=4)
            cv2.circle(image_bgr, tuple(p), (t + 2) * 16, (255, 255, 255), 1, cv2.LINE_AA, shift=4)
    if box is not None:
        x, y, bw, bh = (int(round(v)) for v in box)
        cv2.rectangle(image_bgr, (x, y), (x + bw, y + bh), (0, 255, 255), 1)
    if label:
        # Sized to the image (0.6 at 640x480) on a dark band, so it reads on any background.
        scale = max(0.45, min(h, w) / 800)
        weight = 1 + (scale > 0.7)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, weight)
        x, y = (int(box[0]), int(box[1]) - base - 4) if box is not None else (4, 0)
        x, y = int(np.clip(x, 2, max(2, w - tw - 4))), max(y, th + 4)
        cv2.rectangle(image_bgr, (x - 2, y - th - 3), (x + tw + 2, y + base + 1), (0, 0, 0), -1)
        cv2.putText(image_bgr, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 255, 255), weight, cv2.LINE_AA)
    return image_bgr


def image_grid(images: list[np.ndarray], columns: int = 4, cell: int = 256) -> np.ndarray:
    """Tile images (resized to ``cell`` x ``cell``) into one picture, for figures."""
    tiles = [cv2.resize(im, (cell, cell)) for im in images]
    rows = (len(tiles) + columns - 1) // columns
    grid = np.full((rows * cell, columns * cell, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = t
    return grid
