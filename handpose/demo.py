"""`handpose demo`: build the model and run it on the bundled mini-example."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from .codec import HeatmapCodec
from .datasets import HandDataset, load_freihand
from .model import build_model

MINI_EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "datasets" / "mini-example"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(MINI_EXAMPLE), help="FreiHAND-layout folder (default: the mini-example)")
    p.add_argument("--arch", default="resnet18")


def run(args: argparse.Namespace) -> int:
    codec = HeatmapCodec()
    records = load_freihand(args.data, "training")
    dataset = HandDataset(records, codec)
    model = build_model(args.arch).eval()
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    t0 = time.perf_counter()
    with torch.no_grad():
        heatmaps = model(images)
    dt = time.perf_counter() - t0
    keypoints, scores = codec.decode(heatmaps.numpy())
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.arch}: {params / 1e6:.2f} M parameters (untrained)")
    print(f"{len(records)} images from {args.data}: input {tuple(images.shape)} -> heatmaps {tuple(heatmaps.shape)}")
    print(f"forward pass {dt * 1000:.0f} ms ({dt * 1000 / len(images):.1f} ms/image); decoded keypoints {keypoints.shape}, "
          f"mean peak {np.mean(scores):.4f}")
    return 0
