"""Gesture accuracy on labelled photo folders, from handpose's keypoints and from MediaPipe's, same classifier.

    .venv/bin/python bench/gestures.py runs/gesture/sets --sets check/emre check/didi check/aya check/subhih \
        check/massey5 [--gestures FILE] [--figure docs/gesture_confusion.png]

Each set is a folder of ``<label>/*.jpg`` (bench/gesture_data.py writes them). Every photo goes through
handpose's pipeline with predict's defaults (its most confident hand) and through MediaPipe Hands 0.10.14
(photo mode, full model, one hand); the same gesture classifier names both hands, so the table shows what
handpose's keypoints cost or gain against MediaPipe's. Accuracy counts the hands found; a photo where no hand
was found is counted under "found". Keypoints are cached under the sets folder (``.cache_*.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handpose.apps.gesture import confusion, draw_confusion, hand_keypoints, labelled_photos, scores  # noqa: E402
from handpose.defaults import PHOTO  # noqa: E402
from handpose.gesture import load_gestures  # noqa: E402
from handpose.io import atomic_write_image, atomic_write_json  # noqa: E402


def keypoint_args(root: Path, threads: int, weights: str | None = None, **settings) -> argparse.Namespace:
    """``hand_keypoints``' options: predict's defaults (``settings`` change backend, flip_test, recrops or upright),
    the most confident hand, no gestures, cached in ROOT/.cache_handpose.json (keyed by these settings too:
    apps/gesture.cache_key)."""
    pipeline = dict(backend=PHOTO.backend, flip_test=PHOTO.flip_test, recrops=PHOTO.recrops, upright=PHOTO.upright)
    return argparse.Namespace(cache=str(root / ".cache_handpose.json"), weights=weights, detector=None, side=None,
                              max_hands=1, gestures="none", threads=threads, **{**pipeline, **settings})


def mediapipe_keypoints(paths: list[str], cache_file: Path) -> dict[str, list | None]:
    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    key = {p: f"{os.path.abspath(p)}:{os.path.getsize(p)}" for p in paths}
    todo = [p for p in paths if key[p] not in cache]
    if todo:
        import cv2
        import mediapipe as mp

        with mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=1, model_complexity=1,
                                      min_detection_confidence=0.5) as hands:
            for p in tqdm(todo, desc="mediapipe", unit="photo"):
                bgr = cv2.imread(p)
                res = hands.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)) if bgr is not None else None
                if res is not None and res.multi_hand_landmarks:
                    h, w = bgr.shape[:2]
                    cache[key[p]] = [[q.x * w, q.y * h] for q in res.multi_hand_landmarks[0].landmark]
                else:
                    cache[key[p]] = None
        atomic_write_json(cache_file, cache)
    return {p: cache[key[p]] for p in paths}


def score_set(clf, photos, found) -> tuple[dict, list[str], list[str]]:
    used = [(p, t) for p, t in photos if found.get(p) is not None]
    truth = [t for _, t in used]
    kp = np.array([found[p] for p, _ in used], np.float64).reshape(-1, 21, 2)
    predicted = [n for n, _ in clf.classify(kp)]
    result = scores(truth, predicted, list(clf.classes))
    result["found"] = len(used) / max(len(photos), 1)
    return result, truth, predicted


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", help="the folder bench/gesture_data.py wrote")
    ap.add_argument("--sets", nargs="+", required=True, help="set folders under root, e.g. check/emre")
    ap.add_argument("--gestures", default=None, help="classifier (default: the bundled canned gestures)")
    ap.add_argument("--figure", default=None, help="write the pooled confusion matrices (handpose | MediaPipe) here")
    ap.add_argument("--json", default=None, help="write every figure here")
    ap.add_argument("--weights", default=None, help="pose model (default: the bundled one)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-mediapipe", action="store_true", help="handpose's keypoints only")
    args = ap.parse_args()
    clf = load_gestures(args.gestures)
    root = Path(args.root)
    pipeline_args = keypoint_args(root, args.threads, args.weights)
    rows, pooled = {}, {"handpose": ([], []), "MediaPipe": ([], [])}
    for name in args.sets:
        photos = labelled_photos([str(root / name)])
        paths = [p for p, _ in photos]
        ours, _ = hand_keypoints(pipeline_args, paths)
        engines = {"handpose": ours}
        if not args.no_mediapipe:
            engines["MediaPipe"] = mediapipe_keypoints(paths, root / ".cache_mediapipe.json")
        for engine, found in engines.items():
            result, truth, predicted = score_set(clf, photos, found)
            rows[(name, engine)] = result
            pooled[engine][0].extend(truth)
            pooled[engine][1].extend(predicted)
    t0 = time.perf_counter()
    for _ in range(200):
        clf.classify(np.random.default_rng(0).uniform(0, 200, (1, 21, 2)))
    per_hand_ms = (time.perf_counter() - t0) / 200 * 1e3

    print(f"classifier: {args.gestures or 'bundled canned gestures'}; {per_hand_ms:.3f} ms a hand")
    print("| set | keypoints | photos | found | accuracy | gestures right | None given a gesture |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (name, engine), r in rows.items():
        n = sum(v["n"] for v in r["per_class"].values())
        print(f"| {name} | {engine} | {round(n / max(r['found'], 1e-9))} | {r['found']:.3f} | {r['accuracy']:.3f} | "
              f"{r.get('gesture_accuracy', float('nan')):.3f} | {r.get('none_named_a_gesture', float('nan')):.3f} |")
    classes = list(clf.classes)
    pooled_scores = {e: scores(t, p, classes) for e, (t, p) in pooled.items() if t}
    print("\nall sets pooled, per class (accuracy over the hands found):")
    print("| class | " + " | ".join(f"{e} hands | {e} accuracy" for e in pooled_scores) + " |")
    print("|---|" + "---:|---:|" * len(pooled_scores))
    for c in classes:
        cells = []
        for e, r in pooled_scores.items():
            v = r["per_class"].get(c)
            cells += [str(v["n"]) if v else "0", f"{v['accuracy']:.3f}" if v else "-"]
        print(f"| {c} | " + " | ".join(cells) + " |")
    for e, r in pooled_scores.items():
        print(f"{e}: all {r['accuracy']:.3f}, gestures right {r.get('gesture_accuracy', 0):.3f}, "
              f"None named None {1 - r.get('none_named_a_gesture', 0):.3f} ({r['hands']} hands)")
    if args.figure:
        tiles = [draw_confusion(confusion(t, p, classes), classes, f"{e} keypoints: {pooled_scores[e]['accuracy']:.1%} "
                                f"of {len(t)} hands") for e, (t, p) in pooled.items() if t]
        atomic_write_image(args.figure, np.hstack(tiles))
        print(f"wrote {args.figure}")
    if args.json:
        atomic_write_json(args.json, {"per_set": [{"set": n, "engine": e, **r} for (n, e), r in rows.items()],
                                      "pooled": pooled_scores, "classifier_ms_per_hand": per_hand_ms})
    return 0


if __name__ == "__main__":
    sys.exit(main())
