"""Turning image bytes into the RGB pixel arrays that face detection works on.

Photos arrive as files (a reference photo, a sample), as the chip's DG2 (JPEG
or JPEG 2000) or as camera frames.  Whatever the encoding, mode or depth,
``decode_image`` returns an ``H x W x 3`` array of 8-bit RGB, or raises
``ImageError`` with one line that says what is wrong.  Pixels are counted
from the header before anything is decoded, so a decompression bomb costs
nothing.  Images stay in memory: nothing here writes them anywhere.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

RgbImage = npt.NDArray[np.uint8]

# Files taken for photos when a folder is searched.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".j2k", ".ppm", ".pgm"}
)

# 40 megapixels: beyond any camera frame or chip photo a gate meets.
DEFAULT_MAX_PIXELS = 40_000_000
# Files larger than this are not read (a JPEG of 40 MP stays far below).
MAX_FILE_BYTES = 64 * 1024 * 1024


class ImageError(ValueError):
    """Bytes that cannot be used as an image; the message is one line."""


# EXIF orientation (tag 0x0112) -> the transposition that makes the picture upright.
_ORIENTATION_TAG = 0x0112
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _upright(picture: Image.Image) -> Image.Image:
    """The picture turned as its EXIF orientation says (the EXIF itself is not kept).

    Not ``ImageOps.exif_transpose``: it writes the EXIF block back, and a
    damaged tag anywhere in it then raises ``TypeError`` from Pillow's writer.
    """
    orientation = picture.getexif().get(_ORIENTATION_TAG)
    transposition = _UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    return picture if transposition is None else picture.transpose(transposition)


def _to_rgb(picture: Image.Image) -> RgbImage:
    """8-bit RGB pixels of any Pillow image: 16-bit and float scaled, alpha laid on white."""
    mode = picture.mode
    if mode.startswith("I;16"):
        # 16-bit grey (PNG, TIFF): 0-65535 maps onto 0-255, so a dark photo stays
        # dark for the brightness gate and a flat one keeps its level.
        grey = np.asarray(picture, dtype=np.float64) * (255.0 / 65535.0)
        eight = np.clip(grey + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(eight[:, :, None], 3, axis=2))
    if mode in ("I", "F"):
        # 32-bit integer or float grey has no fixed range: scale by the range
        # the pixels actually use.
        grey = np.asarray(picture, dtype=np.float64)
        low, high = float(grey.min()), float(grey.max())
        scaled = (grey - low) * (255.0 / (high - low)) if high > low else np.zeros_like(grey)
        eight = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(eight[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(picture.convert("RGB"), dtype=np.uint8))


def decode_image(
    data: bytes, source: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS
) -> RgbImage:
    """Decode JPEG, JPEG 2000, PNG and the other formats Pillow reads into RGB pixels.

    ``source`` names the image in errors.  EXIF orientation is applied, so a
    photo taken upright is upright.
    """
    if not data:
        raise ImageError(f"{source}: empty, not an image")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, on very large images; we decide ourselves below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            width, height = picture.size
            if width * height > max_pixels:
                raise ImageError(
                    f"{source}: {width}x{height} pixels, more than the {max_pixels:,} allowed"
                )
            picture.load()
            return _to_rgb(_upright(picture))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{source}: not an image in a format egate reads") from None
    except Image.DecompressionBombError as error:
        raise ImageError(f"{source}: {error}") from None
    except (OSError, ValueError, SyntaxError) as error:
        # Pillow reports truncated or corrupt data as OSError (or, for some
        # formats, ValueError and SyntaxError).
        raise ImageError(f"{source}: damaged image data: {error}") from None


def read_image_file(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> RgbImage:
    """Read and decode an image file; ``ImageError`` if missing, too large or not an image."""
    too_large = ImageError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes, more than an image has")
    try:
        with path.open("rb") as stream:
            if os.fstat(stream.fileno()).st_size > MAX_FILE_BYTES:
                raise too_large
            # One byte past the limit tells a file that is too large even where
            # st_size says 0 (/dev/zero, pipes: they never end).
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ImageError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise too_large
    return decode_image(data, str(path), max_pixels)


def find_images(folder: Path) -> list[Path]:
    """Every image file under ``folder`` (recursively, hidden files left out), sorted."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.startswith(".")
    )
