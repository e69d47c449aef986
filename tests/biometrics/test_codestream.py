"""Reading JPEG scan counts and JPEG 2000 decomposition levels from headers alone."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from egate.biometrics.codestream import j2k_decomposition_levels, jpeg_scan_count


def encoded(picture: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


CARD = Image.linear_gradient("L").convert("RGB").resize((64, 48))


def test_baseline_jpeg_has_one_scan():
    assert jpeg_scan_count(encoded(CARD, "JPEG")) == 1


def test_progressive_jpeg_scans():
    # libjpeg's standard progression: 10 scans in colour, 6 in grey.
    assert jpeg_scan_count(encoded(CARD, "JPEG", progressive=True)) == 10
    assert jpeg_scan_count(encoded(CARD.convert("L"), "JPEG", progressive=True)) == 6


def test_scan_markers_inside_other_segments_are_not_counted():
    # An APP segment (an EXIF thumbnail, a profile) may hold FF DA bytes:
    # segments are skipped by their length, not searched.
    data = encoded(CARD, "JPEG")
    comment = b"\xff\xda" * 40
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    assert jpeg_scan_count(data[:2] + segment + data[2:]) == 1


def test_stuffed_and_restart_bytes_do_not_end_a_scan():
    data = encoded(Image.effect_noise((256, 256), 90).convert("RGB"), "JPEG", quality=100)
    assert b"\xff\x00" in data  # stuffed bytes in the entropy-coded data
    assert jpeg_scan_count(data) == 1


def test_fill_bytes_before_a_marker():
    data = encoded(CARD, "JPEG", progressive=True)
    second = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    assert jpeg_scan_count(data[:second] + b"\xff" * 5 + data[second:]) == 10


def test_truncated_jpeg_counts_the_scans_it_has():
    data = encoded(CARD, "JPEG", progressive=True)
    third = data.index(b"\xff\xda", data.index(b"\xff\xda", data.index(b"\xff\xda") + 2) + 2)
    assert jpeg_scan_count(data[: third + 1]) == 2


@pytest.mark.parametrize(("resolutions", "levels"), [(6, 5), (3, 2), (1, 0)])
@pytest.mark.parametrize("container", [True, False], ids=["jp2", "j2k"])
def test_j2k_decomposition_levels(resolutions, levels, container):
    data = encoded(CARD, "JPEG2000", num_resolutions=resolutions, no_jp2=not container)
    assert j2k_decomposition_levels(data) == levels


def test_j2k_levels_of_a_component_override():
    # A COC segment giving component 1 fewer levels than the COD's 5.
    data = encoded(CARD, "JPEG2000", num_resolutions=6, no_jp2=True)
    cod = data.index(b"\xff\x52")
    coc = b"\xff\x53" + struct.pack(">HBB", 9, 1, 0) + bytes([2, 4, 4, 0, 1])
    assert j2k_decomposition_levels(data[:cod] + coc + data[cod:]) == 2


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"\xff\x4f\xff\x51\x00", b"\x00" * 40],
)
def test_j2k_levels_unknown(data):
    assert j2k_decomposition_levels(data) is None


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([b"\xff\xd8", b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  \r\n\x87\n", b""]),
    st.binary(max_size=512),
)
def test_headers_never_raise(head, rest):
    assert jpeg_scan_count(head + rest) >= 0
    levels = j2k_decomposition_levels(head + rest)
    assert levels is None or 0 <= levels <= 255
