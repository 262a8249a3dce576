"""The estimator: image (+ optional hand box) -> hands, in explicit stages as MediaPipe's pipeline:
find hand -> crop -> estimate -> map back. Tracking (next crop from this frame's keypoints) lives in live.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .codec import HeatmapCodec
from .errors import HandposeError
from .transforms import apply_affine, box_to_center_size, crop_affine, invert_affine, keypoints_box, normalize, warp
from .weights import load_model


@dataclass
class Hand:
    keypoints: np.ndarray  # (21, 2) image pixels
    scores: np.ndarray  # (21,) heatmap peak heights
    score: float  # hand presence: mean joint score
    box: np.ndarray  # (4,) x, y, w, h of the keypoints, in image pixels

    def to_json(self) -> dict:
        return {
            "keypoints": [[round(float(x), 2), round(float(y), 2), round(float(s), 4)]
                          for (x, y), s in zip(self.keypoints, self.scores)],
            "score": round(float(self.score), 4),
            "box": [round(float(v), 2) for v in self.box],
        }


def to_rgb(image, channels: str = "rgb") -> np.ndarray:
    """A path, a PIL image or a NumPy array (``channels`` says whether it is "rgb" or "bgr") -> uint8 RGB."""
    if isinstance(image, (str, Path)):
        data = np.fromfile(str(image), np.uint8) if Path(image).is_file() else None
        if data is None:
            raise HandposeError(f"{image}: file not found")
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if bgr is None:
            raise HandposeError(f"{image}: not a readable image")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise HandposeError(f"expected an image array (H, W, 3), got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr[..., ::-1] if channels == "bgr" else arr)


class TorchBackend:
    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.model(torch.from_numpy(batch)).numpy()


class PoseEstimator:
    """21 hand keypoints per hand. ``weights``: None (the bundled default), a .safetensors release or a .pt
    training checkpoint. ``flip_test`` averages with the mirrored crop's heatmaps."""

    def __init__(self, weights: str | Path | None = None, backend: str = "torch", flip_test: bool = False,
                 presence_threshold: float = 0.2):
        model, self.info = load_model(weights)
        size = self.info["input_size"]
        self.codec = HeatmapCodec((size, size), (size // 4, size // 4), self.info["sigma"])
        self.padding = self.info["padding"]
        self.flip_test = flip_test
        self.presence_threshold = presence_threshold
        if backend != "torch":
            raise HandposeError(f"unknown backend {backend!r}")
        self.backend = TorchBackend(model)

    # -- stages --------------------------------------------------------------------------------------
    def crop(self, image_rgb: np.ndarray, box) -> tuple[np.ndarray, np.ndarray]:
        """Crop: the padded square around ``box`` (x, y, w, h), warped to the input size."""
        center, size = box_to_center_size(box, self.padding)
        matrix = crop_affine(center, size, self.codec.input_size)
        return normalize(warp(image_rgb, matrix, self.codec.input_size)), matrix

    def estimate_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimate: normalised crops (N, 3, S, S) -> keypoints in crop pixels (N, 21, 2) and scores (N, 21)."""
        heatmaps = self.backend(crops)
        if self.flip_test:
            heatmaps = 0.5 * (heatmaps + self.codec.flip_heatmaps(self.backend(np.ascontiguousarray(crops[..., ::-1]))))
        return self.codec.decode(heatmaps)

    def estimate(self, image_rgb: np.ndarray, boxes) -> list[Hand]:
        """Crop, estimate and map back one hand per box."""
        if len(boxes) == 0:
            return []
        crops, matrices = zip(*(self.crop(image_rgb, b) for b in boxes))
        kps, scores = self.estimate_crops(np.stack(crops))
        hands = []
        for k, s, m in zip(kps, scores, matrices):
            pts = apply_affine(k, invert_affine(m))  # map back to the image
            hands.append(Hand(pts, s, float(s.mean()), keypoints_box(pts)))
        return hands

    def find_hands(self, image_rgb: np.ndarray, max_hands: int = 1) -> list[Hand]:
        """Find hand: estimate on the whole (letterboxed) image, re-crop around what it found and estimate
        again; a result below the presence threshold means no hand."""
        h, w = image_rgb.shape[:2]
        hands = self.estimate(image_rgb, [np.array([0, 0, w, h], np.float32) / 1.0])
        for _ in range(2):
            hands = self.estimate(image_rgb, [hd.box for hd in hands])
        return [hd for hd in hands if hd.score >= self.presence_threshold][:max_hands]

    def __call__(self, image, box=None, channels: str = "rgb", max_hands: int = 1) -> list[Hand]:
        rgb = to_rgb(image, channels)
        if box is not None:
            return self.estimate(rgb, [np.asarray(box, np.float32)])
        return self.find_hands(rgb, max_hands)
