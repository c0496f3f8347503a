"""celcolor.io.images: every common image layout reads as H,W,3 uint8 RGB."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import write_oversized_png
from PIL import Image

from celcolor.errors import InputError, OutputError
from celcolor.io import IMAGE_EXTENSIONS, natural_key, read_image, write_image
from celcolor.io.images import PILLOW_ONLY, channels_swapped


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["f10.png", "f2.png", "f1.png", "F3.png", "g0.png", "f02b.png"]
    assert sorted(names, key=natural_key) == [
        "f1.png",
        "f2.png",
        "f02b.png",
        "F3.png",
        "f10.png",
        "g0.png",
    ]


def test_image_extensions() -> None:
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".tga"} == set(
        IMAGE_EXTENSIONS
    )
    assert set(PILLOW_ONLY) == {".tga"}  # read, never written


def test_rgb_round_trip_is_exact_and_not_bgr(tmp_path: Path) -> None:
    img = np.zeros((5, 7, 3), np.uint8)
    img[..., 0] = 200  # pure-ish red: a BGR mix-up would show as blue
    img[2, 3] = (1, 2, 3)
    write_image(tmp_path / "a.png", img)
    back = read_image(tmp_path / "a.png")
    assert back.dtype == np.uint8 and back.shape == (5, 7, 3) and back.flags.c_contiguous
    np.testing.assert_array_equal(back, img)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temp left behind


def test_rgba_on_transparent_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    rgba[0, 0] = (0, 0, 0, 255)  # an opaque ink pixel
    rgba[1, 1] = (0, 0, 0, 128)  # half-covered ink
    rgba[2, 2] = (255, 0, 0, 255)  # opaque red
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert img[3, 3].tolist() == [255, 255, 255]  # transparent -> white page, not black
    assert img[0, 0].tolist() == [0, 0, 0]
    assert img[1, 1].tolist() == [127, 127, 127]
    assert img[2, 2].tolist() == [255, 0, 0]


def test_grey_and_grey_alpha(tmp_path: Path) -> None:
    g = np.array([[0, 100], [200, 255]], np.uint8)
    Image.fromarray(g, "L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), np.repeat(g[..., None], 3, 2))
    la = np.stack([g, np.array([[255, 0], [255, 255]], np.uint8)], axis=-1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    img = read_image(tmp_path / "la.png")
    assert img[0, 0].tolist() == [0, 0, 0] and img[0, 1].tolist() == [255, 255, 255]
    assert img[1, 0].tolist() == [200, 200, 200]


def test_16_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    g16 = np.array([[0, 257 * 100], [65535, 32768]], np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    img = read_image(tmp_path / "g16.png")
    assert img[..., 0].tolist() == [[0, 100], [255, 128]]
    bgra = np.zeros((2, 2, 4), np.uint16)
    bgra[..., 2] = 65535  # red in OpenCV's order
    bgra[..., 3] = [[65535, 0], [65535, 65535]]
    cv2.imwrite(str(tmp_path / "c16.png"), bgra)
    img = read_image(tmp_path / "c16.png")
    assert img[0, 0].tolist() == [255, 0, 0]
    assert img[0, 1].tolist() == [255, 255, 255]  # transparent -> white


def test_palette_png_with_and_without_transparency(tmp_path: Path) -> None:
    rgb = np.zeros((3, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 1] = (0, 0, 255)
    p = Image.fromarray(rgb, "RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    p.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), rgb)
    black = p.getpixel((2, 2))  # the palette index of the black background
    p.save(tmp_path / "pt.png", transparency=black)
    img = read_image(tmp_path / "pt.png")
    assert img[2, 2].tolist() == [255, 255, 255]  # transparent index -> white
    assert img[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize("suffix", [".bmp", ".tga"])
def test_32_bit_bmp_and_tga_with_an_unused_alpha_read_opaque(tmp_path: Path, suffix: str) -> None:
    # 32-bit BMP and Targa writers often leave the fourth byte 0: composited, every
    # frame was a blank white page (and the cut came out one flat colour, lines gone).
    rgb = np.full((6, 8, 3), 255, np.uint8)
    rgb[2:4, 1:7] = (0, 0, 0)  # a line
    rgb[0, 0] = (200, 30, 30)
    rgba = np.dstack([rgb, np.zeros((6, 8), np.uint8)])
    if suffix == ".bmp":
        cv2.imwrite(str(tmp_path / "a.bmp"), channels_swapped(rgba))
        assert cv2.imread(str(tmp_path / "a.bmp"), cv2.IMREAD_UNCHANGED).shape[2] == 4
    else:
        Image.fromarray(rgba, "RGBA").save(tmp_path / "a.tga")
    np.testing.assert_array_equal(read_image(tmp_path / f"a{suffix}"), rgb)
    assert (read_image(tmp_path / f"a{suffix}", keep_alpha=True)[..., 3] == 255).all()
    # An empty cel (transparent, one colour) stays an empty white page.
    Image.fromarray(np.zeros((6, 8, 4), np.uint8), "RGBA").save(tmp_path / "empty.tga")
    assert (read_image(tmp_path / "empty.tga") == 255).all()
    # A PNG's alpha is its own: zero everywhere is transparent, as before.
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert (read_image(tmp_path / "a.png") == 255).all()


def test_jpeg_reads_as_rgb(tmp_path: Path) -> None:
    img = np.full((16, 16, 3), (200, 30, 30), np.uint8)
    write_image(tmp_path / "a.jpg", img)
    back = read_image(tmp_path / "a.jpg")
    assert np.abs(back.astype(int) - img.astype(int)).max() < 8


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "empty"), (b"definitely not a png", "not a readable image")],
)
def test_bad_image_files_are_input_errors(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=match) as err:
        read_image(path)
    assert "bad.png" in str(err.value)


@pytest.mark.parametrize("suffix", [".jpg", ".tif", ".webp"])
def test_an_image_cut_short_is_said_to_be_damaged(tmp_path: Path, suffix: str) -> None:
    # Was "not a readable image; use PNG, JPEG, ..." for a .jpg that is a JPEG.
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), np.uint8)
    write_image(tmp_path / f"whole{suffix}", noise)  # the cut falls in the pixels
    data = (tmp_path / f"whole{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"^\S*cut\.\w+: the \w+ file is damaged or cut short"):
        read_image(tmp_path / f"cut{suffix}")


def test_an_image_of_a_type_not_read_is_named(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / "a.png", format="PCX")
    with pytest.raises(InputError, match=r"a\.png: a PCX file, a type not read here; re-save"):
        read_image(tmp_path / "a.png")


def test_missing_image_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_write_image_refusals(tmp_path: Path) -> None:
    img = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(OutputError, match="does not exist"):
        write_image(tmp_path / "missing" / "a.png", img)
    with pytest.raises(OutputError, match=r"cannot write '\.xyz'"):
        write_image(tmp_path / "a.xyz", img)
    with pytest.raises(ValueError, match="H,W,3 uint8"):
        write_image(tmp_path / "a.png", img[..., 0])
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_png_is_named_before_libpng_speaks(tmp_path: Path, capfd) -> None:
    full = tmp_path / "full.png"
    write_image(full, np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InputError, match="the PNG is truncated"):
        read_image(cut)
    assert "libpng" not in capfd.readouterr().err  # one line is ours, none is the library's
    assert read_image(full).shape == (64, 64, 3)


def _chunks(png: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, length of data) of each chunk of a PNG file's bytes."""
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        out.append((png[pos + 4 : pos + 8], pos, length))
        pos += 12 + length
    return out


def _damaged(png: bytes, how: str) -> bytes:
    """``png`` with its first IDAT's middle third cut out, or one byte of it changed;
    its IEND chunk kept either way."""
    _, start, length = next(c for c in _chunks(png) if c[0] == b"IDAT")
    a, b = start + 8 + length // 3, start + 8 + 2 * length // 3
    if how == "cut":
        return png[:a] + png[b:]
    return png[:a] + bytes([png[a] ^ 0x55]) + png[a + 1 :]


@pytest.mark.parametrize("how", ["cut", "changed"])
def test_a_damaged_png_with_its_end_marker_is_named_before_libpng_speaks(
    tmp_path: Path, capfd, how: str
) -> None:
    full = tmp_path / "full.png"
    write_image(full, np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    bad = tmp_path / "bad.png"
    bad.write_bytes(_damaged(full.read_bytes(), how))
    assert bad.read_bytes().endswith(b"IEND\xaeB`\x82")
    with pytest.raises(InputError, match=r"bad\.png: the PNG is damaged \(its IDAT chunk"):
        read_image(bad)
    assert "libpng" not in capfd.readouterr().err  # one line is ours, none is the library's


def test_a_png_whose_ancillary_chunk_fails_its_crc_still_reads(tmp_path: Path) -> None:
    """libpng only warns about those (and drops the chunk): not refused here either."""
    full = tmp_path / "full.png"
    write_image(full, np.full((8, 8, 3), 90, np.uint8))
    png = full.read_bytes()
    iend = _chunks(png)[-1][1]
    text = struct.pack(">I", 5) + b"tEXta\x00bcd" + b"\x00\x00\x00\x00"  # wrong CRC
    (tmp_path / "text.png").write_bytes(png[:iend] + text + png[iend:])
    assert read_image(tmp_path / "text.png").shape == (8, 8, 3)


def test_a_png_libpng_reads_with_a_warning_is_not_refused(tmp_path: Path) -> None:
    """Bytes after the end marker (more than 64 KiB of them), or the end marker's own
    CRC wrong: libpng decodes both, so neither is called damaged or truncated."""
    full = tmp_path / "full.png"
    write_image(full, np.full((8, 8, 3), 90, np.uint8))
    png = full.read_bytes()
    (tmp_path / "padded.png").write_bytes(png + bytes(70_000))
    (tmp_path / "end.png").write_bytes(png[:-4] + b"\x00\x00\x00\x00")
    for name in ("padded.png", "end.png"):
        assert read_image(tmp_path / name).shape == (8, 8, 3)


def test_an_image_claiming_too_many_pixels_is_an_input_error(tmp_path: Path) -> None:
    """OpenCV raises (not returns None) past its pixel limit: still a one-line InputError."""
    path = write_oversized_png(tmp_path / "huge.png")
    with pytest.raises(InputError, match=r"huge\.png: cannot be decoded.*2\^30 pixels"):
        read_image(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_exif_orientation_turns_an_image_as_viewers_show_it(tmp_path: Path, fmt: str) -> None:
    """A phone or scanner stores a drawing on its side and says so in EXIF: read upright,
    as Pillow's exif_transpose (every viewer) shows it, for all eight orientations."""
    from PIL import ImageOps

    stored = np.zeros((40, 64, 3), np.uint8)
    stored[:8] = (255, 0, 0)  # a red band along the stored top
    stored[:, :8] = (0, 0, 255)  # a blue one down the stored left
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.{fmt.lower()}"
        extra = {"lossless": True} if fmt == "WEBP" else {"quality": 100} if fmt == "JPEG" else {}
        Image.fromarray(stored).save(path, format=fmt, exif=exif.tobytes(), **extra)
        with Image.open(path) as im:
            shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        got = read_image(path)
        assert got.shape == shown.shape, orientation
        assert np.abs(got.astype(int) - shown).max() <= 8, orientation  # JPEG's rounding


def test_a_folder_of_frames_shot_on_their_side_is_upright_and_one_size(tmp_path: Path) -> None:
    from celcolor.io import open_frames

    for i in range(3):
        exif = Image.Exif()
        exif[0x0112] = 6  # a quarter turn clockwise to show
        img = np.full((48, 64, 3), 255, np.uint8)
        img[:, : 8 + i] = 0
        Image.fromarray(img).save(tmp_path / f"f{i}.jpg", exif=exif.tobytes())
    with open_frames(tmp_path) as src:
        frames = [f.image for f in src]
    assert (src.width, src.height) == (48, 64)
    assert all(f.shape == (64, 48, 3) for f in frames)
    assert frames[0][:4].mean() < 60 and frames[0][-4:].mean() > 200  # stored left: now top


def test_a_png_opencv_refuses_but_pillow_reads_whole_is_read(tmp_path):
    """libpng (in OpenCV) refuses text chunks over 8 MB, such as large XMP metadata;
    the picture is whole, so it is read (with Pillow) rather than refused."""
    from PIL import Image, PngImagePlugin

    img = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", "x" * 9_000_000)
    path = tmp_path / "key.png"
    Image.fromarray(img).save(path, format="PNG", pnginfo=info)
    assert cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED) is None
    assert np.array_equal(read_image(path), img)


def test_a_16_bit_grey_png_opencv_refuses_keeps_its_levels(tmp_path):
    """Read with Pillow (a text chunk over libpng's limit), 16-bit grey is scaled as
    OpenCV would scale it, not clipped at 255 into a white page."""
    from PIL import Image, PngImagePlugin

    ramp = np.tile(np.linspace(0, 65535, 64), (8, 1)).astype(np.uint16)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", "x" * 9_000_000)
    path, plain = tmp_path / "deep.png", tmp_path / "plain.png"
    Image.fromarray(ramp).save(path, format="PNG", pnginfo=info)
    cv2.imwrite(str(plain), ramp)
    assert cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED) is None
    assert np.abs(read_image(path).astype(int) - read_image(plain)).max() <= 1
