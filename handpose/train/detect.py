"""`handpose detect-train`: the hand detector's training loop (resumable, validated every epoch).

Run folder: config.yaml, log.csv, curves.png, last.pt and best.pt (atomic), and at the end
detector.safetensors + detector.json (the best epoch as a release for ``HandDetector``).
``--resume RUN_DIR`` continues after the last finished epoch; samples are drawn per (seed, epoch, index),
so the resumed run trains on exactly the images the uninterrupted one would have.
Model selection: the best checkpoint is the epoch with the highest F1 (IoU >= 0.5, score >= eval.score_threshold)
over both validation sets pooled (held-out palms frames + hgc_dev hands pasted into palms rooms).
"""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..checkpoint import load_checkpoint, save_checkpoint
from .config import build_config, check_types
from .schedule import warmup_cosine
from ..data.datasets import HandFreeCrops
from ..errors import HandposeError
from ..io import atomic_write, atomic_write_text
from ..data.transforms import normalize
from ..detect.codec import BoxCodec, match
from ..detect.data import DetectionTrainSet, frame_samples, load_frames, load_paste_hands, pasted_samples
from ..detect.infer import load_detector
from ..detect.model import HandDetectorNet, load_backbone_weights, model_info

SHARED = "../shared/data"
DEFAULTS: dict = {
    "name": "detector",
    "output": "runs",
    "model": {"width": 64},  # channels of the top-down merge and the heads
    "data": {
        "input_size": 256,  # letterboxed square input; outputs at stride 8
        "frames": f"{SHARED}/teacher_hands/frames.json",  # whole photos, every hand boxed
        "exclude_sources": ["palms"],  # frames (and their rooms) never trained on ...
        "val_sources": ["palms"],  # ... and validated on
        "extra_frames": [],  # more frames files to train on whole (e.g. `handpose label --frames` of videos)
        "hands": [],  # hand crops to paste (data-set entries as in the pose recipes)
        "val_hands": [],  # hands pasted into the validation rooms (never trained on)
        "val_pasted": 200,  # images in the pasted validation set
        "val_max_frames": 0,  # 0: every held-out frame (a cap is for smoke runs)
    },
    "augment": {
        "frames": 0.55, "synthetic": 0.2, "rooms": 0.25,  # shares of sample kinds: real frames, clutter, hand-free rooms
        "paste": 0.5,  # probability of pasting hands into a frame or room
        "max_pasted": 4,
        "paste_side": [8.0, 160.0],  # longer side of a pasted hand's box in input pixels (log-uniform)
        "paste_rotation": 30.0,
        "touching": 0.0,  # probability that a pasted hand is laid against a hand already there (Paster)
        "scale": [0.6, 1.8],  # zoom of a whole frame (log-uniform), about the input centre
        "shift": 0.25,  # fraction of the input side
        "flip": 0.5,
        "color": 0.3,
    },
    "train": {
        "epochs": 8, "steps_per_epoch": 70, "batch_size": 32, "lr": 2e-3, "weight_decay": 1e-4,
        "warmup_steps": 100, "seed": 0, "workers": 1, "threads": 2,
        "backbone_weights": None,  # a torchvision ImageNet MobileNetV2 file (the recipe names ../shared/weights one)
        "init_weights": None,  # a detector to fine-tune (release .safetensors or training .pt): replaces backbone_weights
        "max_steps_per_epoch": 0,  # 0: the whole epoch (a cap is for smoke runs)
        "channels_last": True,  # NHWC: faster convolutions on CPU; bf16 autocast is much slower on this CPU
        "offset_weight": 1.0, "size_weight": 1.0,
    },
    "eval": {"score_threshold": 0.3, "iou": 0.5, "nms_iou": 0.5, "batch_size": 32},
}
LOG_FIELDS = ["epoch", "lr", "loss", "heatmap_loss", "offset_loss", "size_loss", "palms_recall", "palms_precision",
              "pasted_recall", "pasted_precision", "recall", "precision", "F1", "seconds"]


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict:
    cfg = build_config(DEFAULTS, path, overrides)
    check_types(cfg, DEFAULTS)
    if cfg["data"]["input_size"] % 32:
        raise HandposeError(f"config field 'data.input_size' must be a multiple of 32, got {cfg['data']['input_size']}")
    for key in ("epochs", "steps_per_epoch", "batch_size"):
        if cfg["train"][key] < 1:
            raise HandposeError(f"config field 'train.{key}' must be at least 1, got {cfg['train'][key]}")
    return cfg


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), summed and divided by the number of centres."""
    p = logits.sigmoid().clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    pos_loss = -torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = -torch.log(1 - p) * p ** 2 * (1 - target) ** 4 * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def detection_loss(outputs, targets: dict, cfg: dict) -> tuple[torch.Tensor, dict]:
    heat, offset, size = outputs
    mask = targets["mask"]
    n = mask.sum().clamp(min=1)
    parts = {"heatmap_loss": focal_loss(heat, targets["heatmap"]),
             "offset_loss": (F.l1_loss(offset, targets["offset"], reduction="none") * mask).sum() / n,
             "size_loss": (F.l1_loss(size, targets["size"], reduction="none") * mask).sum() / n}
    total = parts["heatmap_loss"] + cfg["offset_weight"] * parts["offset_loss"] + cfg["size_weight"] * parts["size_loss"]
    return total, parts


@torch.no_grad()
def detect_batch(model: HandDetectorNet, images: list[np.ndarray], codec: BoxCodec, ev: dict, channels_last: bool = True):
    x = torch.from_numpy(np.stack([normalize(im) for im in images]))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    heat, offset, size = model(x)
    heat, offset, size = heat.sigmoid().numpy(), offset.numpy(), size.numpy()
    return [codec.decode(heat[i, 0], offset[i], size[i], ev["score_threshold"], nms_iou=ev["nms_iou"])
            for i in range(len(images))]


def evaluate(model: HandDetectorNet, samples: list, codec: BoxCodec, ev: dict) -> dict:
    """Recall and precision at IoU >= ev.iou of the detections scoring >= ev.score_threshold; also the counts."""
    model.eval()
    tp = n_pred = n_true = 0
    for start in range(0, len(samples), ev["batch_size"]):
        chunk = samples[start:start + ev["batch_size"]]
        for (_, truth), (boxes, _) in zip(chunk, detect_batch(model, [im for im, _ in chunk], codec, ev)):
            tp += match(boxes, truth, ev["iou"])
            n_pred, n_true = n_pred + len(boxes), n_true + len(truth)
    return {"tp": tp, "predicted": n_pred, "true": n_true,
            "recall": tp / max(n_true, 1), "precision": tp / max(n_pred, 1) if n_pred else 0.0}


def plot_curves(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def col(name):
        return [float(r.get(name, "nan")) for r in rows]

    epochs = col("epoch")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name in ("loss", "heatmap_loss", "offset_loss", "size_loss"):
        axes[0].plot(epochs, col(name), "o-", ms=3, label=name)
    axes[0].set_yscale("log")
    axes[0].set_title("train loss")
    for name, style in (("palms_recall", "o-"), ("palms_precision", "o--"), ("pasted_recall", "s-"),
                        ("pasted_precision", "s--"), ("F1", "k^-")):
        axes[1].plot(epochs, col(name), style, ms=3, label=name)
    best = int(np.argmax(col("F1")))
    axes[1].set_title(f"validation, IoU>=0.5 (best F1 {rows[best]['F1']:.3f} at epoch {epochs[best]:g})")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)


class DetectorTrainer:
    def __init__(self, cfg: dict, run_dir: Path, resume: bool = False):
        self.cfg, self.run_dir = cfg, run_dir
        d, t = cfg["data"], cfg["train"]
        torch.manual_seed(t["seed"])
        torch.set_num_threads(t["threads"])
        self.codec = BoxCodec(d["input_size"], HandDetectorNet.stride)
        frames = load_frames(d["frames"], exclude_sources=d["exclude_sources"])
        for extra in d["extra_frames"]:
            frames += load_frames(extra)
        rooms = HandFreeCrops(d["frames"], exclude_sources=d["exclude_sources"])
        hands = load_paste_hands(d["hands"])
        length = t["steps_per_epoch"] * t["batch_size"]
        self.train_set = DetectionTrainSet(frames, hands, rooms, self.codec, cfg["augment"], length, t["seed"])
        print(f"detector: {len(frames)} training frames, {len(hands)} hands to paste; "
              f"{t['steps_per_epoch']} steps x {t['batch_size']} an epoch", flush=True)
        val_frames = load_frames(d["frames"], sources=d["val_sources"])
        self.val_sets = {"palms": frame_samples(val_frames[:d["val_max_frames"] or None], d["input_size"])}
        if d["val_hands"]:
            val_rooms = HandFreeCrops(d["frames"], sources=d["val_sources"])
            self.val_sets["pasted"] = pasted_samples(load_paste_hands(d["val_hands"]), val_rooms, d["input_size"],
                                                     d["val_pasted"], tuple(cfg["augment"]["paste_side"]))
        self.model = HandDetectorNet(cfg["model"]["width"])
        if t["init_weights"] and not resume:
            start, info = load_detector(t["init_weights"])
            if info["width"] != cfg["model"]["width"]:
                raise HandposeError(f"train.init_weights {t['init_weights']}: a detector of width {info['width']}, "
                                    f"the recipe's model.width is {cfg['model']['width']}")
            self.model.load_state_dict(start.state_dict())
            print(f"fine-tuning {t['init_weights']}", flush=True)
        elif t["backbone_weights"] and not resume:
            print(f"encoder: {load_backbone_weights(self.model, t['backbone_weights'])} tensors from "
                  f"{t['backbone_weights']}", flush=True)
        if t["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
        self.steps_per_epoch = min(t["steps_per_epoch"], t["max_steps_per_epoch"] or t["steps_per_epoch"])
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.lr_factor)
        self.epoch, self.best_f1, self.rows = 0, -1.0, []
        if resume:
            state = load_checkpoint(run_dir / "last.pt")
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.epoch, self.best_f1, self.rows = state["epoch"], state["best_f1"], state["rows"]
            # Overrides given with --resume (e.g. more epochs) become part of the run's recipe.
            atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
            print(f"resuming {run_dir} after epoch {self.epoch}", flush=True)
        else:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))

    def lr_factor(self, step: int) -> float:
        """Linear warm-up over ``warmup_steps``, then cosine to 0 at the last step."""
        t = self.cfg["train"]
        return warmup_cosine(step, t["warmup_steps"], t["epochs"] * self.steps_per_epoch)

    def fit(self) -> None:
        t = self.cfg["train"]
        while self.epoch < t["epochs"]:
            start = time.time()
            row = {"epoch": self.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"], **self.train_one_epoch()}
            scores = {name: evaluate(self.model, s, self.codec, self.cfg["eval"]) for name, s in self.val_sets.items()}
            for name, s in scores.items():
                row[f"{name}_recall"], row[f"{name}_precision"] = s["recall"], s["precision"]
            tp, pred, true = (sum(s[k] for s in scores.values()) for k in ("tp", "predicted", "true"))
            row["recall"], row["precision"] = tp / max(true, 1), tp / max(pred, 1)
            row["F1"] = 2 * tp / max(pred + true, 1)
            row["seconds"] = round(time.time() - start, 1)
            self.epoch += 1
            self.rows.append(row)
            self.save(row)
            print("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
        self.release()
        print(f"done: best F1 {self.best_f1:.4f}; {self.run_dir}/best.pt, {self.run_dir}/detector.safetensors", flush=True)

    def train_one_epoch(self) -> dict:
        t = self.cfg["train"]
        self.model.train()
        self.train_set.set_epoch(self.epoch)
        loader = DataLoader(self.train_set, batch_size=t["batch_size"], shuffle=False, num_workers=t["workers"],
                            drop_last=True)
        sums: dict[str, float] = {}
        bar = tqdm(zip(range(self.steps_per_epoch), loader), total=self.steps_per_epoch,
                   desc=f"epoch {self.epoch + 1}/{t['epochs']}", unit="step", dynamic_ncols=True)
        for step, (images, targets) in bar:
            if t["channels_last"]:
                images = images.contiguous(memory_format=torch.channels_last)
            loss, parts = detection_loss(self.model(images), targets, t)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            for k, v in {"loss": loss, **parts}.items():
                sums[k] = sums.get(k, 0.0) + v.item()
            bar.set_postfix(loss=f"{sums['loss'] / (step + 1):.3f}")
        return {k: v / self.steps_per_epoch for k, v in sums.items()}

    def save(self, row: dict) -> None:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "epoch": self.epoch, "config": self.cfg,
                 "metrics": row, "rows": self.rows}
        # best first: a kill between the two writes then repeats this epoch on resume, never skips it.
        if row["F1"] > self.best_f1:
            self.best_f1 = row["F1"]
            state["best_f1"] = self.best_f1
            save_checkpoint(state, self.run_dir / "best.pt")
        state["best_f1"] = self.best_f1
        save_checkpoint(state, self.run_dir / "last.pt")
        buf = io.StringIO()
        writer = csv.DictWriter(buf, LOG_FIELDS, extrasaction="ignore", restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.run_dir / "log.csv", buf.getvalue())
        plot_curves(self.rows, self.run_dir / "curves.png")

    def release(self) -> None:
        from ..release import save_release

        best = load_checkpoint(self.run_dir / "best.pt")
        model = HandDetectorNet(self.cfg["model"]["width"])
        model.load_state_dict(best["model"])
        save_release(model, model_info(best["config"], best["metrics"]), self.run_dir / "detector.safetensors")
