"""Hand detection: recall, precision and ms per frame of our detector (PyTorch, ONNX Runtime fp32 and int8) and
of the whole photo pipeline, beside MediaPipe Hands in photo mode on the same frames in the same run; and the
handedness accuracy of both on uci_hand.

    OMP_NUM_THREADS=2 .venv/bin/python bench/detect.py [--limit N] [--threads 2] [--json OUT.json]
                                                       [--weights POSE] [--detector DETECTOR] [--canvas 480]
                                                       [--backends onnx ...] [--max-hands 2] [--compare-head]
                                                       [--real DIR [--only-real]] [--no-handedness] [--iou 0.5]

Sets (boxes are keypoint boxes, as the detector's; a prediction is right when it matches a truth box one to
one at IoU >= 0.5, codec.match):
  palms            the 300 teacher_hands frames of source palms (never trained on). Their boxes are MediaPipe's
                   (photo mode, mirror-checked): a hand it missed has no box, so our recall there is a floor
                   and some of our "false" boxes may be hands; MediaPipe's own row there is high by construction.
  hgc_dev@S, uci_hand@S   1-3 hands of that set pasted with a grown skeleton mask into hand-free squares of
                   palms frames (detect/data.py's validation builder, seeded), the hand's longer keypoint-box
                   side S = 40, 80, 160 px, on a --canvas px square (100 images per set). hgc_dev is never
                   trained on; uci_hand hands are pasted in the detector's training (other rooms, other seeds).
                   Our detector is trained on such pastes and MediaPipe never saw one (a pasted hand has no
                   arm and a mask edge): these sets favour ours; they measure scale, not a fair contest.
  pairs@S          two hgc_dev hands of side S = 80, 160 px a picture, the second laid against the first
                   (touching or overlapping by up to a third, detect/data.py's Paster): one box over both, or
                   a hand lost, shows in recall.
  handedness       the 944 uci_hand photos (256 px crops, one hand-made left/right label each, from the
                   sequence name): the hand matching the labelled box, its side against the label.
  real/<source>    with --real DIR: each DIR/<source>/frames.json that bench/realdata.py writes, real photos
                   with hand boxes drawn by people around the visible hand (larger than a keypoint box, so
                   IoU >= 0.5 undercounts every engine alike); never trained on by any project model.
--limit N caps every set at N images (a smoke run: --limit 3).

Engines: "detector B" is HandDetector(backend=B) alone (score >= its threshold); "pipeline B" is `predict`'s
path with its defaults on engine B (HandPipeline.create: detector -> pose crops with the flip test -> re-crops ->
keypoints, at most --max-hands hands; B = onnx-int8 gets the fp32 ONNX detector, as `predict` does), scored by its
hands' keypoint boxes, its left/right from the palm-side classifier (handpose/side; --compare-head adds each
pipeline with the pose model's own left/right head instead); "mediapipe" is MediaPipe Hands 0.10.14 (static_image_mode=True, max_num_hands=--max-hands,
model_complexity=1), scored by its landmarks' boxes, when mediapipe is importable. Each engine makes its own
pass over the same frames (interleaved, an engine's still-spinning thread pool slows the next one's call);
ms is the median (and p90) over the detection sets' frames, the first call of each engine (start-up)
excluded. MediaPipe picks its own threads; ours use --threads.

Prints Markdown tables (detection: recall / precision per set and ms per frame; with --real, recall on the real
sets together split by hand size, the drawn box's longer side under 40, 40-80 and over 80 px, and for touching
hands; handedness: hands found, accuracy, ms per photo, unless --no-handedness) and writes every count and timing
to --json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handpose.data.datasets import HandFreeCrops, load_coco, read_rgb  # noqa: E402
from handpose.detect import HandDetector  # noqa: E402
from handpose.detect.codec import iou_matrix, matched, touching  # noqa: E402
from handpose.detect.data import keypoint_box, load_frames, load_paste_hands, pasted_samples  # noqa: E402
from handpose.errors import HandposeError  # noqa: E402
from handpose.pipeline import HandPipeline  # noqa: E402
from handpose.pose.handedness import MEDIAPIPE_MIRRORED  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
FRAMES = DATA / "teacher_hands" / "frames.json"
UCI = DATA / "uci_hand" / "annotations.json"
PASTE = {"hgc_dev": {"format": "freihand", "root": str(DATA / "hgc_dev"), "split": "evaluation", "box": "keypoints"},
         "uci_hand": {"format": "coco", "annotations": str(UCI)}}
SIDES = (40, 80, 160)
# Hand-size bins of the real sets' recall split: the drawn box's longer side in frame pixels.
SIZE_BINS = (("under 40 px", 0, 40), ("40-80 px", 40, 80), ("over 80 px", 80, float("inf")))
PASTED = 100  # images per pasted set
IOU = 0.5
BACKENDS = ("torch", "onnx", "onnx-int8")

# An engine: RGB image -> (boxes (N, 4) x, y, w, h in image pixels, the person's side per box or None).
Engine = Callable[[np.ndarray], tuple[np.ndarray, list]]


def boxes_of(boxes: list) -> np.ndarray:
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def pipeline_engine(pipeline: HandPipeline) -> Engine:
    def run(image: np.ndarray) -> tuple[np.ndarray, list]:
        hands = pipeline(image)
        return boxes_of([h.box for h in hands]), [h.handedness for h in hands]  # None without a handedness head

    return run


def make_engines(args: argparse.Namespace) -> dict[str, Engine]:
    engines: dict[str, Engine] = {}
    pipelines: dict[str, HandPipeline] = {}
    for backend in args.backends:
        detector = HandDetector(args.detector, backend=backend, threads=args.threads)
        engines[f"detector {backend}"] = lambda im, d=detector: (boxes_of([x.box for x in d(im)]), [])
        # predict's path on this engine: its defaults (flip test, re-crops), the fp32 detector for int8
        pipelines[backend] = HandPipeline.create(args.weights, backend=backend, detector_weights=args.detector,
                                                 max_hands=args.max_hands, threads=args.threads, gestures="none")
        if args.compare_head and pipelines[backend].side is not None and pipelines[backend].estimator.has_handedness:
            # the same pipeline with the pose model's own left/right head instead of the palm-side classifier
            pipelines[f"{backend}, pose-model head"] = HandPipeline.create(
                args.weights, backend=backend, detector_weights=args.detector, max_hands=args.max_hands,
                threads=args.threads, gestures="none", side_weights="none")
    for backend, pipeline in pipelines.items():
        engines[f"pipeline {backend}"] = pipeline_engine(pipeline)
    try:
        os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
        import mediapipe as mp
    except ImportError:
        print("mediapipe is not importable (make bench-deps): its rows are left out", file=sys.stderr)
        return engines
    hands = mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=args.max_hands, model_complexity=1)

    def mediapipe(image: np.ndarray) -> tuple[np.ndarray, list]:
        h, w = image.shape[:2]
        result = hands.process(image)
        boxes, sides = [], []
        for lm, side in zip(result.multi_hand_landmarks or [], result.multi_handedness or []):
            # Normalised landmarks are in pixel-edge units; pixel centres sit half a pixel in (as the labels).
            kps = np.array([[p.x * w - 0.5, p.y * h - 0.5] for p in lm.landmark], np.float32)
            boxes.append(keypoint_box(kps, np.ones(21)))
            label = side.classification[0].label  # MediaPipe assumes a mirrored selfie (see pose/handedness.py)
            sides.append(("right" if label == "Left" else "left") if MEDIAPIPE_MIRRORED else label.lower())
        return boxes_of(boxes), sides

    engines[f"mediapipe {mp.__version__} photo"] = mediapipe
    return engines


def detection_sets(args: argparse.Namespace) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """name -> [(RGB image, truth boxes (N, 4))]."""
    n = args.limit
    real = {f"real/{p.parent.name}": [(read_rgb(f.image), f.boxes) for f in load_frames(p)[:n]]
            for p in (sorted(Path(args.real).glob("*/frames.json")) if args.real else [])}
    if args.only_real:
        if not real:
            raise HandposeError(f"--only-real: no */frames.json under --real {args.real}")
        return real
    sets = {"palms": [(read_rgb(f.image), f.boxes) for f in load_frames(FRAMES, sources=["palms"])[:n]], **real}
    rooms = HandFreeCrops(FRAMES, sources=["palms"])
    for name, spec in PASTE.items():
        hands = load_paste_hands([spec])
        for side in SIDES:
            sets[f"{name}@{side}"] = pasted_samples(hands, rooms, args.canvas, min(n or PASTED, PASTED), (side, side))
    hands = load_paste_hands([PASTE["hgc_dev"]])
    for side in SIDES[1:]:  # touching pairs of hands never trained on: do they stay two?
        sets[f"pairs@{side}"] = pasted_samples(hands, rooms, args.canvas, min(n or PASTED, PASTED), (side, side),
                                               touching=True)
    return sets


def hand_groups(truth: np.ndarray) -> list[list[str]]:
    """Per truth box, the split groups it counts in: its size bin and "touching" (it meets another hand)."""
    near = touching(truth)
    return [[name for name, lo, hi in SIZE_BINS if lo <= max(b[2], b[3]) < hi] + (["touching"] if t else [])
            for b, t in zip(np.asarray(truth).reshape(-1, 4), near)]


def run_detection(engines: dict[str, Engine], sets: dict, iou: float) -> tuple[dict, dict, dict]:
    """Per set and engine: true positives, predictions, truths; per engine: ms of every frame; per engine and
    split group (hand_groups) of the real sets: truths and those found. Each engine
    makes its own pass over every frame: interleaved, one engine's thread pool still spinning after its call
    steals the cores of the next (on 2 cores that doubled the detector's median), which no user meets."""
    counts = {s: {e: {"tp": 0, "predicted": 0, "truth": 0} for e in engines} for s in sets}
    groups = [name for name, _, _ in SIZE_BINS] + ["touching"]
    split = {e: {g: {"truth": 0, "found": 0} for g in groups} for e in engines}
    ms: dict[str, list[float]] = {e: [] for e in engines}
    total = sum(len(samples) for samples in sets.values())
    for name, engine in engines.items():
        done = 0
        for set_name, samples in sets.items():
            c = counts[set_name][name]
            for image, truth in samples:
                done += 1
                print(f"\r{name}: {done}/{total}   ", end="", file=sys.stderr, flush=True)
                t0 = time.perf_counter()
                boxes, _ = engine(image)
                ms[name].append(1000 * (time.perf_counter() - t0))
                found = matched(boxes, truth, iou)
                c["tp"] += int(found.sum())
                c["predicted"] += len(boxes)
                c["truth"] += len(truth)
                if set_name.startswith("real/"):
                    for hit, names in zip(found, hand_groups(truth)):
                        for g in names:
                            split[name][g]["truth"] += 1
                            split[name][g]["found"] += int(hit)
    print(file=sys.stderr)
    return counts, ms, split


def run_handedness(engines: dict[str, Engine], limit: int | None, iou: float) -> dict:
    """Per engine but the bare detectors: uci_hand photos whose labelled hand it found, how many of those got
    a side and how many the right one, and ms per photo."""
    records = [r for r in load_coco(UCI) if r.extra.get("hand") in ("left", "right")][:limit]
    if not records:
        raise HandposeError(f"{UCI}: no annotation has a 'hand' field (left/right)")
    names = [n for n in engines if not n.startswith("detector")]
    out = {n: {"photos": len(records), "found": 0, "sided": 0, "correct": 0, "ms": []} for n in names}
    truths = [keypoint_box(r.keypoints, r.visibility) for r in records]
    for name in names:  # one pass per engine, as run_detection
        for i, (r, truth) in enumerate(zip(records, truths)):
            print(f"\rhandedness, {name}: {i + 1}/{len(records)}   ", end="", file=sys.stderr, flush=True)
            image = read_rgb(r.image)
            t0 = time.perf_counter()
            boxes, sides = engines[name](image)
            out[name]["ms"].append(1000 * (time.perf_counter() - t0))
            if len(boxes):
                overlap = iou_matrix(boxes, truth)[:, 0]
                side = sides[int(overlap.argmax())]
                if overlap.max() >= iou:
                    out[name]["found"] += 1
                    out[name]["sided"] += side is not None
                    out[name]["correct"] += side == r.extra["hand"]
    print(file=sys.stderr)
    return out


def ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="at most N images per set (default: all)")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads of our engines")
    ap.add_argument("--json", default=None, metavar="OUT", help="write every figure to this JSON file")
    ap.add_argument("--weights", default=None, help="pose model of the pipeline rows (default: the bundled one)")
    ap.add_argument("--detector", default=None, help="detector weights (default: the bundled ones)")
    ap.add_argument("--max-hands", type=int, default=2, help="most hands per frame for the pipeline and MediaPipe "
                    "(default 2, predict's; the pasted sets hold 1-3 hands, so 2 caps recall there at about 5/6)")
    ap.add_argument("--compare-head", action="store_true", help="also run each pipeline with the pose model's own "
                    "left/right head instead of the palm-side classifier (handedness rows)")
    ap.add_argument("--real", default=None, metavar="DIR", help="also the real sets bench/realdata.py wrote here")
    ap.add_argument("--only-real", action="store_true", help="only the --real sets (no palms, pasted or handedness)")
    ap.add_argument("--no-handedness", action="store_true", help="leave out the handedness table (uci_hand)")
    ap.add_argument("--iou", type=float, default=IOU, help=f"IoU at which a box matches a truth box (default {IOU})")
    ap.add_argument("--canvas", type=int, default=480, help="side of the square images hands are pasted into")
    ap.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS),
                    help="our engines (default: all three; fewer makes a full run shorter)")
    args = ap.parse_args()
    if args.limit is not None and args.limit < 1:
        raise HandposeError(f"--limit must be at least 1, got {args.limit}")
    if args.threads < 1 or args.canvas < 64 or args.max_hands < 1:
        raise HandposeError("--threads and --max-hands must be at least 1 and --canvas at least 64")
    torch.set_num_threads(args.threads)
    engines = make_engines(args)  # first: a wrong weights file is reported before the images are read
    sets = detection_sets(args)
    first = next(iter(sets.values()))[0][0]
    for engine in engines.values():  # start-up (session creation, first-call allocation) is not timed
        engine(first)
    counts, ms, split = run_detection(engines, sets, args.iou)
    handed = {} if args.only_real or args.no_handedness else run_handedness(engines, args.limit, args.iou)

    print(f"\nDetection: recall / precision at IoU >= {args.iou} (keypoint boxes); {args.threads} threads; "
          f"pasted sets on {args.canvas} px squares; ms per frame over {len(next(iter(ms.values())))} frames\n")
    print("| engine | " + " | ".join(sets) + " | ms / frame | p90 |")
    print("|---|" + "---|" * (len(sets) + 2))
    result: dict = {"config": {**vars(args), "iou": args.iou, "sides": SIDES}, "detection": {}, "ms": {}, "handedness": {}}
    for name in engines:
        cells = []
        for s in sets:
            c = counts[s][name]
            r, p = ratio(c["tp"], c["truth"]), ratio(c["tp"], c["predicted"])
            result["detection"].setdefault(s, {})[name] = {**c, "recall": r, "precision": p}
            cells.append(f"{fmt(r)} / {fmt(p)}")
        t = ms[name]
        result["ms"][name] = {"median": statistics.median(t), "p90": float(np.percentile(t, 90)), "frames": len(t)}
        print(f"| {name} | " + " | ".join(cells) + f" | {statistics.median(t):.1f} | {np.percentile(t, 90):.1f} |")
    print("\npalms' boxes are MediaPipe's own (a hand it missed has none): recall there is a floor for us, "
          "and MediaPipe's row there is not a comparison. The pasted sets favour ours (trained on pastes).")
    if any(s.startswith("real/") for s in sets):
        result["real_split"] = split
        first = split[next(iter(split))]
        print(f"\nRecall on the real sets together, by hand size (the drawn box's longer side in the frame) and for "
              f"touching hands (drawn boxes that meet another once grown by a tenth), at IoU >= {args.iou}\n")
        print("| engine | " + " | ".join(f"{g} ({c['truth']})" for g, c in first.items()) + " |")
        print("|---|" + "---|" * len(first))
        for name, groups in split.items():
            print(f"| {name} | " + " | ".join(fmt(ratio(c["found"], c["truth"])) for c in groups.values()) + " |")

    if not handed:
        return write_json(args.json, result)
    n = next(iter(handed.values()))["photos"]
    print(f"\nHandedness on {n} uci_hand photos: found = the labelled hand matched at IoU >= {args.iou}; "
          "accuracy over the hands found\n")
    print("| engine | found | accuracy | ms / photo |")
    print("|---|---|---|---|")
    for name, h in handed.items():
        acc = ratio(h["correct"], h["sided"])  # None: the pose model has no handedness head
        result["handedness"][name] = {**{k: v for k, v in h.items() if k != "ms"}, "accuracy": acc,
                                      "ms_median": statistics.median(h["ms"])}
        print(f"| {name} | {fmt(ratio(h['found'], h['photos']))} | {fmt(acc)} | {statistics.median(h['ms']):.1f} |")
        if acc is not None and acc < 0.3 and h["sided"] >= 20:
            print(f"warning: {name}'s handedness is far below chance: a left/right convention is inverted",
                  file=sys.stderr)
    return write_json(args.json, result)


def write_json(path: str | None, result: dict) -> int:
    if path:
        Path(path).write_text(json.dumps(result, indent=1) + "\n")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HandposeError as e:
        print(f"bench/detect.py: {e}", file=sys.stderr)
        sys.exit(2)
