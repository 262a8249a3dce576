"""The gesture classifier: keypoint features -> a small MLP -> one name per hand, with its probability.

Inference is NumPy (two matrix products per hand); training is PyTorch (fit.py). A release is a
``.safetensors`` file (fp16) with a ``.json`` beside it that names the classes and records how it was made.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import HandposeError
from ..io import atomic_write, atomic_write_json
from .features import NUM_FEATURES, features, mirrored

DEFAULT_GESTURES = Path(__file__).resolve().parents[1] / "weights" / "gesture.safetensors"
KIND = "gesture"
NONE = "None"  # the class of a hand that shows none of the gestures (MediaPipe's name for it)


class GestureClassifier:
    """``classify(keypoints)`` -> [(name, probability)] for (N, 21, 2) image keypoints. Layers: ``weights`` and
    ``biases`` of Linear layers with ReLU between them; features are standardised with ``mean`` and ``std``
    first. A hand's answer is the mean of the hand's and its mirror image's (features.py). With a ``None``
    class, an answer whose probability is under ``info["min_score"]`` becomes ``None``: an unsure guess
    between gestures is more often a hand showing none of them (its score is then 1 - the guess's)."""

    def __init__(self, classes: list[str], weights: list[np.ndarray], biases: list[np.ndarray], mean: np.ndarray,
                 std: np.ndarray, info: dict | None = None):
        if len(classes) < 2 or weights[-1].shape[0] != len(classes):
            raise HandposeError(f"a gesture classifier needs at least 2 classes and one output each, got {classes}")
        self.classes = list(classes)
        self.weights = [np.asarray(w, np.float32) for w in weights]
        self.biases = [np.asarray(b, np.float32) for b in biases]
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.info = info or {}

    def logits(self, feats: np.ndarray) -> np.ndarray:
        x = (np.asarray(feats, np.float32) - self.mean) / self.std
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = x @ w.T + b
            if i < len(self.weights) - 1:
                x = np.maximum(x, 0)
        return x

    def probabilities(self, keypoints: np.ndarray) -> np.ndarray:
        """(N, 21, 2) -> (N, classes), averaged over the hand and its mirror image."""
        k = np.asarray(keypoints, np.float64).reshape(-1, 21, 2)
        if not len(k):
            return np.zeros((0, len(self.classes)), np.float32)
        both = self.logits(features(np.concatenate([k, mirrored(k)])))
        p = np.exp(both - both.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return (p[: len(k)] + p[len(k):]) / 2

    @property
    def min_score(self) -> float:
        return float(self.info.get("min_score", 0.0)) if NONE in self.classes else 0.0

    def classify(self, keypoints: np.ndarray) -> list[tuple[str, float]]:
        p = self.probabilities(keypoints)
        best = p.argmax(1) if len(p) else np.zeros(0, int)
        return [(self.classes[i], float(q[i])) if q[i] >= self.min_score else (NONE, 1.0 - float(q[i]))
                for i, q in zip(best, p)]

    # -- files -----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        path = Path(path)
        if path.suffix != ".safetensors":
            raise HandposeError(f"{path}: a gesture classifier is saved as a .safetensors file")
        tensors = {"mean": self.mean, "std": self.std}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            tensors[f"layer{i}.weight"], tensors[f"layer{i}.bias"] = w, b
        tensors = {k: np.ascontiguousarray(v, np.float16) for k, v in tensors.items()}
        atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"format": "np"}))
        atomic_write_json(path.with_suffix(".json"), {"kind": KIND, "classes": self.classes,
                                                       "features": NUM_FEATURES, **self.info})

    @classmethod
    def load(cls, path: str | Path) -> GestureClassifier:
        from safetensors.numpy import load_file

        path = Path(path)
        meta_path = path.with_suffix(".json")
        if not path.is_file():
            raise HandposeError(f"--gestures {path}: file not found")
        if not meta_path.is_file():
            raise HandposeError(f"--gestures {path}: its description {meta_path.name} is missing beside it")
        try:
            meta = json.loads(meta_path.read_text())
            tensors = load_file(str(path))
        except Exception as e:
            raise HandposeError(f"--gestures {path}: cannot read it ({e})") from None
        if meta.get("kind") != KIND or meta.get("features") != NUM_FEATURES:
            raise HandposeError(f"--gestures {path}: not a gesture classifier of this version "
                                f"(kind {meta.get('kind')!r}, {meta.get('features')} features)")
        n = sum(1 for k in tensors if k.endswith(".weight"))
        info = {k: v for k, v in meta.items() if k not in ("kind", "classes", "features")}
        return cls(meta["classes"], [tensors[f"layer{i}.weight"] for i in range(n)],
                   [tensors[f"layer{i}.bias"] for i in range(n)], tensors["mean"], tensors["std"], info)


def load_gestures(path: str | Path | None = None) -> GestureClassifier | None:
    """A classifier from ``path``; None: the bundled canned gestures (None when not bundled); "none": off."""
    if path is not None and str(path).lower() == "none":
        return None
    if path is None:
        return GestureClassifier.load(DEFAULT_GESTURES) if DEFAULT_GESTURES.is_file() else None
    return GestureClassifier.load(path)
