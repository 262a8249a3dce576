"""Labelled test videos of moving hands, made from labelled still images (tests and bench/live.py use them).

* ``uci_video``: the uci_hand sequences (every 6th frame of a webcam video, each 256x256 crop sitting at a
  fixed ``crop_offset_in_original`` in the source frame). The crops of one subject's hand are pasted at their
  offsets into one window of the source frame: the window is the union of the crops' rectangles, grown to
  the canvas size (640x360 unless the union is bigger) around its centre. The source frames are not
  available, so the rest of the window is the board's colour (the median of the crops' borders) and the
  crop edges are feathered. Sequences are separated by blank frames: the hand leaves and comes back
  elsewhere, with another pose.
* ``still_video``: one image panned and zoomed over a fixed background: still, moving, gone, back and still.
  Fresh sensor noise every frame, so a "still" hand is still only as much as a real one.
* ``two_hand_video``: two hand-labelled hands, a left and a right (one image mirrored), cut out along their
  skeleton and pasted into one room: both in view on every frame, still, then moving slowly (translation,
  rotation, scale), still again. The labels are the photos' own hand-made ones moved by the same affine
  maps that place the pixels, so they are exact for both hands. Rooms: a hand-free stretch of a real photo
  (``hand_free_room``) or a synthetic scene.

Each video ``X.mp4`` comes with ``X.labels.json``: per frame every labelled hand's 21 keypoints in video
pixels and whether the hands are held still there (where jitter is measured).
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

from .backgrounds import hand_mask, random_background
from .datasets import MINI_EXAMPLE, HandRecord
from ..errors import HandposeError
from ..io import atomic_write, atomic_write_json
from .transforms import apply_affine


@dataclass
class LabelledVideo:
    path: Path
    fps: float
    size: tuple[int, int]  # w, h
    labels: list[list[np.ndarray]]  # per frame, each labelled hand's (21, 2) keypoints (any number of hands)
    still: list[bool]  # per frame: every hand is held still (ground truth does not move)

    @property
    def max_hands(self) -> int:
        return max((len(hands) for hands in self.labels), default=0)

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
            raise HandposeError(f"{path}: labels file not found (videos are made by `python -m handpose.data.video`)")
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


# -- two hands pasted into a room ---------------------------------------------------------------------------
def hand_free_room(frames: str | Path, size: tuple[int, int] = (640, 360), index: int = 0,
                   sources: Iterable[str] = ("rps", "subhih"), margin: float = 0.5) -> tuple[np.ndarray, str]:
    """A room for ``two_hand_video``: the ``index``-th largest rectangle of ``size``'s aspect, among the photos
    of a frames file (teacher_hands/frames.json), that keeps clear of every hand box grown by ``margin`` of its
    sides on each edge, resized to ``size``; and where it came from. Only hands are boxed there, so the person
    (a face, an arm) may still show, as in a webcam view. Default sources rps and subhih: webcam-like rooms
    with people; palms (the held-out source) is tiled and recoloured by its export. Our detector and pose
    model trained on rps and subhih photos, these rooms included: their false-hand rate here flatters them."""
    from .datasets import read_rgb
    from .datasets.base import read_json

    path, (w, h), sources = Path(frames), size, set(sources)
    step = 4  # search on a 4-pixel grid: plenty for a background
    data, found = read_json(path, "frames file"), []
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise HandposeError(f"{path}: not a frames file (needs a 'frames' list)")
    for f in data["frames"]:
        if f.get("source") not in sources:
            continue
        W, H = int(f["width"]) // step, int(f["height"]) // step
        blocked = np.zeros((H, W), np.int64)
        for bx, by, bw, bh in np.asarray(f["boxes"], np.float64).reshape(-1, 4) / step:
            blocked[max(0, int(by - margin * bh)):int(np.ceil(by + (1 + margin) * bh)),
                    max(0, int(bx - margin * bw)):int(np.ceil(bx + (1 + margin) * bw))] = 1
        s = np.zeros((H + 1, W + 1), np.int64)  # integral image: blocked cells in any window in O(1)
        s[1:, 1:] = blocked.cumsum(0).cumsum(1)
        for rw in range(W, 0, -1):
            rh = int(np.ceil(rw * h / w))
            if rh > H:
                continue
            clear = np.argwhere(s[rh:, rw:] - s[:-rh, rw:] - s[rh:, :-rw] + s[:-rh, :-rw] == 0)
            if len(clear):
                y, x = clear[len(clear) // 2]  # the middle of the clear places, not a corner
                found.append((-rw, f["file_name"], x * step, y * step, rw * step, rh * step))
                break
    found.sort()
    if not 0 <= index < len(found):
        raise HandposeError(f"{path}: {len(found)} hand-free rooms of sources {sorted(sources)}, no room {index}")
    _, name, x, y, rw, rh = found[index]
    photo = read_rgb(path.parent / name)
    room = cv2.resize(photo[y:y + rh, x:x + rw], size, interpolation=cv2.INTER_CUBIC)
    return room, f"{name} [{x}, {y}, {rw}, {rh}]"


def freihand_hands(root: str | Path = MINI_EXAMPLE, split: str = "training", indices: Iterable[int] = (0, 3)) -> list[HandRecord]:
    """Hand-labelled hands for ``two_hand_video`` from a FreiHAND-layout folder (default: mini-example 0 and
    3, two open palms; ../shared/data/hgc_dev 'evaluation' holds 292 more of the same person)."""
    from .datasets import load_freihand

    records, indices = load_freihand(root, split, versions=1), list(indices)
    if bad := [i for i in indices if not 0 <= i < len(records)]:
        raise HandposeError(f"{root}: split {split!r} has {len(records)} images, no image {bad}")
    return [records[i] for i in indices]


class _Cutout:
    """A hand cut out of its photo along its skeleton (backgrounds.hand_mask: thick bones, filled palm, soft
    edge; wide enough for the fingers' outline, while a grown mask brought patches of the photo's fridge
    along); ``matrix`` places it."""

    def __init__(self, record: HandRecord, mirror: bool):
        from .datasets import read_rgb

        self.image = read_rgb(record.image)
        self.keypoints, self.mirror = record.keypoints, mirror
        lo, hi = record.keypoints.min(0), record.keypoints.max(0)
        self.centre, self.span = (lo + hi) / 2, float(max(hi - lo))
        self.alpha = hand_mask(record.keypoints, (self.image.shape[1], self.image.shape[0]), record.visibility)

    def matrix(self, centre: np.ndarray, side: float, angle: float) -> np.ndarray:
        """Keypoint box centred at ``centre``, its longer side ``side`` px, turned ``angle`` degrees (mirrored first)."""
        rot = cv2.getRotationMatrix2D((0, 0), angle, side / max(self.span, 1.0))[:, :2] @ np.diag([-1.0 if self.mirror else 1.0, 1.0])
        return np.hstack([rot, (np.asarray(centre, np.float64) - rot @ self.centre)[:, None]])


# Key poses of the hand on the frame's left: (dx, dy) in frame sizes, rotation in degrees, scale. The other
# hand takes them mirrored and in the other order, so the two never move in lockstep; they never overlap.
TWO_HAND_POSES = np.array([(0.0, 0.0, 0.0, 1.0), (0.07, -0.06, 15.0, 0.85), (-0.04, 0.05, -12.0, 1.15)])


def two_hand_video(out: str | Path, hands: list[HandRecord] | None = None, room: np.ndarray | None = None,
                   size: tuple[int, int] = (640, 360), fps: float = 30.0, still: int = 45, move: int = 60,
                   side: float = 0.4, noise: float = 2.0, seed: int = 0, appear: int = 0,
                   progress: bool = False) -> LabelledVideo:
    """Two hands in view on every frame (see the module docstring): ``hands[0]`` as photographed on the frame's
    right, ``hands[1]`` mirrored on its left (one person's left palms, as the mini-example's, become a left
    and a right hand where a facing person holds them). Still for ``still`` frames, ``move`` frames easing to
    the next key pose (TWO_HAND_POSES), still, move, still: 3 x 45 + 2 x 60 = 255 frames, 8.5 s at 30 fps.
    ``room``: an RGB image of ``size`` (``hand_free_room``), default a synthetic scene; ``side``: the hands'
    keypoint-box side as a share of the frame height at scale 1; fresh noise (sigma ``noise``) every frame.
    ``appear``: the frame-left hand comes into view on this frame (0: on the first), as a second hand does while
    the first is tracked; before it the labels hold the frame-right hand only."""
    hands = freihand_hands() if hands is None else hands
    if len(hands) != 2:
        raise HandposeError(f"two_hand_video needs 2 hands, got {len(hands)}")
    if still < 1 or move < 1:
        raise HandposeError(f"still and move must be at least 1 frame, got {still} and {move}")
    rng = np.random.default_rng(seed)
    w, h = size
    room = random_background(rng, size) if room is None else np.asarray(room, np.uint8)
    if room.shape[:2] != (h, w):
        raise HandposeError(f"room is {room.shape[1]}x{room.shape[0]}, the video {w}x{h}")
    cutouts = [_Cutout(hands[0], mirror=False), _Cutout(hands[1], mirror=True)]
    ease = lambda a, b, n: [a + (b - a) * (1 - np.cos(np.pi * u)) / 2 for u in np.linspace(0, 1, n + 2)[1:-1]]
    orders = ([0, 2, 1], [0, 1, 2])  # frame-right hand, frame-left hand
    tracks = []  # per hand, its pose on every frame
    for order, sign in zip(orders, (-1.0, 1.0)):
        k = TWO_HAND_POSES[order] * np.array([sign, 1.0, sign, 1.0])  # mirrored: dx and rotation change sign
        tracks.append([k[0]] * still + ease(k[0], k[1], move) + [k[1]] * still + ease(k[1], k[2], move) + [k[2]] * still)
    stills = ([True] * still + [False] * move) * 2 + [True] * still
    home = [np.array([0.75 * w, 0.55 * h]), np.array([0.25 * w, 0.55 * h])]  # beside a face in the middle
    plan = [[c.matrix(base + p[:2] * (w, h), side * h * p[3], p[2]) for c, base, p in zip(cutouts, home, poses)]
            for poses in zip(*tracks)]
    plan = [ms if i >= appear else ms[:1] for i, ms in enumerate(plan)]
    labels = [[apply_affine(c.keypoints, m) for c, m in zip(cutouts, ms)] for ms in plan]

    def frames():
        for ms in tqdm(plan, desc="two-hand video", unit="frame", disable=not progress):
            f = room
            for c, m in zip(cutouts, ms):
                f = _compose(f, c.image, m, c.alpha)
            yield np.clip(f + noise * rng.standard_normal(f.shape, np.float32), 0, 255).astype(np.uint8)

    out = Path(out)
    write_video(out, frames(), fps, size)
    video = LabelledVideo(out, fps, size, labels, stills)
    video.save_labels()
    return video


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m handpose.data.video", description="make a labelled test video (+ X.labels.json)")
    p.add_argument("kind", choices=["uci", "still", "two-hands"],
                   help="uci: uci_hand sequences; still: a mini-example image panned/zoomed; two-hands: two hands pasted into a room")
    p.add_argument("out", type=Path, help="output .mp4 (keep it out of the repository)")
    p.add_argument("--root", default=None,
                   help="kind uci: the uci_hand folder (default ../shared/data/uci_hand); kind two-hands: a FreiHAND-layout "
                        "folder with the hands (default the mini-example; e.g. ../shared/data/hgc_dev --split evaluation)")
    p.add_argument("--subject", default="001")
    p.add_argument("--hand", default="right", choices=["left", "right"])
    p.add_argument("--sequences", type=int, default=3, help="how many sequences, separated by blank frames")
    p.add_argument("--image", type=int, default=0, help="mini-example image index (kind still)")
    p.add_argument("--split", default="training", help="kind two-hands: split of --root")
    p.add_argument("--images", type=int, nargs=2, default=[0, 3], metavar=("RIGHT", "LEFT"),
                   help="kind two-hands: the two hands' image indices in --root (the second is mirrored)")
    p.add_argument("--frames", type=Path, default=None,
                   help="kind two-hands: a frames file (../shared/data/teacher_hands/frames.json) to cut a hand-free "
                        "room from (default: a synthetic scene)")
    p.add_argument("--room", type=int, default=0, help="kind two-hands: which room of --frames (0: the largest)")
    p.add_argument("--appear", type=int, default=0,
                   help="kind two-hands: the second (frame-left) hand comes into view on this frame (default 0: from the first)")
    args = p.parse_args(argv)
    try:
        if args.kind == "uci":
            v = uci_video(args.root or "../shared/data/uci_hand", args.out, args.subject, args.hand, args.sequences, progress=True)
        elif args.kind == "still":
            v = mini_example_video(args.out, args.image, progress=True)
        else:
            room = None
            if args.frames is not None:
                room, where = hand_free_room(args.frames, index=args.room)
                print(f"room: {where}")
            v = two_hand_video(args.out, freihand_hands(args.root or MINI_EXAMPLE, args.split, args.images), room,
                               appear=args.appear, progress=True)
    except HandposeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{v.path}: {len(v.labels)} frames, {v.size[0]}x{v.size[1]} at {v.fps:g} fps, "
          f"{sum(bool(x) for x in v.labels)} with a hand, at most {v.max_hands} per frame; labels in {v.labels_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
