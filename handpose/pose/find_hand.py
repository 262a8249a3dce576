"""Hands in photos that are not tight crops: the pose model is its own hand finder.

1. Whole image: the image letterboxed into one square crop (``whole_padding`` around the image), run.
2. Refine: re-crop the padded square around the keypoints found and run again, until the crop settles
   (its square overlaps the previous one by ``settle_iou``) or ``max_refine`` re-crops are done. A photo
   that is already a tight crop settles after one pass.
3. Search (only for images still without a hand): windows of half the image's longer side on a grid of
   quarter-side steps, batched; the best-scoring window is refined as in 2. This recovers hands too small
   for the whole-image pass without paying for it on the common photo.
4. Presence: the hand score (mean of the 21 heatmap peak heights) of the final crop. The default model
   saw hand-free crops with all-zero targets in training, so its peaks stay low where there is no hand;
   below the estimator's ``presence_threshold`` the image has no hand.
One hand per image: each crop yields one hand (one heatmap per joint).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.transforms import box_to_center_size


@dataclass
class FinderSettings:
    whole_padding: float = 1.0  # the whole-image crop: the image's longer side (letterboxed), no margin
    max_refine: int = 2  # re-crops around the keypoints after the first pass
    settle_iou: float = 0.8  # a re-crop whose square overlaps the last one this much changes nothing
    search: bool = True  # window search for images where no hand was found
    # Network input side of the whole-image and search passes (None: the model's). They only locate the hand,
    # and at 160 px they cost half a 224 px pass; on hgc_dev this was also more accurate (bench/find_hand.py).
    size: int | None = 160


def _square(box, padding: float) -> np.ndarray:
    c, side = box_to_center_size(box, padding)
    return np.array([c[0] - side / 2, c[1] - side / 2, side, side], np.float64)


def square_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def windows(width: int, height: int) -> list[np.ndarray]:
    """Boxes of half the longer side, a quarter side apart, covering the image."""
    side = max(width, height) / 2
    step = side / 2
    xs = np.arange(0, max(width - side, 0) + step / 2, step)
    ys = np.arange(0, max(height - side, 0) + step / 2, step)
    return [np.array([x, y, side, side], np.float32) for y in ys for x in xs]


def _refine(est, images, hands, squares, todo, settings, stats) -> None:
    """Re-crop ``todo`` images around their keypoints until each crop settles (in place)."""
    for _ in range(settings.max_refine):
        nxt = {i: _square(hands[i].box, est.padding) for i in todo}
        todo = [i for i in todo if square_iou(squares[i], nxt[i]) < settings.settle_iou]
        if not todo:
            return
        new = est.estimate_many([(images[i], hands[i].box) for i in todo])
        stats["forwards"] += len(todo)
        for i, hand in zip(todo, new):
            squares[i], hands[i] = nxt[i], hand


def find_hands(est, images: list[np.ndarray], max_hands: int = 1, settings: FinderSettings | None = None,
               stats: dict | None = None) -> list[list]:
    """Hands (at most one, ``max_hands`` >= 1) of each RGB image, every pass batched across the images."""
    s = settings or FinderSettings()
    stats = stats if stats is not None else {}
    stats.setdefault("forwards", 0)
    stats.setdefault("searched", 0)
    if not images or max_hands < 1:
        return [[] for _ in images]
    whole = [np.array([0, 0, im.shape[1], im.shape[0]], np.float32) for im in images]
    hands = est.estimate_many(list(zip(images, whole)), padding=s.whole_padding, size=s.size)
    stats["forwards"] += len(images)
    squares = [_square(b, s.whole_padding) for b in whole]
    _refine(est, images, hands, squares, list(range(len(images))), s, stats)

    missing = [i for i, h in enumerate(hands) if h.score < est.presence_threshold]
    if s.search and missing:
        jobs = [(i, w) for i in missing for w in windows(images[i].shape[1], images[i].shape[0])]
        found = est.estimate_many([(images[i], w) for i, w in jobs], padding=1.0, size=s.size)
        stats["forwards"] += len(jobs)
        stats["searched"] += len(missing)
        best: dict[int, tuple] = {}
        for (i, w), hand in zip(jobs, found):
            if i not in best or hand.score > best[i][1].score:
                best[i] = (w, hand)
        cand = {i: best[i][1] for i in missing}
        cand_squares = {i: _square(best[i][0], 1.0) for i in missing}
        _refine(est, images, cand, cand_squares, missing, s, stats)
        for i in missing:
            if cand[i].score > hands[i].score:
                hands[i] = cand[i]
    return [[h] if h.score >= est.presence_threshold else [] for h in hands]
