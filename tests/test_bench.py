"""The benchmark end to end on a tiny suite: every method, every output, sane numbers."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from celcolor.bench import BenchConfig, Clip, LineartCut, run_bench, write_report
from celcolor.bench.cases import discover_lineart_cuts
from celcolor.data.synthetic import CUT_PRESETS, generate_cut, write_cut
from celcolor.errors import UsageError
from celcolor.io import write_image, write_video

TINY = (160, 96)


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory):
    """A full default-shaped run, shrunk: 2 cuts of 160x96 x 8 frames, all built-in methods,
    speed at 160x96, memory at 6 and 12 frames."""
    out = tmp_path_factory.mktemp("bench")
    config = BenchConfig(
        synthetic_resolutions=(TINY,),
        presets=("medium", "fast"),
        synthetic_frames=8,
        methods=("reference-copy", "per-frame", "classical"),
        speed_sizes=(TINY,),
        speed_frames=6,
        memory_frames=(6, 12),
        memory_size=TINY,
    )
    report = run_bench(config, output=out, command="pytest")
    paths = write_report(report, out)
    return report, out, paths


def test_report_files_exist(synthetic_report):
    _, out, paths = synthetic_report
    for key in ("json", "markdown", "table"):
        assert paths[key].is_file() and paths[key].stat().st_size > 0
    data = json.loads(paths["json"].read_text())  # strict JSON: no NaN tokens
    assert data["format"] == 1
    for case in data["protocols"]["synthetic"]["cases"]:
        sheet = out / case["contact_sheet"]
        assert sheet.is_file()
    md = paths["markdown"].read_text()
    assert "| method | TC (exact flow) | PSNR (dB) |" in md
    assert "Produced by `pytest`" in paths["table"].read_text()
    pytest.importorskip("matplotlib")
    assert (out / "plots" / "speed_fps.png").is_file()
    assert (out / "plots" / "synthetic_medium@160x96.png").is_file()


def test_every_method_scored_and_numbers_are_sane(synthetic_report):
    report, _, _ = synthetic_report
    assert report["failures"] == []
    proto = report["protocols"]["synthetic"]
    assert [c["name"] for c in proto["cases"]] == ["medium@160x96", "fast@160x96"]
    for case in proto["cases"]:
        scores = case["scores"]["native"]
        assert set(scores["flows"]) == {"exact", "dis-medium/grey-truth"}
        rows = scores["rows"]
        assert list(rows) == ["reference-copy", "per-frame", "classical"]
        for row in rows.values():
            assert 5 < row["psnr"] <= 100
            assert 0 < row["ssim"] <= 1
            assert row["lpips"] is None or 0 <= row["lpips"] <= 1
            assert 0 <= row["region_accuracy"] <= 1 and 0 <= row["pixel_accuracy"] <= 1
            for flow in scores["flows"]:
                assert math.isfinite(row["tc"][flow]) and row["tc"][flow] > 0
            assert 0 <= row["cdc"] <= math.log(2)
            assert len(row["per_frame"]["psnr"]) == case["frames"]
        # What each stage buys: propagation beats doing nothing on the synthetic cut.
        assert rows["classical"]["psnr"] > rows["reference-copy"]["psnr"] + 5
        assert rows["classical"]["region_accuracy"] > rows["reference-copy"]["region_accuracy"]
        assert rows["classical"]["tc"]["exact"] < rows["reference-copy"]["tc"]["exact"]
        # The reference frame is given to every method: it is left out of the means.
        copy = rows["reference-copy"]
        assert copy["per_frame"]["psnr"][0] == 100.0
        assert copy["psnr"] == pytest.approx(np.mean(copy["per_frame"]["psnr"][1:]))
    summary = proto["summary"]["native"]
    assert summary["cuts"] == 2
    assert summary["rows"]["classical"]["psnr"] == pytest.approx(
        np.mean([c["scores"]["native"]["rows"]["classical"]["psnr"] for c in proto["cases"]])
    )


def test_speed_and_memory_were_measured(synthetic_report):
    report, _, _ = synthetic_report
    (row,) = report["speed"]
    assert row["size"] == list(TINY) and row["frames"] == 6
    assert row["decode"]["fps"] > 0 and row["transcode"]["fps"] > 0 and row["encode"]["fps"] > 0
    classical = row["methods"]["classical"]
    assert classical["path"] == "celcolor.engine.colorize_video"
    assert {"lineart", "flow", "snap", "compose"} <= set(classical["stage_fps"])
    assert classical["x_transcode"] == pytest.approx(
        classical["seconds"] / row["transcode"]["seconds"]
    )
    memory = report["memory"]
    assert [r["frames"] for r in memory["runs"]] == [6, 12]
    for r in memory["runs"]:
        # A fresh process with numpy, OpenCV and PyAV: tens of MiB at least, never GiBs here.
        assert 30 < r["peak_rss_mib"] < 2048
    assert memory["growth"]["to_frames"] == 12


def test_environment_is_recorded(synthetic_report):
    env = synthetic_report[0]["environment"]
    assert env["celcolor"]
    assert env["cpu_count"] >= 1 and env["platform"]
    assert "numpy" in env["libraries"] and "av" in env["libraries"]
    assert synthetic_report[0]["settings"]["synthetic_frames"] == 8


def test_a_clip_folder_with_its_own_line_art_is_found_and_used(tmp_path):
    from celcolor.bench.cases import discover_clips, first_frame_cases

    _, cut = _cut(8)
    shot = tmp_path / "clips" / "shot1"
    shot.mkdir(parents=True)
    write_video(shot / "colour.mkv", list(cut.colour), codec="ffv1")
    (shot / "sketch").mkdir()
    for i, frame in enumerate(cut.sketch):
        write_image(shot / "sketch" / f"f{i}.png", frame)
    (clip,) = discover_clips(tmp_path / "clips")
    assert (clip.label, clip.path, clip.sketch_path) == (
        "shot1",
        shot / "colour.mkv",
        shot / "sketch",
    )
    (case,) = first_frame_cases([clip])
    assert all(np.array_equal(a, b) for a, b in zip(case.sketches, cut.sketch, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(case.truth, cut.colour, strict=True))


def test_long_cut_run_skips_shorter_clips(tmp_path):
    # A long-cut run (bench_temporal --min-real-frames) scores only clips that long.
    _, cut = _cut(8)
    clips = tmp_path / "clips"
    clips.mkdir()
    write_video(clips / "colour.mkv", list(cut.colour), codec="ffv1")
    from celcolor.bench.cases import discover_clips

    common = dict(synthetic=False, clips=discover_clips(clips), methods=("reference-copy",))
    common.update(speed=False, memory=False, lvcd_size=False, first_frame_lines=("fill",))
    report = run_bench(BenchConfig(min_clip_frames=9, **common))
    proto = report["protocols"]["first-frame"]
    assert proto["cases"] == []
    assert "fewer than 9" in proto["skipped"][0]["reason"]
    report = run_bench(BenchConfig(min_clip_frames=8, **common))
    assert [c["frames"] for c in report["protocols"]["first-frame"]["cases"]] == [8]
    with pytest.raises(UsageError, match="min-real-frames"):
        BenchConfig(min_clip_frames=1, **common)


def _cut(n=5):
    spec = dataclasses.replace(CUT_PRESETS["medium"], width=TINY[0], height=TINY[1], num_frames=n)
    return spec, generate_cut(spec)


def test_first_frame_protocol_on_colour_clips(tmp_path):
    _, cut = _cut(8)
    clips = tmp_path / "clips"
    clips.mkdir()
    write_video(clips / "colour.mkv", list(cut.colour), codec="ffv1")
    write_video(clips / "sketch.mkv", list(cut.sketch), codec="ffv1")  # not in colour
    from celcolor.bench.cases import discover_clips

    found = discover_clips(clips)
    assert sorted(c.label for c in found) == ["colour", "sketch"]
    config = BenchConfig(
        synthetic=False,
        clips=found,
        methods=("reference-copy", "classical"),
        speed=False,
        memory=False,
        max_frames=8,
    )
    report = run_bench(config, output=tmp_path / "out")
    proto = report["protocols"]["first-frame"]
    assert [s["name"] for s in proto["skipped"]] == ["sketch"]
    (case,) = proto["cases"]
    assert case["frames"] == 8
    native, small = case["scores"]["native"], case["scores"]["256x256"]
    assert small["size"] == [256, 256]
    assert list(native["rows"]) == [
        "reference-copy",
        "classical (lines=fill)",
        "classical (lines=auto)",
    ]
    assert list(native["flows"]) == ["dis-medium/grey-truth"]
    for scores in (native, small):
        for row in scores["rows"].values():
            assert 5 < row["psnr"] <= 100 and "region_accuracy" not in row
    assert set(proto["summary"]) == {"native", "256x256"}


def test_lineart_protocol_without_truth(tmp_path):
    spec = dataclasses.replace(CUT_PRESETS["fast"], width=TINY[0], height=TINY[1], num_frames=5)
    write_cut(spec, tmp_path / "cuts" / "one")
    cuts = discover_lineart_cuts(tmp_path / "cuts")
    assert [c.label for c in cuts] == ["one"]
    config = BenchConfig(
        synthetic=False,
        lineart_cuts=cuts,
        methods=("reference-copy", "classical"),
        speed=False,
        memory=False,
    )
    out = tmp_path / "out"
    report = run_bench(config, output=out)
    (case,) = report["protocols"]["lineart"]["cases"]
    scores = case["scores"]["native"]
    assert scores["truth"] == {}
    assert list(scores["flows"]) == ["dis-medium/sketch"]
    for row in scores["rows"].values():
        assert "psnr" not in row and "tc" not in row
        assert row["ewarp"]["dis-medium/sketch"] >= 0
    assert (out / case["contact_sheet"]).is_file()


def test_discovers_the_line_art_layouts(tmp_path):
    spec = dataclasses.replace(CUT_PRESETS["slow"], width=64, height=48, num_frames=2)
    _, cut = spec, generate_cut(spec)
    pairs = tmp_path / "pairs"
    (pairs / "sketch").mkdir(parents=True)
    (pairs / "reference").mkdir()
    write_video(pairs / "sketch" / "a.mp4", list(cut.sketch))
    write_image(pairs / "reference" / "a.png", cut.colour[0])
    assert [(c.label, Path(c.reference).name) for c in discover_lineart_cuts(pairs)] == [
        ("a", "a.png")
    ]
    flat = tmp_path / "flat"
    flat.mkdir()
    write_video(flat / "b.mp4", list(cut.sketch))
    write_image(flat / "b.jpg", cut.colour[0])
    assert [c.label for c in discover_lineart_cuts(flat)] == ["b"]
    demo = tmp_path / "demo"
    demo.mkdir()
    write_video(demo / "sketch.mp4", list(cut.sketch))
    write_image(demo / "first_frame.jpg", cut.colour[0])
    (one,) = discover_lineart_cuts(demo)
    assert Path(one.reference).name == "first_frame.jpg"
    from celcolor.errors import InputError

    with pytest.raises(InputError, match="no line-art cuts"):
        discover_lineart_cuts(tmp_path / "pairs" / "reference")


def test_inputs_are_named_by_their_files():
    assert Clip(Path("x.mp4")).label == "x"
    assert LineartCut(Path("s.mp4"), Path("r.png"), name="n").label == "n"
