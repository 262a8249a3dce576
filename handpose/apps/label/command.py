"""`handpose label`: the command line, the ``label`` function behind it and the calibration fit."""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ...defaults import PHOTO
from ...errors import HandposeError
from .annotate import label_image, match
from ...data.calibration import JOINT_SETS, Calibration, fit_offsets
from .sources import estimated_items, expand, items
from .teachers import Teacher, load_teacher
from .writer import Output, read_bgr


@dataclass
class LabelOptions:
    padding: float = 2.0  # crop side / keypoint box's longer side
    crop_size: int = 224  # largest crop side, px
    flip_tol: float = 0.08  # mirror check: mean joint distance / hand size
    min_size: float = 32.0  # px: smaller hands (keypoint box's longer side) are dropped
    tta: bool = False
    every: int = 1  # video: every Nth frame
    dup_threshold: float = 2.0  # video: grey-thumbnail mean abs difference under which a frame is a duplicate
    frames: bool = False  # also write whole frames + boxes (frames.json)
    checkpoint: int = 100  # rebuild annotations.json every this many items

    def check(self) -> None:
        for name, ok, rule in [("padding", self.padding >= 1, "at least 1"), ("crop_size", self.crop_size >= 16, "at least 16"),
                               ("flip_tol", self.flip_tol > 0, "above 0"), ("min_size", self.min_size >= 0, "0 or more"),
                               ("every", self.every >= 1, "at least 1"), ("dup_threshold", self.dup_threshold >= 0, "0 or more"),
                               ("checkpoint", self.checkpoint >= 1, "at least 1")]:
            if not ok:
                raise HandposeError(f"--{name.replace('_', '-')} must be {rule}, got {getattr(self, name)}")


def file_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12]


def label(sources: list[str], out: str | Path, teacher: Teacher, options: LabelOptions | None = None,
          calibration: str | Path | None = None, progress: bool = True) -> dict:
    """Label SOURCES (photos, folders, videos) into OUT with ``teacher``; resumes what OUT's journal holds."""
    options = options or LabelOptions()
    options.check()
    files = expand(sources)
    cal = Calibration.load(calibration) if calibration else None
    teacher_name = teacher.name + ("+tta" if options.tta else "") + ("+calibrated" if cal else "")
    fingerprint = {**{k: v for k, v in asdict(options).items() if k != "checkpoint"}, "teacher": teacher.name,
                   "calibration": file_digest(Path(calibration)) if calibration else None}
    output = Output(Path(out), fingerprint, options.frames)
    info = {"description": f"hands labelled by {teacher_name} with `handpose label`, kept where the mirrored "
                           f"photo agrees (mean joint distance under {options.flip_tol} of the hand size)",
            "teacher": teacher_name, "padding": options.padding, "crop_size": options.crop_size,
            "hand": "the person's own hand, as seen in the un-mirrored photo"}
    stats = {"items": 0, "resumed": len(output.done), "duplicates": 0, "errors": 0, "hands_seen": 0, "hands_kept": 0,
             "mirror": 0, "small": 0}
    since_checkpoint = 0
    bar = tqdm(total=estimated_items(files, options.every), desc="label", unit="img", disable=not progress)
    try:
        for item in items(files, options.every, options.dup_threshold):
            bar.update(1)
            if item is None:
                stats["duplicates"] += 1
                continue
            if item.key in output.done:
                continue
            image = item.image_bgr if item.image_bgr is not None else read_bgr(item.path)
            if image is None:
                print(f"handpose label: {item.path}: not a readable image (skipped)", file=sys.stderr)
                output.add(item, None, [], teacher_name, options.padding, options.crop_size, error="not a readable image")
                stats["errors"] += 1
                continue
            hands = label_image(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), teacher, options.tta, cal,
                                options.flip_tol, options.min_size)
            entry = output.add(item, image, hands, teacher_name, options.padding, options.crop_size)
            stats["items"] += 1
            stats["hands_seen"] += len(hands)
            stats["hands_kept"] += len(entry["crops"])
            for p in entry["problems"]:
                stats[p] += 1
            bar.set_postfix(hands=stats["hands_kept"])
            since_checkpoint += 1
            if since_checkpoint >= options.checkpoint:
                output.build(info)
                since_checkpoint = 0
        stats["total_hands"], stats["total_frames"] = output.build(info)
    finally:
        bar.close()
        output.close()
    return stats


def fit_calibration(labels: str | Path, teacher: Teacher, tta: bool = False, limit: int | None = None,
                    flip_tol: float = 0.08, joints: str = "mcp", progress: bool = True) -> Calibration:
    """Fit the teacher's per-joint offset (hand frame) on hand-made COCO keypoint labels. The teacher runs
    as it does when labelling (mirror check, TTA if asked); each label is matched to the nearest hand."""
    from ...data.datasets import load_coco, read_rgb

    records = load_coco(labels)
    if limit:
        records = records[:: max(1, len(records) // limit)][:limit]
    teacher_kps, label_kps, visible = [], [], []
    for r in tqdm(records, desc="fit calibration", disable=not progress):
        hands = [h for h in label_image(read_rgb(r.image), teacher, tta, None, flip_tol, 0.0) if h.kept]
        pairs = match([r.keypoints[r.visibility > 0]], [h.median[r.visibility > 0] for h in hands])
        if 0 in pairs:
            teacher_kps.append(hands[pairs[0]].median)
            label_kps.append(r.keypoints)
            visible.append(r.visibility)
    offsets = fit_offsets(teacher_kps, label_kps, visible)
    cal = Calibration(offsets, {"teacher": teacher.name, "tta": tta, "fitted_on": str(labels), "hands": len(teacher_kps),
                                "labels": len(records)}, JOINT_SETS[joints])
    before = np.mean([np.linalg.norm(t - g, axis=1)[v > 0].mean() for t, g, v in zip(teacher_kps, label_kps, visible)])
    after = np.mean([np.linalg.norm(cal.apply(t) - g, axis=1)[v > 0].mean() for t, g, v in zip(teacher_kps, label_kps, visible)])
    cal.info.update(mean_px_before=round(float(before), 3), mean_px_after_on_fit_set=round(float(after), 3))
    return cal


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="photos, folders (searched recursively) or videos")
    p.add_argument("--out", metavar="DIR", help="output folder: annotations.json, crops/, journal.jsonl (and frames/)")
    p.add_argument("--teacher", default="mediapipe",
                   help="mediapipe (default; the 'teacher' extra), model (the project's own model) or MODULE:CLASS")
    p.add_argument("--weights", default=None, help="--teacher model: its weights (default: the bundled model)")
    p.add_argument("--backend", default=PHOTO.backend, choices=("torch", "onnx", "onnx-int8"),
                   help=f"--teacher model: engine (default {PHOTO.backend}, as predict)")
    p.add_argument("--max-hands", type=int, default=2, help="hands per photo the teacher looks for (default 2)")
    p.add_argument("--padding", type=float, default=2.0, help="crop side / keypoint box's longer side (default 2.0)")
    p.add_argument("--crop-size", type=int, default=224, help="largest crop side in px (default 224; smaller hands keep their size)")
    p.add_argument("--flip-tol", type=float, default=0.08, help="mirror check: largest mean joint distance / hand size (0.08)")
    p.add_argument("--min-size", type=float, default=32.0, help="drop hands whose keypoint box's longer side is under this (px, 32)")
    p.add_argument("--tta", action="store_true", help="per-joint median over 10 copies (mirrored, scaled 0.85/1.15, rotated +-15)")
    p.add_argument("--calibration", metavar="FILE", help="apply this joint calibration (or, with --fit-calibration, write it)")
    p.add_argument("--fit-calibration", metavar="LABELS.json",
                   help="fit --calibration FILE on these hand-made COCO keypoint labels instead of labelling")
    p.add_argument("--fit-limit", type=int, default=None, help="--fit-calibration: use at most this many labelled hands")
    p.add_argument("--calibrate-joints", choices=sorted(JOINT_SETS), default="mcp",
                   help="--fit-calibration: the joints the calibration moves (default mcp: the five knuckles)")
    p.add_argument("--every", type=int, default=1, help="videos: every Nth frame (default 1)")
    p.add_argument("--dup-threshold", type=float, default=2.0,
                   help="videos: skip a frame whose 32x32 grey thumbnail differs from the last kept one by less (mean grey levels, 2.0)")
    p.add_argument("--frames", action="store_true", help="also write whole frames and every kept hand's box (frames.json)")
    p.add_argument("--checkpoint", type=int, default=100, help="rebuild annotations.json every N items (default 100)")


def run(args: argparse.Namespace) -> int:
    if args.max_hands < 1:
        raise HandposeError(f"--max-hands must be at least 1, got {args.max_hands}")
    if args.fit_calibration:
        if not args.calibration:
            raise HandposeError("--fit-calibration needs --calibration FILE: where to write the fitted calibration")
        if args.sources:
            raise HandposeError("--fit-calibration fits a calibration and labels nothing: leave out SOURCE")
        teacher = load_teacher(args.teacher, args.max_hands, weights=args.weights, backend=args.backend)
        cal = fit_calibration(args.fit_calibration, teacher, args.tta, args.fit_limit, args.flip_tol, args.calibrate_joints)
        cal.save(args.calibration)
        print(f"calibration of {teacher.name}{' +tta' if args.tta else ''} fitted on {cal.info['hands']} of "
              f"{cal.info['labels']} labelled hands: mean error {cal.info['mean_px_before']} px -> "
              f"{cal.info['mean_px_after_on_fit_set']} px on them; written to {args.calibration}")
        return 0
    if not args.sources:
        raise HandposeError("give at least one SOURCE (a photo, a folder or a video), or --fit-calibration")
    if not args.out:
        raise HandposeError("--out DIR is required: the folder the data set is written to")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise HandposeError(f"--out {args.out}: exists and is not a folder")
    options = LabelOptions(args.padding, args.crop_size, args.flip_tol, args.min_size, args.tta, args.every,
                           args.dup_threshold, args.frames, args.checkpoint)
    options.check()
    expand(args.sources)  # a missing source is named before the teacher loads
    teacher = load_teacher(args.teacher, args.max_hands, weights=args.weights, backend=args.backend)
    s = label(args.sources, args.out, teacher, options, args.calibration)
    print(f"{s['items']} images labelled ({s['resumed']} done before, {s['duplicates']} duplicate frames skipped, "
          f"{s['errors']} unreadable): {s['hands_seen']} hands seen, {s['hands_kept']} kept, {s['mirror']} failed "
          f"the mirror check, {s['small']} under --min-size. {args.out}: {s['total_hands']} hands"
          + (f", {s['total_frames']} frames" if args.frames else ""))
    return 1 if s["errors"] else 0
