"""Teachers: models that find hands in a photo and give their 21 keypoints, for labelling.

The interface is small on purpose, so any model can be plugged in (``--teacher MODULE:CLASS``):

    class MyTeacher:
        name = "my-teacher-1"                        # stored in every annotation's `teacher` field
        def __init__(self, max_hands: int = 2): ...  # built with the keyword max_hands
        def detect(self, image_rgb) -> list[TeacherHand]: ...

``detect`` gets a uint8 RGB array (H, W, 3) and returns every hand it sees, keypoints in that image's
pixels (pixel centres are integers), ``hand`` the person's own hand as seen in *that* image (a teacher that
assumes a mirrored picture converts before answering) or None when it cannot tell.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ...defaults import PHOTO
from ...errors import HandposeError

MEDIAPIPE_VERSION = "0.10.14"
TEACHER_EXTRA_HINT = ("pip install 'handpose[teacher]' (or, lean: pip install --no-deps mediapipe==0.10.14 && "
                      "pip install absl-py attrs flatbuffers 'protobuf>=4.25.3,<5' sounddevice, as `make bench-deps` does)")


@dataclass
class TeacherHand:
    keypoints: np.ndarray  # (21, 2) image pixels
    score: float  # the teacher's confidence in this hand
    hand: str | None = None  # "left" / "right": the person's own hand in the image as given, None if unknown
    handedness_score: float = 0.0


class Teacher(Protocol):
    name: str

    def detect(self, image_rgb: np.ndarray) -> list[TeacherHand]: ...


class MediaPipeTeacher:
    """MediaPipe Hands (legacy ``solutions`` API, bundled models, offline) in photo mode, full landmark model.

    MediaPipe assumes a mirrored (selfie) picture: in an un-mirrored photo its "Left" is the person's right
    hand. ``detect`` gets un-mirrored images, so it swaps the label: ``hand`` is the person's own hand."""

    def __init__(self, max_hands: int = 2, min_detection_confidence: float = 0.5):
        try:
            os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
            import mediapipe as mp
        except ImportError:
            raise HandposeError(f"the MediaPipe teacher needs the 'teacher' extra, which is not installed: "
                                f"{TEACHER_EXTRA_HINT}") from None
        version = getattr(mp, "__version__", "?")
        self.name = f"mediapipe-{version}-full"
        self._hands = mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=max_hands, model_complexity=1,
                                               min_detection_confidence=min_detection_confidence)

    def detect(self, image_rgb: np.ndarray) -> list[TeacherHand]:
        h, w = image_rgb.shape[:2]
        result = self._hands.process(np.ascontiguousarray(image_rgb))
        hands = []
        for landmarks, handedness in zip(result.multi_hand_landmarks or [], result.multi_handedness or []):
            # Normalised landmarks: x * width is in pixel-edge units; pixel centres sit half a pixel in.
            kps = np.array([[p.x * w - 0.5, p.y * h - 0.5] for p in landmarks.landmark], np.float32)
            best = handedness.classification[0]
            person = "right" if best.label == "Left" else "left"
            # The legacy API exposes no hand-presence score in photo mode: its handedness score is the
            # only confidence it gives.
            hands.append(TeacherHand(kps, float(best.score), person, float(best.score)))
        return hands

    def close(self) -> None:
        self._hands.close()


class ModelTeacher:
    """The project's own models through ``HandPipeline.create`` with predict's defaults (defaults.PHOTO): the
    hands `handpose predict` would give, then corrected. ``hand`` is the pipeline's left or right (same
    convention: the person's own hand in the un-mirrored photo), None where it has none."""

    def __init__(self, max_hands: int = PHOTO.max_hands, weights: str | None = None, backend: str = PHOTO.backend,
                 threads: int | None = None):
        from ...pipeline import HandPipeline

        self.max_hands = max_hands
        self.pipeline = HandPipeline.create(weights, backend=backend, max_hands=max_hands, threads=threads,
                                            gestures="none")
        self.name = f"handpose-{os.path.basename(str(weights)) if weights else 'default'}"

    def detect(self, image_rgb: np.ndarray) -> list[TeacherHand]:
        return [TeacherHand(np.asarray(h.keypoints, np.float32), float(h.score), h.handedness,
                            float(h.handedness_score or 0.0)) for h in self.pipeline(image_rgb)]


def load_teacher(spec: str, max_hands: int = 2, **model_options) -> Teacher:
    """``mediapipe``, ``model`` (options: weights, backend, threads) or ``MODULE:CLASS`` (built with max_hands)."""
    if spec == "mediapipe":
        return MediaPipeTeacher(max_hands)
    if spec == "model":
        return ModelTeacher(max_hands, **model_options)
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise HandposeError(f"--teacher must be 'mediapipe', 'model' or MODULE:CLASS, got {spec!r}")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise HandposeError(f"--teacher {spec}: cannot be imported ({e})") from None
    teacher = cls(max_hands=max_hands)
    if not callable(getattr(teacher, "detect", None)) or not isinstance(getattr(teacher, "name", None), str):
        raise HandposeError(f"--teacher {spec}: a teacher needs a `name` string and a `detect(image_rgb)` method")
    return teacher
