"""Training recipes: YAML files under configs/, merged over defaults, any field overridable as key.sub=value."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ..errors import HandposeError

DEFAULTS: dict = {
    "name": "run",
    "output": "runs",
    "model": {"arch": "resnet18", "num_joints": 21,
              "head_width": 256,  # filters of each deconvolution (the article: 256)
              "num_deconv": 3,  # deconvolutions; heatmaps at stride 32 / 2 ** num_deconv (3: stride 4)
              "handedness": False},  # a left/right head trained with the heatmaps (see train.handedness_weight)
    "data": {
        "input_size": 224,  # square network input; heatmaps are input_size / 4
        "sigma": 2.0,
        "padding": 1.25,  # crop side = longer box side x padding
        # Sources, e.g. {format: coco, annotations: ..., images: ..., name: teacher, weight: 1.0, cap: 0}:
        # each epoch draws weight x its size samples from a source (at most cap when cap > 0).
        "train": [],
        "val": [],  # model selection; empty: split val_fraction of the training poses off instead
        "val_fraction": 0.1,
        "report": [],  # further validation sets, each with a name, reported every epoch but not used to select
        "hand_free": [],  # frames files, e.g. {frames: .../frames.json, exclude_sources: [..]}: real negatives
        "hand_free_val": [],  # the same, never trained on: the false-hand rate is reported every epoch
        "hand_free_val_crops": 300,
        # COCO files with hand-made left/right ("hand") labels: with model.handedness, the head's accuracy on
        # them is logged every epoch as handedness_acc (never trained on when their train entry says so)
        "handedness_check": [],
    },
    "augment": {
        "rotation": 180.0, "scale": [0.75, 1.25], "shift": 0.1, "flip": 0.5, "color": 0.3, "hue": 10.0,
        "blur": 0.2, "noise": 0.2, "occlusion": 0.3,
        "motion_blur": 0.0, "lowres": 0.0,  # video's fast and far hands (data/transforms.py)
        "upright": 0.0,  # probability of a crop turned so the labelled hand points up (as tracking's crops)
        "background": 0.0,  # probability of pasting the hand (skeleton mask) onto a synthetic background
        "negatives": 0.0,  # share of extra crops without a hand (all-zero targets): teaches a presence score
        "real_negatives": 0.8,  # share of those cut from data.hand_free's photos (the rest: synthetic clutter)
    },
    "train": {
        "epochs": 10, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.0, "warmup_epochs": 1.0,
        "schedule": "cosine",  # or "step"
        "milestones": [], "gamma": 0.1,
        "workers": 2, "seed": 0, "device": "auto", "amp": True, "flip_test": False,
        "init_weights": None,  # a checkpoint to start from (e.g. a lower-resolution stage)
        "backbone_weights": None,  # a torchvision ImageNet checkpoint file for the encoder
        "max_steps_per_epoch": 0,  # 0: the whole epoch (a cap is for smoke runs)
        "optimizer": "adam",  # or "adamw"
        "channels_last": True,  # NHWC activations: faster convolutions on CPU (oneDNN)
        "cpu_bf16": False,  # bfloat16 autocast on CPU: only CPUs with AVX512-BF16/AMX gain (see bench/train_speed.py)
        # With model.handedness: weight of the left/right cross-entropy beside the heatmap MSE (which is ~1e-3,
        # so a small weight keeps the heatmaps in charge). Labels come from data.train sources whose entry does
        # not say handedness: false, and teacher labels scoring under handedness_min_score are skipped.
        "handedness_weight": 0.002,  # what default_v2_stage3/4 trained with (uci_hand 86-90 %)
        "handedness_min_score": 0.8,
        "presence_threshold": 0.2,  # a crop whose mean peak height passes this counts as a hand
    },
}


def deep_merge(base: dict, update: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if key not in out:
            raise HandposeError(f"unknown config field '{where}{key}' (known: {', '.join(out)})")
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = deep_merge(out[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def read_recipe(path: str | Path, seen: set | None = None) -> dict:
    """A recipe file's top-level mapping, with errors that name the file (missing, malformed, not a mapping)."""
    path = Path(path)
    if not path.is_file():
        raise HandposeError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise HandposeError(f"{path}: malformed YAML ({e})") from None
    if not isinstance(data, dict):
        raise HandposeError(f"{path}: expected a mapping at the top level")
    base = data.pop("base", None)
    if base is None:
        return data
    # `base: other.yaml` (beside this file): this recipe states only what differs; mappings merge, lists and
    # values replace (as MMPose's _base_). A chain of bases is followed; a loop is an error.
    seen = seen or set()
    if path.resolve() in seen:
        raise HandposeError(f"{path}: its 'base' chain comes back to itself")
    parent = read_recipe(path.parent / str(base), seen | {path.resolve()})
    return _merge_recipes(parent, data)


def _merge_recipes(parent: dict, child: dict) -> dict:
    out = copy.deepcopy(parent)
    for key, value in child.items():
        out[key] = _merge_recipes(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def build_config(defaults: dict, path: str | Path | None, overrides: list[str] = ()) -> dict:
    """Every trainer's config: its ``defaults``, the recipe at ``path`` (with its ``base:`` chain) over them,
    then the command line's ``key.sub=value`` overrides (values read as YAML)."""
    cfg = copy.deepcopy(defaults)
    if path is not None:
        cfg = deep_merge(cfg, read_recipe(path))
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


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict:
    """The pose trainer's config (build_config over DEFAULTS), validated."""
    cfg = build_config(DEFAULTS, path, overrides)
    validate(cfg)
    return cfg


def _coerce(value, default, name: str):
    """``value`` checked against the type of its default; numbers written as strings (YAML reads ``1e-3``
    as text) become numbers."""
    def bad(kind: str):
        return HandposeError(f"config field {name!r} must be {kind}, got {value!r}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad("a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        if isinstance(default, int):
            if float(value) != int(value):
                raise bad("a whole number")
            return int(value)
        return float(value)
    if isinstance(default, list) and not isinstance(value, list):
        raise bad("a list")
    if isinstance(default, str) and not isinstance(value, str):
        raise bad("text")
    if default is None and value is not None and not isinstance(value, str):
        raise bad("a file path or null")
    return value


def check_types(cfg: dict, defaults: dict, where: str = "") -> None:
    for key, default in defaults.items():
        name = f"{where}{key}"
        if isinstance(default, dict):
            if not isinstance(cfg[key], dict):
                raise HandposeError(f"config field {name!r} must be a mapping, got {cfg[key]!r}")
            check_types(cfg[key], default, name + ".")
        else:
            cfg[key] = _coerce(cfg[key], default, name)


def validate(cfg: dict) -> None:
    """Types as the defaults', then the values training would otherwise trip over late (or silently)."""
    from ..pose.model import ENCODERS

    check_types(cfg, DEFAULTS)
    d, t, a = cfg["data"], cfg["train"], cfg["augment"]
    checks = [
        (cfg["model"]["arch"] in ENCODERS, "model.arch", f"one of {', '.join(ENCODERS)}"),
        (cfg["model"]["head_width"] >= 1, "model.head_width", "at least 1"),
        (1 <= cfg["model"]["num_deconv"] <= 4, "model.num_deconv", "1 to 4"),
        (t["optimizer"] in ("adam", "adamw"), "train.optimizer", "'adam' or 'adamw'"),
        (d["input_size"] > 0 and d["input_size"] % 32 == 0, "data.input_size",
         "a positive multiple of 32 (the encoder's stride; heatmaps are a quarter of it)"),
        (d["sigma"] > 0, "data.sigma", "positive"),
        (d["padding"] > 0, "data.padding", "positive"),
        (0 <= d["val_fraction"] < 1, "data.val_fraction", "in [0, 1)"),
        (len(a["scale"]) == 2 and 0 < a["scale"][0] <= a["scale"][1], "augment.scale", "[low, high] with 0 < low <= high"),
        (0 <= a["upright"] <= 1, "augment.upright", "a probability in [0, 1]"),
        (0 <= a["motion_blur"] <= 1, "augment.motion_blur", "a probability in [0, 1]"),
        (0 <= a["lowres"] <= 1, "augment.lowres", "a probability in [0, 1]"),
        (t["epochs"] >= 1, "train.epochs", "at least 1"),
        (t["batch_size"] >= 1, "train.batch_size", "at least 1"),
        (t["lr"] > 0, "train.lr", "positive"),
        (t["warmup_epochs"] >= 0, "train.warmup_epochs", "0 or more"),
        (t["schedule"] in ("cosine", "step"), "train.schedule", "'cosine' or 'step'"),
        (t["device"] in ("auto", "cpu", "cuda"), "train.device", "'auto', 'cpu' or 'cuda'"),
        (t["workers"] >= 0, "train.workers", "0 or more"),
        (t["max_steps_per_epoch"] >= 0, "train.max_steps_per_epoch", "0 (whole epochs) or more"),
    ]
    for ok, name, what in checks:
        if not ok:
            node = cfg
            for part in name.split("."):
                node = node[part]
            raise HandposeError(f"config field {name!r} must be {what}, got {node!r}")
    for part in ("train", "val", "report", "handedness_check"):
        for i, spec in enumerate(d[part]):
            if not isinstance(spec, dict) or "format" not in spec:
                raise HandposeError(f"config: data.{part}[{i}] must be a mapping with a 'format' (freihand or coco), "
                                    f"got {spec!r}")
            if part == "report" and "name" not in spec:
                raise HandposeError(f"config: data.report[{i}] needs a 'name' (its metrics are logged as NAME_AUC ...)")
            if "handedness" in spec and not isinstance(spec["handedness"], bool):
                raise HandposeError(f"config: data.{part}[{i}].handedness must be true or false, got {spec['handedness']!r}")
            for key, low in (("weight", 0.0), ("cap", 0)):
                if key in spec and (not isinstance(spec[key], (int, float)) or isinstance(spec[key], bool)
                                    or spec[key] < low or (key == "weight" and spec[key] == 0)):
                    raise HandposeError(f"config: data.{part}[{i}].{key} must be a {'positive' if key == 'weight' else 'non-negative'} "
                                        f"number, got {spec[key]!r}")
    for part in ("hand_free", "hand_free_val"):
        for i, spec in enumerate(d[part]):
            if not isinstance(spec, dict) or "frames" not in spec:
                raise HandposeError(f"config: data.{part}[{i}] must be a mapping with 'frames' (a frames.json), got {spec!r}")
