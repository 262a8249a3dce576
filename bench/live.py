"""`handpose live` end to end on made, labelled videos: decode -> find/track -> estimate -> smooth -> draw ->
encode, per backend; and MediaPipe Hands (tracking mode) on the same videos when it is installed
(`make bench-deps`).

    .venv/bin/python bench/live.py [--weights FILE] [--backends torch onnx] [--threads N]

Prints one table: FPS, share of labelled frames with a hand found, frames with a hand where none is
labelled, finder runs, frames to re-find the hand after it comes back, keypoint error (EPE, pixels, and
as % of the hand's size), and jitter (frame-to-frame keypoint motion, pixels) on the still stretches,
raw and smoothed. Videos go to a temporary folder and are deleted.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handpose.draw import draw_hand  # noqa: E402
from handpose.errors import HandposeError  # noqa: E402
from handpose.live import FileSource, VideoOutput, process  # noqa: E402
from handpose.smoothing import jitter  # noqa: E402
from handpose.tracking import HandTracker  # noqa: E402
from handpose.video import LabelledVideo, mini_example_video, uci_video  # noqa: E402

UCI = ROOT.parent / "shared" / "data" / "uci_hand"


def make_videos(folder: Path) -> list[tuple[str, LabelledVideo]]:
    videos = [("still (mini-example pan/zoom)", mini_example_video(folder / "still.mp4"))]
    if UCI.exists():
        videos.append(("uci 001 right, 3 seq", uci_video(UCI, folder / "uci_001_right.mp4", "001", "right", 3)))
        videos.append(("uci 040 left, 3 seq", uci_video(UCI, folder / "uci_040_left.mp4", "040", "left", 3)))
    return videos


def score(video: LabelledVideo, raw: list[list[np.ndarray]], shown: list[list[np.ndarray]]) -> dict:
    """Compare per-frame predictions (first hand) with the labels."""
    labelled = [bool(l) for l in video.labels]
    found = [bool(p) for p in shown]
    errs, rel = [], []
    for lab, pred in zip(video.labels, shown):
        if lab and pred:
            gt = lab[0]
            # the prediction nearest the labelled hand (several may be shown)
            p = min(pred, key=lambda k: np.linalg.norm(k.mean(0) - gt.mean(0)))
            e = np.linalg.norm(p - gt, axis=1).mean()
            errs.append(e)
            rel.append(e / max(np.ptp(gt, axis=0)))
    # frames from the hand's return (after a stretch with none) to the first frame with a hand shown
    refind = []
    for i in range(1, len(labelled)):
        if labelled[i] and not labelled[i - 1]:
            j = i
            while j < len(labelled) and labelled[j] and not found[j]:
                j += 1
            refind.append(j - i)
    jit_raw, jit_smooth = [], []
    for i in range(1, len(labelled)):
        if video.still[i] and video.still[i - 1] and raw[i] and raw[i - 1]:
            jit_raw.append(jitter([raw[i - 1][0], raw[i][0]]))
            jit_smooth.append(jitter([shown[i - 1][0], shown[i][0]]))
    mean = lambda a: float(np.mean(a)) if a else float("nan")
    return {
        "tracked": sum(l and f for l, f in zip(labelled, found)) / max(sum(labelled), 1),
        "false": sum(f and not l for l, f in zip(labelled, found)),
        "refind": "/".join(str(r) for r in refind) or "-",
        "epe": mean(errs), "rel": 100 * mean(rel), "jit_raw": mean(jit_raw), "jit_smooth": mean(jit_smooth),
    }


def run_ours(video: LabelledVideo, weights, backend: str, out: Path) -> dict:
    from handpose.inference import PoseEstimator

    estimator = PoseEstimator(weights, backend=backend)
    tracker = HandTracker(estimator, max_hands=1)
    raw, shown = [], []
    source = FileSource(str(video.path))
    writer = VideoOutput(out, source.fps, video.size)
    try:
        stats = process(source, tracker, video=writer,
                        on_frame=lambda f, tracks: (raw.append([t.hand.keypoints for t in tracks]),
                                                    shown.append([t.keypoints for t in tracks])))
    finally:
        source.close()
        writer.finish(True)
    return {"fps": stats.fps, "finds": stats.found, **score(video, raw, shown)}


def run_mediapipe(video: LabelledVideo, complexity: int, out: Path) -> dict:
    import mediapipe as mp

    hands = mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=1, model_complexity=complexity,
                                     min_detection_confidence=0.5, min_tracking_confidence=0.5)
    cap = cv2.VideoCapture(str(video.path))
    writer = VideoOutput(out, video.fps, video.size)
    shown, frames = [], 0
    start = time.perf_counter()
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        res = hands.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        pts = [np.array([[p.x * video.size[0], p.y * video.size[1]] for p in lm.landmark], np.float32)
               for lm in (res.multi_hand_landmarks or [])]
        for p in pts:
            draw_hand(bgr, p)
        writer.write(bgr)
        shown.append(pts)
        frames += 1
    seconds = time.perf_counter() - start
    writer.finish(True)
    cap.release()
    hands.close()
    # MediaPipe smooths its landmarks internally: raw and shown are the same series.
    return {"fps": frames / seconds, "finds": "-", **score(video, shown, shown)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=None, help="model file (default: the bundled weights)")
    p.add_argument("--backends", nargs="+", default=["torch", "onnx"])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = make_videos(tmp)
        for name, video in videos:
            for backend in args.backends:
                try:
                    r = run_ours(video, args.weights, backend, tmp / "out.mp4")
                except HandposeError as e:
                    print(f"{backend}: skipped ({e})", file=sys.stderr)
                    continue
                rows.append((name, f"handpose {backend}", r))
            try:
                import mediapipe  # noqa: F401
            except ImportError:
                continue
            for complexity, label in ((1, "MediaPipe full"), (0, "MediaPipe lite")):
                rows.append((name, label, run_mediapipe(video, complexity, tmp / "mp.mp4")))
    print(f"{torch.get_num_threads()} torch threads, {len(videos)} videos; FPS end to end incl. decode, draw and encode")
    print("| video | pipeline | FPS | hand found (labelled frames) | false frames | finder runs | re-found after (frames) "
          "| EPE px | EPE % hand | jitter raw px | jitter smoothed px |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, pipe, r in rows:
        r = {k: ("-" if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        f = lambda v: v if v == "-" else f"{v:.2f}"
        print(f"| {name} | {pipe} | {r['fps']:.1f} | {100 * r['tracked']:.0f}% | {r['false']} | {r['finds']} | {r['refind']} "
              f"| {r['epe']:.1f} | {r['rel']:.1f} | {f(r['jit_raw'])} | {f(r['jit_smooth'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
