"""--ref-frame auto: the frame of the cut whose drawing the reference is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from celcolor import ColorizeOptions, Colorizer, UsageError, colorize_video
from celcolor.data.synthetic import CutSpec, render_frame, write_cut
from celcolor.engine import locate_reference
from celcolor.io import read_image
from celcolor.metrics import psnr

SPEC = CutSpec(width=320, height=192, num_frames=24, seed=3, motion=1.5)


@pytest.fixture(scope="module")
def frames():
    return [render_frame(SPEC, i, flow=False) for i in range(SPEC.num_frames)]


@pytest.mark.parametrize("k", [0, 13, 23])
def test_locates_the_frame_of_a_colour_key(frames, k: int) -> None:
    located = locate_reference((f.sketch for f in frames), frames[k].colour)
    assert located.same_drawing
    assert abs(located.frame - k) <= 1  # a neighbour of a slow pose may tie
    # The key of the first drawing, exact up to noise, stops the pass at once.
    assert located.scanned == (1 if k == 0 else len(frames))


def test_a_reference_of_another_cut_keys_frame_0(frames) -> None:
    other = render_frame(CutSpec(width=320, height=192, seed=11, motion=1.5), 5, flow=False)
    located = locate_reference((f.sketch for f in frames), other.colour)
    assert not located.same_drawing and located.frame == 0


def test_a_cut_that_opens_on_blank_paper_keys_its_first_drawing(frames, tmp_path: Path) -> None:
    """A character entering an empty layer: frames 0-4 are blank paper. A reference of
    another drawing then keys frame 5, not the blank frame 0, whose one flat region
    would be carried into the character."""
    from celcolor.io import write_image

    folder = tmp_path / "cut"
    folder.mkdir()
    for i, f in enumerate(frames[:12]):
        sketch = np.full_like(f.sketch, 255) if i < 5 else f.sketch
        write_image(folder / f"frame_{i:04d}.png", sketch)
    other = render_frame(CutSpec(width=320, height=192, seed=11, motion=1.5), 5, flow=False)
    located = locate_reference((read_image(p) for p in sorted(folder.iterdir())), other.colour)
    assert not located.same_drawing and located.first_drawn == 5
    ref = tmp_path / "other.png"
    write_image(ref, other.colour)
    auto = colorize_video(folder, ref, tmp_path / "auto/", ref_frame="auto")
    blank = colorize_video(folder, ref, tmp_path / "blank/", ref_frame=0)
    assert auto.ref_frame == 5 and blank.ref_frame == 0

    def drawn_psnr(out: Path) -> float:  # the frames with the character (5..11)
        done = sorted(out.glob("*.png"))
        assert len(done) == 12
        return float(
            np.mean([psnr(read_image(done[i]), frames[i].colour).mean for i in range(5, 12)])
        )

    # Keyed on blank paper, the character is one colour carried from it (14 dB here);
    # keyed on its first drawing, it is matched to the reference (19 dB).
    assert drawn_psnr(tmp_path / "auto") > drawn_psnr(tmp_path / "blank") + 3


@pytest.fixture(scope="module")
def cut_on_disk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_cut(SPEC, tmp_path_factory.mktemp("locate"), video=False)


def _mean_psnr(folder: Path, gt: Path) -> float:
    outs, truth = sorted(folder.glob("*.png")), sorted(gt.glob("colour_*.png"))
    assert len(outs) == len(truth) == SPEC.num_frames
    return float(
        np.mean([psnr(read_image(o), read_image(t)).mean for o, t in zip(outs, truth, strict=True)])
    )


def test_auto_colours_from_the_keys_own_frame(cut_on_disk, tmp_path: Path) -> None:
    """A colour key of frame 16 handed over without its frame number: auto finds frame
    16, copies it there and propagates both ways; frame 0 would have been matched as
    another drawing."""
    key = cut_on_disk["gt_dir"] / "colour_0016.png"
    sketch = cut_on_disk["sketch_dir"]
    auto = colorize_video(sketch, key, tmp_path / "auto/", ref_frame="auto")
    first = colorize_video(sketch, key, tmp_path / "first/")
    assert abs(auto.ref_frame - 16) <= 1 and first.ref_frame == 0
    at_16 = psnr(read_image(sorted((tmp_path / "auto").glob("*.png"))[16]), read_image(key))
    assert at_16.mean > 35
    gt = cut_on_disk["gt_dir"]
    assert _mean_psnr(tmp_path / "auto", gt) > _mean_psnr(tmp_path / "first", gt) + 2


def test_auto_pins_each_reference_it_finds(cut_on_disk, tmp_path: Path) -> None:
    """Keys of frames 2 and 20 become two keyframes; a reference of another cut keys
    nothing once a key was found (it still feeds the palette and the attention)."""
    gt, sketch = cut_on_disk["gt_dir"], cut_on_disk["sketch_dir"]
    key2, key20 = gt / "colour_0002.png", gt / "colour_0020.png"
    result = colorize_video(sketch, [key20, key2], tmp_path / "two/", ref_frame="auto")
    assert abs(result.ref_frame - 2) <= 1
    outs = sorted((tmp_path / "two").glob("*.png"))
    for k, key in ((2, key2), (20, key20)):
        assert psnr(read_image(outs[k]), read_image(key)).mean > 30
    other = render_frame(CutSpec(width=320, height=192, seed=11, motion=1.5), 5, flow=False)
    result = colorize_video(sketch, [other.colour, key20], tmp_path / "sheet/", ref_frame="auto")
    assert abs(result.ref_frame - 20) <= 1


def test_auto_is_refused_where_it_cannot_work(cut_on_disk) -> None:
    with pytest.raises(UsageError, match="frame number or auto"):
        ColorizeOptions(ref_frame="last")
    key = read_image(cut_on_disk["reference"])
    with pytest.raises(UsageError, match="whole cut"):
        Colorizer(key, ColorizeOptions(ref_frame="auto"))
