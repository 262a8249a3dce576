"""`handpose train` as users run it (subprocesses): the article's command, kill -9 then --resume, torchrun."""
import csv
import os
import subprocess
import sys

import pytest
import torch

from handpose.train.loop import load_checkpoint
from handpose.weights import load_model

from ..conftest import ROOT, kill_when

# A tiny recipe: 64 px crops, 6 steps an epoch on the mini-example's 12 training hands.
TINY = ["data.input_size=64", "train.batch_size=2", "train.epochs=3", "train.workers=0"]


def env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def log_rows(run_dir) -> list[dict]:
    with open(run_dir / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


def handpose(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "handpose.apps.cli", *args], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=timeout)


def test_kill_9_mid_epoch_then_resume_finishes_exactly(tmp_path):
    # The reference: the same recipe uninterrupted, through the article's command.
    ref = subprocess.run([sys.executable, "main.py", "-r", "train", "--output", str(tmp_path), "name=ref", *TINY],
                         cwd=ROOT, env=env(), capture_output=True, text=True, timeout=180)
    assert ref.returncode == 0, ref.stderr[-2000:]
    ref_rows = log_rows(tmp_path / "ref")
    assert [r["epoch"] for r in ref_rows] == ["1", "2", "3"]

    run_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "handpose.apps.cli", "train", "--config", "configs/mini_example.yaml",
                             "--output", str(tmp_path), "name=killed", *TINY],
                            cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # epoch 1 saved: epoch 2 starts now
    kill_when(proc, (run_dir / "last.pt").exists, "training ended before its first checkpoint")
    assert load_checkpoint(run_dir / "last.pt")["epoch"] == 1  # killed inside epoch 2
    assert [r["epoch"] for r in log_rows(run_dir)] == ["1"]

    res = handpose("train", "--resume", str(run_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resuming" in res.stdout and "after epoch 1" in res.stdout
    rows = log_rows(run_dir)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]  # every epoch exactly once
    # Exact continuation: the same losses and metrics as the run that was never stopped.
    for got, want in zip(rows, ref_rows):
        for key in ("lr", "train_loss", "AUC", "EPE"):
            assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-6), (got["epoch"], key)
    assert load_checkpoint(run_dir / "last.pt")["epoch"] == 3
    assert (run_dir / "best.pt").is_file() and (run_dir / "curves.png").stat().st_size > 0
    assert not list(run_dir.glob(".*.tmp*"))  # no half-written file left behind

    again = handpose("train", "--resume", str(run_dir))  # a finished run stays finished
    assert again.returncode == 0 and [r["epoch"] for r in log_rows(run_dir)] == ["1", "2", "3"]


def test_resume_errors_are_clear(tmp_path):
    res = handpose("train", "--resume", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and "no last.pt checkpoint" in res.stderr and "Traceback" not in res.stderr


def test_torchrun_two_cpu_processes(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "handpose.apps.cli", "train", "--config", "configs/mini_example.yaml", "--output", str(tmp_path),
           "name=ddp", "train.epochs=2", "train.max_steps_per_epoch=2", *TINY[:2]]
    res = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    run_dir = tmp_path / "ddp"
    # Only rank 0 logs and saves: one start line, one row per epoch, one finish line.
    assert res.stdout.count("training resnet18") == 1 and "2 process(es)" in res.stdout
    assert res.stdout.count("done: best validation AUC") == 1
    assert [r["epoch"] for r in log_rows(run_dir)] == ["1", "2"]
    assert sorted(p.name for p in run_dir.iterdir()) == ["best.pt", "config.yaml", "curves.png", "last.pt", "log.csv"]
    ckpt = load_checkpoint(run_dir / "last.pt")
    assert ckpt["epoch"] == 2 and not any(k.startswith("module.") for k in ckpt["model"])  # not DDP-wrapped
    model, info = load_model(run_dir / "last.pt")
    assert info["input_size"] == 64
    with torch.no_grad():
        assert tuple(model(torch.zeros(1, 3, 64, 64)).shape) == (1, 21, 16, 16)


@pytest.mark.parametrize("native", [True, False])
def test_cpu_bf16_is_used_only_where_the_cpu_has_it(tmp_path, monkeypatch, capsys, native):
    """train.cpu_bf16 asks for bfloat16 autocast; a CPU that would emulate it trains in float32 and says so."""
    from handpose.train import loop
    from handpose.train.config import load_config

    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: native)
    cfg = load_config(str(ROOT / "configs" / "mini_example.yaml"),
                      [f"output={tmp_path}", "name=bf16", "train.cpu_bf16=true", "train.device=cpu", *TINY])
    trainer = loop.Trainer(cfg, tmp_path / "bf16")
    assert trainer.autocast == {"device_type": "cpu", "dtype": torch.bfloat16, "enabled": native}
    assert ("no native bfloat16" in capsys.readouterr().out) is (not native)
