"""The hand detector on ONNX Runtime, fp32 or static int8.

Export, cache, session and quantiser are the pose model's (pose/onnx_backend.py): the detector's three heads
are stacked into that module's single output (heatmap logit, offset x, y, log w, h: 5 channels), so the
export has its input and output names, dynamic batch and size, info metadata and content-keyed cache
(~/.cache/handpose/onnx). Only the int8 calibration images are the detector's own: letterboxed
mini-example photos, whole and shrunk into a grey canvas (so small hands' activations are seen), each
also mirrored.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from ..data.datasets import MINI_EXAMPLE, read_rgb
from ..data.transforms import normalize
from ..errors import HandposeError
from ..pose.onnx_backend import OnnxBackend, cached_onnx, quantize_int8
from .codec import letterbox

# Written into the export's info: a cached file of another layout (an older export) is refused, not misread.
LAYOUT = "heatmap, offset x, offset y, log w, log h"


class _Stacked(torch.nn.Module):
    """The detector with its three outputs concatenated along the channels (N, 5, G, G)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.model(x), 1)


def calibration_inputs(info: dict, root: Path = MINI_EXAMPLE) -> np.ndarray:
    """Normalised detector inputs (N, 3, S, S) from the photos of a FreiHAND-layout folder."""
    files = sorted(Path(root).glob("*/rgb/*.jpg"))
    if not files:
        raise HandposeError(f"detector backend onnx-int8 calibrates on the photos in {root}, and there are none; "
                            "use backend onnx (fp32)")
    size, out = info["input_size"], []
    for f in files:
        image = read_rgb(f)
        h, w = image.shape[:2]
        canvas = np.full((2 * h, 2 * w, 3), 114, np.uint8)  # the photo at half the scale: a smaller hand
        canvas[h // 2 : h // 2 + h, w // 3 : w // 3 + w] = image
        for view in (image, canvas):
            x = normalize(letterbox(view, size)[0])
            out += [x, np.ascontiguousarray(x[..., ::-1])]
    return np.stack(out)


def detector_onnx(weights: Path, model: torch.nn.Module, info: dict, int8: bool = False) -> Path | bytes:
    """The detector's ONNX export (a cached file, or bytes when the cache cannot be written); ``int8``: its
    static int8 quantisation, cached beside the fp32 file as ``<digest>-int8.onnx``."""
    fp32 = cached_onnx(weights, _Stacked(model.eval()), {**info, "onnx_outputs": LAYOUT})
    if not int8:
        return fp32
    if isinstance(fp32, Path):
        int8_path = fp32.with_name(fp32.stem + "-int8.onnx")
        if int8_path.is_file():
            return int8_path
        try:
            quantize_int8(fp32, int8_path, calibration_inputs(info))
            return int8_path
        except OSError:
            pass  # the cache took the fp32 file but refuses this one: quantise in memory below
    with tempfile.TemporaryDirectory() as tmp:  # no writable cache: quantise through a temporary folder
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(fp32 if isinstance(fp32, bytes) else fp32.read_bytes())
        quantize_int8(src, dst, calibration_inputs(info))
        return dst.read_bytes()


class OnnxDetector:
    """``run(batch) -> (heatmap logits, offset, log size)``, as HandDetectorNet's forward, on ONNX Runtime."""

    def __init__(self, model: Path | bytes, threads: int | None = None):
        self.backend = OnnxBackend(model, threads)
        self.info = self.backend.info
        name = "the detector export" if isinstance(model, bytes) else str(model)
        if self.info.get("kind") != "hand-detector":
            raise HandposeError(f"{name}: not a hand-detector ONNX export (its info says "
                                f"kind={self.info.get('kind')!r})")
        if self.info.get("onnx_outputs") != LAYOUT:
            raise HandposeError(f"{name}: a detector export of another output layout; delete it to have it made again")

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = self.backend(batch)
        return out[:, :1], out[:, 1:3], out[:, 3:5]
