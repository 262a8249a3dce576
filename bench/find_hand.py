"""Hand finding in photos that are not tight crops.

hgc_dev images (256x256, one hand each) are pasted at a random position and scale into larger synthetic
frames; the finder runs on each frame and its keypoints are compared with the tight-crop result (the same
model given the ground-truth keypoint box on the original image, mapped into the frame) and with the ground
truth. Frames with nothing pasted measure false hands.

    .venv/bin/python bench/find_hand.py [--weights W] [--n 292] [--frame 640x480] [--scale 0.3 0.9]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handpose.train import metrics  # noqa: E402
from handpose.data.backgrounds import random_background  # noqa: E402
from handpose.data.datasets import load_freihand, read_rgb  # noqa: E402
from handpose.pose.find_hand import FinderSettings, find_hands  # noqa: E402
from handpose.pose.inference import PoseEstimator  # noqa: E402

HGC = ROOT.parent / "shared" / "data" / "hgc_dev"


def paste(rng, image: np.ndarray, frame_size: tuple[int, int], scale: tuple[float, float]):
    """The image resized to ``scale`` x frame height, at a random place in a synthetic frame. Returns the
    frame and the mapping of image pixels into it: x' = (x + 0.5) * s - 0.5 + offset."""
    fw, fh = frame_size
    frame = random_background(rng, frame_size)
    side = int(round(rng.uniform(*scale) * fh))
    s = side / image.shape[1]
    ox, oy = int(rng.integers(0, fw - side + 1)), int(rng.integers(0, fh - side + 1))
    frame[oy : oy + side, ox : ox + side] = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    return frame, lambda p: (p + 0.5) * s - 0.5 + np.array([ox, oy], np.float32)


VARIANTS = {
    "whole image only": FinderSettings(max_refine=0, search=False, size=None),
    "whole + 1 re-crop": FinderSettings(max_refine=1, search=False, size=None),
    "whole + re-crops (settle)": FinderSettings(search=False, size=None),
    "whole + re-crops + search": FinderSettings(size=None),
    "same, first pass at 160 px (default)": FinderSettings(),
    "old: padded whole + 2 re-crops": FinderSettings(whole_padding=1.25, settle_iou=1.01, search=False, size=None),
}


def run_variant(est, frames, settings, batch: int = 8):
    stats, hands, t0 = {}, [], time.perf_counter()
    for i in range(0, len(frames), batch):
        hands += find_hands(est, frames[i : i + batch], 1, settings, stats)
    ms = (time.perf_counter() - t0) * 1000 / len(frames)
    return hands, stats["forwards"] / len(frames), ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="model (default: the bundled one)")
    ap.add_argument("--backend", default="onnx", choices=["torch", "onnx"])
    ap.add_argument("--n", type=int, default=292, help="hgc_dev images to use")
    ap.add_argument("--frame", default="640x480")
    ap.add_argument("--scale", type=float, nargs=2, default=(0.3, 0.9), help="pasted image side / frame height")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), help="subset of: " + ", ".join(VARIANTS))
    args = ap.parse_args()
    if not HGC.exists():
        print(f"{HGC} not present")
        return 1
    fw, fh = (int(v) for v in args.frame.split("x"))
    est = PoseEstimator(args.weights, backend=args.backend, threads=args.threads)
    records = load_freihand(HGC, "evaluation", box="keypoints", padding=1.0)[: args.n]
    rng = np.random.default_rng(args.seed)
    images = [read_rgb(r.image) for r in tqdm(records, desc="read", leave=False)]
    tight = est.estimate_many([(im, r.box) for im, r in zip(images, records)])
    frames, gt, ref = [], [], []
    for im, r, t in zip(images, records, tight):
        frame, move = paste(rng, im, (fw, fh), tuple(args.scale))
        frames.append(frame)
        gt.append(move(r.keypoints))
        ref.append(move(t.keypoints))
    gt, ref = np.stack(gt), np.stack(ref)
    norm = np.array([np.ptp(g, 0).max() for g in gt])  # the hand's size in the frame
    negatives = [random_background(rng, (fw, fh)) for _ in range(len(frames))]
    mask = np.ones(gt.shape[:2], bool)
    tight_pck = metrics.pck(ref, gt, mask, 0.2, norm)
    print(f"{len(frames)} hgc_dev images pasted into {fw}x{fh} frames at {args.scale[0]}-{args.scale[1]} x frame height; "
          f"{args.backend}, {args.threads} threads, model input {est.info['input_size']}; tight-crop PCK@0.2 vs ground "
          f"truth {tight_pck:.3f}; presence threshold {est.presence_threshold}")
    print()
    print("| finder | hands found | false hands (no-hand frames) | px error vs tight crop (median / mean) | "
          "error / hand size | PCK@0.2 vs truth (misses count wrong) | forwards / frame | ms / frame |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.variants:
        settings = VARIANTS[name]
        hands, fwd, ms = run_variant(est, frames, settings)
        neg_hands, _, _ = run_variant(est, negatives, settings)
        found = np.array([bool(h) for h in hands])
        pred = np.stack([h[0].keypoints if h else np.full((21, 2), 1e6, np.float32) for h in hands])
        err = metrics.distances(pred, ref)[found]
        rel = (err / norm[found, None]).mean() if found.any() else float("nan")
        pck = metrics.pck(pred, gt, mask, 0.2, norm)
        print(f"| {name} | {found.mean():.1%} | {np.mean([bool(h) for h in neg_hands]):.1%} | "
              f"{np.median(err):.1f} / {err.mean():.1f} | {rel:.3f} | {pck:.3f} | {fwd:.2f} | {ms:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
