"""CenterNet-style hand detector: MobileNetV2 to stride 32, a top-down merge to stride 8, three small heads.

Heads (each at stride 8): centre heatmap logits (1), sub-cell centre offset (2), log box size (2).
``backbone.features`` has torchvision's ``mobilenet_v2().features`` names, so the ImageNet file loads into it.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..backbones import MobileNetV2, load_encoder_weights

# Indices of the last MobileNetV2 block at strides 8, 16 and 32 (outputs: 32, 96, 1280 channels).
TAPS, TAP_CHANNELS = (6, 13, 18), (32, 96, 1280)


def separable(width: int) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1: smooths an upsampled sum for little compute."""
    return nn.Sequential(nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False), nn.BatchNorm2d(width),
                         nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))


def head(width: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(width, out, 1))


class HandDetectorNet(nn.Module):
    stride = 8

    def __init__(self, width: int = 64):
        super().__init__()
        self.width = width
        self.backbone = MobileNetV2()
        self.lateral = nn.ModuleList(nn.Sequential(nn.Conv2d(c, width, 1, bias=False), nn.BatchNorm2d(width))
                                     for c in TAP_CHANNELS)
        self.smooth = nn.ModuleList(separable(width) for _ in TAPS[:-1])
        self.heatmap, self.offset, self.size = head(width, 1), head(width, 2), head(width, 2)
        # CenterNet's prior: every cell starts at p = 0.1, so the focal loss does not explode on step one.
        nn.init.constant_(self.heatmap[-1].bias, -math.log((1 - 0.1) / 0.1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        taps = []
        for i, block in enumerate(self.backbone.features):
            x = block(x)
            if i in TAPS:
                taps.append(x)
        merged = self.lateral[-1](taps[-1])
        for level in (1, 0):  # stride 16, then stride 8
            up = F.interpolate(merged, size=taps[level].shape[-2:], mode="nearest")
            merged = self.smooth[level](self.lateral[level](taps[level]) + up)
        return self.heatmap(merged), self.offset(merged), self.size(merged)


def load_backbone_weights(model: HandDetectorNet, path: str) -> int:
    """torchvision's ImageNet MobileNetV2 file into ``model.backbone``; returns the number of tensors loaded."""
    return load_encoder_weights(model.backbone, path, "MobileNetV2")[0]


def model_info(cfg: dict, metrics: dict | None = None) -> dict:
    """What ``HandDetector`` needs besides the weights, from a training config (written into its release)."""
    return {"kind": "hand-detector", "width": cfg["model"]["width"], "input_size": cfg["data"]["input_size"],
            "stride": HandDetectorNet.stride, "box": "keypoint box [x, y, w, h], image pixels",
            "score_threshold": cfg["eval"]["score_threshold"], "nms_iou": cfg["eval"]["nms_iou"],
            "metrics": metrics or {}}
