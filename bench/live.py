"""`handpose live` end to end on made, labelled videos: decode -> detect/track -> estimate -> smooth -> draw ->
encode, per backend; and MediaPipe Hands (tracking mode) on the same videos in the same run when it is
installed (`make bench-deps`).

    .venv/bin/python bench/live.py [--videos still uci two-hands] [--backends onnx-int8 onnx torch] [--threads N]
                                   [--max-hands N] [--max-frames N]
    .venv/bin/python bench/live.py --clips DIR [DIR ...] [--backends onnx-int8] [--threads N] [--max-hands 2]
                                   [--also-detectors W ...] [--also-weights W ...] [--spare N] [--[no-]upright]
                                   [--also-turned] [--also-keep T ...] [--recrops N]
                                   [--also-recrops N ...] [--also-gate G ...] [--given-crops]

Videos (handpose/data/video.py): still (a mini-example image panned and zoomed), uci (two uci_hand videos,
when ../shared/data has them), two-hands (hgc_dev images 13 and 199, one mirrored, pasted into a hand-free
teacher_hands room, when ../shared/data has them; else mini-example hands in a synthetic room). Both
pipelines track up to as many hands as the video holds (--max-hands overrides): ours as `handpose live` runs
(the bundled detector finds new hands, tracking from the keypoints otherwise), MediaPipe with
max_num_hands the same.

Prints one table: FPS; FPS over MediaPipe full's (model_complexity=1) on the same video; the share of
labelled hands reported; the share of labelled frames where every labelled hand was reported ("both hands"
on two-hands); frames with a reported hand that matches no label; detector runs (frames where the search for
new hands ran, of all frames: the detector, or the pose-model finder where no detector weights exist);
frames to re-find the hands after they come back; keypoint error (EPE, pixels, and % of the hand's size)
and jitter (frame-to-frame keypoint motion, pixels) on the still stretches, raw and smoothed. A reported
hand is a labelled one's when its mean keypoint distance is under half that hand's size (nearest pairs
first, each used once). Videos go to a temporary folder and are deleted.

With --clips, ``--given-crops`` adds two rows per pose model that take finding and tracking out of the question:
the model alone (live's backend and settings) on the crops MediaPipe full's own keypoints give, of the same frame
(what the pose model draws when the crop is right) and of the frame before (tracking from a perfect last frame).
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

from handpose.defaults import VIDEO  # noqa: E402
from handpose.draw import draw_hand  # noqa: E402
from handpose.errors import HandposeError  # noqa: E402
from handpose.apps.label.sources import VIDEO_EXTS  # noqa: E402
from handpose.apps.live import process  # noqa: E402
from handpose.apps.outputs import VideoOutput  # noqa: E402
from handpose.apps.sources import FileSource  # noqa: E402
from handpose.data.transforms import keypoints_box  # noqa: E402
from handpose.pipeline import HandPipeline  # noqa: E402
from handpose.pose.inference import BACKENDS, Hand  # noqa: E402
from handpose.smoothing import jitter  # noqa: E402
from handpose.tracking import RECROP_GATE, SPARE, HandTracker  # noqa: E402
from handpose.data.video import (LabelledVideo, freihand_hands, hand_free_room, mini_example_video,  # noqa: E402
                                 two_hand_video, uci_video)

SHARED = ROOT.parent / "shared" / "data"
UCI, HGC, FRAMES = SHARED / "uci_hand", SHARED / "hgc_dev", SHARED / "teacher_hands" / "frames.json"
VIDEOS = ("still", "uci", "two-hands")
TWO_HAND_FRAMES = 255  # two_hand_video's default length (3 x 45 still + 2 x 60 moving)


def make_videos(folder: Path, names: list[str], max_frames: int | None) -> list[tuple[str, LabelledVideo]]:
    videos = []
    if "still" in names:
        videos.append(("still (mini-example pan/zoom)", mini_example_video(folder / "still.mp4")))
    if "uci" in names:
        if not UCI.exists():
            raise HandposeError(f"--videos uci needs {UCI}")
        videos.append(("uci 001 right, 3 seq", uci_video(UCI, folder / "uci_001_right.mp4", "001", "right", 3)))
        videos.append(("uci 040 left, 3 seq", uci_video(UCI, folder / "uci_040_left.mp4", "040", "left", 3)))
    if "two-hands" in names:
        # A quick run (--max-frames) gets a video that short, every stretch scaled down, rather than the
        # first still seconds of the full one.
        k = min(1.0, max_frames / TWO_HAND_FRAMES) if max_frames else 1.0
        length = dict(still=max(1, round(45 * k)), move=max(1, round(60 * k)))
        if HGC.exists() and FRAMES.exists():
            room, where = hand_free_room(FRAMES)
            v = two_hand_video(folder / "two.mp4", freihand_hands(HGC, "evaluation", (13, 199)), room, **length)
            videos.append((f"two hands (hgc_dev 13, 199 in {Path(where.split()[0]).stem})", v))
        else:
            videos.append(("two hands (mini-example 0, 3, synthetic room)", two_hand_video(folder / "two.mp4", **length)))
    return videos


def hand_size(keypoints: np.ndarray) -> float:
    return float(max(np.ptp(keypoints, axis=0)))


def match(labels: list[np.ndarray], preds: list[np.ndarray], within: float = 0.5) -> list[tuple[int, int]]:
    """(label, prediction) index pairs, nearest first (mean keypoint distance over the labelled hand's size),
    each used once; a prediction ``within`` of the labelled hand's size or more away is not that hand (it is
    elsewhere, or on another)."""
    pairs = sorted((float(np.linalg.norm(p - g, axis=1).mean()) / max(hand_size(g), 1.0), i, j)
                   for i, g in enumerate(labels) for j, p in enumerate(preds))
    out: list[tuple[int, int]] = []
    for d, i, j in pairs:
        if d < within and all(i != a and j != b for a, b in out):
            out.append((i, j))
    return out


def score(video: LabelledVideo, raw: list[list[np.ndarray]], shown: list[list[np.ndarray]]) -> dict:
    """Per-frame predictions (each track's raw and shown keypoints, in the same order) against the labels."""
    n = len(shown)  # --max-frames may have cut the run short
    labels, still = video.labels[:n], video.still[:n]
    matches = [match(l, p) for l, p in zip(labels, shown)]
    labelled = [bool(l) for l in labels]
    complete = [bool(l) and len(m) == len(l) for l, m in zip(labels, matches)]  # every labelled hand reported
    errs = [(np.linalg.norm(shown[f][j] - labels[f][i], axis=1).mean(), hand_size(labels[f][i]))
            for f, m in enumerate(matches) for i, j in m]
    # frames from the hands' return (after a stretch with none) until all of them are shown
    refind = []
    for i in range(1, n):
        if labelled[i] and not labelled[i - 1]:
            j = i
            while j < n and labelled[j] and not complete[j]:
                j += 1
            refind.append(j - i)
    jit_raw, jit_smooth = [], []
    for f in range(1, n):
        if still[f] and still[f - 1]:
            before = dict(matches[f - 1])
            for i, j in matches[f]:  # the same labelled hand on both frames
                if i in before:
                    jit_raw.append(jitter([raw[f - 1][before[i]], raw[f][j]]))
                    jit_smooth.append(jitter([shown[f - 1][before[i]], shown[f][j]]))
    mean = lambda a: float(np.mean(a)) if a else float("nan")
    return {
        "hands": sum(map(len, matches)) / max(sum(map(len, labels)), 1),
        "all": sum(complete) / max(sum(labelled), 1),
        "false": sum(len(p) > len(m) for p, m in zip(shown, matches)),
        "refind": "/".join(str(r) for r in refind) or "-",
        "epe": mean([e for e, _ in errs]), "rel": 100 * mean([e / s for e, s in errs]),
        "jit_raw": mean(jit_raw), "jit_smooth": mean(jit_smooth),
    }


def track_ours(path: Path, size: tuple[int, int], args: argparse.Namespace, backend: str, max_hands: int,
               out: Path, detector: str | None = None, weights: str | None = None,
               upright: bool | None = None, keep: float | None = None,
               recrops: int | None = None, gate: float | None = None) -> tuple[float, str, list, list]:
    """`handpose live` on a video file: (FPS, detector runs, per frame each track's raw and shown keypoints);
    ``detector``, ``weights``, ``upright``, ``keep``, ``recrops``: detector and pose model weights, upright crops,
    the presence score that keeps a track and a new hand's re-crops instead of --detector's, --weights',
    --upright's, --keep-threshold's and --recrops'."""
    # As `handpose live` builds it: the bundled detector (or the pose-model finder without detector weights).
    pipeline = HandPipeline.create(weights or args.weights, backend=backend, detector_weights=detector or args.detector,
                                   max_hands=max_hands, threads=args.threads, flip_test=VIDEO.flip_test,
                                   upright=args.upright if upright is None else upright,
                                   recrops=args.recrops if recrops is None else recrops)
    tracker = HandTracker(pipeline, max_hands, spare=args.spare,
                          keep_threshold=args.keep_threshold if keep is None else keep,
                          recrop_gate=args.recrop_gate if gate is None else gate)
    raw, shown = [], []
    source = FileSource(str(path))
    writer = VideoOutput(out, source.fps, size)
    try:
        stats = process(source, tracker, video=writer, max_frames=args.max_frames,
                        on_frame=lambda f, tracks: (raw.append([t.hand.keypoints for t in tracks]),
                                                    shown.append([t.keypoints for t in tracks])))
    finally:
        source.close()
        writer.finish(True)
    # stats.found: frames where the tracker searched for new hands, i.e. ran the pipeline's detector
    runs = f"{stats.found}/{stats.frames}" + ("" if pipeline.detector is not None else " (finder)")
    return stats.fps, runs, raw, shown


def run_ours(video: LabelledVideo, args: argparse.Namespace, backend: str, max_hands: int, out: Path) -> dict:
    fps, runs, raw, shown = track_ours(video.path, video.size, args, backend, max_hands, out)
    return {"fps": fps, "searches": runs, **score(video, raw, shown)}


def track_mediapipe(path: Path, size: tuple[int, int], fps: float, complexity: int, max_hands: int,
                    max_frames: int | None, out: Path) -> tuple[float, list]:
    """MediaPipe Hands in tracking mode on a video file, drawn and encoded as ours: (FPS, per frame its hands)."""
    import mediapipe as mp

    hands = mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=max_hands, model_complexity=complexity,
                                     min_detection_confidence=0.5, min_tracking_confidence=0.5)
    cap = cv2.VideoCapture(str(path))
    writer = VideoOutput(out, fps, size)
    shown, frames = [], 0
    start = time.perf_counter()
    while max_frames is None or frames < max_frames:
        ok, bgr = cap.read()
        if not ok:
            break
        res = hands.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        # normalised landmarks are in pixel-edge units; pixel centres sit half a pixel in (as ours)
        pts = [np.array([[p.x * size[0] - 0.5, p.y * size[1] - 0.5] for p in lm.landmark], np.float32)
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
    return frames / seconds, shown


def run_mediapipe(video: LabelledVideo, complexity: int, max_hands: int, max_frames: int | None, out: Path) -> dict:
    fps, shown = track_mediapipe(video.path, video.size, video.fps, complexity, max_hands, max_frames, out)
    # MediaPipe smooths its landmarks internally (raw and shown are the same series) and does not say when
    # its palm detector ran.
    return {"fps": fps, "searches": "-", **score(video, shown, shown)}


# -- real clips: no labels; MediaPipe full's tracked hands are the reference --------------------------------
AGREE = 0.2  # a reported hand is MediaPipe's when its mean keypoint distance is under this share of its size
NEAR = 0.6  # a missed hand with a left-over reported hand closer than this share of its size was drawn off


def agreement(reference: list[list[np.ndarray]], other: list[list[np.ndarray]]) -> dict:
    """Of the reference's hands (per frame), the share ``other`` also reports within AGREE of the hand's size
    (``match``); ``other``'s hands that match none (found where it sees none); and the reference's hands it
    missed split in two: "off" (one of its left-over hands lies within NEAR of the hand's size: found but
    drawn too far off, or on the neighbouring hand) and "unseen" (nothing reported there)."""
    n = min(len(reference), len(other))
    total = found = extra = off = 0
    for ref, hands in zip(reference[:n], other[:n]):
        pairs = match(ref, hands, AGREE)
        total, found, extra = total + len(ref), found + len(pairs), extra + len(hands) - len(pairs)
        left = [h for j, h in enumerate(hands) if all(j != b for _, b in pairs)]
        off += len(match([g for i, g in enumerate(ref) if all(i != a for a, _ in pairs)], left, NEAR))
    return {"reference": total, "found": found, "share": found / total if total else float("nan"), "extra": extra,
            "off": off, "unseen": total - found - off}


def given_crops(path: Path, reference: list[list[np.ndarray]], args: argparse.Namespace, backend: str,
                weights: str | None = None) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    """The pose model (``weights``, default --weights') alone on the crops a track would take from MediaPipe's
    hands (HandTracker.roi): per frame, from the same frame's hands and from the frame before's."""
    pipeline = HandPipeline.create(weights or args.weights, backend=backend, use_detector=False, threads=args.threads,
                                   flip_test=VIDEO.flip_test, upright=args.upright, side_weights="none", gestures="none")
    tracker = HandTracker(pipeline)
    crop = lambda k: tracker.roi(Hand(k, np.ones(len(k), np.float32), 1.0, keypoints_box(k)))
    same, before, last = [], [], []
    cap = cv2.VideoCapture(str(path))
    for hands in reference:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        for given, out in ((hands, same), (last, before)):
            out.append([h.keypoints for h in pipeline.estimator.estimate_many([(rgb, crop(k)) for k in given])])
        last = hands
    cap.release()
    return same, before


def clip_paths(folder: Path) -> list[Path]:
    """Every video under ``folder``; a video file given itself is one clip."""
    if folder.is_file() and folder.suffix.lower() in VIDEO_EXTS:
        return [folder]
    if not folder.is_dir():
        raise HandposeError(f"--clips {folder}: not a folder or a video file")
    clips = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTS)
    if not clips:
        raise HandposeError(f"--clips {folder}: no video files ({', '.join(sorted(VIDEO_EXTS))})")
    return clips


def run_clips(folders: list[Path], args: argparse.Namespace, tmp: Path) -> int:
    """Each clip: MediaPipe full (tracking), then ours per backend and MediaPipe lite; the share of MediaPipe
    full's hands each also reports, its extra hands, and FPS beside MediaPipe full's in the same run."""
    hands = args.max_hands or 2
    rows, sums = [], {}
    for folder, path in [(f if f.is_dir() else f.parent, p) for f in folders for p in clip_paths(f)]:
        cap = cv2.VideoCapture(str(path))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        cap.release()
        if size[0] < 1:
            print(f"{path}: cannot be decoded, skipped", file=sys.stderr)
            continue
        name = str(path.relative_to(folder.parent if len(folders) > 1 else folder))  # source/clip
        print(f"{name}: {size[0]}x{size[1]}", file=sys.stderr)
        full_fps, reference = track_mediapipe(path, size, fps, 1, hands, args.max_frames, tmp / "mp.mp4")
        here = [("MediaPipe full", full_fps, "-", agreement(reference, reference))]
        for backend in args.backends:
            variants = [{}] + [{"detector": d} for d in args.also_detectors] + [
                {"weights": w} for w in args.also_weights] + (
                [{"upright": not args.upright}] if args.also_turned else []) + [
                {"keep": k} for k in args.also_keep] + [{"recrops": r} for r in args.also_recrops] + [
                {"gate": g} for g in args.also_gate]
            for v in variants:
                f, runs, _, shown = track_ours(path, size, args, backend, hands, tmp / "out.mp4", **v)
                label = f"handpose {backend}" + (f", detector {v['detector']}" if "detector" in v else "") + (
                    f", pose model {v['weights']}" if "weights" in v else "") + (
                    "" if "upright" not in v else ", upright crops" if v["upright"] else ", crops not turned") + (
                    f", tracks kept down to presence {v['keep']:g}" if "keep" in v else "") + (
                    f", {v['recrops']} re-crops of a new hand" if "recrops" in v else "") + (
                    f", re-crops of boxes scoring {v['gate']:g}x the presence threshold" if "gate" in v else "")
                here.append((label, f, runs, agreement(reference, shown)))
            for weights in [None] + args.also_weights if args.given_crops else []:
                same, before = given_crops(path, reference, args, backend, weights)
                model = f"pose model {weights}" if weights else "pose model"
                here += [(f"{model} ({backend}) on MediaPipe's crops, same frame", float("nan"), "-", agreement(reference, same)),
                         (f"{model} ({backend}) on MediaPipe's crops, frame before", float("nan"), "-", agreement(reference, before))]
        f, lite = track_mediapipe(path, size, fps, 0, hands, args.max_frames, tmp / "mp.mp4")
        here.append(("MediaPipe lite", f, "-", agreement(reference, lite)))
        for label, f, runs, a in here:
            rows.append((name, f"{size[0]}x{size[1]}", len(reference), label, f, f / full_fps, runs, a))
            s = sums.setdefault(label, {"found": 0, "reference": 0, "extra": 0, "off": 0, "unseen": 0, "ratios": []})
            for key in ("found", "reference", "extra", "off", "unseen"):
                s[key] += a[key]
            s["ratios"].append(f / full_fps)
    print(f"{torch.get_num_threads()} torch threads; up to {hands} hands; FPS end to end incl. decode, draw and encode; "
          f"found = MediaPipe full's tracked hands also reported within {AGREE} of the hand's size"
          + (f"; first {args.max_frames} frames of each" if args.max_frames else ""))
    print("| clip | size | frames | pipeline | FPS | FPS / MediaPipe full | MediaPipe full's hands found | extra hands "
          "| missed: drawn off / unseen | detector runs (frames) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, size, frames, label, f, ratio, runs, a in rows:
        print(f"| {name} | {size} | {frames} | {label} | {f:.1f} | {ratio:.2f} | {a['found']}/{a['reference']} "
              f"({100 * a['share']:.0f}%) | {a['extra']} | {a['off']} / {a['unseen']} | {runs} |")
    print("\nAll clips together (FPS ratio: the mean of the per-clip ratios)\n")
    print("| pipeline | MediaPipe full's hands found | extra hands | missed: drawn off / unseen | FPS / MediaPipe full |")
    print("|---|---|---|---|---|")
    for label, s in sums.items():
        share = s["found"] / s["reference"] if s["reference"] else float("nan")
        pct = lambda k: f"{100 * s[k] / s['reference']:.1f}%" if s["reference"] else "-"
        print(f"| {label} | {s['found']}/{s['reference']} ({100 * share:.1f}%) | {s['extra']} "
              f"| {pct('off')} / {pct('unseen')} | {np.mean(s['ratios']):.2f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", nargs="+", choices=VIDEOS, default=None,
                   help="default: all that can be made here (uci needs ../shared/data/uci_hand)")
    p.add_argument("--weights", default=None, help="model file (default: the bundled weights)")
    p.add_argument("--detector", default=None, metavar="WEIGHTS", help="hand detector weights (default: the bundled ones)")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, default=["onnx-int8", "onnx", "torch"],
                   help="ours, each in turn (default: all three; onnx-int8 is handpose live's default)")
    p.add_argument("--threads", type=int, default=None, help="torch and ONNX Runtime threads (default: their choice)")
    p.add_argument("--max-hands", type=int, default=None,
                   help="hands both pipelines track (default: the most any frame of the video holds)")
    p.add_argument("--clips", type=Path, nargs="+", default=None, metavar="DIR",
                   help="real videos (every video file under each DIR, or video files, e.g. bench/realdata.py's clips) instead of made ones: "
                        "scored against MediaPipe full's tracked hands (needs MediaPipe)")
    p.add_argument("--also-detectors", nargs="+", default=[], metavar="WEIGHTS",
                   help="with --clips: also run ours with each of these detector weights (a row each)")
    p.add_argument("--spare", type=int, default=SPARE, metavar="N",
                   help=f"detections the tracker tries beyond the hands missing (default {SPARE}, live's)")
    p.add_argument("--upright", action=argparse.BooleanOptionalAction, default=VIDEO.upright,
                   help=f"tracking crops turned so the hand points up (default {'on' if VIDEO.upright else 'off'}, live's)")
    p.add_argument("--also-turned", action="store_true",
                   help="with --clips: also run ours with --upright the other way (a row)")
    p.add_argument("--also-weights", nargs="+", default=[], metavar="WEIGHTS",
                   help="with --clips: also run ours with each of these pose model weights (a row each)")
    p.add_argument("--recrops", type=int, default=VIDEO.recrops, metavar="N",
                   help=f"re-crops of a new hand, as `handpose live --recrops` (default: its default, {VIDEO.recrops})")
    p.add_argument("--also-recrops", nargs="+", type=int, default=[], metavar="N",
                   help="with --clips: a row per value with that many re-crops of a new hand")
    p.add_argument("--recrop-gate", type=float, default=RECROP_GATE, metavar="G",
                   help=f"a search re-crops only boxes whose first pass scores G x the presence threshold (0: all; "
                        f"default live's, {RECROP_GATE})")
    p.add_argument("--also-gate", nargs="+", type=float, default=[], metavar="G",
                   help="with --clips: a row per value of --recrop-gate")
    p.add_argument("--keep-threshold", type=float, default=None, metavar="T",
                   help="presence score that keeps a track, as `handpose live --keep-threshold` (default: its default)")
    p.add_argument("--also-keep", nargs="+", type=float, default=[], metavar="T",
                   help="with --clips: a row per value with tracks kept down to that presence score")
    p.add_argument("--given-crops", action="store_true",
                   help="with --clips: also the pose model (and each --also-weights) alone on the crops of MediaPipe's own "
                        "hands, this frame's and the frame before's (two rows each; no FPS)")
    p.add_argument("--max-frames", type=int, default=None,
                   help="only the first N frames of each video, for a quick check (the two-hands video is made N long)")
    args = p.parse_args(argv)
    for name in ("threads", "max_hands", "max_frames"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.spare < 0:
        p.error(f"--spare must be 0 or more, got {args.spare}")
    if not all(0 <= r <= 3 for r in [args.recrops, *args.also_recrops]):
        p.error("--recrops and --also-recrops take 0 to 3")
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.videos or [v for v in VIDEOS if v != "uci" or UCI.exists()]
    try:
        import mediapipe  # noqa: F401
        with_mediapipe = True
    except ImportError:
        with_mediapipe = False
        print("MediaPipe is not installed (`make bench-deps`): ours only, no FPS ratio", file=sys.stderr)
    if args.clips is not None:
        if not with_mediapipe:
            print("error: --clips scores against MediaPipe's tracked hands: install it (make bench-deps)", file=sys.stderr)
            return 2
        try:
            with tempfile.TemporaryDirectory() as tmp:
                return run_clips(args.clips, args, Path(tmp))
        except HandposeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            videos = make_videos(tmp, names, args.max_frames)
            for name, video in videos:
                hands = args.max_hands or max(video.max_hands, 1)
                here = []
                for backend in args.backends:
                    try:
                        here.append((f"handpose {backend}", run_ours(video, args, backend, hands, tmp / "out.mp4")))
                    except HandposeError as e:
                        print(f"{backend}: skipped ({e})", file=sys.stderr)
                if with_mediapipe:
                    for complexity, label in ((1, "MediaPipe full"), (0, "MediaPipe lite")):
                        here.append((label, run_mediapipe(video, complexity, hands, args.max_frames, tmp / "mp.mp4")))
                # the ratio is against MediaPipe full on this video in this run: both saw the same machine load
                full = next((r["fps"] for label, r in here if label == "MediaPipe full"), float("nan"))
                rows += [(name, hands, label, {**r, "ratio": r["fps"] / full}) for label, r in here]
    except HandposeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{torch.get_num_threads()} torch threads, {len(videos)} videos; FPS end to end incl. decode, draw and encode"
          + (f"; first {args.max_frames} frames of each" if args.max_frames else ""))
    print("| video | max hands | pipeline | FPS | FPS / MediaPipe full | hands found | all hands found (labelled frames) "
          "| false frames | detector runs (frames) | re-found after (frames) | EPE px | EPE % hand | jitter raw px | jitter smoothed px |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, hands, pipe, r in rows:
        r = {k: ("-" if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        f = lambda v, d=2: v if v == "-" else f"{v:.{d}f}"
        print(f"| {name} | {hands} | {pipe} | {r['fps']:.1f} | {f(r['ratio'])} | {100 * r['hands']:.0f}% | {100 * r['all']:.0f}% "
              f"| {r['false']} | {r['searches']} | {r['refind']} | {f(r['epe'], 1)} | {f(r['rel'], 1)} | {f(r['jit_raw'])} "
              f"| {f(r['jit_smooth'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
