"""COCO keypoints JSON: one record per hand annotation, cropped from its ``bbox``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import DatasetError
from .base import HandRecord, read_json


def load_coco(annotations: str | Path, image_root: str | Path | None = None, sources: list[str] | None = None,
              exclude_sources: list[str] | None = None) -> list[HandRecord]:
    """Records of a COCO keypoints file. Images are looked up under ``image_root`` (default: the JSON's folder).

    ``sources`` / ``exclude_sources`` keep or drop images by their ``source`` field (a data set that merges
    several origins, such as teacher_hands), so one origin can be held out whole."""
    path = Path(annotations)
    root = Path(image_root) if image_root is not None else path.parent
    data = read_json(path, "annotation file")
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise DatasetError(f"{path}: not a COCO keypoints file (needs 'images' and 'annotations')")
    images = {}
    for i, im in enumerate(data["images"]):
        if "id" not in im or "file_name" not in im:
            raise DatasetError(f"{path}: images[{i}]: needs 'id' and 'file_name'")
        images[im["id"]] = im
    records = []
    for i, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{i}] (id {ann.get('id')})"
        if ann.get("image_id") not in images:
            raise DatasetError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
        kps = np.asarray(ann.get("keypoints", []), np.float32)
        if kps.size != 63:
            raise DatasetError(f"{where}: 'keypoints' must hold 63 numbers (21 x [x, y, v]), has {kps.size}")
        kps = kps.reshape(21, 3)
        bbox = np.asarray(ann.get("bbox", []), np.float32)
        if bbox.size != 4 or bbox[2] <= 0 or bbox[3] <= 0:
            raise DatasetError(f"{where}: 'bbox' must be [x, y, w, h] with w, h > 0")
        source = images[ann["image_id"]].get("source")
        if (sources is not None and source not in sources) or (exclude_sources and source in exclude_sources):
            continue
        extra = {k: ann[k] for k in ("hand", "subject", "sequence", "frame", "crop_offset_in_original",
                                     "handedness_mediapipe", "handedness_score") if k in ann}
        extra["image_id"] = ann["image_id"]
        if source is not None:
            extra["source"] = source
        records.append(HandRecord(root / images[ann["image_id"]]["file_name"], kps[:, :2].copy(),
                                  (kps[:, 2] > 0).astype(np.float32), bbox, extra))
    if not records:
        which = f" of sources {sources}" if sources is not None else (f" outside {exclude_sources}" if exclude_sources else "")
        raise DatasetError(f"{path}: no annotations{which}")
    for i, r in enumerate(records):
        if not r.image.is_file():
            raise DatasetError(f"{path}: annotations[{i}]: image {r.image} not found")
    return records
