"""Release files, for every network of the project: fp16 ``.safetensors`` tensors (loaded without pickle) and
a ``.json`` beside them that describes the network."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .errors import HandposeError
from .io import atomic_write, atomic_write_json


def save_release(model: torch.nn.Module, info: dict, path: str | Path) -> None:
    """Write ``path`` (.safetensors, fp16) and the config beside it (same name, .json)."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().to(torch.float16) if v.is_floating_point() else v.detach() for k, v in model.state_dict().items()}
    state = {k: v.contiguous() for k, v in state.items()}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    atomic_write_json(path.with_suffix(".json"), info)


def read_release(path: Path, what: str = "weights") -> tuple[dict, dict]:
    """A release's config (the .json beside it) and tensors (.safetensors), with errors that name the file."""
    from safetensors.torch import load_file

    info_path = path.with_suffix(".json")
    if not info_path.is_file():
        raise HandposeError(f"{path}: its config {info_path.name} is missing beside it")
    try:
        return json.loads(info_path.read_text()), load_file(str(path))
    except Exception as e:
        raise HandposeError(f"{path}: cannot read {what} ({e})") from None
