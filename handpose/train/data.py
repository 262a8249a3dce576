"""The data a pose recipe names: its training sources mixed by weight (MixSampler), its validation set, the
held-out sources it reports on, the left/right checks and the hand-free crops; problems reported before the
first step."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..codec import HeatmapCodec
from ..data.datasets import HandDataset, HandFreeCrops, load_records, split_by_pose
from ..data.datasets.base import check_images_exist
from ..errors import DatasetError, HandposeError
from ..pose.handedness import label_of
from ..data.transforms import Augment


def source_name(spec: dict, index: int) -> str:
    return str(spec.get("name") or Path(spec.get("annotations") or spec.get("root") or f"source{index}").stem)


def build_datasets(cfg: dict, codec: HeatmapCodec) -> tuple[HandDataset, HandDataset]:
    """The training set and the selection set. Each training record's ``extra["group"]`` is the index of its
    ``data.train`` entry, which the sampler mixes by weight."""
    d, a = cfg["data"], dict(cfg["augment"])
    if not d["train"]:
        raise HandposeError("config: data.train lists no dataset")
    train = []
    for i, spec in enumerate(d["train"]):
        labels = cfg["model"]["handedness"] and spec.get("handedness", True)
        for r in read_source(spec, f"data.train[{i}]"):
            r.extra["group"] = i
            if labels:  # HandDataset reads it (and flips it with a mirroring crop)
                r.extra["right"] = label_of(r, cfg["train"]["handedness_min_score"])
            train.append(r)
    if d["val"]:
        val = [r for i, spec in enumerate(d["val"]) for r in read_source(spec, f"data.val[{i}]")]
    else:  # hold out whole poses (FreiHAND) or images
        for i, r in enumerate(train):  # COCO records: a video sequence stays on one side
            r.extra.setdefault("pose", r.extra.get("sequence", i))
        train, val = split_by_pose(train, d["val_fraction"], cfg["train"]["seed"])
    if not val:
        raise HandposeError("config: the validation set is empty (set data.val or a larger data.val_fraction)")
    for records, source in ((train, "data.train"), (val, "data.val")):
        check_images_exist(records, source)
        check_images_readable(records, source)
    background, negatives, real_negatives = a.pop("background"), a.pop("negatives"), a.pop("real_negatives")
    a["scale"] = tuple(a["scale"])
    hand_free = read_hand_free(d["hand_free"], "data.hand_free")
    train_ds = HandDataset(train, codec, Augment(**a), d["padding"], cfg["train"]["seed"], background, negatives,
                           hand_free, real_negatives)
    return train_ds, HandDataset(val, codec, None, d["padding"])


def build_reports(cfg: dict, codec: HeatmapCodec) -> dict[str, HandDataset]:
    """data.report's named validation sets (reported each epoch, never used to select)."""
    out = {}
    for i, spec in enumerate(cfg["data"]["report"]):
        records = read_source(spec, f"data.report[{i}]")
        check_images_exist(records, f"data.report[{i}]")
        out[spec["name"]] = HandDataset(records, codec, None, cfg["data"]["padding"])
    return out


def build_handedness_checks(cfg: dict, codec: HeatmapCodec) -> list[HandDataset]:
    """data.handedness_check's sets, each record labelled from its hand-made "hand" field."""
    out = []
    for i, spec in enumerate(cfg["data"]["handedness_check"]):
        records = read_source(spec, f"data.handedness_check[{i}]")
        for r in records:
            r.extra["right"] = label_of(r)
        out.append(HandDataset([r for r in records if r.extra["right"] is not None], codec, None, cfg["data"]["padding"]))
    return out


def read_hand_free(specs: list[dict], where: str) -> HandFreeCrops | None:
    """The photos of data.hand_free / hand_free_val (several frames files are read as one)."""
    sets = []
    for i, spec in enumerate(specs):
        try:
            sets.append(HandFreeCrops(**spec))
        except TypeError as e:
            raise HandposeError(f"config: {where}[{i}] = {spec!r}: unexpected key ({e})") from None
    if not sets:
        return None
    for other in sets[1:]:
        sets[0].frames += other.frames
    return sets[0]


def read_source(spec: dict, where: str):
    """Records of one data.train / data.val entry; a missing or unexpected key is named, not a traceback."""
    try:
        return load_records(spec)
    except (KeyError, TypeError) as e:
        raise HandposeError(f"config: {where} = {spec!r}: missing or unexpected key ({e})") from None


def check_images_readable(records: list, source: str) -> None:
    """Open every image's header before the first step: an empty or non-image file fails now, named."""
    from PIL import Image

    for i, r in enumerate(tqdm(records, desc=f"checking {source}", unit="image", leave=False,
                               disable=len(records) < 5000)):
        try:
            with Image.open(r.image) as im:
                im.size
        except OSError as e:
            raise DatasetError(f"{source}: entry {i}: {r.image} is not a readable image ({e})") from None


class MixSampler(torch.utils.data.Sampler):
    """Each epoch, ``weight`` x its size samples from every data.train source (at most ``cap``; drawn with
    replacement when the weight is over 1) plus all negatives, shuffled. The draw depends only on (seed,
    epoch), so a resumed run replays the same order; under DDP each rank takes every world-th index."""

    def __init__(self, dataset: HandDataset, specs: list[dict], seed: int, rank: int = 0, world: int = 1):
        groups = np.array([r.extra.get("group", 0) for r in dataset.records])
        self.names = [source_name(spec, i) for i, spec in enumerate(specs)] or ["data"]
        self.members = [np.flatnonzero(groups == i) for i in range(len(self.names))]
        self.counts = []
        for i, idx in enumerate(self.members):
            spec = specs[i] if i < len(specs) else {}
            n = int(round(float(spec.get("weight", 1.0)) * len(idx)))
            self.counts.append(min(n, int(spec["cap"])) if spec.get("cap") else n)
        self.negatives = np.arange(len(dataset.records), len(dataset))
        self.seed, self.rank, self.world, self.epoch = seed, rank, world, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def describe(self) -> str:
        parts = [f"{name} {n}" for name, n in zip(self.names, self.counts)]
        return ", ".join(parts + [f"negatives {len(self.negatives)}"] * (len(self.negatives) > 0))

    def __len__(self) -> int:
        return -(-(sum(self.counts) + len(self.negatives)) // self.world)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        picks = [rng.choice(idx, n, replace=n > len(idx)) if n != len(idx) else idx
                 for idx, n in zip(self.members, self.counts) if len(idx)]
        order = rng.permutation(np.concatenate(picks + [self.negatives]))
        order = np.resize(order, len(self) * self.world)  # equal shares for every rank (DDP steps in lockstep)
        return iter(order[self.rank::self.world].tolist())


