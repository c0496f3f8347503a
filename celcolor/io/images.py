"""Single images at the edge: read any common format as ``H,W,3`` uint8 RGB, write atomically."""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from celcolor.errors import InputError, OutputError
from celcolor.io._atomic import temp_path_beside

__all__ = [
    "ALPHA_MAY_BE_UNUSED",
    "IMAGE_EXTENSIONS",
    "PILLOW_ONLY",
    "channels_swapped",
    "composite_on_white",
    "is_image_path",
    "natural_key",
    "read_image",
    "to_rgb8",
    "unused_alpha",
    "write_image",
]

#: Lower-case suffixes (with the dot) read as still images.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".tga"}
)
#: Of those, the ones read through Pillow (OpenCV has no decoder for them) and never
#: written: Targa, what anime paint software (RETAS, OpenToonz) exports frames as.
PILLOW_ONLY: frozenset[str] = frozenset({".tga"})

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers by value, so ``f2`` sorts before ``f10``."""
    # Tag each part so ints and strs never get compared with each other.
    parts = _DIGITS.split(name)
    return tuple((0, int(p)) if i % 2 else (1, p.casefold()) for i, p in enumerate(parts))


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the path's suffix is one of :data:`IMAGE_EXTENSIONS`."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite uint8 ``rgb`` (H,W,3) with uint8 ``alpha`` (H,W) over a white page."""
    a = alpha.astype(np.uint16)[..., None]
    # out = c*a + 255*(1-a), in integers with rounding: (c*a + 255*(255-a) + 127) // 255
    out = (rgb.astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def to_rgb8(img: np.ndarray, *, bgr: bool = True) -> np.ndarray:
    """Convert a decoded image (grey, grey+alpha, 3 or 4 channels; 8/16-bit or float) to RGB uint8.

    Alpha is composited on white, since line art drawn on a transparent layer means ink
    on paper. ``bgr`` says the colour channels come in OpenCV's BGR order.
    """
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an H,W or H,W,C image with C in 1..4, got shape {img.shape}")
    # Work in float [0, 1] for anything that is not already 8-bit, so 16-bit alpha
    # composites at full precision before the final rounding to 8 bits.
    if img.dtype == np.uint8:
        f = None
    elif img.dtype == np.uint16:
        f = img.astype(np.float32) / 65535.0
    elif np.issubdtype(img.dtype, np.floating):
        f = np.clip(np.nan_to_num(img.astype(np.float32)), 0.0, 1.0)
    else:
        raise ValueError(f"unsupported image sample type {img.dtype}")

    c = img.shape[2]
    if f is None:
        colour = img[..., :3] if c >= 3 else np.repeat(img[..., :1], 3, axis=2)
        if bgr and c >= 3:
            colour = colour[..., ::-1]
        out = composite_on_white(colour, img[..., c - 1]) if c in (2, 4) else colour
        return np.ascontiguousarray(out, dtype=np.uint8)

    colour_f = f[..., :3] if c >= 3 else np.repeat(f[..., :1], 3, axis=2)
    if bgr and c >= 3:
        colour_f = colour_f[..., ::-1]
    if c in (2, 4):
        a = f[..., c - 1 : c]
        colour_f = colour_f * a + (1.0 - a)
    return np.ascontiguousarray(np.rint(colour_f * 255.0).astype(np.uint8))


#: Suffixes of formats whose 32-bit files often leave the fourth byte unused, at 0: a
#: BMP's is reserved unless its header says otherwise, and Targa writers (paint and
#: capture tools) leave it 0; viewers show such a file opaque.
ALPHA_MAY_BE_UNUSED: frozenset[str] = frozenset({".bmp", ".tga"})


def unused_alpha(img: np.ndarray) -> bool:
    """Whether a decoded image's alpha (its last of 2 or 4 channels) is 0 everywhere
    while its colour channels hold a picture: an alpha byte the writer left unused.

    Composited, such a file would be a blank white page. A fully transparent image of
    one colour (an empty cel) is not counted: it stays transparent.
    """
    if img.ndim != 3 or img.shape[2] not in (2, 4) or img[..., -1].any():
        return False
    colour = img[..., :-1]
    return bool((colour != colour[0, 0]).any())


def alpha8(img: np.ndarray) -> np.ndarray:
    """The alpha of a decoded image as ``H,W`` uint8 (255 where it has none)."""
    if img.ndim != 3 or img.shape[2] not in (2, 4):
        return np.full(img.shape[:2], 255, np.uint8)
    a = img[..., -1]
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return np.rint(np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0) * 255).astype(np.uint8)


def check_not_a_stream(path: str | os.PathLike[str]) -> None:
    """Refuse a named pipe, socket or device given as an input file.

    celcolor reads an input more than once (a video is probed, decoded and read again
    for its audio), which a stream cannot give; and opening a named pipe that nothing
    writes to blocks for good. A path that is missing is left to the caller to report.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(
            f"{path}: a pipe or device, not a file; celcolor reads its inputs more than "
            "once: save the stream to a file and give that"
        )


def read_image(path: str | os.PathLike[str], keep_alpha: bool = False) -> np.ndarray:
    """Read an image file as ``H,W,3`` uint8 RGB (alpha composited on white, 16-bit scaled).

    ``keep_alpha``: ``H,W,4`` RGBA instead, the colours as stored (not composited) and
    the alpha 255 where the file has none.
    """
    p = Path(path)
    check_not_a_stream(p)
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except FileNotFoundError:
        raise InputError(f"{p}: no such file; check the path") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder, expected an image file") from None
    except OSError as e:
        raise InputError(
            f"{p}: cannot read ({e.strerror or e}); check the file's permissions"
        ) from e
    if data.size == 0:
        raise InputError(f"{p}: the file is empty; re-export the image")
    if data[:8].tobytes() == _PNG_SIGNATURE and (damage := png_damage(data)) is not None:
        # Cut short or damaged (a copy or download that stopped, bytes lost or changed):
        # refused here, before libpng prints its own line about it to stderr.
        raise InputError(f"{p}: the PNG is {damage}; re-export the image")
    # imdecode on bytes (rather than imread) so unreadable files and odd paths fail the same way.
    bgr = p.suffix.lower() not in PILLOW_ONLY
    try:
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if bgr else _pillow_decode(data)
    except cv2.error as e:
        # OpenCV raises, rather than returning None, for a header claiming more pixels
        # than it decodes (CV_IO_MAX_IMAGE_PIXELS): a damaged file, or one far too large.
        raise InputError(f"{p}: cannot be decoded ({_cv_reason(e)}); re-export the image") from None
    if img is None and bgr and _signature(data[:16].tobytes()) is not None:
        # OpenCV refuses some whole files of the types read here that Pillow reads: a
        # PNG whose text chunk (XMP metadata, say) passes libpng's 8 MB limit for such
        # chunks. Damaged files fail in Pillow too, and are refused below; so are files
        # of other types (a PCX named .png), named as such.
        img, bgr = _pillow_decode(data), False
    if img is None or img.size == 0:
        raise InputError(f"{p}: {_not_decoded(data)}")
    if p.suffix.lower() in ALPHA_MAY_BE_UNUSED and unused_alpha(img):
        img = img[..., :-1]  # shown as viewers show it: opaque, not a blank page
    try:
        has_alpha = img.ndim == 3 and img.shape[2] in (2, 4)
        # Kept, the alpha is a channel of its own and the colours stay as stored.
        rgb = to_rgb8(img[..., :-1] if keep_alpha and has_alpha else img, bgr=bgr)
        if keep_alpha:
            rgb = np.dstack([rgb, alpha8(img)])
    except ValueError as e:
        raise InputError(f"{p}: {e}; re-save it as an 8- or 16-bit PNG") from e
    return upright(rgb, exif_orientation(data))


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_damage(data: np.ndarray) -> str | None:
    """Why libpng would fail on a PNG file's bytes (``data``, signature included), as
    far as its chunks show: "truncated (...)" or "damaged (...)"; None when every
    chunk up to IEND is whole, validly named and, if critical, matches its CRC (bytes
    after IEND, and IEND's own CRC, are ignored, as libpng does).

    About 1 ms for a 4 MB frame, a few percent of decoding it. Ancillary chunks'
    CRCs are not checked: libpng only warns about those and decodes the image. A
    compressed stream that was broken before its CRCs were written (a faulty encoder)
    passes; libpng still reports that one itself.
    """
    buf = memoryview(data)
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(buf):
        length = int.from_bytes(buf[pos : pos + 4], "big")
        kind = buf[pos + 4 : pos + 8].tobytes()
        end = pos + 12 + length
        if not kind.isalpha():  # bytes: ASCII letters only
            return "damaged (a chunk has no valid name: bytes lost or changed)"
        if kind == b"IEND":  # whatever follows it, and its own CRC, libpng ignores
            return None
        name = kind.decode("ascii")
        if end > len(buf):
            # Cut short (a copy or download that stopped), or bytes lost inside a file
            # that still ends in its end marker.
            how = "damaged" if b"IEND" in buf[-12:].tobytes() else "truncated"
            return f"{how} (its {name} chunk runs past the end of the file)"
        # An upper-case first letter marks a critical chunk (PNG spec, 5.4).
        crc = int.from_bytes(buf[end - 4 : end], "big")
        if name[0].isupper() and zlib.crc32(buf[pos + 4 : end - 4]) != crc:
            return f"damaged (its {name} chunk fails its CRC check)"
        pos = end
    return "truncated (no end marker)"


#: The first bytes of the image files read here (Targa has none).
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (_PNG_SIGNATURE, "PNG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def _signature(head: bytes) -> str | None:
    """The image type a file's first bytes name (JPEG, PNG, TIFF, WebP, BMP), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((kind for sig, kind in _SIGNATURES if head.startswith(sig)), None)


def quiet_opencv() -> None:
    """Keep OpenCV's own log lines off stderr for good (this process): of a file it
    cannot decode (a damaged TIFF: four lines) it complains beside the one line
    celcolor says of it."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


@contextmanager
def quiet_pillow() -> Iterator[None]:
    """Inside, Pillow's warnings are not printed: of a file it finds broken (a TIFF's
    EXIF cut short) it warns on stderr, beside the one line celcolor says of it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _not_decoded(data: np.ndarray) -> str:
    """Why a file's bytes gave no image, for its error line: an image damaged or cut
    short (a copy that stopped: its first bytes name its type), one of a type not read
    here, or no image at all."""
    from PIL import Image, UnidentifiedImageError

    known = "PNG, JPEG, TIFF, WebP, BMP or TGA"
    ours = _signature(data[:16].tobytes())
    kind = ours
    try:
        with quiet_pillow(), Image.open(io.BytesIO(data.tobytes())) as im:
            kind = kind or im.format
            im.load()
    except (
        OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError
    ) as e:  # fmt: skip
        if kind is not None:  # Pillow's reason, unless it is "cannot identify <BytesIO>"
            why = "" if isinstance(e, UnidentifiedImageError) else " ".join(str(e).split())
            why = f" ({why})" if why else ""
            return f"the {kind} file is damaged or cut short{why}; re-export the image"
    else:
        if ours is not None:  # whole, but not as OpenCV reads the type
            return f"the {ours} file could not be decoded; re-save it as {known}"
        if kind is not None:
            return f"a {kind} file, a type not read here; re-save it as {known}"
    return f"not a readable image; use {known} ({', '.join(sorted(IMAGE_EXTENSIONS))})"


def _cv_reason(e: cv2.error) -> str:
    """An OpenCV decoding error in words: its size limit, else its own first line."""
    if "CV_IO_MAX_IMAGE_PIXELS" in str(e):
        return "its header claims more than 2^30 pixels"
    lines = str(getattr(e, "err", "") or e).strip().splitlines()
    return lines[0] if lines else "OpenCV error"


def _pillow_decode(data: np.ndarray) -> np.ndarray | None:
    """An image Pillow reads (RGB order; grey, grey+alpha, RGB or RGBA; 16-bit grey
    as uint16), or None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with quiet_pillow(), Image.open(io.BytesIO(data.tobytes())) as stored:
            if stored.mode in ("L", "LA", "RGB", "RGBA"):
                return np.asarray(stored)
            if stored.mode.startswith("I"):  # 16- or 32-bit grey: kept deep (to_rgb8
                # scales 16 bits); converted to RGB it would clip at 255, a white page
                return np.clip(np.asarray(stored, np.int64), 0, 65535).astype(np.uint16)
            alpha = "A" in stored.mode or "transparency" in stored.info
            return np.asarray(stored.convert("RGBA" if alpha else "RGB"))
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


#: EXIF orientation tag (0x0112): how to turn the stored pixels to show them upright.
_ORIENTATION = 0x0112
# Orientations 5 to 8 swap width and height.
_TRANSPOSED = frozenset({5, 6, 7, 8})


def exif_orientation(data: np.ndarray | bytes) -> int:
    """The EXIF orientation (1 to 8) of an image file's bytes; 1 when it has none.

    Phones and scanners store a photo of a drawing on its side and say so in EXIF, and
    every viewer turns it: so does celcolor (OpenCV's unchanged-depth decoding does not,
    but for TIFF, which it turns itself: read as 1 here).
    """
    from PIL import Image, UnidentifiedImageError

    head = data[:65536].tobytes() if isinstance(data, np.ndarray) else data[:65536]
    if not may_say_orientation(head):
        return 1  # most frames: no EXIF, and no reason to parse them (PIL decodes a PNG)
    buf = data.tobytes() if isinstance(data, np.ndarray) else data
    try:
        with quiet_pillow(), Image.open(io.BytesIO(buf)) as im:
            value = im.getexif().get(_ORIENTATION, 1)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def may_say_orientation(head: bytes) -> bool:
    """Whether a file starting with ``head`` may hold EXIF (cheap, by its markers)."""
    if head[:2] == b"\xff\xd8":  # JPEG: an APP1 Exif segment comes first
        return b"Exif\x00\x00" in head
    if head[:8] == b"\x89PNG\r\n\x1a\n":  # PNG: an eXIf chunk, before the pixels
        return b"eXIf" in head
    if head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X":  # WebP: the header's EXIF flag
        return len(head) > 20 and bool(head[20] & 0x08)
    return False  # TIFF: OpenCV's decoder turns it itself; BMP and GIF have no EXIF


def upright(img: np.ndarray, orientation: int) -> np.ndarray:
    """``img`` (``H,W[,C]``) as shown under EXIF ``orientation`` (1: as stored)."""
    turned = {
        2: lambda a: a[:, ::-1],  # mirrored left to right
        3: lambda a: a[::-1, ::-1],  # upside down
        4: lambda a: a[::-1],  # mirrored top to bottom
        5: lambda a: a.swapaxes(0, 1),  # transposed
        6: lambda a: np.rot90(a, -1),  # a quarter turn clockwise
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1),  # transversed
        8: lambda a: np.rot90(a, 1),  # a quarter turn anticlockwise
    }.get(orientation)
    return img if turned is None else np.ascontiguousarray(turned(img))


def shown_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """``(w, h)`` of an image stored at ``size`` as shown under EXIF ``orientation``."""
    return (size[1], size[0]) if orientation in _TRANSPOSED else size


def write_image(path: str | os.PathLike[str], rgb: np.ndarray) -> None:
    """Write an ``H,W,3`` uint8 RGB image (or ``H,W,4`` RGBA, to a PNG) atomically (temp
    file beside it, then ``os.replace``)."""
    p = Path(path)
    check_rgb(rgb, alpha=isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 4)
    ext = p.suffix.lower()
    if ext not in IMAGE_EXTENSIONS or ext in PILLOW_ONLY:
        raise OutputError(
            f"{p}: cannot write '{ext or 'no suffix'}' images; use one of "
            f"{', '.join(sorted(IMAGE_EXTENSIONS))}"
        )
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{p}: the folder {parent} does not exist; create it first")
    ok, buf = cv2.imencode(ext, channels_swapped(rgb))
    if not ok:
        raise OutputError(f"{p}: OpenCV could not encode a '{ext}' image; try .png")
    tmp = temp_path_beside(p)
    try:
        # "xb": exclusive create with the umask's usual permissions (mkstemp would make it 0600).
        with open(tmp, "xb") as fh:
            fh.write(buf.tobytes())
        os.replace(tmp, p)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(
            f"{p}: cannot write ({e.strerror or e}); check free space and permissions"
        ) from e
    except BaseException:
        # Never leave a half-written temp behind (KeyboardInterrupt included).
        tmp.unlink(missing_ok=True)
        raise


def check_rgb(rgb: np.ndarray, alpha: bool = False) -> None:
    """Raise ``ValueError`` unless ``rgb`` is an ``H,W,3`` uint8 array (``H,W,4`` RGBA
    with ``alpha``)."""
    channels = 4 if alpha else 3
    if (
        not isinstance(rgb, np.ndarray)
        or rgb.ndim != 3
        or rgb.shape[2] != channels
        or rgb.dtype != np.uint8
    ):
        desc = (
            f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb)
        )
        what = "H,W,4 uint8 RGBA" if alpha else "H,W,3 uint8 RGB"
        raise ValueError(f"expected an {what} image, got {desc}")


def channels_swapped(image: np.ndarray) -> np.ndarray:
    """RGB as BGR, RGBA as BGRA, and back: between numpy's order here and OpenCV's."""
    code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
    return cv2.cvtColor(image, code)
