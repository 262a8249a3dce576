"""Training throughput (images/s) of the Simple Baselines model: is the data loader or the model the bottleneck?

For each device and input size it times three things over the same number of steps:
  model only   synthetic tensors already in memory: forward + MSE loss + backward + Adam step
  loader only  the real DataLoader over data/datasets/mini-example with the default recipe's augmentation
               (rotation/scale/flip, colour, blur, noise, occlusion, background pasting, negatives), no
               model, in the main process (0 workers): the cost of one batch, which W workers divide by W
               at best (prefetched batches would otherwise hide it)
  full         the loader (--workers processes) feeding the training step, as `handpose train` runs

Rows per encoder (``--archs``), head width, input size, and for the model-only step also NCHW vs channels_last
and fp32 vs bfloat16 autocast (``--dtypes``): bf16 only pays on CPUs with AVX512-BF16 or AMX.

    .venv/bin/python bench/train_speed.py                       # resnet18 + mobilenetv2 at 224/192/160, CPU (+ CUDA)
    .venv/bin/python bench/train_speed.py --archs mobilenetv2 --head-width 128 --sizes 192 160 --dtypes fp32 bf16
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, RandomSampler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handpose.codec import HeatmapCodec  # noqa: E402
from handpose.train.config import load_config  # noqa: E402
from handpose.pose.model import build_model  # noqa: E402
from handpose.train.data import build_datasets  # noqa: E402
from handpose.train.losses import heatmap_loss  # noqa: E402

MINI = ROOT / "data" / "datasets" / "mini-example"


def make_loader(size: int, batch: int, workers: int, steps: int, pin: bool) -> DataLoader:
    """The default recipe's training set and augmentation, on the bundled mini-example, sampled with
    replacement so any number of steps can be drawn from its 12 images."""
    frames = ROOT.parent / "shared" / "data" / "teacher_hands" / "frames.json"
    cfg = load_config(ROOT / "configs" / "default_v2_stage1.yaml", [
        f"data.input_size={size}",
        f"data.train=[{{format: freihand, root: '{MINI}', split: training}}]",
        f"data.val=[{{format: freihand, root: '{MINI}', split: evaluation}}]",
        f"data.hand_free=[{{frames: '{frames}'}}]" if frames.is_file() else "data.hand_free=[]",
    ])
    codec = HeatmapCodec((size, size), (size // 4, size // 4), cfg["data"]["sigma"])
    train_set, _ = build_datasets(cfg, codec)
    sampler = RandomSampler(train_set, replacement=True, num_samples=batch * steps)
    return DataLoader(train_set, batch_size=batch, sampler=sampler, num_workers=workers, pin_memory=pin,
                      drop_last=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(device: torch.device, size: int, batch: int, steps: int, warmup: int, mode: str, workers: int,
               arch: str = "resnet18", head_width: int = 256, channels_last: bool = True, dtype: str = "fp32") -> float:
    """Seconds per step for ``steps`` steps after ``warmup`` untimed ones."""
    model = build_model(arch, head_width=head_width).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    autocast = dict(device_type="cuda", enabled=amp) if amp else dict(device_type="cpu", dtype=torch.bfloat16,
                                                                      enabled=dtype == "bf16")
    if mode == "model only":
        x = torch.randn(batch, 3, size, size, device=device)
        y = torch.rand(batch, 21, size // 4, size // 4, device=device) * 0.1
        w = torch.ones(batch, 21, device=device)
        batches = itertools.repeat((x, y, w, None))
    else:
        batches = iter(make_loader(size, batch, 0 if mode == "loader only" else workers, warmup + steps,
                                   device.type == "cuda"))
    start = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
        images, targets, weights, _ = next(batches)
        if mode == "loader only":
            continue
        images, targets, weights = (t.to(device, non_blocking=True) for t in (images, targets, weights))
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(**autocast):
            heatmaps = model(images)
        loss = heatmap_loss(heatmaps.float(), targets, weights)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    sync(device)
    return (time.perf_counter() - start) / steps


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", nargs="+", default=["resnet18", "mobilenetv2"])
    p.add_argument("--head-width", type=int, default=256)
    p.add_argument("--sizes", type=int, nargs="+", default=[224, 192, 160])
    p.add_argument("--dtypes", nargs="+", default=["fp32"], choices=["fp32", "bf16"], help="CPU model-only rows")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=20, help="timed steps per row")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (allocator, worker start-up)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--devices", nargs="+", default=["cpu", "cuda"], help="cuda rows are skipped without a GPU")
    args = p.parse_args()

    devices = [torch.device(d) for d in args.devices if d != "cuda" or torch.cuda.is_available()]
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads; batch {args.batch_size}, "
          f"{args.steps} timed steps after {args.warmup}; loader: {args.workers} workers over {MINI.name}")
    header = (f"| {'device':<6} | {'encoder':<11} | {'head':>4} | {'input':>5} | {'layout':<13} | {'dtype':<5} "
              f"| {'what':<11} | {'crops/s':>8} | {'ms/step':>8} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for device in devices:
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        for arch, size in itertools.product(args.archs, args.sizes):
            rows = [("model only", layout, dtype) for layout in (False, True) for dtype in args.dtypes]
            rows += [("loader only", True, "fp32"), ("full", True, "fp32")]
            for mode, channels_last, dtype in rows:
                sec = time_steps(device, size, args.batch_size, args.steps, args.warmup, mode, args.workers, arch,
                                 args.head_width, channels_last, dtype)
                layout = "channels_last" if channels_last else "NCHW"
                print(f"| {device.type:<6} | {arch:<11} | {args.head_width:>4} | {size:>5} | {layout:<13} | {dtype:<5} "
                      f"| {mode:<11} | {args.batch_size / sec:>8.1f} | {sec * 1000:>8.0f} |", flush=True)
        if device.type == "cuda":
            print(f"(cuda: {name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
