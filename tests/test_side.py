"""Left or right from the palm-side classifier and the keypoints' turning sense (handpose/side): the geometry on
hand-made keypoints, flip consistency through a real (untrained) classifier, the pipeline and tracker wiring,
and a tiny `handpose train-side` run on a COCO file made from the mini-example."""
import json

import numpy as np
import pytest
import torch

from handpose.apps.cli import main
from handpose.data.datasets import load_coco, load_freihand, read_rgb
from handpose.data.transforms import keypoints_box
from handpose.errors import HandposeError
from handpose.pipeline import HandPipeline
from handpose.pose.inference import Hand, PoseEstimator
from handpose.side import SideClassifier, chirality, right_logit
from handpose.side.infer import side_info
from handpose.side.model import PalmNet
from handpose.side.train import palm_labels, sampling_weights
from handpose.tracking import SIDE_EVERY, SIDE_WARMUP, HandTracker
from handpose.weights import save_release

from .conftest import MINI, untrained_release
from .test_handedness_training import write_coco
from .test_pipeline import FakeDetector, release


def upright_hand() -> np.ndarray:
    """A spread hand, fingers up, wrist at (100, 180), thumb and index knuckle on the image's right of the little
    finger's: a person's right hand facing the camera with its palm."""
    k = np.zeros((21, 2))
    k[0] = (100, 180)
    for finger, x in zip(range(5), (140, 120, 100, 85, 70)):
        for j in range(4):
            k[1 + 4 * finger + j] = (x, 140 - 20 * j)
    return k


def mirror(k: np.ndarray, width: int) -> np.ndarray:
    return np.stack([width - 1 - k[:, 0], k[:, 1]], 1)


def test_mirroring_the_keypoints_turns_them_the_other_way_and_flips_the_side():
    k = upright_hand()
    c = chirality(k)
    assert c < -0.3  # wrist->index turns counter-clockwise on screen into wrist->little
    assert chirality(mirror(k, 200)) == pytest.approx(-c)
    assert right_logit(4.0, k) > 3.9  # palm side and this turn: the person's right hand (infer.py)
    assert right_logit(-4.0, k) < -3.9  # the same outline seen from the back: a left hand
    assert right_logit(4.0, mirror(k, 200)) == pytest.approx(-right_logit(4.0, k))


def test_a_hand_seen_edge_on_is_left_unsure():
    k = upright_hand()
    k[17] = k[0] + 1.001 * (k[5] - k[0])  # little knuckle on the wrist->index line: no turning sense
    assert abs(float(right_logit(6.0, k))) < 0.1


def test_the_pose_heads_answer_decides_only_what_the_turn_cannot():
    edge_on = upright_hand()
    edge_on[17] = edge_on[0] + 1.001 * (edge_on[5] - edge_on[0])
    assert float(right_logit(6.0, edge_on, direct_logit=-3.0)) < -2.9  # edge-on: the head's "left" decides
    assert float(right_logit(-6.0, edge_on, direct_logit=3.0)) > 2.9
    square_on = upright_hand()
    assert float(right_logit(4.0, square_on, direct_logit=-3.0)) == pytest.approx(float(right_logit(4.0, square_on)), abs=1e-3)


def test_the_classifier_uses_the_side_a_hand_arrives_with(tmp_path):
    path = tmp_path / "side.safetensors"
    save_release(PalmNet(), side_info(64, 1.25), path)
    classifier = SideClassifier(path)
    image = np.full((200, 200, 3), 120, np.uint8)
    edge_on = upright_hand()
    edge_on[17] = edge_on[0] + 1.001 * (edge_on[5] - edge_on[0])
    sides = []
    for arrives_as in ("left", "right"):
        hand = Hand(edge_on.astype(np.float32), np.ones(21, np.float32), 1.0, keypoints_box(edge_on), arrives_as, 0.99)
        classifier.label(image, [hand])
        sides.append((hand.handedness, hand.handedness_score))
    assert [s for s, _ in sides] == ["left", "right"] and min(p for _, p in sides) > 0.9
    unsided = Hand(edge_on.astype(np.float32), np.ones(21, np.float32), 1.0, keypoints_box(edge_on))
    classifier.label(image, [unsided])  # no head answer: an edge-on hand stays unsure
    assert unsided.handedness_score < 0.6


def test_the_teachers_left_right_and_turn_give_the_palm_side(tmp_path):
    records, palm, right = palm_labels(load_coco(write_coco(tmp_path)))
    assert len(records) == 12 and set(right) == {0.0, 1.0}
    turn = chirality(np.stack([r.keypoints for r in records]))
    assert np.all((palm == 1) == ((right == 1) == (turn < 0)))


def side_release(tmp_path, size: int = 64) -> str:
    torch.manual_seed(0)
    path = tmp_path / "side.safetensors"
    save_release(PalmNet(), side_info(size, 1.25), path)
    return str(path)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_mirrored_photo_gets_the_other_side_with_the_same_confidence(tmp_path, backend, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    record = load_freihand(MINI, "training")[0]
    image = read_rgb(record.image)
    est = PoseEstimator(untrained_release(tmp_path / "pose.safetensors", 64))
    side = SideClassifier(side_release(tmp_path), backend=backend, flip_test=True)
    hand = est.estimate(image, [record.box])[0]
    hand.keypoints = record.keypoints.astype(np.float64)  # the hand-made keypoints: a clear turning sense
    flipped = est.estimate(np.ascontiguousarray(image[:, ::-1]), [record.box])[0]
    flipped.keypoints = mirror(record.keypoints, image.shape[1])
    flipped.box = np.array([image.shape[1] - record.box[0] - record.box[2], *record.box[1:]], np.float32)
    side.label(image, [hand])
    side.label(np.ascontiguousarray(image[:, ::-1]), [flipped])
    assert {hand.handedness, flipped.handedness} == {"left", "right"}
    assert hand.handedness_score == pytest.approx(flipped.handedness_score, abs=1e-3)


def test_the_pipeline_and_the_tracker_ask_the_classifier(tmp_path):
    record = load_freihand(MINI, "training")[0]
    image = read_rgb(record.image)
    est = PoseEstimator(release(tmp_path / "pose.safetensors", head=False), presence_threshold=0.0)
    assert not est.has_handedness  # so any side below comes from the classifier
    side = SideClassifier(side_release(tmp_path))
    asked = []
    real = side.label_many
    side.label_many = lambda jobs: (asked.append(len(jobs)), real(jobs))[1]
    pipe = HandPipeline(est, FakeDetector([record.box]), max_hands=1, refine=0, detection_scale=1.0, side=side)
    hands = pipe(image)
    assert hands and hands[0].handedness in ("left", "right") and 0.5 <= hands[0].handedness_score <= 1
    assert asked == [1]
    tracker = HandTracker(pipe, max_hands=1)
    asked.clear()
    frames = SIDE_WARMUP + 2 * SIDE_EVERY
    for t in range(frames):
        tracks = tracker.update(image, t / 30)
        assert tracks and tracks[0].handedness[0] in ("left", "right")
    # a track is asked on its first SIDE_WARMUP frames and every SIDE_EVERY-th after, not on every frame
    assert 0 < sum(asked) < frames
    no_side = HandPipeline(est, FakeDetector([record.box]), max_hands=1, refine=0, side=None)
    assert no_side(image)[0].handedness is None


def test_sampling_draws_palms_and_backs_equally_and_edge_on_hands_less():
    from types import SimpleNamespace

    square_on, edge_on = upright_hand(), upright_hand()
    edge_on[17] = edge_on[0] + 1.05 * (edge_on[5] - edge_on[0])  # nearly no turning sense: an unsure palm label
    records = [SimpleNamespace(keypoints=k) for k in (square_on, square_on, square_on, edge_on, square_on)]
    palm = np.array([1, 1, 1, 1, 0], np.float32)
    plain = sampling_weights(records, palm, balance=False, edge_on=False)
    assert plain == pytest.approx(np.full(5, 0.2))
    balanced = sampling_weights(records, palm, balance=True, edge_on=False)
    assert balanced.sum() == pytest.approx(1) and balanced[palm == 0].sum() == pytest.approx(0.5)
    both = sampling_weights(records, palm, balance=True, edge_on=True)
    assert both[palm == 0].sum() == pytest.approx(0.5)
    assert both[3] < 0.1 * both[0]  # the edge-on palm is drawn far less than a square-on one


def test_train_side_writes_a_release_the_classifier_loads(tmp_path, capsys):
    coco = write_coco(tmp_path)
    out = tmp_path / "run" / "side.safetensors"
    rc = main(["train-side", "--data", coco, "--exclude-sources", "--check", coco, "--backbone-weights", "none",
               "--out", str(out), "--steps", "2", "--batch", "4", "--size", "64", "--balance", "--edge-on"])
    assert rc == 0
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["metrics"]["balance"] and info["metrics"]["edge_on"]
    assert info["kind"] == "palm-side" and info["input_size"] == 64 and info["metrics"]["check_n"] == 12
    assert 0 <= info["metrics"]["check_side_acc"] <= 1
    assert SideClassifier(out).palm_logits([(np.zeros((100, 100, 3), np.uint8), np.array([10, 10, 50, 50]))]).shape == (1,)


def test_train_side_mixes_several_data_files(tmp_path, capsys):
    first = write_coco(tmp_path)
    (tmp_path / "b").mkdir()
    second = write_coco(tmp_path / "b")
    out = tmp_path / "mix.safetensors"
    rc = main(["train-side", "--data", first, second, "--exclude-sources", "--check", "none", "--backbone-weights",
               "none", "--out", str(out), "--steps", "1", "--batch", "2", "--size", "64"])
    assert rc == 0
    metrics = json.loads(out.with_suffix(".json").read_text())["metrics"]
    assert metrics["train_hands"] == 24 and metrics["data"] == [first, second]  # both files' 12 hands
    assert main(["train-side", "--data", first, str(tmp_path / "gone.json"), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "--data " + str(tmp_path / "gone.json") + ": file not found" in capsys.readouterr().err


def test_train_side_refuses_bad_arguments(tmp_path, capsys):
    assert main(["train-side", "--out", str(tmp_path / "x.pt")]) == 2
    assert "must end in .safetensors" in capsys.readouterr().err
    assert main(["train-side", "--out", str(tmp_path / "x.safetensors"), "--data", str(tmp_path / "none.json")]) == 2
    assert "none.json: file not found" in capsys.readouterr().err
    coco = write_coco(tmp_path)  # a wrong --check or held-out source is refused before training, not after it
    assert main(["train-side", "--out", str(tmp_path / "x.safetensors"), "--data", coco, "--exclude-sources",
                 "--check", str(tmp_path / "gone.json"), "--backbone-weights", "none"]) == 2
    err = capsys.readouterr().err
    assert "gone.json: file not found" in err and "training hands" not in err  # nothing was trained
    assert main(["train-side", "--out", str(tmp_path / "x.safetensors"), "--data", coco, "--exclude-sources", "palms",
                 "--check", "none", "--backbone-weights", "none"]) == 2
    assert "--exclude-sources palms: no hand" in capsys.readouterr().err
    assert main(["train-side", "--out", str(tmp_path / "x.safetensors"), "--data", coco, "--exclude-sources",
                 "--check", "none", "--init", str(tmp_path / "gone.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "gone.safetensors: palm-side classifier weights not found" in err and "training hands" not in err
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(HandposeError, match="kind"):
        save_release(PalmNet(), {"kind": "other", "input_size": 64, "padding": 1.25}, tmp_path / "o.safetensors")
        SideClassifier(tmp_path / "o.safetensors")
