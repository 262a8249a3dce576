"""Keypoint metrics defined as MMPose's hand benchmarks (``mmpose.evaluation.functional``), so figures can
be put beside theirs.

All take predictions and ground truth (N, K, 2) in pixels of the original image and a mask (N, K) of the
joints that count. As in MMPose:

- distances are compared with a strict ``<``;
- PCK is computed per joint and then averaged over the joints that have any valid sample (with every
  joint labelled this equals the share of all joints under the threshold);
- a sample whose normaliser is 0 (an empty box) does not count;
- EPE is the mean distance over all valid joints (not per-joint averaged).

Where MMPose returns 0 for "nothing to measure" these return NaN, so an empty set is never read as a score.
"""
from __future__ import annotations

import numpy as np

from ..side.infer import chirality

AUC_PIXEL_THRESHOLDS = np.arange(20) * 1.5  # 0, 1.5, ..., 28.5 px (MMPose: norm_factor 30, 20 steps of i/20)
AUC_NORM_THRESHOLDS = np.arange(20) * 0.01  # 0, 0.01, ..., 0.19 of the box's longer side: scale-free


def distances(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance (N, K) between predicted and true keypoints."""
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)


def epe(pred, gt, mask) -> float:
    """End-point error: mean pixel distance over the masked joints."""
    mask = np.asarray(mask, bool)
    return float(distances(pred, gt)[mask].mean()) if mask.any() else float("nan")


def per_joint_epe(pred, gt, mask) -> np.ndarray:
    """Mean pixel distance of each joint (K,), NaN for a joint never labelled."""
    d, mask = distances(pred, gt), np.asarray(mask, bool)
    return np.array([d[:, j][mask[:, j]].mean() if mask[:, j].any() else np.nan for j in range(d.shape[1])])


def _normalised(pred, gt, mask, normalize) -> tuple[np.ndarray, np.ndarray]:
    """Distances divided by each sample's normaliser, and the mask of those that count."""
    d = distances(pred, gt)
    norm = np.broadcast_to(np.asarray(normalize, np.float64).reshape(-1), (len(d),))
    valid = np.asarray(mask, bool) & (norm > 0)[:, None]
    return d / np.where(norm > 0, norm, 1.0)[:, None], valid


def per_joint_pck(pred, gt, mask, threshold: float, normalize=1.0) -> np.ndarray:
    """Share of each joint's valid samples closer than ``threshold * normalize`` (K,), NaN where none."""
    d, valid = _normalised(pred, gt, mask, normalize)
    return np.array([(d[valid[:, j], j] < threshold).mean() if valid[:, j].any() else np.nan
                     for j in range(d.shape[1])])


def pck(pred, gt, mask, threshold: float, normalize=1.0) -> float:
    """PCK: per-joint share closer than ``threshold * normalize``, averaged over joints (MMPose's
    ``keypoint_pck_accuracy``). ``normalize``: one number per sample (e.g. the longer side of its box),
    or one for all."""
    acc = per_joint_pck(pred, gt, mask, threshold, normalize)
    return float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan")


def auc(pred, gt, mask, thresholds=AUC_PIXEL_THRESHOLDS, normalize=1.0) -> float:
    """Mean PCK over ``thresholds`` (pixels, or fractions of ``normalize``): MMPose's ``keypoint_auc``."""
    return float(np.mean([pck(pred, gt, mask, t, normalize) for t in thresholds]))


def box_longer_side(boxes) -> np.ndarray:
    """Longer side of each (x, y, w, h) box: MMPose's bbox normaliser for PCK."""
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


def with_misses(pred, found, gt) -> dict[str, float]:
    """Figures of a run over whole photos where some photos gave no hand (``found`` False): a miss is wrong at
    every PCK and AUC threshold (its distance is infinite) and left out of EPE. PCK is normalised by the longer
    side of each ground-truth keypoint box; every joint counts."""
    found = np.asarray(found, bool)
    pred = np.where(found[:, None, None], np.asarray(pred, np.float64), np.inf)
    gt = np.asarray(gt, np.float64)
    mask = np.ones(gt.shape[:2], bool)
    norm = (gt.max(axis=1) - gt.min(axis=1)).max(axis=1)
    return {
        "found": float(found.mean()),
        "EPE": epe(pred[found], gt[found], mask[found]),
        "PCK@0.2": pck(pred, gt, mask, 0.2, norm),
        "PCK@0.1": pck(pred, gt, mask, 0.1, norm),
        "PCK@0.05": pck(pred, gt, mask, 0.05, norm),
        "AUC": auc(pred, gt, mask),
    }


def mirrored(pred, gt, clear: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(mirrored, counted): per hand, whether the prediction turns the other way from the labels (the sign of
    the turn from wrist -> index knuckle to wrist -> little knuckle, ``side.chirality``), counted only where the
    labels' turn is clear (|sin| >= ``clear``): a hand seen edge-on has no turning sense to get wrong. A mirrored
    prediction lays the thumb's chain where the little finger is, so it is far off even when every joint sits
    on some finger."""
    turn_gt, turn_pred = chirality(gt), chirality(pred)
    counted = np.abs(turn_gt) >= clear
    return counted & (np.sign(turn_pred) != np.sign(turn_gt)), counted
