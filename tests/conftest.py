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


def untrained_release(path: Path, input_size: int = 128, seed: int = 0, *, peaks: bool = False,
                      loud_head: bool = False, handedness: bool = False, metrics: dict | None = None) -> Path:
    """An untrained ResNet-18 saved as a release, as a user would get one: its predictions are poor but real,
    which is all the plumbing tests need; the one helper every test that needs a model file uses.
    ``peaks``: larger final-layer weights, so heatmaps peak clearly; ``loud_head``: Kaiming-initialised
    deconvolutions too, so every photo scores above the presence threshold (a hand in every photo);
    ``handedness``: a left/right head whose (random) answers are far from 0.5."""
    import torch
    from torch import nn

    from handpose.pose.model import build_model
    from handpose.release import save_release

    torch.manual_seed(seed)
    model = build_model("resnet18", handedness=handedness)
    with torch.no_grad():
        if loud_head:
            for m in model.deconv_layers.modules():
                if isinstance(m, nn.ConvTranspose2d):
                    nn.init.kaiming_normal_(m.weight)
        if peaks or loud_head:
            model.final_layer.weight.normal_(0, 0.05)
        if handedness:
            model.handedness.weight.normal_(0, 0.5)
    info = dict(arch="resnet18", num_joints=21, input_size=input_size, sigma=2.0, padding=1.25,
                metrics=metrics or {}, **({"handedness": True} if handedness else {}))
    save_release(model, info, path)
    return path


def kill_when(proc, ready, what: str, timeout: float = 120) -> None:
    """SIGKILL the subprocess ``proc`` as soon as ``ready()`` holds (``what``: the failure if it ends first), as a
    crash or a power cut would stop it; asserts it was killed."""
    import signal
    import time

    try:
        deadline = time.time() + timeout
        while not ready():
            assert proc.poll() is None and time.time() < deadline, what
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
