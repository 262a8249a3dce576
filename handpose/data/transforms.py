"""Crop geometry and keypoint-consistent augmentation.

One 2x3 affine matrix maps image pixels to crop pixels; the image is warped with it, the keypoints are
moved with it, and its inverse maps predictions back. Everything that moves pixels goes through it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..skeleton import JOINT_NAMES

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def box_to_center_size(box, padding: float = 1.25) -> tuple[np.ndarray, float]:
    """Box (x, y, w, h) -> centre (2,) and the side of a square around it, padded by ``padding``."""
    x, y, w, h = (float(v) for v in box)
    center = np.array([x + w / 2 - 0.5, y + h / 2 - 0.5], np.float32)  # pixel-centre coordinates
    return center, max(w, h, 1.0) * padding


def keypoints_box(keypoints: np.ndarray, visibility: np.ndarray | None = None) -> np.ndarray:
    """Tight box (x, y, w, h) of the visible keypoints."""
    pts = keypoints if visibility is None else keypoints[np.asarray(visibility) > 0]
    lo, hi = pts.min(0), pts.max(0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], np.float32)


def crop_affine(center, size: float, out_size: tuple[int, int], rotation: float = 0.0, flip: bool = False) -> np.ndarray:
    """Matrix (2, 3) mapping image pixels to a crop of ``out_size`` (w, h): a square of side ``size`` around
    ``center``, rotated by ``rotation`` degrees (counter-clockwise in the crop), mirrored if ``flip``."""
    out_w, out_h = out_size
    scale = out_w / size
    theta = np.deg2rad(rotation)
    cos, sin = np.cos(theta) * scale, np.sin(theta) * scale
    # Image y points down, so a counter-clockwise turn on screen is this rotation matrix.
    linear = np.array([[cos, sin], [-sin, cos]], np.float64)
    if flip:
        linear = np.diag([-1.0, 1.0]) @ linear
    # The square is out_w/scale wide and out_h/scale tall around center (out_h == out_w for square crops).
    crop_center = np.array([(out_w - 1) / 2, (out_h - 1) / 2])
    offset = crop_center - linear @ np.asarray(center, np.float64)
    return np.hstack([linear, offset[:, None]]).astype(np.float64)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Move points (..., 2) by a (2, 3) matrix."""
    pts = np.asarray(points, np.float64)
    m = np.asarray(matrix, np.float64)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def warp(image: np.ndarray, matrix: np.ndarray, out_size: tuple[int, int], border_value=(0, 0, 0)) -> np.ndarray:
    return cv2.warpAffine(
        image, np.asarray(matrix, np.float64), out_size, flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=border_value,
    )


_OFFSET, _SCALE = IMAGENET_MEAN * 255, 1 / (IMAGENET_STD * 255)


def normalize(image_rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 (3, H, W) with ImageNet statistics."""
    x = image_rgb.astype(np.float32)  # a copy, so in place from here on (half the time of the plain formula)
    x -= _OFFSET
    x *= _SCALE
    return np.ascontiguousarray(x.transpose(2, 0, 1))


@dataclass(frozen=True)
class Roi:
    """A turned hand region: the square of side ``side`` (before padding) around ``center`` (image pixels),
    seen turned by ``rotation`` degrees (``crop_affine``'s sense). A plain box (x, y, w, h) is the unturned
    case; ``upright_roi`` makes one from keypoints."""

    center: np.ndarray
    side: float
    rotation: float = 0.0


# Wrist and middle-finger knuckle: the hand's own up, as MediaPipe's landmark ROI takes it.
UPRIGHT_JOINTS = (JOINT_NAMES.index("wrist"), JOINT_NAMES.index("middle_mcp"))


def upright_roi(keypoints: np.ndarray, scale: float = 1.0, visible: np.ndarray | None = None) -> Roi:
    """The region of a hand's keypoints (21, 2) turned so that the wrist -> middle knuckle points up in the
    crop, as most training hands do: the tight box of the turned keypoints (the ``visible`` ones; its longer
    side times ``scale``). The pose model then sees a hand pointing down or sideways as it saw hands in training."""
    pts = np.asarray(keypoints, np.float64)
    wrist, knuckle = UPRIGHT_JOINTS
    dx, dy = pts[knuckle] - pts[wrist]
    theta = np.arctan2(dx, -dy) if dx or dy else 0.0
    turn = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])  # crop_affine's
    turned = (pts if visible is None else pts[np.asarray(visible, bool)]) @ turn.T
    lo, hi = turned.min(0), turned.max(0)
    center = turn.T @ ((lo + hi) / 2) - 0.5  # pixel-centre coordinates, as box_to_center_size
    return Roi(center.astype(np.float32), float(max((hi - lo).max(), 1.0) * scale), float(np.rad2deg(theta)))


def hand_crop(image_rgb: np.ndarray, box, size: int, padding: float) -> tuple[np.ndarray, np.ndarray]:
    """The crop a network sees for a hand box (x, y, w, h) or a turned ``Roi``: the padded square around it
    warped to ``size`` and normalised, and the image -> crop matrix. The pose model and the palm-side
    classifier both read it."""
    if isinstance(box, Roi):
        center, side, rotation = box.center, box.side * padding, box.rotation
    else:
        (center, side), rotation = box_to_center_size(box, padding), 0.0
    matrix = crop_affine(center, side, (size, size), rotation)
    return normalize(warp(image_rgb, matrix, (size, size))), matrix


def motion_blur(image: np.ndarray, length: int, angle: float) -> np.ndarray:
    """``image`` smeared along a line of ``length`` pixels at ``angle`` degrees (a hand moving during the exposure)."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, turn, (length, length))
    return cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6))


def low_resolution(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` shrunk to ``scale`` of its size and scaled back up (a small, far hand scaled to the input)."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


@dataclass
class Augment:
    """Training augmentation. Geometric parameters feed ``crop_affine``; photometric ones act on the crop."""

    rotation: float = 180.0  # degrees, uniform in [-rotation, rotation]
    scale: tuple[float, float] = (0.75, 1.25)  # multiplies the crop side
    shift: float = 0.1  # fraction of the crop side
    flip: float = 0.5  # probability of a horizontal mirror (a right hand becomes a left hand)
    color: float = 0.3  # brightness/contrast/saturation jitter amplitude
    hue: float = 10.0  # hue jitter in OpenCV hue units (0..180)
    blur: float = 0.2  # probability of a Gaussian blur
    noise: float = 0.2  # probability of additive Gaussian noise
    occlusion: float = 0.3  # probability of one random occluding rectangle
    # Video's hands: fast ones smeared along their motion, far ones a few dozen pixels wide before the crop
    # is scaled up to the input size.
    motion_blur: float = 0.0  # probability of a line kernel of 5-15 px at a random angle
    lowres: float = 0.0  # probability of the crop shrunk to 20-50 % of its side and scaled back up
    # Probability that a crop starts from the labelled hand turned upright (upright_roi), as live's tracking
    # and predict's re-crops show hands; the geometric jitter above then applies on top.
    upright: float = 0.0

    def geometry(self, rng: np.random.Generator, center: np.ndarray, size: float) -> tuple[np.ndarray, float, float, bool]:
        s = size * rng.uniform(*self.scale)
        c = center + rng.uniform(-self.shift, self.shift, 2) * size
        return c.astype(np.float32), s, float(rng.uniform(-self.rotation, self.rotation)), bool(rng.random() < self.flip)

    def photometric(self, rng: np.random.Generator, crop_rgb: np.ndarray) -> np.ndarray:
        img = crop_rgb
        if rng.random() < self.motion_blur:
            img = motion_blur(img, int(rng.integers(5, 16)), float(rng.uniform(0, 180)))
        if rng.random() < self.lowres:
            img = low_resolution(img, float(rng.uniform(0.2, 0.5)))
        if self.color > 0 or self.hue > 0:
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(-self.hue, self.hue)) % 180
            hsv[..., 1] *= rng.uniform(1 - self.color, 1 + self.color)
            img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
            img = (img - img.mean()) * rng.uniform(1 - self.color, 1 + self.color) + img.mean()
            img = img * rng.uniform(1 - self.color, 1 + self.color)
            img = np.clip(img, 0, 255).astype(np.uint8)
        if rng.random() < self.blur:
            k = int(rng.choice([3, 5, 7]))
            img = cv2.GaussianBlur(img, (k, k), 0)
        if rng.random() < self.noise:
            img = np.clip(img + rng.normal(0, rng.uniform(3, 12), img.shape), 0, 255).astype(np.uint8)
        if rng.random() < self.occlusion:
            h, w = img.shape[:2]
            ow, oh = (rng.uniform(0.1, 0.35, 2) * (w, h)).astype(int)
            x0, y0 = rng.integers(0, w - ow), rng.integers(0, h - oh)
            img = img.copy()
            img[y0 : y0 + oh, x0 : x0 + ow] = rng.integers(0, 256, 3, dtype=np.uint8)
        return img
