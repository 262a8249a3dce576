"""ONNX: export a model (dynamic batch and size), run it with ONNX Runtime, quantise it to int8.

An exported file carries the model's info (input size, sigma, padding, ...) in its metadata, so an .onnx
file alone is enough to build an estimator. A model with the handedness head (model.py) is exported with a
second output, ``handedness``: the right-hand logit per crop (N,).

This module sits below export.py (which imports it, never the other way round): the calibration crops of
the int8 quantisation live here because both the cached on-the-fly int8 file and `handpose export --int8` need them.
"""
from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import HandposeError
from ..io import atomic_write, content_hash
from .subpixel import with_subpixel_deconvs

INPUT, OUTPUT, HANDEDNESS = "image", "heatmaps", "handedness"
OPSET = 17
META_KEY = "handpose"


def onnx_bytes(model: torch.nn.Module, info: dict, for_int8: bool = False) -> bytes:
    """The model as an ONNX graph with a dynamic batch and input size, its info in the metadata.
    ``for_int8``: the head's deconvolutions written as convolutions (subpixel.py), which the int8 quantiser
    covers; the same arithmetic, kept out of the fp32 file because there it ran no faster."""
    import onnx

    if for_int8:
        model = with_subpixel_deconvs(model)

    size = info["input_size"]
    buf = io.BytesIO()
    outputs, axes = [OUTPUT], {INPUT: {0: "batch", 2: "height", 3: "width"}, OUTPUT: {0: "batch", 2: "h", 3: "w"}}
    if getattr(model, "handedness", None) is not None:
        model, info = _BothOutputs(model), {**info, "handedness": True}
        outputs.append(HANDEDNESS)
        axes[HANDEDNESS] = {0: "batch"}
    with warnings.catch_warnings():  # the TorchScript exporter announces its deprecation on every call
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(), torch.zeros(1, 3, size, size), buf, input_names=[INPUT], output_names=outputs,
            dynamic_axes=axes, opset_version=OPSET, dynamo=False,
        )
    proto = onnx.load_from_string(buf.getvalue())
    _set_info(proto, info)
    return proto.SerializeToString()


class _BothOutputs(torch.nn.Module):
    """The model's ``forward_all`` as its forward, so the exporter traces both outputs."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_all(x)


def _set_info(proto, info: dict) -> None:
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(info)


def export_onnx(model: torch.nn.Module, info: dict, path: str | Path, for_int8: bool = False) -> None:
    data = onnx_bytes(model, info, for_int8)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def cached_onnx(weights: Path, model: torch.nn.Module, info: dict, int8: bool = False) -> Path | bytes:
    """The ONNX export of a weights file, cached by content under ~/.cache/handpose (or in memory when the
    cache cannot be written), so a run with backend="onnx" pays the export once. ``int8``: the static int8
    quantisation of that export, calibrated on the mini-example (backend="onnx-int8"), cached likewise."""
    digest = content_hash((weights, weights.with_suffix(".json")))
    digest.update(f"{torch.__version__} {OPSET}".encode())
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "handpose" / "onnx"
    path = cache / f"{digest.hexdigest()[:20]}.onnx"
    if int8:
        return _cached_int8(path, model, info)
    if path.is_file():
        return path
    data = onnx_bytes(model, info)
    try:
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        return path
    except OSError:
        return data


def _cached_int8(fp32_path: Path, model: torch.nn.Module, info: dict) -> Path:
    int8_path = fp32_path.with_name(fp32_path.stem + "-int8-subpixel.onnx")
    if int8_path.is_file():
        return int8_path
    from ..data.datasets import MINI_EXAMPLE

    if not MINI_EXAMPLE.is_dir():
        raise HandposeError(f"backend onnx-int8 calibrates on {MINI_EXAMPLE}, which is not here: make the int8 "
                            f"file with `handpose export --format onnx OUT.onnx --int8 --calibration DIR` and pass it as --weights")
    source = fp32_path.with_name(fp32_path.stem + "-subpixel.onnx")
    try:
        export_onnx(model, info, source, for_int8=True)
        quantize_int8(source, int8_path, calibration_crops(MINI_EXAMPLE, info))
    except OSError as e:
        raise HandposeError(f"backend onnx-int8: cannot write {int8_path} ({e}); export an int8 file with "
                            "`handpose export --int8` and pass it as --weights") from None
    finally:
        source.unlink(missing_ok=True)  # the float source is only a step towards the int8 file
    return int8_path


class OnnxBackend:
    """An ONNX Runtime session on the CPU: all graph optimisations, ``threads`` intra-op threads, one
    inter-op thread (the graph is a chain, parallel branches gain nothing)."""

    def __init__(self, model: str | Path | bytes, threads: int | None = None, spin: bool = True):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's choice (the physical cores)
        opts.inter_op_num_threads = 1
        if not spin:  # idle threads sleep instead of spinning on the cores another session is using
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        source = model if isinstance(model, bytes) else str(model)
        try:
            self.session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            name = "model" if isinstance(model, bytes) else str(model)
            raise HandposeError(f"{name}: not a usable ONNX model ({str(e).splitlines()[0]})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if META_KEY not in meta:
            raise HandposeError(f"{model}: not a handpose ONNX export (no '{META_KEY}' metadata); "
                                "make one with `handpose export --format onnx`")
        self.info = json.loads(meta[META_KEY])
        self.has_handedness = HANDEDNESS in {o.name for o in self.session.get_outputs()}

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(batch, np.float32)})[0]

    def run_all(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Heatmaps and the right-hand logits (N,), None when the export has no handedness output."""
        if not self.has_handedness:
            return self(batch), None
        heatmaps, logits = self.session.run([OUTPUT, HANDEDNESS], {INPUT: np.ascontiguousarray(batch, np.float32)})
        return heatmaps, logits


def calibration_crops(root: str | Path, info: dict) -> np.ndarray:
    """Normalised crops the estimator would make from a FreiHAND-layout folder: tight hand boxes (both
    splits) and the whole images (the hand finder's first pass), each also mirrored."""
    from ..data.datasets import load_freihand, read_rgb
    from ..data.transforms import box_to_center_size, crop_affine, normalize, warp

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


def quantize_int8(fp32_path: str | Path, out_path: str | Path, calibration: np.ndarray) -> None:
    """Static int8 quantisation (QDQ, per-channel weights, uint8 activations from min/max calibration on
    ``calibration``, normalised crops (N, 3, S, S)). The info metadata is carried over."""
    import logging

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{INPUT: calibration[i : i + 1]} for i in range(len(calibration))])

        def get_next(self):
            return next(self.items, None)

    info = OnnxBackend(fp32_path, threads=1).info
    out_path = Path(out_path)

    def write(tmp: str) -> None:
        # Pre-processing (shape inference, graph optimisation) folds the deconvolutions' batch norms so
        # that they are quantised with their convolution instead of left as float islands.
        prepared = tmp + ".prep.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser logs advice on the root logger
        try:
            quant_pre_process(str(fp32_path), prepared)
            quantize_static(prepared, tmp, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
            Path(prepared).unlink(missing_ok=True)
        proto = onnx.load(tmp)
        _set_info(proto, info)
        onnx.save(proto, tmp)

    atomic_write(out_path, write)
