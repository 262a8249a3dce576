"""Left or right for estimated hands: crop -> palm-side logit -> with the keypoints' turning sense -> side.

Convention (as everywhere in handpose): the person's own hand, as seen in an un-mirrored photo. In such a
photo a right hand seen from its palm side turns counter-clockwise on screen from the wrist -> index knuckle
direction to the wrist -> little-finger knuckle direction (``chirality`` < 0 in image coordinates, y down); a
right hand seen from its back turns the other way, and a left hand is the mirror of both. So
``right logit = -tanh(chirality / CHIRALITY_SCALE) * palm logit``: a hand seen edge-on (chirality near 0)
gets a probability near 0.5 instead of a coin toss dressed as certainty; where the pose model has a left/right
head, its answer fills that gap (``right_logit``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import HandposeError
from ..data.transforms import hand_crop
from ..pose.inference import side_of, sigmoid
from ..release import read_release
from .model import PalmNet

DEFAULT_SIDE = Path(__file__).resolve().parents[1] / "weights" / "side.safetensors"
KIND = "palm-side"
# sin of the angle between wrist->index knuckle and wrist->little knuckle at which the turning sense counts
# fully; a spread hand seen square-on is about 0.5, one seen edge-on near 0.
CHIRALITY_SCALE = 0.1


def chirality(keypoints: np.ndarray) -> np.ndarray:
    """(..., 21, 2) keypoints -> (...,) sin of the turn from wrist->index MCP to wrist->little MCP (image y down)."""
    k = np.asarray(keypoints, np.float64)
    a, b = k[..., 5, :] - k[..., 0, :], k[..., 17, :] - k[..., 0, :]
    cross = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return cross / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-9)


def right_logit(palm_logit: np.ndarray, keypoints: np.ndarray, direct_logit: np.ndarray | None = None) -> np.ndarray:
    """The logit that a hand is the person's right hand, from its palm-side logit and its keypoints; with
    ``direct_logit`` (the pose model's own left/right head) that answer fills in what the turning sense cannot
    tell, weighted by ``1 - |tanh(chirality / CHIRALITY_SCALE)|``: fully for a hand seen edge-on, not at all
    for one seen square-on. On uci_hand's 72 edge-on hands (|chirality| < 0.2; hand-made keypoints and box)
    palm x turn was right for 76 %, the head for 99 %."""
    turn = np.tanh(chirality(keypoints) / CHIRALITY_SCALE)
    logit = -turn * np.asarray(palm_logit, np.float64)
    if direct_logit is not None:
        logit = logit + (1.0 - np.abs(turn)) * np.asarray(direct_logit, np.float64)
    return logit


def side_info(input_size: int, padding: float, metrics: dict | None = None) -> dict:
    return {"kind": KIND, "input_size": int(input_size), "padding": float(padding), "metrics": metrics or {}}


def load_palmnet(path: str | Path | None = None) -> tuple[PalmNet, dict]:
    """The classifier (eval mode) and its info, from a release (.safetensors + .json)."""
    path = Path(path) if path is not None else DEFAULT_SIDE
    if not path.is_file():
        raise HandposeError(f"{path}: palm-side classifier weights not found (train them with `handpose train-side`)")
    if path.suffix != ".safetensors":
        raise HandposeError(f"{path}: palm-side weights must be a .safetensors release")
    info, state = read_release(path, "palm-side weights")
    if info.get("kind") != KIND:
        raise HandposeError(f"{path}: not palm-side classifier weights (its config says kind={info.get('kind')!r})")
    model = PalmNet()
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as e:
        raise HandposeError(f"{path}: weights do not fit the palm-side classifier ({str(e).splitlines()[0]})") from None
    return model.eval(), info


class _AsMap(torch.nn.Module):
    """The logits as (N, 1, 1, 1): the one-output layout that pose/onnx_backend.py exports and runs."""

    def __init__(self, model: PalmNet):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, None, None, None]


class SideClassifier:
    """``classifier.label(image_rgb, hands)`` sets each Hand's ``handedness`` and ``handedness_score`` from
    its crop (the padded square around its keypoint box, as the pose model's) and its keypoints.
    ``backend``: "torch", or "onnx"/"onnx-int8" (both run the fp32 ONNX export: the model is small).
    ``flip_test`` averages the palm-side logits of the crop and its mirror image."""

    def __init__(self, weights: str | Path | None = None, backend: str = "torch", threads: int | None = None,
                 flip_test: bool = False):
        model, self.info = load_palmnet(weights)
        self.flip_test = flip_test
        if backend == "torch":
            self._run = lambda batch: _torch_logits(model, batch)
        else:
            from ..pose.onnx_backend import OnnxBackend, cached_onnx

            path = Path(weights) if weights is not None else DEFAULT_SIDE
            # Asked now and then beside the pose model's session: a spinning pool here would steal its cores
            # (bench/live.py, two hands, this classifier on every 5th frame: 52 -> 33 FPS with spinning).
            onnx = OnnxBackend(cached_onnx(path, _AsMap(model), self.info), threads, spin=False)
            self._run = lambda batch: onnx(batch).reshape(-1)

    def palm_logits(self, jobs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """One palm-side logit per (image_rgb, keypoint box) job, all crops in one batch."""
        if not jobs:
            return np.zeros(0)
        size, padding = self.info["input_size"], self.info["padding"]
        batch = np.stack([hand_crop(image, box, size, padding)[0] for image, box in jobs])  # the pose model's framing
        logits = self._run(batch)
        if self.flip_test:
            logits = 0.5 * (logits + self._run(np.ascontiguousarray(batch[..., ::-1])))
        return np.asarray(logits, np.float64)

    def label_many(self, jobs: list[tuple[np.ndarray, object]]) -> None:
        """Set the side of every (image_rgb, Hand) job in place, all crops in one batch. A hand that arrives
        with a side (the pose model's head) has it used for the part the keypoints cannot tell (right_logit)."""
        logits = self.palm_logits([(image, hand.box) for image, hand in jobs])
        for (_, hand), palm in zip(jobs, logits):
            p = None if hand.p_right is None else min(max(hand.p_right, 1e-6), 1 - 1e-6)  # a finite logit
            direct = None if p is None else np.log(p / (1.0 - p))
            hand.handedness, hand.handedness_score = side_of(float(sigmoid(right_logit(palm, hand.keypoints, direct))))

    def label(self, image_rgb: np.ndarray, hands: list) -> list:
        self.label_many([(image_rgb, h) for h in hands])
        return hands


@torch.inference_mode()
def _torch_logits(model: PalmNet, batch: np.ndarray) -> np.ndarray:
    return model(torch.from_numpy(np.ascontiguousarray(batch, np.float32))).numpy()


def load_side_classifier(weights=None, backend: str = "torch", threads: int | None = None,
                         flip_test: bool = True) -> SideClassifier | None:
    """The palm-side classifier, or None when no weights are given and the default file is absent (the pose
    model's own left/right head, if it has one, is used then). Weights named explicitly must exist.
    ``flip_test`` by default: a 128 px crop's mirror costs about 2 ms for two hands, and on uci_hand (hand-made
    keypoints) it took the earlier weights from 93.5 to 94.6 % right."""
    if weights is None and not DEFAULT_SIDE.is_file():
        return None
    return SideClassifier(weights, backend, threads, flip_test)
