"""Simple Baselines (Xiao et al., ECCV 2018): an encoder (backbones.py) and three deconvolutions to heatmaps."""
from __future__ import annotations

import torch
from torch import nn

from ..backbones import ENCODERS, RESNET_SPECS, MobileNetV2, ResNet, load_encoder_weights


class SimpleBaseline(nn.Module):
    """Encoder + ``num_deconv`` x (ConvTranspose2d 4x4 stride 2, BN, ReLU) + 1x1 conv to heatmaps.

    The article's model: a ResNet, 3 deconvolutions of 256 filters, so heatmaps at stride 4.
    ``handedness=True`` adds a linear classifier on the globally average-pooled encoder features (the
    logit that the hand is a right hand, see handedness.py); it is off by default, and ``forward`` returns
    heatmaps only either way, so training and existing checkpoints are untouched.
    """

    def __init__(self, arch: str = "resnet18", num_joints: int = 21, head_width: int = 256, num_deconv: int = 3,
                 handedness: bool = False):
        super().__init__()
        if arch not in ENCODERS:
            raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ENCODERS)}")
        self.arch = arch
        self.backbone = MobileNetV2() if arch == "mobilenetv2" else ResNet(*RESNET_SPECS[arch])
        self.stride = 32 // 2 ** num_deconv
        layers: list[nn.Module] = []
        cin = self.backbone.out_channels
        for _ in range(num_deconv):
            layers += [
                nn.ConvTranspose2d(cin, head_width, 4, stride=2, padding=1, output_padding=0, bias=False),
                nn.BatchNorm2d(head_width),
                nn.ReLU(inplace=True),
            ]
            cin = head_width
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(cin, num_joints, 1)
        # As the official code: small random head weights so the first heatmaps are near zero.
        for m in self.deconv_layers.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)
        self.handedness = nn.Linear(self.backbone.out_channels, 1) if handedness else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(self.backbone(x)))

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Heatmaps and the right-hand logit (N,), None without the handedness head; one encoder pass."""
        features = self.backbone(x)
        heatmaps = self.final_layer(self.deconv_layers(features))
        if self.handedness is None:
            return heatmaps, None
        return heatmaps, self.handedness(features.mean(dim=(2, 3))).squeeze(1)


PoseResNet = SimpleBaseline  # the article's name for the ResNet variant


def build_model(arch: str = "resnet18", num_joints: int = 21, head_width: int = 256, num_deconv: int = 3,
                handedness: bool = False) -> SimpleBaseline:
    return SimpleBaseline(arch, num_joints, head_width, num_deconv, handedness)


def load_backbone_weights(model: SimpleBaseline, path: str) -> tuple[int, list[str]]:
    """Load a torchvision ImageNet checkpoint file into the model's encoder (backbones.load_encoder_weights)."""
    return load_encoder_weights(model.backbone, path, model.arch)
