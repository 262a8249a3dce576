"""Joint-convention calibration: where a teacher puts a joint against where hand labellers put it.

MediaPipe's knuckles (MCP joints) sit 5-8 px from where people label them. The offset is stable in the
hand's own frame, not in the image: origin the wrist, x axis wrist -> middle MCP, lengths in units of
that distance, and the y axis across the palm, pointing to the index side (chosen from the keypoints, so
a left hand and a mirrored right hand get the same frame and the same offsets). The calibration is the
teacher's mean per-joint offset in that frame, fitted on hand-made labels; applying it adds it back.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import HandposeError
from ..io import atomic_write_json

KIND = "handpose-teacher-calibration"
WRIST, INDEX_MCP, MIDDLE_MCP, LITTLE_MCP = 0, 5, 9, 17
FRAME_JOINTS = (WRIST, INDEX_MCP, MIDDLE_MCP, LITTLE_MCP)  # what hand_frame reads: a label lacking one has no frame
# The knuckles: where MediaPipe and hand labellers disagree most. Correcting only these is the default:
# on hgc_dev an all-joint calibration fitted on uci_hand moved the wrist and the tips by uci_hand's own
# labelling habits and made the mean error worse (README, handpose label).
MCP_JOINTS = (2, 5, 9, 13, 17)
JOINT_SETS = {"mcp": MCP_JOINTS, "all": tuple(range(21))}


def hand_frame(keypoints: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(origin (2,), length, axes (2, 2): columns x and y) of the hand frame of (21, 2) keypoints."""
    kps = np.asarray(keypoints, np.float64)
    origin = kps[WRIST]
    x = kps[MIDDLE_MCP] - origin
    length = float(np.hypot(*x))
    if length < 1e-6:
        length, x = 1.0, np.array([1.0, 0.0])
    x = x / length
    y = np.array([-x[1], x[0]])
    if np.dot(kps[INDEX_MCP] - kps[LITTLE_MCP], y) < 0:  # y points to the index side, whichever hand it is
        y = -y
    return origin, length, np.stack([x, y], axis=1)


def to_hand_frame(keypoints: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Image-pixel vectors (21, 2) -> hand-frame units, in the frame of ``keypoints``."""
    _, length, axes = hand_frame(keypoints)
    return np.asarray(vectors, np.float64) @ axes / length


def fit_offsets(teacher: list[np.ndarray], labels: list[np.ndarray], visible: list[np.ndarray] | None = None) -> np.ndarray:
    """Mean (label - teacher) per joint, in the teacher's hand frame: (21, 2)."""
    if not teacher:
        raise HandposeError("calibration: no hand where both the teacher and the labels have one")
    sums, counts = np.zeros((21, 2)), np.zeros(21)
    for i, (t, g) in enumerate(zip(teacher, labels)):
        d = to_hand_frame(t, np.asarray(g, np.float64) - t)
        m = np.ones(21, bool) if visible is None else np.asarray(visible[i]) > 0
        sums[m] += d[m]
        counts += m
    return sums / np.maximum(counts, 1)[:, None]


class Calibration:
    """Per-joint offsets (21, 2) in the hand frame; only ``joints`` (default all) are moved when applied."""

    def __init__(self, offsets: np.ndarray, info: dict | None = None, joints=None):
        self.offsets = np.asarray(offsets, np.float64).reshape(21, 2)
        self.joints = tuple(range(21)) if joints is None else tuple(int(j) for j in joints)
        self.info = info or {}

    def apply(self, keypoints: np.ndarray) -> np.ndarray:
        _, length, axes = hand_frame(keypoints)
        used = np.zeros_like(self.offsets)
        used[list(self.joints)] = self.offsets[list(self.joints)]
        return (np.asarray(keypoints, np.float64) + length * used @ axes.T).astype(np.float32)

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, {"kind": KIND, **self.info, "joints": list(self.joints),
                                 "offsets": [[round(float(u), 5), round(float(v), 5)] for u, v in self.offsets]})

    @classmethod
    def load(cls, path: str | Path, what: str = "--calibration") -> "Calibration":
        """``what`` names where the path came from in errors (an option or a config key)."""
        path = Path(path)
        if not path.is_file():
            raise HandposeError(f"{what} {path}: file not found")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise HandposeError(f"{what} {path}: malformed JSON ({e})") from None
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise HandposeError(f"{what} {path}: not a teacher calibration (needs \"kind\": \"{KIND}\")")
        offsets = np.asarray(data.get("offsets", []), np.float64)
        if offsets.shape != (21, 2) or not np.isfinite(offsets).all():
            raise HandposeError(f"{what} {path}: 'offsets' must be 21 finite [dx, dy] pairs")
        joints = data.get("joints", list(range(21)))
        if not isinstance(joints, list) or not all(isinstance(j, int) and 0 <= j < 21 for j in joints):
            raise HandposeError(f"{what} {path}: 'joints' must list joint indices 0-20")
        return cls(offsets, {k: v for k, v in data.items() if k not in ("kind", "offsets", "joints")}, joints)
