"""Both network trainers run end to end on the CPU, and on CUDA where torch sees a GPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from celcolor.models import create_model, save_checkpoint
from celcolor.models.registry import read_metadata
from celcolor.train.exemplar import ExemplarTrainConfig, train_exemplar
from celcolor.train.temporal import TemporalTrainConfig, train_temporal

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]
TINY = {"width": 8, "key_dim": 8, "guides": 1}


@pytest.mark.parametrize("device", DEVICES)
def test_exemplar_training_runs_on_the_device(tmp_path: Path, device: str) -> None:
    cfg = ExemplarTrainConfig(
        out=tmp_path, steps=3, minutes=5, batch=2, size=(64, 48), synthetic=4, real=0,
        heldout=2, gan="wgan-gp", eval_every=1, model=TINY, device=device,
    )  # fmt: skip
    summary = train_exemplar(cfg)
    assert summary["steps"] == 3
    assert summary["data"]["device"].startswith(device)
    assert np.isfinite(summary["final_heldout"]["l1"])
    # The checkpoint loads on the CPU whatever it was trained on.
    meta = read_metadata(Path(summary["checkpoint"]))
    assert json.loads(meta["train_size"]) == [64, 48]


@pytest.mark.parametrize("device", DEVICES)
def test_temporal_training_runs_on_the_device(tmp_path: Path, device: str) -> None:
    torch.manual_seed(0)
    init = tmp_path / "exemplar.safetensors"
    save_checkpoint(create_model("exemplar", **TINY), init, "exemplar")
    cfg = TemporalTrainConfig(
        out=tmp_path / "run", init=str(init), steps=3, minutes=5, batch=2, length=3,
        size=(64, 48), synthetic=2, real=0, heldout=1, eval_every=1, device=device,
        gan="lsgan",
    )  # fmt: skip
    summary = train_temporal(cfg)
    assert summary["steps"] == 3
    assert summary["data"]["device"].startswith(device)
    assert np.isfinite(summary["best_heldout"]["l1"])
    assert Path(summary["checkpoint"]).is_file()
    assert (tmp_path / "run" / "log.jsonl").read_text().count("\n") == 4  # step 0 + 3 evals


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_training_on_cuda_without_a_gpu_is_a_usage_error(tmp_path: Path) -> None:
    from conftest import run_cli

    proc = run_cli("train", "temporal", "--out", tmp_path, "--device", "cuda", "-q")
    assert proc.returncode == 2
    assert "--device cuda" in proc.stderr and "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())
