"""Latency (and what it costs in accuracy) of the inference engines, on this machine.

1. Per hand crop, batch 1, ``--threads`` threads: PyTorch fp32, ONNX Runtime fp32, ONNX Runtime int8
   (static, calibrated on the mini-example) and, when mediapipe 0.10.14 is installed (`make bench-deps`),
   MediaPipe's landmark model on the same photos (tracking mode: after the first frame only the landmark
   model runs) and its full photo mode (palm detector + landmark model). Median of ``--runs`` runs after
   ``--warmup``.
2. ``--accuracy``: PCK@0.05 / PCK@0.2 / EPE / AUC on hgc_dev tight crops for each engine.
3. ``--end-to-end``: ms per photo for `handpose predict`'s pipeline (read, find the hand, estimate, decode,
   map back; process start-up excluded) on a folder of 256x256 hand photos (hgc_dev), with the accuracy of
   what it found, beside MediaPipe's photo mode on the same files.

    .venv/bin/python bench/latency.py [--weights W | --untrained 224 [--arch mobilenetv2 --head-width 128]] [--accuracy] [--end-to-end]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handpose.train import metrics  # noqa: E402
from handpose.data.datasets import load_freihand, read_rgb  # noqa: E402
from handpose.data.datasets import MINI_EXAMPLE  # noqa: E402
from handpose.pose.onnx_backend import calibration_crops  # noqa: E402
from handpose.pose.inference import PoseEstimator  # noqa: E402
from handpose.pose.model import build_model  # noqa: E402
from handpose.pose.onnx_backend import export_onnx, quantize_int8  # noqa: E402
from handpose.apps.predict import predict_files  # noqa: E402
from handpose.weights import load_model  # noqa: E402
from handpose.release import save_release  # noqa: E402

HGC = ROOT.parent / "shared" / "data" / "hgc_dev"


def timed(fn, items, runs: int, warmup: int) -> tuple[float, float]:
    """Median and 90th percentile ms of ``fn(item)``, cycling through ``items``."""
    for i in range(warmup):
        fn(items[i % len(items)])
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn(items[i % len(items)])
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), float(np.percentile(times, 90))


def mediapipe_hands(static: bool):
    try:
        import mediapipe as mp
    except ImportError:
        return None
    return mp.solutions.hands.Hands(static_image_mode=static, max_num_hands=1, model_complexity=1,
                                    min_detection_confidence=0.3, min_tracking_confidence=0.3)


def prepare_models(args, tmp: Path) -> dict[str, Path]:
    """The model as .safetensors (or the weights given), fp32 .onnx and int8 .onnx in ``tmp``."""
    if args.untrained:
        info = dict(arch=args.arch, num_joints=21, head_width=args.head_width, num_deconv=3,
                    input_size=args.untrained, sigma=2.0, padding=1.25, metrics={})
        weights = tmp / "untrained.safetensors"
        save_release(build_model(args.arch, head_width=args.head_width), info, weights)
    else:
        weights = Path(args.weights) if args.weights else None
    model, info = load_model(weights)
    fp32, int8 = tmp / "fp32.onnx", tmp / "int8.onnx"
    export_onnx(model, info, fp32)
    quantize_int8(fp32, int8, calibration_crops(MINI_EXAMPLE, info))
    return {"pytorch fp32": weights, "onnxruntime fp32": fp32, "onnxruntime int8": int8}


def estimator(path, name: str, threads: int) -> PoseEstimator:
    return PoseEstimator(path, backend="torch" if name.startswith("pytorch") else "onnx", threads=threads)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="model (default: the bundled one)")
    ap.add_argument("--untrained", type=int, metavar="SIZE", help="time an untrained model of this input size instead")
    ap.add_argument("--arch", default="resnet18", help="encoder of the --untrained model (resnet18 ... mobilenetv2)")
    ap.add_argument("--head-width", type=int, default=256, help="deconvolution filters of the --untrained model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--accuracy", action="store_true", help="PCK / EPE of each engine on hgc_dev tight crops")
    ap.add_argument("--end-to-end", action="store_true", help="ms per photo of predict's pipeline on hgc_dev")
    ap.add_argument("--photos", type=int, default=292, help="photos for --end-to-end")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    have_hgc = HGC.exists()
    root, split = (HGC, "evaluation") if have_hgc else (MINI_EXAMPLE, "training")
    records = load_freihand(root, split, box="keypoints", padding=1.0, versions=1)
    images = [read_rgb(r.image) for r in records]

    with tempfile.TemporaryDirectory() as tmp:
        paths = prepare_models(args, Path(tmp))
        engines = {name: estimator(p, name, args.threads) for name, p in paths.items()}
        size = engines["pytorch fp32"].info["input_size"]
        crops = [engines["pytorch fp32"].crop(im, r.box)[0][None] for im, r in zip(images[:32], records[:32])]
        print(f"model input {size}x{size}; {args.threads} threads; {len(crops)} crops from {root.name} cycled, "
              f"batch 1, median of {args.runs} runs after {args.warmup} warm-up runs. Other work on "
              "the machine makes absolute figures noisy; compare rows of one run.")
        print()
        print("| engine | ms / hand crop (median) | p90 |")
        print("|---|---|---|")
        for name, est in engines.items():
            med, p90 = timed(est.estimate_crops, crops, args.runs, args.warmup)
            print(f"| {name} | {med:.1f} | {p90:.1f} |")
        for label, static in (("mediapipe 0.10.14 landmark model (tracking)", False),
                              ("mediapipe 0.10.14 palm + landmark (photo mode)", True)):
            hands = mediapipe_hands(static)
            if hands is None:
                print(f"| {label} | not installed (make bench-deps) | |")
                continue
            photos = images[:32] if static else images[:1]  # tracking: the same photo, so only the landmark model runs
            med, p90 = timed(hands.process, photos, args.runs, args.warmup)
            print(f"| {label} | {med:.1f} | {p90:.1f} |")

        if args.accuracy:
            gt = np.stack([r.keypoints for r in records])
            mask = np.ones(gt.shape[:2], bool)
            norm = metrics.box_longer_side(np.stack([r.box for r in records]))
            print()
            print(f"Accuracy on {len(records)} {root.name} tight crops (box: keypoints; PCK normalised by its longer side)")
            print()
            print("| engine | PCK@0.05 | PCK@0.2 | EPE px | AUC 0-30 px |")
            print("|---|---|---|---|---|")
            for name, est in engines.items():
                pred = []
                for i in range(0, len(images), 32):
                    hands = est.estimate_many([(im, r.box) for im, r in zip(images[i : i + 32], records[i : i + 32])])
                    pred += [h.keypoints for h in hands]
                pred = np.stack(pred)
                print(f"| {name} | {metrics.pck(pred, gt, mask, 0.05, norm):.3f} | {metrics.pck(pred, gt, mask, 0.2, norm):.3f} "
                      f"| {metrics.epe(pred, gt, mask):.2f} | {metrics.auc(pred, gt, mask):.3f} |")

        if args.end_to_end:
            files = [str(r.image) for r in records[: args.photos]]
            gt = np.stack([r.keypoints for r in records[: args.photos]])
            mask = np.ones(gt.shape[:2], bool)
            norm = metrics.box_longer_side(np.stack([r.box for r in records[: args.photos]]))
            print()
            print(f"End to end, `handpose predict` pipeline on {len(files)} {root.name} photos (256x256 files: read, "
                  f"find the hand, estimate, decode, map back; batches of 16; start-up excluded; {args.threads} threads)")
            print()
            print("| engine | ms / photo | hands found | PCK@0.05 | PCK@0.2 | EPE px (found) |")
            print("|---|---|---|---|---|---|")
            for name, est in engines.items():
                predict_files(est, files[:16])  # warm-up
                t0 = time.perf_counter()
                entries, _ = predict_files(est, files)
                ms = (time.perf_counter() - t0) * 1000 / len(files)
                found = np.array([bool(e["hands"]) for e in entries])
                pred = np.stack([np.array(e["hands"][0]["keypoints"])[:, :2] if e["hands"] else np.full((21, 2), 1e6)
                                 for e in entries])
                print(f"| {name} | {ms:.1f} | {found.mean():.1%} | {metrics.pck(pred, gt, mask, 0.05, norm):.3f} | "
                      f"{metrics.pck(pred, gt, mask, 0.2, norm):.3f} | {metrics.epe(pred[found], gt[found], mask[found]):.2f} |")
            hands = mediapipe_hands(True)
            if hands is not None:
                import cv2

                def mp_photo(path):
                    return hands.process(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB))

                for f in files[:16]:
                    mp_photo(f)
                t0 = time.perf_counter()
                results = [mp_photo(f) for f in files]
                ms = (time.perf_counter() - t0) * 1000 / len(files)
                found = np.array([r.multi_hand_landmarks is not None for r in results])
                pred = np.stack([np.array([[p.x * 256 - 0.5, p.y * 256 - 0.5] for p in r.multi_hand_landmarks[0].landmark])
                                 if r.multi_hand_landmarks else np.full((21, 2), 1e6) for r in results])
                print(f"| mediapipe 0.10.14 photo mode | {ms:.1f} | {found.mean():.1%} | "
                      f"{metrics.pck(pred, gt, mask, 0.05, norm):.3f} | {metrics.pck(pred, gt, mask, 0.2, norm):.3f} | "
                      f"{metrics.epe(pred[found], gt[found], mask[found]):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
