"""Parts of the benchmark with known answers: scoring rules, the method registry, the CLI."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

import celcolor.models
from celcolor.bench import BenchConfig, Method, MethodSettings, register_method, run_bench
from celcolor.bench.cases import Case, first_shot_length, read_frames, synthetic_cases
from celcolor.bench.methods import ReferenceCopy, get_methods, list_methods, unregister_method
from celcolor.bench.report import markdown, real_suite_markdown, to_json
from celcolor.bench.scoring import MethodRun, MetricFlow, exact_flows, flows_on_colour, score_case
from celcolor.bench.ssim import ssim_opencv
from celcolor.cli import main
from celcolor.data.synthetic import CUT_PRESETS, generate_cut
from celcolor.errors import InputError, UsageError
from celcolor.metrics import ssim

TINY = (160, 96)


@pytest.fixture(scope="module")
def case() -> Case:
    return next(synthetic_cases([TINY], 6, ["fast"]))


def test_identical_output_scores_perfectly(case):
    flows = [exact_flows(case), flows_on_colour(case.truth, MetricFlow())]
    oracle = MethodRun(row="oracle", method="oracle", lines=None, frames=list(case.truth))
    oracle.seconds = 1.0
    scores = score_case(case, [oracle], flows)
    row = scores["rows"]["oracle"]
    assert row["tc"] == {"exact": 1.0, "dis-medium/grey-truth": 1.0}
    assert row["ewarp"] == pytest.approx(scores["truth"]["ewarp"])
    assert row["psnr"] == 100.0 and row["ssim"] == pytest.approx(1.0)
    assert row["region_accuracy"] == 1.0 and row["pixel_accuracy"] == 1.0
    assert row["cdc"] == pytest.approx(scores["truth"]["cdc"])


def test_a_still_output_does_not_look_stable(case):
    """TC follows the truth's motion: a frozen frame is not mistaken for a stable one."""
    flows = [exact_flows(case)]
    still = MethodRun("still", "still", None, frames=[case.truth[0]] * case.num_frames)
    row = score_case(case, [still], flows)["rows"]["still"]
    assert row["tc"]["exact"] > 2.0


def _tiny_run_beside_the_copy(method: Method, presets: tuple[str, ...]) -> dict:
    """A 4-frame synthetic bench run of ``method`` beside the reference copy."""
    register_method(method)
    try:
        config = BenchConfig(
            synthetic_resolutions=(TINY,),
            presets=presets,
            synthetic_frames=4,
            methods=("reference-copy", method.name),
            speed=False,
            memory=False,
        )
        return run_bench(config)
    finally:
        unregister_method(method.name)


class _Broken:
    def __init__(self, reference):
        self.copy = ReferenceCopy(reference)

    def colorize(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        frames = list(frames)
        yield from self.copy.colorize(frames[:-1])  # one frame short


def test_a_method_that_breaks_the_contract_fails_and_loses_its_summary():
    method = Method("broken", "drops the last frame", lambda ref, s: _Broken(ref))
    report = _tiny_run_beside_the_copy(method, ("medium", "slow"))
    proto = report["protocols"]["synthetic"]
    assert len(report["failures"]) == 2
    assert (
        "3 frames out for 4 in" in proto["cases"][0]["scores"]["native"]["rows"]["broken"]["error"]
    )
    assert "failed on 2 of 2 cuts" in proto["summary"]["native"]["rows"]["broken"]["error"]
    assert "psnr" in proto["summary"]["native"]["rows"]["reference-copy"]


class _Rekeying:
    """Copies the reference and says it re-keyed frame 2, as the engine's stats do."""

    def __init__(self, reference):
        self.copy = ReferenceCopy(reference)
        self.stats = dataclasses.make_dataclass("Stats", ["seconds", "rekeyed"])({}, [2])

    def colorize(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        yield from self.copy.colorize(frames)


def test_re_keyed_frames_reach_the_report():
    method = Method("rekeying", "says it re-keyed", lambda ref, s: _Rekeying(ref))
    report = _tiny_run_beside_the_copy(method, ("medium",))
    rows = report["protocols"]["synthetic"]["cases"][0]["scores"]["native"]["rows"]
    assert rows["rekeying"]["rekeyed"] == [2] and rows["reference-copy"]["rekeyed"] == []
    assert "- medium@160x96, rekeying: 1 (2)" in markdown(report)


def test_models_join_through_celcolor_models(monkeypatch):
    monkeypatch.setattr(celcolor.models, "list_models", lambda: ["fake", "unrunnable"])
    monkeypatch.setattr(
        celcolor.models, "shipped_record", lambda name: object() if name == "fake" else None
    )

    def make_colorizer(name, reference, *, ref_frame, lines, device):
        assert name == "fake"
        return ReferenceCopy(reference)

    monkeypatch.setattr(celcolor.models, "make_colorizer", make_colorizer, raising=False)
    methods = {m.name: m for m in list_methods()}
    assert list(methods)[:3] == ["reference-copy", "per-frame", "classical"]
    assert methods["model:fake"].available
    assert not methods["model:unrunnable"].available
    assert "no weights" in methods["model:unrunnable"].reason
    runner = methods["model:fake"].build(np.zeros((8, 8, 3), np.uint8), MethodSettings())
    assert isinstance(runner, ReferenceCopy)
    # Weights given for a model only the engine runs make it available too.
    monkeypatch.delattr(celcolor.models, "make_colorizer")
    methods = {m.name: m for m in list_methods({"unrunnable": "w.safetensors"})}
    assert "nothing runs it" in methods["model:unrunnable"].reason
    with pytest.raises(UsageError, match="unknown method"):
        get_methods(["nope"])
    with pytest.raises(UsageError, match="no such model"):
        list_methods({"nope": "w.safetensors"})


def test_opencv_ssim_equals_the_metrics_ssim():
    cut = generate_cut(
        dataclasses.replace(CUT_PRESETS["crowd"], width=120, height=72, num_frames=3)
    )
    rng = np.random.default_rng(1)
    noisy = np.clip(cut.colour.astype(int) + rng.integers(-40, 40, cut.colour.shape), 0, 255)
    pred = list(noisy.astype(np.uint8))
    ours = ssim_opencv(pred, list(cut.colour)).per_frame
    ref = ssim(pred, list(cut.colour)).per_frame
    assert np.abs(ours - ref).max() < 1e-5
    assert ours.min() < 0.9  # the noise is visible: the check is not trivial


def test_first_shot_length_finds_a_cut():
    a = np.zeros((72, 128, 3), np.uint8)
    a[:, :64] = (200, 40, 40)
    b = np.full((72, 128, 3), (30, 90, 220), np.uint8)
    assert first_shot_length([a, a, a, b, b]) == 3
    shifted = np.roll(a, 5, axis=1)  # motion within a shot is no cut
    assert first_shot_length([a, shifted, a]) == 3


def test_json_is_strict():
    text = to_json({"a": math.nan, "b": math.inf, "c": np.float32(0.5), "d": np.arange(2)})
    assert json.loads(text) == {"a": None, "b": "inf", "c": 0.5, "d": [0, 1]}


def test_cli_lists_methods_and_dry_runs(capsys):
    assert main(["bench", "--list-methods"]) == 0
    out = capsys.readouterr().out
    assert "reference-copy" in out and "classical" in out
    assert main(["bench", "--dry-run", "--quick"]) == 0
    settings = json.loads(capsys.readouterr().out)
    assert settings["synthetic"] is True and settings["synthetic_frames"] == 8
    assert settings["memory_frames"] == [100, 300]
    assert settings["cut_at_shot_change"] is True
    assert main(["bench", "--dry-run", "--quick", "--whole-clips"]) == 0
    assert json.loads(capsys.readouterr().out)["cut_at_shot_change"] is False


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["bench", str(tmp_path)]) == 2  # INPUT without --protocol
    assert "--protocol" in capsys.readouterr().err
    assert main(["bench", "--protocol", "lineart"]) == 2  # no INPUT
    assert main(["bench", str(tmp_path), "--protocol", "synthetic"]) == 2
    assert main(["bench", "--methods", "nope", "--dry-run"]) == 2
    (tmp_path / "report.json").write_text("{}")
    assert main(["bench", "-o", str(tmp_path), "--presets", "slow", "--frames", "2"]) == 1
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args,message",
    [
        (["--resolutions", "100000x100000"], "at most 8192 pixels"),
        (["--resolutions", ""], "one or more WIDTHxHEIGHT"),
        (["--methods", ","], "one or more names"),
        (["--methods", "classical,classical"], "lists classical twice"),
        (["--presets", "slow, slow"], "lists slow twice"),
        (["--resolutions", "160x96,160X96"], "lists 160x96 twice"),
        (["--memory", "--memory-frames", ","], "one or more numbers"),
        (["--memory", "--memory-frames", "100,100"], "lists 100 twice"),
        (["--methods", "model:matcher"], "none of the methods asked for can run"),
        (["--frames", "100000000"], "--frames must be at most 10000"),
        (["--presets", "nope"], "unknown synthetic preset 'nope'"),
    ],
)
def test_cli_refuses_what_would_run_nothing_or_too_much(capsys, args, message):
    try:
        code = main(["bench", "--no-speed", "--no-memory", *args])
    except SystemExit as e:  # the parser's own refusals exit from inside it
        code = e.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_weights_of_another_model_before_the_run(tmp_path, capsys):
    from celcolor.models import create_model, save_checkpoint

    path = tmp_path / "matcher.safetensors"
    save_checkpoint(create_model("matcher", hidden=8), path, "matcher")
    args = ["bench", "--presets", "slow", "--frames", "2", "--methods", "model:exemplar"]
    assert main([*args, "--checkpoint", f"exemplar={path}", "--dry-run"]) == 2
    assert "weights of the matcher model, not exemplar" in capsys.readouterr().err


def test_cli_refuses_cuda_without_a_gpu_before_the_run(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    args = ["bench", "--no-speed", "--no-memory", "--presets", "slow", "--frames", "2"]
    assert main([*args, "--methods", "model:exemplar", "--device", "cuda"]) == 2
    assert "--device cuda: torch sees no CUDA device" in capsys.readouterr().err


def test_cli_report_folder_that_cannot_be_made_or_run_that_fails_leaves_nothing(
    tmp_path, capsys, monkeypatch
):
    afile = tmp_path / "afile"
    afile.write_text("x")
    quick = ["bench", "--no-speed", "--no-memory", "--presets", "slow", "--frames", "2"]
    assert main([*quick, "-o", str(afile / "sub")]) == 1
    assert "cannot create the folder" in capsys.readouterr().err
    # A run that fails after the folder was made removes the folder it made.
    out = tmp_path / "report"
    code = main([*quick, "--resolutions", "160x96", "--methods", "classical", "-o", str(out)])
    assert code == 0 and (out / "report.json").is_file()  # the same run succeeds ...
    broken = tmp_path / "broken"

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("celcolor.bench.cli.run_bench", fail)
    assert main([*quick, "-o", str(broken)]) != 0
    assert not broken.exists()  # ... and one that fails leaves no folder behind


def test_cli_fails_when_no_input_could_be_scored(tmp_path, caplog):
    clip = tmp_path / "clips" / "broken.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"not a video" * 100)
    args = ["bench", str(clip.parent), "--protocol", "first-frame", "--methods", "classical"]
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        assert main(args) == 1
    assert "1 input not scored (broken" in caplog.text
    assert "no cut or clip could be scored" in caplog.text


def test_bench_exemplar_region_choice_scores_the_paint_of_each_region(monkeypatch):
    from pathlib import Path

    from celcolor.data.synthetic import CutSpec, render_frame

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_exemplar

    frame = render_frame(CutSpec(width=160, height=96, num_frames=2, seed=3), 0, flow=False)
    truth = frame.colour
    mirrored = np.ascontiguousarray(truth[:, ::-1])  # the same paints, in the wrong places
    got = bench_exemplar.region_choice(
        frame.sketch, truth, {"truth": truth, "mirrored": mirrored}, truth
    )
    assert got["truth"] == 1.0
    assert got["mirrored"] < 0.8


def test_bench_exemplar_times_real_keyframes_only_when_the_data_is_there(monkeypatch, tmp_path):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_exemplar

    assert bench_exemplar.real_match_speed(tmp_path / "absent", None) is None
    speed = {"size": "1280x720", "median": 1.1, "max": 2.3, "per_pair": {"a": 1.1, "b": 2.3}}
    res = json.loads((bench_exemplar.RESULTS / "exemplar.json").read_text())  # a whole run
    text = bench_exemplar.markdown({**res, "real_match_speed": speed})
    assert "median 1.10 s, the slowest 2.30 s (1 of 2 over 2 s)" in text


def test_classical_errors_counts_switches_and_guesses_by_region(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import classical_errors as ce

    # four regions: truth colours, propagation's, the matcher's beliefs, guessed or not
    truth = np.array([0, 1, 1, 2])
    propagated = np.array([0, 0, 1, 1])
    belief = np.array([[0.9, 0.1, 0], [0.0, 0.98, 0.02], [0.0, 0.0, 1.0], [0, 0.03, 0.7]])
    guessed = np.array([False, True, False, True])
    rows = [(truth, propagated, belief, guessed)]
    # sure of colour 1 where propagation says 0 (right: fixed); sure of 2 where it
    # says 1 and is right (broken); the fourth is not sure enough (0.7 < 0.9)
    assert ce.switch_counts(rows, 0.9, 0.05) == (1, 1)
    assert ce.switch_counts(rows, 0.5, 0.05) == (2, 1)
    assert ce.guess_counts(truth, propagated, belief, guessed) == {
        "guessed_regions": 2,
        "guess_right": 0,
        "matcher_right_where_guessed": 2,
    }


def test_same_drawing_mixes_keep_the_copy_where_it_is_sure(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import ablate_same_drawing as asd

    from celcolor.lineart.regions import Regions

    # four regions (0: the lines) in a row; the copy and the matcher differ on 2 and 3
    labels = np.array([[0, 1, 2, 3]], np.int32)
    regions = Regions(labels=labels, count=4)
    copy, match = np.array([0, 1, 2, 2], np.uint8), np.array([0, 1, 1, 0], np.uint8)
    placed = np.zeros((4, 3))
    placed[[0, 1, 2, 3], copy] = [1.0, 1.0, 0.9, 0.5]  # the copy is sure of 2, not of 3
    belief = np.full((4, 3), 0.5)
    belief[2, 2], belief[3, 2] = 0.01, 0.3  # the matcher rules out the copy's colour of 2
    k = {
        "frame": type("F", (), {"regions": regions})(),
        "same": True,
        "placed": copy[labels],
        "copy": copy,
        "match": match,
        "textured": np.zeros(4, bool),
        "placed_share": placed,
        "belief": belief,
    }
    rows = asd.rows(k)
    assert rows["placed >= 0.8"][0].tolist() == [0, 1, 2, 0]
    assert rows["belief >= 0.05"][0].tolist() == [0, 1, 1, 2]
    assert rows["agree"][0].tolist() == [0, 1, 1, 0]
    assert rows["auto"][0] is copy
    # another drawing: auto and every mix are the matcher's
    k["same"] = False
    rows = asd.rows(k)
    assert all(rows[name][0] is match for name in ("auto", *asd.MIXES))


def test_first_frame_clips_cut_at_a_shot_change_or_go_whole(tmp_path):
    from celcolor.bench import cases as bench_cases
    from celcolor.io import write_image

    # Two generated shots of four frames each, as one clip (a folder of frames).
    one = generate_cut(dataclasses.replace(CUT_PRESETS["fast"], width=128, height=96, seed=1))
    two = generate_cut(dataclasses.replace(CUT_PRESETS["fast"], width=128, height=96, seed=9))
    for i, frame in enumerate([*one.colour[:4], *two.colour[:4]]):
        write_image(tmp_path / f"f{i}.png", frame)
    assert first_shot_length([*one.colour[:4], *two.colour[:4]]) == 4

    def length(**kw) -> int:
        clip = bench_cases.Clip(tmp_path)
        (found,) = bench_cases.first_frame_cases([clip], min_frames=2, **kw)
        return found.num_frames

    assert length() == 4
    assert length(cut_at_shot_change=False) == 8


def test_a_clip_with_its_own_line_art_is_not_sketched_by_xdog(tmp_path):
    from celcolor.bench import cases as bench_cases
    from celcolor.io import write_image

    # Side by side, as the Anime2Sketch demos: [colour | line art], frame for frame.
    spec = dataclasses.replace(CUT_PRESETS["fast"], width=128, height=96, seed=3, num_frames=8)
    cut = generate_cut(spec)
    for i in range(8):
        write_image(tmp_path / f"f{i}.png", np.hstack([cut.colour[i], cut.sketch[i]]))
    clip = bench_cases.Clip(tmp_path, crop=(0, 0, 128, 96), sketch_crop=(128, 0, 128, 96))
    (case,) = bench_cases.first_frame_cases([clip], min_frames=2)
    assert case.num_frames == 8
    assert all(np.array_equal(s, t) for s, t in zip(case.sketches, cut.sketch, strict=True))
    assert all(np.array_equal(s, t) for s, t in zip(case.truth, cut.colour, strict=True))
    assert case.info["sketches"] == {"path": str(tmp_path), "crop": (128, 0, 128, 96)}
    config = BenchConfig(
        synthetic=False, clips=[clip], methods=("reference-copy",), first_frame_lines=("fill",),
        lvcd_size=False, speed=False, memory=False, cut_at_shot_change=False,
    )  # fmt: skip
    report = run_bench(config)
    assert "(real colour clips, sketches by their own line art," in markdown(report)
    assert "not cut at shot changes), sketches by their own line art" in real_suite_markdown(report)
    # Line art that runs out before the colour does: skipped, and why.
    short = tmp_path / "short"
    short.mkdir()
    for i in range(3):
        write_image(short / f"s{i}.png", cut.sketch[i])
    skipped = []
    clip = bench_cases.Clip(tmp_path, crop=(0, 0, 128, 96), sketch_path=short)
    assert list(bench_cases.first_frame_cases([clip], min_frames=2, skipped=skipped)) == []
    assert "3 frames of line art for 8 colour" in skipped[0].reason


def test_read_frames_reads_up_to_a_count_crops_and_refuses_a_crop_off_the_frame(tmp_path):
    import cv2

    for i in range(3):
        frame = np.full((24, 32, 3), 40 * i, np.uint8)
        frame[2:10, 4:14] = (200, 10 * i, 0)  # the crop below, in RGB
        cv2.imwrite(str(tmp_path / f"f{i}.png"), frame[..., ::-1])
    frames, total = read_frames(tmp_path, 2, (4, 2, 10, 8))
    assert total == 3 and len(frames) == 2
    assert frames[1].shape == (8, 10, 3) and (frames[1] == (200, 10, 0)).all()
    with pytest.raises(InputError, match="lies outside the 32x24 frame"):
        read_frames(tmp_path, 2, (30, 0, 10, 10))


def _aims_row(psnr: float, ewarp: float, tc: float) -> dict:
    return {"psnr": psnr, "ewarp": {"exact": ewarp, "dis": 2 * ewarp}, "tc": {"exact": tc}}


def test_bench_temporal_states_issue_5_aims_met_or_not(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_temporal as bt

    rows = {
        "model:exemplar": _aims_row(20.0, 4.0, 5.0),
        "classical": _aims_row(30.0, 1.0, 1.05),
        "model:temporal": _aims_row(30.5, 1.5, 1.08),  # cut 62%, beats classical, TC met
        "model:temporal@frame-size": _aims_row(19.0, 1.0, 1.5),  # cut 75% but PSNR lost
    }
    weaker = {**rows, "model:temporal": _aims_row(29.0, 1.5, 1.08)}
    report = {
        "protocols": {
            "synthetic": {
                "summary": {"native": {"cuts": 2, "rows": rows}},
                "cases": [
                    # the long cut: the network 0.5 dB above classical; the short one,
                    # where it falls behind, does not count for the drift aim
                    {"frames": 48, "scores": {"native": {"rows": rows}}},
                    {"frames": 12, "scores": {"native": {"rows": weaker}}},
                ],
            }
        }
    }
    aims = {a["row"]: a for a in bt.issue_aims(report)}
    assert set(aims) == {"model:temporal", "model:temporal@frame-size"}
    net = aims["model:temporal"]
    assert net["ewarp_cut"] == pytest.approx(0.625)
    assert net["ewarp_met"] and net["tc_met"] and net["beats_classical"]
    assert net["long_cuts"] == 1 and net["long_psnr_margin"] == pytest.approx(0.5)
    big = aims["model:temporal@frame-size"]
    assert big["ewarp_cut"] == pytest.approx(0.75) and not big["ewarp_met"]  # PSNR fell
    assert not big["beats_classical"] and not big["tc_met"]
    json.dumps(list(aims.values()))  # written to temporal.json as is
    text = bt.aims_markdown(list(aims.values()))
    line = "| model:temporal | 62% at +10.50 dB | **met** | +0.50 dB | **met** | 1.080 | **met** |"
    assert line in text
    # a tie within the margin is no win; no per-frame row: that aim is not judged
    tie = {k: v for k, v in rows.items() if k != "model:exemplar"}
    tie["model:temporal"] = _aims_row(30.05, 1.5, 1.08)
    report["protocols"]["synthetic"]["summary"]["native"]["rows"] = tie
    long_cut = {"frames": 48, "scores": {"native": {"rows": tie}}}
    report["protocols"]["synthetic"]["cases"] = [long_cut]
    aims = {a["row"]: a for a in bt.issue_aims(report)}
    assert aims["model:temporal"]["beats_classical"] is False
    assert aims["model:temporal"]["ewarp_met"] is None
    assert "no per-frame row | n/a" in bt.aims_markdown(list(aims.values()))


def test_compare_matchers_pairs_the_same_keyframes(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import compare_matchers

    first = {kind: [0.5, 0.7] for kind in compare_matchers.KINDS}
    # The second gains 10 points on every keyframe but one, where it loses 10.
    second = {kind: [0.6, 0.8] for kind in compare_matchers.KINDS}
    second["fast"] = [0.6, 0.6]
    got = compare_matchers.paired(first, second)
    n = 2 * len(compare_matchers.KINDS)
    assert got["keyframes"] == n
    assert got["difference"] == pytest.approx(100 * (0.1 * (n - 1) - 0.1) / n)
    diffs = np.array([0.1] * (n - 1) + [-0.1])
    assert got["standard_error"] == pytest.approx(100 * diffs.std(ddof=1) / np.sqrt(n))
    table = compare_matchers.markdown(("a.safetensors", "shipped"), first, second, got)
    assert "| fast | 60.0% | 60.0% |" in table and f"{got['difference']:+.2f} points" in table


def test_ceiling_oracle_colours_regions_from_the_truth(monkeypatch):
    """The ceiling's oracle rows put the truth where the network would answer: every
    region the truth's colour beats classical propagation on a cut with uncovered
    shapes, and the network mode's oracle is called exactly where the network is."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import ceiling_temporal as ct

    cut = next(synthetic_cases([TINY], 6, ["crowd"]))
    res = ct.run([cut], "auto", "test")
    name = cut.name
    assert set(res) == set(ct.ROWS)
    assert res["classical"][name]["network_frames"] == 0
    only, oracle = res["network-only"][name], res["network-only, oracle"][name]
    assert only["network_frames"] == oracle["network_frames"] == 5  # every in-between
    assert oracle["psnr"] > res["classical"][name]["psnr"] + 0.5  # 1.2 dB when written
    mode, mode_oracle = res["network"][name], res["network, oracle"][name]
    assert mode["network_frames"] == mode_oracle["network_frames"]
    text = ct.markdown({"generated": res}, "python benchmarks/ceiling_temporal.py", 0.1)
    assert "| generated (1 cuts, 0 of 48+) | network-only, oracle |" in text


def test_drift_segments_splits_the_gap_to_classical_by_stretch(monkeypatch):
    """Frame 0 left out, each stretch averaged over the cuts that reach it, other rows
    as their difference from classical on the same frames."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import drift_segments as ds

    def case(name, classical, network):
        rows = {
            "classical": {"per_frame": {"psnr": classical}},
            "model:temporal": {"per_frame": {"psnr": network}},
        }
        return {"name": name, "scores": {"native": {"rows": rows}}}

    long = case("long", [99.0, 30, 30, 20, 20, 10], [99.0, 30, 30, 22, 22, 13])
    short = case("short", [99.0, 40, 40], [0.0, 39, 39])
    report = {"protocols": {"synthetic": {"cases": [long, short]}}}
    per_cut = ds.segments(report, span=3, per_cut=True)
    assert per_cut["synthetic: short"]["model:temporal"] == [(-1.0, 1)]
    table = ds.segments(report, span=3)
    rows = table["synthetic"]
    # frames 1-2 of both cuts, frames 3-5 of the long one
    assert rows["classical"] == [(35.0, 2), (pytest.approx(50 / 3), 1)]
    assert rows["model:temporal"] == [(-0.5, 2), (pytest.approx(7 / 3), 1)]
    text = ds.markdown(table, 3)
    assert "| row | 1-2 | 3-5 |" in text
    assert "| model:temporal vs classical | -0.50 (2) | +2.33 (1) |" in text


def test_the_region_matcher_is_listed_as_a_keyframe_model_not_a_missing_one():
    # The engine runs the matcher for keyframes; the bench's suites score in-betweens.
    from celcolor.bench.methods import list_methods

    (matcher,) = [m for m in list_methods() if m.name == "model:matcher"]
    assert not matcher.available
    assert "keyframe model" in matcher.reason and "bench_exemplar" in matcher.reason


def test_benchmark_stand_ins_must_take_the_engines_calls(monkeypatch):
    # A benchmark's stand-in for an engine function that the engine has since given
    # another argument failed on every cut, and the run ended without its rows.
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import ablate_carry
    from run_bench import module_settings

    from celcolor.engine import detail

    stale = {"smooth_colours": lambda carry, render, soften=0: None}  # three arguments
    with (
        pytest.raises(TypeError, match=r"stand-in for celcolor\.engine\.detail\.smooth_colours"),
        module_settings(detail, **stale),
    ):
        pass
    assert detail.smooth_colours.__name__ == "smooth_colours"  # nothing was left swapped
    for smooth, interpolated in ((False, True), (True, False), (False, False)):
        with ablate_carry.patched(smooth, interpolated, distorted=False, lasting=False):
            pass  # every variant the script runs swaps in stand-ins that fit
    with module_settings(detail, TEXTURE_SHARE=0.5):  # knobs are not functions
        assert detail.TEXTURE_SHARE == 0.5


def test_compare_unseen_leaves_out_either_runs_keys(monkeypatch, tmp_path):
    """Frames pinned as a key in either run score their own truth: left out of both."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import compare_unseen as cu

    def run(keys, psnr):
        return {"cuts": [{"name": "a", "advised": {"keys": keys, "psnr": psnr}}, {"name": "b"}]}

    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(run([2], [10.0, 99.0, 12.0, 14.0])))  # frames 1..4, key 2
    new.write_text(json.dumps(run([3], [11.0, 13.0, 99.0, 15.0])))  # key 3
    rows = cu.compare(cu.advised(old), cu.advised(new))
    assert rows == [("a", [10.0, 14.0], [11.0, 15.0])]  # frames 1 and 4 only
    assert cu.main([str(old), str(new)]) == 0
