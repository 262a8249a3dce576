"""`handpose export`: a model to ONNX (fp32 or int8) or to a safetensors release.

    handpose export --format onnx OUT.onnx [--int8] [--weights W]
    handpose export --format safetensors OUT.safetensors --weights CKPT.pt
    handpose export --format safetensors OUT.safetensors --average A.pt B.safetensors [...]

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

from ..data.datasets import MINI_EXAMPLE
from ..errors import HandposeError
from ..io import atomic_write
from ..weights import average_models, load_model
from ..release import save_release

PARITY_PX = 0.5  # largest keypoint difference (input pixels) allowed between PyTorch and the fp32 export
PARITY_PROB = 0.01  # largest right-hand probability difference allowed (models with the handedness head)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("output", help="the file to write (.onnx or .safetensors)")
    p.add_argument("--format", choices=["onnx", "safetensors"], default="onnx")
    p.add_argument("--weights", default=None, help="model to export (default: the bundled one); a .pt checkpoint "
                   "or .safetensors release")
    p.add_argument("--average", nargs="+", metavar="W", default=None, help="--format safetensors: release the "
                   "uniform average of these models' weights (same architecture, one training lineage)")
    p.add_argument("--int8", action="store_true", help="static int8 quantisation calibrated on the mini-example")
    p.add_argument("--calibration", default=str(MINI_EXAMPLE), help="FreiHAND-layout folder for --int8 calibration")


def keypoint_distances(info: dict, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances (input pixels) between the keypoints decoded from two heatmap batches."""
    from ..codec import HeatmapCodec

    codec = HeatmapCodec.for_model(info)
    return np.linalg.norm(codec.decode(a)[0] - codec.decode(b)[0], axis=-1)


def check_parity(model: torch.nn.Module, info: dict, onnx_path: Path, inputs: np.ndarray) -> tuple[float, float]:
    """Largest keypoint difference (input pixels) and largest right-hand probability difference (0 without
    the handedness head) between PyTorch and the ONNX file."""
    from ..pose.onnx_backend import OnnxBackend

    with torch.inference_mode():
        ref, ref_logits = model.forward_all(torch.from_numpy(inputs))
    heatmaps, logits = OnnxBackend(onnx_path, threads=2).run_all(inputs)
    px = float(keypoint_distances(info, ref.numpy(), heatmaps).max())
    if ref_logits is None:
        return px, 0.0
    if logits is None:
        raise HandposeError(f"{onnx_path}: the export lost the handedness output")
    return px, float(np.abs(sigmoid(ref_logits.numpy()) - sigmoid(logits)).max())


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if args.average and (args.format != "safetensors" or args.weights is not None):
        raise HandposeError("--average makes a release: use it with --format safetensors and without --weights")
    if args.format == "safetensors":
        if not args.average and (args.weights is None or Path(args.weights).suffix not in (".pt", ".pth")):
            raise HandposeError("--format safetensors makes a release from a training checkpoint: pass --weights CKPT.pt")
        if out.suffix != ".safetensors":
            raise HandposeError(f"{out}: a safetensors release must end in .safetensors")
        if args.int8:
            raise HandposeError("--int8 applies to --format onnx only")
        model, info = average_models(args.average) if args.average else load_model(args.weights)
        save_release(model, info, out)
        what = f"the average of {', '.join(args.average)}" if args.average else f"input {info['input_size']}, metrics " + \
            ", ".join(f"{k}={v:.4g}" for k, v in info.get("metrics", {}).items() if isinstance(v, float))
        print(f"wrote {out} and {out.with_suffix('.json').name} (fp16, {info['arch']}, {what})")
        return 0

    from ..pose.onnx_backend import OnnxBackend, calibration_crops, export_onnx, quantize_int8

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
        (px1, p1), (px2, p2) = check_parity(model, info, fp32, random_inputs), check_parity(model, info, fp32, crops[:8])
        diff, pdiff = max(px1, px2), max(p1, p2)
        if diff >= PARITY_PX:
            raise HandposeError(f"the ONNX export differs from PyTorch by {diff:.3f} px (limit {PARITY_PX})")
        if pdiff >= PARITY_PROB:
            raise HandposeError(f"the ONNX export's handedness differs from PyTorch by {pdiff:.4f} (limit {PARITY_PROB})")
        print(f"fp32 export matches PyTorch: max keypoint difference {diff:.4f} px on random inputs and sample crops"
              + (f", right-hand probability {pdiff:.5f}" if model.handedness is not None else ""))
        if not args.int8:
            atomic_write(out, lambda t: shutil.copyfile(fp32, t))
        else:
            convs = Path(tmp) / "for_int8.onnx"  # the deconvolutions as convolutions, so that int8 covers them
            export_onnx(model, info, convs, for_int8=True)
            quantize_int8(convs, out, crops)
            (ref, ref_logits), (q, q_logits) = OnnxBackend(fp32, threads=2).run_all(crops), OnnxBackend(out, threads=2).run_all(crops)
            d = keypoint_distances(info, ref, q)
            hand = ""
            if ref_logits is not None:
                dp = np.abs(sigmoid(ref_logits) - sigmoid(q_logits))
                same = np.mean((ref_logits > 0) == (q_logits > 0))
                hand = f"; right-hand probability: max difference {dp.max():.3f}, same side on {100 * same:.1f}%"
            print(f"int8: calibrated on {len(crops)} crops from {args.calibration}; keypoints vs fp32 on those crops: "
                  f"median {np.median(d):.2f} px, mean {d.mean():.2f} px, max {d.max():.1f} px (input {s}x{s}){hand}; "
                  "measure accuracy with bench/latency.py --accuracy")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, dynamic batch, opset 17)")
    return 0
