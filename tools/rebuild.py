"""Rebuild a shipped model from ../shared alone, into runs/: `python tools/rebuild.py pose|detector|side [--dry-run]`.

Each model is a list of steps (commands, in order); a finished step is skipped, so a rebuild stopped at any point
continues where it stopped: a file step is finished when its output exists, a training stage when its log has
every epoch of its recipe, and a stage stopped part way is continued exactly with `handpose train --resume`.
Nothing is written under handpose/weights: the last step's file in runs/ is what would replace the bundled one.
The gesture classifier's recipe needs repository snapshots besides ../shared; its commands are in MODEL_CARD.md.
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDPOSE = str(ROOT / ".venv" / "bin" / "handpose")


def train(stage: str) -> tuple[str, str]:
    """A pose training stage: its command and its run folder."""
    return f"{HANDPOSE} train --config configs/{stage}.yaml", f"runs/{stage}/"


def finished(output: str) -> bool:
    """A file step: its file exists. A training stage (a run folder): its log.csv has every epoch of the
    recipe it ran with (the run's own config.yaml)."""
    path = ROOT / output
    if not output.endswith("/"):
        return path.exists()
    import yaml

    if not (path / "config.yaml").is_file() or not (path / "log.csv").is_file():
        return False
    epochs = yaml.safe_load((path / "config.yaml").read_text())["train"]["epochs"]
    return len((path / "log.csv").read_text().splitlines()) - 1 >= epochs


def average(out: str, *inputs: str) -> tuple[str, str]:
    return f"{HANDPOSE} export --format safetensors {out} --average {' '.join(inputs)}", out


def release(out: str, weights: str) -> tuple[str, str]:
    return f"{HANDPOSE} export --format safetensors {out} --weights {weights}", out


def best(stage: str) -> str:
    return f"runs/{stage}/best.pt"


STEPS: dict[str, list[tuple[str, str]]] = {
    # Pose model v2: the lineage that made handpose/weights/default.safetensors (docs/pose_training.md). Stage 8
    # on read the committed teacher calibrations (configs/teacher_calibration*.json; the command that fits them
    # is in docs/pose_training.md).
    "pose": [
        train("default_v2_stage1"), train("default_v2"), train("default_v2_stage3"), train("default_v2_stage4"),
        release("runs/stage4.safetensors", best("default_v2_stage4")),
        train("default_v2_stage5"),
        average("runs/soup_stage4_stage5.safetensors", best("default_v2_stage4"), best("default_v2_stage5")),
        train("default_v2_stage6"),
        average("runs/mean4_6.safetensors", *(best(f"default_v2_stage{i}") for i in (4, 5, 6))),
        train("default_v2_stage8"), train("default_v2_stage9"),
        average("runs/mean8_9.safetensors", best("default_v2_stage8"), best("default_v2_stage9")),
        train("default_v2_stage12"), train("default_v2_stage13"),
        average("runs/mean12_13.safetensors", best("default_v2_stage12"), best("default_v2_stage13")),
        train("default_v2_stage14"),
        average("runs/mean12_14.safetensors", *(best(f"default_v2_stage{i}") for i in (12, 13, 14))),
        train("default_v2_stage15"), train("default_v2_stage16"), train("default_v2_stage17"), train("default_v2_stage18"),
        release("runs/stage18.safetensors", best("default_v2_stage18")),
        average("runs/mean12_14_18.safetensors", "runs/mean12_14.safetensors", "runs/stage18.safetensors"),
        train("default_v2_stage23"),  # from that mean: video's augmentation
        release("runs/default.safetensors", best("default_v2_stage23")),
    ],
    # The hand detector (configs/detector.yaml): its run writes detector.safetensors + .json.
    "detector": [(f"{HANDPOSE} detect-train --config configs/detector.yaml train.threads=1",
                  "runs/detector/detector.safetensors")],
    # The palm-side classifier: teacher_hands, then rendered hands (MODEL_CARD.md).
    "side": [
        (f"{HANDPOSE} train-side --out runs/side/side.safetensors --steps 3600 --balance --edge-on --seed 1 --threads 2",
         "runs/side/side.safetensors"),
        (f"{HANDPOSE} synth --n 4000 --seed 11 --out runs/synth_side", "runs/synth_side/annotations.json"),
        (f"{HANDPOSE} train-side --out runs/side_syn/side.safetensors --data "
         "../shared/data/teacher_hands/annotations.json runs/synth_side/annotations.json --init "
         "runs/side/side.safetensors --steps 1500 --lr 3e-4 --balance --edge-on --threads 2",
         "runs/side_syn/side.safetensors"),
    ],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=sorted(STEPS))
    ap.add_argument("--dry-run", action="store_true", help="print the steps, marking those already done")
    args = ap.parse_args()
    steps = STEPS[args.model]
    for i, (command, output) in enumerate(steps, 1):
        done = finished(output)
        print(f"[{i}/{len(steps)}] {'done ' if done else 'to do'} {command}", flush=True)
        if done or args.dry_run:
            continue
        run_dir = ROOT / output
        if output.endswith("/") and (run_dir / "last.pt").exists():
            command = f"{HANDPOSE} train --resume {run_dir.relative_to(ROOT)}"  # continue the stopped stage exactly
        started = time.time()
        if subprocess.run(shlex.split(command), cwd=ROOT).returncode != 0:
            print(f"step {i} failed: {command}", file=sys.stderr)
            return 1
        print(f"step {i} done in {(time.time() - started) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
