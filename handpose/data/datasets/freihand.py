"""FreiHAND layout: ``{split}/rgb/%08d.jpg`` with ``{split}_K.json`` and ``{split}_xyz.json``.

The training split stores each pose in four versions (green screen, background swaps): image
``idx + k * n`` for k = 0..3 shares pose ``idx``. Only versions whose files exist are used.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import DatasetError
from ..transforms import keypoints_box
from .base import HandRecord, read_json

SPLITS = ("training", "evaluation")


def _load_json(path: Path) -> list:
    data = read_json(path)
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON list, got {type(data).__name__}")
    return data


def project(xyz: np.ndarray, K: np.ndarray) -> np.ndarray:
    """3D joints (21, 3) in the camera frame -> 2D pixels (21, 2)."""
    uv = xyz @ K.T
    return (uv[:, :2] / uv[:, 2:]).astype(np.float32)


def load_freihand(root: str | Path, split: str = "training", box: str = "image", versions: int = 4,
                  padding: float = 1.0) -> list[HandRecord]:
    """Records of a FreiHAND-layout folder. ``box``: "image" (the whole image, as MMPose's FreiHAND
    benchmark) or "keypoints" (the keypoints' box, grown by ``padding``)."""
    root = Path(root)
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {SPLITS}, got {split!r}")
    if box not in ("image", "keypoints"):
        raise DatasetError(f"box must be 'image' or 'keypoints', got {box!r}")
    k_path, xyz_path = root / f"{split}_K.json", root / f"{split}_xyz.json"
    Ks, xyzs = _load_json(k_path), _load_json(xyz_path)
    if len(Ks) != len(xyzs):
        raise DatasetError(f"{root}: {k_path.name} has {len(Ks)} entries but {xyz_path.name} has {len(xyzs)}")
    rgb = root / split / "rgb"
    if not rgb.is_dir():
        raise DatasetError(f"{rgb}: image folder not found")
    records = []
    for idx, (K, xyz) in enumerate(zip(Ks, xyzs)):
        try:
            K = np.asarray(K, np.float64).reshape(3, 3)
            xyz = np.asarray(xyz, np.float64).reshape(21, 3)
        except (ValueError, TypeError):
            raise DatasetError(f"{k_path.name}/{xyz_path.name}: entry {idx}: expected a 3x3 K and 21x3 xyz") from None
        if not np.isfinite(xyz).all() or (xyz[:, 2] <= 0).any():
            raise DatasetError(f"{xyz_path}: entry {idx}: joints must be finite and in front of the camera (z > 0)")
        uv = project(xyz, K)
        for k in range(versions if split == "training" else 1):
            path = rgb / f"{idx + k * len(Ks):08d}.jpg"
            if k > 0 and not path.is_file():
                break  # fewer versions present than FreiHAND ships: use those that are
            records.append(HandRecord(path, uv, np.ones(21, np.float32), np.zeros(4, np.float32), {"pose": idx, "version": k}))
    if not records:
        raise DatasetError(f"{root}: no samples in split {split!r}")
    for r in records:
        if not r.image.is_file():
            raise DatasetError(f"{r.image}: image file not found (entry {r.extra['pose']} of {k_path.name})")
    for r in records:
        if box == "image":
            r.box = np.array([0, 0, *_image_size(r.image)], np.float32)
        else:
            r.box = _pad_box(keypoints_box(r.keypoints), padding)
    return records


def _pad_box(box: np.ndarray, padding: float) -> np.ndarray:
    x, y, w, h = box
    return np.array([x - w * (padding - 1) / 2, y - h * (padding - 1) / 2, w * padding, h * padding], np.float32)


_SIZE_CACHE: dict[Path, tuple[int, int]] = {}


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    if path not in _SIZE_CACHE:
        from PIL import Image

        try:
            with Image.open(path) as im:
                _SIZE_CACHE[path] = im.size
        except OSError:
            raise DatasetError(f"{path}: not a readable image") from None
    return _SIZE_CACHE[path]


def split_by_pose(records: list[HandRecord], val_fraction: float, seed: int = 0) -> tuple[list[HandRecord], list[HandRecord]]:
    """Train/validation split by pose, never by image: all versions of a pose land on one side."""
    poses = sorted({r.extra["pose"] for r in records})
    rng = np.random.default_rng(seed)
    val = set(rng.permutation(poses)[: int(round(len(poses) * val_fraction))].tolist())
    return [r for r in records if r.extra["pose"] not in val], [r for r in records if r.extra["pose"] in val]
