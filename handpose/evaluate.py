"""`handpose evaluate`: a model's keypoints on a dataset, mapped back to the original images, and the metrics."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import metrics
from .codec import HeatmapCodec
from .datasets import HandDataset
from .transforms import apply_affine, invert_affine


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
        heatmaps = model(images).float()
        if flip_test:
            heatmaps = 0.5 * (heatmaps + codec.flip_heatmaps(model(images.flip(-1)).float()))
        kps, sc = codec.decode(heatmaps.cpu().numpy())
        for k, affine in zip(kps, meta["affine"].numpy()):
            preds.append(apply_affine(k, invert_affine(affine)))
        scores.append(sc)
    return np.stack(preds), np.concatenate(scores)


def evaluate_dataset(model, dataset: HandDataset, **kwargs) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Metrics (PCK@0.2, AUC, EPE, AUC_norm) of ``model`` on the hand records of ``dataset``."""
    pred, scores = predict_dataset(model, dataset, **kwargs)
    recs = dataset.records
    gt = np.stack([r.keypoints for r in recs])
    mask = np.stack([r.visibility for r in recs]) > 0
    boxes = np.stack([r.box for r in recs])
    return metrics.summary(pred, gt, mask, boxes), pred, scores
