"""`handpose train-side`: train the palm-side classifier (model.py) from teacher_hands.

    handpose train-side --out runs/side/side.safetensors [--steps 2400] [--size 128]

Labels come from the teacher: its left/right label and its keypoints' turning sense (infer.py) say which
side of the hand faces the camera. Crops are the pose model's (the padded keypoint box), augmented by
scale, shift, rotation, mirroring (which keeps the label), brightness, colour and blur; the encoder starts
from ImageNet MobileNetV2. Every crop is decoded once into memory, so a step costs only the network.
At the end the classifier is checked on held-out hands with labels it never saw: one teacher source held out
whole (``--exclude-sources``, palm side only) and the hand-made left/right labels of ``--check`` (uci_hand),
where left/right comes from the classifier and the hand-made keypoints' turning sense.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..data.datasets import load_coco, read_rgb
from ..data.transforms import box_to_center_size, crop_affine, normalize, warp
from ..errors import HandposeError
from ..pose.handedness import CHECK, TEACHER, label_of
from ..backbones import load_encoder_weights
from .hardware import cpu_has_native_bf16
from ..side.infer import CHIRALITY_SCALE, chirality, load_palmnet, right_logit, side_info
from ..side.model import PalmNet

IMAGENET = "../shared/weights/mobilenet_v2_imagenet.pth"
CONTEXT = 1.6  # the cached crops hold this much around the keypoint box, so scale and shift have room


def palm_labels(records) -> tuple[list, np.ndarray, np.ndarray]:
    """Records with a left/right label, their palm-side labels (1: palm faces the camera) and right labels."""
    keep = [(r, y) for r in records if (y := label_of(r)) is not None]
    records = [r for r, _ in keep]
    right = np.array([y for _, y in keep], np.float32)
    turn = chirality(np.stack([r.keypoints for r in records])) if records else np.zeros(0)
    palm = (right == 1) == (turn < 0)  # infer.py's convention: a right hand's palm side has chirality < 0
    return records, palm.astype(np.float32), right


def sampling_weights(records, palm: np.ndarray, balance: bool, edge_on: bool) -> np.ndarray:
    """How often each training hand is drawn (sums to 1). ``balance``: palm and back views equally often (the
    teacher's hands are ~79% palm side, so an unweighted classifier leans to "palm" and misses backs).
    ``edge_on``: a hand seen edge-on is drawn less, by the factor inference gives its turning sense
    (tanh(|chirality| / CHIRALITY_SCALE)): its palm label comes from the sign of a near-zero chirality, noise."""
    w = np.ones(len(palm))
    if edge_on and len(records):
        w *= np.tanh(np.abs(chirality(np.stack([r.keypoints for r in records]))) / CHIRALITY_SCALE)
    if balance:
        for cls in (0.0, 1.0):
            part = palm == cls
            if part.any():
                w[part] *= 0.5 / w[part].sum()
    w = np.maximum(w, 1e-12)
    return w / w.sum()


def cache_crops(records, padding: float, size: int, desc: str) -> np.ndarray:
    """Each record's crop with CONTEXT x the keypoint box around it (uint8, (N, P, P, 3))."""
    px = int(round(size * CONTEXT / padding))
    out = np.empty((len(records), px, px, 3), np.uint8)
    for i, r in enumerate(tqdm(records, desc=desc, unit="hand", file=sys.stderr, mininterval=2)):
        center, side = box_to_center_size(r.box, CONTEXT)
        out[i] = warp(read_rgb(r.image), crop_affine(center, side, (px, px)), (px, px))
    return out


class Crops:
    """Network inputs cut from the cached crops: the pose model's framing, optionally augmented."""

    def __init__(self, cached: np.ndarray, size: int, padding: float, rng: np.random.Generator):
        self.cached, self.size, self.rng = cached, size, rng
        self.side = cached.shape[1] * padding / CONTEXT  # the estimator's crop, in cached pixels
        self.center = np.full(2, (cached.shape[1] - 1) / 2, np.float32)

    def batch(self, idx, augment: bool) -> np.ndarray:
        out = []
        for i in idx:
            side, rot, shift, flip = self.side, 0.0, np.zeros(2), False
            if augment:
                side *= self.rng.uniform(0.85, 1.2)
                rot = self.rng.uniform(-60, 60)
                shift = self.rng.uniform(-0.08, 0.08, 2) * side
                flip = self.rng.random() < 0.5
            im = warp(self.cached[i], crop_affine(self.center + shift, side, (self.size, self.size), rot, flip),
                      (self.size, self.size))
            if augment:
                im = np.clip(im * self.rng.uniform(0.7, 1.3) + self.rng.uniform(-25, 25, 3), 0, 255).astype(np.uint8)
                if self.rng.random() < 0.2:
                    im = cv2.GaussianBlur(im, (5, 5), 0)
            out.append(normalize(im))
        return np.stack(out)


@torch.inference_mode()
def logits_of(model: PalmNet, crops: Crops, flip: bool = True, batch: int = 64) -> np.ndarray:
    """Palm-side logits of every cached crop, un-augmented; ``flip`` averages with the mirror image."""
    model.eval()
    out = []
    for s in range(0, len(crops.cached), batch):
        x = torch.from_numpy(crops.batch(range(s, min(s + batch, len(crops.cached))), False))
        lg = model(x)
        out.append((0.5 * (lg + model(x.flip(-1))) if flip else lg).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="the release to write (.safetensors; its .json beside it)")
    p.add_argument("--data", nargs="+", default=[TEACHER], help=f"COCO keypoints files with left/right labels, "
                   f"mixed (default {TEACHER}; add `handpose synth` hands for exact palm/back labels)")
    p.add_argument("--exclude-sources", nargs="*", default=["palms"],
                   help="sources of --data held out of training and reported (default: palms)")
    p.add_argument("--check", default=CHECK, help=f"COCO file with hand-made 'hand' labels to check on (default {CHECK}; 'none')")
    p.add_argument("--backbone-weights", default=IMAGENET, help=f"ImageNet MobileNetV2 (torchvision names; default {IMAGENET}; 'none')")
    p.add_argument("--size", type=int, default=128, help="input size in pixels (default 128)")
    p.add_argument("--padding", type=float, default=1.25, help="crop side over the keypoint box's longer side (default 1.25, the pose model's)")
    p.add_argument("--steps", type=int, default=2400)
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-samples", type=int, default=None, help="train on at most this many hands (a smoke run)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--balance", action="store_true", help="draw palm and back views equally often")
    p.add_argument("--edge-on", action="store_true", help="draw hands seen edge-on (unsure palm labels) less often")
    p.add_argument("--init", default=None, help="start from this palm-side release instead of ImageNet")


def run(args: argparse.Namespace) -> int:
    from ..weights import save_release

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise HandposeError(f"--out {out}: a release must end in .safetensors")
    if args.steps < 1 or args.batch < 1 or args.size < 32 or args.size % 32 or not 1.0 <= args.padding <= CONTEXT:
        raise HandposeError(f"--steps and --batch must be >= 1, --size a multiple of 32 (>= 32), --padding in [1, {CONTEXT}]")
    for path in args.data:
        if not Path(path).is_file():
            raise HandposeError(f"--data {path}: file not found")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # Everything read before training, so a wrong --check or held-out source fails now, not after the run.
    every, excluded = [r for path in args.data for r in load_coco(path)], set(args.exclude_sources or [])
    records, palm, _ = palm_labels([r for r in every if r.extra.get("source") not in excluded])
    held = palm_labels([r for r in every if r.extra.get("source") in excluded]) if excluded else None
    if held is not None and not held[0]:
        raise HandposeError(f"--exclude-sources {' '.join(sorted(excluded))}: no hand of --data {' '.join(args.data)} with a "
                            "left/right label has these sources")
    checked = None
    if args.check and args.check != "none":
        if not Path(args.check).is_file():
            raise HandposeError(f"--check {args.check}: file not found")
        checked = palm_labels(load_coco(args.check))
    start = load_palmnet(args.init)[0] if args.init else None  # a wrong file is reported now, not after caching
    if args.max_samples is not None and args.max_samples < len(records):
        idx = np.sort(rng.permutation(len(records))[: args.max_samples])
        records, palm = [records[i] for i in idx], palm[idx]
    if len(np.unique(palm)) < 2:
        raise HandposeError(f"--data {' '.join(args.data)}: the hands need both palm and back views to learn from")
    print(f"{len(records)} training hands: {int(palm.sum())} palm side, {int(len(palm) - palm.sum())} back "
          f"(mirroring keeps the side)", file=sys.stderr)
    train = Crops(cache_crops(records, args.padding, args.size, "caching crops"), args.size, args.padding, rng)

    draw = sampling_weights(records, palm, args.balance, args.edge_on)
    print(f"palm side drawn {draw[palm > 0.5].sum():.0%} of the time", file=sys.stderr)
    if start is not None:
        model = start.train()
        print(f"start: {args.init}", file=sys.stderr)
    else:
        model = PalmNet()
        if args.backbone_weights and args.backbone_weights != "none":
            loaded, unused = load_encoder_weights(model.backbone, args.backbone_weights, model.arch)
            print(f"encoder: {loaded} tensors from {args.backbone_weights} ({len(unused)} unused)", file=sys.stderr)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    # A warm-up of at least 1.5 steps: OneCycleLR divides by its phases' lengths (--steps 20 made one zero).
    warmup = min(max(0.05, 1.5 / args.steps), 0.5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=warmup)
    targets = torch.from_numpy(palm)
    model.train()
    bf16 = cpu_has_native_bf16()  # a cheaper step where the CPU has it; emulated, about 16x slower than float32
    print(f"bfloat16 autocast: {'on' if bf16 else 'off (the CPU has no native bfloat16)'}", file=sys.stderr)
    t0, smooth = time.time(), None
    bar = tqdm(range(args.steps), desc="train-side", unit="step", file=sys.stderr, mininterval=5)
    for _ in bar:
        idx = rng.choice(len(records), args.batch, p=draw)
        x = torch.from_numpy(train.batch(idx, True)).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x).float()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        bar.set_postfix(loss=f"{smooth:.3f}", refresh=False)
    bar.close()
    metrics = {"data": args.data, "size": args.size, "lr": args.lr, "steps": args.steps, "batch": args.batch,
               "train_hands": len(records), "balance": args.balance, "edge_on": args.edge_on, "init": args.init,
               "minutes": round((time.time() - t0) / 60, 1)}
    metrics.update(_checks(model, args, held, checked, rng))
    save_release(model.eval().to(memory_format=torch.contiguous_format),
                 side_info(args.size, args.padding, metrics), out)
    for k, v in metrics.items():
        print(f"{k}: {v}")
    print(f"wrote {out} and {out.with_suffix('.json').name}")
    return 0


def _checks(model: PalmNet, args, held, checked, rng) -> dict:
    """Palm-side accuracy on the held-out sources' hands; on --check's also left/right (hand-made keypoints'
    turn). ``held`` and ``checked``: palm_labels of each, or None."""
    metrics = {}
    if held is not None:
        records, palm, _ = held
        lg = logits_of(model, Crops(cache_crops(records, args.padding, args.size, "held out"), args.size, args.padding, rng))
        metrics["held_out_palm_acc"] = round(float(np.mean((lg > 0) == (palm > 0.5))), 4)
        metrics["held_out_n"] = len(records)
    if checked is not None and checked[0]:
        records, palm, right = checked
        lg = logits_of(model, Crops(cache_crops(records, args.padding, args.size, "check"), args.size, args.padding, rng))
        rl = right_logit(lg, np.stack([r.keypoints for r in records]))
        metrics["check_palm_acc"] = round(float(np.mean((lg > 0) == (palm > 0.5))), 4)
        metrics["check_back_acc"] = round(float(np.mean((lg <= 0)[palm < 0.5])), 4) if (palm < 0.5).any() else None
        metrics["check_side_acc"] = round(float(np.mean((rl > 0) == (right > 0.5))), 4)
        metrics["check_n"] = len(records)
    return metrics
