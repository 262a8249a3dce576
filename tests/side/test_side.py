"""Left or right from the palm-side classifier and the keypoints' turning sense (handpose/side): the geometry on
hand-made keypoints, flip consistency through a real (untrained) classifier, the pipeline and tracker wiring,
and a tiny `handpose train-side` run on a COCO file made from the mini-example."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose.apps.cli import main
from handpose.data.datasets import HandRecord, load_freihand, read_rgb
from handpose.data.transforms import keypoints_box
from handpose.errors import HandposeError
from handpose.pipeline import HandPipeline
from handpose.pose.inference import Hand, PoseEstimator
from handpose.side import SideClassifier, chirality, right_logit
from handpose.side.infer import DEFAULT_SIDE, side_info
from handpose.side.model import PalmNet
from handpose.train.side import palm_labels, sampling_weights
from handpose.tracking import SIDE_EVERY, SIDE_WARMUP, HandTracker
from handpose.release import save_release

from ..conftest import MINI, untrained_release
from ..train.test_handedness_training import write_coco, write_cue_coco
from ..test_pipeline import FakeDetector, release


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


def hand_3d(side: str) -> np.ndarray:
    """A person's hand in 3D, in the person's own frame: X to the person's right, Y up, Z forward (away from the
    person, towards a camera that faces them). Held up, fingers along +Y, palm facing +Z (forward). For the right
    hand the thumb is then on the person's left (-X, towards the body's midline: a raised right hand taking an
    oath) and the fingers curl a little towards the palm (+Z). The left hand is its mirror image in the
    person's midline plane (X -> -X): thumb on +X, palm still facing +Z."""
    k = np.zeros((21, 3))
    thumb = [(-0.25, 0.15, 0.05), (-0.45, 0.3, 0.1), (-0.6, 0.45, 0.15), (-0.7, 0.6, 0.2)]
    k[1:5] = thumb
    for finger, x in enumerate((-0.25, -0.08, 0.08, 0.22)):  # index, middle, ring, little knuckles
        for j in range(4):
            k[5 + 4 * finger + j] = (x * (1 - 0.05 * j), 0.8 + 0.3 * j, 0.08 * j * j)  # curled towards the palm
    if side == "left":
        k[:, 0] *= -1
    return k


def photo(k3: np.ndarray, rotation: np.ndarray | None = None, scale: float = 100.0, at=(160.0, 200.0)) -> np.ndarray:
    """(21, 3) -> (21, 2): the hand turned by ``rotation`` about its wrist, in an un-mirrored photo taken by a
    camera facing the person (orthographic): the person's right (+X) is the image's left, up (+Y) is image -y."""
    k = k3 if rotation is None else k3 @ rotation.T
    return np.stack([at[0] - scale * k[:, 0], at[1] - scale * k[:, 1]], 1)


TURN_AWAY = np.diag([-1.0, 1.0, -1.0])  # half a turn about the vertical axis: the palm faces the person, not the camera


def palm_label_of(side: str, k2: np.ndarray) -> float:
    records, palm, right = palm_labels([HandRecord(Path("x.jpg"), k2.astype(np.float32), np.ones(21, np.float32),
                                                   keypoints_box(k2), {"hand": side})])
    assert len(records) == 1 and right[0] == (side == "right")
    return float(palm[0])


def test_palm_labels_follow_from_the_hands_geometry():
    """The four cases, built in 3D and photographed: palm_labels must call the view the camera actually has."""
    right_palm = photo(hand_3d("right"))
    # sanity of the construction: a right palm facing the camera has its thumb on the image's right
    assert right_palm[4, 0] > right_palm[20, 0]
    cases = {("right", "palm"): right_palm, ("right", "back"): photo(hand_3d("right"), TURN_AWAY),
             ("left", "palm"): photo(hand_3d("left")), ("left", "back"): photo(hand_3d("left"), TURN_AWAY)}
    for (side, view), k2 in cases.items():
        assert palm_label_of(side, k2) == (view == "palm"), (side, view)
        # and inference reads the same convention back: a sure palm/back answer plus these keypoints -> the side
        palm_logit = 4.0 if view == "palm" else -4.0
        assert (float(right_logit(palm_logit, k2)) > 3.0) == (side == "right"), (side, view)
        assert abs(float(right_logit(palm_logit, k2))) > 3.0
    # A left palm and a right back show the same outline (mirror images of each other's other view) ...
    np.testing.assert_allclose(cases["left", "palm"], mirror(cases["right", "palm"], 2 * 160 + 1))
    np.testing.assert_allclose(cases["right", "back"], cases["left", "palm"])
    # ... so only the teacher's side tells palm from back: the same keypoints, the other side, the other view.
    assert palm_label_of("left", cases["right", "back"]) == 1.0 and palm_label_of("right", cases["left", "palm"]) == 0.0


def test_palm_labels_match_where_the_palm_faces_for_any_pose():
    """Random 3D orientations of both hands: the label is 1 exactly when the palm's normal (+Z in the hand's own
    pose) points at the camera; hands within ~12 degrees of edge-on are left out (their outline barely turns)."""
    rotations = []
    for m in np.random.default_rng(0).normal(size=(200, 3, 3)):
        q, r = np.linalg.qr(m)
        q = q * np.sign(np.diag(r))  # a uniformly random rotation (or reflection) ...
        rotations.append(q if np.linalg.det(q) > 0 else -q)  # ... made a proper rotation: a real hand's turn
    checked = 0
    for side in ("right", "left"):
        for rot in rotations:
            towards_camera = (rot @ np.array([0.0, 0.0, 1.0]))[2]
            if abs(towards_camera) < 0.2:
                continue
            assert palm_label_of(side, photo(hand_3d(side), rot)) == (towards_camera > 0), (side, rot)
            checked += 1
    assert checked > 300


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
    pipe = HandPipeline(est, FakeDetector([record.box]), max_hands=1, recrops=0, detection_scale=1.0, side=side)
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
    no_side = HandPipeline(est, FakeDetector([record.box]), max_hands=1, recrops=0, side=None)
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


@pytest.mark.skipif(not DEFAULT_SIDE.is_file(), reason="no bundled palm-side classifier to start from")
def test_train_side_writes_a_release_the_classifier_loads(tmp_path, capsys):
    # Learnable labels: every other hand is a back view, and its photo is darkened (a cue the encoder sees
    # at once); each hand's left/right label is the one that, with its keypoints' turning sense, makes that
    # view (infer.py's convention). Palms and backs 6 and 6: any constant answer scores 50 % on both checks.
    # A MobileNetV2 from scratch does not learn in seconds, so the run starts from the bundled classifier.
    records = load_freihand(MINI, "training")
    back = [i % 2 == 1 for i in range(len(records))]
    turn = chirality(np.stack([r.keypoints for r in records]))
    hands = ["right" if (not b) == (t < 0) else "left" for b, t in zip(back, turn)]
    coco = write_cue_coco(tmp_path, hands, back)
    out = tmp_path / "run" / "side.safetensors"
    rc = main(["train-side", "--data", coco, "--exclude-sources", "--check", coco, "--init", str(DEFAULT_SIDE),
               "--out", str(out), "--steps", "24", "--batch", "8", "--size", "64", "--balance", "--edge-on"])
    assert rc == 0
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["metrics"]["balance"] and info["metrics"]["edge_on"]
    assert info["kind"] == "palm-side" and info["input_size"] == 64 and info["metrics"]["check_n"] == 12
    # the check's hands are the training hands: a classifier that learnt palm vs back from the labels gets
    # (nearly) all of them, and with the turning sense the left/right of (nearly) all
    assert info["metrics"]["check_palm_acc"] >= 11 / 12, info["metrics"]
    assert info["metrics"]["check_side_acc"] >= 11 / 12, info["metrics"]
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
