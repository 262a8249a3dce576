"""What every dataset format becomes: a list of hand records, and one Dataset that crops and encodes them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..backgrounds import paste_on_background, random_background
from ...codec import HeatmapCodec
from ...errors import DatasetError
from ..transforms import (UPRIGHT_JOINTS, Augment, apply_affine, box_to_center_size, crop_affine, normalize, upright_roi,
                          warp)


@dataclass
class HandRecord:
    image: Path  # image file
    keypoints: np.ndarray  # (21, 2) float32, image pixels
    visibility: np.ndarray  # (21,) float32, 0 = not labelled
    box: np.ndarray  # (4,) x, y, w, h: the box the crop is built from and metrics are normalised by
    extra: dict = field(default_factory=dict)  # format-specific fields (subject, sequence, ...)


# The FreiHAND-layout sample set shipped with the repository (tests, demo, int8 calibration, test videos).
MINI_EXAMPLE = Path(__file__).resolve().parents[3] / "data" / "datasets" / "mini-example"


def read_rgb(path: Path | str) -> np.ndarray:
    """Read an image file as uint8 RGB, with an error naming the file if it cannot be read."""
    data = np.fromfile(str(path), np.uint8) if Path(path).is_file() else None
    if data is None:
        raise DatasetError(f"{path}: file not found")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None  # imdecode asserts on an empty file
    if img is None:
        raise DatasetError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_json(path: Path, what: str = "file"):
    """A JSON file's content, with errors that name the file: missing, or not valid JSON."""
    import json

    if not path.is_file():
        raise DatasetError(f"{path}: {what} not found")
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: malformed JSON ({e})") from None


def check_images_exist(records: list[HandRecord], source: str) -> None:
    """Fail before training starts, naming the first missing image and its entry."""
    for i, r in enumerate(records):
        if not r.image.is_file():
            raise DatasetError(f"{source}: entry {i}: image {r.image} not found")


class HandDataset(Dataset):
    """Records -> (normalised RGB crop (3, H, W), target heatmaps (K, h, w), target weights (K,), meta).

    ``meta`` holds the image->crop affine, the original keypoints, visibility and box, so evaluation can
    map predictions back to the original image.
    """

    def __init__(self, records: list[HandRecord], codec: HeatmapCodec, augment: Augment | None = None,
                 padding: float = 1.25, seed: int = 0, background: float = 0.0, negatives: float = 0.0,
                 hand_free=None, real_negatives: float = 0.8):
        self.records = records
        self.hand_free = hand_free  # HandFreeCrops: real rooms for negatives (else synthetic clutter only)
        self.real_negatives = real_negatives  # share of negatives cut from hand_free's photos
        self.background = background  # probability of pasting the hand on a synthetic scene
        self.num_negatives = int(round(negatives * len(records))) if augment is not None else 0
        self.codec = codec
        self.augment = augment
        self.padding = padding
        self.seed = seed
        self.epoch = 0  # set by the trainer so augmentation differs per epoch yet replays on resume

    def __len__(self) -> int:
        return len(self.records) + self.num_negatives

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def crop(self, index: int, rng: np.random.Generator | None = None):
        r = self.records[index]
        image = read_rgb(r.image)
        center, size = box_to_center_size(r.box, self.padding)
        rotation, flip, turn = 0.0, False, 0.0
        if self.augment is not None and rng is not None:
            # drawn only when asked for, so recipes without it replay their augmentation exactly
            if self.augment.upright > 0 and rng.random() < self.augment.upright and r.visibility[list(UPRIGHT_JOINTS)].all():
                roi = upright_roi(r.keypoints, visible=r.visibility > 0)
                center, size, turn = roi.center, roi.side * self.padding, roi.rotation
            center, size, rotation, flip = self.augment.geometry(rng, center, size)
        matrix = crop_affine(center, size, self.codec.input_size, rotation + turn, flip)
        crop = warp(image, matrix, self.codec.input_size)
        keypoints = apply_affine(r.keypoints, matrix)
        return crop, keypoints, matrix

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, index]) if self.augment is not None else None
        if index >= len(self.records):
            return self._negative(index, rng)
        r = self.records[index]
        crop, keypoints, matrix = self.crop(index, rng)
        if rng is not None:
            if rng.random() < self.background:
                crop = paste_on_background(rng, crop, keypoints, r.visibility)
            crop = self.augment.photometric(rng, crop)
        heatmaps, weights = self.codec.encode(keypoints, r.visibility)
        meta = {
            "index": index,
            "affine": matrix.astype(np.float32),
            "keypoints": r.keypoints.astype(np.float32),
            "visibility": r.visibility.astype(np.float32),
            "box": r.box.astype(np.float32),
            "right": np.float32(self.right_label(r, matrix)),
        }
        return torch.from_numpy(normalize(crop)), torch.from_numpy(heatmaps), torch.from_numpy(weights), meta

    @staticmethod
    def right_label(record: HandRecord, matrix: np.ndarray) -> float:
        """1 if the crop shows a right hand, 0 a left one, -1 unknown. ``extra["right"]`` (set by the trainer
        for sources whose handedness it trains on) is the photo's label; a mirroring crop (negative
        determinant) turns a right hand into a left one."""
        right = record.extra.get("right")
        if right is None:
            return -1.0
        mirrored = float(np.linalg.det(matrix[:, :2])) < 0
        return float(right) if not mirrored else 1.0 - float(right)

    def _negative(self, index: int, rng: np.random.Generator):
        """A crop with no hand: all-zero heatmaps with full weight, so the peak height learns presence."""
        crop = None
        if self.hand_free is not None and rng.random() < self.real_negatives:
            crop = hand_free_crop(self.hand_free, int(rng.integers(len(self.hand_free))), rng, self.codec.input_size)
        if crop is None:
            crop = random_background(rng, self.codec.input_size)
        crop = self.augment.photometric(rng, crop)
        w, h = self.codec.heatmap_size
        heatmaps = np.zeros((len(self.records[0].keypoints), h, w), np.float32)
        weights = np.ones(len(heatmaps), np.float32)
        meta = {
            "index": index,
            "affine": np.eye(2, 3, dtype=np.float32),
            "keypoints": np.full((len(heatmaps), 2), np.nan, np.float32),
            "visibility": np.zeros(len(heatmaps), np.float32),
            "box": np.zeros(4, np.float32),
            "right": np.float32(-1.0),
        }
        return torch.from_numpy(normalize(crop)), torch.from_numpy(heatmaps), torch.from_numpy(weights), meta


def hand_free_crop(hand_free, index: int, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray | None:
    """A hand-free square of photo ``index`` of ``hand_free`` warped to ``size`` (randomly mirrored and
    rotated a little), or None when the photo has no room clear of its hands."""
    found = hand_free.square(index, rng)
    if found is None:
        return None
    image, (x, y, side) = found
    matrix = crop_affine(np.array([x + side / 2, y + side / 2]), side, size, float(rng.uniform(-30, 30)),
                         bool(rng.random() < 0.5))
    return warp(image, matrix, size)
