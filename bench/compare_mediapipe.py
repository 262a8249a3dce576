"""Our default model against MediaPipe Hands 0.10.14 on hgc_dev (a person and scene never trained on).

    .venv/bin/python bench/compare_mediapipe.py [--weights W] [--data ../shared/data/hgc_dev]

Ours runs on the given crops (the ground-truth keypoints' box, as a tracker would give it) and, for a
like-for-like row, on the whole photo exactly as `handpose predict` runs it (HandPipeline with predict's
defaults, defaults.PHOTO: the hand detector when its weights are bundled, else the pose model as finder; at most 2 hands as predict, the best-scoring one; with a
detector, a second row runs the pose-model finder alone; and `predict --flip-test`'s path). MediaPipe runs in photo mode with its full
landmark model on the whole photo; a photo where it finds no hand is a miss. PCK and AUC count a miss as
wrong at every threshold; EPE is over the hands found. PCK is normalised by the longer side of the
ground-truth keypoints' box; AUC is the mean PCK over 0, 1.5, ..., 28.5 px (MMPose's definition).
Needs `make bench-deps` for the MediaPipe rows.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from handpose.defaults import PHOTO
from handpose.train import metrics
from handpose.data.datasets import load_freihand, read_rgb
from handpose.pose.inference import PoseEstimator
from handpose.pipeline import HandPipeline
from handpose.data.transforms import keypoints_box

ROOT = Path(__file__).resolve().parent.parent


def score(pred: np.ndarray, found: np.ndarray, seconds: float, gt: np.ndarray) -> dict:
    """Metrics with misses counted as wrong for PCK/AUC (metrics.with_misses), and ms per photo."""
    return {**metrics.with_misses(pred, found, gt), "ms/img": 1000 * seconds / len(gt)}


def run_ours(estimator: PoseEstimator | HandPipeline, images: list[np.ndarray], gt: np.ndarray, use_box: bool):
    preds, found = [], []
    t0 = time.perf_counter()
    for img, g in tqdm(list(zip(images, gt)), desc="ours (box)" if use_box else "ours (finder)", leave=False):
        hands = estimator.estimate(img, [keypoints_box(g)]) if use_box else estimator(img)
        found.append(bool(hands))
        preds.append(hands[0].keypoints if hands else np.zeros((21, 2), np.float32))
    return np.stack(preds), np.array(found), time.perf_counter() - t0


def run_mediapipe(images: list[np.ndarray]):
    import mediapipe as mp

    preds, found = [], []
    with mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=1, model_complexity=1,
                                  min_detection_confidence=0.5) as hands:
        t0 = time.perf_counter()
        for img in tqdm(images, desc="mediapipe", leave=False):
            res = hands.process(img)
            if res.multi_hand_landmarks:
                h, w = img.shape[:2]
                lm = res.multi_hand_landmarks[0].landmark
                preds.append(np.array([[p.x * w, p.y * h] for p in lm], np.float32))
                found.append(True)
            else:
                preds.append(np.zeros((21, 2), np.float32))
                found.append(False)
        seconds = time.perf_counter() - t0
    return np.stack(preds), np.array(found), seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="default: the bundled model")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "hgc_dev"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backend", default=PHOTO.backend, help="engine of the predict-path row (predict's default)")
    p.add_argument("--max-hands", type=int, default=2,
                   help="hands the predict-path rows look for, the best-scoring one scored (default 2, predict's)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    records = load_freihand(args.data, "evaluation")
    images = [read_rgb(r.image) for r in records]
    gt = np.stack([r.keypoints for r in records])
    rows = {}
    estimator = PoseEstimator(args.weights)
    rows["ours, given crop"] = score(*run_ours(estimator, images, gt, use_box=True), gt)
    flip = PoseEstimator(args.weights, flip_test=True)
    rows["ours, given crop, flip test"] = score(*run_ours(flip, images, gt, use_box=True), gt)
    pipeline = HandPipeline.create(args.weights, backend=args.backend, max_hands=args.max_hands, threads=args.threads,
                                   flip_test=False)
    rows[f"ours, predict path ({pipeline.finder_name})"] = score(*run_ours(pipeline, images, gt, use_box=False), gt)
    flipped = HandPipeline.create(args.weights, backend=args.backend, max_hands=args.max_hands, threads=args.threads, flip_test=True)
    rows[f"ours, predict path, flip test ({flipped.finder_name})"] = score(*run_ours(flipped, images, gt, use_box=False), gt)
    if pipeline.detector is not None:  # the fallback that runs when no detector is installed, for comparison
        finder = HandPipeline.create(args.weights, backend=args.backend, use_detector=False, max_hands=args.max_hands,
                                     threads=args.threads, flip_test=False)
        rows["ours, predict path (pose-model finder)"] = score(*run_ours(finder, images, gt, use_box=False), gt)
    try:
        os.environ.setdefault("GLOG_minloglevel", "2")
        rows["MediaPipe 0.10.14 full"] = score(*run_mediapipe(images), gt)
    except ImportError:
        print("MediaPipe is not installed (make bench-deps): its row is left out", file=sys.stderr)
    cols = ["found", "EPE", "PCK@0.2", "PCK@0.1", "PCK@0.05", "AUC", "ms/img"]
    print(f"\nhgc_dev: {len(records)} hands, weights: {args.weights or 'bundled default'}\n")
    print(f"| {'model':40s} | " + " | ".join(f"{c:>8s}" for c in cols) + " |")
    print(f"|{'-' * 42}|" + "|".join("-" * 10 for _ in cols) + "|")
    for name, r in rows.items():
        print(f"| {name:40s} | " + " | ".join(f"{r[c]:8.3f}" if c != "ms/img" else f"{r[c]:8.1f}" for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
