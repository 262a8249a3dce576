"""`handpose train`: one loop for one CPU, one GPU, or many processes under torchrun (DDP).

Each epoch: train loss, validation metrics, a CSV row, curves.png, and atomic `last`/`best` checkpoints
that hold everything needed to continue exactly (`--resume RUN_DIR`).
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..checkpoint import load_checkpoint, resolve_device, run_to_start, save_checkpoint
from ..codec import HeatmapCodec
from .config import load_config
from ..data.datasets import HandDataset, HandFreeCrops, load_records, split_by_pose
from ..data.datasets.base import check_images_exist
from ..errors import DatasetError, HandposeError
from .evaluate import evaluate_dataset, false_hand_rate
from .hardware import cpu_has_native_bf16
from .schedule import warmup_cosine
from ..pose.handedness import accuracy, label_of
from ..io import atomic_write, atomic_write_json, atomic_write_text
from ..pose.model import build_model, load_backbone_weights
from ..weights import read_release
from ..data.transforms import Augment

LOG_FIELDS = ["epoch", "lr", "train_loss", "PCK@0.2", "AUC", "EPE", "AUC_norm", "seconds"]
__all__ = ["Trainer", "build_datasets", "heatmap_loss", "load_checkpoint", "resolve_device", "save_checkpoint"]


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


def _initial_state(path: str) -> dict:
    """The model tensors of ``train.init_weights``: a training checkpoint (.pt), or a release (.safetensors,
    fp16, such as the bundled default) so that a new stage can start from the shipped model on a machine
    that has no earlier run folder."""
    if str(path).endswith(".safetensors"):
        if not Path(path).is_file():
            raise HandposeError(f"train.init_weights {path}: file not found")
        return read_release(Path(path))[1]  # load_state_dict copies the fp16 tensors into the fp32 model
    return load_checkpoint(path)["model"]


class WithHandedness(torch.nn.Module):
    """The model as (heatmaps, right-hand logits): one forward for DistributedDataParallel to wrap."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        return self.model.forward_all(x)


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


class Trainer:
    def __init__(self, cfg: dict, run_dir: Path, resume: bool = False):
        self.cfg, self.run_dir = cfg, run_dir
        t = cfg["train"]
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(t["device"], local_rank)
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.world = dist.get_world_size() if self.distributed else 1
        self.main = self.rank == 0
        self.seed_everything(t["seed"] + self.rank)

        m, d = cfg["model"], cfg["data"]
        self.codec = HeatmapCodec.for_model({**m, **d})
        self.train_set, self.val_set = build_datasets(cfg, self.codec)
        self.reports = build_reports(cfg, self.codec) if self.main else {}
        self.hand_free_val = read_hand_free(d["hand_free_val"], "data.hand_free_val") if self.main else None
        self.log_fields = LOG_FIELDS[:-1] + [f"{name}_{k}" for name in self.reports for k in ("AUC", "EPE")]
        self.handedness_checks = build_handedness_checks(cfg, self.codec) if self.main and m["handedness"] else []
        self.log_fields += ["false_hand"] * (self.hand_free_val is not None)
        self.log_fields += ["handedness_acc"] * bool(self.handedness_checks) + ["samples", "seconds"]
        self.model = build_model(m["arch"], m["num_joints"], m["head_width"], m["num_deconv"],
                                 handedness=m["handedness"]).to(self.device)
        if t["backbone_weights"] and not resume:
            loaded, unused = load_backbone_weights(self.model, t["backbone_weights"])
            if self.main:
                print(f"encoder: {loaded} tensors loaded from {t['backbone_weights']}; not used: "
                      f"{', '.join(unused) or 'none'}", flush=True)
        if t["init_weights"] and not resume:
            try:
                result = self.model.load_state_dict(_initial_state(t["init_weights"]), strict=False)
            except RuntimeError as e:  # shapes that differ (another width, another encoder)
                raise HandposeError(f"train.init_weights {t['init_weights']}: does not fit this model "
                                    f"({str(e).splitlines()[-1].strip()})") from None
            # A model without the handedness head may start one that has it (the head starts fresh); any
            # other difference is a wrong checkpoint.
            missing = [k for k in result.missing_keys if not k.startswith("handedness.")]
            if missing or result.unexpected_keys:
                raise HandposeError(f"train.init_weights {t['init_weights']}: does not fit this model (missing "
                                    f"{missing[:3]}, unexpected {result.unexpected_keys[:3]})")
        if t["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = WithHandedness(self.model) if m["handedness"] else self.model
        if self.distributed:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.net, device_ids=[local_rank] if self.device.type == "cuda" else None)

        self.sampler = MixSampler(self.train_set, d["train"], t["seed"], self.rank, self.world)
        self.loader = DataLoader(
            self.train_set, batch_size=t["batch_size"], shuffle=False, sampler=self.sampler,
            num_workers=t["workers"], drop_last=len(self.sampler) > t["batch_size"],
            persistent_workers=t["workers"] > 0, pin_memory=self.device.type == "cuda",
        )
        self.steps_per_epoch = len(self.loader) if not t["max_steps_per_epoch"] else min(len(self.loader), t["max_steps_per_epoch"])
        optimizer = torch.optim.AdamW if t["optimizer"] == "adamw" else torch.optim.Adam
        self.optimizer = optimizer(self.model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.lr_factor)
        self.use_amp = bool(t["amp"]) and self.device.type == "cuda"
        cpu_bf16 = bool(t["cpu_bf16"]) and self.device.type == "cpu"
        if cpu_bf16 and not cpu_has_native_bf16():  # emulated bfloat16 makes each step many times slower
            cpu_bf16 = False
            if self.main:
                print("train.cpu_bf16: this CPU has no native bfloat16 (AVX512-BF16 or AMX): training in float32",
                      flush=True)
        self.autocast = dict(device_type="cuda", enabled=True) if self.use_amp else dict(
            device_type="cpu", dtype=torch.bfloat16, enabled=cpu_bf16)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.epoch, self.best_auc = 0, -1.0
        if resume:
            self.restore(load_checkpoint(run_dir / "last.pt"))
        elif self.main:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
        self.writer = self.tensorboard() if self.main else None

    # -- schedule ------------------------------------------------------------------------------------
    def lr_factor(self, step: int) -> float:
        """Linear warm-up, then cosine to 0 or steps of ``gamma`` at ``milestones`` (epochs)."""
        t = self.cfg["train"]
        epoch = step / self.steps_per_epoch
        if t["schedule"] == "step" and epoch >= t["warmup_epochs"]:
            return t["gamma"] ** sum(epoch >= m for m in t["milestones"])
        return warmup_cosine(epoch, t["warmup_epochs"], t["epochs"])

    # -- the loop ------------------------------------------------------------------------------------
    def fit(self) -> None:
        t = self.cfg["train"]
        if self.main:
            self.check_first_batch()
            print(f"training {self.cfg['model']['arch']} at {self.codec.input_size[0]}px on {len(self.train_set.records)} hands "
                  f"(+{self.train_set.num_negatives} negatives), {len(self.sampler)} samples an epoch "
                  f"({self.sampler.describe()}), validating on {len(self.val_set)}; {self.device}, "
                  f"{self.world} process(es); run folder {self.run_dir}", flush=True)
        while self.epoch < t["epochs"]:
            start = time.time()
            loss = self.train_one_epoch()
            row = {"epoch": self.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"], "train_loss": loss}
            if self.main:
                row.update(self.validate())
                row["samples"] = self.sampler.describe()
                row["seconds"] = time.time() - start
            self.epoch += 1
            if self.main:
                self.log(row)
                self.save(row)
            if self.distributed:
                dist.barrier()
        if self.main:
            print(f"done: best validation AUC {self.best_auc:.4f}; checkpoints in {self.run_dir}", flush=True)
        if self.distributed:
            dist.destroy_process_group()

    def validate(self) -> dict[str, float]:
        """Scores of the model as it is now: validation set (model selection), the held-out reports, the
        false-hand rate on hand-free crops and the left/right accuracy, where the recipe names them."""
        t, row = self.cfg["train"], {}
        scores, _, _ = evaluate_dataset(self.model, self.val_set, device=self.device, batch_size=t["batch_size"],
                                        flip_test=t["flip_test"])
        row.update(scores)
        for name, ds in self.reports.items():
            other, _, _ = evaluate_dataset(self.model, ds, device=self.device, batch_size=t["batch_size"],
                                           flip_test=t["flip_test"])
            row.update({f"{name}_AUC": other["AUC"], f"{name}_EPE": other["EPE"]})
        if self.hand_free_val is not None:
            row["false_hand"] = false_hand_rate(self.model, self.hand_free_val, self.codec,
                                                self.cfg["data"]["hand_free_val_crops"], t["presence_threshold"],
                                                self.device, t["batch_size"])
        if self.handedness_checks:
            row["handedness_acc"] = handedness_accuracy(self.model, self.handedness_checks, self.device, t["batch_size"])
        return row

    def check_first_batch(self) -> None:
        """Read one sample of each set before the first step, so a broken file fails now, not in hour two."""
        for ds in (self.train_set, self.val_set):
            ds[0]

    def train_one_epoch(self) -> float:
        self.net.train()
        self.train_set.set_epoch(self.epoch)
        self.sampler.set_epoch(self.epoch)
        batches = iter(self.loader)
        total, count, side_right, side_n = 0.0, 0, 0, 0
        bar = tqdm(range(self.steps_per_epoch), desc=f"epoch {self.epoch + 1}/{self.cfg['train']['epochs']}",
                   unit="batch", disable=not self.main, dynamic_ncols=True)
        for _ in bar:
            images, targets, weights, meta = next(batches)
            images, targets, weights = (x.to(self.device, non_blocking=True) for x in (images, targets, weights))
            if self.cfg["train"]["channels_last"]:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(**self.autocast):
                out = self.net(images)
            heatmaps, logits = out if isinstance(out, tuple) else (out, None)
            loss = heatmap_loss(heatmaps.float(), targets, weights)
            if logits is not None:
                right = meta["right"].to(self.device)
                known = right >= 0  # hands without a label and hand-free crops add nothing
                side = handedness_loss(logits.float(), right, known)
                loss = loss + self.cfg["train"]["handedness_weight"] * side
                side_right += int(((logits.detach() > 0) == (right > 0.5))[known].sum())
                side_n += int(known.sum())
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            total += loss.item() * len(images)
            count += len(images)
            shown = {"loss": f"{total / count:.2e}", "lr": f"{self.optimizer.param_groups[0]['lr']:.1e}"}
            if side_n:
                shown["side"] = f"{side_right / side_n:.3f}"  # training handedness accuracy so far
            bar.set_postfix(shown)
        if self.distributed:
            sums = torch.tensor([total, count], dtype=torch.float64, device=self.device)
            dist.all_reduce(sums)
            total, count = sums.tolist()
        return total / max(count, 1)

    # -- outputs -------------------------------------------------------------------------------------
    def log(self, row: dict) -> None:
        path = self.run_dir / "log.csv"
        rows = read_log(path)
        rows.append({k: row.get(k, "") for k in self.log_fields})
        self._rewrite_log(path, rows, self.log_fields)
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        if self.writer is not None:
            for k, v in row.items():
                if k != "epoch" and isinstance(v, (int, float)):
                    self.writer.add_scalar(k, v, row["epoch"])
            self.writer.flush()
        from .plots import plot_curves

        plot_curves(rows, self.run_dir / "curves.png")

    def tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional
            return None
        return SummaryWriter(str(self.run_dir / "tb"))

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "best_auc": self.best_auc,
            "config": self.cfg,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        }

    def save(self, row: dict) -> None:
        improved = row["AUC"] > self.best_auc
        if improved:
            self.best_auc = row["AUC"]
        state = self.state()
        state["metrics"] = row
        # best first: a kill between the two writes then repeats this epoch on resume (last.pt is one
        # behind) instead of losing a best checkpoint that the restored best_auc would never write again.
        if improved:
            save_checkpoint(state, self.run_dir / "best.pt")
        save_checkpoint(state, self.run_dir / "last.pt")

    def restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.best_auc = state["epoch"], state["best_auc"]
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        # Rows written after the checkpoint (a kill between log and save) would repeat: keep those before.
        if self.main:
            path = self.run_dir / "log.csv"
            rows = [r for r in read_log(path) if int(r["epoch"]) <= self.epoch]
            self._rewrite_log(path, rows, self.log_fields)
            for tmp in self.run_dir.glob(".*.tmp*"):  # half-written files of a killed atomic write
                tmp.unlink(missing_ok=True)
            # Overrides given with --resume (e.g. more epochs) become part of the run's recipe.
            atomic_write_text(self.run_dir / "config.yaml", yaml.safe_dump(self.cfg, sort_keys=False))
            print(f"resuming {self.run_dir} after epoch {self.epoch}", flush=True)

    @staticmethod
    def _rewrite_log(path: Path, rows: list[dict], fields: list[str]) -> None:
        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, fields, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)

        atomic_write(path, write)

    @staticmethod
    def seed_everything(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)


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


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """MSE between heatmaps, each joint weighted (0 for joints outside the crop), as Simple Baselines."""
    w = weights[:, :, None, None]
    return 0.5 * ((pred - target) ** 2 * w).mean()


def handedness_loss(logits: torch.Tensor, right: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the right-hand logit over the crops with a label (0 if none has one)."""
    if not bool(known.any()):
        return logits.sum() * 0.0  # keeps the graph whole (DDP expects every parameter to get a gradient)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits[known], right[known])


@torch.no_grad()
def handedness_accuracy(model: torch.nn.Module, sets: list[HandDataset], device, batch_size: int) -> float:
    """Share of the checks' hands whose right-hand logit has the hand-made label's sign (crops as evaluation's)."""
    model.eval()
    logits, labels = [], []
    for ds in sets:
        for images, _, _, meta in DataLoader(ds, batch_size=batch_size, shuffle=False):
            logits.append(model.forward_all(images.to(device))[1].float().cpu().numpy())
            labels.append(meta["right"].numpy())
    return accuracy(np.concatenate(logits), np.concatenate(labels)) if logits else 0.0


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
