"""The multi-hand pipeline (pipeline.py), handedness (model head, handedness.py, releases, ONNX) and tracking
with a detector. Two mini-example photos side by side make a two-hand image; an injected detector gives
boxes we know (their keypoint boxes), so nothing here depends on detector weights."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from handpose import pipeline as pipeline_module
from handpose.apps.cli import main
from handpose.data.datasets import load_freihand, read_rgb
from handpose.errors import HandposeError
from handpose.pose.handedness import attach_head, extract, fit_logistic, label_of, logits_of
from handpose.pose.inference import Hand, PoseEstimator
from handpose.pipeline import HandPipeline, box_iou, grow, load_detector
from handpose.apps.predict import predict_files
from handpose.tracking import HandTracker
from handpose.data.transforms import box_to_center_size
from handpose.weights import load_model

from .conftest import MINI, untrained_release

INFO = dict(arch="resnet18", num_joints=21, input_size=64, sigma=2.0, padding=1.25, metrics={})


@dataclass
class Det:
    box: np.ndarray
    score: float


class FakeDetector:
    """Known boxes, counted calls: ``boxes`` is a list of boxes or a callable giving them."""

    def __init__(self, boxes):
        self.boxes, self.calls = boxes, 0

    def __call__(self, image_rgb):
        self.calls += 1
        boxes = self.boxes() if callable(self.boxes) else self.boxes
        return [Det(np.asarray(b, np.float32), 0.9 - 0.1 * i) for i, b in enumerate(boxes)]


def release(path: Path, head: bool, seed: int = 0) -> Path:
    """Well-defined peaks and, with ``head``, a left/right head that says something (an untrained one says ~0.5)."""
    return untrained_release(path, INFO["input_size"], seed, peaks=True, handedness=head)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    return release(tmp_path_factory.mktemp("plain") / "m.safetensors", head=False)


@pytest.fixture(scope="module")
def with_head(tmp_path_factory) -> Path:
    return release(tmp_path_factory.mktemp("head") / "m.safetensors", head=True)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # These tests are about the pose model's own left/right head: no bundled palm-side classifier (test_side.py)
    monkeypatch.setattr("handpose.side.infer.DEFAULT_SIDE", tmp_path / "no-side.safetensors")


@pytest.fixture(scope="module")
def two_hands() -> tuple[np.ndarray, list[np.ndarray]]:
    """Two mini-example photos side by side (256 x 512) and their hands' keypoint boxes in it."""
    recs = load_freihand(MINI, "training", box="keypoints", padding=1.0, versions=1)[:2]
    image = np.concatenate([read_rgb(r.image) for r in recs], axis=1)
    boxes = [recs[0].box.copy(), recs[1].box + np.array([256, 0, 0, 0], np.float32)]
    return np.ascontiguousarray(image), boxes


def inside_crop(keypoints: np.ndarray, box, padding: float) -> bool:
    center, side = box_to_center_size(box, padding)
    return bool((np.abs(keypoints - center) <= side / 2 + 1).all())


# -- photos ------------------------------------------------------------------------------------------------
def test_two_hands_from_an_injected_detector_in_one_batch(plain, with_head, two_hands, tmp_path):
    image, boxes = two_hands
    path = tmp_path / "two.png"
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    for weights in (plain, with_head):
        est = PoseEstimator(weights, presence_threshold=0.0)
        batches = []
        run = est.estimate_crops_all
        est.estimate_crops_all = lambda crops, flip=None: batches.append(len(crops)) or run(crops, flip)
        # the second detection is the first one again, slightly shifted: a duplicate, not a third hand
        det = FakeDetector([boxes[0], boxes[0] + [3, 2, 0, 0], boxes[1]])
        # recrops=0: the crops of the detections themselves (re-crops from the keypoints, below)
        pipe = HandPipeline(est, det, max_hands=2, recrops=0)
        pipe.photo_fallback = False  # an untrained model's hands score low: the finder would be asked too
        (entry,), errors = predict_files(pipe, [str(path)])
        assert errors == [] and det.calls == 1 and batches == [2]  # both hands' crops in one pose batch
        hands = entry["hands"]
        assert (entry["width"], entry["height"]) == (512, 256) and len(hands) == 2
        # every hand is mapped back into its own detection's crop, and equals the estimate of that box alone
        for box in boxes:  # the first crop is the detection grown by detection_scale
            (alone,) = est.estimate(image, [grow(box, pipe.detection_scale)])
            match = [h for h in hands if np.allclose(np.array(h["keypoints"])[:, :2], alone.keypoints, atol=0.02)]
            assert len(match) == 1 and inside_crop(alone.keypoints, grow(box, pipe.detection_scale), est.padding)
            assert match[0]["handedness"] == alone.handedness
        for h in hands:
            assert set(h) == {"keypoints", "score", "box", "handedness", "handedness_score", "gesture", "gesture_score"}
            assert h["gesture"] in pipe.gestures.classes  # the bundled canned classifier names every hand
            if weights == plain:  # no head: no guess
                assert h["handedness"] is None and h["handedness_score"] is None
            else:
                assert h["handedness"] in ("left", "right") and 0.5 <= h["handedness_score"] <= 1.0
        # max_hands caps what is reported
        assert len(pipe(image, max_hands=1)) == 1
        batches.clear()
        refiner = HandPipeline(est, FakeDetector(boxes), max_hands=2, recrops=2)
        refiner.photo_fallback = False
        refined = refiner(image)
        assert batches == [2, 2, 2] and len(refined) == 2  # each re-crop pass is one batch for both hands


def test_the_flip_test_is_paid_on_the_re_crop_only(plain, two_hands):
    """The pass from the detection only places the re-crop: by default it runs without the mirrored crops, and
    the re-crop, whose keypoints are the answer, with them; with no re-crop the first pass keeps its flip test."""
    image, boxes = two_hands
    est = PoseEstimator(plain, presence_threshold=0.0, flip_test=True)
    sizes = []
    run = est.backend.run_all
    est.backend.run_all = lambda crops: sizes.append(len(crops)) or run(crops)
    pipe = HandPipeline(est, FakeDetector(boxes), max_hands=2, recrops=1)
    pipe.photo_fallback = False
    assert len(pipe(image)) == 2 and sizes == [2, 4]  # 2 crops, then 2 re-crops and their mirror images
    sizes.clear()
    pipe.flip_first = True
    assert len(pipe(image)) == 2 and sizes == [4, 4]
    sizes.clear()
    pipe.flip_first, pipe.recrops = False, 0
    assert len(pipe(image)) == 2 and sizes == [4]


def test_a_weak_detection_on_a_photo_asks_the_finder_too(plain, two_hands):
    image, boxes = two_hands
    est = PoseEstimator(plain, presence_threshold=0.0)
    pipe = HandPipeline(est, FakeDetector(boxes[:1]), max_hands=2, recrops=0)
    (detected,) = pipe(image, max_hands=1)
    found = Hand(keypoints=detected.keypoints + [256, 0], scores=detected.scores, score=detected.score + 1.0,
                 box=detected.box + np.array([256, 0, 0, 0], np.float32))
    calls = []
    pipe._find = lambda images, known, want: calls.append(len(images)) or [[found] for _ in images]
    pipe.fallback_score = detected.score - 0.01  # the detection is good enough: the finder is not asked
    assert len(pipe(image)) == 1 and calls == []
    pipe.fallback_score = detected.score + 0.01  # now it is weak: both are kept, the better first
    hands = pipe(image)
    assert calls == [1] and [h.score for h in hands] == [found.score, detected.score]
    assert len(pipe(image, max_hands=1)) == 1 and pipe(image, max_hands=1)[0].score == found.score
    same = replace(found, box=detected.box, score=detected.score + 1.0)  # the same hand found twice: kept once
    pipe._find = lambda images, known, want: [[same] for _ in images]
    assert [h.score for h in pipe(image)] == [same.score]
    pipe.fallback_score, pipe.photo_fallback = 10.0, False  # photo_fallback off: never
    calls.clear()
    pipe._find = lambda images, known, want: calls.append(len(images)) or [[found] for _ in images]
    assert len(pipe(image)) == 1 and calls == []


def test_cli_without_detector_weights_falls_back_and_says_so_once(plain, two_hands, tmp_path, capsys, monkeypatch):
    import handpose.detect

    class NoWeights:
        def __init__(self, weights=None, backend="torch", threads=None):
            raise HandposeError("detector.safetensors: detector weights file not found")

    monkeypatch.setattr(handpose.detect, "HandDetector", NoWeights)
    monkeypatch.setattr(pipeline_module, "_said", set())
    image, _ = two_hands
    path, out = tmp_path / "two.png", tmp_path / "p.json"
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    for _ in range(2):
        assert main(["predict", str(path), str(path), "--weights", str(plain), "--backend", "torch",
                     "--max-hands", "2", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("no hand detector (detector.safetensors: detector weights file not found)") == 1
    data = json.loads(out.read_text())
    assert len(data["images"]) == 2
    for e in data["images"]:
        assert len(e["hands"]) <= 2 and all(h["handedness"] is None for h in e["hands"])
    assert main(["predict", str(path), "--weights", str(plain), "--max-hands", "0"]) == 2
    assert "--max-hands must be at least 1" in capsys.readouterr().err


def test_detector_weights_named_but_missing_is_an_error_and_no_package_falls_back(tmp_path, monkeypatch):
    with pytest.raises(HandposeError, match="nope.safetensors"):
        load_detector(tmp_path / "nope.safetensors")
    monkeypatch.setitem(sys.modules, "handpose.detect", None)  # as if the detector package were not installed
    monkeypatch.setattr(pipeline_module, "_said", set())
    assert load_detector() is None and any("no handpose.detect" in m for m in pipeline_module._said)


def test_fallback_finder_masks_the_first_hand_to_find_a_second(plain, two_hands):
    image, _ = two_hands
    est = PoseEstimator(plain, presence_threshold=0.0)
    hands = HandPipeline(est, detector=None, max_hands=2)(image)
    assert len(hands) == 2 and box_iou(hands[0].box, hands[1].box) <= 0.4


# -- handedness ----------------------------------------------------------------------------------------------
def test_flip_test_makes_handedness_exactly_flip_equivariant(with_head, two_hands):
    image, boxes = two_hands
    est = PoseEstimator(with_head, flip_test=True)
    crops = np.stack([est.crop(image, b)[0] for b in boxes])
    _, _, p = est.estimate_crops_all(crops)
    _, _, p_mirrored = est.estimate_crops_all(np.ascontiguousarray(crops[..., ::-1]))
    np.testing.assert_allclose(p + p_mirrored, 1.0, atol=1e-6)
    assert np.abs(p - 0.5).max() > 0.01  # the head does say something


def test_a_head_trained_on_a_few_crops_and_their_mirrors_flips_with_the_image(plain):
    model, info = load_model(plain)
    recs = load_freihand(MINI, "training", box="keypoints", padding=1.0, versions=1)[:8]
    labels = np.ones(len(recs), np.float32)  # any consistent side: its mirror is the other one
    x, y, orig = extract(model, info, recs, labels, batch=4, progress=False)
    assert orig.sum() == len(recs) and (y[orig] == 1).all() and (y[~orig] == 0).all()
    w, b = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-logits_of(w, b, x)))
    assert ((p > 0.5) == (y > 0.5)).all()
    np.testing.assert_allclose(p[orig] + p[~orig], 1.0, atol=0.05)
    # the head on the model gives the same numbers as the fit on cached features, heatmaps unchanged
    before = model(torch.zeros(1, 3, 64, 64))
    attach_head(model, w, b)
    crops = np.stack([PoseEstimator(plain).crop(read_rgb(r.image), r.box)[0] for r in recs[:2]])
    heatmaps, logits = model.forward_all(torch.from_numpy(crops))
    np.testing.assert_allclose(logits.detach().numpy(), logits_of(w, b, x[orig][:2]), rtol=1e-4, atol=1e-4)
    assert torch.equal(model(torch.zeros(1, 3, 64, 64)), before)


def test_label_conventions():
    from handpose.data.datasets.base import HandRecord

    rec = lambda **extra: HandRecord(Path("x.jpg"), np.zeros((21, 2)), np.ones(21), np.ones(4), extra)
    assert label_of(rec(hand="right")) == 1 and label_of(rec(hand="left")) == 0
    # MediaPipe assumes a selfie (mirrored) image: its "Left" in an un-mirrored photo is the person's right
    assert label_of(rec(handedness_mediapipe="Left", handedness_score=0.99)) == 1
    assert label_of(rec(handedness_mediapipe="Right", handedness_score=0.99)) == 0
    assert label_of(rec(handedness_mediapipe="Right", handedness_score=0.6), min_teacher_score=0.8) is None
    assert label_of(rec()) is None


def coco_of_mini(path: Path, split: str, hand: str) -> Path:
    recs = load_freihand(MINI, split, box="keypoints", padding=1.0, versions=1)
    images, anns = [], []
    for i, r in enumerate(recs, 1):
        images.append({"id": i, "file_name": str(r.image.resolve())})
        kps = np.concatenate([r.keypoints, np.full((21, 1), 2.0)], axis=1).reshape(-1)
        anns.append({"id": i, "image_id": i, "keypoints": kps.tolist(), "bbox": r.box.tolist(), "hand": hand})
    path.write_text(json.dumps({"images": images, "annotations": anns}))
    return path


def test_train_handedness_command_writes_a_release_with_the_head(plain, tmp_path, capsys):
    train = coco_of_mini(tmp_path / "train.json", "training", "right")
    check = coco_of_mini(tmp_path / "check.json", "evaluation", "right")
    out = tmp_path / "hand.safetensors"
    assert main(["train-handedness", "--weights", str(plain), "--out", str(out), "--data", str(train),
                 "--check", str(check), "--val-fraction", "0", "--max-samples", "6", "--batch", "4"]) == 0
    printed = capsys.readouterr()
    assert "train: accuracy 100.0% on 6 hands" in printed.out and "check: accuracy" in printed.out
    assert "features" in printed.err  # the progress bar
    model, info = load_model(out)
    metrics = info["handedness_metrics"]
    assert info["handedness"] is True and model.handedness is not None and metrics["check"]["n"] == 4
    old, _ = load_model(plain)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))
    assert torch.equal(old(x), model(x))  # the pose model is frozen
    assert main(["train-handedness", "--weights", str(plain), "--out", str(plain)]) == 2
    assert "not over --weights" in capsys.readouterr().err


# -- releases and ONNX ----------------------------------------------------------------------------------------
def test_release_round_trip_and_backends_agree_on_handedness(plain, with_head, two_hands):
    image, boxes = two_hands
    model, info = load_model(with_head)
    assert info["handedness"] is True and model.handedness is not None
    assert load_model(plain)[0].handedness is None
    for weights in (plain, with_head):
        backends = ("torch", "onnx", "onnx-int8") if weights == with_head else ("torch", "onnx")
        results = {b: PoseEstimator(weights, backend=b).estimate(image, boxes) for b in backends}
        for backend, hands in results.items():
            for h, ref in zip(hands, results["torch"]):
                if weights == plain:
                    assert h.handedness is None and h.handedness_score is None
                    continue
                p, p_ref = (x.handedness_score if x.handedness == "right" else 1 - x.handedness_score for x in (h, ref))
                assert abs(p - p_ref) < (1e-3 if backend == "onnx" else 0.05), backend
                if backend == "onnx":
                    assert np.abs(h.keypoints - ref.keypoints).max() < 0.5


def test_export_keeps_the_handedness_output(with_head, tmp_path, capsys):
    from handpose.pose.onnx_backend import OnnxBackend

    fp32, int8 = tmp_path / "m.onnx", tmp_path / "m8.onnx"
    assert main(["export", "--format", "onnx", str(fp32), "--weights", str(with_head)]) == 0
    assert main(["export", "--format", "onnx", str(int8), "--weights", str(with_head), "--int8"]) == 0
    out = capsys.readouterr().out
    assert "right-hand probability" in out and "same side on" in out
    for path in (fp32, int8):
        backend = OnnxBackend(path, threads=1)
        heatmaps, logits = backend.run_all(np.zeros((3, 3, 64, 64), np.float32))
        assert backend.info["handedness"] is True and heatmaps.shape == (3, 21, 16, 16) and logits.shape == (3,)


# -- tracking ---------------------------------------------------------------------------------------------
def test_tracking_two_hands_calls_the_detector_only_when_a_hand_is_missing(plain, two_hands):
    image, boxes = two_hands
    est = PoseEstimator(plain, presence_threshold=0.0)
    det = FakeDetector(boxes)
    # detection_scale 1: an untrained model's keypoints from a grown crop may spread over both hands
    tracker = HandTracker(HandPipeline(est, det, max_hands=2, detection_scale=1.0), max_hands=2, redetect_every=3)
    tracks = tracker.update(image, 0.0)
    assert det.calls == 1 and len(tracks) == 2
    ids = [t.id for t in tracks]
    for i in range(1, 6):  # both tracked: the detector is not called
        tracks = tracker.update(image, i / 30)
        assert det.calls == 1 and [t.id for t in tracks] == ids and not tracker.info.found
    tracker.tracks[1].hand.box = np.array([-900, -900, 40, 40], np.float32)  # the crop is off the frame: lost
    # the detector gives the tracked hand's own box first: that is the same hand, not a new one
    det.boxes = lambda: [tracker.tracks[0].hand.box.copy(), boxes[1]] if tracker.tracks else boxes
    tracks = tracker.update(image, 6 / 30)
    assert det.calls == 2 and tracker.info.lost == 1 and len(tracks) == 2  # re-detected on the very frame
    assert tracks[0].id == ids[0] and tracks[1].id not in ids
    assert all(t.to_json()["handedness"] is None for t in tracks)


def test_spare_detections_let_the_presence_score_pass_over_a_false_box(two_hands):
    """A false box that outscores the hand (a logo, a face) hides it when only as many boxes are tried as hands
    are wanted; with ``spare`` the pose model's presence score (the bundled model's) keeps the hand, and still
    no more than ``want`` hands come back."""
    both, boxes = two_hands
    image = both.copy()
    image[:, 256:] = 128  # the right half is now flat grey: no hand there
    grey = np.array([320, 60, 120, 120], np.float32)
    pipe = HandPipeline(PoseEstimator(None, backend="onnx-int8"), FakeDetector([grey, boxes[0]]), max_hands=1,
                        side=None, gestures=None)
    assert pipe.find_new([image], [[]], 1) == [[]]  # the grey box is tried, and rejected
    (found,) = pipe.find_new([image], [[]], 1, spare=1)
    assert len(found) == 1 and box_iou(found[0].box, boxes[0]) > 0.5
    # live's tracker tries spare boxes by default: it tracks the hand from the first frame; without, it never does
    assert len(HandTracker(pipe, max_hands=1).update(image, 0.0)) == 1
    blind = HandTracker(pipe, max_hands=1, spare=0)
    assert all(blind.update(image, i / 30) == [] for i in range(3))
    pipe.detector = FakeDetector(boxes)  # two real hands, one wanted: one comes back
    assert len(pipe.find_new([both], [[]], 1, spare=1)[0]) == 1
    assert len(pipe.find_new([both], [[]], 2)[0]) == 2


def test_a_gated_search_re_crops_only_the_boxes_that_already_look_like_a_hand(two_hands):
    """With ``recrop_gate`` a search re-crops only the boxes whose first pass scores that share of the presence
    threshold: the grey box is not cropped again, the hand is, and the same hand comes back."""
    both, boxes = two_hands
    image = both.copy()
    image[:, 256:] = 128
    grey = np.array([320, 60, 120, 120], np.float32)
    pipe = HandPipeline(PoseEstimator(None, backend="onnx-int8"), FakeDetector([grey, boxes[0]]), max_hands=1,
                        side=None, gestures=None, recrops=1)
    passes: list[int] = []
    estimate_many = pipe.estimator.estimate_many
    pipe.estimator.estimate_many = lambda jobs, **kw: (passes.append(len(jobs)), estimate_many(jobs, **kw))[1]
    (every,) = pipe.find_new([image], [[]], 1, spare=1)
    assert passes == [2, 2]  # both boxes, then both again
    passes.clear()
    (gated,) = pipe.find_new([image], [[]], 1, spare=1, recrop_gate=1.0)
    assert passes == [2, 1]  # both boxes, then the hand's alone
    assert len(every) == len(gated) == 1 and box_iou(gated[0].box, boxes[0]) > 0.5
    np.testing.assert_allclose(gated[0].keypoints, every[0].keypoints, atol=1e-3)


def test_upright_tracking_crops_follow_an_upside_down_hand(two_hands):
    """Live's crops from last frame's keypoints, turned upright: the bundled model (which saw hands in their
    photos' own orientation) then tracks a hand shown upside down; the plain keypoint box shows it upside down."""
    recs = load_freihand(MINI, "training", box="keypoints", padding=1.0, versions=1)[:4]
    errors = {}
    for upright in (True, False):
        errs = []
        for r in recs:
            image = np.ascontiguousarray(read_rgb(r.image)[::-1, ::-1])
            truth = np.array(image.shape[1::-1]) - 1 - r.keypoints
            box = np.array([*truth.min(0), *(truth.max(0) - truth.min(0))], np.float32)
            pipe = HandPipeline(PoseEstimator(None, backend="onnx-int8"), FakeDetector([box]), max_hands=1,
                                side=None, gestures=None, upright=upright)
            tracker = HandTracker(pipe, max_hands=1, smoothing=None)
            for i in range(4):
                tracks = tracker.update(image, i / 30)
            errs.append(np.linalg.norm(tracks[0].keypoints - truth, axis=1).mean() / max(box[2:]) if tracks else 1.0)
        errors[upright] = float(np.median(errs))
    assert errors[True] < 0.1 and errors[True] < errors[False]


def test_tracking_below_max_hands_redetects_every_k_frames(plain, two_hands):
    image, boxes = two_hands
    est = PoseEstimator(plain, presence_threshold=0.0)
    tracker = HandTracker(HandPipeline(est, None, max_hands=2, detection_scale=1.0), max_hands=2, redetect_every=3)
    # only one hand to be found, and the detector's box for it is always the tracked hand's: a duplicate
    det = FakeDetector(lambda: [tracker.tracks[0].hand.box.copy()] if tracker.tracks else boxes[:1])
    tracker.pipeline.detector = det
    for i in range(10):
        tracks = tracker.update(image, i / 30)
        assert len(tracks) == 1
    assert det.calls == 4  # frames 0, 3, 6 and 9


def test_tracks_average_their_handedness(with_head, two_hands):
    image, boxes = two_hands
    est = PoseEstimator(with_head, presence_threshold=0.0)
    tracker = HandTracker(HandPipeline(est, FakeDetector(boxes), max_hands=2, detection_scale=1.0), max_hands=2)
    raw = []
    for i in range(4):
        tracks = tracker.update(image, i / 30)
        raw.append([t.hand.handedness_score if t.hand.handedness == "right" else 1 - t.hand.handedness_score
                    for t in tracks])
    for k, t in enumerate(tracks):
        series = [r[k] for r in raw]
        assert min(series) - 1e-6 <= t.p_right <= max(series) + 1e-6
        side, p = t.handedness
        assert t.to_json()["handedness"] == side and t.to_json()["handedness_score"] == round(p, 4)


# -- the web app ----------------------------------------------------------------------------------------------
def test_web_api_and_page_show_every_hand(with_head, two_hands):
    from handpose.apps.web.app import create_app

    image, boxes = two_hands
    est = PoseEstimator(with_head, presence_threshold=0.0)
    client = create_app(HandPipeline(est, FakeDetector(boxes), max_hands=2), name="m").test_client()
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    r = client.post("/api/predict", data=png.tobytes(), content_type="image/png")
    hands = r.get_json()["images"][0]["hands"]
    assert r.status_code == 200 and len(hands) == 2
    assert all(h["handedness"] in ("left", "right") for h in hands)
    page = client.post("/", data=png.tobytes(), content_type="image/png").get_data(as_text=True)
    assert page.count("<tr><td>") == 42 and 'id="keypoints"' in page and 'id="keypoints-1"' in page
    for h in hands:
        assert f"{h['handedness']} hand</span>" in page
    info = client.get("/api/model").get_json()
    assert info["max_hands"] == 2 and info["handedness"] is True and info["hand_finder"] == "detector"
