"""celcolor.io: decoding and encoding video, image folders and single images.

Clips are made here with PyAV directly (not with our writer), so reader and writer
are checked against an independent reference.
"""

from __future__ import annotations

import logging
import os
import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import make_clip as make_video

from celcolor.errors import InputError, OutputError
from celcolor.io import (
    Frame,
    check_output,
    open_frames,
    open_writer,
    output_kind,
    read_image,
    resolve_output,
    write_image,
    write_video,
)

W, H = 64, 48


def rect_frame(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A flat background with a rectangle that moves 3 px per frame (known content)."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (230, 200, 60)
    x = (3 * i) % max(1, w - 16)
    img[h // 4 : h // 4 + 12, x : x + 16] = (30, 60, 200)
    return img


def make_clip(
    path: Path,
    pts: list[int],
    time_base: Fraction = Fraction(1, 24),
    w: int = W,
    h: int = H,
    audio_s: float | None = None,
    audio_codec: str = "aac",
) -> Path:
    """An H.264 clip of moving rectangles at the given timestamps, optionally with audio
    (AAC, or ``audio_codec``)."""
    frames = [rect_frame(i, w, h) for i in range(len(pts))]
    return make_video(
        path, frames, pts=pts, time_base=time_base, audio_s=audio_s, audio_codec=audio_codec
    )


def probe(path: Path) -> dict:
    """Decode ``path`` with PyAV: frame times, sizes, and the audio stream's span."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        out = {
            "times": [float(f.pts * v.time_base) for f in frames],
            "size": (frames[0].width, frames[0].height),
            "n": len(frames),
            "tick": float(v.time_base),
            "audio": None,
        }
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            pk = [p for p in c.demux(a) if p.pts is not None]
            start = float(pk[0].pts * pk[0].time_base)
            end = float((pk[-1].pts + pk[-1].duration) * pk[-1].time_base)
            out["audio"] = {"codec": a.codec_context.name, "duration": end - start}
    return out


def recolour(src_path: Path, dst: Path, **kw) -> None:
    """The engine's loop, minus the compute: decode, invert, encode with the source's timing."""
    with (
        open_frames(src_path) as src,
        open_writer(
            dst, width=src.width, height=src.height, fps=src.fps, time_base=src.time_base, **kw
        ) as w,
    ):
        for fr in src:
            w.write(255 - fr.image, fr)


# --------------------------------------------------------------------------- video


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_video_round_trip_keeps_count_timestamps_and_pixels(tmp_path: Path, ext: str) -> None:
    src = make_clip(tmp_path / f"in{ext}", list(range(12)))
    dst = tmp_path / f"out{ext}"
    recolour(src, dst, preset="ultrafast")
    a, b = probe(src), probe(dst)
    assert b["n"] == a["n"] == 12
    assert b["size"] == (W, H)
    tick = max(a["tick"], b["tick"])
    assert np.allclose(a["times"], b["times"], atol=tick + 1e-9)
    with open_frames(dst) as out:
        first = next(iter(out)).image
    assert np.abs(first.astype(int) - (255 - rect_frame(0)).astype(int)).mean() < 4


def test_video_source_metadata_and_frame_fields(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", list(range(5)))
    with open_frames(src) as s:
        assert (s.kind, s.width, s.height, s.num_frames) == ("video", W, H, 5)
        assert s.fps == pytest.approx(24.0)
        assert s.has_audio is False
        frames = list(s)
    assert [f.name for f in frames] == [f"frame_{i:06d}" for i in range(5)]
    assert [f.index for f in frames] == list(range(5))
    assert frames[1].time == pytest.approx(1 / 24, abs=1e-3)
    img = frames[0].image
    assert img.dtype == np.uint8 and img.shape == (H, W, 3) and img.flags.c_contiguous


def test_video_source_can_be_iterated_twice(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mkv", list(range(4)))
    with open_frames(src) as s:
        assert len(list(s)) == 4
        assert len(list(s)) == 4


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_a_video_stored_on_its_side_is_decoded_upright(tmp_path: Path, degrees: int) -> None:
    """A display rotation (a phone clip) turns the frames as players show them, and the
    colouring of it comes out upright, at the size the reference was painted at."""
    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display rotation (PyAV 18 can)")
    upright = [rect_frame(i, 64, 48) for i in range(4)]
    path = tmp_path / "sideways.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=24)
        s.width, s.height = (48, 64) if degrees % 180 else (64, 48)
        s.pix_fmt = "yuv444p"
        s.set_display_rotation(degrees)  # shown turned this far counter-clockwise
        for img in upright:
            stored = np.ascontiguousarray(np.rot90(img, -degrees // 90))
            c.mux(s.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        c.mux(s.encode())
    with open_frames(path) as src:
        got = [f.image for f in src]
    assert (src.width, src.height) == (64, 48)
    assert all(np.abs(g.astype(int) - u).max() <= 2 for g, u in zip(got, upright, strict=True))
    recolour(path, tmp_path / "out.mkv", codec="ffv1")
    assert probe(tmp_path / "out.mkv")["size"] == (64, 48)


def _anamorphic_clip(path: Path) -> Path:
    """Four frames of 64x48 pixels declared 4:3 wide each (shown 16:9 by players)."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.sample_aspect_ratio = Fraction(4, 3)
        for i in range(4):
            c.mux(s.encode(av.VideoFrame.from_ndarray(rect_frame(i), format="rgb24")))
        c.mux(s.encode())
    return path


@pytest.mark.parametrize(
    "ext,codec,kept", [(".mp4", None, True), (".mov", "prores", True), (".webm", None, False)]
)
def test_non_square_pixels_are_declared_in_the_output(
    tmp_path: Path, caplog, ext, codec, kept
) -> None:
    """Anamorphic sources (HDV 1440x1080 shown 16:9) keep their shape when played; an
    encoder whose file cannot say so is named in a warning."""
    src = _anamorphic_clip(tmp_path / "ana.mkv")
    with open_frames(src) as source:
        assert source.sample_aspect == Fraction(4, 3)
        assert (source.width, source.height) == (64, 48)  # pixels as stored
        dst = tmp_path / f"out{ext}"
        with (
            caplog.at_level(logging.WARNING, logger="celcolor"),
            open_writer(dst, width=64, height=48, fps=24, codec=codec,
                        sample_aspect=source.sample_aspect) as w,
        ):  # fmt: skip
            for fr in source:
                w.write(fr.image, fr)
    with av.open(str(dst)) as c:
        declared = c.streams.video[0].sample_aspect_ratio
    assert (declared == Fraction(4, 3)) == kept
    assert ("cannot say so" in caplog.text) == (not kept)


def test_a_coloured_anamorphic_cut_plays_at_its_shape(tmp_path: Path) -> None:
    from celcolor.engine import colorize_video

    src = _anamorphic_clip(tmp_path / "ana.mp4")
    with open_frames(src) as source:
        key = next(iter(source)).image
    write_image(tmp_path / "key.png", key)
    result = colorize_video(src, tmp_path / "key.png", tmp_path / "out.mp4")
    with av.open(str(result.output)) as c:
        assert c.streams.video[0].sample_aspect_ratio == Fraction(4, 3)


@pytest.mark.parametrize("ext", [".mov", ".mp4", ".mkv"])
def test_the_source_timecode_is_kept_for_editorial(tmp_path: Path, ext: str) -> None:
    """A cut exported from an edit carries its start timecode; the coloured cut carries
    the same, so it conforms back (a timecode track in mov and mp4, a tag in mkv)."""
    from celcolor.engine import colorize_video

    src = tmp_path / "cut.mov"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.metadata["timecode"] = "01:00:10:05"
        for i in range(4):
            c.mux(s.encode(av.VideoFrame.from_ndarray(rect_frame(i), format="rgb24")))
        c.mux(s.encode())
    with open_frames(src) as source:
        assert source.timecode == "01:00:10:05"
        write_image(tmp_path / "key.png", next(iter(source)).image)
    out = colorize_video(src, tmp_path / "key.png", tmp_path / f"out{ext}").output
    with open_frames(out) as coloured:
        assert coloured.timecode == "01:00:10:05"
    with open_frames(make_clip(tmp_path / "plain.mp4", list(range(3)))) as plain:
        assert plain.timecode is None


def test_vfr_input_keeps_its_timestamps(tmp_path: Path) -> None:
    pts = [0, 40, 50, 130, 140, 300, 333, 400]  # uneven gaps, in ms
    src = make_clip(tmp_path / "vfr.mkv", pts, time_base=Fraction(1, 1000))
    dst = tmp_path / "vfr_out.mp4"
    recolour(src, dst, preset="ultrafast")
    got = probe(dst)
    assert got["n"] == len(pts)
    assert np.allclose(got["times"], [p / 1000 for p in pts], atol=1e-3 + 1e-9)


@pytest.mark.parametrize(("ext", "threaded"), [(".mp4", False), (".mkv", True)])
def test_audio_is_copied_and_dropped_without_audio_from(
    tmp_path: Path, ext: str, threaded: bool
) -> None:
    src = make_clip(tmp_path / "a.mp4", list(range(24)), audio_s=1.0)
    assert probe(src)["audio"]["codec"] == "aac"
    with_audio, without = tmp_path / f"with{ext}", tmp_path / f"without{ext}"
    recolour(src, with_audio, preset="ultrafast", audio_from=src, threaded=threaded)
    recolour(src, without, preset="ultrafast")
    got = probe(with_audio)["audio"]
    assert got is not None and got["codec"] == "aac"  # copied, not re-encoded
    assert got["duration"] == pytest.approx(probe(src)["audio"]["duration"], abs=0.03)
    assert probe(without)["audio"] is None


@pytest.mark.parametrize(
    ("given", "src_name", "dst_name", "want"),
    [
        ("aac", "a.mp4", "out.webm", "opus"),
        # MP4's muxer takes PCM's header and fails only at the trailer, after the run.
        ("pcm_s16le", "a.mkv", "out.mp4", "aac"),
    ],
)
def test_audio_a_container_cannot_hold_is_reencoded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, given, src_name, dst_name, want
) -> None:
    src = make_clip(tmp_path / src_name, list(range(12)), audio_s=0.5, audio_codec=given)
    assert probe(src)["audio"]["codec"] == given
    dst = tmp_path / dst_name
    with caplog.at_level(logging.WARNING):
        recolour(src, dst, preset="ultrafast", audio_from=src)
    got = probe(dst)
    assert got["n"] == 12
    assert got["audio"]["codec"] == want
    assert got["audio"]["duration"] == pytest.approx(0.5, abs=0.05)
    assert "re-encoding" in caplog.text


def test_pcm_audio_is_copied_into_matroska(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mov", list(range(12)), audio_s=0.5, audio_codec="pcm_s16le")
    kept = tmp_path / "out.mkv"
    recolour(src, kept, preset="ultrafast", audio_from=src)
    assert probe(kept)["audio"]["codec"] == "pcm_s16le"


@pytest.mark.parametrize("ext", [".mp4", ".webm"])
def test_odd_size_round_trips_at_the_same_size(tmp_path: Path, ext: str) -> None:
    w, h = 161, 97
    frames = [rect_frame(i, w, h) for i in range(6)]
    dst = tmp_path / f"odd{ext}"
    assert write_video(dst, frames, preset="ultrafast") == 6
    with open_frames(dst) as s:
        assert (s.width, s.height) == (w, h)
        back = [f.image for f in s]
    assert len(back) == 6
    assert np.abs(back[3].astype(int) - frames[3].astype(int)).mean() < 4


def test_fast_yuv420p_conversion_matches_swscale_on_flat_colour() -> None:
    """The writer's own RGB -> BT.709 limited 4:2:0 agrees with FFmpeg's swscale."""
    from av.video.reformatter import ColorRange, Colorspace

    from celcolor.io.writer import rgb_to_yuv420p

    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
    rgb = np.repeat(np.repeat(blocks, 8, 0), 8, 1)  # flat 8x8 blocks: chroma siting aside
    ref = (
        av.VideoFrame.from_ndarray(rgb, format="rgb24")
        .reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
        .to_ndarray()
        .astype(int)
    )
    ours = rgb_to_yuv420p(rgb).astype(int)
    assert ours.shape == ref.shape == (96, 96)
    assert np.abs(ours[:64] - ref[:64]).max() <= 1  # luma
    # Chroma away from block edges (swscale filters across them, we average 2x2).
    chroma, chroma_ref = ours[64:].reshape(2, 32, 48), ref[64:].reshape(2, 32, 48)
    assert np.abs(chroma - chroma_ref)[:, 1::4, 1::4].max() <= 1


@pytest.mark.parametrize("size", [(96, 64), (96, 66)])
def test_even_sizes_round_trip_through_h264(tmp_path: Path, size: tuple[int, int]) -> None:
    """Heights of 4k (fast conversion) and 4k + 2 (swscale) both keep their colours."""
    w, h = size
    frames = [rect_frame(i, w, h) for i in range(4)]
    dst = tmp_path / "even.mp4"
    write_video(dst, frames, preset="ultrafast", crf=10)
    with open_frames(dst) as s:
        back = [f.image for f in s]
    assert np.abs(back[2].astype(int) - frames[2].astype(int)).mean() < 3


def test_ffv1_is_lossless(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (H + 1, W + 3, 3), dtype=np.uint8) for _ in range(4)]
    dst = tmp_path / "lossless.mkv"
    write_video(dst, frames, codec="ffv1")
    with open_frames(dst) as s:
        back = [f.image for f in s]
    assert len(back) == 4
    for a, b in zip(frames, back, strict=True):
        np.testing.assert_array_equal(a, b)


def test_prores_mov_opens(tmp_path: Path) -> None:
    frames = [rect_frame(i) for i in range(3)]
    dst = tmp_path / "master.mov"
    write_video(dst, frames, codec="prores")
    with open_frames(dst) as s:
        assert (s.width, s.height, s.num_frames) == (W, H, 3)
        back = [f.image for f in s]
    assert np.abs(back[1].astype(int) - frames[1].astype(int)).mean() < 3
    with av.open(str(dst)) as c:
        assert c.streams.video[0].codec_context.name == "prores"


def test_codec_that_cannot_go_in_the_container_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="ffv1 cannot go in"):
        open_writer(tmp_path / "x.mp4", width=W, height=H, codec="ffv1")
    assert list(tmp_path.iterdir()) == []


def test_threaded_writer_matches_the_plain_one(tmp_path: Path) -> None:
    frames = [rect_frame(i) for i in range(8)]
    for name, threaded in (("a.mkv", False), ("b.mkv", True)):
        with open_writer(tmp_path / name, width=W, height=H, codec="ffv1", threaded=threaded) as w:
            for i, img in enumerate(frames):
                buf = img.copy()
                w.write(buf, None)
                buf[:] = 0  # the threaded writer must have taken its own copy
                assert w.frames_written == i + 1
    with open_frames(tmp_path / "a.mkv") as a, open_frames(tmp_path / "b.mkv") as b:
        for fa, fb, ref in zip(a, b, frames, strict=True):
            np.testing.assert_array_equal(fa.image, fb.image)
            np.testing.assert_array_equal(fb.image, ref)


def test_threaded_writer_reraises_an_encoder_failure(tmp_path: Path) -> None:
    dst = tmp_path / "frames"
    w = open_writer(dst, width=W, height=H, threaded=True)
    tmp = w._sink.tmp
    w.write(rect_frame(0))
    os.rename(tmp, tmp_path / "stolen")  # the temp folder vanishes under the worker
    with pytest.raises(OutputError, match="writing the frames failed"):
        for i in range(1, 50):
            w.write(rect_frame(i))
        w.close()
    assert not dst.exists()


# --------------------------------------------------------------------------- bad video inputs


def test_not_a_video_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 50)
    with pytest.raises(InputError, match=r"notes\.mp4"):
        open_frames(bad)


def test_unknown_suffix_and_missing_path_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="neither a video nor an image"):
        open_frames(tmp_path / "x.txt")
    with pytest.raises(InputError, match="no such file"):
        open_frames(tmp_path / "missing.mp4")


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "sound.mkv"
    with av.open(str(path), "w") as c:
        a = c.add_stream("libopus", rate=48000)
        for start in range(0, 48000, 960):
            af = av.AudioFrame.from_ndarray(
                np.zeros((1, 960 * 2), np.int16), format="s16", layout="stereo"
            )
            af.sample_rate, af.pts = 48000, start
            c.mux(a.encode(af))
        c.mux(a.encode(None))
    with pytest.raises(InputError, match="no video stream"):
        open_frames(path)


def test_video_stream_without_frames_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt = 16, 16, "yuv420p"
        c.start_encoding()
    with pytest.raises(InputError, match=r"empty\.mkv"):
        open_frames(path)


def _truncated_mkv(tmp_path: Path) -> Path:
    src = make_clip(tmp_path / "full.mkv", list(range(48)))
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    return cut


def test_truncated_video_raises_after_the_good_frames(tmp_path: Path) -> None:
    cut = _truncated_mkv(tmp_path)
    got: list[Frame] = []
    with open_frames(cut) as s, pytest.raises(InputError) as err:
        for f in s:
            got.append(f)
    assert 0 < len(got) < 48
    msg = str(err.value)
    assert f"decoded {len(got)} of" in msg and "truncated or corrupt" in msg
    assert "\n" not in msg


def test_truncated_video_allowed_gives_the_good_frames(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cut = _truncated_mkv(tmp_path)
    with caplog.at_level(logging.WARNING), open_frames(cut, allow_truncated=True) as s:
        got = list(s)
    assert 0 < len(got) < 48
    assert [f.index for f in got] == list(range(len(got)))
    assert f"decoded {len(got)} of" in caplog.text


def test_truncated_faststart_mp4_uses_the_declared_count(tmp_path: Path) -> None:
    full = tmp_path / "full.mp4"
    with av.open(str(full), "w", options={"movflags": "+faststart"}) as c:
        v = c.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        rng = np.random.default_rng(1)  # noise, so the frames fill the file evenly
        for i in range(48):
            f = av.VideoFrame.from_ndarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
            f.pts = i
            c.mux(v.encode(f))
        c.mux(v.encode(None))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with open_frames(cut) as s, pytest.raises(InputError, match=r"decoded \d+ of 48 frames"):
        for _ in s:
            pass


# --------------------------------------------------------------------------- image inputs


def test_image_folder_in_natural_order(tmp_path: Path) -> None:
    folder = tmp_path / "cut"
    folder.mkdir()
    for n in (10, 2, 1):
        write_image(folder / f"f{n}.png", np.full((8, 12, 3), n, np.uint8))
    (folder / ".hidden.png").write_bytes(b"not read")
    (folder / "notes.txt").write_text("ignored")
    with open_frames(folder) as s:
        assert (s.kind, s.width, s.height, s.num_frames, s.fps) == ("images", 12, 8, 3, None)
        frames = list(s)
    assert [f.name for f in frames] == ["f1", "f2", "f10"]
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 10]
    assert all(f.pts is None and f.time is None for f in frames)


def test_image_folder_with_mixed_sizes_names_the_odd_file(tmp_path: Path) -> None:
    for i, w in enumerate((12, 12, 14, 12)):
        write_image(tmp_path / f"f{i}.png", np.zeros((8, w, 3), np.uint8))
    with pytest.raises(InputError, match=r"f2\.png: is 14x8 but f0\.png is 12x8"):
        open_frames(tmp_path)


def test_a_broken_link_to_a_frame_is_an_input_error(tmp_path: Path) -> None:
    """Not left out (the run went on without the frame, warning of skipped numbers)."""
    for i in (0, 1, 3):
        write_image(tmp_path / f"f{i}.png", np.zeros((8, 12, 3), np.uint8))
    (tmp_path / "f2.png").symlink_to(tmp_path / "gone" / "f2.png")
    (tmp_path / "notes.txt").symlink_to(tmp_path / "gone" / "notes.txt")  # not a frame
    with pytest.raises(InputError, match=r"f2\.png: a link to .*gone.*not there"):
        open_frames(tmp_path)
    (tmp_path / "f2.png").unlink()
    with open_frames(tmp_path) as s:
        assert s.num_frames == 3


def test_empty_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no images"):
        open_frames(tmp_path)


def test_single_image_source(tmp_path: Path) -> None:
    write_image(tmp_path / "key.png", rect_frame(0))
    with open_frames(tmp_path / "key.png") as s:
        assert (s.kind, s.num_frames, s.width, s.height) == ("image", 1, W, H)
        (f,) = list(s)
    assert f.name == "key"
    np.testing.assert_array_equal(f.image, rect_frame(0))


def test_image_folder_to_video_uses_a_constant_rate(tmp_path: Path) -> None:
    folder = tmp_path / "cut"
    folder.mkdir()
    for i in range(5):
        write_image(folder / f"f{i}.png", rect_frame(i))
    dst = tmp_path / "cut.mp4"
    with open_frames(folder) as s, open_writer(dst, width=s.width, height=s.height, fps=12) as w:
        for f in s:
            w.write(f.image, f)
    got = probe(dst)
    assert got["n"] == 5
    assert np.allclose(got["times"], [i / 12 for i in range(5)], atol=1e-3)


# --------------------------------------------------------------------------- outputs


def test_resolve_output_defaults(tmp_path: Path) -> None:
    assert resolve_output(tmp_path / "a.mov", None, "video") == tmp_path / "a_color.mp4"
    assert resolve_output(tmp_path / "cut", None, "images") == tmp_path / "cut_color"
    assert resolve_output(tmp_path / "k.jpg", None, "image") == tmp_path / "k_color.png"
    assert resolve_output(tmp_path / "a.mov", tmp_path / "x.mkv", "video") == tmp_path / "x.mkv"


def test_output_kind(tmp_path: Path) -> None:
    assert output_kind(tmp_path / "a.mp4") == "video"
    assert output_kind(tmp_path / "a.PNG") == "image"
    assert output_kind(tmp_path / "frames") == "folder"
    assert output_kind(f"{tmp_path}/shot.v2/") == "folder"
    assert output_kind(tmp_path) == "folder"
    with pytest.raises(OutputError, match=r"cannot write '\.gif'"):
        output_kind(tmp_path / "a.gif")


def test_check_output_refusals(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", [0, 1])
    with pytest.raises(OutputError, match="is the input"):
        check_output(src, tmp_path / "." / "in.mp4", overwrite=True)
    with pytest.raises(OutputError, match="exists"):
        check_output(tmp_path / "other.mp4", src, overwrite=False)
    check_output(tmp_path / "other.mp4", src, overwrite=True)  # allowed when asked
    with pytest.raises(OutputError, match="does not exist"):
        check_output(src, tmp_path / "nope" / "out.mp4", overwrite=False)
    with pytest.raises(OutputError, match="inside this output folder"):
        check_output(src, tmp_path, overwrite=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    check_output(src, empty, overwrite=False)  # an empty folder holds nothing to lose


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_check_output_unwritable_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="not writable"):
            check_output(tmp_path / "in.mp4", ro / "out.mp4")
    finally:
        ro.chmod(0o755)


def test_writer_refuses_existing_output_without_overwrite(tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"precious")
    with pytest.raises(OutputError, match="exists"):
        open_writer(dst, width=W, height=H)
    assert dst.read_bytes() == b"precious"
    with pytest.raises(OutputError, match="does not exist"):
        open_writer(tmp_path / "missing" / "out.mp4", width=W, height=H)


@pytest.mark.parametrize("name", ["out.mp4", "frames", "one.png"])
def test_exception_in_writer_leaves_nothing_and_keeps_existing(tmp_path: Path, name: str) -> None:
    dst = tmp_path / name
    # First run: nothing there before, so nothing may be there after.
    with pytest.raises(RuntimeError, match="boom"), open_writer(dst, width=W, height=H) as w:
        w.write(rect_frame(0))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    # Second run: an existing output survives a failed overwrite untouched.
    with open_writer(dst, width=W, height=H) as w:
        w.write(rect_frame(0))
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError), open_writer(dst, width=W, height=H, overwrite=True) as w:
        w.write(rect_frame(5))
        raise RuntimeError("boom")
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_folder_overwrite_replaces_frames_but_not_foreign_folders(tmp_path: Path) -> None:
    dst = tmp_path / "frames"
    dst.mkdir()
    write_image(dst / "old.png", rect_frame(0))
    with open_writer(dst, width=W, height=H, overwrite=True) as w:
        w.write(rect_frame(1), Frame(0, rect_frame(1), None, None, "new"))
    assert sorted(p.name for p in dst.iterdir()) == ["new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]  # no temp, no old copy
    (dst / "project.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not images"):
        open_writer(dst, width=W, height=H, overwrite=True)
    assert (dst / "project.txt").exists()


def test_png_folder_writer_names_frames_after_the_source(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mkv", list(range(3)))
    dst = tmp_path / "out/"
    with open_frames(src) as s, open_writer(str(dst) + os.sep, width=W, height=H) as w:
        for f in s:
            w.write(f.image, f)
    assert sorted(p.name for p in dst.iterdir()) == [f"frame_{i:06d}.png" for i in range(3)]


def test_write_rejects_a_wrong_frame(tmp_path: Path) -> None:
    with open_writer(tmp_path / "f", width=W, height=H) as w:
        with pytest.raises(ValueError, match="opened for 64x48"):
            w.write(np.zeros((H, W + 1, 3), np.uint8))
        with pytest.raises(ValueError, match="uint8"):
            w.write(np.zeros((H, W, 3), np.float32))
        w.write(rect_frame(0))
    assert len(list((tmp_path / "f").iterdir())) == 1


def test_prefetch_over_a_video_source_stopped_early(tmp_path: Path) -> None:
    from celcolor.io import prefetch

    src = make_clip(tmp_path / "in.mkv", list(range(30)))
    with open_frames(src) as s:
        it = prefetch(s, maxsize=2)
        got = [next(it).index for _ in range(3)]
        # close the source while the worker may be decoding: no crash, no hang
    it.close()
    assert got == [0, 1, 2]
    with pytest.raises(StopIteration):
        next(it)


def test_single_image_to_png_and_image_output_refused_for_a_cut(tmp_path: Path) -> None:
    write_image(tmp_path / "key.png", rect_frame(2))
    src = tmp_path / "key.png"
    with open_frames(src) as s:
        dst = resolve_output(src, None, s.kind)
        check_output(src, dst)
        with open_writer(dst, width=s.width, height=s.height) as w:
            for f in s:
                w.write(f.image, f)
    np.testing.assert_array_equal(read_image(tmp_path / "key_color.png"), rect_frame(2))
    clip = make_clip(tmp_path / "in.mp4", [0, 1])
    with pytest.raises(OutputError, match="holds one frame"):
        check_output(clip, tmp_path / "out.png")


def test_frames_placed_by_time_when_no_time_base_is_given(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "vfr.mkv", [0, 100, 150, 400], time_base=Fraction(1, 1000))
    dst = tmp_path / "out.mkv"
    with open_frames(src) as s, open_writer(dst, width=W, height=H, fps=20) as w:
        for f in s:
            w.write(f.image, f)  # the writer's time base is 1/20 s, not the source's
    assert np.allclose(probe(dst)["times"], [0.0, 0.1, 0.15, 0.4], atol=0.026)


def test_audio_is_muxed_as_the_video_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from celcolor.io import writer as writer_mod

    calls: list[float | None] = []
    real_pump = writer_mod._AudioMuxer.pump

    def spy(self: object, until: float | None) -> None:
        calls.append(until)
        real_pump(self, until)  # type: ignore[arg-type]

    monkeypatch.setattr(writer_mod._AudioMuxer, "pump", spy)
    src = make_clip(tmp_path / "a.mp4", list(range(24)), audio_s=1.0)
    recolour(src, tmp_path / "out.mkv", preset="ultrafast", audio_from=src)
    # Audio up to each video packet's time goes in before that packet (memory stays flat);
    # only the tail is flushed at the end.
    timed = [c for c in calls if c is not None]
    assert len(timed) >= 20 and timed == sorted(timed)
    assert calls[-1] is None


def test_a_full_disk_under_a_png_folder_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    import errno

    from celcolor.io import writer

    written = []

    def full_after_two(path: Path, rgb: np.ndarray) -> None:
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path)
        path.write_bytes(b"png")

    monkeypatch.setattr(writer, "_write_png", full_after_two)
    out = tmp_path / "frames"
    w = writer.open_writer(out, width=16, height=16)
    with pytest.raises(OutputError, match="writing the frames failed \\(No space left"), w:
        for _ in range(4):
            w.write(np.zeros((16, 16, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []  # no output, no temp folder


def test_an_output_name_near_the_filesystem_limit_is_written(tmp_path: Path) -> None:
    """The temp beside the output adds to its name; a 250-byte name must still work, and
    a batch must still find such a temp when a killed run left it."""
    from celcolor.engine.batch_manifest import remove_stale_temps
    from celcolor.io._atomic import temp_path_beside
    from celcolor.io.writer import open_writer

    out = tmp_path / ("x" * 246 + ".mp4")
    with open_writer(out, width=32, height=32, fps=24) as w:
        for _ in range(3):
            w.write(np.zeros((32, 32, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    left = temp_path_beside(out)
    left.write_bytes(b"half a video")
    assert len(left.name.encode()) <= 255
    assert remove_stale_temps([out]) == [left] and not left.exists()


def _frames_named(folder: Path, names: list[str]) -> Path:
    folder.mkdir()
    for i, name in enumerate(names):
        img = np.full((32, 48, 3), 255, np.uint8)
        img[10 + i % 8, :] = 0
        write_image(folder / name, img)
    return folder


def test_a_folder_of_two_cel_layers_is_refused_naming_them(tmp_path: Path) -> None:
    """A0001.. and B0001.. in one folder would be coloured as one cut, B after A."""
    names = [f"{layer}{i:04d}.png" for layer in "AB" for i in range(1, 5)]
    folder = _frames_named(tmp_path / "c012", [*names, "notes.png"])
    with pytest.raises(InputError, match=r"holds 2 numbered sequences, A#\.png \(4 frames\), "
                       r"B#\.png \(4 frames\)"):  # fmt: skip
        open_frames(folder)


@pytest.mark.parametrize(
    "numbers, said",
    [
        ([1, 2, 3, 5, 6, 7], "3 to 5"),
        ([1, 3, 5, 7], None),
        ([1, 2, 3, 4], None),
        ([2, 2, 3, 4, 5], "2 twice"),
    ],
    ids=["a frame missing", "on twos", "every frame", "one number twice"],
)
def test_frame_numbers_that_skip_are_warned_of(
    tmp_path: Path, caplog, numbers: list[int], said: str | None
) -> None:
    names = [f"cut_{n:04d}.png" if i else f"cut_{n:03d}.png" for i, n in enumerate(numbers)]
    folder = _frames_named(tmp_path / "cut", names)
    with caplog.at_level(logging.WARNING, logger="celcolor"), open_frames(folder) as source:
        assert source.num_frames == len(numbers)
    skips = [r.getMessage() for r in caplog.records if "frame numbers skip" in r.getMessage()]
    if said is None:
        assert skips == []
    else:
        assert len(skips) == 1 and f"({said}; the step is 1 elsewhere)" in skips[0]


@pytest.mark.parametrize("rle", [False, True], ids=["raw", "rle"])
def test_targa_frames_read_as_the_paint_software_wrote_them(tmp_path: Path, rle: bool) -> None:
    """RETAS and OpenToonz export TGA: read through Pillow (OpenCV has no decoder), top row
    first whatever the file's origin, alpha kept or composited on white."""
    from PIL import Image

    rgba = np.zeros((12, 20, 4), np.uint8)
    rgba[..., 0] = np.arange(20, dtype=np.uint8)[None] * 12
    rgba[:6, :, 1] = 200  # the top half green: a flipped read would show it at the bottom
    rgba[..., 3] = 255
    rgba[8:, :, 3] = 0  # the bottom rows empty
    path = tmp_path / "A0001.tga"
    Image.fromarray(rgba, "RGBA").save(path, compression="tga_rle" if rle else None)
    assert np.array_equal(read_image(path, keep_alpha=True), rgba)
    shown = read_image(path)
    assert np.array_equal(shown[:8], rgba[:8, :, :3]) and (shown[8:] == 255).all()
    grey = tmp_path / "g.tga"
    Image.fromarray(rgba[..., 1], "L").save(grey)
    assert np.array_equal(read_image(grey)[..., 0], rgba[..., 1])
    with pytest.raises(OutputError, match="read, not written"):
        check_output(path, tmp_path / "out.tga")


@pytest.mark.parametrize("stray", ["layout.png", "f0003 copy.png"])
def test_an_image_beside_the_numbered_frames_is_refused_naming_it(
    tmp_path: Path, stray: str
) -> None:
    """It would be coloured as a frame of the cut, in its place in natural order."""
    names = [f"f{i:04d}.png" for i in range(1, 7)]
    folder = _frames_named(tmp_path / "cut", [*names, stray])
    with pytest.raises(
        InputError, match=rf"{re.escape(stray)} is not of its numbered frames \(f0001\.png "
        r"\.\. f0006\.png, 6 frames\)"
    ):  # fmt: skip
        open_frames(folder)
    with open_frames(folder, exclude=[folder / stray]) as source:  # a reference kept there
        assert source.num_frames == 6


@pytest.mark.parametrize(
    "names",
    [
        [*(f"A.{i:04d}.png" for i in range(1, 9)), "A.0004a.png"],  # OpenToonz's frame 4a
        [*(f"f{i:04d}_v2.png" for i in range(1, 9)), "f0003_v3.png"],  # takes, no sequence
    ],
    ids=["inserted drawing", "takes"],
)
def test_frame_folders_animators_export_are_not_refused(tmp_path: Path, names: list[str]) -> None:
    with open_frames(_frames_named(tmp_path / "cut", names)) as source:
        assert source.num_frames == len(names)
