"""Accuracy reports (DET plot, rate table) and writing result files whole."""

from __future__ import annotations

import io
import math
import os
import stat

import pytest
from PIL import Image

from egate.biometrics.evaluation import Comparison, ErrorRates, default_thresholds
from egate.biometrics.report import det_png, finite, rates_csv
from egate.outputs import atomic_write

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rates_of(genuine: list[float], impostor: list[float]) -> ErrorRates:
    return ErrorRates(
        [Comparison(True, value) for value in genuine]
        + [Comparison(False, value) for value in impostor]
    )


@pytest.mark.parametrize(
    ("genuine", "impostor"),
    [
        ([0.2, 0.3, 0.35], [0.7, 0.8, 0.85, 0.9]),  # separable: all rates reach 0
        ([0.2, 0.45, 0.5, 0.62], [0.4, 0.55, 0.6, 0.8]),  # overlapping
        ([0.3], []),  # no impostors: FMR undefined
    ],
)
def test_det_png_is_a_png(genuine, impostor):
    rates = rates_of(genuine, impostor)
    points = [rates.operating_point(target) for target in (0.0005, 0.25)]
    data = det_png(rates, points, "DET: test")
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as picture:
        picture.verify()
        assert picture.format == "PNG"
        assert picture.size[0] > 300 and picture.size[1] > 300


def test_det_png_leaves_no_figure_open():
    from matplotlib import pyplot as plt

    before = len(plt.get_fignums())
    det_png(rates_of([0.2], [0.8]), [], "DET")
    assert len(plt.get_fignums()) == before


def test_rates_csv_has_a_header_and_a_line_per_threshold():
    rates = rates_of([0.2, 0.3, 0.5], [0.4, 0.7, 0.8, 0.9])
    thresholds = default_thresholds()
    lines = rates_csv(rates.grid(thresholds)).decode("ascii").splitlines()
    assert lines[0] == (
        "threshold,fmr,fnmr,false_matches,impostor_comparisons,false_non_matches,"
        "genuine_comparisons"
    )
    assert len(lines) == 1 + len(thresholds)
    assert lines[1] == "0.3000,0.000000,0.333333,0,4,1,3"
    assert lines[1 + thresholds.index(0.6)] == "0.6000,0.250000,0.000000,1,4,0,3"
    assert lines[-1] == "0.9000,1.000000,0.000000,4,4,0,3"


def test_finite():
    assert finite(0.5) == 0.5
    assert finite(None) is None
    assert finite(math.nan) is None
    assert finite(math.inf) is None


# --- atomic_write ------------------------------------------------------------------


def leftovers(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".tmp"))


def test_atomic_write_writes_and_replaces(tmp_path):
    target = tmp_path / "out" / "summary.json"
    atomic_write(target, b"first")
    assert target.read_bytes() == b"first"
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second"
    assert leftovers(target.parent) == []


def test_atomic_write_leaves_nothing_when_it_fails(tmp_path):
    target = tmp_path / "det.png"
    target.mkdir()  # a folder where the file should go: the final rename fails
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        atomic_write(target, b"data")
    assert leftovers(tmp_path) == []
    assert (target / "inside").read_text() == "kept"


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "rates.csv"
    target.write_bytes(b"old")

    def failing_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_honours_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        atomic_write(tmp_path / "calibration.json", b"{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "calibration.json").stat().st_mode) == mode
