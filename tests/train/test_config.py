"""Recipes: overrides, unknown or ill-typed fields, and dataset problems reported before the first step."""
import shutil
from pathlib import Path

import pytest
import yaml

from handpose.apps.cli import main as cli
from handpose.train.config import DEFAULTS, load_config
from handpose.pose.model import ENCODERS
from handpose.errors import HandposeError

from ..conftest import ROOT

DETECTOR_CONFIGS = sorted((ROOT / "configs").glob("detector*.yaml"))  # the hand detector's recipes (detect-train)
CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yaml") if p not in DETECTOR_CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_recipes_load(path):
    cfg = load_config(path)
    assert cfg["data"]["train"] and cfg["model"]["arch"] in ENCODERS


@pytest.mark.parametrize("path", DETECTOR_CONFIGS, ids=lambda p: p.name)
def test_shipped_detector_recipes_load(path):
    from handpose.train.detect import load_config as load_detector_config

    cfg = load_detector_config(path)
    assert cfg["data"]["frames"] and cfg["train"]["epochs"] >= 1


def test_both_trainers_take_the_same_override_syntax():
    from handpose.train.detect import load_config as load_detector_config

    detector = load_detector_config(ROOT / "configs" / "detector.yaml", ["train.epochs=3", "train.lr=2e-3"])
    pose = load_config(ROOT / "configs" / "mini_example.yaml", ["train.epochs=3", "train.lr=2e-3"])
    assert detector["train"]["epochs"] == pose["train"]["epochs"] == 3
    assert detector["train"]["lr"] == pose["train"]["lr"] == pytest.approx(2e-3)
    for load, recipe in ((load_detector_config, "detector.yaml"), (load_config, "mini_example.yaml")):
        with pytest.raises(HandposeError, match="unknown config field 'train.nonsense'"):
            load(ROOT / "configs" / recipe, ["train.nonsense=1"])


def test_overrides_are_parsed_as_yaml_values():
    cfg = load_config(ROOT / "configs" / "mini_example.yaml", [
        "train.epochs=5", "augment.scale=[0.5, 1.5]", "train.lr=1e-3", "train.init_weights=null",
        "name=other", "train.amp=false", "augment.rotation=30"])
    assert cfg["train"]["epochs"] == 5 and isinstance(cfg["train"]["epochs"], int)
    assert cfg["augment"]["scale"] == [0.5, 1.5]
    assert cfg["train"]["lr"] == 0.001  # YAML reads "1e-3" as text; a number field takes it as a number
    assert cfg["train"]["init_weights"] is None and cfg["name"] == "other" and cfg["train"]["amp"] is False
    assert cfg["augment"]["rotation"] == 30.0
    # Fields the recipe does not set keep the defaults; the defaults themselves are untouched.
    assert cfg["augment"]["flip"] == DEFAULTS["augment"]["flip"]
    assert DEFAULTS["train"]["epochs"] == 10


@pytest.mark.parametrize("override, message", [
    ("train.epoch=5", "unknown config field 'train.epoch'"),
    ("trian.epochs=5", "unknown config field 'trian.epochs'"),
    ("train.epochs", "must look like key.sub=value"),
    ("train.epochs=abc", "'train.epochs' must be a number"),
    ("train.epochs=2.5", "'train.epochs' must be a whole number"),
    ("train.amp=maybe", "'train.amp' must be true or false"),
    ("data.input_size=100", "'data.input_size' must be a positive multiple of 32"),
    ("train.schedule=linear", "'train.schedule' must be 'cosine' or 'step'"),
    ("model.arch=resnet19", "'model.arch' must be one of resnet18"),
    ("augment.scale=[1.2, 0.8]", "'augment.scale'"),
    ("data.train=[{root: x}]", "data.train[0] must be a mapping with a 'format'"),
])
def test_bad_overrides_name_the_field(override, message):
    with pytest.raises(HandposeError) as e:
        load_config(ROOT / "configs" / "mini_example.yaml", [override])
    assert message in str(e.value)


def test_bad_recipe_files(tmp_path):
    with pytest.raises(HandposeError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {epochs: [1,\n")
    with pytest.raises(HandposeError, match="malformed YAML"):
        load_config(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("augment: {rotate: 30}\n")
    with pytest.raises(HandposeError, match="unknown config field 'augment.rotate'"):
        load_config(unknown)


def broken_copy(tmp_path: Path, mini_root: Path) -> tuple[Path, Path]:
    """A copy of the mini-example and a tiny recipe that trains on it."""
    data = tmp_path / "mini"
    shutil.copytree(mini_root, data)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "broken", "output": str(tmp_path / "runs"),
        "data": {"input_size": 64,
                 "train": [{"format": "freihand", "root": str(data), "split": "training"}],
                 "val": [{"format": "freihand", "root": str(data), "split": "evaluation", "box": "keypoints"}]},
        "train": {"epochs": 1, "batch_size": 2, "workers": 0},
    }))
    return data, recipe


def test_missing_image_is_named_before_the_first_step(tmp_path, mini_root, capsys):
    data, recipe = broken_copy(tmp_path, mini_root)
    (data / "training" / "rgb" / "00000005.jpg").unlink()
    assert cli(["train", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "00000005.jpg" in err and "entry 5" in err and "not found" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing started, nothing written


def test_unreadable_image_is_named_before_the_first_step(tmp_path, mini_root, capsys):
    data, recipe = broken_copy(tmp_path, mini_root)
    (data / "evaluation" / "rgb" / "00000002.jpg").write_bytes(b"")  # an interrupted copy
    (data / "training" / "rgb" / "00000007.jpg").write_text("not a picture")
    assert cli(["train", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err  # the training set is read first (its boxes are the images' sizes)
    assert "00000007.jpg" in err and "not a readable image" in err and "Traceback" not in err
    (data / "training" / "rgb" / "00000007.jpg").write_bytes((mini_root / "training" / "rgb" / "00000007.jpg").read_bytes())
    assert cli(["train", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err  # the validation set crops from the keypoints: the header check finds it
    assert "data.val: entry 2" in err and "00000002.jpg" in err and "not a readable image" in err
    assert not (tmp_path / "runs").exists()


def test_bad_data_entry_is_named(tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("data: {train: [{format: freihand, split: training}]}\n")
    assert cli(["train", "--config", str(recipe)]) == 2
    assert "data.train[0]" in capsys.readouterr().err


def test_base_recipe_is_merged_under_the_child(tmp_path):
    (tmp_path / "parent.yaml").write_text("name: parent\nmodel: {arch: mobilenetv2, head_width: 128}\n"
                                          "train: {epochs: 3, lr: 0.01}\n")
    (tmp_path / "child.yaml").write_text("base: parent.yaml\nname: child\nmodel: {head_width: 256}\ntrain: {epochs: 1}\n")
    cfg = load_config(tmp_path / "child.yaml")
    assert cfg["name"] == "child"
    assert cfg["model"]["arch"] == "mobilenetv2" and cfg["model"]["head_width"] == 256  # mappings merge
    assert cfg["train"]["epochs"] == 1 and cfg["train"]["lr"] == 0.01
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(HandposeError, match="comes back to itself"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(HandposeError, match="nowhere.yaml: config file not found"):
        load_config(tmp_path / "orphan.yaml")


def test_synthetic_ablation_recipes_differ_only_in_the_mix():
    light = load_config(ROOT / "configs" / "frontier_synth.yaml")
    heavy = load_config(ROOT / "configs" / "frontier_synth_heavy.yaml")
    base = load_config(ROOT / "configs" / "frontier.yaml")
    for cfg in (light, heavy):
        assert cfg["train"] == base["train"] and cfg["model"] == base["model"] and cfg["augment"] == base["augment"]
        assert cfg["data"]["train"][:2] == base["data"]["train"]
    assert [light["data"]["train"][2]["weight"], heavy["data"]["train"][2]["weight"]] == [0.8, 3.0]
