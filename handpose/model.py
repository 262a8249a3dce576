"""Simple Baselines (Xiao et al., ECCV 2018): a ResNet encoder and three deconvolutions to heatmaps.

The ResNet parameter names match torchvision's ``resnetNN`` so an ImageNet checkpoint file loads into
``model.backbone`` with ``load_state_dict(strict=False)`` (its ``fc.*`` keys are the only ones left over).
"""
from __future__ import annotations

import torch
from torch import nn


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(cin, planes, stride), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes, stride), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


RESNET_SPECS: dict[str, tuple[type[nn.Module], list[int]]] = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
    "resnet101": (Bottleneck, [3, 4, 23, 3]),
    "resnet152": (Bottleneck, [3, 8, 36, 3]),
}


class ResNet(nn.Module):
    """torchvision's ResNet without its average pooling and classifier: image -> stride-32 features."""

    def __init__(self, block: type[nn.Module], layers: list[int]):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.out_channels = self.inplanes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class PoseResNet(nn.Module):
    """ResNet encoder + 3 x (ConvTranspose2d 4x4 stride 2, BN, ReLU) + 1x1 conv: stride-4 heatmaps."""

    def __init__(self, arch: str = "resnet18", num_joints: int = 21, deconv_filters: int = 256):
        super().__init__()
        if arch not in RESNET_SPECS:
            raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(RESNET_SPECS)}")
        self.arch = arch
        self.backbone = ResNet(*RESNET_SPECS[arch])
        layers: list[nn.Module] = []
        cin = self.backbone.out_channels
        for _ in range(3):
            layers += [
                nn.ConvTranspose2d(cin, deconv_filters, 4, stride=2, padding=1, output_padding=0, bias=False),
                nn.BatchNorm2d(deconv_filters),
                nn.ReLU(inplace=True),
            ]
            cin = deconv_filters
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(deconv_filters, num_joints, 1)
        # As the official code: small random head weights so the first heatmaps are near zero.
        for m in self.deconv_layers.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(self.backbone(x)))


def build_model(arch: str = "resnet18", num_joints: int = 21) -> PoseResNet:
    return PoseResNet(arch, num_joints)


def load_backbone_weights(model: PoseResNet, path: str) -> list[str]:
    """Load a torchvision ImageNet checkpoint file into the encoder; returns the keys it did not use."""
    from .errors import HandposeError

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise HandposeError(f"{path}: backbone weights file not found") from None
    except Exception as e:  # a corrupt or non-checkpoint file
        raise HandposeError(f"{path}: cannot read backbone weights ({e})") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise HandposeError(f"{path}: not a state_dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        result = model.backbone.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shapes that do not fit, e.g. a resnet50 file for a resnet18 model
        raise HandposeError(f"{path}: does not fit {model.arch}: {str(e).splitlines()[-1].strip()}") from None
    if result.missing_keys:
        raise HandposeError(
            f"{path}: does not fit {model.arch}: {len(result.missing_keys)} encoder weights missing "
            f"(first: {result.missing_keys[0]})"
        )
    return list(result.unexpected_keys)
