"""`handpose train-handedness --weights RELEASE --out RELEASE2`: fit the left/right head on a frozen pose model
(pose/handedness.py says how: pooled encoder features of labelled crops, a logistic regression)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..data.datasets import load_coco
from ..errors import HandposeError
from ..pose.handedness import (CHECK, TEACHER, accuracy, attach_head, check, extract, fit_logistic, labelled,
                               logits_of, split_by_image, subsample)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", required=True, help="the pose model: a .safetensors release (or a .pt checkpoint)")
    p.add_argument("--out", required=True, help="the release to write (.safetensors; its .json beside it)")
    p.add_argument("--data", default=TEACHER, help=f"COCO keypoints file with handedness labels (default {TEACHER})")
    p.add_argument("--exclude-sources", nargs="*", default=["palms"], help="sources of --data left out (default: palms, held out)")
    p.add_argument("--min-teacher-score", type=float, default=0.8,
                   help="skip MediaPipe labels whose handedness_score is under this (default 0.8)")
    p.add_argument("--check", default=CHECK, help=f"COCO file with hand-made 'hand' labels to report accuracy on "
                   f"(default {CHECK}; 'none' to skip)")
    p.add_argument("--max-samples", type=int, default=None, help="use at most this many training hands (a smoke run)")
    p.add_argument("--check-max", type=int, default=None, help="check on at most this many hands")
    p.add_argument("--val-fraction", type=float, default=0.1, help="images of --data held out for validation (default 0.1)")
    p.add_argument("--l2", type=float, default=1e-3, help="L2 penalty of the logistic regression (default 1e-3)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)


def _load_labelled(path: str, what: str, exclude=None, min_score: float = 0.0):
    if not Path(path).is_file():
        raise HandposeError(f"{what} {path}: file not found")
    records, labels = labelled(load_coco(path, exclude_sources=exclude or None), min_score)
    if not records:
        raise HandposeError(f"{what} {path}: no hand has a 'hand' or 'handedness_mediapipe' label")
    return records, labels


def run(args: argparse.Namespace) -> int:
    from ..weights import load_model
    from ..release import save_release  # save_release writes atomically

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise HandposeError(f"--out {out}: a release must end in .safetensors")
    if Path(args.weights).resolve() == out.resolve():
        raise HandposeError(f"--out {out}: write a new release, not over --weights")
    if not 0 <= args.val_fraction < 1 or args.batch < 1 or (args.max_samples is not None and args.max_samples < 2):
        raise HandposeError("--val-fraction must be in [0, 1), --batch >= 1, --max-samples >= 2")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, info = load_model(args.weights)
    records, labels = _load_labelled(args.data, "--data", args.exclude_sources, args.min_teacher_score)
    records, labels = subsample(records, labels, args.max_samples, args.seed)
    (train, y_train), (val, y_val) = split_by_image(records, labels, args.val_fraction, args.seed)
    print(f"{args.weights}: {info['arch']}, input {info['input_size']}; {len(train)} training hands "
          f"({int(y_train.sum())} right, {int(len(y_train) - y_train.sum())} left before mirroring), {len(val)} validation")
    x, y, _ = extract(model, info, train, y_train, args.batch)
    weight, bias = fit_logistic(x, y, args.l2)
    attach_head(model, weight, bias)
    metrics = {"train": {"accuracy": accuracy(logits_of(weight, bias, x), y), "n": len(train)}, "train_data": args.data}
    if val:
        metrics["val"] = check(model, info, val, y_val, args.batch)
    if args.check and args.check != "none":
        c_records, c_labels = _load_labelled(args.check, "--check")
        c_records, c_labels = subsample(c_records, c_labels, args.check_max, args.seed)
        metrics["check"] = {**check(model, info, c_records, c_labels, args.batch), "data": args.check}
    info = {**info, "handedness": True, "handedness_metrics": metrics}
    save_release(model, info, out)
    for name in ("train", "val", "check"):
        if name in metrics:
            m = metrics[name]
            extra = (f", mirrored {100 * m['accuracy_mirrored']:.1f}%, mean |p + p_mirrored - 1| {m['flip_gap']:.3f}"
                     if "flip_gap" in m else " (originals and mirrors)")
            print(f"{name}: accuracy {100 * m['accuracy']:.1f}% on {m['n']} hands{extra}")
    if "check" in metrics and metrics["check"]["accuracy"] < 0.2:
        print("warning: the check is far below chance: a left/right convention is inverted (the check's 'hand' "
              "labels or MEDIAPIPE_MIRRORED in handpose/pose/handedness.py)", file=sys.stderr)
    print(f"wrote {out} and {out.with_suffix('.json').name} (the pose model unchanged, plus the handedness head)")
    return 0
