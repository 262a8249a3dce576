"""Hand tracking as MediaPipe Hands does it: the crop for the next frame comes from this frame's keypoints,
and the (slow) search for new hands (the pipeline's detector, or the pose model as finder without one) runs
only when fewer hands than wanted are tracked: at once when no hand is tracked or a track was just lost (its
presence score fell below the threshold, or it left the frame), otherwise at most every ``redetect_every``
frames while below ``max_hands``. A frame without a hand shows none. A search tries ``spare`` more of the
detector's boxes than hands are missing and keeps those the pose model's presence score likes best, so a
false box that outscores a hand (a logo, a face) does not hide it for good; only the boxes whose first pose pass
already scores ``recrop_gate`` x the presence threshold are cropped again from their keypoints.

A new hand that overlaps a tracked one (IoU over the pipeline's ``duplicate_iou``) is that hand, not a new
one; two tracks that settle on the same hand are merged (the older one stays). Handedness is averaged over a
track's frames (an exponential mean of the right-hand probability), so the label does not flicker; with the
palm-side classifier (side/) it is asked on a track's first ``SIDE_WARMUP`` frames and then every
``SIDE_EVERY``-th, since a hand does not change sides and each ask costs a second network per hand. A track's
gesture is the best name of its gesture probabilities averaged the same way (``GESTURE_MEMORY``), so one
blurred frame does not rename the hand.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .gesture import NONE
from .pose.inference import Hand, PoseEstimator, side_of
from .pipeline import HandPipeline, box_iou
from .smoothing import OneEuroFilter, OneEuroParams

HANDEDNESS_MEMORY = 0.8  # weight of the past in a track's right-hand probability
SIDE_WARMUP, SIDE_EVERY = 3, 5  # frames of a track on which the palm-side classifier is asked
GESTURE_MEMORY = 0.6  # weight of the past in a track's gesture probabilities (a few frames' memory)
SPARE = 2  # detector boxes a search tries beyond the hands missing (chosen on training clips: docs/realdata.md)
# A search re-crops only the boxes whose first pass scores this share of the presence threshold: the others are
# mostly false boxes, and their re-crops were most of a search's cost (chosen on training clips: docs/realdata.md).
RECROP_GATE = 0.5


@dataclass
class Track:
    id: int
    hand: Hand  # this frame's raw estimate
    keypoints: np.ndarray  # (21, 2) what is shown: smoothed when smoothing is on
    filter: OneEuroFilter | None
    frames: int = 1  # frames tracked so far
    p_right: float | None = None  # the track's right-hand probability, averaged over its frames
    gesture_p: np.ndarray | None = None  # the track's gesture probabilities, averaged over its frames
    gesture_names: list[str] | None = None
    gesture_min_score: float = 0.0  # the classifier's: a likeliest name under it is shown as None

    def observe_handedness(self) -> None:
        p = self.hand.p_right
        if p is None:
            return
        self.p_right = p if self.p_right is None else HANDEDNESS_MEMORY * self.p_right + (1 - HANDEDNESS_MEMORY) * p

    def observe_gesture(self, p: np.ndarray, names: list[str], min_score: float = 0.0) -> None:
        self.gesture_p = p if self.gesture_p is None else GESTURE_MEMORY * self.gesture_p + (1 - GESTURE_MEMORY) * p
        self.gesture_names, self.gesture_min_score = names, min_score

    @property
    def gesture(self) -> tuple[str | None, float | None]:
        if self.gesture_p is None or self.gesture_names is None:
            return None, None
        best = int(np.argmax(self.gesture_p))
        p = float(self.gesture_p[best])
        return (self.gesture_names[best], p) if p >= self.gesture_min_score else (NONE, 1.0 - p)

    @property
    def handedness(self) -> tuple[str | None, float | None]:
        return side_of(self.p_right) if self.p_right is not None else (None, None)

    @property
    def shown(self) -> Hand:
        """The hand as shown: smoothed keypoints, the track's handedness and gesture."""
        side, p = self.handedness
        return Hand(self.keypoints, self.hand.scores, self.hand.score, self.hand.box, side, p, *self.gesture)

    def to_json(self) -> dict:
        return {"id": self.id, **self.shown.to_json()}


@dataclass
class StepInfo:
    """What the last ``update`` did, for the overlay and the summary."""

    found: bool = False  # the search for new hands (detector or finder) ran
    lost: int = 0  # tracks dropped this frame
    ms: dict = field(default_factory=lambda: {"find": 0.0, "track": 0.0, "side": 0.0, "smooth": 0.0,
                                              "gesture": 0.0})


class HandTracker:
    """``update(frame_rgb, t)`` -> the hands in this frame. ``pipeline``: a HandPipeline (its detector finds
    new hands) or a PoseEstimator (the pose model finds them, as before the detector). ``smoothing`` None
    turns the One Euro filter off. ``roi_scale`` grows the keypoints' box before it becomes the next crop,
    so a hand that moves between frames stays inside it. ``redetect_every`` (K): while some but fewer than
    ``max_hands`` hands are tracked, look for the missing ones at most every K frames. ``spare``: detections
    tried beyond the hands missing (see the module's note). ``keep_threshold``: a tracked hand's presence score
    under which its track is lost (None: the estimator's presence threshold, which a new hand must pass), as
    MediaPipe keeps a tracking confidence apart from its detection confidence: a hand blurred for a frame or two
    scores lower than a hand that is found."""

    def __init__(self, pipeline: HandPipeline | PoseEstimator, max_hands: int = 1,
                 smoothing: OneEuroParams | None = OneEuroParams(), roi_scale: float = 1.1, redetect_every: int = 5,
                 spare: int = SPARE, keep_threshold: float | None = None, recrop_gate: float = RECROP_GATE):
        if not isinstance(pipeline, HandPipeline):
            pipeline = HandPipeline(pipeline, detector=None, max_hands=max_hands, mask_scale=roi_scale)
        self.pipeline = pipeline
        self.estimator = pipeline.estimator
        self.max_hands = max_hands
        self.smoothing = smoothing
        self.roi_scale = roi_scale
        self.redetect_every = max(1, redetect_every)
        self.spare = spare  # detections tried beyond the hands missing (HandPipeline.find_new)
        self.keep_threshold = keep_threshold
        self.recrop_gate = recrop_gate  # a search re-crops only boxes scoring this x the presence threshold
        self.tracks: list[Track] = []
        self.info = StepInfo()
        self._next_id = 0
        self._since_search = 0  # frames since the last search for new hands

    def reset(self) -> None:
        self.tracks = []

    def roi(self, hand: Hand):
        return self.pipeline.recrop_roi(hand, self.roi_scale)

    def _valid(self, hand: Hand, shape: tuple[int, ...], tracked: bool = False) -> bool:
        """Present, and plausibly placed: a track whose centre left the frame or collapsed is lost. A hand
        already tracked needs ``keep_threshold``, a new one the estimator's presence threshold."""
        x, y, w, h = hand.box
        cx, cy = x + w / 2, y + h / 2
        threshold = self.estimator.presence_threshold
        if tracked and self.keep_threshold is not None:
            threshold = self.keep_threshold
        return hand.score >= threshold and 0 <= cx < shape[1] and 0 <= cy < shape[0] and max(w, h) >= 8

    def _search_due(self, lost: int) -> bool:
        if len(self.tracks) >= self.max_hands:
            return False
        return not self.tracks or lost > 0 or self._since_search >= self.redetect_every

    def _label_sides(self, frame_rgb: np.ndarray) -> None:
        """Ask the palm-side classifier for the tracks due (see the module's note); the others' hands carry no
        side this frame, so only the classifier's answers enter the track's mean."""
        if self.pipeline.side is None:
            return
        due = [tr for tr in self.tracks if tr.frames <= SIDE_WARMUP or tr.frames % SIDE_EVERY == 0]
        for tr in self.tracks:
            if tr not in due:  # the due keep the pose head's answer: the classifier uses it (side.right_logit)
                tr.hand.handedness = tr.hand.handedness_score = None
        self.pipeline.label_sides([(frame_rgb, tr.hand) for tr in due])

    def update(self, frame_rgb: np.ndarray, t: float) -> list[Track]:
        info = StepInfo()
        # Track: one crop per tracked hand, from last frame's keypoints, all in one batch.
        t0 = time.perf_counter()
        if self.tracks:
            hands = self.estimator.estimate(frame_rgb, [self.roi(tr.hand) for tr in self.tracks])
            kept: list[Track] = []
            for tr, hand in zip(self.tracks, hands):  # oldest first: a duplicate of an older track goes
                if self._valid(hand, frame_rgb.shape, tracked=True) and all(
                        box_iou(hand.box, k.hand.box) <= self.pipeline.duplicate_iou for k in kept):
                    tr.hand, tr.frames = hand, tr.frames + 1
                    kept.append(tr)
            info.lost = len(self.tracks) - len(kept)
            self.tracks = kept  # a lost track takes its filter with it: a re-found hand starts afresh
        t1 = time.perf_counter()
        # Find: only while fewer hands are tracked than wanted, and not on every frame.
        self._since_search += 1
        if self._search_due(info.lost):
            info.found = True
            self._since_search = 0
            known = [tr.hand.box for tr in self.tracks]
            for hand in self.pipeline.find_new([frame_rgb], [known], self.max_hands - len(self.tracks), self.spare,
                                               self.recrop_gate)[0]:
                if not self._valid(hand, frame_rgb.shape):
                    continue
                flt = OneEuroFilter(self.smoothing) if self.smoothing is not None else None
                self.tracks.append(Track(self._next_id, hand, hand.keypoints, flt))
                self._next_id += 1
        t2 = time.perf_counter()
        # Side: left or right for the tracks due (its own stage, so live's timings show what it costs).
        self._label_sides(frame_rgb)
        t_side = time.perf_counter()
        # Smooth: per joint coordinate, speed measured in hand sizes; handedness averaged over the track.
        for tr in self.tracks:
            if tr.filter is not None:
                tr.keypoints = tr.filter(tr.hand.keypoints, t, float(max(tr.hand.box[2:])))
            else:
                tr.keypoints = tr.hand.keypoints
            tr.observe_handedness()
        t3 = time.perf_counter()
        gestures = getattr(self.pipeline, "gestures", None)  # a bare PoseEstimator has none
        if gestures is not None and self.tracks:
            probabilities = gestures.probabilities(np.stack([tr.keypoints for tr in self.tracks]))
            for tr, p in zip(self.tracks, probabilities):
                tr.observe_gesture(p, gestures.classes, getattr(gestures, "min_score", 0.0))
        t4 = time.perf_counter()
        info.ms = {"find": (t2 - t1) * 1e3, "track": (t1 - t0) * 1e3, "side": (t_side - t2) * 1e3,
                   "smooth": (t3 - t_side) * 1e3, "gesture": (t4 - t3) * 1e3}
        self.info = info
        return list(self.tracks)
