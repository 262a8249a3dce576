"""Pose training (`handpose train`, apps/train.py): one loop for one CPU, one GPU, or many processes under torchrun (DDP).

Each epoch: train loss, validation metrics, a CSV row, curves.png, and atomic `last`/`best` checkpoints
that hold everything needed to continue exactly (`--resume RUN_DIR`).
"""
from __future__ import annotations

import csv
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..checkpoint import load_checkpoint, resolve_device, save_checkpoint
from ..codec import HeatmapCodec
from ..errors import HandposeError
from .data import MixSampler, build_datasets, build_handedness_checks, build_reports, read_hand_free
from .evaluate import evaluate_dataset, false_hand_rate, handedness_accuracy
from .losses import handedness_loss, heatmap_loss
from .hardware import cpu_has_native_bf16
from .schedule import warmup_cosine
from ..io import atomic_write, atomic_write_text
from ..pose.model import build_model, load_backbone_weights
from ..release import read_release

LOG_FIELDS = ["epoch", "lr", "train_loss", "PCK@0.2", "AUC", "EPE", "AUC_norm", "seconds"]
__all__ = ["Trainer", "load_checkpoint", "resolve_device", "save_checkpoint"]


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


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
