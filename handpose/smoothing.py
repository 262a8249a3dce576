"""One Euro filter (Casiez, Roussel, Vogel, CHI 2012) on every keypoint coordinate.

A low-pass filter whose cut-off rises with speed: a still hand is smoothed hard (no jitter), a moving one
lightly (little lag). Speed is measured in hand sizes per second, so the same parameters suit a hand near
the camera and one far away.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    min_cutoff: float = 1.0  # Hz: the cut-off when still; lower = less jitter, more lag at slow speeds
    beta: float = 10.0  # how fast the cut-off rises with speed (per hand size per second)
    d_cutoff: float = 1.0  # Hz: cut-off of the speed estimate itself


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters arrays of a fixed shape, e.g. (21, 2) keypoints, one independent filter per element."""

    def __init__(self, params: OneEuroParams = OneEuroParams()):
        self.params = params
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next value passes through unchanged (used when a track is lost)."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filter ``x`` observed at time ``t`` (seconds); ``scale`` (pixels, e.g. the hand's size) makes the
        speed that drives the cut-off independent of how big the hand appears."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._t is None or t <= self._t:
            # First value, or a repeated/out-of-order timestamp: nothing to differentiate over.
            if self._x is None or self._x.shape != x.shape:
                self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return self._x.astype(np.float32)
        p = self.params
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(p.d_cutoff, dt) * (dx - self._dx)
        speed = np.abs(self._dx) / max(scale, 1e-6)
        a = _alpha(p.min_cutoff + p.beta * speed, dt)
        self._x = self._x + a * (x - self._x)
        self._t = t
        return self._x.astype(np.float32)


def jitter(sequence: list[np.ndarray]) -> float:
    """Mean frame-to-frame motion of the keypoints (pixels): on a still hand, all of it is noise."""
    steps = [np.linalg.norm(b - a, axis=-1).mean() for a, b in zip(sequence, sequence[1:])]
    return float(np.mean(steps)) if steps else float("nan")
