"""The learning-rate schedule every trainer uses: a linear warm-up, then a cosine to zero (or, for pose
training's ``schedule: step``, steps of ``gamma``)."""
from __future__ import annotations

import math


def warmup_cosine(done: float, warmup: float, total: float) -> float:
    """The learning-rate factor after ``done`` of ``total`` (steps or epochs, the same unit as ``warmup``)."""
    if done < warmup:
        return max(done / warmup, 1e-3)  # never 0: the first step still moves
    return 0.5 * (1 + math.cos(math.pi * min((done - warmup) / max(total - warmup, 1e-9), 1.0)))
