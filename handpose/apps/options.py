"""The options every front end that runs the pipeline shares (predict, live, serve), so that their names,
defaults and help cannot drift apart."""
from __future__ import annotations

import argparse

from ..defaults import PHOTO, Defaults
from ..pose.inference import BACKENDS


def add_pipeline_arguments(p: argparse.ArgumentParser, defaults: Defaults = PHOTO) -> None:
    """--weights, --backend, --flip-test, --max-hands, --recrops, --upright, --detector, --side and --gestures, with
    ``defaults``
    (defaults.py: PHOTO for predict, serve and gesture; VIDEO for live)."""
    backend = defaults.backend
    p.add_argument("--weights", default=None,
                   help="pose model: .safetensors release, .pt checkpoint or .onnx export (default: the bundled one)")
    p.add_argument("--backend", choices=BACKENDS, default=backend,
                   help=f"inference engine (default {backend}; onnx: ONNX Runtime on the fp32 export; onnx-int8: its "
                        "int8 quantisation, faster on some CPUs, slightly less accurate; an .onnx --weights always "
                        "uses ONNX Runtime)")
    p.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=defaults.flip_test,
                   help="average each crop's heatmaps with its mirror image's (default: "
                        f"{'on; --no-flip-test is 1.4x faster and a little less accurate' if defaults.flip_test else 'off'})")
    p.add_argument("--max-hands", type=int, default=defaults.max_hands,
                   help=f"the most hands per image or frame (default {defaults.max_hands})")
    p.add_argument("--recrops", type=int, choices=range(0, 4), default=defaults.recrops, metavar="N",
                   help="pose passes re-cropped from the hand's own keypoints after a detection, 0-3 (default "
                        f"{defaults.recrops}; each costs one pose pass a hand)")
    p.add_argument("--upright", action=argparse.BooleanOptionalAction, default=defaults.upright,
                   help="turn each crop made from a hand's keypoints (re-crops, tracking) so the hand points up, as "
                        f"the pose model saw most hands in training (default: {'on' if defaults.upright else 'off'})")
    p.add_argument("--detector", default=None, metavar="WEIGHTS",
                   help="hand detector weights (default: the bundled ones when present; without them the pose "
                        "model finds the hands itself)")
    p.add_argument("--side", default=None, metavar="WEIGHTS",
                   help="palm-side classifier weights that tell left hands from right (default: the bundled ones; "
                        "'none': the pose model's own left/right head, if it has one)")
    p.add_argument("--gestures", default=None, metavar="FILE",
                   help="gesture classifier (default: the bundled canned gestures, MediaPipe's names; a file from "
                        "'handpose gesture train' for your own; 'none': no gestures)")


def create_pipeline(args: argparse.Namespace, **overrides):
    """The HandPipeline the options in ``args`` describe (``overrides`` win): one place, so that predict, serve,
    live and gesture build it alike."""
    from ..pipeline import HandPipeline

    kw = dict(backend=args.backend, detector_weights=args.detector, max_hands=args.max_hands,
              flip_test=args.flip_test, threads=getattr(args, "threads", None), side_weights=args.side,
              gestures=args.gestures, recrops=args.recrops, upright=args.upright)
    return HandPipeline.create(args.weights, **{**kw, **overrides})
