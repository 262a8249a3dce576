"""Training on several sources: the per-source mix, source filters, hand-free crops from real photos, MobileNetV2."""
import json

import cv2
import numpy as np
import pytest
import torch

from handpose.data.datasets import HandDataset, HandFreeCrops, load_coco, load_freihand
from handpose.codec import HeatmapCodec
from handpose.errors import DatasetError
from handpose.pose.model import build_model, load_backbone_weights
from handpose.train.data import MixSampler
from handpose.data.transforms import Augment

from ..conftest import SHARED, need

WEIGHTS = SHARED.parent / "weights" / "mobilenet_v2_imagenet.pth"


def grouped_dataset(mini_root, sizes, negatives=0.0):
    records = load_freihand(mini_root, "training")
    out = []
    for g, n in enumerate(sizes):
        for i in range(n):
            r = records[i % len(records)]
            out.append(type(r)(r.image, r.keypoints, r.visibility, r.box, {"group": g}))
    return HandDataset(out, HeatmapCodec((64, 64), (16, 16)), Augment(), negatives=negatives)


def test_mix_sampler_draws_weight_times_size_capped(mini_root):
    ds = grouped_dataset(mini_root, [20, 6], negatives=0.25)
    specs = [{"name": "big", "weight": 0.5}, {"name": "small", "weight": 2.0, "cap": 10}]
    sampler = MixSampler(ds, specs, seed=1)
    order = list(sampler)
    groups = [ds.records[i].extra["group"] if i < len(ds.records) else "neg" for i in order]
    assert groups.count(0) == 10 and groups.count(1) == 10 and groups.count("neg") == round(0.25 * 26)
    assert len(order) == len(sampler)
    assert sampler.describe() == "big 10, small 10, negatives 6"
    assert len(set(i for i in order if i < 20)) == 10  # under weight 1: distinct samples
    sampler.set_epoch(0)
    assert list(sampler) == order  # replays for the same (seed, epoch): exact resume
    sampler.set_epoch(1)
    assert list(sampler) != order


def test_mix_sampler_gives_ranks_equal_disjoint_shares(mini_root):
    ds = grouped_dataset(mini_root, [7])
    shares = [list(MixSampler(ds, [{}], seed=0, rank=r, world=2)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 4
    assert set(shares[0] + shares[1]) == set(range(7))


def write_frames(tmp_path, boxes_per_frame, sources):
    frames = []
    for i, (boxes, src) in enumerate(zip(boxes_per_frame, sources)):
        img = np.full((240, 320, 3), 90, np.uint8)
        for x, y, w, h in boxes:  # the "hand" is white: a crop that touches it is not hand-free
            img[int(y):int(y + h), int(x):int(x + w)] = 255
        cv2.imwrite(str(tmp_path / f"f{i}.jpg"), img)
        frames.append({"file_name": f"f{i}.jpg", "width": 320, "height": 240, "source": src, "boxes": boxes})
    path = tmp_path / "frames.json"
    path.write_text(json.dumps({"frames": frames}))
    return path


def test_hand_free_squares_keep_clear_of_every_hand(tmp_path):
    path = write_frames(tmp_path, [[[100, 60, 60, 80]], [[20, 20, 40, 40], [250, 150, 50, 60]]], ["a", "b"])
    crops = HandFreeCrops(path)
    rng = np.random.default_rng(0)
    for i in range(40):
        found = crops.square(i, rng)
        assert found is not None
        image, (x, y, side) = found
        patch = image[int(y):int(y + side), int(x):int(x + side)]
        assert patch.max() < 200, f"square {i} touches a hand"
    assert len(HandFreeCrops(path, sources=["b"])) == 1
    assert len(HandFreeCrops(path, exclude_sources=["b"])) == 1
    with pytest.raises(DatasetError, match="no frames left"):
        HandFreeCrops(path, sources=["zzz"])


def test_negatives_are_cut_from_real_photos_when_given(tmp_path, mini_root):
    path = write_frames(tmp_path, [[[100, 60, 60, 80]]], ["a"])
    records = load_freihand(mini_root, "training")
    ds = HandDataset(records, HeatmapCodec((64, 64), (16, 16)), Augment(color=0, hue=0, blur=0, noise=0, occlusion=0),
                     negatives=0.5, hand_free=HandFreeCrops(path), real_negatives=1.0)
    image, heatmaps, weights, _ = ds[len(records)]
    assert float(heatmaps.abs().max()) == 0 and float(weights.min()) == 1
    # The photo is flat grey (90) outside the hand: the crop is that grey, normalised.
    raw = image.numpy().transpose(1, 2, 0) * np.array([0.229, 0.224, 0.225]) + np.array([0.485, 0.456, 0.406])
    assert np.allclose(raw * 255, 90, atol=3)


@need(SHARED / "teacher_hands")
def test_coco_source_filter_holds_a_source_out():
    ann = SHARED / "teacher_hands" / "annotations.json"
    palms = load_coco(ann, sources=["palms"])
    rest = load_coco(ann, exclude_sources=["palms"])
    assert {r.extra["source"] for r in palms} == {"palms"}
    assert "palms" not in {r.extra["source"] for r in rest}
    assert len(palms) + len(rest) == len(load_coco(ann))


def test_mobilenetv2_matches_torchvision_layout():
    model = build_model("mobilenetv2", head_width=128)
    # torchvision's mobilenet_v2 has 3,504,872 parameters, of which the 1280 -> 1000 classifier is 1,281,000.
    assert sum(p.numel() for p in model.backbone.parameters()) == 3_504_872 - 1_281_000
    keys = set(model.backbone.state_dict())
    assert {"features.0.0.weight", "features.1.conv.0.0.weight", "features.1.conv.1.weight",
            "features.2.conv.3.running_var", "features.18.1.bias"} <= keys
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 192, 192)).shape == (1, 21, 48, 48)
    assert build_model("mobilenetv2", num_deconv=2).stride == 8


@need(WEIGHTS)
def test_imagenet_mobilenetv2_loads_with_only_the_classifier_left():
    model = build_model("mobilenetv2")
    loaded, unused = load_backbone_weights(model, str(WEIGHTS))
    assert loaded == len(model.backbone.state_dict()) and sorted(unused) == ["classifier.1.bias", "classifier.1.weight"]
