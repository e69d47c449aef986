"""Turning image bytes into the RGB pixel arrays that face detection works on.

Photos arrive as files (a reference photo, a sample), as the chip's DG2 (JPEG
or JPEG 2000) or as camera frames.  Whatever the encoding, mode or depth,
``decode_image`` (any format egate reads) and ``decode_chip_photo`` (JPEG and
JPEG 2000 only) return an ``H x W x 3`` array of 8-bit RGB, or raise
``ImageError`` with one line that names the source and says what is wrong;
no other exception leaves them, whatever the bytes.

What a decode may cost is known before it starts:

* the format is told by its first bytes and only the plugins of the formats
  below ever see the data (a DDS or EPS file named ``.jpg`` goes no further);
* pixels are counted from the header before any is decoded (``max_pixels``);
* a progressive JPEG of more than ``MAX_JPEG_SCANS`` scans is refused;
* a picture with ``2 * DECODE_LONG_SIDE`` pixels or more on its long side is
  reduced by 2, 4 or 8 as it loads (JPEG: DCT scaling; JPEG 2000: dropped
  resolution levels) or, for other formats, strip by strip as it is
  converted, so no full-size RGB copy of it is ever made.

Only regular files are read (``read_image_file``): a FIFO, a device or a
directory is refused without waiting on it.  Nothing here changes global
state (Pillow's settings, warning filters), so decoding is safe on any
thread.  Images stay in memory: nothing here writes them anywhere.
"""

from __future__ import annotations

import io
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
    Jpeg2KImagePlugin,
    JpegImagePlugin,
    PngImagePlugin,
    PpmImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
    features,
)

from egate.biometrics.codestream import (
    J2K_SIGNATURE,
    JP2_SIGNATURE,
    j2k_decomposition_levels,
    jpeg_scan_count,
)

RgbImage = npt.NDArray[np.uint8]

# Files taken for photos when a folder is searched.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".j2k", ".ppm", ".pgm"}
)

# 40 megapixels: beyond any camera frame or reference photo a gate meets.
DEFAULT_MAX_PIXELS = 40_000_000
# 4 megapixels: a chip photo (ICAO 9303 DG2) is typically 0.3; nothing
# legitimate comes near this, and a JPEG 2000 of this size decodes in well
# under a second.
MAX_CHIP_PHOTO_PIXELS = 4_000_000
# Files larger than this are not read (a JPEG of 40 MP stays far below).
MAX_FILE_BYTES = 64 * 1024 * 1024
# Encoders write 6 to 12 scans; each scan costs a pass over the whole picture.
MAX_JPEG_SCANS = 64
# Pictures are decoded no smaller than this on the long side.  The detector
# finds faces down to 40 px at its largest working size (512 px, upsampled
# once: 1024), so at 2560 px every face it can find is at least 100 px high,
# the face's size in the 150 x 150 aligned chip the descriptor reads, and
# above the quality gate's 64 px minimum.
DECODE_LONG_SIDE = 2560
# Reduction factors the JPEG decoder offers (and the only ones used).
_FACTORS = (8, 4, 2)
# Pixels converted to RGB at a time: the working memory of a conversion.
_STRIP_PIXELS = 1 << 20

# Format name -> the Pillow plugin class that reads it.
_Opener = Callable[[io.BytesIO], ImageFile.ImageFile]
_OPENERS: dict[str, _Opener] = {
    "JPEG": JpegImagePlugin.JpegImageFile,
    "JPEG 2000": Jpeg2KImagePlugin.Jpeg2KImageFile,
    "PNG": PngImagePlugin.PngImageFile,
    "GIF": GifImagePlugin.GifImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
    "TIFF": TiffImagePlugin.TiffImageFile,
    "WebP": WebPImagePlugin.WebPImageFile,
    "PNM": PpmImagePlugin.PpmImageFile,
}
CHIP_PHOTO_FORMATS = frozenset({"JPEG", "JPEG 2000"})


class ImageError(ValueError):
    """Bytes that cannot be used as an image; the message is one line."""


def image_format(data: bytes) -> str | None:
    """The format the first bytes announce (a key of ``_OPENERS``), or ``None``."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((JP2_SIGNATURE, J2K_SIGNATURE)):
        return "JPEG 2000"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"BM"):
        return "BMP"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "TIFF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    if head[:1] == b"P" and head[1:2] in (b"1", b"2", b"3", b"4", b"5", b"6", b"f"):
        return "PNM"
    return None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# EXIF orientation (tag 0x0112) -> how to turn the pixels upright.
_ORIENTATION_TAG = 0x0112
_UPRIGHT: dict[int, Callable[[RgbImage], RgbImage]] = {
    2: lambda pixels: pixels[:, ::-1],
    3: lambda pixels: pixels[::-1, ::-1],
    4: lambda pixels: pixels[::-1],
    5: lambda pixels: pixels.transpose(1, 0, 2),
    6: lambda pixels: np.rot90(pixels, -1),
    7: lambda pixels: np.rot90(pixels, 2).transpose(1, 0, 2),
    8: lambda pixels: np.rot90(pixels, 1),
}


def _orientation(picture: Image.Image) -> int:
    """The EXIF orientation, 1 (upright) when absent or unreadable.

    Read from the tag alone, not with ``ImageOps.exif_transpose``: that writes
    the EXIF block back, and a damaged tag anywhere in it raises from Pillow's
    writer.
    """
    value = picture.getexif().get(_ORIENTATION_TAG)
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def _reduction(width: int, height: int) -> int:
    """The largest factor (2, 4, 8) that keeps the long side at DECODE_LONG_SIDE or more."""
    long_side = max(width, height)
    return next((f for f in _FACTORS if long_side // f >= DECODE_LONG_SIDE), 1)


def _reduce_on_load(picture: ImageFile.ImageFile, factor: int, data: bytes) -> int:
    """Ask the decoder to reduce by ``factor`` where it can; returns what is left to do."""
    if factor == 1:
        return 1
    width, height = picture.size
    if isinstance(picture, JpegImagePlugin.JpegImageFile):
        drafted = picture.draft(None, (max(1, width // factor), max(1, height // factor)))
        # The decoder's own scale: less than asked only when a side is under 8 px.
        scale = 1 if drafted is None else round(width / drafted[1][2])
        return max(1, factor // scale)
    if isinstance(picture, Jpeg2KImagePlugin.Jpeg2KImageFile):
        levels = min(factor.bit_length() - 1, j2k_decomposition_levels(data) or 0)
        if levels:
            picture.reduce = levels
        return factor >> levels
    return factor


# 16-bit grey level -> 8-bit, rounded: 0-65535 maps onto 0-255.
_SIXTEEN_TO_EIGHT = ((np.arange(65536, dtype=np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _strip_converter(picture: Image.Image) -> Callable[[Image.Image], Image.Image]:
    """What turns a strip of ``picture`` into 8 bits: grey ("L") or RGB, alpha laid on white."""
    mode = picture.mode
    if mode.startswith("I;16"):
        # 16-bit grey (PNG, TIFF) is scaled, not clipped, so a dark photo stays
        # dark for the brightness gate and a flat one keeps its level.
        return lambda strip: Image.fromarray(_SIXTEEN_TO_EIGHT[np.asarray(strip)])
    if mode in ("I", "F"):
        # 32-bit integer or float grey has no fixed range: scale by the range
        # the pixels actually use (found without a copy of the picture).
        extrema = picture.getextrema()
        low, high = (float(value) for value in extrema if isinstance(value, int | float))
        gain = 255.0 / (high - low) if high > low else 0.0

        def ranged(strip: Image.Image) -> Image.Image:
            grey = (np.asarray(strip, dtype=np.float64) - low) * gain
            return Image.fromarray(np.clip(np.nan_to_num(grey) + 0.5, 0, 255).astype(np.uint8))

        return ranged
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in picture.info
    ):

        def on_white(strip: Image.Image) -> Image.Image:
            background = Image.new("RGBA", strip.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, strip.convert("RGBA")).convert("RGB")

        return on_white
    if mode in ("L", "1"):
        return lambda strip: strip.convert("L")
    return lambda strip: strip.convert("RGB")


def _to_rgb(picture: Image.Image, factor: int) -> RgbImage:
    """The loaded picture as RGB pixels reduced by ``factor``, converted strip by strip.

    Converting strips keeps the working memory to one strip: the picture and
    the (reduced) result are the only full-size copies.  Grey stays one
    channel until it is written out, three times over.
    """
    width, height = picture.size
    convert = _strip_converter(picture)
    pixels = np.empty((math.ceil(height / factor), math.ceil(width / factor), 3), np.uint8)
    rows = max(1, _STRIP_PIXELS // (width * factor * factor)) * factor
    for top in range(0, height, rows):
        strip = convert(picture.crop((0, top, width, min(height, top + rows))))
        if factor > 1:
            strip = strip.reduce(factor)
        values = np.asarray(strip)
        target = pixels[top // factor : top // factor + strip.height]
        target[...] = values[:, :, None] if values.ndim == 2 else values
    return pixels


# JPEG colour models that OpenCV's decoder turns into the same RGB as Pillow's
# (YCbCr or RGB, and grey): not CMYK, which the two convert differently.
_OPENCV_JPEG_MODES = frozenset({"RGB", "L"})
_OPENCV_JPEG_FLAGS = cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION


def _decode_jpeg_with_opencv(data: bytes) -> RgbImage | None:
    """The JPEG decoded straight into RGB pixels by OpenCV's libjpeg, or None if it fails.

    The same libjpeg decoding as Pillow's, pixel for pixel, but into one numpy
    array with no conversion pass after it: 1.6 times faster on the identity
    photos.  Only whole-size decodes of YCbCr or grey JPEGs come here, after
    every check above; the orientation is applied by the caller.  A JPEG it
    cannot decode, or a truncated one (OpenCV returns nothing for it), goes on
    to Pillow, which gives the reason.
    """
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), _OPENCV_JPEG_FLAGS)
    if decoded is None or decoded.ndim != 3 or decoded.shape[2] != 3:
        return None
    return np.asarray(decoded, dtype=np.uint8)


def _decode(data: bytes, source: str, max_pixels: int, *, chip: bool) -> RgbImage:
    if not data:
        raise ImageError(f"{source}: empty, not an image")
    kind = image_format(data)
    if chip and kind not in CHIP_PHOTO_FORMATS:
        found = "not an image" if kind is None else f"a {kind} image"
        raise ImageError(f"{source}: {found}; a chip photo is JPEG or JPEG 2000")
    if kind is None:
        raise ImageError(f"{source}: not an image in a format egate reads")
    if kind == "WebP" and not features.check_module("webp"):
        raise ImageError(f"{source}: a WebP image, and Pillow was built without WebP")
    if kind == "JPEG" and (scans := jpeg_scan_count(data)) > MAX_JPEG_SCANS:
        raise ImageError(
            f"{source}: a JPEG of {scans} scans, more than the {MAX_JPEG_SCANS} allowed"
        )
    try:
        picture = _OPENERS[kind](io.BytesIO(data))
        width, height = picture.size
        if width < 1 or height < 1:
            raise ImageError(f"{source}: {width}x{height} pixels, no picture")
        if width * height > max_pixels:
            raise ImageError(
                f"{source}: {width}x{height} pixels, more than the {max_pixels:,} allowed"
            )
        reduction = _reduction(width, height)
        pixels_read = None
        if kind == "JPEG" and reduction == 1 and picture.mode in _OPENCV_JPEG_MODES:
            pixels_read = _decode_jpeg_with_opencv(data)
        if pixels_read is None:
            factor = _reduce_on_load(picture, reduction, data)
            picture.load()
            pixels_read = _to_rgb(picture, factor)
        pixels = pixels_read
        orientation = _orientation(picture)
        del picture  # the decoded picture goes before the result may be copied upright
        if orientation != 1:
            pixels = np.ascontiguousarray(_UPRIGHT[orientation](pixels))
        return pixels
    except ImageError:
        raise
    except NotImplementedError as error:
        raise ImageError(f"{source}: {kind} that egate cannot decode: {_one_line(error)}") from None
    except MemoryError:
        raise ImageError(f"{source}: not enough memory to decode it") from None
    except Exception as error:
        # Pillow's plugins report damaged data as OSError, SyntaxError,
        # ValueError, struct.error, IndexError, KeyError, TypeError, EOFError
        # and more (and DecompressionBombError, where a frame grows): every
        # one of them means these bytes are not a usable image.
        raise ImageError(f"{source}: damaged image data: {_one_line(error)}") from None


def decode_image(
    data: bytes, source: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS
) -> RgbImage:
    """Decode JPEG, JPEG 2000, PNG, GIF, BMP, TIFF, WebP or PNM bytes into RGB pixels.

    ``source`` names the image in errors.  EXIF orientation is applied, so a
    photo taken upright is upright.  A picture of 5120 px or more on its long
    side comes back reduced by 2, 4 or 8 (see ``DECODE_LONG_SIDE``).
    """
    return _decode(data, source, max_pixels, chip=False)


def decode_chip_photo(
    data: bytes, source: str = "chip DG2", max_pixels: int = MAX_CHIP_PHOTO_PIXELS
) -> RgbImage:
    """Decode the photo read from a chip (DG2): JPEG or JPEG 2000 (JP2 or raw codestream) only.

    Any other bytes, or a picture of more than ``max_pixels``, raise
    ``ImageError``.  Safe to call from a worker thread.
    """
    return _decode(data, source, max_pixels, chip=True)


def _not_a_file(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is not a regular file."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def read_image_bytes(path: Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_FILE_BYTES``; ``ImageError`` otherwise.

    A FIFO would block ``open`` until a writer comes, a device can act on
    being opened (a serial port resets the board behind it), and neither
    ends: the path is checked before it is opened, then opened without
    blocking and checked again on the open descriptor, so a file swapped in
    between cannot slip through.
    """
    too_large = ImageError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes, more than an image has")
    try:
        kind = _not_a_file(os.stat(path).st_mode)
        if kind is None:
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            with open(descriptor, "rb") as stream:
                status = os.fstat(descriptor)
                kind = _not_a_file(status.st_mode)
                if kind is None:
                    if status.st_size > MAX_FILE_BYTES:
                        raise too_large
                    # One byte past the limit tells a file that grew past it
                    # (or one whose st_size says 0, as in /proc) from one that fits.
                    data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ImageError(f"{path}: cannot read: {error.strerror or error}") from None
    if kind is not None:
        raise ImageError(f"{path}: {kind}, not an image file")
    if len(data) > MAX_FILE_BYTES:
        raise too_large
    return data


def read_image_file(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> RgbImage:
    """Read and decode an image file; ``ImageError`` if not a file, too large or not an image."""
    return decode_image(read_image_bytes(path), str(path), max_pixels)


def find_images(folder: Path) -> list[Path]:
    """Every image file under ``folder`` (recursively, hidden files left out), sorted."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.startswith(".")
    )
