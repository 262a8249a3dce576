"""Hand detector: box codec, NMS, letterbox, model shapes, pasting, a CLI training smoke run with resume, loading,
the ONNX Runtime backends (fp32 and int8) against PyTorch."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from handpose.apps.cli import main
from handpose.data.datasets import read_rgb
from handpose.detect import Detection, HandDetector
from handpose.detect.codec import (BoxCodec, invert_affine, iou_matrix, letterbox, letterbox_matrix, map_boxes, match,
                                   matched, nms, touching)
from handpose.detect.data import DetectionTrainSet, Frame, Paster, PasteHand, keypoint_box, paste_hand
from handpose.detect.infer import DEFAULT_DETECTOR
from handpose.detect.model import HandDetectorNet
from handpose.errors import HandposeError
from handpose.pose.model import build_model
from handpose.pose.onnx_backend import export_onnx

from ..conftest import MINI


def decode_targets(codec: BoxCodec, boxes: np.ndarray):
    t = codec.encode(boxes)
    return codec.decode(t["heatmap"], t["offset"], t["size"], score_threshold=0.5)


def same_boxes(found: np.ndarray, boxes: np.ndarray) -> bool:
    order = lambda b: b[np.lexsort((b[:, 1], b[:, 0]))]  # noqa: E731
    return found.shape == boxes.shape and np.abs(order(found) - order(boxes)).max() < 1e-3


def test_codec_round_trip_is_exact():
    codec = BoxCodec(256, 8)
    boxes = np.array([[0.0, 0.0, 9.3, 12.1],          # tiny, at the top-left corner
                      [100.3, 50.7, 80.2, 120.9],     # sub-pixel corners
                      [240.2, 241.6, 14.5, 13.25],    # tiny, near the bottom-right edge
                      [10.0, 130.0, 245.0, 110.0],    # nearly as wide as the input
                      [180.9, 3.3, 4.1, 5.7]], np.float32)  # a few pixels
    found, scores = decode_targets(codec, boxes)
    assert same_boxes(found, boxes)
    assert np.allclose(scores, 1.0)


def test_codec_other_stride_and_size():
    codec = BoxCodec(96, 4)
    boxes = np.array([[1.5, 2.5, 20.0, 30.0], [60.25, 70.75, 33.0, 24.0]], np.float32)
    found, _ = decode_targets(codec, boxes)
    assert same_boxes(found, boxes)


def test_codec_skips_centres_outside_and_targets_are_consistent():
    codec = BoxCodec(128, 8)
    t = codec.encode(np.array([[200, 10, 20, 20], [30, 40, 16, 24]], np.float32))  # the first is off the input
    assert t["heatmap"].shape == (1, 16, 16) and t["offset"].shape == (2, 16, 16) and t["mask"].shape == (1, 16, 16)
    assert t["mask"].sum() == 1 and t["heatmap"].max() == 1.0
    cv, cu = np.argwhere(t["mask"][0])[0]
    assert t["heatmap"][0, cv, cu] == 1.0 and np.all(np.abs(t["offset"][:, cv, cu]) <= 0.5)


def test_nms_on_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10], [0, 0, 10, 11], [52, 50, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.95, 0.6], np.float32)
    keep = nms(boxes, scores, 0.5)
    assert keep.tolist() == [3, 2]  # 3 suppresses 0 and 1 (IoU > 0.5); 2 suppresses 4 (IoU 0.67)
    assert nms(boxes, scores, 0.99).tolist() == [3, 0, 1, 2, 4]
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32)).size == 0


def test_iou_and_match():
    a = np.array([[0, 0, 10, 10]], np.float32)
    assert iou_matrix(a, np.array([[5, 0, 10, 10]], np.float32))[0, 0] == pytest.approx(50 / 150)
    truth = np.array([[0, 0, 10, 10], [100, 100, 20, 20]], np.float32)
    pred = np.array([[1, 0, 10, 10], [0, 1, 10, 10], [300, 300, 5, 5]], np.float32)
    assert match(pred, truth) == 1  # one truth matched once, the duplicate and the far box are false
    assert matched(pred, truth).tolist() == [True, False]


def test_touching_hands_are_two_boxes_through_the_codec_and_are_told_apart():
    """Two hands side by side (boxes meeting, then overlapping by a fifth) keep two centres, so decoding gives
    both boxes back; ``touching`` names them, and not a hand well apart."""
    codec = BoxCodec(256, 8)
    for overlap in (0.0, 0.2):
        left = np.array([60.0, 80.0, 50.0, 70.0], np.float32)
        right = left + np.array([50.0 * (1 - overlap), 6.0, 0.0, 0.0], np.float32)
        apart = np.array([200.0, 200.0, 30.0, 30.0], np.float32)
        boxes = np.stack([left, right, apart])
        found, _ = decode_targets(codec, boxes)
        assert same_boxes(found, boxes), f"overlap {overlap}"
        assert touching(boxes).tolist() == [True, True, False]
    assert touching(np.zeros((0, 4))).size == 0


def test_paster_lays_touching_hands_against_one_already_there(tmp_path):
    rng = np.random.default_rng(3)
    kps = fake_hand_crop(tmp_path / "h.png", rng)
    hand = PasteHand(tmp_path / "h.png", kps, np.ones(21, np.float32))
    first = np.array([100.0, 100.0, 40.0, 50.0], np.float32)
    for seed in range(20):
        boxes = Paster([hand], (8.0, 160.0), 0.0, touching=1.0)(np.random.default_rng(seed), np.zeros((256, 256, 3), np.uint8),
                                                                [first], 1)
        assert len(boxes) == 2 and touching(np.stack(boxes)).all(), f"seed {seed}: {boxes[1]} does not meet {first}"
        assert iou_matrix(boxes[0], boxes[1])[0, 0] < 0.4, "against it, not on top of it"
    apart = Paster([hand], (8.0, 160.0), 0.0)(np.random.default_rng(0), np.zeros((256, 256, 3), np.uint8), [first], 1)
    assert not touching(np.stack(apart)).any(), "without touching, a pasted hand keeps its distance"


@pytest.mark.parametrize("size", [(640, 480), (300, 500), (256, 256)])
def test_letterbox_round_trip(size):
    w, h = size
    image = np.zeros((h, w, 3), np.uint8)
    point = (int(w * 0.3), int(h * 0.7))
    cv2.circle(image, point, max(w, h) // 20, (255, 255, 255), -1)
    square, m = letterbox(image, 128)
    assert square.shape == (128, 128, 3) and np.allclose(m, letterbox_matrix(w, h, 128))
    # The disc lands where the matrix says (the padding is grey 114, so > 200 is the disc alone).
    ys, xs = np.nonzero(square[..., 0] > 200)
    expected = m[:, :2] @ np.array(point, np.float64) + m[:, 2]
    assert abs(xs.mean() - expected[0]) < 0.5 and abs(ys.mean() - expected[1]) < 0.5
    boxes = np.array([[10.5, 20.25, 30, 40], [0, 0, w - 1, h - 1]], np.float32)
    there = map_boxes(boxes, m)
    assert np.abs(map_boxes(there, invert_affine(m)) - boxes).max() < 1e-3
    # The whole image (pixel centres 0..w-1) spans the input's longer side exactly.
    assert max(there[1, 2], there[1, 3]) == pytest.approx(128 - 128 / max(w, h), abs=1e-3)


def test_mirror_maps_boxes_consistently():
    size = 64
    m = np.array([[-1.0, 0, size - 1], [0, 1.0, 0]])  # mirror about the input's centre
    boxes = np.array([[5, 6, 10, 12]], np.float32)
    assert np.allclose(map_boxes(boxes, m), [[size - 1 - 15, 6, 10, 12]])


def test_model_output_shapes():
    model = HandDetectorNet(width=16).eval()
    with torch.no_grad():
        heat, offset, size = model(torch.zeros(2, 3, 128, 128))
    assert heat.shape == (2, 1, 16, 16) and offset.shape == (2, 2, 16, 16) and size.shape == (2, 2, 16, 16)
    assert torch.sigmoid(heat).mean().item() == pytest.approx(0.1, abs=0.05)  # CenterNet's prior


def fake_hand_crop(path: Path, rng: np.random.Generator) -> np.ndarray:
    """A 64 px crop with a skin-coloured 'hand' and its 21 keypoints (a palm and five fingers)."""
    crop = np.full((64, 64, 3), 30, np.uint8)
    wrist = np.array([32.0, 50.0])
    kps = [wrist]
    for angle in np.linspace(-60, 60, 5):
        d = np.array([np.sin(np.radians(angle)), -np.cos(np.radians(angle))])
        kps += [wrist + d * r for r in (10, 16, 21, 26)]
    kps = np.array(kps, np.float32) + rng.uniform(-1, 1, (21, 2))
    for a, b in zip(kps[:-1], kps[1:]):
        cv2.line(crop, tuple(int(v) for v in a), tuple(int(v) for v in b), (220, 170, 140), 4)
    cv2.imwrite(str(path), crop)
    return kps


def test_paste_hand_box_is_the_moved_keypoint_box(tmp_path):
    kps = fake_hand_crop(tmp_path / "h.png", np.random.default_rng(0))
    hand = PasteHand(tmp_path / "h.png", kps, np.ones(21, np.float32))
    canvas = np.zeros((128, 128, 3), np.uint8)
    box = paste_hand(canvas, hand, 40.0, (60.0, 70.0), 0.0, False, 1.0)
    assert max(box[2], box[3]) == pytest.approx(40.0, abs=1e-3)
    assert box[0] + box[2] / 2 == pytest.approx(60.0, abs=1e-3) and box[1] + box[3] / 2 == pytest.approx(70.0, abs=1e-3)
    painted = np.argwhere(canvas.max(2) > 60)  # the hand's pixels landed around that box, not elsewhere
    assert painted.size and painted[:, 1].min() >= box[0] - 10 and painted[:, 1].max() <= box[0] + box[2] + 10
    flipped = paste_hand(np.zeros_like(canvas), hand, 40.0, (60.0, 70.0), 0.0, True, 1.0)
    assert np.allclose(flipped[2:], box[2:], atol=1e-3)


def make_tiny_data(root: Path) -> tuple[Path, Path]:
    """A frames file (6 training frames of source 'room', 3 held-out 'palms') and a COCO file of 4 hand crops."""
    rng = np.random.default_rng(1)
    (root / "frames").mkdir()
    (root / "crops").mkdir()
    frames, images, anns = [], [], []
    for i in range(9):
        img = np.full((90, 120, 3), rng.integers(40, 200, 3), np.uint8)
        x, y = int(rng.integers(5, 70)), int(rng.integers(5, 50))
        cv2.ellipse(img, (x + 12, y + 15), (10, 14), 0, 0, 360, (140, 170, 220), -1)
        cv2.imwrite(str(root / "frames" / f"f{i}.jpg"), img)
        frames.append({"file_name": f"frames/f{i}.jpg", "width": 120, "height": 90,
                       "source": "palms" if i >= 6 else "room", "boxes": [[x + 3, y + 3, 18, 24]]})
    (root / "frames.json").write_text(json.dumps({"frames": frames}))
    for i in range(4):
        kps = fake_hand_crop(root / "crops" / f"c{i}.jpg", rng)
        images.append({"id": i, "file_name": f"crops/c{i}.jpg", "width": 64, "height": 64})
        box = keypoint_box(kps, np.ones(21))
        anns.append({"id": i, "image_id": i, "keypoints": np.hstack([kps, np.full((21, 1), 2)]).ravel().tolist(),
                     "bbox": box.tolist()})
    (root / "hands.json").write_text(json.dumps({"images": images, "annotations": anns}))
    return root / "frames.json", root / "hands.json"


def test_training_samples_replay_per_seed_epoch_index(tmp_path):
    frames_file, _ = make_tiny_data(tmp_path)
    frame = Frame(tmp_path / "frames" / "f0.jpg", np.array([[10, 10, 18, 24]], np.float32))
    kps = fake_hand_crop(tmp_path / "h.png", np.random.default_rng(0))
    hands = [PasteHand(tmp_path / "h.png", kps, np.ones(21, np.float32))]
    from handpose.train.detect import DEFAULTS

    ds = DetectionTrainSet([frame], hands, None, BoxCodec(64), DEFAULTS["augment"], 8, seed=3)
    a, b = ds.sample(5), ds.sample(5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    ds.set_epoch(1)
    assert not np.array_equal(ds.sample(5)[0], a[0])
    image, targets = ds[2]
    assert image.shape == (3, 64, 64) and targets["heatmap"].shape == (1, 8, 8)


def test_extra_frames_files_are_trained_on_whole(tmp_path, capsys):
    """A recipe's data.extra_frames (e.g. `handpose label --frames` of videos) adds every frame of each file to
    the training frames, none to the validation ones."""
    from handpose.train.detect import DetectorTrainer, load_config

    frames_file, hands_file = make_tiny_data(tmp_path)
    data = json.loads(frames_file.read_text())
    extra = tmp_path / "extra.json"  # the 3 palms frames again, under another source name
    extra.write_text(json.dumps({"frames": [{**f, "source": "clips"} for f in data["frames"] if f["source"] == "palms"]}))
    overrides = [f"data.frames={frames_file}", f"data.hands=[{{format: coco, annotations: {hands_file}}}]",
                 "data.input_size=64", "model.width=16", "train.workers=0", "train.threads=1", "train.backbone_weights=null"]
    plain = DetectorTrainer(load_config(None, overrides), tmp_path / "a")
    more = DetectorTrainer(load_config(None, overrides + [f"data.extra_frames=[{extra}]"]), tmp_path / "b")
    assert len(plain.train_set.frames) == 6 and len(more.train_set.frames) == 9
    assert {str(f.image) for f in more.train_set.frames[6:]} == {str(tmp_path / "frames" / f"f{i}.jpg") for i in (6, 7, 8)}
    assert len(more.val_sets["palms"]) == len(plain.val_sets["palms"]) == 3


def test_cli_smoke_train_resume_and_detector(tmp_path):
    frames_file, hands_file = make_tiny_data(tmp_path)
    recipe = tmp_path / "det.yaml"
    recipe.write_text(f"""
name: tiny
output: {tmp_path / 'runs'}
model: {{width: 16}}
data:
  input_size: 64
  frames: {frames_file}
  hands: [{{format: coco, annotations: {hands_file}}}]
  val_hands: [{{format: coco, annotations: {hands_file}}}]
  val_pasted: 4
augment: {{paste_side: [6, 30]}}
train: {{epochs: 1, steps_per_epoch: 2, batch_size: 2, workers: 0, threads: 1, backbone_weights: null, warmup_steps: 1}}
""")
    assert main(["detect-train", "--config", str(recipe)]) == 0
    run = tmp_path / "runs" / "tiny"
    for name in ("config.yaml", "log.csv", "curves.png", "last.pt", "best.pt", "detector.safetensors", "detector.json"):
        assert (run / name).is_file(), name
    rows = (run / "log.csv").read_text().splitlines()
    assert len(rows) == 2 and "palms_recall" in rows[0] and "pasted_recall" in rows[0]
    assert main(["detect-train", "--config", str(recipe)]) == 2  # the run folder is taken: refused, not overwritten
    assert main(["detect-train", "--resume", str(run), "train.epochs=2"]) == 0
    assert len((run / "log.csv").read_text().splitlines()) == 3
    assert torch.load(run / "last.pt", weights_only=False)["epoch"] == 2

    image = cv2.cvtColor(cv2.imread(str(tmp_path / "frames" / "f0.jpg")), cv2.COLOR_BGR2RGB)
    for weights in (run / "detector.safetensors", run / "last.pt"):
        found = HandDetector(weights, threads=1, score_threshold=0.0, max_detections=5)(image)
        assert 0 < len(found) <= 5 and all(isinstance(d, Detection) for d in found)
        assert found[0].box.shape == (4,) and found[0].box.dtype == np.float32
        assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_fine_tuning_starts_from_the_given_detector(tmp_path):
    """train.init_weights: the model starts as that detector (not from ImageNet or at random); a detector of
    another width is refused with its name."""
    from handpose.train.detect import DetectorTrainer, load_config

    frames_file, hands_file = make_tiny_data(tmp_path)
    overrides = [f"data.frames={frames_file}", f"data.hands=[{{format: coco, annotations: {hands_file}}}]",
                 "data.input_size=64", "model.width=16", "train.workers=0", "train.threads=1",
                 "train.backbone_weights=null", "train.epochs=1", "train.steps_per_epoch=1", "train.batch_size=2"]
    first = DetectorTrainer(load_config(None, overrides + ["train.seed=1"]), tmp_path / "a")
    first.fit()
    start = tmp_path / "a" / "detector.safetensors"
    tuned = DetectorTrainer(load_config(None, overrides + ["train.seed=2", f"train.init_weights={start}"]), tmp_path / "b")
    fresh = DetectorTrainer(load_config(None, overrides + ["train.seed=2"]), tmp_path / "c")
    from handpose.detect.infer import load_detector

    released = load_detector(start)[0].state_dict()
    for name, value in tuned.model.state_dict().items():
        assert torch.equal(value, released[name]), name
    assert any(not torch.equal(v, fresh.model.state_dict()[k]) for k, v in tuned.model.state_dict().items())
    with pytest.raises(HandposeError, match="width 16"):
        DetectorTrainer(load_config(None, overrides + [f"train.init_weights={start}", "model.width=24"]), tmp_path / "d")


def test_detector_missing_weights_is_a_clear_error(tmp_path):
    with pytest.raises(HandposeError, match="not found"):
        HandDetector(tmp_path / "nope.safetensors")
    (tmp_path / "w.safetensors").write_bytes(b"")
    with pytest.raises(HandposeError, match="w.json is missing"):
        HandDetector(tmp_path / "w.safetensors")


@pytest.mark.skipif(not DEFAULT_DETECTOR.is_file(), reason="no bundled detector weights")
def test_onnx_backends_find_the_torch_boxes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the on-the-fly exports land here
    canvas = np.full((480, 640, 3), 90, np.uint8)  # a mini-example photo off-centre in a bigger frame
    canvas[150:406, 300:556] = read_rgb(MINI / "training" / "rgb" / "00000003.jpg")
    ref = HandDetector(backend="torch", threads=1)(canvas)
    assert ref and iou_matrix(ref[0].box, [300, 150, 256, 256])[0, 0] > 0.3  # the hand, inside the photo

    fp32 = HandDetector(backend="onnx", threads=1)
    found = fp32(canvas)
    assert len(found) == len(ref)
    for a, b in zip(found, ref):
        assert iou_matrix(a.box, b.box)[0, 0] > 0.95 and abs(a.score - b.score) < 0.01
    int8 = HandDetector(backend="onnx-int8", threads=1)(canvas)
    assert int8 and iou_matrix(int8[0].box, ref[0].box)[0, 0] > 0.7  # the same hand

    exports = sorted((tmp_path / "handpose" / "onnx").glob("*.onnx"))
    assert len(exports) == 2 and exports[0].name.endswith("-int8.onnx")  # fp32 and int8, cached
    again = HandDetector(exports[1], threads=1)  # an .onnx file runs on ONNX Runtime whatever the backend
    assert again.backend == "onnx" and np.allclose(again(canvas)[0].box, found[0].box, atol=1e-3)
    with pytest.raises(HandposeError, match="unknown detector backend"):
        HandDetector(backend="tensorrt")
    export_onnx(build_model("mobilenetv2", head_width=32), {"input_size": 64}, tmp_path / "pose.onnx")
    with pytest.raises(HandposeError, match="not a hand-detector"):  # a pose export is refused by name
        HandDetector(tmp_path / "pose.onnx")
