import pytest
import torch

from handpose.errors import HandposeError
from handpose.pose.model import build_model, load_backbone_weights

# torchvision's resnetNN parameter counts without the 1000-way classifier, plus our head:
# deconv 4x4 (C->256, 256->256, 256->256), 3 BN (2x256 each), 1x1 conv 256->21 with bias.
ENCODER = {"resnet18": 11_176_512, "resnet34": 21_284_672, "resnet50": 23_508_032,
           "resnet101": 42_500_160, "resnet152": 58_143_808}


def head_params(cin: int) -> int:
    return cin * 256 * 16 + 2 * 256 * 256 * 16 + 3 * 2 * 256 + 256 * 21 + 21


@pytest.mark.parametrize("arch", list(ENCODER))
def test_shape_and_parameter_count(arch):
    model = build_model(arch).eval()
    cin = 512 if arch in ("resnet18", "resnet34") else 2048
    assert sum(p.numel() for p in model.parameters()) == ENCODER[arch] + head_params(cin)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 21, 56, 56)


def test_resnet18_is_about_15_4_million():
    n = sum(p.numel() for p in build_model("resnet18").parameters())
    assert 15.3e6 < n < 15.5e6


def test_encoder_names_follow_torchvision():
    keys = set(build_model("resnet50").backbone.state_dict())
    for k in ["conv1.weight", "bn1.running_mean", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight",
              "layer1.0.downsample.1.num_batches_tracked", "layer4.2.bn3.bias"]:
        assert k in keys
    assert not any(k.startswith("fc.") for k in keys)


def test_head_starts_near_zero():
    model = build_model("resnet18").eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 224, 224))
    assert out.abs().max() < 0.05  # N(0, 0.001) head weights: the first heatmaps are almost flat


def test_loads_a_torchvision_style_checkpoint(tmp_path):
    # A checkpoint in torchvision's layout: encoder weights plus the classifier that we do not use.
    source = build_model("resnet18").backbone.state_dict()
    state = {k: torch.randn_like(v.float()).to(v.dtype) if v.is_floating_point() else v for k, v in source.items()}
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(state, path)
    model = build_model("resnet18")
    loaded, unused = load_backbone_weights(model, str(path))
    assert sorted(unused) == ["fc.bias", "fc.weight"]
    assert loaded == len(source)
    assert torch.equal(model.backbone.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])


def test_backbone_weights_errors_name_the_file(tmp_path):
    with pytest.raises(HandposeError, match="not found"):
        load_backbone_weights(build_model("resnet18"), str(tmp_path / "missing.pth"))
    wrong = tmp_path / "resnet50.pth"
    torch.save(build_model("resnet50").backbone.state_dict(), wrong)
    with pytest.raises(HandposeError, match="resnet50.pth: does not fit resnet18"):
        load_backbone_weights(build_model("resnet18"), str(wrong))
