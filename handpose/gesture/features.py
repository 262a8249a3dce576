"""What the gesture classifier reads: 21 keypoints turned into numbers that say the hand's shape, whatever
its place and size in the picture.

The picture's up stays up (Thumb_Up and Thumb_Down, Pointing_Up and a finger pointing sideways differ only
in direction), but left and right do not matter: every canned gesture keeps its name in a mirror, so the
classifier is asked about the hand and its mirror image and the answers are averaged (``mirrored``). That
makes it blind to which hand it is, and so to the left/right stage's mistakes.
"""
from __future__ import annotations

import numpy as np

from ..skeleton import BONES

PALM = (0, 5, 9, 13, 17)  # wrist and the four finger knuckles: the part of the hand that does not bend much
TIPS = (4, 8, 12, 16, 20)
BASES = (1, 5, 9, 13, 17)
NUM_FEATURES = 42 + 5 + 5 + 2 * len(BONES) + 4


def mirrored(keypoints: np.ndarray) -> np.ndarray:
    """The keypoints of the hand's mirror image (x negated: features do not depend on where the hand is)."""
    out = np.array(keypoints, np.float64, copy=True)
    out[..., 0] = -out[..., 0]
    return out


def features(keypoints: np.ndarray) -> np.ndarray:
    """(N, 21, 2) image keypoints -> (N, NUM_FEATURES): the points centred on the palm and scaled by the
    hand's spread; how straight each finger is; each fingertip's distance from the wrist; each bone's
    direction; the thumb tip's distance from the other tips."""
    k = np.asarray(keypoints, np.float64).reshape(-1, 21, 2)
    centre = k[:, PALM].mean(1, keepdims=True)
    spread = np.sqrt(((k - k.mean(1, keepdims=True)) ** 2).sum(2).mean(1))[:, None, None]
    p = (k - centre) / np.maximum(spread, 1e-6)
    bones = p[:, [j for _, j in BONES]] - p[:, [i for i, _ in BONES]]  # (N, 20, 2)
    length = np.linalg.norm(bones, axis=2)
    directions = bones / np.maximum(length, 1e-6)[..., None]
    chain = length.reshape(-1, 5, 4)[:, :, 1:].sum(2)  # base -> tip along the finger
    straight = np.linalg.norm(p[:, TIPS] - p[:, BASES], axis=2) / np.maximum(chain, 1e-6)
    palm = np.linalg.norm(p[:, 9] - p[:, 0], axis=1, keepdims=True)
    reach = np.linalg.norm(p[:, TIPS] - p[:, :1], axis=2) / np.maximum(palm, 0.2)
    pinch = np.linalg.norm(p[:, TIPS[1:]] - p[:, 4:5], axis=2)
    return np.concatenate([p.reshape(len(p), -1), straight, reach, directions.reshape(len(p), -1), pinch],
                          axis=1).astype(np.float32)
