"""The options every front end that runs the pipeline shares (predict, live, serve), so that their names,
defaults and help cannot drift apart."""
from __future__ import annotations

import argparse

from ..pose.inference import BACKENDS

# fp32 by default, where accuracy counts more than time (predict, demo): on hgc_dev's photos (flip test) the
# int8 pose model gives EPE 7.36 px against fp32's 7.32 (bench/compare_mediapipe.py --backend).
DEFAULT_BACKEND = "onnx"
# int8 for live video: with the head's deconvolutions quantised too (pose/subpixel.py) the pose model takes
# 11-14 ms for two crops against fp32's 24-25 (bench/live.py: 35-44 FPS against 26-27 on two hands).
LIVE_BACKEND = "onnx-int8"


def add_pipeline_arguments(p: argparse.ArgumentParser, backend: str = DEFAULT_BACKEND) -> None:
    """--weights, --backend, --max-hands, --detector, --side and --gestures."""
    p.add_argument("--weights", default=None,
                   help="pose model: .safetensors release, .pt checkpoint or .onnx export (default: the bundled one)")
    p.add_argument("--backend", choices=BACKENDS, default=backend,
                   help=f"inference engine (default {backend}; onnx: ONNX Runtime on the fp32 export; onnx-int8: its "
                        "int8 quantisation, faster on some CPUs, slightly less accurate; an .onnx --weights always "
                        "uses ONNX Runtime)")
    p.add_argument("--max-hands", type=int, default=2, help="the most hands per image or frame (default 2)")
    p.add_argument("--detector", default=None, metavar="WEIGHTS",
                   help="hand detector weights (default: the bundled ones when present; without them the pose "
                        "model finds the hands itself)")
    p.add_argument("--side", default=None, metavar="WEIGHTS",
                   help="palm-side classifier weights that tell left hands from right (default: the bundled ones; "
                        "'none': the pose model's own left/right head, if it has one)")
    p.add_argument("--gestures", default=None, metavar="FILE",
                   help="gesture classifier (default: the bundled canned gestures, MediaPipe's names; a file from "
                        "'handpose gesture train' for your own; 'none': no gestures)")
