"""Training recipes: YAML files under configs/, merged over defaults, any field overridable as key.sub=value."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .errors import HandposeError

DEFAULTS: dict = {
    "name": "run",
    "output": "runs",
    "model": {"arch": "resnet18", "num_joints": 21},
    "data": {
        "input_size": 224,  # square network input; heatmaps are input_size / 4
        "sigma": 2.0,
        "padding": 1.25,  # crop side = longer box side x padding
        "train": [],  # list of sources, e.g. {format: coco, annotations: ..., images: ...}
        "val": [],  # empty: split val_fraction of the training poses off instead
        "val_fraction": 0.1,
    },
    "augment": {
        "rotation": 180.0, "scale": [0.75, 1.25], "shift": 0.1, "flip": 0.5, "color": 0.3, "hue": 10.0,
        "blur": 0.2, "noise": 0.2, "occlusion": 0.3,
        "background": 0.0,  # probability of pasting the hand (skeleton mask) onto a synthetic background
        "negatives": 0.0,  # share of extra crops without a hand (all-zero targets): teaches a presence score
    },
    "train": {
        "epochs": 10, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.0, "warmup_epochs": 1.0,
        "schedule": "cosine",  # or "step"
        "milestones": [], "gamma": 0.1,
        "workers": 2, "seed": 0, "device": "auto", "amp": True, "flip_test": False,
        "init_weights": None,  # a checkpoint to start from (e.g. a lower-resolution stage)
        "backbone_weights": None,  # a torchvision ImageNet checkpoint file for the encoder
        "max_steps_per_epoch": 0,  # 0: the whole epoch (a cap is for smoke runs)
    },
}


def deep_merge(base: dict, update: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if key not in out:
            raise HandposeError(f"unknown config field {where}{key!r}")
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = deep_merge(out[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict:
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise HandposeError(f"{path}: config file not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise HandposeError(f"{path}: malformed YAML ({e})") from None
        if not isinstance(data, dict):
            raise HandposeError(f"{path}: expected a mapping at the top level")
        cfg = deep_merge(cfg, data)
    for item in overrides:
        if "=" not in item:
            raise HandposeError(f"override {item!r} must look like key.sub=value")
        key, value = item.split("=", 1)
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            if not isinstance(node.get(p), dict):
                raise HandposeError(f"unknown config field {key!r}")
            node = node[p]
        if leaf not in node:
            raise HandposeError(f"unknown config field {key!r}")
        node[leaf] = yaml.safe_load(value)
    return cfg
