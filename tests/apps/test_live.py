import json
import os
import re
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from handpose.apps.cli import main as cli
from handpose.apps.sources import CameraSource
from handpose.apps.window import gui_problem, open_window
from handpose.data.synth.gestures import CANNED
from handpose.errors import HandposeError
from handpose.data.video import LabelledVideo, freihand_hands, mini_example_video, two_hand_video
from handpose.weights import DEFAULT_WEIGHTS
from tests.conftest import ROOT, untrained_release


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return untrained_release(tmp_path_factory.mktemp("model") / "m.safetensors", 128)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> LabelledVideo:
    return mini_example_video(tmp_path_factory.mktemp("video") / "v.mp4", size=(320, 180), fps=24.0,
                              still=5, move=6, gap=4)


def frame_count(path) -> tuple[int, float, tuple[int, int]]:
    cap = cv2.VideoCapture(str(path))
    fps, size = cap.get(cv2.CAP_PROP_FPS), (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    n = 0
    while cap.read()[0]:
        n += 1
    return n, fps, size


def test_headless_video_keeps_every_frame_and_writes_a_json_line_each(video, model, tmp_path, capsys):
    out, js = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    rc = cli(["live", "--source", str(video.path), "--weights", str(model), "--no-display",
              "--output", str(out), "--json", str(js), "--presence-threshold", "0", "--max-hands", "1"])
    assert rc == 0
    n_in, fps_in, size_in = frame_count(video.path)
    assert n_in == len(video.labels) == 20
    assert frame_count(out) == (n_in, fps_in, size_in)
    lines = [json.loads(l) for l in js.read_text().splitlines()]
    assert [l["frame"] for l in lines] == list(range(n_in))
    assert [l["time"] for l in lines] == pytest.approx([i / fps_in for i in range(n_in)], abs=1e-3)
    for l in lines:
        assert set(l) == {"frame", "time", "hands"}
        for h in l["hands"]:  # threshold 0: every frame has its hand
            assert len(h["keypoints"]) == 21 and all(len(k) == 3 for k in h["keypoints"])
            assert len(h["box"]) == 4 and 0 <= h["score"] <= 1.5
            assert h["gesture"] in CANNED and 0 <= h["gesture_score"] <= 1  # the bundled canned gestures
    assert all(len(l["hands"]) == 1 for l in lines)  # --max-hands 1 (threshold 0 would make a 2nd hand anywhere)
    summary = capsys.readouterr().out
    assert f"frames {n_in}, with a hand {n_in}" in summary and "mean FPS" in summary and "p99" in summary
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind


def test_frames_without_a_hand_are_written_too(video, model, tmp_path):
    js = tmp_path / "out.jsonl"
    # a threshold no score reaches: no hand anywhere, still one line per frame
    assert cli(["live", "--source", str(video.path), "--weights", str(model), "--no-display", "--json", str(js),
                "--presence-threshold", "5"]) == 0
    lines = [json.loads(l) for l in js.read_text().splitlines()]
    assert len(lines) == len(video.labels) and all(l["hands"] == [] for l in lines)


def test_no_camera_names_the_source_and_suggests_a_file(capsys):
    if cv2.VideoCapture(57).isOpened():
        pytest.skip("a camera answers at index 57")
    assert cli(["live", "--source", "57", "--no-display"]) == 2
    err = capsys.readouterr().err
    assert "camera 57" in err and "--source FILE" in err and "Traceback" not in err


def test_missing_video_file_is_named(tmp_path, capsys):
    assert cli(["live", "--source", str(tmp_path / "nope.mp4"), "--no-display"]) == 2
    assert "nope.mp4: video file not found" in capsys.readouterr().err


def test_a_negative_threshold_is_named(video, capsys):
    assert cli(["live", "--source", str(video.path), "--no-display", "--keep-threshold", "-0.1"]) == 2
    err = capsys.readouterr().err
    assert "--keep-threshold must be 0 or more, got -0.1" in err and "Traceback" not in err


def test_main_py_is_live_on_camera_zero():
    if cv2.VideoCapture(0).isOpened():
        pytest.skip("a camera is present: main.py would open it")
    r = subprocess.run([sys.executable, "main.py", "--no-display", "--max-frames", "1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "camera 0" in r.stderr and "--source FILE" in r.stderr


def test_main_py_help_lists_the_live_options():
    r = subprocess.run([sys.executable, "main.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    for option in ("-r {live,train}", "--source", "--gestures", "--max-hands", "--mirror", "--no-display"):
        assert option in r.stdout, option


@pytest.fixture(scope="module")
def virtual_display():
    """A display of our own (Xvfb, installed by .ci/run), as a desktop session has."""
    if shutil.which("Xvfb") is None:
        pytest.skip("needs Xvfb (apt-get install xvfb; .ci/run does)")
    number = 100 + os.getpid() % 500
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "800x600x24"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(50):
        if os.path.exists(f"/tmp/.X11-unix/X{number}"):
            break
        time.sleep(0.1)
    yield f":{number}"
    proc.terminate()
    proc.wait()


def test_the_installed_opencv_gets_a_window_on_a_desktop(video, model, virtual_display, monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", virtual_display)
    assert gui_problem() is None  # the headless OpenCV build has no window: Tk draws it
    window = open_window("test")
    try:
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:, :32] = (0, 0, 255)
        assert window.show(frame) == -1  # no key pressed
    finally:
        window.close()
    assert cli(["live", "--source", str(video.path), "--weights", str(model), "--max-frames", "4"]) == 0
    assert "frames 4" in capsys.readouterr().out


@pytest.mark.skipif(gui_problem() is None, reason="a window can be shown here")
def test_without_a_window_it_says_how_to_get_one_or_writes_the_outputs(video, model, tmp_path, capsys):
    assert cli(["live", "--source", str(video.path), "--weights", str(model)]) == 2
    assert "pip install opencv-python" in capsys.readouterr().err
    out = tmp_path / "o.mp4"
    assert cli(["live", "--source", str(video.path), "--weights", str(model), "--output", str(out), "--max-frames", "3"]) == 0
    assert "no window" in capsys.readouterr().err and frame_count(out)[0] == 3


def test_live_source_hands_over_the_newest_frame(video):
    """A slow reader of a live source skips the frames it had no time for instead of falling behind."""
    src = CameraSource(str(video.path))  # a file opened as a stream: frames arrive as fast as they decode
    try:
        first = src.read()
        time.sleep(0.3)  # slower than the whole clip takes to decode
        later = src.read()
        assert later is not None and later.index > first.index + 1  # the last frame stays until read
        assert src.dropped > 0
    finally:
        src.close()


@pytest.fixture(scope="module")
def two_hands(tmp_path_factory) -> LabelledVideo:
    # mini-example hands in a synthetic room: nothing from ../shared; 2 still + 3 moving + 2 + 3 + 2 frames
    return two_hand_video(tmp_path_factory.mktemp("two") / "two.mp4", size=(320, 180), still=2, move=3)


def test_two_hand_video_labels_two_separate_hands_on_every_frame(two_hands, tmp_path):
    v = LabelledVideo.load(two_hands.path)
    assert frame_count(v.path) == (12, 30.0, (320, 180)) and len(v.labels) == len(v.still) == 12
    assert v.max_hands == 2 and all(len(hands) == 2 for hands in v.labels)
    assert v.still == [True] * 2 + [False] * 3 + [True] * 2 + [False] * 3 + [True] * 2
    for right, left in v.labels:
        assert right.shape == left.shape == (21, 2)
        assert left[:, 0].max() < right[:, 0].min()  # side by side, never overlapping
        assert all((k >= 0).all() and (k < (320, 180)).all() for k in (right, left))  # in the frame
    assert not np.allclose(v.labels[0][0], v.labels[5][0], atol=1)  # it moves ...
    assert np.allclose(v.labels[5][0], v.labels[6][0]) and np.allclose(v.labels[5][1], v.labels[6][1])  # ... and holds

    # the same photo twice: the second is its mirror image (a left and a right hand), labels moved exactly alike
    r = freihand_hands(indices=[0])[0]
    same = two_hand_video(tmp_path / "same.mp4", [r, r], size=(320, 180), still=1, move=1)
    right, left = same.labels[0]
    assert np.allclose(left[:, 0], 320 - right[:, 0], atol=1e-3) and np.allclose(left[:, 1], right[:, 1], atol=1e-3)


def test_two_hand_video_names_user_mistakes(tmp_path):
    with pytest.raises(HandposeError, match="needs 2 hands, got 1"):
        two_hand_video(tmp_path / "x.mp4", freihand_hands(indices=[0]))
    with pytest.raises(HandposeError, match="no image \\[99\\]"):
        freihand_hands(indices=[0, 99])


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason=f"needs the bundled default weights ({DEFAULT_WEIGHTS})")
def test_live_reports_both_hands_of_the_two_hand_video_while_tracking(two_hands, tmp_path, capsys):
    js = tmp_path / "two.jsonl"
    # the bundled pose model and detector, as a user runs it (torch: no ONNX export to wait for)
    assert cli(["live", "--source", str(two_hands.path), "--no-display", "--json", str(js), "--backend", "torch",
                "--threads", "1"]) == 0
    lines = [json.loads(l) for l in js.read_text().splitlines()]
    both = 0
    for line, labels in zip(lines, two_hands.labels):
        centres = [np.asarray(h["box"][:2]) + np.asarray(h["box"][2:]) / 2 for h in line["hands"]]
        # each labelled hand has a reported box centred within half a hand of its own centre
        both += len(centres) == 2 and all(
            min(np.linalg.norm(c - (k.min(0) + k.max(0)) / 2) for c in centres) < 0.5 * np.ptp(k, axis=0).max() for k in labels)
    assert both >= 0.75 * len(lines)
    # tracked, not detected afresh: the detector runs on the first frame (and on a re-find), not on every one
    assert int(re.search(r"hand finder ran on (\d+)", capsys.readouterr().out)[1]) <= len(lines) / 4
