"""``HandDetector``: an RGB image -> hands' keypoint boxes with scores (letterbox, one forward, decode, NMS).

The forward runs on PyTorch or, after a cached on-the-fly export (onnx.py), on ONNX Runtime in fp32 or int8;
an .onnx file always runs on ONNX Runtime. Decoding and NMS are the same NumPy code for every backend.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import HandposeError
from ..release import read_release
from ..data.transforms import normalize
from .codec import BoxCodec, invert_affine, letterbox, map_boxes
from .model import HandDetectorNet

DEFAULT_DETECTOR = Path(__file__).resolve().parents[1] / "weights" / "detector.safetensors"
BACKENDS = ("torch", "onnx", "onnx-int8")


@dataclass
class Detection:
    box: np.ndarray  # (4,) float32 x, y, w, h in image pixels: the hand's KEYPOINT box (tight around its 21 joints)
    score: float  # centre heatmap peak, 0..1


def load_detector(path: str | Path | None = None) -> tuple[HandDetectorNet, dict]:
    """The detector (eval mode, fp32) and its info, from a release (.safetensors + .json) or a training .pt."""
    path = Path(path) if path is not None else DEFAULT_DETECTOR
    if not path.is_file():
        hint = (" Train one with `handpose detect-train --config configs/detector.yaml` and copy the run's "
                "detector.safetensors and detector.json there, or pass weights=FILE") if path == DEFAULT_DETECTOR else ""
        raise HandposeError(f"{path}: detector weights file not found.{hint}")
    if path.suffix == ".safetensors":
        info, state = read_release(path, "detector weights")
    elif path.suffix == ".pt":
        from ..checkpoint import load_checkpoint
        from .model import model_info

        ckpt = load_checkpoint(path)
        if "model" not in ckpt or "config" not in ckpt:
            raise HandposeError(f"{path}: not a detector training checkpoint (needs 'model' and 'config')")
        info, state = model_info(ckpt["config"], ckpt.get("metrics")), ckpt["model"]
    else:
        raise HandposeError(f"{path}: unknown weights format (expected .safetensors, .pt or .onnx)")
    if info.get("kind") != "hand-detector":
        raise HandposeError(f"{path}: not hand-detector weights (its config says kind={info.get('kind')!r})")
    model = HandDetectorNet(info["width"])
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except RuntimeError as e:
        raise HandposeError(f"{path}: weights do not fit the detector ({str(e).splitlines()[0]})") from None
    return model.eval().to(memory_format=torch.channels_last), info


class HandDetector:
    """``detector(image_rgb) -> list[Detection]``, best first. ``image_rgb``: uint8 (H, W, 3) RGB.
    ``backend``: "torch", "onnx" or "onnx-int8" (ONNX Runtime, fp32 or static int8); ``threads``: intra-op
    threads (None: the backend's default)."""

    def __init__(self, weights: str | Path | None = None, backend: str = "torch", threads: int | None = None,
                 score_threshold: float | None = None, max_detections: int = 20, nms_iou: float | None = None):
        if backend not in BACKENDS:
            raise HandposeError(f"unknown detector backend {backend!r} (choose from {', '.join(BACKENDS)})")
        path = Path(weights) if weights is not None else DEFAULT_DETECTOR
        if path.suffix == ".onnx":
            from .onnx import OnnxDetector

            if not path.is_file():
                raise HandposeError(f"{path}: detector weights file not found")
            self.run = OnnxDetector(path, threads)
            self.info = self.run.info
        else:
            model, self.info = load_detector(path)
            if backend == "torch":
                if threads is not None:  # torch's thread pool is per process: set it only when asked
                    torch.set_num_threads(threads)
                self.run = _TorchRun(model)
            else:
                from .onnx import OnnxDetector, detector_onnx

                self.run = OnnxDetector(detector_onnx(path, model, self.info, int8=backend == "onnx-int8"), threads)
        self.backend = "onnx" if path.suffix == ".onnx" and backend == "torch" else backend
        self.codec = BoxCodec(self.info["input_size"], self.info["stride"])
        self.score_threshold = self.info["score_threshold"] if score_threshold is None else score_threshold
        self.nms_iou = self.info["nms_iou"] if nms_iou is None else nms_iou
        self.max_detections = max_detections

    def __call__(self, image_rgb: np.ndarray) -> list[Detection]:
        image = np.asarray(image_rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
            raise HandposeError(f"HandDetector expects a uint8 RGB image (H, W, 3), got {image.dtype} {image.shape}")
        square, m = letterbox(image, self.codec.input_size)
        heat, offset, size = self.run(normalize(square)[None])
        boxes, scores = self.codec.decode(_sigmoid(heat[0, 0]), offset[0], size[0], self.score_threshold,
                                          top_k=self.max_detections, nms_iou=self.nms_iou)
        boxes = map_boxes(boxes, invert_affine(m))
        return [Detection(b.astype(np.float32), float(s)) for b, s in zip(boxes, scores)][:self.max_detections]


class _TorchRun:
    """``run(batch) -> (heatmap logits, offset, log size)`` as NumPy arrays, on PyTorch (channels-last)."""

    def __init__(self, model: HandDetectorNet):
        self.model = model

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).contiguous(memory_format=torch.channels_last)
        return tuple(t.numpy() for t in self.model(x))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))).astype(np.float32)  # float64: no overflow
