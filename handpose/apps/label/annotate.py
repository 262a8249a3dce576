"""One photo -> checked hands: the teacher on the photo and its mirror (and, with TTA, scaled and rotated
copies), answers mapped back and matched by hand centre, the mirror check, the per-joint median, the
calibration."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...data.transforms import apply_affine, crop_affine, invert_affine, keypoints_box, warp
from ...data.calibration import Calibration
from .teachers import Teacher, TeacherHand


@dataclass(frozen=True)
class Copy:
    scale: float = 1.0  # > 1 zooms in (about the image centre)
    rotation: float = 0.0  # degrees, counter-clockwise on screen
    mirror: bool = False


PLAIN = Copy()
MIRROR = Copy(mirror=True)
# 5 geometries x (as is, mirrored): 10 copies. The per-joint median of their answers (hgc_dev, MediaPipe)
# is closer to hand-made labels than the plain answer.
TTA_COPIES = tuple(Copy(s, r, m) for m in (False, True) for s, r in ((1.0, 0.0), (0.85, 0.0), (1.15, 0.0), (1.0, 15.0), (1.0, -15.0)))


@dataclass
class LabelledHand:
    keypoints: np.ndarray  # (21, 2) image pixels: the final label (TTA median, calibrated)
    plain: np.ndarray  # (21, 2) the teacher's answer on the photo itself
    median: np.ndarray  # (21, 2) per-joint median of every copy's answer (== plain without TTA)
    hand: str | None
    handedness_score: float
    teacher_score: float
    flip_err: float  # mean joint distance photo vs mirror (mapped back) / hand size; inf if the mirror missed it
    size: float  # longer side of the keypoint box, px
    copies: int  # answers that went into the median
    problem: str = ""  # "" (kept), "mirror" (failed the mirror check) or "small" (under min_size)

    @property
    def kept(self) -> bool:
        return not self.problem

    @property
    def box(self) -> np.ndarray:
        return keypoints_box(self.keypoints)


def copy_matrix(copy: Copy, width: int, height: int) -> np.ndarray:
    """Image -> copy affine: the whole image, same size, zoomed/rotated about its centre, maybe mirrored."""
    return crop_affine(((width - 1) / 2, (height - 1) / 2), width / copy.scale, (width, height), copy.rotation, copy.mirror)


def teacher_on_copy(teacher: Teacher, image_rgb: np.ndarray, copy: Copy) -> list[TeacherHand]:
    """The teacher's hands on one copy, keypoints mapped back into the photo's pixels."""
    h, w = image_rgb.shape[:2]
    if copy == PLAIN:
        return teacher.detect(image_rgb)
    if copy == MIRROR:  # exact, no resampling
        hands = teacher.detect(np.ascontiguousarray(image_rgb[:, ::-1]))
        for hand in hands:
            hand.keypoints = np.stack([w - 1 - hand.keypoints[:, 0], hand.keypoints[:, 1]], axis=1).astype(np.float32)
        return hands
    m = copy_matrix(copy, w, h)
    hands = teacher.detect(warp(image_rgb, m, (w, h)))
    back = invert_affine(m)
    for hand in hands:
        hand.keypoints = apply_affine(hand.keypoints, back)
    return hands


def hand_size(keypoints: np.ndarray) -> float:
    box = keypoints_box(keypoints)
    return float(max(box[2], box[3], 1.0))


def match(base: list[np.ndarray], other: list[np.ndarray], max_dist: float = 0.5) -> dict[int, int]:
    """base index -> other index, nearest keypoint centres first, each used once, within max_dist x hand size."""
    pairs = []
    for i, a in enumerate(base):
        for j, b in enumerate(other):
            d = float(np.hypot(*(a.mean(0) - b.mean(0))))
            if d < max_dist * hand_size(a):
                pairs.append((d, i, j))
    out: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in sorted(pairs):
        if i not in out and j not in used:
            out[i] = j
            used.add(j)
    return out


def label_image(image_rgb: np.ndarray, teacher: Teacher, tta: bool = False, calibration: Calibration | None = None,
                flip_tol: float = 0.08, min_size: float = 32.0) -> list[LabelledHand]:
    """Every hand the teacher sees on the photo itself, each checked against the mirrored photo."""
    copies = TTA_COPIES if tta else (PLAIN, MIRROR)
    answers = {c: teacher_on_copy(teacher, image_rgb, c) for c in copies}
    base = answers[PLAIN]
    base_kps = [np.asarray(h.keypoints, np.float32) for h in base]
    collected = [[k] for k in base_kps]
    flip_errs = [float("inf")] * len(base)
    for c in copies:
        if c == PLAIN:
            continue
        other = [np.asarray(h.keypoints, np.float32) for h in answers[c]]
        for i, j in match(base_kps, other).items():
            collected[i].append(other[j])
            if c == MIRROR:
                flip_errs[i] = float(np.linalg.norm(base_kps[i] - other[j], axis=1).mean()) / hand_size(base_kps[i])
    out = []
    for i, hand in enumerate(base):
        median = np.median(np.stack(collected[i]), axis=0).astype(np.float32) if tta else base_kps[i]
        final = calibration.apply(median) if calibration is not None else median
        size = hand_size(final)
        problem = "mirror" if not flip_errs[i] <= flip_tol else ("small" if size < min_size else "")
        out.append(LabelledHand(final, base_kps[i], median, hand.hand, float(hand.handedness_score), float(hand.score),
                                flip_errs[i], size, len(collected[i]), problem))
    return out
