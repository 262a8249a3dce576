"""Synthetic samples -> files: COCO keypoints (``annotations.json`` + ``images/``) or the FreiHAND layout
(``training/rgb/%08d.jpg``, ``training_K.json``, ``training_xyz.json``). The JSON files are written once,
atomically, after every image, so a killed run never leaves a half-written or mismatched annotation file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io import atomic_write, atomic_write_json
from ...skeleton import COCO_CATEGORIES
from .scene import Sample

LAYOUTS = ("coco", "freihand")


def image_path(out: Path, layout: str, index: int) -> Path:
    return out / ("images" if layout == "coco" else "training/rgb") / f"{index:08d}.jpg"


def write_image(out: Path, layout: str, index: int, sample: Sample, quality: int = 95) -> None:
    import cv2

    path = image_path(out, layout, index)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: str) -> None:
        if not cv2.imwrite(tmp, sample.image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f"{path}: could not encode image")

    atomic_write(path, write)


def record(index: int, sample: Sample) -> dict:
    """What the annotation files need of one sample (plain, picklable, JSON-ready)."""
    kp = sample.keypoints.astype(np.float64)
    labelled = sample.visibility > 0
    pts = kp[labelled] if labelled.any() else kp
    lo, hi = pts.min(0), pts.max(0)
    return {"index": index, "keypoints": [[round(float(x), 3), round(float(y), 3), int(v)]
                                          for (x, y), v in zip(kp, sample.visibility)],
            "bbox": [round(float(v), 3) for v in (lo[0], lo[1], max(hi[0] - lo[0], 1e-3), max(hi[1] - lo[1], 1e-3))],
            "num_keypoints": int(labelled.sum()), "hand": sample.hand, "mesh": sample.mesh,
            "background": sample.background, "size": int(sample.image.shape[0]),
            "K": sample.K.tolist(), "xyz": sample.xyz.tolist()}


def write_annotations(out: Path, layout: str, records: list[dict]) -> list[Path]:
    """The annotation file(s) of a finished run; returns their paths."""
    if layout == "freihand":
        atomic_write_json(out / "training_K.json", [r["K"] for r in records])
        atomic_write_json(out / "training_xyz.json", [r["xyz"] for r in records])
        return [out / "training_K.json", out / "training_xyz.json"]
    images, annotations = [], []
    for r in records:
        images.append({"id": r["index"], "file_name": image_path(Path(""), layout, r["index"]).as_posix(),
                       "width": r["size"], "height": r["size"], "source": "synth"})
        annotations.append({"id": r["index"], "image_id": r["index"], "category_id": 1, "iscrowd": 0,
                            "keypoints": [v for kp in r["keypoints"] for v in kp], "bbox": r["bbox"],
                            "area": round(r["bbox"][2] * r["bbox"][3], 2), "num_keypoints": r["num_keypoints"],
                            "hand": r["hand"], "mesh": r["mesh"], "background": r["background"]})
    atomic_write_json(out / "annotations.json", {"images": images, "annotations": annotations, "categories": COCO_CATEGORIES})
    return [out / "annotations.json"]
