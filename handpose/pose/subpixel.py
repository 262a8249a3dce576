"""The head's deconvolutions as ordinary convolutions, for the int8 export.

ONNX Runtime quantises Conv to int8 (VNNI kernels) but runs ConvTranspose in float whatever the quantiser
asks, and the head's three ConvTranspose2d(4x4, stride 2, padding 1) are half the model's time. Each is
exactly one 2x2 convolution (padding 1) to 4 x C channels, one group per output pixel parity, then a pixel
shuffle: per axis, an even output pixel 2m takes input pixels m-1 and m (deconvolution taps 3 and 1), an
odd one 2m+1 takes m and m+1 (taps 2 and 0). Same arithmetic, so the float results match to rounding.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

# Output parity -> the deconvolution's kernel taps for the input offsets (-1, 0) (even) or (0, +1) (odd).
TAPS = {0: [3, 1], 1: [2, 0]}


class SubPixelDeconv(nn.Module):
    """A ConvTranspose2d(kernel 4, stride 2, padding 1, no bias) as Conv2d(2x2, padding 1) + pixel shuffle."""

    def __init__(self, deconv: nn.ConvTranspose2d):
        super().__init__()
        if (deconv.kernel_size, deconv.stride, deconv.padding, deconv.bias, deconv.groups) != ((4, 4), (2, 2), (1, 1), None, 1):
            raise ValueError("SubPixelDeconv rewrites ConvTranspose2d(kernel 4, stride 2, padding 1, bias=False) only")
        w = deconv.weight.detach()  # (Cin, Cout, 4, 4)
        cin, self.cout = w.shape[:2]
        # Channel c * 4 + (2a + b) holds output channel c at parity (a, b): pixel_shuffle's order.
        groups = [w[:, :, TAPS[a]][:, :, :, TAPS[b]].transpose(0, 1) for a in (0, 1) for b in (0, 1)]
        self.conv = nn.Conv2d(cin, 4 * self.cout, 2, padding=1, bias=False)
        self.conv.weight.data.copy_(torch.stack(groups, 1).reshape(4 * self.cout, cin, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2], x.shape[3]
        y = self.conv(x)
        y = y.view(y.shape[0], self.cout, 4, h + 1, w + 1)
        # Even rows/columns start one pixel earlier in the padded output than odd ones.
        parts = [y[:, :, 0, :h, :w], y[:, :, 1, :h, 1:], y[:, :, 2, 1:, :w], y[:, :, 3, 1:, 1:]]
        return F.pixel_shuffle(torch.stack(parts, 2).flatten(1, 2), 2)


def with_subpixel_deconvs(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ConvTranspose2d of its head rewritten as a SubPixelDeconv."""
    model = copy.deepcopy(model)
    layers = getattr(model, "deconv_layers", None)
    for i, layer in enumerate(layers if layers is not None else []):
        if isinstance(layer, nn.ConvTranspose2d):
            layers[i] = SubPixelDeconv(layer)
    return model
