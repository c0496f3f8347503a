"""Both network trainers run end to end on the CPU, and on CUDA where torch sees a GPU."""

from __future__ import annotations

import json
import logging
import re
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


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--minutes", "-1"], "--minutes must be a number above 0"),
        (["--lr", "nan"], "--lr must be a number above 0"),
        (["--batch", "0"], "--batch must be 1 to 4096"),
        (["--synthetic", "0"], "--synthetic must be 1 to"),
        (["--eval-every", "0"], "--eval-every must be 1 or more"),
        (["--seed", "-1"], "--seed must be 0 to 2**32 - 1"),
        (["--threads", "100000"], "--threads must be 0 (all cores) to 1024"),
        (["--guide-dropout", "2"], "--guide-dropout must be a share from 0 to 1"),
        (["--w-long", "-100"], "--w-long must be a number 0 or more"),
        (["--epochs", "0"], "--epochs must be 1 or more"),
        (["--members", "0"], "--members must be 1 or more"),
        (["--tree-members", "-1"], "--tree-members must be 0 or more"),
        (["--tree-keyframes", "-2"], "--tree-keyframes must be 0 or more"),
        (["--workers", "-1"], "--workers must be 0 (one per core) or more"),
        (["--varied", "0", "1.5"], "--varied must be shares from 0 to 1, got 0.0 1.5"),
        (["--varied", "0.5", "0.5"], "--varied lists a share twice"),
        (["--size", "80000", "80000"], "--size must be 16 to 2048 pixels a side"),
        (["--data", "no-such-folder"], "--data no-such-folder: no such folder"),
    ],
)
def test_training_flags_out_of_range_are_refused_before_anything_is_written(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    from celcolor.errors import UsageError
    from celcolor.train.cli import build_parser, run

    out = tmp_path / "run"
    for model in ("exemplar", "temporal", "matcher"):
        args = build_parser("colorize-video train").parse_args([model, "--out", str(out), *flags])
        with pytest.raises(UsageError, match=re.escape(message)):
            run(args)
        assert not out.exists()


def test_training_out_and_init_problems_are_one_line_errors(tmp_path: Path) -> None:
    from conftest import run_cli

    afile = tmp_path / "afile"
    afile.write_text("keep me")
    tiny = ["--synthetic", "1", "--heldout", "1", "--real", "0", "--steps", "1", "-q"]
    cases = [
        (["exemplar", "--out", afile, *tiny], "exists and is not a folder"),
        (["exemplar", "--out", afile / "sub", *tiny], "cannot create the folder"),
        (["temporal", "--out", tmp_path / "t", "--init", "matcher", *tiny], "not exemplar"),
        (["temporal", "--out", tmp_path / "t", "--init", tmp_path, *tiny], "a folder"),
    ]
    for argv, message in cases:
        proc = run_cli("train", *argv)
        assert proc.returncode == 1, proc.stderr
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert afile.read_text() == "keep me" and not (tmp_path / "t").exists()


def test_a_data_folder_without_clips_is_named_in_a_warning(tmp_path: Path, caplog) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    cfg = ExemplarTrainConfig(
        out=tmp_path / "run", steps=1, minutes=5, batch=2, size=(64, 48), synthetic=2, real=2,
        heldout=1, eval_every=1, model=TINY, device="cpu", data=empty,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        summary = train_exemplar(cfg)
    assert summary["data"]["real_pairs"] == 0
    assert f"--data {empty}: no real colour clips there; no real pairs" in caplog.text


def test_flags_another_model_reads_are_named(tmp_path: Path) -> None:
    from celcolor.train.cli import build_parser, unused_flags

    parse = build_parser("colorize-video train").parse_args
    assert unused_flags(
        parse(["temporal", "--no-attention", "--width", "48", "--epochs", "3", "--varied", "0"])
    ) == [
        "--width",
        "--no-attention",
        "--epochs",
        "--varied",
    ]
    assert unused_flags(parse(["exemplar", "--init", "x.safetensors", "--length", "5"])) == [
        "--init",
        "--length",
    ]
    assert unused_flags(parse(["matcher", "--minutes", "3", "--device", "cpu"])) == [
        "--minutes",
        "--device",
    ]
    # the defaults and the flags every model reads are never named
    assert unused_flags(parse(["exemplar", "--lr", "0.01", "--seed", "3", "--width", "48"])) == []
