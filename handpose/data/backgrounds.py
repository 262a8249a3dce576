"""Synthetic scenes for augmentation: a hand cut out along its skeleton and pasted on clutter, and crops
with no hand at all. Our real training hands share one white board; these teach the model that the
background is not part of the hand, and give hand-free crops for a presence score."""
from __future__ import annotations

import cv2
import numpy as np

from ..skeleton import BONES

PALM = [0, 1, 2, 5, 9, 13, 17]


def hand_mask(keypoints: np.ndarray, size: tuple[int, int], visibility: np.ndarray | None = None) -> np.ndarray:
    """Soft mask (H, W) float32 in [0, 1] of the hand: thick bones, a filled palm, feathered edges."""
    w, h = size
    vis = np.ones(len(keypoints), bool) if visibility is None else np.asarray(visibility) > 0
    mask = np.zeros((h, w), np.uint8)
    pts = np.round(keypoints).astype(np.int32)
    span = np.linalg.norm(keypoints[9] - keypoints[0]) if vis[0] and vis[9] else 0.25 * w
    thick = max(3, int(0.35 * span))
    palm = [pts[j] for j in PALM if vis[j]]
    if len(palm) >= 3:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.array(palm)), 255)
    for i, j in BONES:
        if vis[i] and vis[j]:
            cv2.line(mask, tuple(pts[i]), tuple(pts[j]), 255, thick)
    for j in np.flatnonzero(vis):
        cv2.circle(mask, tuple(pts[j]), thick // 2, 255, -1)
    k = max(3, thick // 2) | 1
    return cv2.GaussianBlur(mask, (k, k), 0).astype(np.float32) / 255.0


def random_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A uint8 RGB (H, W, 3) scene of smooth colour fields, shapes and texture."""
    w, h = size
    cells = int(rng.integers(2, 9))
    img = cv2.resize(rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 15))):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        p = rng.integers(0, max(w, h), 4)
        if kind == 0:
            cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), color, -1 if rng.random() < 0.6 else int(rng.integers(1, 8)))
        elif kind == 1:
            cv2.circle(img, (int(p[0]), int(p[1])), int(rng.integers(5, max(w, h) // 3)), color, -1)
        else:
            cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), color, int(rng.integers(1, 12)))
    if rng.random() < 0.5:
        img = np.clip(img + rng.normal(0, rng.uniform(5, 30), img.shape), 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 3.0))


def paste_on_background(rng: np.random.Generator, crop: np.ndarray, keypoints: np.ndarray,
                        visibility: np.ndarray | None = None) -> np.ndarray:
    h, w = crop.shape[:2]
    mask = hand_mask(keypoints, (w, h), visibility)[..., None]
    bg = random_background(rng, (w, h))
    return (crop * mask + bg * (1 - mask)).astype(np.uint8)
