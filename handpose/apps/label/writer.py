"""The output folder: crops and whole frames written atomically, a JSONL journal of processed items
(flushed per item, the resume point), and annotations.json / frames.json rebuilt from it."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import cv2
import numpy as np

from ...errors import HandposeError
from ...io import atomic_write_image, atomic_write_json
from ...skeleton import COCO_CATEGORIES
from ...data.transforms import apply_affine, crop_affine, keypoints_box, warp
from .annotate import LabelledHand
from .sources import Item

JOURNAL = "journal.jsonl"
OPTIONS = "label_options.json"


def rounded(values, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in np.ravel(values)]


def item_stem(item: Item) -> str:
    """A file-name stem unique to the item: its name, a hash of its full path, and the frame number."""
    digest = hashlib.sha1(str(item.path.resolve()).encode()).hexdigest()[:8]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", item.path.stem)[:40]
    return f"{stem}_{digest}" + (f"_f{item.frame:06d}" if item.frame is not None else "")


def crop_hand(image_bgr: np.ndarray, hand: LabelledHand, padding: float, crop_size: int):
    """A square around the keypoint box's centre, ``padding`` x its longer side, at most ``crop_size`` px
    (never upscaled); outside the photo is black. -> (crop, keypoints in crop pixels, [x0, y0, side])."""
    lo, hi = hand.keypoints.min(0), hand.keypoints.max(0)
    center = (lo + hi) / 2
    side = padding * hand.size
    out = int(max(8, min(crop_size, round(side))))
    m = crop_affine(center, side, (out, out))
    # The square's corner, in the photo's pixel-edge units (pixel centres are integers).
    corner = [float(center[0] + 0.5 - side / 2), float(center[1] + 0.5 - side / 2), float(side)]
    return warp(image_bgr, m, (out, out)), apply_affine(hand.keypoints, m), corner


class Output:
    def __init__(self, out: Path, options: dict, frames: bool):
        self.out = out
        self.frames = frames
        self.entries: list[dict] = []
        out.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        self._check_options(options)
        self.done = self._read_journal()
        self._journal = open(out / JOURNAL, "a")

    def _remove_stale_temporaries(self) -> None:
        # A killed run can leave atomic_write's temporary files (".name.XXXX.tmp.jpg"): never valid outputs.
        for folder in (self.out, self.out / "crops", self.out / "frames"):
            if folder.is_dir():
                for f in folder.glob(".*.tmp*"):
                    f.unlink(missing_ok=True)

    def _check_options(self, options: dict) -> None:
        path = self.out / OPTIONS
        if path.is_file() and (path.parent / JOURNAL).is_file():
            before = json.loads(path.read_text())
            changed = sorted(k for k in set(before) | set(options) if before.get(k) != options.get(k))
            if changed:
                raise HandposeError(f"--out {self.out}: already labelled with other options ("
                                    + ", ".join(f"{k}: {before.get(k)!r} then, {options.get(k)!r} now" for k in changed)
                                    + "); resume with the same options or use a new folder")
        atomic_write_json(path, options)

    def _read_journal(self) -> set[str]:
        path = self.out / JOURNAL
        if not path.is_file():
            return set()
        data = path.read_bytes()
        good = data[: data.rfind(b"\n") + 1]  # a line cut by a kill has no newline: that item is redone
        for line in good.splitlines():
            if line.strip():
                self.entries.append(json.loads(line))
        if len(good) != len(data):
            with open(path, "r+b") as f:
                f.truncate(len(good))
        return {e["item"] for e in self.entries}

    def add(self, item: Item, image_bgr: np.ndarray | None, hands: list[LabelledHand], teacher: str,
            padding: float, crop_size: int, error: str | None = None) -> dict:
        """Write the item's crops (and whole frame), then its journal line: the line is the commit point."""
        entry: dict = {"item": item.key, "source": item.source, "original": str(item.path), "frame": item.frame,
                       "error": error, "seen": len(hands), "problems": [h.problem for h in hands if h.problem],
                       "crops": [], "whole": None}
        if image_bgr is not None:
            h, w = image_bgr.shape[:2]
            entry.update(width=w, height=h)
            stem = item_stem(item)
            kept = [hand for hand in hands if hand.kept]
            for n, hand in enumerate(kept):
                crop, kps, corner = crop_hand(image_bgr, hand, padding, crop_size)
                name = f"crops/{stem}_{n}.jpg"
                atomic_write_image(self.out / name, crop)
                box = keypoints_box(kps)
                entry["crops"].append({
                    "file_name": name, "width": crop.shape[1], "height": crop.shape[0],
                    "crop_box_in_original": rounded(corner),
                    "annotation": {
                        "keypoints": [v for x, y in kps for v in (round(float(x), 2), round(float(y), 2), 2)],
                        "num_keypoints": 21, "bbox": rounded(box), "area": round(float(box[2] * box[3]), 2),
                        "hand": hand.hand, "handedness_score": round(hand.handedness_score, 4), "teacher": teacher,
                        "teacher_score": round(hand.teacher_score, 4), "flip_err": round(hand.flip_err, 4)}})
            if self.frames and len(kept) == len(hands):  # only frames whose every seen hand has its box
                name = f"frames/{stem}.jpg"
                atomic_write_image(self.out / name, image_bgr)
                entry["whole"] = {"file_name": name, "width": w, "height": h,
                                  "boxes": [rounded(hand.box) for hand in kept]}
        self._journal.write(json.dumps(entry) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self.entries.append(entry)
        self.done.add(item.key)
        return entry

    def build(self, info: dict) -> tuple[int, int]:
        """annotations.json (and frames.json) from the journal, atomically. -> (hands, frames)."""
        images, annotations, frames = [], [], []
        for e in self.entries:
            for c in e["crops"]:
                image = {"id": len(images) + 1, "file_name": c["file_name"], "width": c["width"], "height": c["height"],
                         "source": e["source"], "original": e["original"], "crop_box_in_original": c["crop_box_in_original"]}
                if e["frame"] is not None:
                    image["frame"] = e["frame"]
                images.append(image)
                annotations.append({"id": len(annotations) + 1, "image_id": image["id"], "category_id": 1, "iscrowd": 0,
                                    **c["annotation"]})
            if e.get("whole"):
                frames.append({**e["whole"], "source": e["source"], "original": e["original"],
                               **({"frame": e["frame"]} if e["frame"] is not None else {})})
        atomic_write_json(self.out / "annotations.json", {"info": info, "images": images, "annotations": annotations,
                                                          "categories": COCO_CATEGORIES})
        if self.frames:
            atomic_write_json(self.out / "frames.json",
                              {"info": {**info, "boxes": "every kept hand's keypoint box [x, y, w, h]; frames where "
                                        "a seen hand failed the checks are left out"}, "frames": frames})
        return len(annotations), len(frames)

    def close(self) -> None:
        self._journal.close()


def read_bgr(path: Path) -> np.ndarray | None:
    data = np.fromfile(str(path), np.uint8) if path.is_file() else np.zeros(0, np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
