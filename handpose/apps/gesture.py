"""`handpose gesture train|evaluate`: gesture classifiers from folders of labelled photos.

A photo folder is laid out as MediaPipe Model Maker's: ``DIR/<label>/*.jpg``, one folder per gesture and a
``none`` folder for hands that show none of them (named ``None`` in results, MediaPipe's name). Each photo goes
through the pipeline with predict's defaults (``--max-hands 1``: its most confident hand) and the classifier
learns from the keypoints, so it sees the keypoints it will be given.

``train`` holds out a share of the photos (``--holdout``, per class) and reports its accuracy; the classifier it
writes is the one that was scored. ``--keypoints FILE`` adds hands whose keypoints are already known
(``{"hands": [{"keypoints": [[x, y], ...], "label": ...}]}``) and ``--synth N`` rendered hands of MediaPipe's
canned shapes: that is how the bundled canned classifier is made (the model card gives the command).
``evaluate`` prints accuracy per class, how often a ``None`` hand is given a gesture, and draws the confusion
matrix.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import HandposeError
from ..gesture import NONE, load_gestures
from ..gesture.fit import fit
from ..io import atomic_write_json, content_hash
from ..release import read_release
from .options import add_pipeline_arguments, create_pipeline
from .predict import IMAGE_SUFFIXES, predict_files


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    t = sub.add_parser("train", help="train a classifier on DIR/<label>/*.jpg photo folders",
                       description="train a gesture classifier on photo folders (DIR/<label>/*.jpg, a 'none' folder)")
    t.add_argument("dirs", nargs="*", metavar="DIR", help="folders of <label>/ folders of photos")
    t.add_argument("--out", required=True, metavar="FILE.safetensors", help="where to write the classifier")
    t.add_argument("--holdout", type=float, default=0.2, help="share of each class's photos held out and scored "
                                                                "(default 0.2; 0: train on all, score nothing)")
    t.add_argument("--keypoints", action="append", default=[], metavar="FILE.json",
                   help="labelled keypoints to add ({'hands': [{'keypoints', 'label'}]}); repeatable")
    t.add_argument("--synth", type=int, default=0, metavar="N",
                   help="add N rendered hands of the canned shapes (needs the handmesh folder; canned labels only)")
    t.add_argument("--synth-weight", type=float, default=1.0, metavar="W",
                   help="weight of each rendered hand in the loss, against 1 for a real one (default 1)")
    t.add_argument("--min-score", type=float, default=0.0, metavar="P",
                   help="with a 'none' class: an answer under this probability is None (default 0: the likeliest)")
    t.add_argument("--epochs", type=int, default=30, help="passes over the data (default 30)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--cache", metavar="FILE.json", help="keep the photos' keypoints here and reuse them next time")
    t.add_argument("--both-turns", action="store_true",
                   help="also learn each training photo's keypoints with the re-crop turned the other way (--upright "
                        "<-> --no-upright): one classifier for predict's upright re-crops and live's unturned crops")
    t.add_argument("--also-weights", action="append", default=[], metavar="WEIGHTS",
                   help="also learn the training photos' keypoints as this other pose model gives them (repeatable): "
                        "a classifier that has seen more than one model's way of erring")
    add_pipeline_arguments(t)
    e = sub.add_parser("evaluate", help="accuracy per class and a confusion matrix on DIR/<label>/*.jpg folders",
                       description="score a gesture classifier on photo folders (DIR/<label>/*.jpg)")
    e.add_argument("dirs", nargs="+", metavar="DIR", help="folders of <label>/ folders of photos")
    e.add_argument("--report", metavar="DIR", help="write report.json and confusion.png here")
    e.add_argument("--cache", metavar="FILE.json", help="keep the photos' keypoints here and reuse them next time")
    add_pipeline_arguments(e)
    for q in (t, e):
        q.add_argument("--threads", type=int, default=None, help="inference threads (default: the engine's choice)")


# -- photo folders ----------------------------------------------------------------------------------------
def label_name(folder: str) -> str:
    return NONE if folder.lower() == "none" else folder


def labelled_photos(dirs: list[str]) -> list[tuple[str, str]]:
    """(photo path, label) for every image in every DIR/<label>/; errors name the folder that is wrong."""
    photos: list[tuple[str, str]] = []
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            raise HandposeError(f"{d}: not a folder (expected {d}/<label>/*.jpg)")
        found = 0
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files = sorted(f for f in sub.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            photos += [(str(f), label_name(sub.name)) for f in files]
            found += len(files)
        if not found:
            raise HandposeError(f"{d}: no photos in <label>/ folders (expected {d}/<label>/*.jpg, e.g. {d}/thumbs_up/1.jpg)")
    return photos


def cache_key(args: argparse.Namespace, path: str) -> str:
    """A photo's key in a keypoint cache: the file (path and size), the pose model's and detector's contents
    and every pipeline option that moves its keypoints, so that a cache made with other settings or models
    (a new bundled model included) is not read as this one's."""
    from ..detect.infer import DEFAULT_DETECTOR
    from ..weights import DEFAULT_WEIGHTS

    settings = (_content(args.weights or DEFAULT_WEIGHTS), args.backend, f"flip{int(args.flip_test)}",
                f"recrops{args.recrops}", *(["upright"] if getattr(args, "upright", False) else []),
                # since the flip test left the pass from the detection (HandPipeline.flip_first), re-crop only
                *(["recrop-flip"] if args.flip_test and args.recrops else []), _content(args.detector or DEFAULT_DETECTOR))
    return ":".join((os.path.abspath(path), str(os.path.getsize(path)), *map(str, settings)))


@functools.lru_cache(maxsize=8)
def _content(weights: str | Path) -> str:
    """A weights file by its name and the start of its contents' SHA-256 (a file rewritten in place is another model)."""
    if not Path(weights).is_file():
        return str(weights)  # not a file here: the pipeline says so when it loads it
    return f"{Path(weights).name}@{content_hash([weights]).hexdigest()[:12]}"


def hand_keypoints(args: argparse.Namespace, paths: list[str]) -> tuple[dict[str, list | None], list[str]]:
    """Keypoints of each photo's most confident hand (None: no hand found) and the unreadable photos' errors,
    from ``--cache`` where it has them (same file, size and pipeline options) and from the pipeline for the rest."""
    cache: dict = {}
    if args.cache and Path(args.cache).is_file():
        try:
            cache = json.loads(Path(args.cache).read_text())
        except (OSError, ValueError) as e:
            raise HandposeError(f"--cache {args.cache}: not a readable JSON file ({e})") from None
    key = {p: cache_key(args, p) for p in paths}
    todo = [p for p in paths if key[p] not in cache]
    errors: list[str] = []
    if todo:
        pipeline = create_pipeline(args, max_hands=1, gestures="none")
        entries, errors = predict_files(pipeline, todo, progress=True)
        for entry in entries:
            hands = entry["hands"]
            cache[key[entry["image"]]] = [k[:2] for k in hands[0]["keypoints"]] if hands else None
        if args.cache:
            atomic_write_json(args.cache, cache)
    return {p: cache[key[p]] for p in paths if key[p] in cache}, errors


def split(labels: list[str], share: float, seed: int) -> np.ndarray:
    """A held-out mask: ``share`` of each class's items (at least one where a class has two or more)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), bool)
    for c in sorted(set(labels)):
        idx = np.flatnonzero(np.array(labels) == c)
        k = int(round(share * len(idx)))
        if share > 0 and len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        held[rng.permutation(idx)[:k]] = True
    return held


# -- scoring ----------------------------------------------------------------------------------------------
def confusion(truth: list[str], predicted: list[str], classes: list[str]) -> np.ndarray:
    m = np.zeros((len(classes), len(classes)), int)
    index = {c: i for i, c in enumerate(classes)}
    for t, p in zip(truth, predicted):
        if t in index and p in index:
            m[index[t], index[p]] += 1
    return m


def scores(truth: list[str], predicted: list[str], classes: list[str]) -> dict:
    """Accuracy over the hands, per class (recall), and how often a None hand was given a gesture."""
    t, p = np.array(truth), np.array(predicted)
    per_class = {c: {"n": int((t == c).sum()), "right": int(((t == c) & (p == c)).sum())} for c in classes
                 if (t == c).any()}
    out = {"hands": len(t), "accuracy": float((t == p).mean()) if len(t) else 0.0,
           "per_class": {c: {**v, "accuracy": v["right"] / v["n"]} for c, v in per_class.items()}}
    none = t == NONE
    if none.any():
        out["none_named_a_gesture"] = float((p[none] != NONE).mean())
    gesture = t != NONE
    if gesture.any():
        out["gesture_accuracy"] = float((t[gesture] == p[gesture]).mean())
    return out


def draw_confusion(matrix: np.ndarray, classes: list[str], title: str) -> np.ndarray:
    """The confusion matrix as a picture: rows the true class, columns the answer, each row's shares."""
    import cv2

    n, cell, left, top = len(classes), 64, 150, 150
    image = np.full((top + n * cell + 40, left + n * cell + 20, 3), 255, np.uint8)
    share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for i in range(n):
        for j in range(n):
            x, y = left + j * cell, top + i * cell
            shade = int(255 * (1 - share[i, j]))
            image[y:y + cell, x:x + cell] = (255, shade, shade) if i == j else (shade, shade, 255)
            if matrix[i, j]:
                text = str(matrix[i, j])
                (tw, th), _ = cv2.getTextSize(text, font, 0.5, 1)
                colour = (255, 255, 255) if share[i, j] > 0.6 else (0, 0, 0)
                cv2.putText(image, text, (x + (cell - tw) // 2, y + (cell + th) // 2), font, 0.5, colour, 1, cv2.LINE_AA)
        cv2.putText(image, classes[i], (6, top + i * cell + cell // 2 + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        label = np.full((22, 140, 3), 255, np.uint8)
        cv2.putText(label, classes[i], (2, 16), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        rotated = cv2.rotate(label, cv2.ROTATE_90_COUNTERCLOCKWISE)
        x = left + i * cell + (cell - 22) // 2
        image[top - 145:top - 5, x:x + 22] = rotated
    cv2.putText(image, title, (6, top + n * cell + 28), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, "true class (rows) / answer (columns)", (6, 20), font, 0.45, (80, 80, 80), 1, cv2.LINE_AA)
    return image


def report_text(result: dict) -> str:
    lines = [f"{'class':14s} {'hands':>6s} {'right':>6s} {'accuracy':>9s}"]
    for c, v in result["per_class"].items():
        lines.append(f"{c:14s} {v['n']:6d} {v['right']:6d} {v['accuracy']:9.3f}")
    lines.append(f"{'all':14s} {result['hands']:6d} {'':6s} {result['accuracy']:9.3f}")
    if "gesture_accuracy" in result:
        lines.append(f"hands showing a gesture named right: {result['gesture_accuracy']:.3f}")
    if "none_named_a_gesture" in result:
        lines.append(f"None hands given a gesture: {result['none_named_a_gesture']:.3f}")
    return "\n".join(lines)


# -- commands ---------------------------------------------------------------------------------------------
def read_keypoint_file(path: str) -> tuple[list, list[str], list[float]]:
    try:
        hands = json.loads(Path(path).read_text())["hands"]
        kps = [np.asarray(h["keypoints"], np.float64)[:, :2] for h in hands]
        labels = [str(h["label"]) for h in hands]
    except FileNotFoundError:
        raise HandposeError(f"--keypoints {path}: file not found") from None
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise HandposeError(f"--keypoints {path}: expected {{'hands': [{{'keypoints': [[x, y] * 21], "
                            f"'label': ...}}]}} ({e})") from None
    if any(k.shape != (21, 2) for k in kps):
        raise HandposeError(f"--keypoints {path}: every hand needs 21 keypoints")
    return kps, labels, [float(h.get("weight", 1.0)) for h in hands]


def train(args: argparse.Namespace) -> int:
    if not 0 <= args.min_score < 1:
        raise HandposeError(f"--min-score must be in [0, 1), got {args.min_score}")
    if not 0 <= args.holdout < 1:
        raise HandposeError(f"--holdout must be in [0, 1), got {args.holdout}")
    if args.epochs < 1 or args.synth < 0 or args.synth_weight <= 0:
        raise HandposeError("--epochs must be at least 1, --synth at least 0 and --synth-weight above 0")
    if not args.out.endswith(".safetensors"):
        raise HandposeError(f"--out {args.out}: a gesture classifier is written as a .safetensors file")
    for w in args.also_weights:  # named now, not after the first model's pass over every photo
        if not Path(w).is_file():
            raise HandposeError(f"--also-weights {w}: no such file")
        if w.endswith(".safetensors"):
            read_release(Path(w))
    if not args.dirs and not args.keypoints and not args.synth:
        raise HandposeError("nothing to train on: give photo folders (DIR/<label>/*.jpg), --keypoints or --synth")
    photos = labelled_photos(args.dirs) if args.dirs else []
    labels_seen = {label for _, label in photos}
    if args.dirs and len(labels_seen) < 2 and not (args.keypoints or args.synth):
        raise HandposeError(f"{', '.join(args.dirs)}: only one class ({', '.join(labels_seen)}); a classifier needs "
                            "at least two (add a 'none' folder of hands showing something else)")
    found, errors = hand_keypoints(args, [p for p, _ in photos]) if photos else ({}, [])
    for e in errors:
        print(f"handpose gesture: {e} (skipped)", file=sys.stderr)
    no_hand = [p for p, _ in photos if p in found and found[p] is None]
    if no_hand:
        print(f"handpose gesture: no hand found in {len(no_hand)} of {len(photos)} photos (left out): "
              + ", ".join(no_hand[:10]) + (" ..." if len(no_hand) > 10 else ""), file=sys.stderr)
    used = [(p, label) for p, label in photos if found.get(p) is not None]
    kps = [np.asarray(found[p], np.float64) for p, _ in used]
    labels = [label for _, label in used]
    held = split(labels, args.holdout, args.seed)
    train_kp = [k for k, h in zip(kps, held) if not h]
    train_labels = [c for c, h in zip(labels, held) if not h]
    train_photos = [(p, label) for (p, label), h in zip(used, held) if not h]
    variants = [{"upright": not args.upright}] if args.both_turns else []  # of the pose model given (--weights)
    for w in args.also_weights:
        variants += [{"weights": w}] + ([{"weights": w, "upright": not args.upright}] if args.both_turns else [])
    for change in variants if train_photos else []:
        found_other, _ = hand_keypoints(argparse.Namespace(**{**vars(args), **change}), [p for p, _ in train_photos])
        for p, label in train_photos:
            if found_other.get(p) is not None:
                train_kp.append(np.asarray(found_other[p], np.float64))
                train_labels.append(label)
    weights = [1.0] * len(train_kp)
    for path in args.keypoints:
        k, c, w = read_keypoint_file(path)
        train_kp += k
        train_labels += c
        weights += w
    if args.synth:
        from .synth import DEFAULT_MESHES
        from ..data.synth.gestures import CANNED, sample_gesture_keypoints

        odd = sorted(set(train_labels) - set(CANNED))
        if odd:
            raise HandposeError(f"--synth renders MediaPipe's canned gestures only; these labels are not among "
                                f"them: {odd}")
        if not Path(DEFAULT_MESHES).is_dir():
            raise HandposeError(f"--synth: the handmesh folder {DEFAULT_MESHES} is not here")
        rendered = sample_gesture_keypoints(str(DEFAULT_MESHES), args.synth, seed=args.seed)
        train_kp += list(rendered.keypoints)
        train_labels += rendered.labels
        weights += [args.synth_weight] * args.synth
    if len(set(train_labels)) < 2:
        raise HandposeError(f"only one class has hands to train on ({', '.join(set(train_labels))}); "
                            "a classifier needs at least two")
    classes = sorted(set(train_labels) | set(labels), key=lambda c: (c != NONE, c))
    info = {"trained_on": {"photos": int((~held).sum()), "photo_folders": args.dirs, "keypoint_files": args.keypoints,
                           "synth": args.synth, "synth_weight": args.synth_weight, "both_turns": args.both_turns,
                           "also_weights": [Path(w).name for w in args.also_weights]},
            "epochs": args.epochs, "seed": args.seed, "min_score": args.min_score}
    clf = fit(np.stack(train_kp), train_labels, classes, epochs=args.epochs, seed=args.seed,
              sample_weights=np.array(weights), info=info)
    if held.any():
        test_kp = np.stack([k for k, h in zip(kps, held) if h])
        truth = [c for c, h in zip(labels, held) if h]
        result = scores(truth, [n for n, _ in clf.classify(test_kp)], classes)
        clf.info["held_out"] = result
        print(f"held out {len(truth)} photos:\n" + report_text(result))
    clf.save(args.out)
    print(f"wrote {args.out} ({len(classes)} classes: {', '.join(classes)}; trained on {len(train_kp)} hands)")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    clf = load_gestures(args.gestures)
    if clf is None:
        raise HandposeError("no gesture classifier: give --gestures FILE (none is bundled with this install)")
    photos = labelled_photos(args.dirs)
    found, errors = hand_keypoints(args, [p for p, _ in photos])
    for e in errors:
        print(f"handpose gesture: {e} (skipped)", file=sys.stderr)
    used = [(p, label) for p, label in photos if found.get(p) is not None]
    missing = len(photos) - len(used)
    truth = [label for _, label in used]
    predicted = [n for n, _ in clf.classify(np.array([found[p] for p, _ in used], np.float64).reshape(-1, 21, 2))]
    classes = list(clf.classes) + sorted(set(truth) - set(clf.classes))
    result = {**scores(truth, predicted, classes), "photos": len(photos), "no_hand": missing}
    print(f"{len(photos)} photos, a hand found in {len(used)}:\n" + report_text(result))
    if args.report:
        from ..io import atomic_write_image

        out = Path(args.report)
        matrix = confusion(truth, predicted, classes)
        atomic_write_json(out / "report.json", {**result, "classes": classes, "confusion": matrix.tolist(),
                                                "photos_by_hand": [{"image": p, "label": t, "predicted": q}
                                                                   for (p, t), q in zip(used, predicted)]})
        title = f"{', '.join(args.dirs)}: {result['accuracy']:.1%} of {len(used)} hands"
        atomic_write_image(out / "confusion.png", draw_confusion(matrix, classes, title[-90:]))
        print(f"wrote {out / 'report.json'}, {out / 'confusion.png'}")
    return 0


def run(args: argparse.Namespace) -> int:
    return train(args) if args.action == "train" else evaluate(args)


