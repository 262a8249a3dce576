"""The palm-side classifier: an ImageNet MobileNetV2 encoder, global average pooling, one logit.

The logit says the crop shows the hand's palm side (positive) or its back (negative). Mirroring a crop
keeps that answer (the mirrored hand is the other hand, seen from the same side), so training mirrors
freely and the flip test averages the two logits.
"""
from __future__ import annotations

import torch
from torch import nn

from ..backbones import MobileNetV2


class PalmNet(nn.Module):
    arch = "mobilenetv2"  # the encoder, as backbones.py names it (errors loading its weights say it)

    def __init__(self):
        super().__init__()
        self.backbone = MobileNetV2()
        self.palm = nn.Linear(self.backbone.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised crops (N, 3, S, S) -> palm-side logits (N,)."""
        return self.palm(self.backbone(x).mean(dim=(2, 3))).squeeze(1)
