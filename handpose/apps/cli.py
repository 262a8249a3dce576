"""`handpose <command>`: each command lives in its own module with ``add_arguments(parser)`` and ``run(args)``."""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import HandposeError

# command -> (module, one-line help). Modules are imported only when their command runs, so start-up is quick.
COMMANDS = {
    "train": ("handpose.apps.train", "train a model from a YAML recipe"),
    "evaluate": ("handpose.apps.evaluate", "PCK / AUC / EPE of a model on a dataset"),
    "predict": ("handpose.apps.predict", "keypoints for image files or folders"),
    "export": ("handpose.apps.export", "export a model to ONNX (optionally int8)"),
    "live": ("handpose.apps.live", "real-time hand pose from a camera or a video"),
    "serve": ("handpose.apps.web.serve", "the web app under a production WSGI server"),
    "demo": ("handpose.apps.demo", "run the default model on the bundled sample images"),
    "train-handedness": ("handpose.apps.train_handedness", "fit the left/right hand head on a frozen pose model"),
    "train-side": ("handpose.apps.train_side", "train the palm-side classifier that tells left hands from right"),
    "gesture": ("handpose.apps.gesture", "train and evaluate gesture classifiers on folders of labelled photos"),
    "synth": ("handpose.apps.synth", "render synthetic hands with exact keypoints"),
    "label": ("handpose.apps.label", "label your own photos and videos with a teacher model"),
    "detect-train": ("handpose.apps.detect_train", "train the hand detector from a YAML recipe (configs/detector.yaml)"),
}


def build_parser(available: dict[str, object]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handpose", description="2D hand pose estimation (21 keypoints).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in available.items():
        p = sub.add_parser(name, help=COMMANDS[name][1], description=COMMANDS[name][1])
        module.add_arguments(p)
    return parser


def load_commands(names=None) -> dict[str, object]:
    available = {}
    for name, (module_name, _) in COMMANDS.items():
        if names is not None and name not in names:
            continue
        try:
            available[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:  # a real missing dependency inside the module: surface it
                raise
    return available


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Import only the chosen command's module when we can tell which it is.
    chosen = [a for a in argv if not a.startswith("-")][:1]
    commands = load_commands(chosen if chosen and chosen[0] in COMMANDS else None)
    args = build_parser(commands).parse_args(argv)
    try:
        return int(commands[args.command].run(args) or 0)
    except HandposeError as e:
        print(f"handpose {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
