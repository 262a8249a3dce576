"""`handpose label`'s MediaPipe teacher against stored and hand-made labels (needs `make bench-deps`).

    nice .venv/bin/python bench/label_check.py [--teacher-hands 300] [--fit-n 400] [--calibration-out FILE]

1. teacher_hands: N crops spread over the set; the teacher (photo mode + mirror check) against the stored
   labels (MediaPipe on the original photos): mean px, share of joints within 5 px.
2. A joint calibration fitted on uci_hand (hand-made labels, not the validation set), in plain and TTA mode.
3. hgc_dev (292 hand-made labels, never fitted on): the teacher's mean px error for plain, plain +
   calibration, --tta, --tta + calibration, over the hands that pass the mirror check (the same hands for
   every row: TTA and calibration do not change which hands pass).
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from handpose.data.datasets import load_coco, load_freihand, read_rgb
from handpose.apps.label import Calibration, MediaPipeTeacher, label_image
from handpose.apps.label.annotate import match
from handpose.data.calibration import JOINT_SETS, fit_offsets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def spread(records: list, n: int | None) -> list:
    return records if not n or n >= len(records) else records[:: len(records) // n][:n]


def run_teacher(teacher, records, tta: bool, desc: str, cache: Path | None = None):
    """-> list of (LabelledHand or None, record): the hand matched to the record's label. With ``cache``
    the answers are kept in a pickle, so a second analysis does not run the teacher again."""
    if cache is not None and cache.is_file():
        hands, sec = pickle.loads(cache.read_bytes())
        return list(zip(hands, records)), sec
    out = []
    t0 = time.perf_counter()
    for r in tqdm(records, desc=desc, leave=False):
        hands = label_image(read_rgb(r.image), teacher, tta, None, 0.08, 0.0)
        found = match([r.keypoints], [h.plain for h in hands])
        out.append((hands[found[0]] if 0 in found else None, r))
    sec = (time.perf_counter() - t0) / max(len(records), 1)
    if cache is not None:
        cache.write_bytes(pickle.dumps(([h for h, _ in out], sec)))
    return out, sec


def errors(pairs, which: str, cal: Calibration | None = None) -> np.ndarray:
    """(hands, 21) joint distances in px for kept hands."""
    rows = []
    for h, r in pairs:
        if h is None or not h.kept:
            continue
        k = getattr(h, which)
        rows.append(np.linalg.norm((cal.apply(k) if cal else k) - r.keypoints, axis=1))
    return np.array(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher-hands", type=int, default=300, help="teacher_hands crops to check (0: skip)")
    p.add_argument("--fit-n", type=int, default=400, help="uci_hand hands to fit the calibration on")
    p.add_argument("--calibration-out", default="/tmp/label_calibration_tta.json")
    p.add_argument("--cache", default="/tmp/label_check_cache", help="folder for the teacher's answers (reruns reuse them)")
    args = p.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")
    teacher = MediaPipeTeacher(max_hands=2)

    if args.teacher_hands:
        recs = spread(load_coco(SHARED / "teacher_hands" / "annotations.json"), args.teacher_hands)
        pairs, sec = run_teacher(teacher, recs, False, "teacher_hands")
        found = sum(h is not None for h, _ in pairs)
        kept = sum(h is not None and h.kept for h, _ in pairs)
        e = errors(pairs, "plain")
        print(f"\nteacher_hands: {len(recs)} crops, {1000 * sec:.0f} ms a crop (photo + mirror); hand found in "
              f"{found}, kept (mirror check) {kept}")
        print(f"  vs stored labels (kept hands): mean {e.mean():.2f} px, median {np.median(e):.2f} px, joints within 5 px "
              f"{(e < 5).mean():.3f}, hands with mean under 5 px {(e.mean(1) < 5).mean():.3f}")

    uci = spread(load_coco(SHARED / "uci_hand" / "annotations.json"), args.fit_n)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    fit_pairs, sec = run_teacher(teacher, uci, True, "uci_hand (fit)", cache / f"uci_{len(uci)}.pkl")
    kept = [(h, r) for h, r in fit_pairs if h is not None and h.kept]
    cals = {}
    for which in ("plain", "median"):
        offsets = fit_offsets([getattr(h, which) for h, _ in kept], [r.keypoints for _, r in kept], [r.visibility for _, r in kept])
        for joints in ("all", "mcp"):
            cals[which, joints] = Calibration(offsets, {"teacher": teacher.name, "tta": which == "median", "hands": len(kept),
                                                        "fitted_on": "uci_hand/annotations.json"}, JOINT_SETS[joints])
    cals["median", "mcp"].save(args.calibration_out)
    before = errors(fit_pairs, "median").mean()
    after = errors(fit_pairs, "median", cals["median", "all"]).mean()
    print(f"\ncalibration fitted on {len(kept)} of {len(uci)} uci_hand hands ({1000 * sec:.0f} ms a hand, 10 copies): "
          f"TTA error there {before:.2f} -> {after:.2f} px; written to {args.calibration_out}")
    names = ["wrist", "thumb_cmc", "index_mcp", "middle_mcp", "ring_mcp", "little_mcp"]
    idx = [0, 1, 5, 9, 13, 17]
    _, r = kept[0]
    print("  offsets (hand-frame units x wrist->middle MCP length; uci median length "
          f"{np.median([np.hypot(*(r.keypoints[9] - r.keypoints[0])) for _, r in kept]):.0f} px): "
          + ", ".join(f"{n} ({cals['median', 'all'].offsets[i][0]:+.3f}, {cals['median', 'all'].offsets[i][1]:+.3f})" for n, i in zip(names, idx)))

    hgc = load_freihand(SHARED / "hgc_dev", "evaluation", box="keypoints")
    pairs, sec = run_teacher(teacher, hgc, True, "hgc_dev", cache / "hgc_dev.pkl")
    found = sum(h is not None for h, _ in pairs)
    kept_n = sum(h is not None and h.kept for h, _ in pairs)
    mirror = np.array([np.mean(h.plain - h.median, axis=0) for h, _ in pairs if h is not None and h.kept])
    print(f"\nhgc_dev: {len(hgc)} hands, found {found}, kept {kept_n} (mirror check 0.08); {1000 * sec:.0f} ms a hand (10 copies)")
    print("| teacher | mean px | median px | joints within 5 px | MCP joints mean px |")
    print("|---|---|---|---|---|")
    mcp = [2, 5, 9, 13, 17]
    per_joint = {}
    for name, which, cal in [("plain (photo mode)", "plain", None),
                             ("plain + calibration (all joints)", "plain", cals["plain", "all"]),
                             ("plain + calibration (MCP joints, default)", "plain", cals["plain", "mcp"]),
                             ("--tta (median of 10)", "median", None),
                             ("--tta + calibration (all joints)", "median", cals["median", "all"]),
                             ("--tta + calibration (MCP joints, default)", "median", cals["median", "mcp"])]:
        e = errors(pairs, which, cal)
        per_joint[name] = e.mean(0)
        print(f"| {name} | {e.mean():.2f} | {np.median(e):.2f} | {(e < 5).mean():.3f} | {e[:, mcp].mean():.2f} |")
    print("per joint, mean px (plain / --tta / --tta + all-joint calibration): "
          + ", ".join(f"{j} {per_joint['plain (photo mode)'][j]:.1f}/{per_joint['--tta (median of 10)'][j]:.1f}/"
                      f"{per_joint['--tta + calibration (all joints)'][j]:.1f}" for j in range(21)))
    print(f"(mean signed plain - TTA median: x {mirror[:, 0].mean():+.2f}, y {mirror[:, 1].mean():+.2f} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
