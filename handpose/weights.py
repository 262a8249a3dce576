"""The pose model's files: training checkpoints (.pt) and releases (release.py's fp16 .safetensors + .json),
read into a SimpleBaseline; the bundled default model lives in ``handpose/weights/``."""
from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .errors import HandposeError
from .release import read_release
from .pose.model import SimpleBaseline, build_model

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "default.safetensors"
# The release fields that describe the network and its codec (model_info writes them), as against its metrics.
MODEL_FIELDS = ("arch", "num_joints", "head_width", "num_deconv", "input_size", "sigma", "padding", "handedness")


def model_info(cfg: dict, metrics: dict | None = None) -> dict:
    """What inference needs to know about a model, from a training config."""
    return {
        "arch": cfg["model"]["arch"],
        "num_joints": cfg["model"]["num_joints"],
        "head_width": cfg["model"].get("head_width", 256),
        "num_deconv": cfg["model"].get("num_deconv", 3),
        "input_size": cfg["data"]["input_size"],
        "sigma": cfg["data"]["sigma"],
        "padding": cfg["data"]["padding"],
        **({"handedness": True} if cfg["model"].get("handedness") else {}),
        "metrics": metrics or {},
    }


def load_model(path: str | Path | None = None) -> tuple[SimpleBaseline, dict]:
    """A model in eval mode (fp32) and its info from a .safetensors release or a training checkpoint (.pt)."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        if path == DEFAULT_WEIGHTS:
            raise HandposeError(
                f"no default weights at {path}. Train them with `handpose train --config configs/default_v2_stage1.yaml` "
                "then `--config configs/default_v2.yaml`, and release them with `handpose export --format safetensors "
                f"--weights runs/default_v2/best.pt {path}`; or pass --weights FILE")
        raise HandposeError(f"{path}: weights file not found")
    if path.suffix == ".safetensors":
        info, state = read_release(path)
    elif path.suffix in (".pt", ".pth"):
        ckpt = load_checkpoint(path)
        if "model" not in ckpt or "config" not in ckpt:
            raise HandposeError(f"{path}: not a handpose training checkpoint (needs 'model' and 'config')")
        info, state = model_info(ckpt["config"], ckpt.get("metrics")), ckpt["model"]
    else:
        raise HandposeError(f"{path}: unknown weights format (expected .safetensors or .pt)")
    try:
        model = build_model(info["arch"], info["num_joints"], info.get("head_width", 256), info.get("num_deconv", 3),
                            handedness=bool(info.get("handedness", False)))  # the optional head (handedness.py)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (KeyError, RuntimeError) as e:
        raise HandposeError(f"{path}: weights do not fit the model they describe ({str(e).splitlines()[0]})") from None
    return model.eval(), info


def average_models(paths: list[str | Path]) -> tuple[SimpleBaseline, dict]:
    """The uniform average of several models' weights (a "weight soup"), for models of one lineage: stages
    fine-tuned from one another sit in one basin, where the average is often better than each (stage 4 and 5
    of the default model: hgc_dev AUC 0.7179 against 0.7157 and 0.7164). BatchNorm running statistics are
    averaged like the weights; measure the result before shipping it."""
    if len(paths) < 2:
        raise HandposeError("averaging needs at least two models")
    loaded = [load_model(p) for p in paths]
    model, info = loaded[0]
    for path, (_, other) in zip(paths[1:], loaded[1:]):
        # what builds the model and its codec must agree; metrics and notes (an earlier average's list) may not
        differs = [k for k in MODEL_FIELDS if info.get(k) != other.get(k)]
        if differs:
            raise HandposeError(f"{path}: cannot be averaged with {paths[0]}: {', '.join(differs)} differ")
    states = [m.state_dict() for m, _ in loaded]
    # integer buffers (BatchNorm's batch counters) are kept from the first model
    model.load_state_dict({k: torch.stack([s[k] for s in states]).mean(0) if v.is_floating_point() else v
                           for k, v in states[0].items()})
    names = [Path(p).name for p in paths]
    if len(set(names)) < len(names):  # runs/a/best.pt and runs/b/best.pt: the run folder tells them apart
        names = [f"{Path(p).parent.name}/{Path(p).name}" for p in paths]
    return model, {**info, "metrics": {}, "averaged_from": names}
