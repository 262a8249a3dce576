"""`handpose detect-train --config configs/detector.yaml [key.sub=value ...]`: train the hand detector
(train/detect.py), or continue a run (`--resume RUN_DIR`)."""
from __future__ import annotations

import argparse

from ..checkpoint import run_to_start
from ..train.detect import DetectorTrainer, load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML recipe (e.g. configs/detector.yaml)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR after its last finished epoch")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value",
                   help="override recipe fields, as `handpose train` takes them, e.g. train.epochs=1")


def run(args: argparse.Namespace) -> int:
    cfg, run_dir = run_to_start(args.resume, args.config, args.overrides, load_config, refuse_existing=True)
    DetectorTrainer(cfg, run_dir, resume=bool(args.resume)).fit()
    return 0
