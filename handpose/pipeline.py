"""The one place that wires the stages of the top-down pipeline, for photos and (through tracking.py) video:

    detect (or, without detector weights, find with the pose model) -> a square crop per box -> pose for all
    hands in one batch -> keypoints mapped back -> left or right (side/: the palm-side classifier and the
    keypoints; without its weights, the pose model's optional head) -> gesture (gesture/: from the keypoints)

The detector is anything callable as ``detector(image_rgb) -> [objects with .box (x, y, w, h, image pixels:
a tight keypoint box, as the pose model's training boxes) and .score]``, sorted by score, NMS done:
``handpose.detect.HandDetector`` or a stand-in (tests inject one). Until detector weights exist the pipeline
falls back to the pose model as its own finder (find_hand.py: one hand per pass; for more hands the hands
already found are masked out and the finder runs again) and says so once.

A detection whose box overlaps an accepted hand by more than ``duplicate_iou`` (IoU) is the same hand, not a
new one; so is a hand whose estimated keypoint box overlaps an accepted one that much (two crops that settled
on the same hand). The pose model's presence score still decides whether a detected hand is reported.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from typing import Protocol, Sequence

import numpy as np

from .defaults import PHOTO
from .data.transforms import upright_roi
from .errors import HandposeError
from .gesture import GestureClassifier, load_gestures
from .pose.find_hand import FinderSettings, find_hands
from .pose.inference import Hand, PoseEstimator, to_rgb
from .side import SideClassifier, load_side_classifier


class DetectionLike(Protocol):
    box: np.ndarray  # (4,) x, y, w, h in image pixels
    score: float


class Detector(Protocol):
    def __call__(self, image_rgb: np.ndarray) -> Sequence[DetectionLike]: ...


_said: set[str] = set()


def say_once(message: str) -> None:
    """A note on stderr, once per process (a live run or a server would repeat it on every frame)."""
    if message not in _said:
        _said.add(message)
        print(f"handpose: {message}", file=sys.stderr)


def load_detector(weights=None, threads: int | None = None, backend: str = "torch") -> Detector | None:
    """The hand detector, or None (after a note) when it is not available: no ``handpose.detect`` package
    yet, or no default detector weights. Detector weights named explicitly must exist (HandposeError).
    ``backend``: the pose model's ("torch", "onnx", "onnx-int8"). The detector runs on the same engine, except
    that an int8 pose model gets the fp32 ONNX detector: on hgc_dev's photos, with the int8 pose model, the int8
    detector's boxes gave the predict path EPE 9.21 px against 8.78 with the fp32 detector's (int8 found 96.9 %
    of the photos' hands, fp32 99.0 %)."""
    backend = "onnx" if backend == "onnx-int8" else backend
    try:
        from .detect import HandDetector
    except ModuleNotFoundError as e:
        if e.name != f"{__package__}.detect":  # a missing dependency inside the detector: not ours to hide
            raise
        if weights is not None:
            raise HandposeError(f"--detector {weights}: this installation has no hand detector (handpose.detect)") from None
        reason = "this installation has no handpose.detect"
    else:
        try:
            return HandDetector(weights=weights, backend=backend, threads=threads)
        except HandposeError as e:
            if weights is not None:
                raise
            reason = str(e)
    say_once(f"no hand detector ({reason}); finding hands with the pose model itself (slower, one hand per pass)")
    return None


def box_iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9))


def grow(box, scale: float) -> np.ndarray:
    """``box`` (x, y, w, h) scaled about its centre."""
    x, y, w, h = (float(v) for v in box)
    return np.array([x + w / 2 - w * scale / 2, y + h / 2 - h * scale / 2, w * scale, h * scale], np.float32)


def mask_boxes(image_rgb: np.ndarray, boxes, scale: float = 1.1) -> np.ndarray:
    """A copy with each box (grown by ``scale``) filled with the image's median colour: the finder then
    looks elsewhere."""
    out = image_rgb.copy()
    fill = np.median(image_rgb.reshape(-1, 3), axis=0).astype(np.uint8)
    for b in boxes:
        x, y, w, h = (int(round(v)) for v in grow(b, scale))
        out[max(0, y):max(0, y + h), max(0, x):max(0, x + w)] = fill
    return out


class HandPipeline:
    """Hands of photos (``__call__``, ``predict_many``) and new hands for a tracker (``find_new``).

    ``detector``: a Detector, None (the pose model finds the hands), or "auto" (``handpose.detect`` with its
    default weights when present, otherwise None, with a note). ``max_hands``: the most hands per image.
    ``further_gate``: without a detector, see ``_find``. ``side``: the palm-side classifier that says left or
    right (a SideClassifier, None: the pose model's own head if it has one, or "auto": the default weights
    when present). ``gestures``: what each hand shows (a GestureClassifier, None: no gestures, or "auto": the
    bundled canned gestures when present)."""

    def __init__(self, estimator: PoseEstimator, detector: Detector | None | str = "auto", max_hands: int = 2,
                 duplicate_iou: float = 0.4, mask_scale: float = 1.1, further_gate: float = 0.5, recrops: int = 2,
                 detection_scale: float = 1.6, side: SideClassifier | None | str = "auto",
                 gestures: GestureClassifier | None | str = "auto", upright: bool = False):
        if max_hands < 1:
            raise HandposeError(f"max_hands must be at least 1, got {max_hands}")
        self.estimator = estimator
        if isinstance(detector, str) and detector == "auto":  # for the pose model's engine, as create() does
            detector = load_detector(backend=getattr(estimator, "backend_name", "torch"))
        self.detector = detector
        if isinstance(side, str) and side == "auto":
            side = load_side_classifier(backend=getattr(estimator, "backend_name", "torch"))
        self.side = side
        self.gestures = load_gestures() if isinstance(gestures, str) and gestures == "auto" else gestures
        self.max_hands = max_hands
        self.duplicate_iou = duplicate_iou
        self.mask_scale = mask_scale
        self.further_gate = further_gate
        self.recrops = recrops  # re-crops from the estimated keypoints after a detection (MediaPipe's second ROI)
        # The first pose crop is the detection grown by this: the detector's box often misses outstretched
        # fingers, and a crop that cuts them off cannot find them again. On hgc_dev (detections of the torch
        # detector, two re-crops): 1.0 -> EPE median 8.5 px, 41 of 289 hands off by > 20 px; 1.6 -> 7.6 px, 14.
        self.detection_scale = detection_scale
        self.upright = upright  # re-crops turned so the hand points up (transforms.upright_roi)
        # The estimator's flip test on the pass from the detection too. Off: only the re-crops, whose keypoints
        # are the answer, pay for it; the first pass only places them (chosen on hgc_dev's first half: the same
        # accuracy for less time, docs/predict.md).
        self.flip_first = False
        self.photo_fallback = True  # photos the detector finds nothing (good) in: try the pose-model finder
        self.fallback_score = 0.3

    @classmethod
    def create(cls, weights=None, backend: str = PHOTO.backend, detector_weights=None, use_detector: bool = True,
               max_hands: int = PHOTO.max_hands, flip_test: bool = PHOTO.flip_test, threads: int | None = None,
               presence_threshold: float = 0.2, side_weights=None, gestures=None,
               recrops: int = PHOTO.recrops, upright: bool = PHOTO.upright) -> HandPipeline:
        """The front door with ``predict``'s defaults (defaults.PHOTO): the same photo gives the same hands here
        as through ``handpose predict`` and ``serve``. The pose model (see PoseEstimator), the detector (``detector_weights``; None: its default weights
        if present, else the pose-model finder; ``use_detector=False``: always the finder), the palm-side
        classifier (``side_weights``; None: its default weights if present; "none": the pose model's own head)
        and the gesture classifier (``gestures``: a file; None: the bundled canned gestures; "none": off);
        ``recrops``: pose passes re-cropped from a detected hand's own keypoints; ``upright``: those crops (and
        a tracker's) turned so the hand points up."""
        estimator = PoseEstimator(weights, backend=backend, flip_test=flip_test, threads=threads,
                                  presence_threshold=presence_threshold)
        detector = load_detector(detector_weights, threads, backend=estimator.backend_name) if use_detector else None
        side = None if side_weights == "none" else load_side_classifier(
            side_weights, backend=estimator.backend_name, threads=threads)
        return cls(estimator, detector, max_hands, side=side, gestures=load_gestures(gestures), recrops=recrops,
                   upright=upright)

    @property
    def finder_name(self) -> str:
        return "detector" if self.detector is not None else "pose-model finder"

    # -- photos ------------------------------------------------------------------------------------------
    def __call__(self, image, box=None, channels: str = "rgb", max_hands: int | None = None) -> list[Hand]:
        rgb = to_rgb(image, channels)
        return self.predict_many([rgb], None if box is None else [box], max_hands)[0]

    def predict_many(self, images_rgb: list[np.ndarray], boxes: list | None = None,
                     max_hands: int | None = None) -> list[list[Hand]]:
        """Hands of several RGB images, every pose pass batched across them. ``boxes``: one box (x, y, w, h)
        or None per image; a given box is one hand, the other images go through detection."""
        n = self.max_hands if max_hands is None else max_hands
        out: list[list[Hand] | None] = [None] * len(images_rgb)
        given = [(i, np.asarray(b, np.float32)) for i, b in enumerate(boxes or []) if b is not None]
        for (i, _), hand in zip(given, self.estimator.estimate_many([(images_rgb[i], b) for i, b in given])):
            out[i] = [hand]
        free = [i for i, o in enumerate(out) if o is None]
        if free:
            found = self.find_new([images_rgb[i] for i in free], [[] for _ in free], n)
            for i, hands in zip(free, found):
                out[i] = hands
        # A photo the detector found nothing in goes to the pose-model finder: a hand that fills the photo is
        # unlike the detector's training frames (on hgc_dev's 256 px photos the detector found 89.7 %, the
        # finder 100 %). Photos only: in video the tracker re-detects next frame instead.
        # So does one whose best hand scores under ``fallback_score``: on hgc_dev the two such photos were a
        # false detection in a corner (the hand missed) and a hand cut off, 148 and 40 px off.
        missed = [i for i in free if not out[i] or max(h.score for h in out[i]) < self.fallback_score] \
            if self.detector is not None and self.photo_fallback else []
        if missed:
            for i, hands in zip(missed, self._find([images_rgb[i] for i in missed], [[] for _ in missed], n)):
                out[i] = self._merge(out[i], hands, n)
        self.label_sides([(images_rgb[i], h) for i, hands in enumerate(out) for h in hands])
        self.label_gestures([h for hands in out for h in hands])
        return out

    def label_gestures(self, hands: list[Hand]) -> None:
        """Each hand's gesture and its probability, in place, when there is a gesture classifier."""
        if self.gestures is None or not hands:
            return
        for hand, (name, p) in zip(hands, self.gestures.classify(np.stack([h.keypoints for h in hands]))):
            hand.gesture, hand.gesture_score = name, p

    def label_sides(self, jobs: list[tuple[np.ndarray, Hand]]) -> None:
        """Left or right for each (image_rgb, Hand), in place, from the palm-side classifier when there is one
        (on uci_hand's hands the pose model's head is right for 89.5 %: it calls almost every hand seen from
        its back the wrong side)."""
        if self.side is not None and jobs:
            self.side.label_many(jobs)

    def _merge(self, first: list[Hand], second: list[Hand], n: int) -> list[Hand]:
        """The best-scoring ``n`` of two sets of hands of one image, a hand overlapping a better one dropped."""
        kept: list[Hand] = []
        for hand in sorted(first + second, key=lambda h: -h.score):
            if len(kept) < n and self._is_new(hand.box, [k.box for k in kept]):
                kept.append(hand)
        return kept

    # -- new hands (photos, and tracking when hands are missing) ------------------------------------------
    def find_new(self, images_rgb: list[np.ndarray], known: list[list[np.ndarray]], want: int,
                 spare: int = 0, recrop_gate: float = 0.0) -> list[list[Hand]]:
        """Up to ``want`` hands per image that are not one of its ``known`` boxes (hands already tracked).
        ``spare``: with a detector, that many more of its boxes are tried, and the pose model's presence score
        keeps the best ``want``: a false box (a logo, a face) that outscores a hand then no longer hides it.
        ``recrop_gate``: only boxes whose first pass scores at least this x the presence threshold are re-cropped
        (0: all)."""
        if want < 1 or not images_rgb:
            return [[] for _ in images_rgb]
        if self.detector is not None:
            return self._detect(images_rgb, known, want, spare, recrop_gate)
        return self._find(images_rgb, known, want)

    def recrop_roi(self, hand: Hand, scale: float = 1.0):
        """Where a hand is cropped again from its own keypoints (a re-crop here, the next frame's crop in
        tracking): their box grown by ``scale``, or the turned region that sets the hand upright."""
        return upright_roi(hand.keypoints, scale) if self.upright else grow(hand.box, scale)

    def _is_new(self, box, accepted) -> bool:
        return all(box_iou(box, b) <= self.duplicate_iou for b in accepted)

    def _detect(self, images, known, want, spare: int = 0, recrop_gate: float = 0.0) -> list[list[Hand]]:
        jobs: list[tuple[int, np.ndarray]] = []
        for i, image in enumerate(images):
            taken = [np.asarray(b, np.float32) for b in known[i]]
            picked = 0
            for det in self.detector(image):  # sorted by score
                box = np.asarray(det.box, np.float32).reshape(4)
                if picked == want + spare:
                    break
                if box[2] > 0 and box[3] > 0 and self._is_new(box, taken):
                    jobs.append((i, box))
                    taken.append(box)
                    picked += 1
        # every hand in one batch
        hands = self.estimator.estimate_many([(images[i], grow(b, self.detection_scale)) for i, b in jobs],
                                             flip_test=None if self.flip_first or not self.recrops else False)
        gate = recrop_gate * self.estimator.presence_threshold
        for _ in range(self.recrops):
            # The detector's box frames the hand less exactly than the hand's own keypoints do (on hgc_dev the
            # crop from the detection alone gave AUC 0.516, the given keypoint box 0.676): crop again from them.
            due = [k for k, h in enumerate(hands) if not gate or h.score >= gate]
            again = self.estimator.estimate_many([(images[jobs[k][0]], self.recrop_roi(hands[k])) for k in due])
            for k, b in zip(due, again):
                hands[k] = b if b.score >= hands[k].score * 0.5 else hands[k]
        out: list[list[Hand]] = [[] for _ in images]
        accepted = [list(map(np.asarray, k)) for k in known]
        for (i, _), hand in sorted(zip(jobs, hands), key=lambda jh: -jh[1].score):
            if (len(out[i]) < want and hand.score >= self.estimator.presence_threshold
                    and self._is_new(hand.box, accepted[i])):
                out[i].append(hand)
                accepted[i].append(hand.box)
        return out

    def _find(self, images, known, want) -> list[list[Hand]]:
        """The pose model as finder: one hand per pass and image, the hands known or found so far masked out.
        A first hand is looked for as find_hand.py does (windows searched when the whole image shows
        nothing). A further hand (one is already known or found) is looked for cheaply: one whole-image pass,
        refined only where it already scores at least ``further_gate`` x the presence threshold; on the
        mini-example a masked photo without a second hand scored at most 0.15 there, and this gate cuts the
        crops per one-hand photo of max_hands=2 from 4.25 to 3.06 (1.88 with max_hands=1)."""
        est = self.estimator
        settings = est.finder or FinderSettings()
        cheap = replace(settings, search=False)
        out: list[list[Hand]] = [[] for _ in images]
        accepted = [list(map(np.asarray, k)) for k in known]
        todo = list(range(len(images)))
        for _ in range(want):
            views = {i: mask_boxes(images[i], accepted[i], self.mask_scale) if accepted[i] else images[i] for i in todo}
            first = [i for i in todo if not accepted[i]]
            further = [i for i in todo if accepted[i]]
            if further:
                whole = est.estimate_many([(views[i], np.array([0, 0, views[i].shape[1], views[i].shape[0]], np.float32))
                                           for i in further], padding=settings.whole_padding, size=settings.size)
                further = [i for i, h in zip(further, whole) if h.score >= self.further_gate * est.presence_threshold]
            found: list[tuple[int, list[Hand]]] = []
            for group, how in ((first, settings), (further, cheap)):
                if group:
                    found += zip(group, find_hands(est, [views[i] for i in group], 1, how))
            todo = []
            for i, hands in found:
                h, w = images[i].shape[:2]
                for hand in hands:
                    cx, cy = hand.box[0] + hand.box[2] / 2, hand.box[1] + hand.box[3] / 2
                    if 0 <= cx < w and 0 <= cy < h and self._is_new(hand.box, accepted[i]):
                        out[i].append(hand)
                        accepted[i].append(hand.box)
                        todo.append(i)  # an image where a pass found nothing new has no more hands to give
            if not todo:
                break
        return out
