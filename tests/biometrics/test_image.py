"""Decoding photos into RGB pixels: every format, mode and depth, and every way to fail."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from egate.biometrics import image as image_module
from egate.biometrics.benchmark import measure_paths
from egate.biometrics.image import ImageError, decode_image, read_image_file
from egate.biometrics.verifier import Decision


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
def test_endless_file_reads_bounded(monkeypatch):
    # st_size of /dev/zero is 0: only a bounded read stops it.
    monkeypatch.setattr(image_module, "MAX_FILE_BYTES", 1_000)
    with pytest.raises(ImageError) as error:
        read_image_file(Path("/dev/zero"))
    assert "larger than 1,000 bytes" in assert_one_line_error(error, "/dev/zero")


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
