"""SOURCE arguments -> the items to label: photos, and frames of videos (every Nth, near-duplicates skipped)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ...errors import HandposeError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
THUMB = 32  # side of the grey thumbnail compared between frames


@dataclass
class SourceFile:
    path: Path
    source: str  # the `source` field: the SOURCE argument's name (folder or file stem)
    video: bool


@dataclass
class Item:
    key: str  # unique and stable across runs: the journal's key
    path: Path
    source: str
    frame: int | None  # frame number in a video, None for a photo
    image_bgr: np.ndarray | None  # None: the photo is read when processed


def expand(sources: list[str]) -> list[SourceFile]:
    files: list[SourceFile] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS)
            if not found:
                raise HandposeError(f"{s}: folder holds no images or videos ({', '.join(sorted(IMAGE_EXTS | VIDEO_EXTS))})")
            files += [SourceFile(f, p.resolve().name, f.suffix.lower() in VIDEO_EXTS) for f in found]
        elif p.is_file():
            ext = p.suffix.lower()
            if ext not in IMAGE_EXTS | VIDEO_EXTS:
                raise HandposeError(f"{s}: not an image or a video (by its extension {ext or '(none)'})")
            files.append(SourceFile(p, p.stem, ext in VIDEO_EXTS))
        else:
            raise HandposeError(f"{s}: no such file or folder")
    return files


def open_video(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise HandposeError(f"{path}: cannot be opened as a video")
    return cap


def estimated_items(files: list[SourceFile], every: int) -> int:
    """For the progress bar: photos plus every Nth frame of each video (before duplicates are skipped)."""
    total = 0
    for f in files:
        if f.video:
            cap = open_video(f.path)
            total += math.ceil(max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0) / every)
            cap.release()
        else:
            total += 1
    return total


def thumbnail(image_bgr: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)


def video_frames(f: SourceFile, every: int, dup_threshold: float) -> Iterator[Item | None]:
    """Every ``every``-th frame; a frame whose grey thumbnail differs from the last one kept by less than
    ``dup_threshold`` (mean absolute difference, grey levels 0-255) yields None (a skipped duplicate).
    The decisions depend only on the video, so a resumed run sees the same frames."""
    cap = open_video(f.path)
    last = None
    index = 0
    key = str(f.path.resolve())
    try:
        while True:
            if index % every:
                if not cap.grab():
                    break
                index += 1
                continue
            ok, frame = cap.read()
            if not ok:
                break
            thumb = thumbnail(frame)
            if last is not None and float(np.abs(thumb - last).mean()) < dup_threshold:
                yield None
            else:
                last = thumb
                yield Item(f"{key}#{index}", f.path, f.source, index, frame)
            index += 1
    finally:
        cap.release()


def items(files: list[SourceFile], every: int, dup_threshold: float) -> Iterator[Item | None]:
    for f in files:
        if f.video:
            yield from video_frames(f, every, dup_threshold)
        else:
            yield Item(str(f.path.resolve()), f.path, f.source, None, None)
