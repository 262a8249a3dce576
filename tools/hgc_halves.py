"""hgc_dev split by order into a selection half and a check half, as COCO keypoint files a recipe's data.val
(or bench/score_predict.py) reads: choose on the first, report the second.

    .venv/bin/python tools/hgc_halves.py [--data ../shared/data/hgc_dev] [--select 146] [--out runs]
    -> runs/hgc_dev_select.json, runs/hgc_dev_check.json (image paths absolute; nothing is copied)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handpose.data.datasets import load_freihand  # noqa: E402
from handpose.data.transforms import keypoints_box  # noqa: E402
from handpose.io import atomic_write_json  # noqa: E402
from handpose.skeleton import COCO_CATEGORIES  # noqa: E402


def coco(records) -> dict:
    images, annotations = [], []
    for i, r in enumerate(records):
        images.append({"id": i, "file_name": str(Path(r.image).resolve()), "source": "hgc_dev"})
        kps = [[float(x), float(y), 2] for x, y in r.keypoints]
        annotations.append({"id": i, "image_id": i, "keypoints": [v for k in kps for v in k], "num_keypoints": 21,
                            "bbox": [float(v) for v in keypoints_box(r.keypoints)]})
    return {"images": images, "annotations": annotations, "categories": COCO_CATEGORIES}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "hgc_dev"))
    p.add_argument("--select", type=int, default=146, help="photos in the selection half, the first in order")
    p.add_argument("--out", default=str(ROOT / "runs"))
    args = p.parse_args()
    records = load_freihand(args.data, "evaluation")
    for name, part in (("select", records[:args.select]), ("check", records[args.select:])):
        path = Path(args.out) / f"hgc_dev_{name}.json"
        atomic_write_json(path, coco(part))
        print(f"{path}: {len(part)} hands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
