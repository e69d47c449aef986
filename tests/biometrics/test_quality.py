"""Quality gates: too dark, too bright, too blurred, too small faces are failures to acquire."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from egate.biometrics.decision import Decision
from egate.biometrics.quality import QualityMeasures, QualitySettings, measure, shortfall


@pytest.fixture(scope="module")
def finding(verifier, faces):
    """The face found in obama2.jpg: its box and aligned chip."""
    found = verifier.analyzer.find(faces.pixels("obama2.jpg"))
    assert found.chip is not None and len(found.boxes) == 1
    return found


def numbers(text: str) -> list[float]:
    return [float(token.rstrip(",")) for token in text.split() if token[0].isdigit()]


# --- the gates on measured values ---------------------------------------------

LIMITS = QualitySettings()


def test_a_good_face_passes(finding):
    measures = measure(finding.chip, finding.boxes[0].height)
    assert measures.face_px == finding.boxes[0].height
    assert measures.sharpness > LIMITS.min_sharpness
    assert LIMITS.min_brightness < measures.brightness < LIMITS.max_brightness
    assert shortfall(measures, LIMITS) is None


@pytest.mark.parametrize(
    ("measures", "words", "values"),
    [
        (QualityMeasures(63, 100.0, 120.0), "face 63 px high, below the 64 px minimum", [63, 64]),
        (QualityMeasures(64, 100.0, 39.9), "face too dark", [39.9, 40.0]),
        (QualityMeasures(64, 100.0, 235.1), "face too bright", [235.1, 235.0]),
        (QualityMeasures(64, 14.9, 120.0), "face too blurred", [14.9, 15.0]),
    ],
)
def test_each_gate_names_the_value_and_the_limit(measures, words, values):
    problem = shortfall(measures, LIMITS)
    assert problem is not None and problem.startswith(words)
    assert numbers(problem) == values


def test_limits_themselves_pass():
    assert shortfall(QualityMeasures(64, 15.0, 40.0), LIMITS) is None
    assert shortfall(QualityMeasures(64, 15.0, 235.0), LIMITS) is None


def test_limits_are_configurable():
    strict = QualitySettings(min_face_px=200)
    assert shortfall(QualityMeasures(150, 100.0, 120.0), strict) is not None
    with pytest.raises(ValueError, match="min_face_px"):
        QualitySettings(min_face_px=10)
    with pytest.raises(ValueError, match="extra"):
        QualitySettings(min_sharpnes=1.0)  # type: ignore[call-arg]


def test_blurring_a_chip_fails_the_sharpness_gate(finding):
    blurred = cv2.GaussianBlur(finding.chip, (0, 0), 3)
    measures = measure(blurred, finding.boxes[0].height)
    sharp = measure(finding.chip, finding.boxes[0].height)
    assert measures.sharpness < LIMITS.min_sharpness < sharp.sharpness
    # Blur moves sharpness, not brightness.
    assert measures.brightness == pytest.approx(sharp.brightness, abs=2)
    problem = shortfall(measures, LIMITS)
    assert problem is not None and "blurred" in problem


def test_darkening_a_chip_lowers_brightness_only(finding):
    dark = (finding.chip * 0.12).astype(np.uint8)
    measures = measure(dark, finding.boxes[0].height)
    assert measures.brightness < LIMITS.min_brightness
    assert measures.brightness == pytest.approx(measure(finding.chip, 100).brightness * 0.12, abs=1)


# --- the gates through the verifier --------------------------------------------


def test_dark_face_is_low_quality(faces, verifier):
    dark = (faces.pixels("obama2.jpg") * 0.12).astype(np.uint8)
    result = verifier.verify(faces.template("obama.jpg"), dark)
    assert result.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.reason == "LOW_QUALITY"
    assert result.detail is not None and "too dark" in result.detail
    measured, limit = numbers(result.detail)
    assert measured < limit == 40.0
    assert "descriptor" not in result.timings  # no comparison was made
    assert result.timings["quality"] >= 0


def test_blurred_face_is_a_failure_to_acquire(faces, verifier):
    blurred = cv2.GaussianBlur(faces.pixels("obama2.jpg"), (0, 0), 10)
    result = verifier.verify(faces.template("obama.jpg"), blurred)
    assert result.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.reason in ("LOW_QUALITY", "FACE_NOT_FOUND")
    if result.reason == "LOW_QUALITY":
        assert result.detail is not None and "blurred" in result.detail


def test_tiny_face_is_a_failure_to_acquire(faces, verifier, finding):
    portrait = faces.pixels("obama2.jpg")
    scale = 40 / finding.boxes[0].height  # a face of about 40 px
    small = cv2.resize(
        portrait,
        (round(portrait.shape[1] * scale), round(portrait.shape[0] * scale)),
        interpolation=cv2.INTER_AREA,
    )
    result = verifier.verify(faces.template("obama.jpg"), small)
    assert result.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.reason in ("LOW_QUALITY", "FACE_NOT_FOUND")
    if result.reason == "LOW_QUALITY":
        assert result.detail is not None and "below the 64 px minimum" in result.detail
        assert numbers(result.detail)[0] < 64


def test_overexposed_face_is_low_quality(faces, verifier):
    bright = np.clip(faces.pixels("obama2.jpg").astype(np.int16) + 180, 0, 255).astype(np.uint8)
    result = verifier.verify(faces.template("obama.jpg"), bright)
    assert result.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.reason in ("LOW_QUALITY", "FACE_NOT_FOUND")
    if result.reason == "LOW_QUALITY":
        assert result.detail is not None and "too bright" in result.detail
