"""tools/rebuild.py: every shipped model's recipe runs in order from ../shared alone into runs/."""
import importlib.util

import pytest

from handpose.train.config import load_config

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("rebuild", ROOT / "tools" / "rebuild.py")
rebuild = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rebuild)


@pytest.mark.parametrize("model", sorted(rebuild.STEPS))
def test_steps_start_only_from_what_earlier_steps_made_and_never_touch_the_bundled_files(model):
    made: set[str] = set()
    for command, output in rebuild.STEPS[model]:
        assert output.startswith("runs/"), output  # never handpose/weights
        words = command.split()
        if words[1] == "train":  # a pose stage: its starting weights come from an earlier step
            config = words[words.index("--config") + 1]
            start = load_config(ROOT / config)["train"]["init_weights"]
            assert start is None or start in made, f"{config} starts from {start}, which no earlier step makes"
            made.add(output + "best.pt")
        else:
            for word in words:  # every runs/ file a command reads was made before it
                if word.startswith("runs/") and word != output and word.endswith((".pt", ".safetensors", ".json")):
                    assert word in made, f"{command}: {word} is made by no earlier step"
        made.add(output)


def test_a_stage_is_finished_when_its_log_has_every_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr(rebuild, "ROOT", tmp_path)
    run = tmp_path / "runs" / "stage"
    run.mkdir(parents=True)
    assert not rebuild.finished("runs/stage/")
    (run / "config.yaml").write_text("train: {epochs: 2}\n")
    (run / "log.csv").write_text("epoch,AUC\n1,0.5\n")
    assert not rebuild.finished("runs/stage/")  # stopped after epoch 1: --resume continues it
    (run / "log.csv").write_text("epoch,AUC\n1,0.5\n2,0.6\n")
    assert rebuild.finished("runs/stage/")
    assert not rebuild.finished("runs/x.safetensors")
    (tmp_path / "runs" / "x.safetensors").write_bytes(b"")
    assert rebuild.finished("runs/x.safetensors")
