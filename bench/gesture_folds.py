"""Choosing a gesture recipe without the check sets: leave one training source out at a time.

    .venv/bin/python bench/gesture_folds.py runs/gesture/sets [--synth 20000 --synth-weight 0.25 ...]

For each fold one training source (whole: its people and rooms) is held out; the classifier is trained on
the other training sources, the teacher_hands keypoints of the kept sources and rendered hands, and scored
on the held-out source's photos through handpose's keypoints (cached in ROOT/.cache_handpose.json, as
bench/gestures.py and `handpose gesture --cache` keep them; missing ones are computed). The select sets are
scored by the classifier trained on every training source. The check sets are never read here.

``--train-keypoints`` and ``--score-keypoints`` name the pipeline whose keypoints the classifier learns from and
is scored on: ``photo`` (predict's defaults today, defaults.PHOTO), ``photo_unturned`` (the same, re-crop not
turned, as live's tracking crops) or ``v1`` (the settings the first classifiers were trained on: fp32 ONNX, flip
test, 2 re-crops, not turned; the flip test now on the re-crops only, as everywhere), so a recipe is scored on the
keypoints that users' photos will give it. ``--train-weights`` adds the training photos' keypoints from other pose
models (each with every ``--train-keypoints`` pipeline; ``bundled`` is the bundled model), so a classifier can learn
the keypoints of more than one model; held-out and select photos are always scored through the bundled model.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from handpose.apps.gesture import hand_keypoints, labelled_photos, scores  # noqa: E402
from handpose.apps.synth import DEFAULT_MESHES  # noqa: E402
from handpose.data.synth.gestures import CANNED, sample_gesture_keypoints  # noqa: E402
from handpose.gesture.fit import fit  # noqa: E402
from gestures import keypoint_args  # noqa: E402

# A source goes out with its turned twin (bench/gesture_data.py): they are the same people and rooms.
FOLDS = {"madblocks": ["madblocks"], "arya": ["arya"], "dharshini": ["dharshini"],
         "hagrid": ["hagrid380", "hagrid_day1"], "rps": ["rps"], "rahul": ["rahul"], "waris": ["waris"]}


# Pipelines whose keypoints a classifier is trained or scored on: how each differs from predict's defaults.
PIPELINES = {"photo": {}, "photo_unturned": dict(upright=False),
             "v1": dict(backend="onnx", flip_test=True, recrops=2, upright=False)}


def cached(root: Path, folder: str, pipeline: str, threads: int,
           weights: str | None = None) -> list[tuple[np.ndarray, str]]:
    """The folder's labelled photos with the keypoints of their most confident hand (photos without one left out),
    from the pose model ``weights`` (None: the bundled one)."""
    photos = labelled_photos([str(root / folder)])
    args = keypoint_args(root, threads, weights=weights, **PIPELINES[pipeline])
    found, _ = hand_keypoints(args, [p for p, _ in photos])
    return [(np.asarray(found[p], np.float64), label) for p, label in photos if found.get(p) is not None]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    ap.add_argument("--synth", type=int, default=20000)
    ap.add_argument("--synth-weight", type=float, default=0.25)
    ap.add_argument("--teacher-weight", type=float, default=1.0)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--min-score", type=float, default=0.7)
    ap.add_argument("--turn", type=float, default=12.0, help="augmentation: the largest turn in degrees")
    ap.add_argument("--exclude", nargs="*", default=[], help="training sources not used at all (e.g. '*_turned')")
    ap.add_argument("--train-keypoints", choices=sorted(PIPELINES), nargs="+", default=["v1"],
                    help="the pipelines whose keypoints of the training photos the classifier learns from (pooled)")
    ap.add_argument("--score-keypoints", choices=sorted(PIPELINES), default="v1",
                    help="the pipeline whose keypoints of the held-out and select photos are scored")
    ap.add_argument("--train-weights", nargs="+", default=["bundled"], metavar="W",
                    help="pose models whose keypoints of the training photos are pooled ('bundled': the bundled one)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    models = [None if w == "bundled" else w for w in args.train_weights]
    root = Path(args.root)
    sources = sorted(p.name for p in (root / "train").iterdir() if p.is_dir()
                     and not any(fnmatch.fnmatch(p.name, x) for x in args.exclude))
    photos = {s: [x for w in models for k in args.train_keypoints for x in cached(root, f"train/{s}", k, args.threads, w)]
              for s in sources}
    scored = {s: cached(root, f"train/{s}", args.score_keypoints, args.threads) for s in sources}
    teacher = json.loads((root / "keypoints" / "teacher_train.json").read_text())["hands"]
    rendered = sample_gesture_keypoints(str(DEFAULT_MESHES), args.synth, seed=0) if args.synth else None

    def train(held: list[str]):
        kp, labels, weights = [], [], []
        for s in sources:
            if s not in held and s.removesuffix("_turned") not in held:
                kp += [k for k, _ in photos[s]]
                labels += [c for _, c in photos[s]]
                weights += [1.0] * len(photos[s])
        for h in teacher:
            if h["set"] not in held:
                kp.append(np.asarray(h["keypoints"]))
                labels.append(h["label"])
                weights.append(args.teacher_weight)
        if rendered is not None:
            kp += list(rendered.keypoints)
            labels += rendered.labels
            weights += [args.synth_weight] * len(rendered.labels)
        clf = fit(np.stack(kp), labels, list(CANNED), epochs=args.epochs, progress=False, turn=args.turn,
                  sample_weights=np.array(weights), info={"min_score": args.min_score})
        return clf

    rows, truth_all, pred_all = [], [], []
    for name, held in FOLDS.items():
        if not any(s in photos for s in held):
            continue
        clf = train(held)
        items = [x for s in held for x in scored.get(s, [])]  # scored on the source itself, never its turned twin
        truth = [c for _, c in items]
        pred = [n for n, _ in clf.classify(np.stack([k for k, _ in items]))]
        r = scores(truth, pred, list(CANNED))
        truth_all += truth
        pred_all += pred
        rows.append((f"held out: {name}", r))
    clf = train([])
    for s in sorted(p.name for p in (root / "select").iterdir() if p.is_dir()):
        items = cached(root, f"select/{s}", args.score_keypoints, args.threads)
        r = scores([c for _, c in items], [n for n, _ in clf.classify(np.stack([k for k, _ in items]))], list(CANNED))
        rows.append((f"select: {s}", r))
    rows.append(("held-out folds pooled", scores(truth_all, pred_all, list(CANNED))))
    print(f"recipe: {vars(args)}")
    print("| set | hands | accuracy | class mean | gestures right | None named None | per class |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, r in rows:
        per = ", ".join(f"{c} {v['accuracy']:.2f}" for c, v in r["per_class"].items())
        class_mean = np.mean([v["accuracy"] for v in r["per_class"].values()])  # every class counts the same
        print(f"| {name} | {r['hands']} | {r['accuracy']:.3f} | {class_mean:.4f} | "
              f"{r.get('gesture_accuracy', float('nan')):.3f} | {1 - r.get('none_named_a_gesture', float('nan')):.3f} | {per} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
