"""Training checkpoints on disk and the device they run on: below train, evaluate and weights, which all use them."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from .errors import HandposeError
from .io import atomic_write


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise HandposeError("--device cuda: no CUDA device is available")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def save_checkpoint(state: dict, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise HandposeError(f"{path}: checkpoint not found")
    try:
        # The checkpoint holds our own optimizer and RNG states, which need full unpickling.
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise HandposeError(f"{path}: not a readable checkpoint ({e})") from None


def run_to_start(resume: str | None, config: str | None, overrides: list[str],
                 load_config: Callable[[str | Path, list[str]], dict], output: str | None = None,
                 refuse_existing: bool = False) -> tuple[dict, Path]:
    """The recipe and run folder of a `train` command (the pose model's or the detector's): ``--resume
    RUN_DIR`` reads the run's own config.yaml (overrides on top), else ``--config`` names the recipe and the
    folder is OUTPUT/NAME. ``refuse_existing``: a new run may not land on a folder that holds one."""
    if resume:
        run_dir = Path(resume)
        if not (run_dir / "last.pt").is_file():
            raise HandposeError(f"{run_dir}: no last.pt checkpoint to resume from")
        return load_config(run_dir / "config.yaml", overrides), run_dir
    if not config:
        raise HandposeError("give --config RECIPE.yaml (or --resume RUN_DIR)")
    cfg = load_config(config, overrides)
    run_dir = Path(output or cfg["output"]) / cfg["name"]
    if refuse_existing and (run_dir / "last.pt").exists():
        raise HandposeError(f"{run_dir} already holds a run: --resume {run_dir}, or set name=... for a new one")
    return cfg, run_dir
