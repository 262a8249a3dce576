"""`handpose train-side --out runs/side/side.safetensors [--steps 2400] [--size 128]`: train the palm-side
classifier from teacher_hands (train/side.py holds the labels, sampling and crops; side/model.py the network)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..backbones import load_encoder_weights
from ..data.datasets import load_coco
from ..errors import HandposeError
from ..pose.handedness import CHECK, TEACHER
from ..side.infer import load_palmnet, right_logit, side_info
from ..side.model import PalmNet
from ..train.hardware import cpu_has_native_bf16
from ..train.side import CONTEXT, IMAGENET, Crops, cache_crops, logits_of, palm_labels, sampling_weights


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
    from ..release import save_release

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
