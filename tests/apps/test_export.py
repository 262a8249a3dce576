"""`handpose export`: ONNX parity with PyTorch, dynamic batch, int8, safetensors releases, errors."""
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose.apps.cli import main
from handpose.codec import HeatmapCodec
from handpose.errors import HandposeError
from handpose.pose.inference import PoseEstimator
from handpose.pose.model import build_model
from handpose.pose.onnx_backend import OnnxBackend
from handpose.weights import load_model

from ..conftest import MINI, untrained_release

INFO = dict(arch="resnet18", num_joints=21, input_size=64, sigma=2.0, padding=1.25, metrics={})


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return untrained_release(tmp_path_factory.mktemp("release") / "m.safetensors", INFO["input_size"], peaks=True)


@pytest.fixture(scope="module")
def exported(release, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "m.onnx"
    assert main(["export", "--format", "onnx", str(out), "--weights", str(release)]) == 0
    return out


def test_onnx_matches_pytorch_on_random_inputs_with_any_batch(release, exported):
    model, info = load_model(release)
    backend = OnnxBackend(exported, threads=1)
    assert backend.info == info  # the config travels in the ONNX metadata
    codec = HeatmapCodec((64, 64), (16, 16), 2.0)
    rng = np.random.default_rng(1)
    for batch in (1, 3, 5):
        x = rng.standard_normal((batch, 3, 64, 64)).astype(np.float32)
        with torch.inference_mode():
            ref = model(torch.from_numpy(x)).numpy()
        out = backend(x)
        assert out.shape == ref.shape == (batch, 21, 16, 16)
        assert np.linalg.norm(codec.decode(out)[0] - codec.decode(ref)[0], axis=-1).max() < 0.5
        np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max())


def test_estimators_agree_across_backends(release, exported, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    image = MINI / "evaluation" / "rgb" / "00000001.jpg"
    box = (30, 40, 180, 170)
    ref = PoseEstimator(release)(image, box=box)[0]
    from_file = PoseEstimator(exported)(image, box=box)[0]  # an .onnx file runs on ONNX Runtime
    on_the_fly = PoseEstimator(release, backend="onnx")(image, box=box)[0]
    assert list((tmp_path / "cache" / "handpose" / "onnx").glob("*.onnx"))  # cached for the next run
    for hand in (from_file, on_the_fly):
        assert np.abs(hand.keypoints - ref.keypoints).max() < 0.5


def test_int8_export_is_smaller_and_runs(release, exported, tmp_path, capsys):
    out = tmp_path / "m8.onnx"
    assert main(["export", "--format", "onnx", str(out), "--int8", "--weights", str(release)]) == 0
    assert "int8: calibrated on 64 crops" in capsys.readouterr().out  # 16 images x (tight, whole) x mirrored
    assert out.stat().st_size < 0.4 * exported.stat().st_size
    import onnx

    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert "ConvTranspose" not in ops and "QuantizeLinear" in ops  # the head's deconvolutions went int8 too
    est = PoseEstimator(out)
    assert est.info["input_size"] == 64
    hands = est(MINI / "training" / "rgb" / "00000002.jpg", box=(30, 40, 180, 170))
    assert hands[0].keypoints.shape == (21, 2) and np.isfinite(hands[0].keypoints).all()


def test_safetensors_release_from_a_checkpoint(tmp_path):
    torch.manual_seed(2)
    model = build_model("resnet18")
    cfg = {"model": {"arch": "resnet18", "num_joints": 21}, "data": {"input_size": 64, "sigma": 2.0, "padding": 1.25}}
    ckpt = tmp_path / "best.pt"
    torch.save({"model": model.state_dict(), "config": cfg, "metrics": {"AUC": 0.5}}, ckpt)
    out = tmp_path / "rel" / "default.safetensors"
    assert main(["export", "--format", "safetensors", str(out), "--weights", str(ckpt)]) == 0
    loaded, info = load_model(out)
    assert info["input_size"] == 64 and info["metrics"] == {"AUC": 0.5}
    for k, v in model.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(loaded.state_dict()[k], v.half().float())


def test_export_errors(release, tmp_path, capsys):
    assert main(["export", "--format", "safetensors", str(tmp_path / "x.safetensors")]) == 2
    assert "--weights CKPT.pt" in capsys.readouterr().err
    assert main(["export", "--format", "onnx", str(tmp_path / "x.onx"), "--weights", str(release)]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "x.onnx"), "--weights", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt: weights file not found" in capsys.readouterr().err
    not_ours = tmp_path / "plain.onnx"
    not_ours.write_bytes(b"\x08\x07")
    with pytest.raises(HandposeError, match="plain.onnx"):
        PoseEstimator(not_ours)


def test_average_of_releases_is_their_mean_and_refuses_other_shapes(tmp_path, capsys):
    a = untrained_release(tmp_path / "a.safetensors", seed=1)
    b = untrained_release(tmp_path / "b.safetensors", seed=2)
    out = tmp_path / "soup.safetensors"
    assert main(["export", "--format", "safetensors", str(out), "--average", str(a), str(b)]) == 0
    (ma, _), (mb, _), (mo, info) = load_model(a), load_model(b), load_model(out)
    assert info["averaged_from"] == ["a.safetensors", "b.safetensors"] and info["metrics"] == {}
    for k, v in mo.state_dict().items():
        if v.is_floating_point():  # the mean of the fp16 inputs, stored in fp16 again
            torch.testing.assert_close(v, ((ma.state_dict()[k] + mb.state_dict()[k]) / 2).half().float())
    other = untrained_release(tmp_path / "c.safetensors", input_size=96)
    assert main(["export", "--format", "safetensors", str(out), "--average", str(a), str(other)]) == 2
    err = capsys.readouterr().err
    assert "c.safetensors: cannot be averaged" in err and "input_size differ" in err
    assert main(["export", "--format", "onnx", str(tmp_path / "x.onnx"), "--average", str(a), str(b)]) == 2
    assert "--average makes a release" in capsys.readouterr().err
