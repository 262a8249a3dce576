"""Boxes <-> detector targets, and the letterbox between an image and the square network input.

Box convention everywhere: ``[x, y, w, h]`` in pixel coordinates where a pixel's centre is an integer (as
the keypoints are), so a keypoint box's corners are keypoint coordinates and map through the same affine.
The boxes are the hands' KEYPOINT boxes (tight around the 21 keypoints, a little smaller than the visible
hand), because that is what the labels are.

Targets at stride ``s``: output cell ``j`` sits at input pixel ``(j + 0.5) * s - 0.5``. A box whose centre is
at grid coordinate ``u`` owns cell ``round(u)``: heatmap 1 there (an elliptic Gaussian around it), offset
``u - round(u)`` and size ``log(w / s), log(h / s)`` there, mask 1 there. Decoding inverts this exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


# -- letterbox: the one place an image meets the square input ------------------------------------------
def letterbox_matrix(width: int, height: int, size: int) -> np.ndarray:
    """(2, 3) affine, image pixels -> input pixels: the longer side scaled to ``size``, centred, pixel
    centres kept as pixel centres (so it is also the matrix cv2.warpAffine wants)."""
    s = size / max(width, height)
    tx = (size - width * s) / 2 + 0.5 * s - 0.5
    ty = (size - height * s) / 2 + 0.5 * s - 0.5
    return np.array([[s, 0, tx], [0, s, ty]], np.float64)


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(size x size RGB input, its image -> input matrix); the padding is mid-grey."""
    h, w = image.shape[:2]
    m = letterbox_matrix(w, h, size)
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=(114, 114, 114))
    return out, m


def invert_affine(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(m, np.float64))


def map_boxes(boxes: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Boxes through an axis-aligned affine (scale, shift, mirror): corners mapped, then re-ordered."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    ax0, ax1 = m[0, 0] * x0 + m[0, 2], m[0, 0] * x1 + m[0, 2]
    ay0, ay1 = m[1, 1] * y0 + m[1, 2], m[1, 1] * y1 + m[1, 2]
    lo_x, lo_y = np.minimum(ax0, ax1), np.minimum(ay0, ay1)
    return np.stack([lo_x, lo_y, np.maximum(ax0, ax1) - lo_x, np.maximum(ay0, ay1) - lo_y], 1).astype(np.float32)


# -- overlap ------------------------------------------------------------------------------------------
def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of x, y, w, h boxes."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    iy = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return inter / np.maximum(union, 1e-12)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """Indices kept by class-agnostic greedy NMS, highest score first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size:
        i, order = order[0], order[1:]
        keep.append(i)
        order = order[iou_matrix(boxes[i], boxes[order])[0] <= iou_threshold]
    return np.array(keep, np.int64)


# -- the codec ----------------------------------------------------------------------------------------
@dataclass
class BoxCodec:
    input_size: int = 256
    stride: int = 8
    gaussian_scale: float = 0.1  # Gaussian sigma = this x the box side in cells (TTFNet's 0.54 / 6 ~ 0.09) ...
    min_sigma: float = 0.6  # ... but at least this, so a tiny hand still gets a few positive-ish cells

    @property
    def grid(self) -> int:
        return self.input_size // self.stride

    def encode(self, boxes: np.ndarray) -> dict[str, np.ndarray]:
        """Boxes (N, 4) in input pixels -> heatmap (1, G, G), offset (2, G, G), size (2, G, G), mask (1, G, G).
        Boxes with a centre outside the input or no area are skipped; where two share a cell the smaller wins."""
        g, s = self.grid, self.stride
        heat = np.zeros((g, g), np.float32)
        offset = np.zeros((2, g, g), np.float32)
        size = np.zeros((2, g, g), np.float32)
        mask = np.zeros((g, g), np.float32)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        ys, xs = np.mgrid[0:g, 0:g]
        for x, y, w, h in sorted(boxes.tolist(), key=lambda b: -b[2] * b[3]):
            if w <= 0 or h <= 0:
                continue
            u = (x + w / 2 + 0.5) / s - 0.5
            v = (y + h / 2 + 0.5) / s - 0.5
            cu, cv = int(np.floor(u + 0.5)), int(np.floor(v + 0.5))
            if not (0 <= cu < g and 0 <= cv < g):
                continue
            sx = max(self.gaussian_scale * w / s, self.min_sigma)
            sy = max(self.gaussian_scale * h / s, self.min_sigma)
            heat = np.maximum(heat, np.exp(-((xs - cu) ** 2 / (2 * sx * sx) + (ys - cv) ** 2 / (2 * sy * sy))))
            offset[:, cv, cu] = (u - cu, v - cv)
            size[:, cv, cu] = (np.log(w / s), np.log(h / s))
            mask[cv, cu] = 1.0
        return {"heatmap": heat[None], "offset": offset, "size": size, "mask": mask[None]}

    def decode(self, heatmap: np.ndarray, offset: np.ndarray, size: np.ndarray, score_threshold: float = 0.3,
               top_k: int = 100, nms_iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """One image's outputs (heatmap as probabilities, (1, G, G) or (G, G)) -> boxes (N, 4) in input pixels
        and scores (N,), best first: 3x3 local maxima, top-k, score threshold, then NMS."""
        heat = np.asarray(heatmap, np.float32).reshape(heatmap.shape[-2:])
        peaks = heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8))  # a cell equal to its 3x3 maximum
        cand = np.flatnonzero(peaks & (heat >= score_threshold))
        cand = cand[np.argsort(-heat.flat[cand], kind="stable")[:top_k]]
        cv, cu = np.unravel_index(cand, heat.shape)
        s = self.stride
        cx = (cu + offset[0, cv, cu] + 0.5) * s - 0.5
        cy = (cv + offset[1, cv, cu] + 0.5) * s - 0.5
        w, h = np.exp(size[0, cv, cu]) * s, np.exp(size[1, cv, cu]) * s
        boxes = np.stack([cx - w / 2, cy - h / 2, w, h], 1).astype(np.float32).reshape(-1, 4)
        scores = heat.flat[cand].astype(np.float32)
        keep = nms(boxes, scores, nms_iou)
        return boxes[keep], scores[keep]


def matched(pred: np.ndarray, truth: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """Which truths (bool per truth) predictions (best first) match one-to-one at IoU >= threshold."""
    used = np.zeros(len(truth), bool)
    if len(pred) == 0 or len(truth) == 0:
        return used
    for row in iou_matrix(pred, truth):
        row = np.where(used, -1.0, row)
        j = int(np.argmax(row))
        if row[j] >= iou_threshold:
            used[j] = True
    return used


def match(pred: np.ndarray, truth: np.ndarray, iou_threshold: float = 0.5) -> int:
    """True positives: predictions (best first) matched one-to-one to unmatched truths at IoU >= threshold."""
    return int(matched(pred, truth, iou_threshold).sum())


def touching(boxes: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """Which boxes (bool per box) meet another once each is grown by ``margin`` of its sides on every edge:
    hands that touch or overlap, the pairs a detector must keep apart."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    grown = b + np.stack([-margin * b[:, 2], -margin * b[:, 3], 2 * margin * b[:, 2], 2 * margin * b[:, 3]], 1)
    near = iou_matrix(grown, grown) > 0
    np.fill_diagonal(near, False)
    return near.any(1)
