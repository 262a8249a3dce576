"""Labelled test videos of a moving hand, made from labelled still images (tests and bench/live.py use them).

* ``uci_video``: the uci_hand sequences (every 6th frame of a webcam video, each 256x256 crop sitting at a
  fixed ``crop_offset_in_original`` in the source frame). The crops of one subject's hand are pasted at their
  offsets into one window of the source frame: the window is the union of the crops' rectangles, grown to
  the canvas size (640x360 unless the union is bigger) around its centre. The source frames are not
  available, so the rest of the window is the board's colour (the median of the crops' borders) and the
  crop edges are feathered. Sequences are separated by blank frames: the hand leaves and comes back
  elsewhere, with another pose.
* ``still_video``: one image panned and zoomed over a fixed background: still, moving, gone, back and still.
  Fresh sensor noise every frame, so a "still" hand is still only as much as a real one.

Each video ``X.mp4`` comes with ``X.labels.json``: per frame the labelled hands' 21 keypoints in video pixels
and whether the hand is held still there (where jitter is measured).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
from tqdm import tqdm

from .backgrounds import random_background
from .datasets import MINI_EXAMPLE
from .errors import HandposeError
from .io import atomic_write, atomic_write_json
from .transforms import apply_affine


@dataclass
class LabelledVideo:
    path: Path
    fps: float
    size: tuple[int, int]  # w, h
    labels: list[list[np.ndarray]]  # per frame, each labelled hand's (21, 2) keypoints
    still: list[bool]  # per frame: the hand is held still (ground truth does not move)

    @property
    def labels_path(self) -> Path:
        return labels_path(self.path)

    def save_labels(self) -> None:
        atomic_write_json(self.labels_path, {
            "video": self.path.name, "fps": self.fps, "size": list(self.size), "frames": [
                {"hands": [np.round(k, 2).tolist() for k in hands], "still": s} for hands, s in zip(self.labels, self.still)]})

    @classmethod
    def load(cls, video: str | Path) -> "LabelledVideo":
        path = labels_path(video)
        if not path.is_file():
            raise HandposeError(f"{path}: labels file not found (videos are made by `python -m handpose.video`)")
        d = json.loads(path.read_text())
        return cls(Path(video), d["fps"], tuple(d["size"]),
                   [[np.asarray(k, np.float32) for k in f["hands"]] for f in d["frames"]], [f["still"] for f in d["frames"]])


def labels_path(video: str | Path) -> Path:
    video = Path(video)
    return video.with_name(video.stem + ".labels.json")


def write_video(path: str | Path, frames_rgb: Iterable[np.ndarray], fps: float, size: tuple[int, int]) -> int:
    """Encode RGB frames as MPEG-4 (mp4v, which every OpenCV build writes), atomically; returns the count."""
    count = 0

    def write(tmp: str) -> None:
        nonlocal count
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not writer.isOpened():
            raise HandposeError(f"{path}: cannot open a video writer (mp4v)")
        try:
            for f in frames_rgb:
                writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
                count += 1
        finally:
            writer.release()

    atomic_write(path, write)
    return count


def feather_mask(h: int, w: int, width: int) -> np.ndarray:
    """(h, w) float32 alpha: 1 inside, ramping to 0 over ``width`` pixels at the edges (no hard seams)."""
    ramp = lambda n: np.clip((np.minimum(np.arange(n), np.arange(n)[::-1]) + 0.5) / max(width, 1), 0, 1)
    return np.minimum.outer(ramp(h), ramp(w)).astype(np.float32)


def _compose(background: np.ndarray, image: np.ndarray, matrix: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    h, w = background.shape[:2]
    fg = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR)
    a = cv2.warpAffine(alpha, matrix, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    return (fg * a + background * (1 - a)).astype(np.uint8)


# -- uci_hand sequences -------------------------------------------------------------------------------------
def uci_video(root: str | Path, out: str | Path, subject: str = "001", hand: str = "right", sequences: int | None = 3,
              size: tuple[int, int] = (640, 360), fps: float = 5.0, gap: int = 10, progress: bool = False) -> LabelledVideo:
    """A labelled video of one subject's hand from the uci_hand sequences (see the module docstring). ``fps``
    5 is real time (a labelled frame every 6 frames of a 30 fps camera); ``gap`` blank frames separate sequences."""
    from .datasets import load_coco, read_rgb

    records = [r for r in load_coco(Path(root) / "annotations.json")
               if r.extra.get("subject") == subject and r.extra.get("hand") == hand]
    by_seq = defaultdict(list)
    for r in records:
        by_seq[r.extra["sequence"]].append(r)
    if not by_seq:
        raise HandposeError(f"{root}: no sequences of subject {subject!r}, hand {hand!r}")
    names = sorted(by_seq)[:sequences]
    seqs = [sorted(by_seq[n], key=lambda r: r.extra["frame"]) for n in names]
    offsets = np.array([s[0].extra["crop_offset_in_original"] for s in seqs], np.float64)
    crop = 256
    lo, hi = offsets.min(0), offsets.max(0) + crop
    w, h = (int(np.ceil(max(s, u) / 2) * 2) for s, u in zip(size, hi - lo))  # even sides for the encoder
    origin = np.floor((lo + hi) / 2 - np.array([w, h]) / 2)  # window of the source frame shown
    first = [read_rgb(s[0].image) for s in seqs]
    border = np.concatenate([np.concatenate([f[0], f[-1], f[:, 0], f[:, -1]]) for f in first])
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = np.median(border, axis=0).astype(np.uint8)
    alpha = feather_mask(crop, crop, 12)

    labels, still, plan = [], [], []
    for i, seq in enumerate(seqs):
        if i:
            plan += [None] * gap
            labels += [[] for _ in range(gap)]
            still += [False] * gap
        for r in seq:
            shift = np.asarray(r.extra["crop_offset_in_original"], np.float64) - origin
            plan.append((r.image, shift))
            labels.append([r.keypoints + shift.astype(np.float32)])
            still.append(False)

    def frames():
        for item in tqdm(plan, desc="uci video", unit="frame", disable=not progress):
            if item is None:
                yield canvas
                continue
            image, shift = item
            m = np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float64)
            yield _compose(canvas, read_rgb(image), m, alpha)

    out = Path(out)
    write_video(out, frames(), fps, (w, h))
    video = LabelledVideo(out, fps, (w, h), labels, still)
    video.save_labels()
    return video


# -- one still image, panned and zoomed ---------------------------------------------------------------------
def still_video(image_rgb: np.ndarray, keypoints: np.ndarray, out: str | Path, size: tuple[int, int] = (640, 360),
                fps: float = 30.0, still: int = 45, move: int = 60, gap: int = 20, noise: float = 2.0, seed: int = 0,
                progress: bool = False) -> LabelledVideo:
    """Still for ``still`` frames, pan and zoom for ``move``, no hand for ``gap``, then still again elsewhere."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = random_background(rng, size)
    ih, iw = image_rgb.shape[:2]
    alpha = feather_mask(ih, iw, 10)
    base = 0.8 * h / ih  # the image fills most of the frame height at zoom 1

    def placement(center, zoom) -> np.ndarray:
        s = base * zoom
        return np.array([[s, 0, center[0] - s * (iw - 1) / 2], [0, s, center[1] - s * (ih - 1) / 2]], np.float64)

    a, b, c = np.array([0.3 * w, 0.5 * h]), np.array([0.7 * w, 0.45 * h]), np.array([0.6 * w, 0.55 * h])
    plan = [placement(a, 1.0)] * still
    plan += [placement(a + (b - a) * u, 1.0 - 0.35 * u) for u in np.linspace(0, 1, move)]
    plan += [None] * gap + [placement(c, 0.8)] * still
    stills = [True] * still + [False] * (move + gap) + [True] * still
    labels = [[] if m is None else [apply_affine(keypoints, m)] for m in plan]

    def frames():
        for m in tqdm(plan, desc="still video", unit="frame", disable=not progress):
            f = background if m is None else _compose(background, image_rgb, m, alpha)
            yield np.clip(f + rng.normal(0, noise, f.shape), 0, 255).astype(np.uint8)

    out = Path(out)
    write_video(out, frames(), fps, size)
    video = LabelledVideo(out, fps, size, labels, stills)
    video.save_labels()
    return video


def mini_example_video(out: str | Path, index: int = 0, **kwargs) -> LabelledVideo:
    """``still_video`` of one image of the bundled mini-example set."""
    from .datasets import load_freihand, read_rgb

    root = MINI_EXAMPLE
    records = load_freihand(root, "training", versions=1)
    r = records[index % len(records)]
    return still_video(read_rgb(r.image), r.keypoints, out, **kwargs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m handpose.video", description="make a labelled test video (+ X.labels.json)")
    p.add_argument("kind", choices=["uci", "still"], help="uci: uci_hand sequences; still: a mini-example image panned/zoomed")
    p.add_argument("out", type=Path, help="output .mp4 (keep it out of the repository)")
    p.add_argument("--root", default="../shared/data/uci_hand", help="uci_hand folder (kind uci)")
    p.add_argument("--subject", default="001")
    p.add_argument("--hand", default="right", choices=["left", "right"])
    p.add_argument("--sequences", type=int, default=3, help="how many sequences, separated by blank frames")
    p.add_argument("--image", type=int, default=0, help="mini-example image index (kind still)")
    args = p.parse_args(argv)
    try:
        if args.kind == "uci":
            v = uci_video(args.root, args.out, args.subject, args.hand, args.sequences, progress=True)
        else:
            v = mini_example_video(args.out, args.image, progress=True)
    except HandposeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{v.path}: {len(v.labels)} frames, {v.size[0]}x{v.size[1]} at {v.fps:g} fps, "
          f"{sum(bool(x) for x in v.labels)} with a hand; labels in {v.labels_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
