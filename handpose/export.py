"""`handpose export`: a model to ONNX (fp32 or int8) or to a safetensors release.

    handpose export --format onnx OUT.onnx [--int8] [--weights W]
    handpose export --format safetensors OUT.safetensors --weights CKPT.pt

ONNX exports have a dynamic batch (and input size) and are checked against PyTorch on random inputs and
on the mini-example before they are kept. ``--int8`` writes a statically quantised model calibrated on the
mini-example crops and reports its keypoint difference from fp32.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from .datasets import MINI_EXAMPLE
from .errors import HandposeError
from .io import atomic_write
from .weights import load_model, save_release

PARITY_PX = 0.5  # largest keypoint difference (input pixels) allowed between PyTorch and the fp32 export


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("output", help="the file to write (.onnx or .safetensors)")
    p.add_argument("--format", choices=["onnx", "safetensors"], default="onnx")
    p.add_argument("--weights", default=None, help="model to export (default: the bundled one); a .pt checkpoint "
                   "or .safetensors release")
    p.add_argument("--int8", action="store_true", help="static int8 quantisation calibrated on the mini-example")
    p.add_argument("--calibration", default=str(MINI_EXAMPLE), help="FreiHAND-layout folder for --int8 calibration")


def calibration_crops(root: str | Path, info: dict) -> np.ndarray:
    """Normalised crops the estimator would make from a FreiHAND-layout folder: tight hand boxes (both
    splits) and the whole images (the hand finder's first pass), each also mirrored."""
    from .datasets import load_freihand, read_rgb
    from .transforms import box_to_center_size, crop_affine, normalize, warp

    records = []
    for split in ("training", "evaluation"):
        if (Path(root) / f"{split}_K.json").is_file():
            records += load_freihand(root, split, box="keypoints", padding=1.0, versions=1)
    if not records:
        raise HandposeError(f"{root}: no FreiHAND-layout samples for calibration")
    size = (info["input_size"], info["input_size"])
    crops = []
    for r in records:
        image = read_rgb(r.image)
        h, w = image.shape[:2]
        for box, pad in ((r.box, info["padding"]), (np.array([0, 0, w, h], np.float32), 1.0)):
            c, side = box_to_center_size(box, pad)
            crop = normalize(warp(image, crop_affine(c, side, size), size))
            crops += [crop, np.ascontiguousarray(crop[..., ::-1])]
    return np.stack(crops)


def keypoint_distances(info: dict, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances (input pixels) between the keypoints decoded from two heatmap batches."""
    from .codec import HeatmapCodec

    codec = HeatmapCodec.for_model(info)
    return np.linalg.norm(codec.decode(a)[0] - codec.decode(b)[0], axis=-1)


def check_parity(model: torch.nn.Module, info: dict, onnx_path: Path, inputs: np.ndarray) -> float:
    from .onnx_backend import OnnxBackend

    with torch.inference_mode():
        ref = model(torch.from_numpy(inputs)).numpy()
    return float(keypoint_distances(info, ref, OnnxBackend(onnx_path, threads=2)(inputs)).max())


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if args.format == "safetensors":
        if args.weights is None or Path(args.weights).suffix not in (".pt", ".pth"):
            raise HandposeError("--format safetensors makes a release from a training checkpoint: pass --weights CKPT.pt")
        if out.suffix != ".safetensors":
            raise HandposeError(f"{out}: a safetensors release must end in .safetensors")
        if args.int8:
            raise HandposeError("--int8 applies to --format onnx only")
        model, info = load_model(args.weights)
        save_release(model, info, out)
        print(f"wrote {out} and {out.with_suffix('.json').name} (fp16, {info['arch']}, input {info['input_size']}, "
              f"metrics {', '.join(f'{k}={v:.4g}' for k, v in info.get('metrics', {}).items() if isinstance(v, float))})")
        return 0

    from .onnx_backend import OnnxBackend, export_onnx, quantize_int8

    if out.suffix != ".onnx":
        raise HandposeError(f"{out}: an ONNX export must end in .onnx")
    model, info = load_model(args.weights)
    rng = np.random.default_rng(0)
    s = info["input_size"]
    random_inputs = rng.standard_normal((4, 3, s, s)).astype(np.float32)
    crops = calibration_crops(args.calibration, info)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_onnx(model, info, fp32)
        diff = max(check_parity(model, info, fp32, random_inputs), check_parity(model, info, fp32, crops[:8]))
        if diff >= PARITY_PX:
            raise HandposeError(f"the ONNX export differs from PyTorch by {diff:.3f} px (limit {PARITY_PX})")
        print(f"fp32 export matches PyTorch: max keypoint difference {diff:.4f} px on random inputs and sample crops")
        if not args.int8:
            atomic_write(out, lambda t: shutil.copyfile(fp32, t))
        else:
            quantize_int8(fp32, out, crops)
            d = keypoint_distances(info, OnnxBackend(fp32, threads=2)(crops), OnnxBackend(out, threads=2)(crops))
            print(f"int8: calibrated on {len(crops)} crops from {args.calibration}; keypoints vs fp32 on those crops: "
                  f"median {np.median(d):.2f} px, mean {d.mean():.2f} px, max {d.max():.1f} px (input {s}x{s}); "
                  "measure accuracy with bench/latency.py --accuracy")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, dynamic batch, opset 17)")
    return 0
