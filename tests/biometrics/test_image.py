"""Decoding photos into RGB pixels: every format, mode and depth, and every way to fail."""

from __future__ import annotations

import io
import os
import socket
import struct
import subprocess
import sys
import threading
import tracemalloc
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, JpegImagePlugin, PngImagePlugin

from egate.biometrics import image as image_module
from egate.biometrics.benchmark import measure_paths
from egate.biometrics.decision import Decision
from egate.biometrics.image import (
    MAX_CHIP_PHOTO_PIXELS,
    ImageError,
    decode_chip_photo,
    decode_image,
    read_image_file,
)


def encoded(picture: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


def gradient(height: int = 48, width: int = 64) -> np.ndarray:
    """An RGB test card: every pixel different enough to tell orientations apart."""
    rows = np.linspace(0, 255, height, dtype=np.float64)[:, None]
    columns = np.linspace(0, 255, width, dtype=np.float64)[None, :]
    red = np.broadcast_to(rows, (height, width))
    green = np.broadcast_to(columns, (height, width))
    blue = np.full((height, width), 60.0)
    return np.stack([red, green, blue], axis=2).astype(np.uint8)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width x height`` RGB pixels: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def assert_rgb(pixels: np.ndarray, height: int, width: int) -> None:
    assert pixels.shape == (height, width, 3)
    assert pixels.dtype == np.uint8
    assert pixels.flags.c_contiguous


def assert_one_line_error(error: pytest.ExceptionInfo[ImageError], source: str) -> str:
    message = str(error.value)
    assert message.startswith(f"{source}: ")
    assert "\n" not in message
    return message


# --- formats and modes -------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF", "WEBP"])
def test_rgb_formats_decode_to_rgb(fmt):
    card = gradient()
    pixels = decode_image(encoded(Image.fromarray(card), fmt))
    assert_rgb(pixels, 48, 64)
    tolerance = 12 if fmt in ("JPEG", "WEBP") else 0  # lossy formats
    assert np.abs(pixels.astype(int) - card.astype(int)).max() <= tolerance


def test_jpeg_2000_decodes_losslessly():
    card = gradient()
    pixels = decode_image(encoded(Image.fromarray(card), "JPEG2000", irreversible=False))
    assert_rgb(pixels, 48, 64)
    assert np.array_equal(pixels, card)


def test_grayscale_becomes_three_equal_channels():
    grey = np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) % 256
    pixels = decode_image(encoded(Image.fromarray(grey.astype(np.uint8), "L"), "PNG"))
    assert_rgb(pixels, 48, 64)
    for channel in range(3):
        assert np.array_equal(pixels[:, :, channel], grey)


def test_rgba_is_laid_on_white():
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[:, :3] = (200, 0, 0, 0)  # fully transparent red: background shows
    rgba[:, 3:] = (0, 0, 200, 255)  # opaque blue
    rgba[0, 0] = (0, 0, 0, 128)  # half-transparent black: mid grey on white
    pixels = decode_image(encoded(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert_rgb(pixels, 4, 6)
    assert pixels[1, 1].tolist() == [255, 255, 255]
    assert pixels[1, 4].tolist() == [0, 0, 200]
    assert all(125 <= value <= 130 for value in pixels[0, 0])


def test_palette_image_with_transparent_index_is_laid_on_white():
    palette = Image.new("P", (5, 3), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30, 0, 0, 255])
    palette.putpixel((0, 0), 0)
    palette.putpixel((4, 2), 2)
    pixels = decode_image(encoded(palette, "PNG", transparency=0))
    assert_rgb(pixels, 3, 5)
    assert pixels[0, 0].tolist() == [255, 255, 255]  # transparent index 0
    assert pixels[1, 1].tolist() == [10, 200, 30]
    assert pixels[2, 4].tolist() == [0, 0, 255]


def test_palette_image_without_transparency_keeps_its_colours():
    palette = Image.new("P", (2, 2), 0)
    palette.putpalette([12, 34, 56])
    pixels = decode_image(encoded(palette, "GIF"))
    assert pixels[1, 1].tolist() == [12, 34, 56]


def test_sixteen_bit_png_is_scaled_to_eight_bits():
    grey = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) % 256).astype(np.uint16)
    wide = grey * 257  # the same picture at 16 bits: 0-65535
    data = encoded(Image.fromarray(wide), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    pixels = decode_image(data)
    assert_rgb(pixels, 48, 64)
    # Not clipped to white: the 8-bit grey levels come back as they were.
    assert np.array_equal(pixels[:, :, 0], grey)
    assert len(np.unique(pixels)) == 256


def test_dark_sixteen_bit_png_stays_dark():
    # A dim exposure must reach the brightness gate dim, not stretched to full range.
    wide = np.linspace(0, 10_000, 32 * 32).reshape(32, 32).astype(np.uint16)
    pixels = decode_image(encoded(Image.fromarray(wide), "PNG"))
    assert pixels.min() == 0
    assert pixels.max() == round(10_000 * 255 / 65535)


def test_flat_sixteen_bit_png_keeps_its_level():
    pixels = decode_image(encoded(Image.fromarray(np.full((8, 8), 65535, np.uint16)), "PNG"))
    assert np.all(pixels == 255)


def test_float_grey_is_scaled_by_its_range():
    values = np.linspace(-1.0, 3.0, 16, dtype=np.float32).reshape(4, 4)
    pixels = decode_image(encoded(Image.fromarray(values, "F"), "TIFF"))
    assert pixels[0, 0, 0] == 0
    assert pixels[3, 3, 0] == 255


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (10, 20), (0, 255, 255, 0))  # no cyan, full magenta and yellow
    data = encoded(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    pixels = decode_image(data)
    assert_rgb(pixels, 20, 10)
    red, green, blue = (int(value) for value in pixels[10, 5])
    assert red > 240 and green < 15 and blue < 15


def _noisy_card(height: int = 96, width: int = 128) -> np.ndarray:
    """A test card with fine detail, so that a decoder's rounding would show."""
    noise = np.random.default_rng(18).integers(0, 40, (height, width, 3), dtype=np.uint8)
    return gradient(height, width) // 2 + noise


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        pytest.param("RGB", {"quality": 90}, id="4:2:0"),
        pytest.param("RGB", {"quality": 95, "subsampling": 0}, id="4:4:4"),
        pytest.param("RGB", {"quality": 85, "progressive": True}, id="progressive"),
        pytest.param("L", {"quality": 90}, id="grey"),
    ],
)
def test_jpeg_decodes_to_pillows_pixels_exactly(mode, options):
    # Whole-size JPEGs are decoded by OpenCV's libjpeg: the same pixels as Pillow's.
    data = encoded(Image.fromarray(_noisy_card()).convert(mode), "JPEG", **options)
    assert image_module._decode_jpeg_with_opencv(data) is not None  # that path is taken
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    np.testing.assert_array_equal(decode_image(data), expected)
    np.testing.assert_array_equal(decode_chip_photo(data), expected)


def test_a_jpeg_opencv_cannot_decode_goes_to_pillow_for_its_reason(monkeypatch):
    data = encoded(Image.fromarray(_noisy_card()), "JPEG", quality=90)
    monkeypatch.setattr(image_module, "_decode_jpeg_with_opencv", lambda data: None)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    np.testing.assert_array_equal(decode_image(data), expected)
    with pytest.raises(ImageError, match="truncated"):
        decode_image(data[: len(data) // 2], "half.jpg")


@pytest.mark.parametrize(
    ("orientation", "turn"),
    [
        (1, lambda card: card),
        (3, lambda card: np.rot90(card, 2)),
        (6, lambda card: np.rot90(card, -1)),  # taken with the camera turned: rotate clockwise
        (8, lambda card: np.rot90(card, 1)),
    ],
)
def test_exif_orientation_is_applied(orientation, turn):
    card = gradient(40, 80)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encoded(Image.fromarray(card), "PNG", exif=exif.tobytes())
    pixels = decode_image(data)
    expected = turn(card)
    assert pixels.shape == expected.shape
    assert np.array_equal(pixels, expected)


def test_exif_orientation_six_transposes_a_jpeg():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(Image.fromarray(gradient(20, 40)), "JPEG", exif=exif.tobytes())
    assert_rgb(decode_image(data), 40, 20)


def test_damaged_exif_does_not_stop_decoding():
    # A rational tag holding text: Pillow's EXIF writer raises TypeError on it,
    # so anything that rewrites the EXIF block (exif_transpose) would crash.
    def entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
        return struct.pack("<HHI", tag, kind, count) + value

    tiff = (
        b"II*\x00"
        + struct.pack("<IH", 8, 2)
        + entry(0x0112, 3, 1, struct.pack("<HH", 6, 0))  # orientation 6, a SHORT
        + entry(0x013F, 2, 4, b"Cam\x00")  # WhitePoint, a RATIONAL tag, holding ASCII
        + struct.pack("<I", 0)
    )
    data = encoded(Image.fromarray(gradient(20, 40)), "JPEG", exif=b"Exif\x00\x00" + tiff)
    assert_rgb(decode_image(data), 40, 20)


def test_one_pixel_image_decodes():
    assert_rgb(decode_image(encoded(Image.new("RGB", (1, 1), (9, 8, 7)), "PNG")), 1, 1)


# --- errors ------------------------------------------------------------------


def test_empty_bytes():
    with pytest.raises(ImageError) as error:
        decode_image(b"", "empty.jpg")
    assert "empty" in assert_one_line_error(error, "empty.jpg")


def test_not_an_image():
    with pytest.raises(ImageError) as error:
        decode_image(b"file_x,file_y,same\na.jpg,b.jpg,yes\n", "pairs.jpg")
    assert "not an image" in assert_one_line_error(error, "pairs.jpg")


def test_truncated_jpeg(faces):
    whole = faces.path("obama.jpg").read_bytes()
    with pytest.raises(ImageError) as error:
        decode_image(whole[: len(whole) // 2], "half.jpg")
    assert "truncated" in assert_one_line_error(error, "half.jpg")


def test_truncated_jpeg_is_refused_after_the_naive_path_ran(faces, verifier):
    # Importing face_recognition (the benchmark's naive path) switches on
    # Pillow's LOAD_TRUNCATED_IMAGES for the whole process.
    measure_paths(verifier.analyzer, [faces.path("grace_hopper.jpg")], rounds=1)
    whole = faces.path("obama.jpg").read_bytes()
    with pytest.raises(ImageError) as error:
        decode_image(whole[: len(whole) // 2], "half.jpg")
    assert "truncated" in assert_one_line_error(error, "half.jpg")


def test_truncated_png():
    whole = encoded(Image.fromarray(gradient()), "PNG")
    with pytest.raises(ImageError) as error:
        decode_image(whole[: len(whole) // 2], "half.png")
    assert_one_line_error(error, "half.png")


@pytest.mark.parametrize("side", [20_000, 10_000])
def test_decompression_bomb_is_refused_from_its_header(side):
    bomb = png_claiming(side, side)
    assert len(bomb) < 200
    tracemalloc.start()
    try:
        with pytest.raises(ImageError) as error:
            decode_image(bomb, "bomb.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = assert_one_line_error(error, "bomb.png")
    assert "pixels" in message
    # Decoding would take side * side * 3 bytes (300 MB or more); the refusal takes almost none.
    assert peak < 5_000_000


def test_pixel_limit_is_a_parameter():
    data = encoded(Image.new("RGB", (100, 50)), "PNG")
    with pytest.raises(ImageError) as error:
        decode_image(data, "frame.png", max_pixels=4_999)
    assert "100x50 pixels, more than the 4,999 allowed" in assert_one_line_error(error, "frame.png")
    assert_rgb(decode_image(data, "frame.png", max_pixels=5_000), 50, 100)


def test_read_image_file(tmp_path):
    path = tmp_path / "card.png"
    path.write_bytes(encoded(Image.fromarray(gradient()), "PNG"))
    assert np.array_equal(read_image_file(path), gradient())


def test_missing_file(tmp_path):
    path = tmp_path / "nobody.jpg"
    with pytest.raises(ImageError) as error:
        read_image_file(path)
    assert "No such file" in assert_one_line_error(error, str(path))


def test_directory(tmp_path):
    with pytest.raises(ImageError) as error:
        read_image_file(tmp_path)
    assert "directory" in assert_one_line_error(error, str(tmp_path))


def test_file_error_names_the_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a photo\n")
    with pytest.raises(ImageError) as error:
        read_image_file(path)
    assert "not an image" in assert_one_line_error(error, str(path))


def test_oversized_file_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(image_module, "MAX_FILE_BYTES", 1_000)
    path = tmp_path / "large.png"
    path.write_bytes(b"\0" * 1_001)
    with pytest.raises(ImageError) as error:
        read_image_file(path)
    assert "larger than 1,000 bytes" in assert_one_line_error(error, str(path))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_device_is_not_opened():
    # /dev/zero never ends and st_size says 0: it is refused before it is read.
    with pytest.raises(ImageError) as error:
        read_image_file(Path("/dev/zero"))
    message = assert_one_line_error(error, "/dev/zero")
    assert message == "/dev/zero: a character device, not an image file"


def test_symbolic_link_to_a_photo_is_read(tmp_path):
    path = tmp_path / "card.png"
    path.write_bytes(encoded(Image.fromarray(gradient()), "PNG"))
    (tmp_path / "link.png").symlink_to(path)
    assert np.array_equal(read_image_file(tmp_path / "link.png"), gradient())


# --- real photos -------------------------------------------------------------


def test_sample_photos_decode(faces, sample_faces):
    for path in sample_faces.images():
        pixels = faces.pixels(path)
        assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8


def test_32_bit_png_sample_decodes_like_its_jpeg(faces):
    # The face_recognition samples include obama2 as a 32-bit (RGBA) PNG.
    rgba = faces.pixels("32bit.png")
    jpeg = faces.pixels("obama2.jpg")
    assert rgba.shape == jpeg.shape
    assert np.abs(rgba.astype(int) - jpeg.astype(int)).mean() < 8


def test_jpeg_2000_face_still_verifies(faces, verifier, tmp_path):
    # Chip photos (DG2) are often JPEG 2000.
    original = faces.pixels("obama2.jpg")
    path = tmp_path / "dg2.jp2"
    Image.fromarray(original).save(path, "JPEG2000", quality_mode="rates", quality_layers=[20])
    pixels = read_image_file(path)
    assert pixels.shape == original.shape
    result = verifier.verify(faces.template("obama.jpg"), pixels)
    assert result.decision is Decision.MATCH
    assert result.reason is None


def test_one_pixel_image_has_no_face(faces, verifier):
    pixels = decode_image(encoded(Image.new("RGB", (1, 1)), "PNG"), "dot.png")
    result = verifier.verify(faces.template("obama.jpg"), pixels)
    assert result.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.reason == "FACE_NOT_FOUND"


# --- formats egate does not read -------------------------------------------------

# A DirectDraw Surface header with pixel-format flags Pillow does not know:
# Pillow's DDS plugin raises NotImplementedError on it.
DDS = (
    b"DDS "
    + struct.pack("<I", 124)
    + struct.pack("<3I", 0x1007, 8, 8)
    + bytes(56)
    + struct.pack("<4I", 32, 0, 0, 0)
    + bytes(40)
)


@pytest.mark.parametrize(
    "data",
    [
        DDS,
        b"8BPS\x00\x01" + bytes(40),  # Photoshop
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n",  # PostScript: Ghostscript
        b"\x00\x00\x01\x00\x01\x00" + bytes(40),  # Windows icon
    ],
    ids=["dds", "psd", "eps", "ico"],
)
def test_formats_outside_the_list_never_reach_a_decoder(data):
    with pytest.raises(ImageError) as error:
        decode_image(data, "face.jpg")
    message = assert_one_line_error(error, "face.jpg")
    assert message == "face.jpg: not an image in a format egate reads"


def test_dds_named_jpg_file_is_an_image_error(tmp_path):
    path = tmp_path / "face.jpg"
    path.write_bytes(DDS)
    with pytest.raises(ImageError) as error:
        read_image_file(path)
    assert assert_one_line_error(error, str(path)).endswith("not an image in a format egate reads")


def test_pillow_errors_of_every_type_become_image_errors(monkeypatch):
    # Whatever a plugin raises (here NotImplementedError, then KeyError) is an ImageError.
    data = encoded(Image.fromarray(gradient()), "PNG")

    def unimplemented(self: Image.Image) -> None:
        raise NotImplementedError("no decoder for this variant")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", unimplemented)
    with pytest.raises(ImageError) as error:
        decode_image(data, "odd.png")
    assert assert_one_line_error(error, "odd.png") == (
        "odd.png: PNG that egate cannot decode: no decoder for this variant"
    )

    def missing_key(self: Image.Image) -> None:
        raise KeyError("tRNS")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", missing_key)
    with pytest.raises(ImageError) as error:
        decode_image(data, "odd.png")
    assert assert_one_line_error(error, "odd.png") == "odd.png: damaged image data: 'tRNS'"


def test_all_eight_exif_orientations_match_pillow():
    card = Image.fromarray(gradient(20, 30))
    turns = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }
    for orientation, turn in turns.items():
        exif = Image.Exif()
        exif[0x0112] = orientation
        pixels = decode_image(encoded(card, "PNG", exif=exif.tobytes()))
        assert np.array_equal(pixels, np.asarray(card.transpose(turn))), orientation
        assert pixels.flags.c_contiguous


def test_zero_sized_picture_is_refused():
    with pytest.raises(ImageError) as error:
        decode_image(png_claiming(0, 10), "flat.png")
    assert_one_line_error(error, "flat.png")


# --- files that are not regular files ----------------------------------------------


def on_a_thread(function, *args):
    """``function(*args)`` on a daemon thread: the outcome, or a failure if it never returns.

    A hang guard only (a blocked ``open`` cannot be interrupted): the timeout
    is far beyond anything the call needs.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # handed to the test to inspect
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), f"{function.__name__} blocked"
    return outcome


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "frame.jpg"
    os.mkfifo(fifo)
    outcome = on_a_thread(read_image_file, fifo)
    error = outcome.get("error")
    assert isinstance(error, ImageError)
    assert str(error) == f"{fifo}: a FIFO (named pipe), not an image file"


def test_fifo_behind_a_symbolic_link_is_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "photo.png").symlink_to(fifo)
    outcome = on_a_thread(read_image_file, tmp_path / "photo.png")
    assert str(outcome.get("error")).endswith("a FIFO (named pipe), not an image file")


def test_socket_is_refused(tmp_path):
    path = tmp_path / "s.jpg"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        with pytest.raises(ImageError) as error:
            read_image_file(path)
    assert assert_one_line_error(error, str(path)).endswith("a socket, not an image file")


def test_file_swapped_for_a_fifo_after_the_check_is_still_refused(tmp_path, monkeypatch):
    # The path is a regular file when checked and a FIFO when opened: the check
    # on the open descriptor catches it, and the open does not block.
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"placeholder")
    real_open = os.open

    def swap_then_open(target, flags, *args):
        if Path(target) == path:
            path.unlink()
            os.mkfifo(path)
        return real_open(target, flags, *args)

    monkeypatch.setattr(image_module.os, "open", swap_then_open)
    outcome = on_a_thread(read_image_file, path)
    assert str(outcome.get("error")) == f"{path}: a FIFO (named pipe), not an image file"


# --- what a decode may cost --------------------------------------------------------


def png_sixteen_bit_grey(width: int, height: int, level: int = 0) -> bytes:
    """A 16-bit grey PNG of one level, written row by row: 6300 x 6300 compresses to ~77 KB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" + struct.pack(">H", level) * width  # filter type 0, then the samples
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


# VmHWM, the peak resident set of this process image (ru_maxrss would carry
# over the peak of the pytest process that spawned it).
PEAK_RSS = """
import re, sys
from egate.biometrics.image import decode_image
data = sys.stdin.buffer.read()
pixels = decode_image(data, "big.png")
with open("/proc/self/status") as status:
    peak = int(re.search(r"VmHWM:\\s*(\\d+) kB", status.read()).group(1)) * 1024
print(*pixels.shape, int(pixels.min()), int(pixels.max()), peak)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_6300_square_16_bit_png_decodes_in_bounded_memory():
    # 77 KB on disk, 6300 x 6300 at 16 bits: decoding it whole, then scaling it
    # through float64, took 1 GB.  Reduced by 2 as it is converted, it takes
    # its own 79 MB as Pillow decodes it plus 30 MB of result.
    data = png_sixteen_bit_grey(6300, 6300, level=257 * 200)
    assert len(data) < 100_000
    ran = subprocess.run(
        [sys.executable, "-c", PEAK_RSS],
        input=data,
        capture_output=True,
        timeout=600,  # a hang guard only
        check=True,
    )
    height, width, channels, low, high, peak = (int(n) for n in ran.stdout.split())
    assert (height, width, channels) == (3150, 3150, 3)
    assert low == high == 200
    assert peak < 300 * 1024 * 1024


def test_big_jpeg_is_reduced_as_it_loads(monkeypatch):
    # 5200 px on the long side: decoded at half size by the JPEG decoder itself.
    drafts = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        drafts.append(size)
        return real_draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    card = Image.fromarray(gradient(40, 5200))
    pixels = decode_image(encoded(card, "JPEG", quality=95))
    assert drafts == [(2600, 20)]
    assert_rgb(pixels, 20, 2600)
    expected = np.asarray(card.reduce(2)).astype(int)
    assert np.abs(pixels.astype(int) - expected).max() <= 12  # lossy format


@pytest.mark.parametrize(
    ("width", "shape"),
    [
        (5119, (3, 5119)),
        (5120, (2, 2560)),
        (10239, (2, 5120)),
        (10240, (1, 2560)),
        (20480, (1, 2560)),
        (40960, (1, 5120)),  # by 8 at most: the JPEG decoder's own limit
    ],
)
def test_reduction_keeps_the_long_side_at_2560_or_more(width, shape):
    pixels = decode_image(encoded(Image.new("L", (width, 3), 90), "PNG"))
    assert pixels.shape == (*shape, 3)
    assert np.all(pixels == 90)


def test_sixteen_bit_png_is_box_reduced_exactly():
    levels = (np.arange(5200, dtype=np.uint32) % 256).astype(np.uint16) * 257
    wide = np.broadcast_to(levels, (6, 5200)).copy()
    pixels = decode_image(encoded(Image.fromarray(wide), "PNG"))
    assert_rgb(pixels, 3, 2600)
    eight = (levels // 257).astype(np.float64)
    expected = np.round(eight.reshape(2600, 2).mean(axis=1) + 1e-9).astype(np.uint8)
    assert np.abs(pixels[1, :, 0].astype(int) - expected.astype(int)).max() <= 1
    assert np.array_equal(pixels[:, :, 0], pixels[:, :, 2])


@pytest.mark.parametrize(
    ("width", "resolutions", "reduced"),
    [(5200, 6, 2600), (5200, 1, 2600), (10400, 2, 2600)],
)
def test_big_jpeg_2000_is_reduced(width, resolutions, reduced):
    # The decoder drops as many resolution levels as the codestream has (and
    # the factor needs); what remains is reduced strip by strip.
    card = Image.fromarray(gradient(64, width))
    data = encoded(card, "JPEG2000", irreversible=False, num_resolutions=resolutions)
    pixels = decode_image(data)
    factor = width // reduced
    assert_rgb(pixels, 64 // factor, reduced)
    expected = np.asarray(card.reduce(factor)).astype(int)
    assert np.abs(pixels.astype(int) - expected).max() <= 3


def progressive_jpeg(scans_added: int) -> bytes:
    """A 2000 x 2000 progressive JPEG (10 scans) with one of its small scans repeated."""
    data = encoded(Image.new("RGB", (2000, 2000), (128, 128, 128)), "JPEG", progressive=True)
    starts = [at for at in range(len(data) - 1) if data[at : at + 2] == b"\xff\xda"]
    small = min(range(len(starts) - 1), key=lambda i: starts[i + 1] - starts[i])
    scan = data[starts[small] : starts[small + 1]]
    return data[: starts[-1]] + scan * scans_added + data[starts[-1] :]


def test_progressive_jpeg_decodes():
    assert_rgb(decode_image(progressive_jpeg(0)), 2000, 2000)
    assert_rgb(decode_chip_photo(progressive_jpeg(54)), 2000, 2000)  # 64 scans


@pytest.mark.parametrize("decode", [decode_image, decode_chip_photo])
def test_jpeg_of_a_thousand_scans_is_refused_from_its_headers(decode):
    # 38 KB that libjpeg would take seconds over: one pass per scan.
    data = progressive_jpeg(1000)
    assert len(data) < 50_000
    with pytest.raises(ImageError) as error:
        decode(data, "dg2")
    assert assert_one_line_error(error, "dg2") == (
        "dg2: a JPEG of 1010 scans, more than the 64 allowed"
    )


# --- chip photos -------------------------------------------------------------------


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims ``width x height``."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), (90, 60, 30)), "JPEG"))
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def j2k_claiming(width: int, height: int) -> bytes:
    """A small raw JPEG 2000 codestream whose SIZ segment claims ``width x height``."""
    data = bytearray(encoded(Image.new("RGB", (16, 16)), "JPEG2000", no_jp2=True))
    assert data.startswith(b"\xff\x4f\xff\x51")
    data[8:16] = struct.pack(">II", width, height)  # Xsiz, Ysiz (offsets are 0)
    return bytes(data)


CHIP_CARD = gradient(60, 45)


@pytest.mark.parametrize(
    ("fmt", "options", "tolerance"),
    [
        ("JPEG", {"quality": 95}, 12),
        ("JPEG2000", {"irreversible": False}, 0),
        ("JPEG2000", {"irreversible": False, "no_jp2": True}, 0),  # raw codestream
    ],
    ids=["jpeg", "jp2", "j2k"],
)
def test_chip_photo_formats(fmt, options, tolerance):
    data = encoded(Image.fromarray(CHIP_CARD), fmt, **options)
    pixels = decode_chip_photo(data)
    assert_rgb(pixels, 60, 45)
    assert np.abs(pixels.astype(int) - CHIP_CARD.astype(int)).max() <= tolerance
    assert np.array_equal(pixels, decode_image(data))


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (encoded(Image.fromarray(CHIP_CARD), "PNG"), "a PNG image"),
        (encoded(Image.fromarray(CHIP_CARD), "GIF"), "a GIF image"),
        (encoded(Image.fromarray(CHIP_CARD), "BMP"), "a BMP image"),
        (encoded(Image.fromarray(CHIP_CARD), "TIFF"), "a TIFF image"),
        (encoded(Image.fromarray(CHIP_CARD), "WEBP"), "a WebP image"),
        (DDS, "not an image"),
        (b"\x7f\x61" + bytes(30), "not an image"),  # an ISO 19794-5 record, not its image
    ],
    ids=["png", "gif", "bmp", "tiff", "webp", "dds", "record"],
)
def test_chip_photo_is_jpeg_or_jpeg_2000_only(data, found):
    with pytest.raises(ImageError) as error:
        decode_chip_photo(data)
    message = assert_one_line_error(error, "chip DG2")
    assert message == f"chip DG2: {found}; a chip photo is JPEG or JPEG 2000"


def test_empty_chip_photo():
    with pytest.raises(ImageError) as error:
        decode_chip_photo(b"")
    assert assert_one_line_error(error, "chip DG2") == "chip DG2: empty, not an image"


@pytest.mark.parametrize("claiming", [jpeg_claiming, j2k_claiming], ids=["jpeg", "j2k"])
def test_chip_photo_pixel_cap_is_read_from_the_header(claiming):
    assert_rgb(decode_chip_photo(claiming(16, 16)), 16, 16)
    with pytest.raises(ImageError) as error:
        decode_chip_photo(claiming(2001, 2000))
    assert assert_one_line_error(error, "chip DG2") == (
        f"chip DG2: 2001x2000 pixels, more than the {MAX_CHIP_PHOTO_PIXELS:,} allowed"
    )
    # The general cap is ten times higher: the same header is decoded (both
    # decoders pad what the data lacks).
    assert_rgb(decode_image(claiming(2001, 2000), "frame"), 2000, 2001)


def test_chip_photos_decode_alike_on_many_threads():
    photos = [
        encoded(Image.fromarray(gradient(120 + 8 * n, 90)), fmt, **options)
        for n in range(4)
        for fmt, options in (("JPEG", {}), ("JPEG2000", {"irreversible": True}))
    ]
    photos.append(b"not a photo")
    alone = [on_a_thread(decode_chip_photo, data) for data in photos]
    filters, limit, truncated = list(warnings.filters), Image.MAX_IMAGE_PIXELS, None
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(decode_chip_photo, data) for data in photos * 6]
        results = [future.exception() or future.result() for future in futures]
    for index, result in enumerate(results):
        expected = alone[index % len(photos)]
        if "value" in expected:
            assert np.array_equal(result, expected["value"])
        else:
            assert isinstance(result, ImageError)
            assert str(result) == str(expected["error"])
    # Nothing global was touched.
    assert warnings.filters == filters
    assert limit == Image.MAX_IMAGE_PIXELS
    assert truncated == ImageFile.LOAD_TRUNCATED_IMAGES


# --- any bytes: an image or an ImageError, nothing else ----------------------------


def seed_images() -> list[bytes]:
    """Small valid images of every format and several modes, and a DDS header, for mutation."""
    card = Image.fromarray(gradient(18, 24))
    rgba = card.convert("RGBA")
    rgba.putalpha(Image.new("L", card.size, 128))
    exif = Image.Exif()
    exif[0x0112] = 6
    return [
        encoded(card, "JPEG", quality=80, exif=exif.tobytes()),
        encoded(card, "JPEG", progressive=True),
        encoded(card.convert("CMYK"), "JPEG"),
        encoded(card, "PNG"),
        encoded(rgba, "PNG"),
        encoded(Image.fromarray(np.arange(432, dtype=np.uint16).reshape(18, 24) * 150), "PNG"),
        encoded(card.convert("P"), "PNG", transparency=3),
        encoded(card, "JPEG2000", irreversible=False),
        encoded(card, "JPEG2000", no_jp2=True, num_resolutions=2),
        encoded(card.convert("P"), "GIF"),
        encoded(card, "BMP"),
        encoded(card, "TIFF"),
        encoded(card, "TIFF", compression="tiff_deflate"),
        encoded(Image.fromarray(np.linspace(0, 1, 432, dtype=np.float32).reshape(18, 24)), "TIFF"),
        encoded(card, "WEBP"),
        encoded(card, "PPM"),
        DDS,
    ]


SEEDS = seed_images()
SEED_HEADS = sorted({data[:12] for data in SEEDS})


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    """A valid image with a few bytes changed, cut, inserted or removed (mostly in its headers)."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        end = len(data)
        at = draw(st.one_of(st.integers(0, min(end, 96)), st.integers(0, end)))
        action = draw(st.sampled_from(["set", "set", "insert", "delete", "cut"]))
        value = draw(
            st.one_of(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]), st.integers(0, 255))
        )
        if action == "set" and at < end:
            data[at] = value
        elif action == "insert":
            data[at:at] = bytes([value]) * draw(st.integers(1, 16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif action == "cut":
            del data[at:]
    return bytes(data)


def decodes_or_says_why(decode, data: bytes, **options: int) -> None:
    try:
        pixels = decode(data, "fuzz", **options)
    except ImageError as error:
        message = str(error)
        assert message.startswith("fuzz: ")
        assert "\n" not in message
    else:
        assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8
        assert pixels.size > 0


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data):
    decodes_or_says_why(decode_image, data, max_pixels=2_000_000)
    decodes_or_says_why(decode_chip_photo, data)


@FUZZ
@given(st.sampled_from(SEED_HEADS), st.binary(max_size=4096))
def test_arbitrary_bytes_after_a_real_signature(head, rest):
    decodes_or_says_why(decode_image, head + rest, max_pixels=2_000_000)
    decodes_or_says_why(decode_chip_photo, head + rest)


@FUZZ
@given(mutated_images())
def test_mutated_images(data):
    decodes_or_says_why(decode_image, data, max_pixels=2_000_000)
    decodes_or_says_why(decode_chip_photo, data)
