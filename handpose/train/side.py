"""Training the palm-side classifier (side/model.py) from teacher_hands; the command is `handpose train-side`
(apps/train_side.py).

Labels come from the teacher: its left/right label and its keypoints' turning sense (infer.py) say which
side of the hand faces the camera. Crops are the pose model's (the padded keypoint box), augmented by
scale, shift, rotation, mirroring (which keeps the label), brightness, colour and blur; the encoder starts
from ImageNet MobileNetV2. Every crop is decoded once into memory, so a step costs only the network.
At the end the classifier is checked on held-out hands with labels it never saw: one teacher source held out
whole (``--exclude-sources``, palm side only) and the hand-made left/right labels of ``--check`` (uci_hand),
where left/right comes from the classifier and the hand-made keypoints' turning sense.
"""
from __future__ import annotations

import sys

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..data.datasets import read_rgb
from ..data.transforms import box_to_center_size, crop_affine, normalize, warp
from ..pose.handedness import label_of
from ..side.infer import CHIRALITY_SCALE, chirality
from ..side.model import PalmNet

IMAGENET = "../shared/weights/mobilenet_v2_imagenet.pth"
CONTEXT = 1.6  # the cached crops hold this much around the keypoint box, so scale and shift have room


def palm_labels(records) -> tuple[list, np.ndarray, np.ndarray]:
    """Records with a left/right label, their palm-side labels (1: palm faces the camera) and right labels."""
    keep = [(r, y) for r in records if (y := label_of(r)) is not None]
    records = [r for r, _ in keep]
    right = np.array([y for _, y in keep], np.float32)
    turn = chirality(np.stack([r.keypoints for r in records])) if records else np.zeros(0)
    palm = (right == 1) == (turn < 0)  # infer.py's convention: a right hand's palm side has chirality < 0
    return records, palm.astype(np.float32), right


def sampling_weights(records, palm: np.ndarray, balance: bool, edge_on: bool) -> np.ndarray:
    """How often each training hand is drawn (sums to 1). ``balance``: palm and back views equally often (the
    teacher's hands are ~79% palm side, so an unweighted classifier leans to "palm" and misses backs).
    ``edge_on``: a hand seen edge-on is drawn less, by the factor inference gives its turning sense
    (tanh(|chirality| / CHIRALITY_SCALE)): its palm label comes from the sign of a near-zero chirality, noise."""
    w = np.ones(len(palm))
    if edge_on and len(records):
        w *= np.tanh(np.abs(chirality(np.stack([r.keypoints for r in records]))) / CHIRALITY_SCALE)
    if balance:
        for cls in (0.0, 1.0):
            part = palm == cls
            if part.any():
                w[part] *= 0.5 / w[part].sum()
    w = np.maximum(w, 1e-12)
    return w / w.sum()


def cache_crops(records, padding: float, size: int, desc: str) -> np.ndarray:
    """Each record's crop with CONTEXT x the keypoint box around it (uint8, (N, P, P, 3))."""
    px = int(round(size * CONTEXT / padding))
    out = np.empty((len(records), px, px, 3), np.uint8)
    for i, r in enumerate(tqdm(records, desc=desc, unit="hand", file=sys.stderr, mininterval=2)):
        center, side = box_to_center_size(r.box, CONTEXT)
        out[i] = warp(read_rgb(r.image), crop_affine(center, side, (px, px)), (px, px))
    return out


class Crops:
    """Network inputs cut from the cached crops: the pose model's framing, optionally augmented."""

    def __init__(self, cached: np.ndarray, size: int, padding: float, rng: np.random.Generator):
        self.cached, self.size, self.rng = cached, size, rng
        self.side = cached.shape[1] * padding / CONTEXT  # the estimator's crop, in cached pixels
        self.center = np.full(2, (cached.shape[1] - 1) / 2, np.float32)

    def batch(self, idx, augment: bool) -> np.ndarray:
        out = []
        for i in idx:
            side, rot, shift, flip = self.side, 0.0, np.zeros(2), False
            if augment:
                side *= self.rng.uniform(0.85, 1.2)
                rot = self.rng.uniform(-60, 60)
                shift = self.rng.uniform(-0.08, 0.08, 2) * side
                flip = self.rng.random() < 0.5
            im = warp(self.cached[i], crop_affine(self.center + shift, side, (self.size, self.size), rot, flip),
                      (self.size, self.size))
            if augment:
                im = np.clip(im * self.rng.uniform(0.7, 1.3) + self.rng.uniform(-25, 25, 3), 0, 255).astype(np.uint8)
                if self.rng.random() < 0.2:
                    im = cv2.GaussianBlur(im, (5, 5), 0)
            out.append(normalize(im))
        return np.stack(out)


@torch.inference_mode()
def logits_of(model: PalmNet, crops: Crops, flip: bool = True, batch: int = 64) -> np.ndarray:
    """Palm-side logits of every cached crop, un-augmented; ``flip`` averages with the mirror image."""
    model.eval()
    out = []
    for s in range(0, len(crops.cached), batch):
        x = torch.from_numpy(crops.batch(range(s, min(s + batch, len(crops.cached))), False))
        lg = model(x)
        out.append((0.5 * (lg + model(x.flip(-1))) if flip else lg).numpy())
    return np.concatenate(out) if out else np.zeros(0)
