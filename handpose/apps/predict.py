"""`handpose predict PATH [PATH ...]`: 21 keypoints per hand for image files and folders of images.

``--json`` writes ``{"model": ..., "images": [{"image", "width", "height", "hands": [{"keypoints":
[[x, y, score] * 21], "score", "box": [x, y, w, h], "handedness", "handedness_score", "gesture",
"gesture_score"}]}]}`` (image pixels;
up to ``--max-hands`` hands per image, found by the hand detector, or by the pose model without detector
weights: see pipeline.py); ``--out`` writes each image with its hands drawn. Without either, the JSON goes to
stdout. Unreadable files are reported by name and skipped; the exit code is then 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..draw import draw_hand
from ..errors import HandposeError
from ..pose.inference import Hand, PoseEstimator, to_rgb
from ..io import atomic_write_image, atomic_write_text
from ..pipeline import HandPipeline
from .options import add_pipeline_arguments, create_pipeline

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    p.add_argument("--json", metavar="OUT.json", help="write the keypoints of every image to this file")
    p.add_argument("--out", metavar="DIR", help="write each image with its hand drawn into this folder")
    add_pipeline_arguments(p)
    p.add_argument("--box", metavar="X,Y,W,H", help="the hand's box in every image (one hand; skips hand finding)")
    p.add_argument("--batch", type=int, default=16, help="images per batch (default 16)")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: the engine's choice)")


def parse_box(text: str) -> np.ndarray:
    try:
        box = np.array([float(v) for v in text.split(",")], np.float32)
    except ValueError:
        box = np.zeros(0)
    if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0:
        raise HandposeError(f"--box: expected X,Y,W,H with W and H > 0, got {text!r}")
    return box


def collect(paths: list[str]) -> tuple[list[str], list[str], bool]:
    """Image paths (as given, folder members joined to the folder as given), missing paths, any folder."""
    files, missing, folder = [], [], False
    for p in paths:
        if os.path.isdir(p):
            folder = True
            members = sorted(n for n in os.listdir(p) if Path(n).suffix.lower() in IMAGE_SUFFIXES
                             and os.path.isfile(os.path.join(p, n)))
            if not members:
                missing.append(f"{p}: no images in this folder")
            files += [os.path.join(p, n) for n in members]
        elif os.path.isfile(p):
            files.append(p)
        else:
            missing.append(f"{p}: no such file or folder")
    return files, missing, folder


def drawn_name(path: str, used: set[str]) -> str:
    """``stem.jpg`` in the output folder, with a number added when two inputs share a name."""
    stem, name, k = Path(path).stem, f"{Path(path).stem}.jpg", 1
    while name in used:
        k += 1
        name = f"{stem}-{k}.jpg"
    used.add(name)
    return name


def draw(rgb: np.ndarray, hands: list[Hand]) -> np.ndarray:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for h in hands:
        draw_hand(bgr, h.keypoints, h.scores, box=h.box, label=h.label)
    if not hands:
        cv2.putText(bgr, "no hand", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1, cv2.LINE_AA)
    return bgr


def predict_files(est: HandPipeline | PoseEstimator, files: list[str], box=None, batch: int = 16,
                  progress: bool = False, on_image=None) -> tuple[list[dict], list[str]]:
    """JSON entries for the readable files and the errors (one line per unreadable file), in batches.
    ``est``: a HandPipeline, or a PoseEstimator (then one hand per image, found by the pose model).
    ``on_image(path, rgb, hands)`` is called for each image (to draw it)."""
    if not isinstance(est, HandPipeline):
        est = HandPipeline(est, detector=None, max_hands=1)
    entries, errors = [], []
    bar = tqdm(total=len(files), desc="predict", unit="image", disable=not progress, file=sys.stderr)
    for start in range(0, len(files), max(1, batch)):
        chunk, images = [], []
        for path in files[start : start + batch]:
            try:
                images.append(to_rgb(path))
                chunk.append(path)
            except HandposeError as e:
                errors.append(str(e))
                bar.write(f"handpose predict: {e} (skipped)", file=sys.stderr)
        results = est.predict_many(images, None if box is None else [box] * len(images)) if images else []
        for path, rgb, hands in zip(chunk, images, results):
            entries.append({"image": path, "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                            "hands": [h.to_json() for h in hands]})
            if on_image is not None:
                on_image(path, rgb, hands)
        bar.update(len(files[start : start + batch]))
    bar.close()
    return entries, errors


def run(args: argparse.Namespace) -> int:
    box = parse_box(args.box) if args.box else None
    if args.batch < 1:
        raise HandposeError(f"--batch must be at least 1, got {args.batch}")
    if args.max_hands < 1:
        raise HandposeError(f"--max-hands must be at least 1, got {args.max_hands}")
    files, missing, folder = collect(args.paths)
    for m in missing:
        print(f"handpose predict: {m} (skipped)", file=sys.stderr)
    if not files:
        raise HandposeError("no images to read: " + "; ".join(missing))
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise HandposeError(f"--out {args.out}: exists and is not a folder")
    pipeline = create_pipeline(args, use_detector=box is None)
    used: set[str] = set()

    def save(path: str, rgb: np.ndarray, hands: list[Hand]) -> None:
        atomic_write_image(Path(args.out) / drawn_name(path, used), draw(rgb, hands))

    entries, errors = predict_files(pipeline, files, box, args.batch, progress=folder or len(files) > 1,
                                    on_image=save if args.out else None)
    result = {"model": pipeline.estimator.weights, "images": entries}
    if args.json:
        atomic_write_text(args.json, json.dumps(result) + "\n")
    if not args.json and not args.out:
        print(json.dumps(result))
    found = sum(bool(e["hands"]) for e in entries)
    hands = sum(len(e["hands"]) for e in entries)
    wrote = [w for w in (args.json, args.out and f"{args.out}/") if w]
    print(f"{len(entries)} images, {found} with a hand ({hands} hands), {len(errors) + len(missing)} failed"
          + (f"; wrote {', '.join(wrote)}" if wrote else ""), file=sys.stderr if not wrote else sys.stdout)
    return 1 if errors or missing else 0
