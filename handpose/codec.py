"""Heatmap codec: the one place that turns keypoints into training targets and heatmaps back into keypoints.

Coordinates are pixel-centre aligned: input pixel ``i`` covers ``[i - 0.5, i + 0.5]``, so a heatmap pixel
``j`` at stride ``s`` sits at input ``(j + 0.5) * s - 0.5``. With this mapping a horizontal flip of the
input is exactly a flip of the heatmap, which keeps the flip test free of the usual one-pixel shift.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class HeatmapCodec:
    input_size: tuple[int, int] = (224, 224)  # (width, height) of the network input
    heatmap_size: tuple[int, int] = (56, 56)  # (width, height) of its output
    sigma: float = 2.0  # Gaussian sigma in heatmap pixels
    blur_kernel: int = 7  # DARK modulation kernel (odd); 11 (MMPose) bends peaks within 5 px of the edge

    @classmethod
    def for_model(cls, info: dict) -> "HeatmapCodec":
        """The codec of a model described by ``info`` (``weights.model_info``): square input, heatmaps at the
        head's stride (32 / 2 ** num_deconv: 4 for the article's three deconvolutions)."""
        size, stride = info["input_size"], 32 // 2 ** info.get("num_deconv", 3)
        return cls((size, size), (size // stride, size // stride), info["sigma"])

    @property
    def stride(self) -> np.ndarray:
        return np.array(self.input_size, np.float32) / np.array(self.heatmap_size, np.float32)

    def to_heatmap(self, points: np.ndarray) -> np.ndarray:
        return (points + 0.5) / self.stride - 0.5

    def to_input(self, points: np.ndarray) -> np.ndarray:
        return (points + 0.5) * self.stride - 0.5

    def encode(self, keypoints: np.ndarray, visibility: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (K, 2) in input pixels -> heatmaps (K, H, W) float32 and weights (K,) float32.

        The Gaussian is centred on the exact sub-pixel position (unbiased, as DARK). A joint that is
        not visible, or whose centre falls outside the heatmap, gets an all-zero map and weight 0.
        """
        k = len(keypoints)
        w, h = self.heatmap_size
        visibility = np.ones(k, np.float32) if visibility is None else np.asarray(visibility, np.float32)
        centres = self.to_heatmap(np.asarray(keypoints, np.float32))
        xs = np.arange(w, dtype=np.float32)
        ys = np.arange(h, dtype=np.float32)
        gx = np.exp(-((xs[None] - centres[:, :1]) ** 2) / (2 * self.sigma**2))  # (K, W)
        gy = np.exp(-((ys[None] - centres[:, 1:]) ** 2) / (2 * self.sigma**2))  # (K, H)
        heatmaps = gy[:, :, None] * gx[:, None, :]
        inside = (centres[:, 0] >= -0.5) & (centres[:, 0] < w - 0.5) & (centres[:, 1] >= -0.5) & (centres[:, 1] < h - 0.5)
        weights = ((visibility > 0) & inside & np.isfinite(centres).all(1)).astype(np.float32)
        heatmaps *= weights[:, None, None]
        return heatmaps.astype(np.float32), weights

    def decode(self, heatmaps: np.ndarray, refine: str = "dark") -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (..., K, H, W) -> keypoints (..., K, 2) in input pixels and scores (..., K) (peak heights).

        ``refine``: "dark" (Gaussian blur, log, one Newton step), "shift" (quarter pixel towards the
        higher neighbour, as the original Simple Baselines), or "none" (integer argmax).
        """
        heatmaps = np.asarray(heatmaps, np.float32)
        lead = heatmaps.shape[:-3]
        k, h, w = heatmaps.shape[-3:]
        flat = heatmaps.reshape(-1, h, w)
        idx = flat.reshape(len(flat), -1).argmax(1)
        scores = flat.reshape(len(flat), -1).max(1)
        coords = np.stack([idx % w, idx // w], 1).astype(np.float32)
        if refine == "dark":
            coords = self._dark(flat, coords)
        elif refine == "shift":
            coords = self._quarter_shift(flat, coords)
        elif refine != "none":
            raise ValueError(f"unknown refine {refine!r}")
        keypoints = self.to_input(coords).reshape(*lead, k, 2)
        return keypoints, scores.reshape(*lead, k)

    @staticmethod
    def _quarter_shift(flat: np.ndarray, coords: np.ndarray) -> np.ndarray:
        n, h, w = flat.shape
        out = coords.copy()
        for i in range(n):
            x, y = int(coords[i, 0]), int(coords[i, 1])
            hm = flat[i]
            if 0 < x < w - 1:
                out[i, 0] += 0.25 * np.sign(hm[y, x + 1] - hm[y, x - 1])
            if 0 < y < h - 1:
                out[i, 1] += 0.25 * np.sign(hm[y + 1, x] - hm[y - 1, x])
        return out

    def _dark(self, flat: np.ndarray, coords: np.ndarray) -> np.ndarray:
        """Distribution-aware refinement (Zhang et al., CVPR 2020): treat the log of the blurred map as a
        quadratic around the peak and take one Newton step with finite-difference derivatives.

        Only the 3x3 blurred values around each peak enter the step, so only those are computed (the
        kernel and border of cv2.GaussianBlur, all joints at once); the log's derivatives do not depend
        on the map's scale, so the blurred map needs no rescaling to the peak's height."""
        n, h, w = flat.shape
        k, r = self.blur_kernel, self.blur_kernel // 2
        x, y = coords[:, 0].astype(int), coords[:, 1].astype(int)
        inner = (x >= 1) & (x < w - 1) & (y >= 1) & (y < h - 1)  # a peak on the edge keeps its integer place
        pad = r + 1
        padded = np.pad(flat, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")  # cv2's BORDER_REFLECT_101
        span = np.arange(-1 - r, 2 + r) + pad
        rows = (np.clip(y, 1, h - 2)[:, None] + span)[:, :, None]
        cols = (np.clip(x, 1, w - 2)[:, None] + span)[:, None, :]
        patch = padded[np.arange(n)[:, None, None], rows, cols].astype(np.float64)  # (n, 3 + 2r, 3 + 2r)
        band = np.zeros((3, 3 + 2 * r))
        for j in range(3):
            band[j, j : j + k] = cv2.getGaussianKernel(k, 0).ravel()  # the kernel GaussianBlur(sigma=0) uses
        logm = np.log(np.maximum(np.einsum("ia,nab,jb->nij", band, patch, band), 1e-10))  # (n, 3, 3)
        dx = 0.5 * (logm[:, 1, 2] - logm[:, 1, 0])
        dy = 0.5 * (logm[:, 2, 1] - logm[:, 0, 1])
        dxx = logm[:, 1, 2] - 2 * logm[:, 1, 1] + logm[:, 1, 0]
        dyy = logm[:, 2, 1] - 2 * logm[:, 1, 1] + logm[:, 0, 1]
        dxy = 0.25 * (logm[:, 2, 2] - logm[:, 2, 0] - logm[:, 0, 2] + logm[:, 0, 0])
        det = dxx * dyy - dxy * dxy
        with np.errstate(divide="ignore", invalid="ignore"):
            step_x, step_y = (dyy * dx - dxy * dy) / det, (dxx * dy - dxy * dx) / det
        # Not a maximum, or a Newton step larger than a pixel (the quadratic model does not hold): keep the peak.
        use = inner & (det > 1e-12) & (dxx < 0) & (np.abs(step_x) < 1) & (np.abs(step_y) < 1)
        out = coords.copy()
        out[use, 0], out[use, 1] = x[use] - step_x[use], y[use] - step_y[use]
        return out

    @staticmethod
    def flip_heatmaps(heatmaps: np.ndarray) -> np.ndarray:
        """Heatmaps of a horizontally mirrored input, put back in the original frame. A mirrored hand keeps
        its joint order (it becomes the other hand), so no channels are swapped."""
        return heatmaps[..., ::-1]
