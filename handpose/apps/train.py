"""`handpose train --config RECIPE [key.sub=value ...]`: train a pose model (train/loop.py), continue a run
(`--resume`), or score weights with a recipe's per-epoch checks (`--validate`)."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ..checkpoint import run_to_start
from ..errors import HandposeError
from ..io import atomic_write_json
from ..train.config import load_config
from ..train.loop import Trainer
from ..release import read_release


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="recipe YAML (see configs/)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override train.device")
    p.add_argument("--output", help="folder for runs (default: the recipe's output, runs/)")
    p.add_argument("--validate", metavar="WEIGHTS", help="train nothing: score WEIGHTS (.pt or .safetensors) with the "
                   "recipe's per-epoch checks (validation set, held-out sources, hand-free crops, left/right) and print them")
    p.add_argument("--json", metavar="FILE", help="with --validate: also write the scores to FILE")
    p.add_argument("--record", action="store_true", help="with --validate of a .safetensors release: write the scores "
                   "into its .json as its metrics (an averaged release has none until measured)")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value", help="override recipe fields, e.g. train.epochs=5")


def run(args: argparse.Namespace) -> int:
    if args.validate:
        return validate_weights(args)
    if args.json or args.record:
        raise HandposeError("--json and --record go with --validate")
    cfg, run_dir = run_to_start(args.resume, args.config, args.overrides, load_config, args.output)
    if args.device:
        cfg["train"]["device"] = args.device
    Trainer(cfg, run_dir, resume=bool(args.resume)).fit()
    return 0


def validate_weights(args: argparse.Namespace) -> int:
    """The checks an epoch of the recipe ends with, for a model that no epoch made (an averaged release),
    so that its metrics come from the same code as the training log's."""
    if not args.config or args.resume:
        raise HandposeError("--validate needs --config (the recipe whose checks to run) and no --resume")
    if not Path(args.validate).is_file():
        raise HandposeError(f"--validate {args.validate}: file not found")
    if args.record and not args.validate.endswith(".safetensors"):
        raise HandposeError(f"--record writes into a release's .json: {args.validate} is not a .safetensors release")
    cfg = load_config(args.config, [*args.overrides, f"train.init_weights={args.validate}", "train.backbone_weights=null"])
    if args.device:
        cfg["train"]["device"] = args.device
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp))
        scores = trainer.validate()
        if trainer.writer is not None:
            trainer.writer.close()
    scores = {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}
    print(" ".join(f"{k}={v}" for k, v in scores.items()), flush=True)
    if args.json:
        atomic_write_json(Path(args.json), {"weights": str(args.validate), "config": str(args.config), "metrics": scores})
        print(f"wrote {args.json}")
    if args.record:
        release = Path(args.validate)
        info, _ = read_release(release)
        note = (f"measured on this release by `handpose train --config {args.config} --validate {release.name}` "
                f"(flip test {'on' if cfg['train']['flip_test'] else 'off'})")
        atomic_write_json(release.with_suffix(".json"), {**info, "metrics": scores, "metrics_note": note})
        print(f"wrote the scores into {release.with_suffix('.json')}")
    return 0
