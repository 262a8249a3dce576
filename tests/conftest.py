from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "data" / "datasets" / "mini-example"
SHARED = ROOT.parent / "shared" / "data"
HGC = SHARED / "hgc_dev"
UCI = SHARED / "uci_hand"


@pytest.fixture
def mini_root() -> Path:
    return MINI


def need(path: Path):
    """Skip cleanly where ../shared/data is not present."""
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present")


def untrained_release(path: Path, input_size: int = 128, seed: int = 0) -> Path:
    """An untrained ResNet-18 saved as a release, as a user would get one: its predictions are poor but real,
    which is all the plumbing tests need."""
    import torch

    from handpose.pose.model import build_model
    from handpose.weights import save_release

    torch.manual_seed(seed)
    info = dict(arch="resnet18", num_joints=21, input_size=input_size, sigma=2.0, padding=1.25, metrics={})
    save_release(build_model("resnet18"), info, path)
    return path
