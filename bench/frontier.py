"""The speed/accuracy frontier of trained pose models, timed beside MediaPipe's landmark model in one run.

For each run folder (trained with configs/frontier.yaml and its overrides, or any recipe): accuracy on hgc_dev's
tight keypoint crops (EPE, PCK@0.2, PCK@0.05 by the box's longer side, AUC 0-30 px) from its best.pt, and ms per
hand crop at batch 1 with ONNX Runtime fp32 and int8 (static, calibrated on the mini-example). MediaPipe
0.10.14's landmark model (tracking mode: one photo repeated, so only the landmark model runs) is timed before and
after the models, so drift from other work on the machine shows. Prints a markdown table, writes a plot of AUC
against int8 ms and the figures as JSON.

    .venv/bin/python bench/frontier.py runs/frontier_* [--threads 2] [--plot docs/frontier.png] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from latency import HGC, MINI_EXAMPLE, mediapipe_hands, timed  # noqa: E402

from handpose.data.datasets import load_freihand, read_rgb  # noqa: E402
from handpose.errors import HandposeError  # noqa: E402
from handpose.io import atomic_write_json  # noqa: E402
from handpose.pose.onnx_backend import calibration_crops  # noqa: E402
from handpose.pose.inference import PoseEstimator  # noqa: E402
from handpose.pose.onnx_backend import export_onnx, quantize_int8  # noqa: E402
from handpose.train import metrics  # noqa: E402
from handpose.weights import load_model  # noqa: E402


def accuracy(est: PoseEstimator, images: list[np.ndarray], records) -> dict[str, float]:
    pred = []
    for i in range(0, len(images), 32):
        hands = est.estimate_many([(im, r.box) for im, r in zip(images[i : i + 32], records[i : i + 32])])
        pred += [h.keypoints for h in hands]
    pred, gt = np.stack(pred), np.stack([r.keypoints for r in records])
    mask = np.ones(gt.shape[:2], bool)
    norm = metrics.box_longer_side(np.stack([r.box for r in records]))
    return {"EPE": metrics.epe(pred, gt, mask), "PCK@0.2": metrics.pck(pred, gt, mask, 0.2, norm),
            "PCK@0.05": metrics.pck(pred, gt, mask, 0.05, norm), "AUC": metrics.auc(pred, gt, mask)}


def mediapipe_landmark_ms(images: list[np.ndarray], runs: int, warmup: int) -> float | None:
    hands = mediapipe_hands(static=False)
    if hands is None:
        return None
    return timed(hands.process, images[:1], runs, warmup)[0]


def plot(rows: list[dict], mp_ms: float | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for r in rows:
        ax.scatter(r["int8_ms"], r["AUC"], s=36)
        ax.annotate(f"{r['label']}\n({r['run']})", (r["int8_ms"], r["AUC"]), textcoords="offset points",
                    xytext=(5, -8), fontsize=7)
    if mp_ms is not None:
        ax.axvline(mp_ms, color="grey", ls="--", lw=1)
        ax.text(mp_ms, ax.get_ylim()[0], " MediaPipe landmark model", rotation=90, va="bottom", fontsize=8, color="grey")
    ax.set_xlabel("ms per hand crop, ONNX Runtime int8, batch 1")
    ax.set_ylabel("hgc_dev AUC 0-30 px (tight keypoint crop)")
    ax.set_title("hgc_dev accuracy against time per crop (one run)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp)
    tmp.replace(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders holding best.pt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs-per-model", type=int, default=100, dest="timing_runs")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "frontier.png")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    missing = [str(r) for r in args.runs if not (r / "best.pt").is_file()]
    if missing:
        raise SystemExit(f"error: no best.pt in {', '.join(missing)}")
    if not HGC.exists():
        raise SystemExit(f"error: {HGC} not found (hgc_dev is the frontier's validation set)")
    records = load_freihand(HGC, "evaluation", box="keypoints", padding=1.0, versions=1)
    images = [read_rgb(r.image) for r in records]

    mp_before = mediapipe_landmark_ms(images, args.timing_runs * 2, args.warmup)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            model, info = load_model(run / "best.pt")
            fp32, int8 = Path(tmp) / f"{run.name}.onnx", Path(tmp) / f"{run.name}.int8.onnx"
            export_onnx(model, info, fp32)
            convs = Path(tmp) / f"{run.name}.convs.onnx"  # deconvolutions as convolutions: int8 covers them
            export_onnx(model, info, convs, for_int8=True)
            quantize_int8(convs, int8, calibration_crops(MINI_EXAMPLE, info))
            row = {"run": run.name, "arch": info["arch"], "input": info["input_size"], "head": info["head_width"],
                   "label": f"{info['arch']} {info['input_size']}px w{info['head_width']}"}
            row.update(accuracy(PoseEstimator(run / "best.pt", threads=args.threads), images, records))
            for name, path in (("fp32_ms", fp32), ("int8_ms", int8)):
                est = PoseEstimator(path, backend="onnx", threads=args.threads)
                crops = [est.crop(im, r.box)[0][None] for im, r in zip(images[:32], records[:32])]
                row[name] = timed(est.estimate_crops, crops, args.timing_runs, args.warmup)[0]
            rows.append(row)
            print(f"{row['label']}: AUC {row['AUC']:.3f}, int8 {row['int8_ms']:.1f} ms", file=sys.stderr, flush=True)
    mp_after = mediapipe_landmark_ms(images, args.timing_runs * 2, args.warmup)

    print(f"hgc_dev: {len(records)} tight keypoint crops; batch 1, {args.threads} threads, median of "
          f"{args.timing_runs} runs after {args.warmup} warm-up runs")
    print()
    print("| model | EPE px | PCK@0.2 | PCK@0.05 | AUC 0-30 px | ONNX fp32 ms | ONNX int8 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['label']} ({r['run']}) | {r['EPE']:.2f} | {r['PCK@0.2']:.3f} | {r['PCK@0.05']:.3f} | "
              f"{r['AUC']:.3f} | {r['fp32_ms']:.1f} | {r['int8_ms']:.1f} |")
    if mp_before is None:
        print("| MediaPipe 0.10.14 landmark model | | | | | not installed (make bench-deps) | |")
    else:
        print(f"| MediaPipe 0.10.14 landmark model (tracking), before / after | | | | | "
              f"{mp_before:.1f} / {mp_after:.1f} | |")
    mp_ms = None if mp_before is None else (mp_before + mp_after) / 2
    plot(rows, mp_ms, args.plot)
    print(f"\nplot: {args.plot}")
    if args.json:
        atomic_write_json(args.json, {"rows": rows, "mediapipe_landmark_ms": [mp_before, mp_after]})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HandposeError as e:
        sys.exit(f"error: {e}")
