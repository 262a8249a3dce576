"""Rendered keypoints of named hand shapes: a rigged hand posed as a gesture, seen from a random camera, its
21 keypoints projected to the image. No pixels are drawn: a keypoint classifier needs only the points, and
the label is exact because the pose was set, not guessed.

Names follow MediaPipe's canned gestures. Where MediaPipe's name depends on the direction in the picture
(a thumb up or down, a finger pointing up), the label is read off the projected points: the same fist with
its thumb out is Thumb_Up, Thumb_Down or None (sideways) depending on the roll. Directions between the bands
are left out, so that no sample teaches a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rig import MESHES, HandPose, load_rig
from .scene import look_at

CANNED = ("None", "Closed_Fist", "Open_Palm", "Pointing_Up", "Thumb_Down", "Thumb_Up", "Victory", "ILoveYou")

# A finger (index..little) straight or curled, in HandPose's columns: mcp flexion, spread, pip, dip (degrees).
_STRAIGHT = ((-15, 20), (-5, 12), (-5, 20), (-5, 15))
_CURLED = ((70, 95), (-5, 5), (90, 110), (50, 80))
_HALF = ((25, 60), (-5, 8), (30, 75), (15, 50))
# The thumb in HandPose's columns: base flexion (across the palm), base swing, mcp, ip.
_THUMB_OUT = ((-20, 5), (0, 30), (-10, 15), (-15, 15))
_THUMB_TUCKED = ((30, 50), (0, 25), (30, 60), (20, 70))  # folded over the curled fingers
_THUMB_SIDE = ((15, 35), (-15, 5), (30, 55), (30, 60))  # bent along the side of a fist, not over it
_THUMB_TOUCH = ((25, 45), (15, 35), (15, 40), (10, 40))  # tip toward the index/middle tips (O, OK, pinch)

# shape name -> (thumb, index, middle, ring, little, label rule). Rules: a canned name, "index_up" (Pointing_Up
# when the index points up, else None), "thumb" (Thumb_Up / Thumb_Down by the thumb's direction, else None).
SHAPES: dict[str, tuple] = {
    "open_palm": ("out", "straight", "straight", "straight", "straight", "Open_Palm"),
    "fist": ("tucked", "curled", "curled", "curled", "curled", "Closed_Fist"),
    "fist_thumb_side": ("side", "curled", "curled", "curled", "curled", "Closed_Fist"),
    "point": ("tucked", "straight", "curled", "curled", "curled", "index_up"),
    "thumb": ("out", "curled", "curled", "curled", "curled", "thumb"),
    "victory": ("tucked", "spread", "spread", "curled", "curled", "Victory"),
    "i_love_you": ("out", "straight", "curled", "curled", "straight", "ILoveYou"),
    # Shapes that are none of the canned gestures.
    "call": ("out", "curled", "curled", "curled", "straight", "None"),
    "little": ("tucked", "curled", "curled", "curled", "straight", "None"),
    "l_shape": ("out", "straight", "curled", "curled", "curled", "None"),
    "horns": ("tucked", "straight", "curled", "curled", "straight", "None"),
    "three": ("tucked", "straight", "straight", "straight", "curled", "None"),
    "three_thumb": ("out", "straight", "straight", "curled", "curled", "None"),
    "ok": ("touch", "half", "straight", "straight", "straight", "None"),
    "o_shape": ("touch", "half", "half", "half", "half", "None"),
    "claw": ("out", "half", "half", "half", "half", "None"),
    "middle_ring": ("tucked", "curled", "straight", "straight", "curled", "None"),
}
_FINGER = {"straight": _STRAIGHT, "curled": _CURLED, "half": _HALF, "spread": _STRAIGHT}
_THUMB = {"out": _THUMB_OUT, "tucked": _THUMB_TUCKED, "side": _THUMB_SIDE, "touch": _THUMB_TOUCH}

UP_BAND, OFF_BAND = 35.0, 55.0  # degrees from straight up (or down): inside UP_BAND named, beyond OFF_BAND None


@dataclass
class GestureKeypoints:
    keypoints: np.ndarray  # (N, 21, 2) image pixels of a 224 px frame
    labels: list[str]  # canned names
    shapes: list[str]  # which SHAPES entry made each sample
    sides: list[str]  # "left" / "right": the mesh's hand


def _uniform(rng: np.random.Generator, ranges) -> np.ndarray:
    return np.array([rng.uniform(lo, hi) for lo, hi in ranges])


def shape_pose(rng: np.random.Generator, shape: str) -> HandPose:
    thumb, *fingers, _ = SHAPES[shape]
    rows = []
    for f, state in enumerate(fingers):
        row = _uniform(rng, _FINGER[state])
        if state == "spread":  # a V: index toward the thumb, middle away from it
            row[1] = rng.uniform(6, 22) * (1 if f == 0 else -1)
        rows.append(row)
    return HandPose(np.array(rows), _uniform(rng, _THUMB[thumb]))


def direction_from_up(vec: np.ndarray) -> float:
    """Degrees between an image vector and straight up (image y grows downward)."""
    return float(np.degrees(np.arccos(np.clip(-vec[1] / max(np.linalg.norm(vec), 1e-9), -1, 1))))


def label_of(shape: str, kp2: np.ndarray) -> str | None:
    """The canned name of ``shape`` seen as ``kp2`` (21, 2), or None when the view sits between bands."""
    rule = SHAPES[shape][-1]
    palm = float(np.linalg.norm(kp2[9] - kp2[0])) + 1e-9
    if rule == "index_up":
        d = kp2[8] - kp2[5]
        if np.linalg.norm(d) < 0.5 * palm:  # pointing at the camera: too foreshortened to name
            return None
        up = direction_from_up(d)
        return "Pointing_Up" if up <= UP_BAND else "None" if up >= OFF_BAND else None
    if rule == "thumb":
        d = kp2[4] - kp2[2]
        if np.linalg.norm(d) < 0.45 * palm:
            return None
        up = direction_from_up(d)
        if up <= UP_BAND:
            return "Thumb_Up"
        if up >= 180 - UP_BAND:
            return "Thumb_Down"
        return "None" if OFF_BAND <= up <= 180 - OFF_BAND else None
    return rule


def _view(rng: np.random.Generator, rig, shape: str) -> tuple[np.ndarray, float]:
    """Toward-camera vector and roll: mostly palm or back on, fingers up give or take; thumbs turned freely."""
    n, lat, ax = rig.normal, rig.lateral, rig.axis
    face = n if rng.random() < 0.6 else -n
    yaw, pitch = np.radians(rng.uniform(-70, 70)), np.radians(rng.uniform(-40, 40))
    toward = np.cos(yaw) * np.cos(pitch) * face + np.sin(yaw) * lat + np.sin(pitch) * ax
    free = SHAPES[shape][-1] in ("thumb", "index_up") or rng.random() < 0.15
    roll = rng.uniform(-180, 180) if free else rng.normal(0, 30)
    return toward / np.linalg.norm(toward), float(roll) + 180.0  # look_at's roll 0 has the fingers down


def sample_gesture_keypoints(root: str, n: int, seed: int = 0, shapes: list[str] | None = None,
                             size: int = 224) -> GestureKeypoints:
    """``n`` labelled samples, shapes drawn in turn from ``shapes`` (default all). Views that sit between the
    named bands are redrawn, so every sample carries a label."""
    rng = np.random.default_rng(seed)
    names = list(shapes or SHAPES)
    rigs = [load_rig(root, *m) for m in MESHES]
    kps, labels, made, sides = [], [], [], []
    while len(kps) < n:
        shape = names[len(kps) % len(names)]
        rig = rigs[int(rng.integers(len(rigs)))]
        _, _, xyz = rig.pose(shape_pose(rng, shape))
        toward, roll = _view(rng, rig, shape)
        R, C, K = look_at(rig, xyz, toward, rng.uniform(0.3, 0.8), roll, rng.uniform(0.4, 0.8),
                          rng.uniform(-0.1, 0.1, 2), size)
        cam = (xyz - C) @ R.T
        uv = (cam / cam[:, 2:3]) @ K.T
        label = label_of(shape, uv[:, :2])
        if label is None:
            continue
        kps.append(uv[:, :2])
        labels.append(label)
        made.append(shape)
        sides.append(rig.side)
    return GestureKeypoints(np.array(kps, np.float32), labels, made, sides)
