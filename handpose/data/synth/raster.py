"""A CPU z-buffer rasteriser for small images: triangle ids drawn far-to-near with OpenCV (painter's order),
then per-pixel barycentrics, perspective-correct depth and attributes, vectorised in NumPy.

Pixel centres are integers (the project's convention), and so are OpenCV's drawing coordinates."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4  # sub-pixel bits for cv2.fillConvexPoly


@dataclass
class Raster:
    triangle: np.ndarray  # (H, W) int32: triangle index + 1, 0 = empty
    depth: np.ndarray  # (H, W) float64 camera z, inf where empty
    pixels: np.ndarray  # (P, 2) int: (y, x) of the covered pixels
    faces: np.ndarray  # (P,) triangle index per covered pixel
    bary: np.ndarray  # (P, 3) perspective-correct barycentric weights
    corners: np.ndarray  # (P, 3) vertex indices of each covered pixel's triangle

    def interpolate(self, attribute: np.ndarray) -> np.ndarray:
        """(P, C) attribute given per vertex (V, C), at each covered pixel."""
        b, c = self.bary, self.corners
        return (b[:, 0:1] * attribute[c[:, 0]] + b[:, 1:2] * attribute[c[:, 1]] + b[:, 2:3] * attribute[c[:, 2]])


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points (N, 3) -> pixels (N, 2)."""
    uv = points @ K.T
    return uv[:, :2] / uv[:, 2:3]


def rasterize(points: np.ndarray, faces: np.ndarray, K: np.ndarray, size: int) -> Raster:
    """Camera-frame vertices (V, 3, z > 0) and triangles (F, 3) -> what each pixel of a size x size image sees."""
    uv = project(points, K)
    z = points[:, 2]
    tri = uv[faces]  # (F, 3, 2)
    lo, hi = tri.min(1), tri.max(1)
    inside = (hi[:, 0] >= -1) & (hi[:, 1] >= -1) & (lo[:, 0] <= size) & (lo[:, 1] <= size)
    inside &= (z[faces] > 1e-3).all(1)
    # Back faces of the closed, counter-clockwise (glTF) meshes are hidden anyway: skip them (half the draws).
    p0, p1, p2 = (points[faces[:, k]] for k in range(3))
    inside &= (np.cross(p1 - p0, p2 - p0) * p0).sum(1) < 0
    # Painter's order, far first: the nearest surface is drawn last and wins.
    order = np.flatnonzero(inside)
    order = order[np.argsort(-z[faces[order]].mean(1), kind="stable")]
    ids = np.zeros((size, size), np.int32)
    fixed = np.round(tri * (1 << _SHIFT)).astype(np.int32)
    for f in order.tolist():
        cv2.fillConvexPoly(ids, fixed[f], f + 1, cv2.LINE_8, _SHIFT)
    ys, xs = np.nonzero(ids)
    pix_faces = ids[ys, xs] - 1
    a, b, c = (tri[pix_faces, k] for k in range(3))
    p = np.stack([xs, ys], 1).astype(np.float64)
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-12, 1e-12, den)
    w1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    w2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    screen = np.clip(np.stack([1 - w1 - w2, w1, w2], 1), 0, 1)  # edge pixels fall just outside: clamp
    screen /= np.maximum(screen.sum(1, keepdims=True), 1e-12)
    inv_z = screen / z[faces[pix_faces]]  # perspective-correct: interpolate 1/z
    depth_at = 1.0 / inv_z.sum(1)
    bary = inv_z * depth_at[:, None]
    depth = np.full((size, size), np.inf)
    depth[ys, xs] = depth_at
    return Raster(ids, depth, np.stack([ys, xs], 1), pix_faces, bary, faces[pix_faces])
