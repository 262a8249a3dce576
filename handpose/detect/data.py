"""Detector training samples: whole frames (zoomed, shifted, mirrored, re-lit), hands pasted at random scale
into hand-free parts of frames, into hand-free rooms and into synthetic clutter, and the fixed validation sets.

Every sample is drawn from ``numpy.random.default_rng([seed, epoch, index])``, so an epoch replays exactly
(a resumed run sees the very same images). Boxes are keypoint boxes in input pixels (see codec.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.backgrounds import hand_mask, random_background
from ..data.datasets import HandFreeCrops, load_records, read_rgb
from ..data.datasets.base import read_json
from ..errors import DatasetError
from ..data.transforms import normalize
from .codec import BoxCodec, letterbox, letterbox_matrix, map_boxes


@dataclass
class Frame:
    image: Path
    boxes: np.ndarray  # (N, 4) keypoint boxes, image pixels


@dataclass
class PasteHand:
    image: Path  # a crop around one hand
    keypoints: np.ndarray  # (21, 2) crop pixels
    visibility: np.ndarray  # (21,)


def load_frames(path: str | Path, sources: list[str] | None = None, exclude_sources: list[str] | None = None) -> list[Frame]:
    path = Path(path)
    data = read_json(path, "frames file")
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise DatasetError(f"{path}: not a frames file (needs a 'frames' list)")
    frames = []
    for i, f in enumerate(data["frames"]):
        if not isinstance(f, dict) or "file_name" not in f or "boxes" not in f:
            raise DatasetError(f"{path}: frames[{i}]: needs 'file_name' and 'boxes'")
        src = f.get("source")
        if (sources is not None and src not in sources) or (exclude_sources and src in exclude_sources):
            continue
        boxes = np.asarray(f["boxes"], np.float32).reshape(-1, 4)
        image = path.parent / f["file_name"]
        if not image.is_file():
            raise DatasetError(f"{path}: frames[{i}]: image {image} not found")
        frames.append(Frame(image, boxes))
    if not frames:
        raise DatasetError(f"{path}: no frames left after the source filter")
    return frames


def load_paste_hands(specs: list[dict]) -> list[PasteHand]:
    """Hand crops from data-set entries as the pose recipes write them ({format: coco|freihand, ...})."""
    hands = []
    for spec in specs:
        hands += [PasteHand(r.image, r.keypoints, r.visibility) for r in load_records(dict(spec))]
    return hands


def keypoint_box(keypoints: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    pts = keypoints[visibility > 0] if (visibility > 0).sum() >= 2 else keypoints
    lo, hi = pts.min(0), pts.max(0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], np.float32)


def overlaps_any(box: np.ndarray, boxes: list[np.ndarray], grow: float = 0.3) -> bool:
    """Whether ``box`` comes near any of ``boxes`` (each grown by ``grow`` of its side on every edge)."""
    for b in boxes:
        gx, gy = b[2] * grow + box[2] * grow, b[3] * grow + box[3] * grow
        if (box[0] < b[0] + b[2] + gx and b[0] < box[0] + box[2] + gx and
                box[1] < b[1] + b[3] + gy and b[1] < box[1] + box[3] + gy):
            return True
    return False


def paste_hand(canvas: np.ndarray, hand: PasteHand, side: float, centre: tuple[float, float], angle: float,
               mirror: bool, gain: float) -> np.ndarray:
    """Paste ``hand`` (soft skeleton mask, grown) so its keypoint box's longer side is ``side`` px, centred at
    ``centre``; returns that box after the paste (from the moved keypoints). ``canvas`` is changed in place."""
    crop = read_rgb(hand.image)
    kb = keypoint_box(hand.keypoints, hand.visibility)
    scale = side / max(kb[2], kb[3], 1.0)
    kc = kb[:2] + kb[2:] / 2
    flip = np.diag([-1.0 if mirror else 1.0, 1.0])
    rot = cv2.getRotationMatrix2D((0, 0), angle, scale)[:, :2] @ flip
    m = np.hstack([rot, (np.asarray(centre) - rot @ kc)[:, None]])
    mask = hand_mask(hand.keypoints, (crop.shape[1], crop.shape[0]), hand.visibility)
    # The skeleton mask hugs the bones; grow it so the paste keeps the hand's outline and a little skin.
    span = max(kb[2], kb[3])
    k = max(3, int(0.12 * span)) | 1
    mask = cv2.GaussianBlur(cv2.dilate(mask, np.ones((k, k), np.uint8)), (k, k), 0)
    h, w = canvas.shape[:2]
    warped = cv2.warpAffine(crop, m, (w, h), flags=cv2.INTER_LINEAR).astype(np.float32) * gain
    alpha = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    canvas[:] = np.clip(canvas * (1 - alpha) + warped * alpha, 0, 255).astype(np.uint8)
    kps = hand.keypoints @ m[:, :2].T + m[:, 2]
    return keypoint_box(kps, hand.visibility)


def clip_boxes(boxes: np.ndarray, size: int, keep_fraction: float = 0.5, min_side: float = 3.0) -> np.ndarray:
    """Boxes cut to the input; a box that loses over half its area (a hand mostly out of view) is dropped."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4)
    x0, y0 = np.clip(boxes[:, 0], -0.5, size - 0.5), np.clip(boxes[:, 1], -0.5, size - 0.5)
    x1 = np.clip(boxes[:, 0] + boxes[:, 2], -0.5, size - 0.5)
    y1 = np.clip(boxes[:, 1] + boxes[:, 3], -0.5, size - 0.5)
    out = np.stack([x0, y0, x1 - x0, y1 - y0], 1)
    area = boxes[:, 2] * boxes[:, 3]
    ok = (out[:, 2] * out[:, 3] >= keep_fraction * np.maximum(area, 1e-6)) & (out[:, 2:] >= min_side).all(1)
    return out[ok].astype(np.float32)


class Paster:
    """Pastes 1..n hands at log-uniform sizes into free places of a canvas, avoiding the boxes already there;
    with probability ``touching`` a hand is instead laid against one already there (a neighbour's size, its
    box meeting or overlapping the neighbour's by up to a third), as two hands of one person touch, so the
    detector learns to keep such pairs two hands, not one box over both."""

    def __init__(self, hands: list[PasteHand], side: tuple[float, float], rotation: float, touching: float = 0.0):
        self.hands, self.side, self.rotation, self.touching = hands, side, rotation, touching

    def __call__(self, rng: np.random.Generator, canvas: np.ndarray, boxes: list[np.ndarray], count: int) -> list[np.ndarray]:
        size = canvas.shape[0]
        for _ in range(count):
            # drawn only when asked for, so recipes without touching pairs replay their samples exactly
            placed = self.beside(rng, boxes) if self.touching and boxes and rng.random() < self.touching else None
            if placed is not None:
                side, c = placed
            else:
                side = math.exp(rng.uniform(math.log(self.side[0]), math.log(self.side[1])))
                for _try in range(10):
                    c = rng.uniform(0, size, 2)
                    probe = np.array([c[0] - side / 2, c[1] - side / 2, side, side], np.float32)
                    if not overlaps_any(probe, boxes):
                        break
                else:
                    continue
            hand = self.hands[int(rng.integers(len(self.hands)))]
            box = paste_hand(canvas, hand, side, (c[0], c[1]), rng.uniform(-self.rotation, self.rotation),
                             bool(rng.random() < 0.5), rng.uniform(0.7, 1.3))
            boxes.append(box)
        return boxes

    def beside(self, rng: np.random.Generator, boxes: list[np.ndarray]) -> tuple[float, np.ndarray]:
        """(side, centre) of a hand against a random box of ``boxes``, mostly beside it, sometimes above or below."""
        b = np.asarray(boxes[int(rng.integers(len(boxes)))], np.float64)
        side = float(np.clip(max(b[2], b[3]) * rng.uniform(0.8, 1.25), self.side[0], self.side[1]))
        angle = rng.normal(0, 0.35) + (math.pi if rng.random() < 0.5 else 0.0)  # radians; 0: to the right
        if rng.random() < 0.25:
            angle += math.pi / 2
        u = np.array([math.cos(angle), math.sin(angle)])
        reach = abs(u[0]) * b[2] / 2 + abs(u[1]) * b[3] / 2 + side / 2  # centre distance of boxes just meeting
        return side, b[:2] + b[2:] / 2 + u * reach * (1 - rng.uniform(0.0, 0.35))


def photometric(rng: np.random.Generator, image: np.ndarray, strength: float) -> np.ndarray:
    gain = rng.uniform(1 - strength, 1 + strength)
    bias = rng.uniform(-40, 40) * strength
    tint = rng.uniform(1 - strength / 3, 1 + strength / 3, 3)
    return np.clip(image.astype(np.float32) * gain * tint + bias, 0, 255).astype(np.uint8)


class DetectionTrainSet(Dataset):
    """``length`` samples an epoch; sample ``i`` of epoch ``e`` is a pure function of (seed, e, i)."""

    def __init__(self, frames: list[Frame], hands: list[PasteHand], rooms: HandFreeCrops | None, codec: BoxCodec,
                 augment: dict, length: int, seed: int):
        self.frames, self.rooms, self.codec = frames, rooms, codec
        self.a, self.length, self.seed, self.epoch = augment, length, seed, 0
        self.paster = Paster(hands, tuple(augment["paste_side"]), augment["paste_rotation"],
                             augment.get("touching", 0.0)) if hands else None

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 RGB input, boxes (N, 4) in input pixels)."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        a, size = self.a, self.codec.input_size
        kind = rng.choice(3, p=np.array([a["frames"], a["synthetic"], a["rooms"]]) / (a["frames"] + a["synthetic"] + a["rooms"]))
        if kind == 1 or (kind == 2 and self.rooms is None):
            canvas, boxes = random_background(rng, (size, size)), []
            count = int(rng.integers(0, a["max_pasted"] + 1))
        elif kind == 2:
            canvas, boxes = self.room(rng), []
            count = int(rng.integers(1, a["max_pasted"] + 1)) if rng.random() < a["paste"] else 0
        else:
            canvas, boxes = self.frame(rng)
            count = int(rng.integers(1, a["max_pasted"] + 1)) if rng.random() < a["paste"] else 0
        if self.paster is not None and count:
            boxes = self.paster(rng, canvas, boxes, count)
        canvas = photometric(rng, canvas, a["color"])
        boxes = clip_boxes(np.array(boxes, np.float32).reshape(-1, 4), size)
        return canvas, boxes

    def frame(self, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
        f = self.frames[int(rng.integers(len(self.frames)))]
        image = read_rgb(f.image)
        h, w = image.shape[:2]
        size = self.codec.input_size
        lo, hi = self.a["scale"]
        zoom = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        shift = rng.uniform(-self.a["shift"], self.a["shift"], 2) * size
        sx = -zoom if rng.random() < self.a["flip"] else zoom
        c = (size - 1) / 2  # zoom and mirror about the input's centre, then shift
        z = np.array([[sx, 0, c - sx * c + shift[0]], [0, zoom, c - zoom * c + shift[1]], [0, 0, 1]])
        m = (z @ np.vstack([letterbox_matrix(w, h, size), [0, 0, 1]]))[:2]
        canvas = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=(114, 114, 114))
        return canvas, list(map_boxes(f.boxes, m))

    def room(self, rng: np.random.Generator) -> np.ndarray:
        size = self.codec.input_size
        for _ in range(5):
            found = self.rooms.square(int(rng.integers(len(self.rooms))), rng)
            if found is not None:
                image, (x, y, side) = found
                s = size / side
                m = np.array([[s, 0, -x * s + 0.5 * s - 0.5], [0, s, -y * s + 0.5 * s - 0.5]])
                return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR)
        return random_background(rng, (size, size))

    def __getitem__(self, index: int):
        image, boxes = self.sample(index)
        t = self.codec.encode(boxes)
        return torch.from_numpy(normalize(image)), {k: torch.from_numpy(v) for k, v in t.items()}


def frame_samples(frames: list[Frame], size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Whole frames letterboxed to the input, with their boxes in input pixels (validation)."""
    out = []
    for f in frames:
        image, m = letterbox(read_rgb(f.image), size)
        out.append((image, map_boxes(f.boxes, m)))
    return out


def pasted_samples(hands: list[PasteHand], rooms: HandFreeCrops, size: int, count: int, side: tuple[float, float],
                   seed: int = 20261201, touching: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """A fixed validation set: 1-3 hands each pasted into hand-free rooms, sizes log-uniform over ``side``;
    ``touching``: two hands an image instead, the second laid against the first (Paster's touching pairs)."""
    builder = DetectionTrainSet([], [], rooms, BoxCodec(size), {}, count, seed)
    paster = Paster(hands, side, 30.0)
    pair = Paster(hands, side, 30.0, touching=1.0)
    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        canvas = builder.room(rng)
        if touching:
            boxes = pair(rng, canvas, paster(rng, canvas, [], 1), 1)
        else:
            boxes = paster(rng, canvas, [], int(rng.integers(1, 4)))
        out.append((canvas, clip_boxes(np.array(boxes, np.float32).reshape(-1, 4), size)))
    return out
