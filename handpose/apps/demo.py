"""`handpose demo`: the bundled default model on the bundled mini-example images.

Runs `handpose predict`'s pipeline with its defaults (the hand detector, a crop per hand, the pose model with
the flip test, map back, left or right; at most 2 hands) on every mini-example image, writes each drawn image,
a grid of them and the predictions JSON under ``--out``, and prints the error of each image's best-scoring
hand against the mini-example's labels.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..train import metrics
from ..data.datasets import MINI_EXAMPLE, load_freihand
from ..draw import image_grid
from ..pipeline import HandPipeline
from ..io import atomic_write_image, atomic_write_text
from ..pose.inference import BACKENDS
from ..defaults import PHOTO
from .predict import draw, predict_files



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(MINI_EXAMPLE), help="FreiHAND-layout folder (default: the mini-example)")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--weights", default=None, help="model (default: the bundled one)")
    p.add_argument("--backend", choices=BACKENDS, default=PHOTO.backend)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    records = []
    for split in ("training", "evaluation"):
        if (Path(args.data) / f"{split}_K.json").is_file():
            records += load_freihand(args.data, split, box="keypoints", padding=1.0, versions=1)
    t0 = time.perf_counter()
    pipeline = HandPipeline.create(args.weights, backend=args.backend)
    est = pipeline.estimator
    load_s = time.perf_counter() - t0
    drawn: list[np.ndarray] = []

    def save(path: str, rgb: np.ndarray, hands) -> None:
        bgr = draw(rgb, hands)
        drawn.append(bgr)
        split = Path(path).parent.parent.name
        atomic_write_image(out / f"{split}_{Path(path).stem}.jpg", bgr)

    files = [str(r.image) for r in records]
    t0 = time.perf_counter()
    entries, errors = predict_files(pipeline, files, on_image=save)
    ms = (time.perf_counter() - t0) * 1000 / max(len(files), 1)
    atomic_write_text(out / "predictions.json", json.dumps({"model": est.weights, "images": entries}) + "\n")
    atomic_write_image(out / "grid.jpg", image_grid(drawn, columns=4, cell=256))

    found = np.array([bool(e["hands"]) for e in entries])
    print(f"model: {est.weights} ({est.info['arch']}, input {est.info['input_size']}, {args.backend}), loaded in {load_s:.1f} s")
    print(f"{len(entries)} images from {args.data}: a hand found in {found.sum()}, {ms:.0f} ms per image")
    if found.any():
        gt = np.stack([r.keypoints for r in records])[found]
        best = [max(e["hands"], key=lambda h: h["score"]) for e in entries if e["hands"]]
        pred = np.stack([np.array(h["keypoints"])[:, :2] for h in best])
        mask = np.ones(gt.shape[:2], bool)
        norm = metrics.box_longer_side(np.stack([r.box for r in records])[found])
        print(f"against the labels (images with a hand): EPE {metrics.epe(pred, gt, mask):.1f} px, "
              f"PCK@0.2 {metrics.pck(pred, gt, mask, 0.2, norm):.3f}")
    for e in errors:
        print(f"failed: {e}")
    print(f"wrote {len(drawn)} drawn images, {out / 'grid.jpg'} and {out / 'predictions.json'}")
    return 1 if errors else 0
