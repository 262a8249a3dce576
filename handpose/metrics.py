"""Keypoint metrics defined as MMPose's hand benchmarks, so figures can be put beside theirs.

All take predictions and ground truth (N, K, 2) in pixels of the original image and a mask (N, K) of the
joints that count. Distances are compared with a strict ``<``.
"""
from __future__ import annotations

import numpy as np

AUC_PIXEL_THRESHOLDS = np.arange(20) * 1.5  # 0, 1.5, ..., 28.5 px (MMPose: norm 30, 20 steps)
AUC_NORM_THRESHOLDS = np.arange(20) * 0.01  # 0, 0.01, ..., 0.19 of the box's longer side


def distances(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)


def epe(pred, gt, mask) -> float:
    """End-point error: mean pixel distance over the masked joints."""
    mask = np.asarray(mask, bool)
    return float(distances(pred, gt)[mask].mean()) if mask.any() else float("nan")


def per_joint_epe(pred, gt, mask) -> np.ndarray:
    d, mask = distances(pred, gt), np.asarray(mask, bool)
    return np.array([d[:, j][mask[:, j]].mean() if mask[:, j].any() else np.nan for j in range(d.shape[1])])


def pck(pred, gt, mask, threshold: float, normalize) -> float:
    """Share of masked joints closer than ``threshold * normalize`` (``normalize``: one number per sample,
    e.g. the longer side of its box)."""
    mask = np.asarray(mask, bool)
    d = distances(pred, gt) / np.asarray(normalize, np.float64).reshape(-1, 1)
    return float((d[mask] < threshold).mean()) if mask.any() else float("nan")


def auc(pred, gt, mask, thresholds=AUC_PIXEL_THRESHOLDS, normalize=1.0) -> float:
    """Mean PCK over ``thresholds`` (pixels, or fractions of ``normalize``)."""
    n = len(np.asarray(pred))
    norm = np.broadcast_to(np.asarray(normalize, np.float64), (n,))
    return float(np.mean([pck(pred, gt, mask, t, norm) for t in thresholds]))


def box_longer_side(boxes) -> np.ndarray:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.maximum(b[:, 2], b[:, 3])


def summary(pred, gt, mask, boxes) -> dict[str, float]:
    """The figures every report prints: PCK@0.2 (box-normalised), AUC over 0-30 px, EPE, scale-free AUC."""
    norm = box_longer_side(boxes)
    return {
        "PCK@0.2": pck(pred, gt, mask, 0.2, norm),
        "AUC": auc(pred, gt, mask),
        "EPE": epe(pred, gt, mask),
        "AUC_norm": auc(pred, gt, mask, AUC_NORM_THRESHOLDS, norm),
    }
