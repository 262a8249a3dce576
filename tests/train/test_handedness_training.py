"""The left/right head trained beside the heatmaps: labels through augmentation, the loss, the recipe fields,
and a tiny end-to-end run (a COCO file made from the mini-example's hands, half of them labelled left)."""
import csv
import json

import cv2
import numpy as np
import pytest
import torch

from handpose.data.datasets import HandDataset, load_freihand
from handpose.data.transforms import Augment
from handpose.errors import HandposeError
from handpose.codec import HeatmapCodec
from handpose.train.config import load_config
from handpose.train.loop import Trainer
from handpose.train.losses import handedness_loss
from handpose.weights import load_model

from ..conftest import MINI

CODEC = HeatmapCodec((64, 64), (16, 16))


def labelled_records(right: list[int | None]):
    records = load_freihand(MINI, "training")[: len(right)]
    for r, y in zip(records, right):
        r.extra["right"] = y
    return records


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_a_mirroring_crop_flips_the_label(flip):
    ds = HandDataset(labelled_records([1, 0, None]), CODEC, Augment(flip=flip, rotation=0.0), negatives=0.5)
    got = [float(ds[i][3]["right"]) for i in range(len(ds))]
    if flip:
        assert got[:3] == [0.0, 1.0, -1.0]  # a mirrored right hand is a left hand; unknown stays unknown
    else:
        assert got[:3] == [1.0, 0.0, -1.0]
    assert got[3:] == [-1.0] * (len(ds) - 3)  # hand-free crops have no side


def test_the_loss_counts_only_labelled_crops():
    logits = torch.tensor([3.0, -3.0, 0.0], requires_grad=True)
    right = torch.tensor([1.0, 0.0, -1.0])
    loss = handedness_loss(logits, right, right >= 0)
    want = torch.nn.functional.binary_cross_entropy_with_logits(logits[:2], right[:2])
    assert float(loss.detach()) == pytest.approx(float(want.detach()))
    loss.backward()
    assert logits.grad[2] == 0  # the unlabelled crop pulls the head nowhere
    none = handedness_loss(logits, torch.full((3,), -1.0), torch.zeros(3, dtype=torch.bool))
    assert float(none.detach()) == 0.0


def write_coco(tmp_path) -> str:
    """The mini-example's 12 training hands as COCO, alternately labelled right and left by hand."""
    records = load_freihand(MINI, "training")
    images, anns = [], []
    for i, r in enumerate(records):
        images.append({"id": i, "file_name": str(r.image.resolve())})
        kps = np.concatenate([r.keypoints, np.full((21, 1), 2.0)], axis=1).reshape(-1).tolist()
        anns.append({"id": i, "image_id": i, "keypoints": kps, "bbox": [float(v) for v in r.box],
                     "hand": "right" if i % 2 == 0 else "left"})
    path = tmp_path / "hands.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1}]}))
    return str(path)


def write_cue_coco(tmp_path, hands: list[str], dark: list[bool]) -> str:
    """The mini-example's 12 training hands as COCO with the given "hand" labels, the images of the hands
    marked ``dark`` saved at a quarter of their brightness: a cue any encoder sees at once, so a head that
    learns from the labels fits them within a few steps (chance: 50 %, both labels equally often)."""
    records = load_freihand(MINI, "training")
    assert len(hands) == len(dark) == len(records)
    images, anns = [], []
    for i, (r, hand, d) in enumerate(zip(records, hands, dark)):
        bgr = cv2.imread(str(r.image))
        path = tmp_path / f"cue_{i}.png"
        cv2.imwrite(str(path), (bgr * 0.25).astype(np.uint8) if d else bgr)
        images.append({"id": i, "file_name": str(path)})
        kps = np.concatenate([r.keypoints, np.full((21, 1), 2.0)], axis=1).reshape(-1).tolist()
        anns.append({"id": i, "image_id": i, "keypoints": kps, "bbox": [float(v) for v in r.box], "hand": hand})
    path = tmp_path / "cue_hands.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1}]}))
    return str(path)


def tiny_config(tmp_path, coco: str, **train) -> dict:
    overrides = {"name": "side", "output": str(tmp_path), "model.arch": "resnet18", "model.handedness": "true",
                 "data.input_size": "64", "data.train": f"[{{format: coco, annotations: {coco}}}]",
                 "data.val": f"[{{format: freihand, root: {MINI}, split: evaluation, box: image}}]",
                 "data.handedness_check": f"[{{format: coco, annotations: {coco}}}]",
                 "train.epochs": "1", "train.batch_size": "4", "train.workers": "0", "train.warmup_epochs": "0",
                 "train.handedness_weight": "1.0", **{f"train.{k}": str(v) for k, v in train.items()}}
    return load_config(None, [f"{k}={v}" for k, v in overrides.items()])


def test_training_fits_the_head_and_the_release_carries_it(tmp_path):
    torch.manual_seed(0)
    # Right hands darkened, left ones not: learnable in a few steps. No mirroring, which would flip the label
    # but keep the brightness (and so make the cue contradict the labels).
    right = [i % 2 == 0 for i in range(12)]
    cfg = tiny_config(tmp_path, write_cue_coco(tmp_path, ["right" if r else "left" for r in right], right), epochs=3)
    cfg["augment"]["flip"] = 0.0
    trainer = Trainer(cfg, tmp_path / "side")
    labels = [r.extra["right"] for r in trainer.train_set.records]
    assert labels == [1, 0] * 6  # the hand-made labels, read from the source
    before = trainer.model.handedness.weight.detach().clone()
    trainer.fit()
    assert not torch.equal(before, trainer.model.handedness.weight.detach())  # the head was trained
    with open(tmp_path / "side" / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # handedness_acc is measured on the same 12 hands (data.handedness_check): a head that learnt the labels
    # gets (nearly) all of them; an untrained head, a wrong sign or labels lost on the way give about 50 %.
    assert float(rows[-1]["handedness_acc"]) >= 11 / 12, rows
    model, info = load_model(tmp_path / "side" / "last.pt")  # what `handpose export` reads
    assert info["handedness"] is True and model.handedness is not None


def test_a_source_can_keep_its_labels_out_of_training(tmp_path):
    coco = write_coco(tmp_path)
    cfg = tiny_config(tmp_path, coco)
    cfg["data"]["train"][0]["handedness"] = False
    trainer = Trainer(cfg, tmp_path / "side")
    assert all(r.extra.get("right") is None for r in trainer.train_set.records)


def test_a_start_without_the_head_is_accepted_and_a_wrong_one_is_named(tmp_path):
    from handpose.checkpoint import save_checkpoint
    from handpose.pose.model import build_model

    coco = write_coco(tmp_path)
    plain = tmp_path / "plain.pt"
    save_checkpoint({"model": build_model("resnet18").state_dict()}, plain)
    Trainer(tiny_config(tmp_path, coco, init_weights=plain), tmp_path / "a")  # the head starts fresh
    wrong = tmp_path / "wrong.pt"
    save_checkpoint({"model": build_model("resnet18", head_width=64).state_dict()}, wrong)
    with pytest.raises(HandposeError, match="init_weights .*does not fit"):
        Trainer(tiny_config(tmp_path, coco, init_weights=wrong), tmp_path / "b")


def test_a_release_starts_a_stage_from_its_tensors(tmp_path):
    """A new stage may start from the bundled release (fp16 .safetensors) on a machine with no run folder."""
    from handpose.pose.model import build_model
    from handpose.weights import model_info
    from handpose.release import save_release

    coco = write_coco(tmp_path)
    torch.manual_seed(1)
    source = build_model("resnet18", handedness=True)
    release = tmp_path / "release.safetensors"
    save_release(source, model_info(tiny_config(tmp_path, coco)), release)
    trainer = Trainer(tiny_config(tmp_path, coco, init_weights=release), tmp_path / "r")
    for name, want in source.state_dict().items():
        got = trainer.model.state_dict()[name]
        assert got.dtype == want.dtype  # fp16 tensors come back as the model's fp32
        assert torch.allclose(got, want.to(torch.float16).to(want.dtype))
    with pytest.raises(HandposeError, match="init_weights .*missing.safetensors: file not found"):
        Trainer(tiny_config(tmp_path, coco, init_weights=tmp_path / "missing.safetensors"), tmp_path / "m")


def test_the_recipe_field_is_checked(tmp_path):
    with pytest.raises(HandposeError, match=r"data.train\[0\].handedness must be true or false"):
        load_config(None, ["data.train=[{format: coco, annotations: x.json, handedness: maybe}]"])


def test_validate_repeats_the_epochs_checks_and_records_them_in_a_release(tmp_path):
    """`handpose train --validate W` runs the checks an epoch ends with, on a model no epoch made (an
    averaged release): on the run's own last checkpoint it gives the scores its log holds."""
    import argparse

    import yaml

    from handpose.apps.train import validate_weights
    from handpose.release import read_release, save_release

    torch.manual_seed(0)
    cfg = tiny_config(tmp_path, write_coco(tmp_path))
    Trainer(cfg, tmp_path / "side").fit()
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with open(tmp_path / "side" / "log.csv", newline="") as f:
        logged = list(csv.DictReader(f))[-1]

    def validate(weights, **kw):
        args = dict(config=str(recipe), resume=None, overrides=[], device=None, json=None, record=False)
        return validate_weights(argparse.Namespace(validate=str(weights), **{**args, **kw}))

    out = tmp_path / "scores.json"
    assert validate(tmp_path / "side" / "last.pt", json=str(out)) == 0
    scores = json.loads(out.read_text())["metrics"]
    for key in ("AUC", "EPE", "handedness_acc"):
        assert scores[key] == pytest.approx(float(logged[key]), abs=1e-4), key

    model, info = load_model(tmp_path / "side" / "last.pt")
    release = tmp_path / "release.safetensors"
    save_release(model, {**info, "metrics": {}}, release)
    validate(release, record=True)
    recorded = read_release(release)[0]
    assert recorded["metrics"]["AUC"] == pytest.approx(scores["AUC"], abs=0.02)  # fp16 weights, same checks
    assert "--validate release.safetensors" in recorded["metrics_note"]
    with pytest.raises(HandposeError, match="--record writes into a release"):
        validate(tmp_path / "side" / "last.pt", record=True)
    with pytest.raises(HandposeError, match="missing.pt: file not found"):
        validate(tmp_path / "missing.pt")
