"""Training a gesture classifier on labelled keypoints: augmented copies of each hand (a small turn, a
stretch, jitter on every joint, a mirror), features, then a small MLP with a class-balanced loss."""
from __future__ import annotations

import sys

import numpy as np
import torch
from tqdm import tqdm

from ..errors import HandposeError
from .classifier import GestureClassifier
from .features import features, mirrored

HIDDEN = (128, 128)
MIN_STEPS = 300  # a few hundred photos are only a few batches an epoch: too few steps to converge


def augment(keypoints: np.ndarray, rng: np.random.Generator, turn: float = 12.0, jitter: float = 0.03) -> np.ndarray:
    """A copy of each (21, 2) hand turned by up to ``turn`` degrees (small: up and down carry meaning),
    stretched (photos resized to a square stretch hands), each joint moved by ``jitter`` x the hand's size,
    and mirrored half the time."""
    k = np.asarray(keypoints, np.float64).reshape(-1, 21, 2)
    n = len(k)
    a = np.radians(rng.uniform(-turn, turn, n))
    rot = np.stack([np.stack([np.cos(a), -np.sin(a)], 1), np.stack([np.sin(a), np.cos(a)], 1)], 1)  # (n, 2, 2)
    stretch = np.exp(rng.uniform(-0.2, 0.2, (n, 1, 2)))
    centre = k.mean(1, keepdims=True)
    size = np.linalg.norm(k.max(1) - k.min(1), axis=1)[:, None, None]
    out = np.einsum("nij,nkj->nki", rot, (k - centre) * stretch) + rng.normal(0, 1, k.shape) * jitter * size
    flip = rng.random(n) < 0.5
    out[flip] = mirrored(out[flip])
    return out


def fit(keypoints: np.ndarray, labels: list[str], classes: list[str] | None = None, epochs: int = 30,
        copies: int = 4, seed: int = 0, sample_weights: np.ndarray | None = None, info: dict | None = None,
        turn: float = 12.0, progress: bool = True) -> GestureClassifier:
    """A classifier for ``labels`` (one per hand of ``keypoints``, (N, 21, 2)); ``classes`` fixes the order
    (default: sorted). Every class weighs the same in the loss, whatever its count; ``sample_weights``
    scale single hands within that (a source drawn less). ``turn``: the augmentation's largest turn (degrees)."""
    classes = list(classes or sorted(set(labels)))
    missing = sorted(set(labels) - set(classes))
    if missing:
        raise HandposeError(f"labels {missing} are not among the classes {classes}")
    if len(set(labels)) < 2:
        raise HandposeError(f"at least two classes are needed to train, got {sorted(set(labels))}")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    y = np.array([classes.index(c) for c in labels])
    w = np.ones(len(y)) if sample_weights is None else np.asarray(sample_weights, np.float64)
    kp = np.asarray(keypoints, np.float64)
    x = np.concatenate([features(kp)] + [features(augment(kp, rng, turn)) for _ in range(copies)])
    y, w = np.tile(y, copies + 1), np.tile(w, copies + 1)
    per_class = np.bincount(y, weights=w, minlength=len(classes))
    w = w / np.maximum(per_class[y], 1e-9) * len(y) / len(classes)  # each class the same total weight
    mean, std = x.mean(0), x.std(0) + 1e-3
    xt = torch.from_numpy((x - mean) / std).float()
    yt, wt = torch.from_numpy(y), torch.from_numpy(w).float()
    sizes = (x.shape[1], *HIDDEN, len(classes))
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [torch.nn.ReLU(), torch.nn.Dropout(0.1)]
    net = torch.nn.Sequential(*layers)
    batch = 512
    steps = max(epochs * max(1, len(y) // batch), MIN_STEPS)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none", label_smoothing=0.05)
    bar = tqdm(total=steps, desc="gesture fit", unit="step", disable=not progress, file=sys.stderr)
    net.train()
    step = 0
    while step < steps:
        for idx in torch.randperm(len(y)).split(batch):
            if step == steps or len(idx) < 2:
                break
            loss = (loss_fn(net(xt[idx]), yt[idx]) * wt[idx]).sum() / wt[idx].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    return GestureClassifier(classes, [m.weight.detach().numpy() for m in linear],
                             [m.bias.detach().numpy() for m in linear], mean, std, info)
