"""The estimator: image (+ optional hand box) -> hands, in explicit stages as MediaPipe's pipeline:
find hand -> crop -> estimate -> map back. Several hands, a hand detector and handedness are wired in
pipeline.py, tracking (next crop from this frame's keypoints) in tracking.py, the one-hand finder in find_hand.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..codec import HeatmapCodec
from ..data.datasets import read_rgb
from ..errors import HandposeError
from ..data.transforms import Roi, apply_affine, hand_crop, invert_affine, keypoints_box
from ..weights import DEFAULT_WEIGHTS, load_model

BACKENDS = ("torch", "onnx", "onnx-int8")  # onnx-int8: the export quantised to int8 (fastest on CPU)


@dataclass
class Hand:
    keypoints: np.ndarray  # (21, 2) image pixels
    scores: np.ndarray  # (21,) heatmap peak heights
    score: float  # hand presence: mean joint score
    box: np.ndarray  # (4,) x, y, w, h of the keypoints, in image pixels
    # The person's own hand as seen in an un-mirrored photo ("left" | "right") and the probability of that
    # side (0.5..1); both None when the model has no handedness head (a guess would be worse than nothing).
    handedness: str | None = None
    handedness_score: float | None = None
    # What the hand shows (gesture/: MediaPipe's canned names, or a classifier of the user's own) and that
    # name's probability; both None without a gesture classifier.
    gesture: str | None = None
    gesture_score: float | None = None

    def to_json(self) -> dict:
        return {
            "keypoints": [[round(float(x), 2), round(float(y), 2), round(float(s), 4)]
                          for (x, y), s in zip(self.keypoints, self.scores)],
            "score": round(float(self.score), 4),
            "box": [round(float(v), 2) for v in self.box],
            "handedness": self.handedness,
            "handedness_score": None if self.handedness_score is None else round(float(self.handedness_score), 4),
            "gesture": self.gesture,
            "gesture_score": None if self.gesture_score is None else round(float(self.gesture_score), 4),
        }

    @property
    def p_right(self) -> float | None:
        """The probability that this is the person's right hand (side_of's inverse); None without a side."""
        if self.handedness is None or self.handedness_score is None:
            return None
        return self.handedness_score if self.handedness == "right" else 1.0 - self.handedness_score

    @property
    def label(self) -> str:
        """What drawings show beside the hand: its side and that side's probability ("right hand 93%", or
        "hand" without handedness), then its gesture and that name's probability ("Thumb_Up 97%")."""
        side = "hand" if self.handedness is None else f"{self.handedness} hand {self.handedness_score:.0%}"
        if self.gesture is None:
            return side
        return f"{side} | {self.gesture} {self.gesture_score:.0%}"


def side_of(p_right: float) -> tuple[str, float]:
    """("right", p) or ("left", 1 - p): the likelier side and its probability (0.5..1)."""
    p = float(p_right)
    return ("right", p) if p >= 0.5 else ("left", 1.0 - p)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def to_rgb(image, channels: str = "rgb") -> np.ndarray:
    """A path, a PIL image or a NumPy array (``channels`` says whether it is "rgb" or "bgr") -> uint8 RGB."""
    if channels not in ("rgb", "bgr"):
        raise HandposeError(f"channels must be 'rgb' or 'bgr', got {channels!r}")
    if isinstance(image, (str, Path)):
        return read_rgb(image)
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 1:
        raise HandposeError(f"expected an image array (H, W, 3), got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr[..., ::-1] if channels == "bgr" else arr)


class TorchBackend:
    def __init__(self, model: torch.nn.Module, threads: int | None = None):
        self.model = model.eval()
        if threads:  # torch's thread pool is per process: set it only when asked
            torch.set_num_threads(threads)

        self.has_handedness = getattr(model, "handedness", None) is not None

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.model(torch.from_numpy(np.ascontiguousarray(batch, np.float32))).numpy()

    @torch.inference_mode()
    def run_all(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Heatmaps and the right-hand logits (N,), None without the handedness head."""
        heatmaps, logits = self.model.forward_all(torch.from_numpy(np.ascontiguousarray(batch, np.float32)))
        return heatmaps.numpy(), None if logits is None else logits.numpy()


def make_backend(weights, backend: str, threads: int | None):
    """(callable batch -> heatmaps, info). An .onnx file always runs on ONNX Runtime; other weights run on
    PyTorch, or on ONNX Runtime after a cached on-the-fly export when ``backend="onnx"``."""
    if backend not in BACKENDS:
        raise HandposeError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    path = Path(weights) if weights is not None else None
    if path is not None and path.suffix == ".onnx":
        if not path.is_file():
            raise HandposeError(f"{path}: weights file not found")
        from .onnx_backend import OnnxBackend

        run = OnnxBackend(path, threads)
        return run, run.info
    model, info = load_model(path)
    if backend == "torch":
        return TorchBackend(model, threads), info
    from .onnx_backend import OnnxBackend, cached_onnx

    run = OnnxBackend(cached_onnx(path or DEFAULT_WEIGHTS, model, info, int8=backend == "onnx-int8"), threads)
    return run, info


class PoseEstimator:
    """21 hand keypoints per hand. ``weights``: None (the bundled default), a .safetensors release, a .pt
    training checkpoint or an .onnx export. ``backend``: "torch" or "onnx" (ONNX Runtime; an .onnx file
    always uses it). ``flip_test`` averages with the mirrored crop's heatmaps. ``threads``: intra-op threads
    (None: the backend's default). ``presence_threshold``: the hand score under which ``find_hands``
    reports no hand. ``finder``: the hand finder's settings (find_hand.FinderSettings; None: its defaults)."""

    def __init__(self, weights: str | Path | None = None, backend: str = "torch", flip_test: bool = False,
                 presence_threshold: float = 0.2, threads: int | None = None, finder=None):
        self.backend, self.info = make_backend(weights, backend, threads)
        self.backend_name = backend if backend != "torch" or Path(str(weights)).suffix != ".onnx" else "onnx"
        self.weights = str(weights) if weights is not None else str(DEFAULT_WEIGHTS)
        self.codec = HeatmapCodec.for_model(self.info)
        self.padding = self.info["padding"]
        self.flip_test = flip_test
        self.presence_threshold = presence_threshold
        self.finder = finder
        self.has_handedness = bool(getattr(self.backend, "has_handedness", False))

    # -- stages --------------------------------------------------------------------------------------
    def crop(self, image_rgb: np.ndarray, box, padding: float | None = None,
             size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Crop: the padded square around ``box`` (x, y, w, h), warped to the input size (or ``size``)."""
        return hand_crop(image_rgb, box, size or self.codec.input_size[0], self.padding if padding is None else padding)

    def estimate_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimate: normalised crops (N, 3, S, S) -> keypoints in crop pixels (N, 21, 2) and scores (N, 21).
        Any S divisible by 32 works (the network is fully convolutional); the model's own size is best."""
        kps, scores, _ = self.estimate_crops_all(crops)
        return kps, scores

    def estimate_crops_all(self, crops: np.ndarray, flip_test: bool | None = None
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """As ``estimate_crops``, plus the probability (N,) that each crop shows a right hand (None when the
        model has no handedness head). With ``flip_test`` (None: the estimator's own setting) the right-hand
        logit is (l(crop) - l(mirrored))/2: a mirrored right hand is a left hand, so the mirrored crop's
        probability is exactly 1 - this one's."""
        if (self.flip_test if flip_test is None else flip_test):  # crops and mirror images in one batch: one call
            n = len(crops)
            heatmaps, logits = self.backend.run_all(np.concatenate([crops, crops[..., ::-1]]))
            heatmaps = 0.5 * (heatmaps[:n] + self.codec.flip_heatmaps(heatmaps[n:]))
            if logits is not None:
                logits = 0.5 * (logits[:n] - logits[n:])
        else:
            heatmaps, logits = self.backend.run_all(crops)
        s = crops.shape[-1]
        codec = self.codec if s == self.codec.input_size[0] else HeatmapCodec((s, s), (heatmaps.shape[-1], heatmaps.shape[-2]), self.codec.sigma)
        kps, scores = codec.decode(heatmaps)
        return kps, scores, None if logits is None else sigmoid(logits)

    def estimate_many(self, jobs: list[tuple[np.ndarray, np.ndarray]], padding: float | None = None,
                      size: int | None = None, flip_test: bool | None = None) -> list[Hand]:
        """One hand per (image_rgb, box) job, all crops in one batch: the batching path of folders."""
        if not jobs:
            return []
        crops, matrices = zip(*(self.crop(img, b, padding, size) for img, b in jobs))
        kps, scores, p_right = self.estimate_crops_all(np.stack(crops), flip_test)
        hands = []
        for i, (k, s, m) in enumerate(zip(kps, scores, matrices)):
            pts = apply_affine(k, invert_affine(m))  # map back to the image
            hand = Hand(pts, s, float(s.mean()), keypoints_box(pts))
            if p_right is not None:  # the crop is not mirrored: its side is the image's
                hand.handedness, hand.handedness_score = side_of(p_right[i])
            hands.append(hand)
        return hands

    def estimate(self, image_rgb: np.ndarray, boxes) -> list[Hand]:
        """Crop, estimate and map back one hand per box (x, y, w, h) or turned region (transforms.Roi)."""
        return self.estimate_many([(image_rgb, b if isinstance(b, Roi) else np.asarray(b, np.float32)) for b in boxes])

    def find_hands(self, image_rgb: np.ndarray, max_hands: int = 1) -> list[Hand]:
        """Find hand (see find_hand.py): the whole image letterboxed, then re-crops around the keypoints
        found until the crop settles; a hand score below the presence threshold means no hand."""
        from .find_hand import find_hands

        return find_hands(self, [image_rgb], max_hands, self.finder)[0]

    def predict_many(self, images_rgb: list[np.ndarray], boxes: list | None = None, max_hands: int = 1) -> list[list[Hand]]:
        """Hands of several images, batched across them: with ``boxes`` (one box or None per image) the
        given boxes are used, otherwise the hand finder runs."""
        from .find_hand import find_hands

        if boxes is None:
            return find_hands(self, images_rgb, max_hands, self.finder)
        out: list[list[Hand] | None] = [None] * len(images_rgb)
        jobs = [(i, np.asarray(b, np.float32)) for i, b in enumerate(boxes) if b is not None]
        for (i, _), hand in zip(jobs, self.estimate_many([(images_rgb[i], b) for i, b in jobs])):
            out[i] = [hand]
        free = [i for i, o in enumerate(out) if o is None]
        for i, hands in zip(free, find_hands(self, [images_rgb[i] for i in free], max_hands, self.finder)):
            out[i] = hands
        return out

    def __call__(self, image, box=None, channels: str = "rgb", max_hands: int = 1) -> list[Hand]:
        rgb = to_rgb(image, channels)
        if box is not None:
            return self.estimate(rgb, [np.asarray(box, np.float32)])
        return self.find_hands(rgb, max_hands)
