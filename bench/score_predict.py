"""Score a `handpose predict --json` file against a labelled data set: the figures of "predict on hgc_dev" and
"left/right on uci_hand" in the README and the model card.

    .venv/bin/handpose predict ../shared/data/hgc_dev/evaluation/rgb --json hgc.json
    .venv/bin/python bench/score_predict.py hgc.json --data ../shared/data/hgc_dev
    .venv/bin/handpose predict ../shared/data/uci_hand/images --json uci.json
    .venv/bin/python bench/score_predict.py uci.json --data ../shared/data/uci_hand/annotations.json

Images are matched by file name. Keypoints: per photo, the best-scoring hand is scored (one labelled hand a
photo), as bench/compare_mediapipe.py's predict-path rows do; a photo with no hand is a miss (wrong at every PCK
threshold, left out of EPE). Left/right (where the labels have a `hand` field, as uci_hand's do): the reported
hand whose box overlaps the labelled keypoints' box most, found when that IoU is at least 0.5, as
bench/detect.py counts it; accuracy is over the labelled hands found.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handpose.data.datasets import load_coco, load_freihand  # noqa: E402
from handpose.data.transforms import keypoints_box  # noqa: E402
from handpose.detect.codec import iou_matrix  # noqa: E402
from handpose.errors import HandposeError  # noqa: E402
from handpose.train import metrics  # noqa: E402

IOU = 0.5


def load_labels(data: str):
    path = Path(data)
    if path.suffix == ".json":
        return load_coco(path)
    return load_freihand(path, "evaluation" if (path / "evaluation").is_dir() else "training", versions=1)


def score(predictions: dict, records) -> dict:
    by_name = {Path(e["image"]).name: e["hands"] for e in predictions["images"]}
    records = [r for r in records if Path(r.image).name in by_name]
    if not records:
        raise HandposeError("no image of the predictions is in the labelled data set (matched by file name)")
    gt = np.stack([r.keypoints for r in records]).astype(np.float64)
    pred = np.zeros_like(gt)
    found = np.zeros(len(records), bool)
    labelled = located = sided = correct = 0
    for i, r in enumerate(records):
        hands = by_name[Path(r.image).name]
        if hands:
            best = max(hands, key=lambda h: h["score"])
            pred[i] = np.asarray(best["keypoints"], np.float64)[:, :2]
            found[i] = True
        side = (r.extra or {}).get("hand")
        if side in ("left", "right"):
            labelled += 1
            if hands:
                iou = iou_matrix(np.array([h["box"] for h in hands]), keypoints_box(r.keypoints))[:, 0]
                if iou.max() >= IOU:
                    located += 1
                    h = hands[int(iou.argmax())]
                    sided += h.get("handedness") is not None
                    correct += h.get("handedness") == side
    out = {"photos": len(records), **metrics.with_misses(pred, found, gt)}
    if labelled:
        out.update({"labelled_sides": labelled, "located": located, "sided": sided, "side_correct": correct,
                    "side_accuracy": correct / located if located else float("nan")})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("predictions", help="a `handpose predict --json` file")
    p.add_argument("--data", required=True, help="FreiHAND-layout folder or COCO keypoints JSON with the labels")
    args = p.parse_args(argv)
    try:
        predictions = json.loads(Path(args.predictions).read_text())
        result = score(predictions, load_labels(args.data))
    except (OSError, ValueError, KeyError, HandposeError) as e:
        print(f"score_predict: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
