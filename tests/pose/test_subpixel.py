"""The head's deconvolutions rewritten as convolutions + pixel shuffle (for int8) compute the same thing."""
import pytest
import torch
from torch import nn

from handpose.pose.model import build_model
from handpose.pose.subpixel import SubPixelDeconv, with_subpixel_deconvs


@pytest.mark.parametrize("shape", [(2, 5, 7, 7), (1, 5, 4, 9), (3, 5, 1, 1)])
def test_subpixel_deconvolution_equals_conv_transpose(shape):
    torch.manual_seed(0)
    deconv = nn.ConvTranspose2d(5, 3, 4, stride=2, padding=1, bias=False)
    x = torch.randn(shape)
    with torch.no_grad():
        ref, out = deconv(x), SubPixelDeconv(deconv)(x)
    assert out.shape == ref.shape == (shape[0], 3, 2 * shape[2], 2 * shape[3])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_whole_model_unchanged_and_original_left_alone():
    torch.manual_seed(1)
    model = build_model("mobilenetv2", head_width=16, handedness=True).eval()
    rewritten = with_subpixel_deconvs(model)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in model.modules()) == 3  # the copy was changed, not it
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in rewritten.modules())
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        (h1, s1), (h2, s2) = model.forward_all(x), rewritten.forward_all(x)
    torch.testing.assert_close(h2, h1, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(s2, s1)


def test_refuses_other_deconvolutions():
    with pytest.raises(ValueError, match="kernel 4, stride 2, padding 1"):
        SubPixelDeconv(nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, bias=False))
