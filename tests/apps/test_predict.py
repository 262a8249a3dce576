"""`handpose predict`: JSON shape, drawn images, folders, unreadable files, options."""
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.apps.cli import main

from ..conftest import MINI, untrained_release

EVAL = MINI / "evaluation" / "rgb"


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return untrained_release(tmp_path_factory.mktemp("model") / "m.safetensors", 64)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the on-the-fly ONNX export lands here


def predict(*args) -> int:
    return main(["predict", *map(str, args)])


def test_folder_and_files_give_the_documented_json_and_drawn_images(weights, tmp_path, capsys):
    one = tmp_path / "one.png"
    cv2.imwrite(str(one), cv2.resize(cv2.imread(str(EVAL / "00000002.jpg")), (320, 240)))
    out_json, out_dir = tmp_path / "p.json", tmp_path / "vis"
    assert predict(EVAL, one, "--weights", weights, "--json", out_json, "--out", out_dir, "--backend", "torch",
                   "--box", "10,20,200,180") == 0
    data = json.loads(out_json.read_text())
    assert set(data) == {"model", "images"} and data["model"] == str(weights)
    assert [e["image"] for e in data["images"]] == [str(EVAL / n) for n in sorted(p.name for p in EVAL.iterdir())] + [str(one)]
    for e in data["images"]:
        assert set(e) == {"image", "width", "height", "hands"}
        assert len(e["hands"]) == 1  # a box was given: one hand each
        hand = e["hands"][0]
        assert set(hand) == {"keypoints", "score", "box", "handedness", "handedness_score", "gesture", "gesture_score"}
        assert np.array(hand["keypoints"]).shape == (21, 3) and len(hand["box"]) == 4
    assert (data["images"][-1]["width"], data["images"][-1]["height"]) == (320, 240)
    drawn = sorted(p.name for p in out_dir.iterdir())
    assert drawn == sorted([p.stem + ".jpg" for p in EVAL.iterdir()] + ["one.jpg"])
    assert cv2.imread(str(out_dir / "one.jpg")).shape == (240, 320, 3)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # atomic writes leave no temporaries
    assert "5 images" in capsys.readouterr().out


def test_unreadable_files_are_named_skipped_and_exit_1(weights, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(EVAL / "00000000.jpg", folder / "a.jpg")
    (folder / "b.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    out_json = tmp_path / "p.json"
    rc = predict(folder, tmp_path / "missing.png", "--weights", weights, "--json", out_json)
    assert rc == 1
    err = capsys.readouterr().err
    assert f"{folder / 'b.jpg'}: not a readable image (skipped)" in err
    assert f"{tmp_path / 'missing.png'}: no such file or folder (skipped)" in err
    assert [e["image"] for e in json.loads(out_json.read_text())["images"]] == [str(folder / "a.jpg")]


def test_no_readable_input_and_bad_options_are_user_errors(weights, tmp_path, capsys):
    assert predict(tmp_path / "nothing.jpg", "--weights", weights) == 2
    assert "no images to read" in capsys.readouterr().err
    for box in ("1,2,3", "a,b,c,d", "0,0,-5,10"):
        assert predict(EVAL, "--weights", weights, "--box", box) == 2
        assert "--box: expected X,Y,W,H" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert predict(EVAL, "--weights", weights, "--out", tmp_path / "file") == 2
    assert "not a folder" in capsys.readouterr().err
    assert predict(EVAL, "--weights", tmp_path / "none.safetensors") == 2
    assert "none.safetensors: weights file not found" in capsys.readouterr().err


def test_without_outputs_the_json_goes_to_stdout_and_backends_agree(weights, capsys):
    image = EVAL / "00000003.jpg"
    results = {}
    for backend in ("torch", "onnx"):
        assert predict(image, "--weights", weights, "--backend", backend, "--box", "30,30,190,190") == 0
        results[backend] = json.loads(capsys.readouterr().out)
    kt = np.array(results["torch"]["images"][0]["hands"][0]["keypoints"])
    ko = np.array(results["onnx"]["images"][0]["hands"][0]["keypoints"])
    assert np.abs(kt[:, :2] - ko[:, :2]).max() < 0.5


def test_hand_finding_without_a_box(weights, tmp_path):
    out_json = tmp_path / "p.json"
    assert predict(EVAL / "00000000.jpg", "--weights", weights, "--json", out_json, "--flip-test") == 0
    entry = json.loads(out_json.read_text())["images"][0]
    # An untrained model's peaks are near zero: below the presence threshold, so no made-up hand.
    assert entry["hands"] == [] and entry["width"] == 256


def test_flip_test_is_on_by_default_and_can_be_turned_off(capsys):
    # The bundled model on a mini-example photo with a given box: the default run is the --flip-test run,
    # and --no-flip-test gives other (unmirrored-only) keypoints for the same hand.
    image = EVAL / "00000000.jpg"
    runs = {}
    for name, extra in (("default", []), ("flip", ["--flip-test"]), ("plain", ["--no-flip-test"])):
        assert predict(image, "--box", "20,20,200,200", *extra) == 0
        runs[name] = np.array(json.loads(capsys.readouterr().out)["images"][0]["hands"][0]["keypoints"])[:, :2]
    np.testing.assert_allclose(runs["default"], runs["flip"])
    shift = np.linalg.norm(runs["default"] - runs["plain"], axis=1)
    assert 0 < shift.max() < 20
