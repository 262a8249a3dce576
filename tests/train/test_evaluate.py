"""`handpose evaluate`: its figures agree with an independent computation from its own JSON predictions."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from handpose.apps.cli import main as cli
from handpose.codec import HeatmapCodec
from handpose.data.datasets import HandDataset, load_freihand
from handpose.train.evaluate import predict_dataset, predict_scales
from handpose.pose.model import build_model
from handpose.weights import DEFAULT_WEIGHTS

from ..conftest import HGC, need, untrained_release


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return untrained_release(tmp_path_factory.mktemp("w") / "m.safetensors")


def freihand_truth(root: Path, split: str) -> np.ndarray:
    """2D keypoints straight from the FreiHAND files: uv = K @ xyz, divided by depth."""
    Ks = np.array(json.loads((root / f"{split}_K.json").read_text()), np.float64)
    xyz = np.array(json.loads((root / f"{split}_xyz.json").read_text()), np.float64)
    uvw = np.einsum("nij,nkj->nki", Ks, xyz)
    return uvw[..., :2] / uvw[..., 2:]


def independent_figures(result: dict, truth: np.ndarray, sides: np.ndarray) -> dict:
    """EPE, PCK@0.2 and AUC from the JSON's predictions, every joint labelled (no mask)."""
    index = [int(Path(p["image"]).stem) for p in result["predictions"]]
    pred = np.array([p["keypoints"] for p in result["predictions"]])
    d = np.sqrt(((pred - truth[index]) ** 2).sum(-1))  # (N, 21)
    return {
        "EPE": d.mean(),
        "per_joint": d.mean(0),
        "PCK@0.2": (d < 0.2 * sides[:, None]).mean(),
        "AUC": np.mean([(d < t).mean() for t in 1.5 * np.arange(20)]),
    }


def run_evaluate(weights: Path, data: Path, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "out"
    assert cli(["evaluate", "--weights", str(weights), "--data", str(data), "--json", str(tmp_path / "r.json"),
                "--out", str(out), *extra]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert json.loads((out / "metrics.json").read_text())["metrics"] == result["metrics"]
    return result


def check_against_files(result: dict, root: Path, split: str) -> None:
    truth = freihand_truth(root, split)
    sides = np.array([max(cv2.imread(p["image"]).shape[:2]) for p in result["predictions"]], float)  # box: image
    mine = independent_figures(result, truth, sides)
    m = result["metrics"]
    assert result["hands"] == len(truth) == len(result["predictions"])
    assert m["EPE"] == pytest.approx(mine["EPE"], abs=2e-3)  # the JSON rounds keypoints to 1/1000 px
    assert list(result["per_joint_EPE"].values()) == pytest.approx(mine["per_joint"], abs=2e-3)
    assert m["PCK@0.2"] == pytest.approx(mine["PCK@0.2"], abs=1e-3)
    assert m["AUC"] == pytest.approx(mine["AUC"], abs=1e-3)


def test_mini_example_figures_match_an_independent_computation(weights, mini_root, tmp_path, capsys):
    result = run_evaluate(weights, mini_root, tmp_path)
    assert result["split"] == "evaluation" and result["hands"] == 4
    check_against_files(result, mini_root, "evaluation")
    table = capsys.readouterr().out
    assert "PCK@0.2" in table and f"{result['metrics']['EPE']:.2f}" in table and "little" in table
    grid = cv2.imread(str(tmp_path / "out" / "grid.png"))
    assert grid.shape == (256, 4 * 256, 3)  # four hands, one row


def test_flip_test_is_the_default_and_can_be_turned_off(weights, mini_root, tmp_path):
    for name in "abc":
        (tmp_path / name).mkdir()
    default = run_evaluate(weights, mini_root, tmp_path / "a", "--grid", "0")
    flipped = run_evaluate(weights, mini_root, tmp_path / "b", "--grid", "0", "--flip-test")
    plain = run_evaluate(weights, mini_root, tmp_path / "c", "--grid", "0", "--no-flip-test")
    assert default["flip_test"] is True and plain["flip_test"] is False
    assert default["metrics"] == flipped["metrics"]
    assert default["metrics"]["EPE"] != plain["metrics"]["EPE"]


@need(HGC)
def test_hgc_dev_figures_match_an_independent_computation(weights, tmp_path):
    result = run_evaluate(weights, HGC, tmp_path, "--grid", "8")
    assert result["hands"] == 292
    check_against_files(result, HGC, "evaluation")
    assert cv2.imread(str(tmp_path / "out" / "grid.png")).shape == (2 * 256, 4 * 256, 3)


def test_training_split_and_coco_file(weights, mini_root, tmp_path):
    # A folder without an evaluation split: its training split is read.
    folder = tmp_path / "train_only"
    (folder / "training").mkdir(parents=True)
    (folder / "training" / "rgb").symlink_to(mini_root / "training" / "rgb")
    for name in ("training_K.json", "training_xyz.json"):
        (folder / name).write_bytes((mini_root / name).read_bytes())
    result = run_evaluate(weights, folder, tmp_path, "--grid", "0")
    assert result["split"] == "training" and result["hands"] == 12
    check_against_files(result, folder, "training")

    # The same hands as a COCO file: PCK is normalised by each annotation's bbox; the little fingertip is
    # marked unlabelled (v = 0) everywhere, so it counts nowhere.
    records = load_freihand(mini_root, "training", box="keypoints")
    v = np.r_[np.full(20, 2), 0]
    coco = {"images": [{"id": i, "file_name": str(r.image)} for i, r in enumerate(records)],
            "annotations": [{"id": i, "image_id": i, "bbox": r.box.tolist(),
                             "keypoints": np.c_[r.keypoints, v].ravel().tolist()}
                            for i, r in enumerate(records)]}
    path = tmp_path / "hands.json"
    path.write_text(json.dumps(coco))
    result = run_evaluate(weights, path, tmp_path / "coco", "--grid", "0")
    truth = np.stack([r.keypoints for r in records])
    sides = np.array([max(r.box[2:]) for r in records], float)
    pred = np.array([p["keypoints"] for p in result["predictions"]])
    d = np.sqrt(((pred - truth) ** 2).sum(-1))[:, :20]
    assert result["per_joint_EPE"]["little_tip"] is None  # strict JSON: null, not NaN
    assert result["metrics"]["PCK@0.2"] == pytest.approx((d < 0.2 * sides[:, None]).mean(), abs=1e-3)
    assert result["metrics"]["EPE"] == pytest.approx(d.mean(), abs=2e-3)
    # --box image: the whole 256 x 256 image instead.
    result = run_evaluate(weights, path, tmp_path / "coco_image", "--grid", "0", "--box", "image")
    assert {tuple(p["box"]) for p in result["predictions"]} == {(0, 0, 256, 256)}


def test_flip_test_averages_with_the_mirrored_heatmaps(mini_root):
    torch.manual_seed(1)
    model = build_model("resnet18").eval()

    class Symmetrised(torch.nn.Module):
        """What the flip test computes, written out: mean of the heatmaps and the mirrored crop's, mirrored back."""

        def forward(self, x):
            return 0.5 * (model(x) + model(x.flip(-1)).flip(-1))

    ds = HandDataset(load_freihand(mini_root, "evaluation"), HeatmapCodec((64, 64), (16, 16)), None, 1.25)
    flipped, _ = predict_dataset(model, ds, flip_test=True)
    plain, _ = predict_dataset(model, ds)
    expected, _ = predict_dataset(Symmetrised(), ds)
    assert np.allclose(flipped, expected, atol=1e-3)
    assert not np.allclose(flipped, plain, atol=1e-3)


def test_scales_average_crops_of_other_sizes(weights, mini_root, tmp_path, capsys):
    torch.manual_seed(2)
    model = build_model("resnet18").eval()
    ds = HandDataset(load_freihand(mini_root, "evaluation"), HeatmapCodec((64, 64), (16, 16)), None, 1.25)
    one, _ = predict_scales(model, ds, [1.0])
    assert np.array_equal(one, predict_dataset(model, ds)[0]) and ds.padding == 1.25
    small, big = (HandDataset(ds.records, ds.codec, None, p) for p in (1.25 * 0.9, 1.25 * 1.1))
    both, _ = predict_scales(model, ds, [0.9, 1.1])
    expected = 0.5 * (predict_dataset(model, small)[0] + predict_dataset(model, big)[0])
    assert np.allclose(both, expected, atol=1e-4) and not np.allclose(both, one, atol=1e-2)
    result = run_evaluate(weights, mini_root, tmp_path, "--scales", "0.92", "1", "1.08", "--grid", "0")
    assert result["scales"] == [0.92, 1.0, 1.08] and "scales 0.92 1 1.08" in capsys.readouterr().out
    assert cli(["evaluate", "--weights", str(weights), "--data", str(mini_root), "--scales", "0"]) == 2
    assert "--scales 0.0: scales must be positive" in capsys.readouterr().err


def test_errors_are_clear(weights, mini_root, tmp_path, capsys):
    assert cli(["evaluate", "--weights", str(tmp_path / "no.pt"), "--data", str(mini_root)]) == 2
    assert "no.pt: weights file not found" in capsys.readouterr().err
    assert cli(["evaluate", "--weights", str(weights), "--data", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err
    assert cli(["evaluate", "--weights", str(weights), "--data", str(tmp_path)]) == 2
    assert "not a FreiHAND-layout folder" in capsys.readouterr().err
    (tmp_path / "x.txt").write_text("hello")
    assert cli(["evaluate", "--weights", str(weights), "--data", str(tmp_path / "x.txt")]) == 2
    assert "COCO keypoints .json" in capsys.readouterr().err


def test_missing_default_weights_are_named_with_how_to_get_them(mini_root, tmp_path, monkeypatch, capsys):
    """No --weights and no bundled model (a checkout without it): the bundled file is pointed at a path that
    does not exist, so this runs whether or not the real one is there."""
    import handpose.weights

    assert DEFAULT_WEIGHTS.name == "default.safetensors"  # what the message below must name
    missing = tmp_path / "weights" / "default.safetensors"
    monkeypatch.setattr(handpose.weights, "DEFAULT_WEIGHTS", missing)
    assert cli(["evaluate", "--data", str(mini_root), "--out", str(tmp_path / "out")]) == 2  # an exit status, no exception
    err = capsys.readouterr().err
    assert err.startswith("handpose evaluate: error: no default weights at " + str(missing)), err
    assert "handpose train" in err and "--weights FILE" in err  # how to get some
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_missing_weights_exit_non_zero_without_a_traceback(mini_root, tmp_path):
    """The same from a shell: the process's exit status and its stderr, as a user sees them."""
    import subprocess
    import sys

    missing = tmp_path / "gone.safetensors"
    r = subprocess.run([sys.executable, "-m", "handpose.apps.cli", "evaluate", "--weights", str(missing), "--data",
                        str(mini_root)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"handpose evaluate: error: {missing}: weights file not found", r.stderr
