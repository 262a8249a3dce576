"""`handpose evaluate`: a model's keypoints on a dataset, mapped back to the original images, and the metrics.

    handpose evaluate --weights W --data D [--no-flip-test] [--scales S ...] [--json OUT] [--box image|keypoints] [--out DIR]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..checkpoint import resolve_device
from ..codec import HeatmapCodec
from ..data.datasets import HandDataset, HandRecord, load_coco, load_freihand, read_rgb
from ..data.transforms import apply_affine, box_to_center_size, crop_affine, keypoints_box, warp
from ..errors import HandposeError
from ..skeleton import BONES, FINGERS, JOINT_NAMES
from ..train import metrics
from ..train.evaluate import GRID_CELL, ground_truth, predict_scales
from ..weights import DEFAULT_WEIGHTS, load_model


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", help="a .safetensors release or a .pt training checkpoint (default: the bundled model)")
    p.add_argument("--data", required=True,
                   help="a FreiHAND-layout folder (its evaluation split if present, else training) or a COCO keypoints JSON")
    p.add_argument("--split", choices=["evaluation", "training"], help="FreiHAND split (default: evaluation if present)")
    p.add_argument("--box", choices=["image", "keypoints"],
                   help="the box each hand is cropped from and PCK is normalised by: the whole image, or the keypoints' "
                        "box (default: what the dataset says: the image for FreiHAND, 'bbox' for COCO)")
    # On by default, as MMPose's hand configs score (test_cfg flip_test=True) and as `handpose predict` runs;
    # the training loop's per-epoch check stays without it (one pass, comparable across stages).
    p.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=True,
                   help="average with the heatmaps of the mirrored crop (default: on; --no-flip-test: one pass)")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0], metavar="S",
                   help="average the keypoints of crops S x the usual side (test-time scale augmentation, e.g. "
                        "0.92 1 1.08; default: 1, the one crop)")
    p.add_argument("--json", metavar="OUT", help="also write the metrics and predictions to this JSON file")
    p.add_argument("--out", metavar="DIR", help="folder for metrics.json and grid.png (default: runs/evaluate/<data name>)")
    p.add_argument("--grid", type=int, default=16, metavar="N", help="images in grid.png (0: none; default 16)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=0, help="data-loading processes")


def load_eval_records(data: str | Path, split: str | None = None, box: str | None = None) -> tuple[list[HandRecord], str]:
    """Hand records of a FreiHAND folder or a COCO JSON, with their boxes as ``box`` asks; and the split read."""
    path = Path(data)
    if not path.exists():
        raise HandposeError(f"--data {path}: no such file or folder")
    if path.is_dir():
        if split is None:
            found = [s for s in ("evaluation", "training") if (path / f"{s}_K.json").is_file()]
            if not found:
                raise HandposeError(f"--data {path}: not a FreiHAND-layout folder (no evaluation_K.json or training_K.json)")
            split = found[0]
        return load_freihand(path, split, box=box or "image"), split
    if path.suffix.lower() != ".json":
        raise HandposeError(f"--data {path}: expected a FreiHAND-layout folder or a COCO keypoints .json file")
    records = load_coco(path)
    if box == "image":
        from PIL import Image

        for r in records:
            with Image.open(r.image) as im:  # the header gives the size without decoding
                r.box = np.array([0, 0, *im.size], np.float32)
    elif box == "keypoints":
        for r in records:
            r.box = keypoints_box(r.keypoints, r.visibility)
    return records, "coco"


def run(args: argparse.Namespace) -> int:

    model, info = load_model(args.weights)
    records, split = load_eval_records(args.data, args.split, args.box)
    size = info["input_size"]
    codec = HeatmapCodec.for_model(info)
    dataset = HandDataset(records, codec, None, info["padding"])
    device = resolve_device(args.device, 0)
    model.to(device)
    start = time.time()
    if min(args.scales) <= 0:
        raise HandposeError(f"--scales {' '.join(map(str, args.scales))}: scales must be positive")
    pred, scores = predict_scales(model, dataset, args.scales, device=device, batch_size=args.batch_size,
                                  flip_test=args.flip_test, workers=args.workers, progress=True)
    seconds = time.time() - start
    gt, mask, boxes = ground_truth(dataset)
    result = {
        "weights": str(args.weights or DEFAULT_WEIGHTS),
        "data": str(args.data),
        "split": split,
        "box": args.box or ("bbox" if split == "coco" else "image"),
        "flip_test": bool(args.flip_test),
        "scales": list(args.scales),
        "input_size": size,
        "hands": len(records),
        "metrics": metrics.summary(pred, gt, mask, boxes),
        "per_joint_EPE": dict(zip(JOINT_NAMES, metrics.per_joint_epe(pred, gt, mask).tolist())),
        "seconds": round(seconds, 2),
        "predictions": [
            {"image": str(r.image), "box": [round(float(v), 2) for v in r.box],
             "keypoints": np.round(p, 3).tolist(), "scores": np.round(s, 4).tolist()}
            for r, p, s in zip(records, pred, scores)
        ],
    }
    print(format_table(result))
    out = Path(args.out) if args.out else Path("runs") / "evaluate" / _data_name(args.data)
    from ..io import atomic_write_image, atomic_write_json

    written = [out / "metrics.json"]
    atomic_write_json(out / "metrics.json", json_safe(result))
    if args.json:
        atomic_write_json(args.json, json_safe(result))
        written.append(Path(args.json))
    if args.grid > 0:
        atomic_write_image(out / "grid.png", result_grid(records, pred, args.grid))
        written.append(out / "grid.png")
    print("wrote " + ", ".join(map(str, written)))
    return 0


def json_safe(obj):
    """NaN (a joint never labelled) becomes null: strict JSON readers reject NaN."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    return obj


def _data_name(data: str | Path) -> str:
    p = Path(data).resolve()
    return p.name if p.is_dir() else f"{p.parent.name}_{p.stem}"


def format_table(result: dict) -> str:
    """The figures as a text table: the summary, then per-joint EPE with one row per finger."""
    m, pj = result["metrics"], result["per_joint_EPE"]
    lines = [
        f"{result['hands']} hands from {result['data']} ({result['split']}, box: {result['box']}), "
        f"flip test {'on' if result['flip_test'] else 'off'}, "
        + (f"scales {' '.join(f'{v:g}' for v in result['scales'])}, " if result.get("scales", [1.0]) != [1.0] else "")
        + f"{result['input_size']} px input, {result['seconds']:.1f} s",
        "",
        f"{'PCK@0.2':>9} {'AUC 0-30px':>11} {'EPE (px)':>9} {'AUC_norm':>9}",
        f"{m['PCK@0.2']:>9.4f} {m['AUC']:>11.4f} {m['EPE']:>9.2f} {m['AUC_norm']:>9.4f}",
        "",
        "per-joint EPE (px)   base    2nd    3rd    tip",
        f"{'wrist':<18} {pj['wrist']:>6.2f}",
    ]
    names = list(JOINT_NAMES)
    for f, finger in enumerate(FINGERS):
        vals = [pj[names[1 + 4 * f + i]] for i in range(4)]
        lines.append(f"{finger:<18} " + " ".join(f"{v:>6.2f}" for v in vals))
    return "\n".join(lines)


def result_grid(records: list[HandRecord], pred: np.ndarray, count: int) -> np.ndarray:
    """A BGR grid of up to ``count`` hands spread over the set: each cropped around its box, with the
    ground truth as a thin white skeleton under the predicted one, and its EPE."""
    import cv2

    from ..draw import draw_hand, image_grid

    picks = np.unique(np.linspace(0, len(records) - 1, min(count, len(records))).round().astype(int))
    tiles = []
    for i in picks:
        r = records[i]
        center, side = box_to_center_size(r.box, 1.25)
        m = crop_affine(center, side, (GRID_CELL, GRID_CELL))
        tile = cv2.cvtColor(warp(read_rgb(r.image), m, (GRID_CELL, GRID_CELL)), cv2.COLOR_RGB2BGR)
        gt, vis = apply_affine(r.keypoints, m), r.visibility > 0
        for a, b in BONES:
            if vis[a] and vis[b]:
                cv2.line(tile, tuple(np.round(gt[a]).astype(int)), tuple(np.round(gt[b]).astype(int)), (255, 255, 255), 1, cv2.LINE_AA)
        for p in gt[vis]:
            cv2.circle(tile, tuple(np.round(p).astype(int)), 2, (255, 255, 255), -1, cv2.LINE_AA)
        draw_hand(tile, apply_affine(pred[i], m), thickness=2)
        err = metrics.epe(pred[i : i + 1], r.keypoints[None], vis[None])
        label = f"{r.image.name}  EPE {err:.1f} px"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        cv2.rectangle(tile, (0, 0), (tw + 8, th + 10), (0, 0, 0), -1)
        cv2.putText(tile, label, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    return image_grid(tiles, columns=min(4, len(tiles)), cell=GRID_CELL)
