"""Training checkpoints on disk and the device they run on: below train, evaluate and weights, which all use them."""
from __future__ import annotations

from pathlib import Path

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
