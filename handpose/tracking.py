"""Hand tracking as MediaPipe Hands does it: the crop for the next frame comes from this frame's keypoints,
and the (slow) hand finder runs only when fewer hands than wanted are tracked, i.e. at the start and after
a track is lost (its presence score fell below the threshold). A frame without a hand shows none.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .inference import Hand, PoseEstimator
from .smoothing import OneEuroFilter, OneEuroParams


@dataclass
class Track:
    id: int
    hand: Hand  # this frame's raw estimate
    keypoints: np.ndarray  # (21, 2) what is shown: smoothed when smoothing is on
    filter: OneEuroFilter | None
    frames: int = 1  # frames tracked so far

    def to_json(self) -> dict:
        d = Hand(self.keypoints, self.hand.scores, self.hand.score, self.hand.box).to_json()
        return {"id": self.id, **d}


@dataclass
class StepInfo:
    """What the last ``update`` did, for the overlay and the summary."""

    found: bool = False  # the hand finder ran
    lost: int = 0  # tracks dropped this frame
    ms: dict = field(default_factory=lambda: {"find": 0.0, "track": 0.0, "smooth": 0.0})


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """Boxes (x, y, w, h) that mostly cover each other (the same hand found twice)."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    smaller = max(1e-6, min(a[2] * a[3], b[2] * b[3]))
    return inter / smaller > 0.5


class HandTracker:
    """``update(frame_rgb, t)`` -> the hands in this frame. ``smoothing`` None turns the One Euro filter off.
    ``roi_scale`` grows the keypoints' box before it becomes the next crop, so a hand that moves between
    frames stays inside it."""

    def __init__(self, estimator: PoseEstimator, max_hands: int = 1, smoothing: OneEuroParams | None = OneEuroParams(),
                 roi_scale: float = 1.1):
        self.estimator = estimator
        self.max_hands = max_hands
        self.smoothing = smoothing
        self.roi_scale = roi_scale
        self.tracks: list[Track] = []
        self.info = StepInfo()
        self._next_id = 0

    def reset(self) -> None:
        self.tracks = []

    def roi(self, hand: Hand) -> np.ndarray:
        x, y, w, h = hand.box
        cx, cy = x + w / 2, y + h / 2
        w, h = w * self.roi_scale, h * self.roi_scale
        return np.array([cx - w / 2, cy - h / 2, w, h], np.float32)

    def _valid(self, hand: Hand, shape: tuple[int, ...]) -> bool:
        """Present, and plausibly placed: a track whose centre left the frame or collapsed is lost."""
        x, y, w, h = hand.box
        cx, cy = x + w / 2, y + h / 2
        return (hand.score >= self.estimator.presence_threshold and 0 <= cx < shape[1] and 0 <= cy < shape[0]
                and max(w, h) >= 8)

    def update(self, frame_rgb: np.ndarray, t: float) -> list[Track]:
        info = StepInfo()
        # Track: one crop per tracked hand, from last frame's keypoints.
        t0 = time.perf_counter()
        if self.tracks:
            hands = self.estimator.estimate(frame_rgb, [self.roi(tr.hand) for tr in self.tracks])
            kept = []
            for tr, hand in zip(self.tracks, hands):
                if self._valid(hand, frame_rgb.shape):
                    tr.hand, tr.frames = hand, tr.frames + 1
                    kept.append(tr)
            info.lost = len(self.tracks) - len(kept)
            self.tracks = kept  # a lost track takes its filter with it: a re-found hand starts afresh
        t1 = time.perf_counter()
        # Find: only while fewer hands are tracked than wanted.
        if len(self.tracks) < self.max_hands:
            info.found = True
            image = frame_rgb
            if self.tracks:  # hide the hands already tracked so the finder looks elsewhere
                image = frame_rgb.copy()
                fill = np.median(frame_rgb.reshape(-1, 3), axis=0).astype(np.uint8)
                for tr in self.tracks:
                    x, y, w, h = (int(round(v)) for v in self.roi(tr.hand))
                    image[max(0, y):max(0, y + h), max(0, x):max(0, x + w)] = fill
            for hand in self.estimator.find_hands(image, self.max_hands - len(self.tracks)):
                if not self._valid(hand, frame_rgb.shape) or any(_overlaps(hand.box, tr.hand.box) for tr in self.tracks):
                    continue
                flt = OneEuroFilter(self.smoothing) if self.smoothing is not None else None
                self.tracks.append(Track(self._next_id, hand, hand.keypoints, flt))
                self._next_id += 1
        t2 = time.perf_counter()
        # Smooth: per joint coordinate, speed measured in hand sizes.
        for tr in self.tracks:
            if tr.filter is not None:
                tr.keypoints = tr.filter(tr.hand.keypoints, t, float(max(tr.hand.box[2:])))
            else:
                tr.keypoints = tr.hand.keypoints
        t3 = time.perf_counter()
        info.ms = {"find": (t2 - t1) * 1e3, "track": (t1 - t0) * 1e3, "smooth": (t3 - t2) * 1e3}
        self.info = info
        return list(self.tracks)
