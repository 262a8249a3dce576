"""Mirrored hands: how often handpose's keypoints turn the other way from the hand's, and what a check that
reads the hand's side from its look (the pose model's left/right head and the palm-side classifier) would catch.

A hand's turning sense is the sign of the turn from wrist -> index knuckle to wrist -> little knuckle; for a
right hand it is fixed by whether the palm or the back faces the camera. A prediction is mirrored when its
turning sense is the opposite of the reference keypoints' (counted where the reference turn is clear: |sin| >=
0.2). References: MediaPipe Hands 0.10.14 (photo mode, full) on labelled gesture folders (bench/gesture_data.py;
its keypoints cached as bench/gestures.py caches them), or hand-made labels (--hgc: hgc_dev split by order).

For every hand found (predict's defaults, the most confident hand) the script keeps the keypoints' turn, the
head's right-hand logit and the palm-side logit, and prints, for rules "the look says the other turn, both
logits at least T", how many mirrored and unmirrored hands each flags, and the mean distance to the reference
(in hand sizes) with the flagged hands' finger chains swapped (thumb <-> little, index <-> ring). The figures
per hand go to --json, so rules can be chosen on one set and read on another.

    OMP_NUM_THREADS=2 .venv/bin/python bench/mirrored.py runs/gesture/sets --sets train/hagrid380 ... [--no-upright] [--json OUT]
    OMP_NUM_THREADS=2 .venv/bin/python bench/mirrored.py --hgc ../shared/data/hgc_dev [--weights W] [--json OUT]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from handpose.data.datasets import load_freihand, read_rgb  # noqa: E402
from handpose.defaults import PHOTO  # noqa: E402
from handpose.io import atomic_write_json  # noqa: E402
from handpose.pipeline import HandPipeline  # noqa: E402
from handpose.side.infer import chirality  # noqa: E402
from handpose.train import metrics  # noqa: E402

CLEAR_TURN = 0.2
SWAP = np.arange(21)
SWAP[1:5], SWAP[17:21], SWAP[5:9], SWAP[13:17] = range(17, 21), range(1, 5), range(13, 17), range(5, 9)
RULES = [0.0, 0.5, 1.0, 2.0, 3.0]


def hands_with_look(pipeline: HandPipeline, image: np.ndarray) -> dict | None:
    """The most confident hand's keypoints, head logit and palm logit (None when no hand is found)."""
    seen: list = []
    label_sides = pipeline.label_sides

    def keep(jobs):
        seen[:] = [(h, h.p_right) for _, h in jobs]  # the head's answer, before the classifier's
        return label_sides(jobs)

    pipeline.label_sides = keep
    try:
        hands = pipeline(image)
    finally:
        pipeline.label_sides = label_sides
    if not hands:
        return None
    best = max(hands, key=lambda h: h.score)
    head = next(p for h, p in seen if h is best)
    palm = float(pipeline.side.palm_logits([(image, best.box)])[0])
    p = min(max(head, 1e-6), 1 - 1e-6)
    return {"keypoints": best.keypoints[:, :2].round(2).tolist(), "head": float(np.log(p / (1 - p))), "palm": palm}


def collect(pipeline: HandPipeline, items: list[tuple[str, np.ndarray | None, np.ndarray | None]]) -> list[dict]:
    out = []
    for name, image, reference in tqdm(items, desc="hands", leave=False):
        if reference is None:
            continue
        found = hands_with_look(pipeline, image if image is not None else read_rgb(name))
        if found is not None:
            out.append({"image": name, "reference": np.asarray(reference).round(2).tolist(), **found})
    return out


def report(rows: list[dict], title: str, per_class: bool = False) -> None:
    pred = np.array([r["keypoints"] for r in rows], np.float64)
    ref = np.array([r["reference"] for r in rows], np.float64)
    head, palm = np.array([r["head"] for r in rows]), np.array([r["palm"] for r in rows])
    turn = chirality(pred)
    size = np.ptp(ref, axis=1).max(axis=1)
    mirrored, clear = metrics.mirrored(pred, ref, CLEAR_TURN)
    # right = -turn * palm, so the look (head's side and palm side) expects the turn -sign(palm) * sign(head)
    against = (np.sign(turn) == np.sign(palm) * np.sign(head)) & (np.abs(turn) >= CLEAR_TURN)
    dist = np.linalg.norm(pred - ref, axis=-1).mean(axis=1) / size
    swapped = np.linalg.norm(pred[:, SWAP] - ref, axis=-1).mean(axis=1) / size
    print(f"\n{title}: {len(rows)} hands, {clear.sum()} with a clear reference turn, mirrored {mirrored.sum()} "
          f"({mirrored.sum() / max(clear.sum(), 1):.3f}); mean distance {dist.mean():.4f} hand sizes")
    if per_class:  # gesture folders: <set>/<class>/<photo>
        kind = np.array([Path(r["image"]).parent.name for r in rows])
        print("mirrored per class: " + ", ".join(f"{c} {(mirrored & (kind == c)).sum()} of {(clear & (kind == c)).sum()}"
                                                  for c in sorted(set(kind))))
    print("| rule: look against the turn, |head| and |palm| >= | flagged | of them mirrored | unmirrored flagged "
          "| mean distance with the flagged swapped |\n|---:|---:|---:|---:|---:|")
    for t in RULES:
        flag = against & (np.abs(head) >= t) & (np.abs(palm) >= t)
        fixed = np.where(flag, swapped, dist)
        print(f"| {t} | {flag.sum()} | {(flag & mirrored).sum()} | {(flag & clear & ~mirrored).sum()} | "
              f"{fixed.mean():.4f} |")


def gesture_items(root: Path, sets: list[str]) -> list[tuple[str, None, np.ndarray | None]]:
    from gestures import mediapipe_keypoints

    paths = sorted(str(p) for s in sets for p in (root / s).rglob("*.jpg"))
    refs = mediapipe_keypoints(paths, root / ".cache_mediapipe.json")
    return [(p, None, None if refs.get(p) is None else np.asarray(refs[p])) for p in paths]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", nargs="?", help="gesture sets folder (bench/gesture_data.py's OUT)")
    p.add_argument("--sets", nargs="+", default=[], help="folders under ROOT")
    p.add_argument("--hgc", default=None, help="hgc_dev: its hand-made labels are the reference")
    p.add_argument("--select", type=int, default=146, help="with --hgc: the first photos form the selection half")
    p.add_argument("--weights", default=None, help="pose model (default: the bundled one)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--upright", action=argparse.BooleanOptionalAction, default=PHOTO.upright,
                   help="predict's re-crop turned so the hand points up (default: predict's)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    pipeline = HandPipeline.create(args.weights, threads=args.threads, upright=args.upright)
    if pipeline.side is None:
        raise SystemExit("the palm-side classifier's weights are missing")
    results: dict[str, list] = {}
    if args.hgc:
        records = load_freihand(args.hgc, "evaluation")
        items = [(r.image, None, r.keypoints) for r in records]
        results["hgc_dev select"] = collect(pipeline, items[:args.select])
        results["hgc_dev check"] = collect(pipeline, items[args.select:])
    if args.root:
        for s in args.sets:
            results[s] = collect(pipeline, gesture_items(Path(args.root), [s]))
    for name, rows in results.items():
        report(rows, name, per_class=not name.startswith("hgc_dev"))
    if len(results) > 1:
        report([r for rows in results.values() for r in rows], "all of the above", per_class=not args.hgc)
    if args.json:
        atomic_write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
