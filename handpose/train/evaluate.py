"""A model's keypoints on a dataset, mapped back to the original images, and the metrics: what `handpose
evaluate` (apps/evaluate.py) and training's end-of-epoch checks both run."""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import metrics
from ..codec import HeatmapCodec
from ..pose.handedness import accuracy
from ..data.datasets import HandDataset
from ..errors import HandposeError
from ..data.transforms import apply_affine, invert_affine

GRID_CELL = 256  # pixels per grid tile


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, dataset: HandDataset, device: torch.device | str = "cpu",
                    batch_size: int = 32, flip_test: bool = False, workers: int = 0,
                    progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (N, K, 2) in original-image pixels and scores (N, K) for every record of ``dataset``."""
    codec: HeatmapCodec = dataset.codec
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    preds, scores = [], []
    for images, _, _, meta in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, leave=False):
        images = images.to(device)
        heatmaps = model(images).float().cpu().numpy()
        if flip_test:  # the mirrored crop's heatmaps, mirrored back (the codec owns the convention)
            mirrored = model(images.flip(-1)).float().cpu().numpy()
            heatmaps = 0.5 * (heatmaps + codec.flip_heatmaps(mirrored))
        kps, sc = codec.decode(heatmaps)
        for k, affine in zip(kps, meta["affine"].numpy()):
            preds.append(apply_affine(k, invert_affine(affine)))
        scores.append(sc)
    return np.stack(preds), np.concatenate(scores)


def predict_scales(model: torch.nn.Module, dataset: HandDataset, scales: list[float], **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints and scores averaged over crops ``scales`` x the dataset's crop side (test-time scale
    augmentation: each crop sees the hand at another size, and their errors partly cancel)."""
    runs = []
    for scale in scales:
        ds = copy.copy(dataset)
        ds.padding = dataset.padding * scale
        runs.append(predict_dataset(model, ds, **kwargs))
    return np.mean([r[0] for r in runs], 0), np.mean([r[1] for r in runs], 0)


@torch.no_grad()
def false_hand_rate(model: torch.nn.Module, hand_free, codec: HeatmapCodec, crops: int = 300,
                    threshold: float = 0.2, device: torch.device | str = "cpu", batch_size: int = 32) -> float:
    """Share of hand-free crops (the same ``crops`` squares of ``hand_free``'s photos every time) whose hand
    score, the mean of the 21 heatmap peaks as the estimator computes it, reaches ``threshold``."""
    from ..data.datasets.base import hand_free_crop
    from ..data.transforms import normalize

    model.eval()
    images = []
    for i in range(crops):
        crop = hand_free_crop(hand_free, i, np.random.default_rng([7919, i]), codec.input_size)
        if crop is not None:
            images.append(normalize(crop))
    if not images:
        raise HandposeError("hand-free validation: no photo had room clear of its hands")
    hits = 0
    for start in range(0, len(images), batch_size):
        heatmaps = model(torch.from_numpy(np.stack(images[start:start + batch_size])).to(device)).float().cpu().numpy()
        hits += int((codec.decode(heatmaps, refine="none")[1].mean(axis=1) >= threshold).sum())
    return hits / len(images)


def ground_truth(dataset: HandDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints (N, K, 2), mask (N, K) and boxes (N, 4) of the dataset's hand records."""
    recs = dataset.records
    return (np.stack([r.keypoints for r in recs]), np.stack([r.visibility for r in recs]) > 0,
            np.stack([r.box for r in recs]))


def evaluate_dataset(model, dataset: HandDataset, **kwargs) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Metrics (PCK@0.2, AUC, EPE, AUC_norm) of ``model`` on the hand records of ``dataset``."""
    pred, scores = predict_dataset(model, dataset, **kwargs)
    gt, mask, boxes = ground_truth(dataset)
    return metrics.summary(pred, gt, mask, boxes), pred, scores


@torch.no_grad()
def handedness_accuracy(model: torch.nn.Module, sets: list[HandDataset], device, batch_size: int) -> float:
    """Share of the checks' hands whose right-hand logit has the hand-made label's sign (crops as evaluation's)."""
    model.eval()
    logits, labels = [], []
    for ds in sets:
        for images, _, _, meta in DataLoader(ds, batch_size=batch_size, shuffle=False):
            logits.append(model.forward_all(images.to(device))[1].float().cpu().numpy())
            labels.append(meta["right"].numpy())
    return accuracy(np.concatenate(logits), np.concatenate(labels)) if logits else 0.0
