import json
import shutil

import numpy as np
import pytest

from handpose.codec import HeatmapCodec
from handpose.data.datasets import HandDataset, load_coco, load_freihand, load_records, split_by_pose
from handpose.errors import DatasetError, HandposeError
from handpose.data.transforms import Augment, apply_affine

from ..conftest import HGC, UCI, need


def test_mini_example_loads(mini_root):
    train = load_freihand(mini_root, "training")
    evaluation = load_freihand(mini_root, "evaluation")
    assert len(train) == 12 and len(evaluation) == 4
    r = train[0]
    assert r.keypoints.shape == (21, 2) and r.box.tolist() == [0, 0, 256, 256]
    # The projected joints lie on the image.
    assert (r.keypoints > 0).all() and (r.keypoints < 256).all()


def test_keypoint_box_option(mini_root):
    r = load_freihand(mini_root, "training", box="keypoints", padding=1.2)[0]
    lo, hi = r.keypoints.min(0), r.keypoints.max(0)
    assert r.box[2] == pytest.approx((hi - lo)[0] * 1.2, rel=1e-5)


def test_item_tensors_and_targets_follow_the_crop(mini_root):
    codec = HeatmapCodec()
    ds = HandDataset(load_freihand(mini_root, "training"), codec, augment=Augment(), seed=3)
    image, heatmaps, weights, meta = ds[5]
    assert tuple(image.shape) == (3, 224, 224) and tuple(heatmaps.shape) == (21, 56, 56)
    assert image.dtype.is_floating_point and -3 < float(image.mean()) < 3
    # The target peaks sit where the affine sends the original keypoints.
    expected = apply_affine(meta["keypoints"], meta["affine"])
    decoded, _ = codec.decode(heatmaps.numpy())
    ok = weights.numpy() > 0
    assert ok.sum() >= 15
    assert np.abs(decoded[ok] - expected[ok]).max() < 0.5
    # The same epoch replays the same augmentation (resumable), another epoch draws a new one.
    assert np.array_equal(ds[5][0].numpy(), image.numpy())
    ds.set_epoch(1)
    assert not np.array_equal(ds[5][0].numpy(), image.numpy())


def test_upright_crops_turn_every_hand_up(mini_root):
    codec = HeatmapCodec()
    records = load_freihand(mini_root, "training", box="keypoints", padding=1.0)
    still = dict(rotation=0.0, scale=(1.0, 1.0), shift=0.0, flip=0.0, color=0.0, hue=0.0, blur=0.0, noise=0.0,
                 occlusion=0.0)
    turned = HandDataset(records, codec, augment=Augment(**still, upright=1.0), seed=3)
    for i in range(len(records)):
        meta = turned[i][3]
        wrist, knuckle = apply_affine(meta["keypoints"], meta["affine"])[[0, 9]]
        assert abs(wrist[0] - knuckle[0]) < 1e-3 and knuckle[1] < wrist[1]
    # off (the default), the crop keeps the photo's own orientation
    plain = HandDataset(records, codec, augment=Augment(**still), seed=3)
    assert np.allclose(plain[0][3]["affine"][:, :2], np.diag(np.diag(plain[0][3]["affine"][:, :2])))


def test_four_versions_and_split_by_pose(tmp_path, mini_root):
    root = tmp_path / "frei"
    shutil.copytree(mini_root, root)
    n = 12
    for k in range(1, 4):  # make versions 2..4 of the first 3 poses
        for i in range(3):
            shutil.copy(root / "training/rgb/00000000.jpg", root / f"training/rgb/{i + k * n:08d}.jpg")
    records = load_freihand(root, "training")
    assert len(records) == 12 + 9
    train, val = split_by_pose(records, 0.25, seed=0)
    assert len(train) + len(val) == len(records)
    assert not {r.extra["pose"] for r in train} & {r.extra["pose"] for r in val}
    np.testing.assert_allclose(records[1].keypoints, [r for r in records if r.extra["pose"] == 0][1].keypoints)


def test_freihand_errors_name_file_and_entry(tmp_path, mini_root):
    root = tmp_path / "frei"
    shutil.copytree(mini_root, root)
    (root / "training/rgb/00000004.jpg").unlink()
    with pytest.raises(DatasetError, match=r"00000004.jpg: image file not found \(entry 4"):
        load_freihand(root, "training")
    (root / "training_K.json").write_text("[[1, 2")
    with pytest.raises(DatasetError, match="training_K.json: malformed JSON"):
        load_freihand(root, "training")
    shutil.copy(mini_root / "training_K.json", root / "training_K.json")
    xyz = json.loads((root / "training_xyz.json").read_text())
    (root / "training_xyz.json").write_text(json.dumps(xyz[:-1]))
    with pytest.raises(DatasetError, match="training_K.json has 12 entries but training_xyz.json has 11"):
        load_freihand(root, "training")
    xyz[2] = xyz[2][:20]
    (root / "training_xyz.json").write_text(json.dumps(xyz))
    with pytest.raises(DatasetError, match="entry 2"):
        load_freihand(root, "training")


def test_coco_errors(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}],
                                "annotations": [{"id": 7, "image_id": 1, "keypoints": [0] * 60, "bbox": [0, 0, 5, 5]}]}))
    with pytest.raises(DatasetError, match=r"annotations\[0\] \(id 7\): 'keypoints' must hold 63"):
        load_coco(path)
    path.write_text(json.dumps({"images": [], "annotations": [{"id": 7, "image_id": 3}]}))
    with pytest.raises(DatasetError, match="image_id 3 is not in 'images'"):
        load_coco(path)
    with pytest.raises(DatasetError, match="dataset format"):
        load_records({"format": "voc"})


@need(HGC)
def test_hgc_dev_as_freihand_evaluation():
    records = load_freihand(HGC, "evaluation")
    assert len(records) == 292
    kps = np.stack([r.keypoints for r in records])
    assert (kps > -5).all() and (kps < 261).all()


@need(UCI)
def test_uci_hand_as_coco():
    records = load_coco(UCI / "annotations.json")
    assert len(records) == 944
    assert {r.extra["hand"] for r in records} == {"left", "right"}
    assert {r.extra["subject"] for r in records} == {"001", "040"}
    r = records[0]
    assert r.visibility.sum() == 21 and r.box.tolist() == [87, 42, 85, 136]


def test_calibration_moves_only_its_joints_in_the_hand_frame(tmp_path, mini_root):
    """A ``calibration:`` entry shifts the calibrated joints by their offset in the hand's own frame (x: wrist ->
    middle knuckle, in units of that length), whatever the hand's size or turn, and leaves the rest as labelled."""
    from handpose.data.calibration import Calibration, hand_frame

    plain = load_records({"format": "freihand", "root": str(mini_root)})
    offsets = np.zeros((21, 2))
    offsets[9] = [-0.1, 0.05]  # middle knuckle: a tenth of a hand length towards the wrist, a bit to the index side
    Calibration(offsets, joints=[9]).save(tmp_path / "cal.json")
    moved = load_records({"format": "freihand", "root": str(mini_root), "calibration": str(tmp_path / "cal.json")})
    assert len(moved) == len(plain) > 0
    for a, b in zip(plain, moved):
        others = [j for j in range(21) if j != 9]
        np.testing.assert_allclose(b.keypoints[others], a.keypoints[others], atol=1e-3)
        _, length, axes = hand_frame(a.keypoints)
        np.testing.assert_allclose(b.keypoints[9] - a.keypoints[9], length * axes @ offsets[9], atol=1e-3)
        assert np.linalg.norm(b.keypoints[9] - a.keypoints[9]) == pytest.approx(length * np.hypot(-0.1, 0.05), rel=1e-3)
    with pytest.raises(HandposeError, match=r"calibration: .*missing\.json: file not found"):
        load_records({"format": "freihand", "root": str(mini_root), "calibration": str(tmp_path / "missing.json")})
