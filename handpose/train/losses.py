"""The pose trainer's losses: weighted MSE on the heatmaps (the article's) and the left/right head's."""
from __future__ import annotations

import torch


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """MSE between heatmaps, each joint weighted (0 for joints outside the crop), as Simple Baselines."""
    w = weights[:, :, None, None]
    return 0.5 * ((pred - target) ** 2 * w).mean()


def handedness_loss(logits: torch.Tensor, right: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the right-hand logit over the crops with a label (0 if none has one)."""
    if not bool(known.any()):
        return logits.sum() * 0.0  # keeps the graph whole (DDP expects every parameter to get a gradient)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits[known], right[known])
