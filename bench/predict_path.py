"""What each stage of `handpose predict`'s path buys and costs, beside MediaPipe photo mode in the same run.

hgc_dev is split by order into a selection half (its first photos) and a check half (the rest): a choice of
stages is made on the selection half only, and the check half reports it. Each row is one pipeline: predict's
defaults with one stage changed (or the configurations named with ``--config``), run on every photo of both
halves; per half it prints AUC 0-30 px, EPE, the hands more than 20 px off on average and the mirrored hands
(a prediction whose turning sense, wrist -> index knuckle against wrist -> little knuckle, is the opposite of
the labelled hand's, counted where the labels' turn is clear: |sin| >= 0.2), and per photo the ms of the whole
call and of each stage (detector, pose passes, palm side, gestures), median over the photos after a warm-up.

    OMP_NUM_THREADS=2 .venv/bin/python bench/predict_path.py [--threads 2] [--json OUT]
    OMP_NUM_THREADS=2 .venv/bin/python bench/predict_path.py --config "lean=backend:onnx-int8,flip_test:0"

A configuration is ``name=key:value,...`` with keys: backend (onnx | onnx-int8 | torch), flip_test (0/1),
recrops (re-crops from the keypoints, 0-3), side (classifier | classifier-no-mirror | head), fallback (0/1: the
pose-model finder for photos the detector finds nothing good in), detection_scale (float), weights (a pose
model; default the bundled one), upright (0/1: re-crops turned so the hand points up), flip_first (0/1: the flip
test on the pass from the detection too, not only on the re-crops; default 0).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handpose.data.datasets import load_freihand, read_rgb  # noqa: E402
from handpose.defaults import PHOTO  # noqa: E402
from handpose.io import atomic_write_json  # noqa: E402
from handpose.pipeline import HandPipeline  # noqa: E402
from handpose.train import metrics  # noqa: E402

FAR_PX = 20.0
DEFAULTS = dict(backend=PHOTO.backend, flip_test=PHOTO.flip_test, recrops=PHOTO.recrops, side="classifier",
                fallback=True, detection_scale=1.6, weights="", upright=PHOTO.upright, flip_first=False)
# predict's defaults, then one stage at a time changed
ABLATION = {
    "predict's defaults": {},
    "no flip test": {"flip_test": False},
    "2 re-crops": {"recrops": 2},
    "no re-crop": {"recrops": 0},
    "fp32": {"backend": "onnx"},
    "palm side without mirror": {"side": "classifier-no-mirror"},
    "left/right from the pose head": {"side": "head"},
    "no finder fallback": {"fallback": False},
    "re-crops not turned upright": {"upright": False},
    "flip test on the first pass too": {"flip_first": True},
}


def parse_config(text: str) -> tuple[str, dict]:
    name, _, body = text.partition("=")
    settings: dict = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition(":")
        if key not in DEFAULTS:
            raise SystemExit(f"--config {text!r}: unknown key {key!r} (one of {', '.join(DEFAULTS)})")
        kind = type(DEFAULTS[key])
        settings[key] = bool(int(value)) if kind is bool else kind(value)
    return name, settings


def build(settings: dict, threads: int) -> HandPipeline:
    s = {**DEFAULTS, **settings}
    pipeline = HandPipeline.create(s["weights"] or None, backend=s["backend"], flip_test=s["flip_test"], threads=threads,
                                   side_weights="none" if s["side"] == "head" else None, recrops=s["recrops"],
                                   upright=s["upright"])
    pipeline.photo_fallback = s["fallback"]
    pipeline.detection_scale = s["detection_scale"]
    pipeline.flip_first = s["flip_first"]
    if pipeline.side is not None:
        pipeline.side.flip_test = s["side"] == "classifier"
    return pipeline


class StageClock:
    """Adds the time of the pipeline's stage calls to per-photo totals (instance attributes wrap the methods)."""

    def __init__(self, pipeline: HandPipeline):
        self.ms: dict[str, float] = defaultdict(float)
        if pipeline.detector is not None:
            pipeline.detector = self._wrap("detector", pipeline.detector)
        est = pipeline.estimator
        est.estimate_many = self._wrap("pose", est.estimate_many)
        pipeline.label_sides = self._wrap("side", pipeline.label_sides)
        pipeline.label_gestures = self._wrap("gesture", pipeline.label_gestures)

    def _wrap(self, stage: str, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.ms[stage] += 1000 * (time.perf_counter() - t0)
        return timed


def run(pipeline: HandPipeline, images: list[np.ndarray], warmup: int, desc: str):
    clock = StageClock(pipeline)
    for image in images[:warmup]:
        pipeline(image)
    preds, found, totals, stages = [], [], [], defaultdict(list)
    for image in tqdm(images, desc=desc, leave=False):
        clock.ms.clear()
        t0 = time.perf_counter()
        hands = pipeline(image)
        totals.append(1000 * (time.perf_counter() - t0))
        for k in ("detector", "pose", "side", "gesture"):
            stages[k].append(clock.ms.get(k, 0.0))
        best = max(hands, key=lambda h: h.score) if hands else None
        found.append(best is not None)
        preds.append(best.keypoints[:, :2] if best is not None else np.zeros((21, 2), np.float32))
    return np.stack(preds), np.array(found), totals, {k: statistics.median(v) for k, v in stages.items()}


def run_mediapipe(images: list[np.ndarray], warmup: int):
    import mediapipe as mp

    preds, found, totals = [], [], []
    with mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=PHOTO.max_hands, model_complexity=1,
                                  min_detection_confidence=0.5) as hands:
        for image in images[:warmup]:
            hands.process(image)
        for image in tqdm(images, desc="MediaPipe", leave=False):
            t0 = time.perf_counter()
            res = hands.process(image)
            totals.append(1000 * (time.perf_counter() - t0))
            if res.multi_hand_landmarks:  # the most confident hand, as ours
                h, w = image.shape[:2]
                scores = [c.classification[0].score for c in res.multi_handedness]
                lm = res.multi_hand_landmarks[int(np.argmax(scores))].landmark
                preds.append(np.array([[p.x * w, p.y * h] for p in lm], np.float32))
                found.append(True)
            else:
                preds.append(np.zeros((21, 2), np.float32))
                found.append(False)
    return np.stack(preds), np.array(found), totals, {}


def figures(pred: np.ndarray, found: np.ndarray, gt: np.ndarray) -> dict:
    m = metrics.with_misses(pred, found, gt)
    dist = np.linalg.norm(pred.astype(np.float64) - gt, axis=-1).mean(axis=1)
    mirrored, clear = metrics.mirrored(pred, gt)
    mirrored, clear = mirrored & found, clear & found
    return {"AUC": m["AUC"], "EPE": m["EPE"], "found": m["found"], "far": int((found & (dist > FAR_PX)).sum()),
            "mirrored": int(mirrored.sum()), "clear": int(clear.sum()), "n": len(gt)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "hgc_dev"))
    p.add_argument("--select", type=int, default=146, help="photos in the selection half, the first in order")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--config", action="append", default=[], metavar="NAME=KEY:VALUE,...",
                   help="run these configurations instead of the one-stage-at-a-time ablation (repeatable)")
    p.add_argument("--no-mediapipe", action="store_true")
    p.add_argument("--json", default=None, help="write every figure here")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    records = load_freihand(args.data, "evaluation")
    images = [read_rgb(r.image) for r in records]
    gt = np.stack([r.keypoints for r in records]).astype(np.float64)
    halves = {"select": slice(0, args.select), "check": slice(args.select, len(records))}
    configs = dict(parse_config(c) for c in args.config) if args.config else ABLATION
    rows = {}
    if not args.no_mediapipe:
        os.environ.setdefault("GLOG_minloglevel", "2")
        try:
            rows["MediaPipe 0.10.14 photo mode (full)"] = run_mediapipe(images, args.warmup)
        except ImportError:
            print("MediaPipe is not installed (make bench-deps): its row is left out", file=sys.stderr)
    for name, settings in configs.items():
        rows[name] = run(build(settings, args.threads), images, args.warmup, name)
    report = {"data": args.data, "select": args.select, "n": len(records), "rows": {}}
    head = "| pipeline | select AUC / EPE / >20 px / mirrored | check AUC / EPE / >20 px / mirrored | ms a photo " \
           "(median) | detector / pose / side / gesture ms |"
    print(f"\nhgc_dev by order: select = photos 1-{args.select}, check = {args.select + 1}-{len(records)}; "
          f"{args.threads} threads\n\n{head}\n|---|---|---|---:|---|")
    for name, (pred, found, totals, stages) in rows.items():
        per = {h: figures(pred[s], found[s], gt[s]) for h, s in halves.items()}
        cell = {h: f"{f['AUC']:.3f} / {f['EPE']:.2f} / {f['far']} / {f['mirrored']} of {f['clear']}"
                for h, f in per.items()}
        stage_cell = " / ".join(f"{stages[k]:.1f}" for k in ("detector", "pose", "side", "gesture")) if stages else ""
        ms = statistics.median(totals)
        print(f"| {name} | {cell['select']} | {cell['check']} | {ms:.1f} | {stage_cell} |")
        report["rows"][name] = {"settings": configs.get(name), "ms": ms, "stages_ms": stages, **per}
    if args.json:
        atomic_write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
