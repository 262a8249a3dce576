"""Handedness: is a hand crop the person's left or right hand? A linear head on the pose model's encoder.

The pipeline asks the palm-side classifier (handpose/side) instead where its weights exist: on uci_hand this
head calls almost every hand seen from its back the wrong side (pooled pose features barely hold which side
of the hand faces the camera). The head stays the fallback and the training loop's per-epoch check.

    handpose train-handedness --weights RELEASE.safetensors --out RELEASE2.safetensors [--max-samples N]

Convention: ``handedness`` is the person's own hand as seen in an un-mirrored photo (a camera facing the
person, no selfie flip). The head (model.py, ``build_model(..., handedness=True)``) is one linear layer on
the globally average-pooled stride-32 encoder features; its output is the logit of "right".

Training keeps the whole pose model frozen (its heatmaps do not change by a bit): the pooled features of the
training crops are extracted once, each crop also mirrored with its label flipped (a mirrored right hand is a
left hand: this doubles the data and balances the classes exactly), and a logistic regression is fitted on the
cached features (L-BFGS, seconds). The new release is the old one plus ``handedness.weight/bias`` in the same
safetensors file and ``"handedness": true`` in its JSON.

Labels (``label_of``): a hand-made ``hand`` field ("left"/"right", uci_hand) is taken as is. MediaPipe's
``handedness_mediapipe`` (teacher_hands) assumes a mirrored selfie image, so in these un-mirrored photos its
"Left" is the person's right hand: it is flipped. If the check on uci_hand comes out near 0% instead of
near 100%, one of these two conventions is inverted: ``MEDIAPIPE_MIRRORED`` is the switch.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from tqdm import tqdm

from ..data.datasets import read_rgb
from ..data.datasets.base import HandRecord
from ..errors import HandposeError
from ..data.transforms import hand_crop

TEACHER = "../shared/data/teacher_hands/annotations.json"
CHECK = "../shared/data/uci_hand/annotations.json"
MEDIAPIPE_MIRRORED = True  # MediaPipe's "Left" is the person's right hand in an un-mirrored photo


def label_of(record: HandRecord, min_teacher_score: float = 0.0) -> int | None:
    """1: the person's right hand, 0: left, None: no usable label."""
    hand = record.extra.get("hand")
    if hand in ("left", "right"):
        return int(hand == "right")
    side = record.extra.get("handedness_mediapipe")
    if side in ("Left", "Right") and float(record.extra.get("handedness_score", 1.0)) >= min_teacher_score:
        return int((side == "Left") == MEDIAPIPE_MIRRORED)
    return None


def labelled(records: list[HandRecord], min_teacher_score: float = 0.0) -> tuple[list[HandRecord], np.ndarray]:
    keep = [(r, y) for r in records if (y := label_of(r, min_teacher_score)) is not None]
    return [r for r, _ in keep], np.array([y for _, y in keep], np.float32)


@torch.inference_mode()
def pooled_features(model: torch.nn.Module, crops: np.ndarray) -> np.ndarray:
    """The encoder's stride-32 features, averaged over space: what the head sees (N, C)."""
    return model.backbone(torch.from_numpy(np.ascontiguousarray(crops, np.float32))).mean(dim=(2, 3)).numpy()


def extract(model: torch.nn.Module, info: dict, records: list[HandRecord], labels: np.ndarray, batch: int = 32,
            mirror: bool = True, progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled features and labels of every record's crop, and of its mirror image with the label flipped;
    and which rows are the originals."""
    model.eval()
    feats, ys, originals = [], [], []
    bar = tqdm(total=len(records), desc="features", unit="hand", disable=not progress, file=sys.stderr)
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        crops = np.stack([hand_crop(read_rgb(r.image), r.box, info["input_size"], info["padding"])[0] for r in chunk])
        y = labels[start : start + batch]
        feats.append(pooled_features(model, crops))
        ys.append(y)
        originals.append(np.ones(len(y), bool))
        if mirror:
            feats.append(pooled_features(model, crops[..., ::-1]))
            ys.append(1.0 - y)
            originals.append(np.zeros(len(y), bool))
        bar.update(len(chunk))
    bar.close()
    return np.concatenate(feats), np.concatenate(ys).astype(np.float32), np.concatenate(originals)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 200) -> tuple[np.ndarray, float]:
    """Logistic regression (L2-penalised, L-BFGS) -> weight (C,) and bias on the raw features. It is fitted on
    standardised features (well conditioned) and the scaling is folded back into the weights."""
    if len(np.unique(y)) < 2:
        raise HandposeError("handedness training needs both left and right hands")
    xt = torch.from_numpy(np.asarray(x, np.float64))
    yt = torch.from_numpy(np.asarray(y, np.float64))
    mean, std = xt.mean(0), xt.std(0).clamp_min(1e-6)
    z = (xt - mean) / std
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, yt) + l2 * (w @ w)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    w_raw = (w / std).detach()
    return w_raw.numpy().astype(np.float32), float((b - (w_raw * mean).sum()).detach())


def attach_head(model: torch.nn.Module, weight: np.ndarray, bias: float) -> torch.nn.Module:
    """Give ``model`` its handedness head with these parameters (in place)."""
    if model.handedness is None:
        model.handedness = torch.nn.Linear(model.backbone.out_channels, 1)
    with torch.no_grad():
        model.handedness.weight.copy_(torch.from_numpy(weight).reshape(1, -1))
        model.handedness.bias.fill_(bias)
    return model.eval()


def logits_of(weight: np.ndarray, bias: float, features: np.ndarray) -> np.ndarray:
    return features @ weight + bias


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((logits > 0) == (y > 0.5)))


def check(model: torch.nn.Module, info: dict, records: list[HandRecord], labels: np.ndarray, batch: int = 32,
          progress: bool = True) -> dict:
    """Accuracy of the model's head on labelled records (their crops as the estimator makes them), on the
    mirrored crops (labels flipped), and how far p(mirrored) is from 1 - p(original) on average."""
    x, y, orig = extract(model, info, records, labels, batch, mirror=True, progress=progress)
    logits = logits_of(model.handedness.weight.detach().numpy().reshape(-1), float(model.handedness.bias.detach()), x)
    p = 1.0 / (1.0 + np.exp(-logits))
    return {"accuracy": accuracy(logits[orig], y[orig]), "accuracy_mirrored": accuracy(logits[~orig], y[~orig]),
            "n": int(orig.sum()), "flip_gap": float(np.mean(np.abs(p[orig] + p[~orig] - 1.0)))}


def subsample(records: list, labels: np.ndarray, cap: int | None, seed: int) -> tuple[list, np.ndarray]:
    if cap is None or cap >= len(records):
        return records, labels
    idx = np.sort(np.random.default_rng(seed).permutation(len(records))[:cap])
    return [records[i] for i in idx], labels[idx]


def split_by_image(records: list[HandRecord], labels: np.ndarray, val_fraction: float, seed: int):
    """Train and validation parts, whole images apart (two hands of one photo stay together)."""
    images = sorted({str(r.image) for r in records})
    val_images = set(np.random.default_rng(seed).permutation(images)[: int(round(len(images) * val_fraction))])
    val = np.array([str(r.image) in val_images for r in records])
    pick = lambda m: ([r for r, k in zip(records, m) if k], labels[m])
    return pick(~val), pick(val)
