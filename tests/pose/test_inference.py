"""The estimator: inputs of every kind, box mapping, hand finding, presence, errors."""
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from handpose.data.datasets import load_freihand, read_rgb
from handpose.errors import HandposeError
from handpose.pose.find_hand import find_hands, square_iou, windows
from handpose.pose.inference import Hand, PoseEstimator, to_rgb
from handpose.weights import DEFAULT_WEIGHTS

from ..conftest import MINI, untrained_release

# Accuracy tests use the bundled default model (HANDPOSE_TEST_WEIGHTS may point them at another one).
TRAINED = Path(os.environ.get("HANDPOSE_TEST_WEIGHTS") or DEFAULT_WEIGHTS)
need_trained = pytest.mark.skipif(not TRAINED.is_file(), reason=f"{TRAINED} not present (the bundled default model)")


def small_model(path: Path, size: int = 64) -> Path:
    """An untrained ResNet-18 release with a small input, so API tests run fast."""
    return untrained_release(path, size)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return small_model(tmp_path_factory.mktemp("model") / "m.safetensors")


@pytest.fixture(scope="module")
def est(weights) -> PoseEstimator:
    return PoseEstimator(weights, threads=1)


@pytest.fixture(scope="module")
def sample():
    rec = load_freihand(MINI, "evaluation", box="keypoints", padding=1.0)[0]
    return rec, read_rgb(rec.image)


def test_path_bgr_rgb_and_pil_inputs_give_the_same_hand(est, sample):
    rec, rgb = sample
    ref = est(rgb, box=rec.box)
    assert len(ref) == 1 and ref[0].keypoints.shape == (21, 2) and ref[0].scores.shape == (21,)
    for image, channels in ((str(rec.image), "rgb"), (rec.image, "rgb"), (rgb[..., ::-1].copy(), "bgr"),
                            (Image.fromarray(rgb), "rgb")):
        hand = est(image, box=rec.box, channels=channels)[0]
        np.testing.assert_allclose(hand.keypoints, ref[0].keypoints, atol=1e-3)
        np.testing.assert_allclose(hand.scores, ref[0].scores, rtol=1e-5, atol=0)
    # A BGR array read as RGB is a different image: the channel order is honoured.
    swapped = est(rgb[..., ::-1].copy(), box=rec.box)[0]
    assert not np.allclose(swapped.scores, ref[0].scores, rtol=1e-3, atol=0)


def test_a_crop_pasted_at_an_offset_gives_keypoints_shifted_by_that_offset(est, sample):
    rec, rgb = sample
    dx, dy = 131, 57
    canvas = np.zeros((400, 520, 3), np.uint8)  # black, as the crop's border fill
    canvas[dy : dy + 256, dx : dx + 256] = rgb
    here = est(rgb, box=rec.box)[0]
    there = est(canvas, box=rec.box + np.array([dx, dy, 0, 0], np.float32))[0]
    np.testing.assert_allclose(there.keypoints, here.keypoints + [dx, dy], atol=1e-3)
    np.testing.assert_allclose(there.box, here.box + [dx, dy, 0, 0], atol=1e-3)
    np.testing.assert_allclose(there.scores, here.scores, rtol=1e-5, atol=0)


def test_batched_estimates_equal_single_ones(est, sample):
    rec, rgb = sample
    other = read_rgb(MINI / "training" / "rgb" / "00000003.jpg")
    boxes = [rec.box, np.array([20, 30, 150, 170], np.float32)]
    batched = est.predict_many([rgb, other], boxes)
    for b, image, box in zip(batched, (rgb, other), boxes):
        np.testing.assert_allclose(b[0].keypoints, est(image, box=box)[0].keypoints, atol=1e-3)


def test_hand_json_shape(est, sample):
    rec, rgb = sample
    j = est(rgb, box=rec.box)[0].to_json()
    assert set(j) == {"keypoints", "score", "box", "handedness", "handedness_score", "gesture", "gesture_score"}
    assert j["handedness"] is None and j["handedness_score"] is None  # no handedness head: no guess
    assert j["gesture"] is None and j["gesture_score"] is None  # gestures are the pipeline's stage, not the estimator's
    assert len(j["keypoints"]) == 21 and all(len(k) == 3 for k in j["keypoints"]) and len(j["box"]) == 4


def test_finder_passes_are_batched_and_bounded(est, sample):
    _, rgb = sample
    stats = {}
    hands = find_hands(est, [rgb, rgb[:200, :150].copy()], 1, stats=stats)
    assert len(hands) == 2 and all(len(h) <= 1 for h in hands)
    # whole image + at most 2 re-crops each, + (only for images without a hand) windows and their re-crops
    assert 2 <= stats["forwards"] <= 2 * 3 + stats["searched"] * (len(windows(256, 256)) + 2)
    assert find_hands(est, [rgb], max_hands=0) == [[]]


def test_windows_cover_the_image():
    for w, h in ((640, 480), (256, 256), (300, 900)):
        ws = np.stack(windows(w, h))
        assert ws[:, 0].min() == 0 and ws[:, 1].min() == 0
        assert (ws[:, 0] + ws[:, 2]).max() >= w and (ws[:, 1] + ws[:, 3]).max() >= h
    assert square_iou(np.array([0, 0, 10, 10.0]), np.array([5, 0, 10, 10.0])) == pytest.approx(50 / 150)


def test_presence_threshold_decides_whether_a_hand_is_reported(weights, sample):
    _, rgb = sample
    always = PoseEstimator(weights, presence_threshold=-1.0)
    never = PoseEstimator(weights, presence_threshold=2.0)  # an untrained model's peaks are near zero
    assert len(always(rgb)) == 1 and isinstance(always(rgb)[0], Hand)
    assert never(rgb) == []


def test_user_errors_name_the_problem(est, tmp_path, weights):
    with pytest.raises(HandposeError, match="nothere.jpg: file not found"):
        est(tmp_path / "nothere.jpg")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"no pixels here")
    with pytest.raises(HandposeError, match="bad.png: not a readable image"):
        est(bad)
    with pytest.raises(HandposeError, match="expected an image array"):
        to_rgb(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(HandposeError, match="channels"):
        to_rgb(np.zeros((4, 4, 3), np.uint8), "bgra")
    with pytest.raises(HandposeError, match="unknown backend"):
        PoseEstimator(weights, backend="tensorrt")
    with pytest.raises(HandposeError, match="weights file not found"):
        PoseEstimator(tmp_path / "none.safetensors")


def test_grey_and_float_arrays_are_accepted(est, sample):
    rec, rgb = sample
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    assert len(est(grey, box=rec.box)) == 1
    assert len(est(rgb.astype(np.float32), box=rec.box)) == 1


@need_trained
def test_no_hand_in_a_hand_free_image():
    est = PoseEstimator(TRAINED)
    rng = np.random.default_rng(3)
    # A smooth colour field with a few shapes: a scene without a hand, at a photo's size.
    field = cv2.resize(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8), (640, 480), interpolation=cv2.INTER_CUBIC)
    cv2.rectangle(field, (60, 80), (300, 260), (40, 90, 200), -1)
    cv2.circle(field, (480, 300), 90, (220, 220, 60), -1)
    assert est(field) == []
    assert est(np.full((300, 400, 3), 128, np.uint8)) == []


@need_trained
def test_finder_agrees_with_the_tight_crop_on_mini_example():
    est = PoseEstimator(TRAINED)
    recs = load_freihand(MINI, "training", box="keypoints", padding=1.0, versions=1)
    images = [read_rgb(r.image) for r in recs]
    found = est.predict_many(images)
    tight = est.predict_many(images, [r.box for r in recs])
    assert sum(bool(h) for h in found) >= 0.75 * len(recs)
    errs = [np.linalg.norm(f[0].keypoints - t[0].keypoints, axis=1).mean() / max(r.box[2:])
            for f, t, r in zip(found, tight, recs) if f]
    # The bundled model is weak off its training people, so the finder's own crop moves its keypoints:
    # bench/find_hand.py measures 0.26 of the hand's size on 100 hgc_dev frames, and these 12 images give a
    # median of 0.27 with the 160 px first pass (0.18 with a 224 px one). A finder that lost the hand is ~1.
    assert np.median(errs) < 0.35


@need_trained
def test_int8_backend_agrees_with_pytorch(tmp_path, monkeypatch):
    # A fresh cache: the int8 file is made here (export, then calibration on the mini-example).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    recs = load_freihand(MINI, "training", box="keypoints", padding=1.0, versions=1)
    images, boxes = [read_rgb(r.image) for r in recs], [r.box for r in recs]
    fp32 = PoseEstimator(TRAINED, backend="torch").predict_many(images, boxes)
    int8 = PoseEstimator(TRAINED, backend="onnx-int8", threads=1)
    cache = tmp_path / "handpose" / "onnx"
    # The int8 file exists; the float graph it was quantised from (head as sub-pixel convolutions) is gone.
    assert [p.name.endswith("-int8-subpixel.onnx") for p in cache.iterdir()] == [True]
    diffs = [np.linalg.norm(a[0].keypoints - b[0].keypoints, axis=1) / max(r.box[2:])
             for a, b, r in zip(fp32, int8.predict_many(images, boxes), recs)]
    # Quantisation may move a low-confidence joint to another peak; most joints stay within 2% of the hand.
    assert np.median(np.concatenate(diffs)) < 0.02


@need_trained
def test_a_hand_turned_upside_down_is_found_as_well_through_its_upright_roi():
    # The bundled model saw hands in their photos' own orientation: a mini-example photo turned 180 degrees,
    # cropped upright from its labels, gives the keypoints of the photo itself, turned (the crop's pixels are the
    # same up to resampling); the plain box of the turned photo shows the model an upside-down hand.
    from handpose.data.transforms import keypoints_box, upright_roi

    est = PoseEstimator(TRAINED)
    recs = load_freihand(MINI, "training", box="keypoints", padding=1.0, versions=1)
    upright_err, plain_err = [], []
    for r in recs:
        image = read_rgb(r.image)
        h, w = image.shape[:2]
        turned = np.ascontiguousarray(image[::-1, ::-1])
        truth = np.array([w - 1, h - 1]) - r.keypoints
        own = est.estimate(image, [upright_roi(r.keypoints)])[0].keypoints
        via_roi = est.estimate(turned, [upright_roi(truth)])[0].keypoints
        plain = est.estimate(turned, [keypoints_box(truth)])[0].keypoints
        size = max(r.box[2:])
        assert np.median(np.linalg.norm(via_roi - (np.array([w - 1, h - 1]) - own), axis=1)) < 0.02 * size
        upright_err.append(np.linalg.norm(via_roi - truth, axis=1).mean() / size)
        plain_err.append(np.linalg.norm(plain - truth, axis=1).mean() / size)
    assert np.median(upright_err) < np.median(plain_err)
