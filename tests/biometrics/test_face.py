"""Where egate's face detector looks: a reduced grey copy, then a larger one, then upsampled.

The detector is wrapped to record the size of each copy it is given, so the
tests check the search itself (which copies, in which order), not its time.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from egate.biometrics.face import DetectionSettings, FaceAnalyzer, FaceModels


class RecordingDetector:
    """dlib's detector, noting (long side, channels, upsampling) of every call."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.calls: list[tuple[int, int, int]] = []

    def __call__(self, image: np.ndarray, upsample: int) -> Any:
        channels = 1 if image.ndim == 2 else image.shape[2]
        self.calls.append((max(image.shape[:2]), channels, upsample))
        return self.detector(image, upsample)


@pytest.fixture
def recorded(face_models: FaceModels) -> tuple[FaceModels, RecordingDetector]:
    models = copy.copy(face_models)
    models.detector = RecordingDetector(face_models.detector)
    return models, models.detector


def on_canvas(portrait: np.ndarray, long_side: int) -> np.ndarray:
    """The portrait in the corner of a white square of ``long_side`` pixels."""
    canvas = np.full((long_side, long_side, 3), 255, np.uint8)
    canvas[: portrait.shape[0], : portrait.shape[1]] = portrait
    return canvas


FIRST_320 = DetectionSettings(detection_long_side=320)


def test_by_default_a_grey_512_copy_is_searched_then_upsampled(faces, recorded):
    models, detector = recorded
    finding = FaceAnalyzer(models).find(faces.pixels("obama.jpg"))
    assert len(finding.boxes) == 1 and finding.chip is not None
    FaceAnalyzer(models).find(np.full((720, 1280, 3), 128, np.uint8))
    assert detector.calls == [(512, 1, 0), (512, 1, 0), (512, 1, 1)]


def test_a_portrait_is_found_on_a_first_small_copy(faces, recorded):
    models, detector = recorded
    finding = FaceAnalyzer(models, FIRST_320).find(faces.pixels("obama.jpg"))
    assert len(finding.boxes) == 1 and finding.chip is not None
    assert detector.calls == [(320, 1, 0)]  # grey, 320 px, one pass


def test_a_smaller_face_is_then_found_on_the_512_copy(faces, recorded):
    models, detector = recorded
    portrait = faces.pixels("obama.jpg")  # face about a quarter of its long side
    frame = on_canvas(portrait, 2 * max(portrait.shape[:2]))
    finding = FaceAnalyzer(models, FIRST_320).find(frame)
    assert detector.calls == [(320, 1, 0), (512, 1, 0)]
    alone = FaceAnalyzer(models).find(frame)
    assert finding.boxes == alone.boxes
    assert finding.chip is not None and finding.chip.shape == (150, 150, 3)


def test_without_a_face_the_512_copy_is_searched_upsampled(recorded):
    models, detector = recorded
    finding = FaceAnalyzer(models, FIRST_320).find(np.full((720, 1280, 3), 128, np.uint8))
    assert finding.boxes == () and finding.chip is None
    assert detector.calls == [(320, 1, 0), (512, 1, 0), (512, 1, 1)]
    assert set(finding.timings) == {"downscale", "detect"}


def test_a_picture_smaller_than_the_first_copy_is_searched_once_then_upsampled(recorded):
    models, detector = recorded
    FaceAnalyzer(models, FIRST_320).find(np.full((240, 300, 3), 128, np.uint8))
    assert detector.calls == [(300, 1, 0), (300, 1, 1)]


def test_a_first_pass_at_320_misses_a_smaller_second_face(faces, recorded, two_faces):
    # Why 512 stays the default: the search stops at the first copy with a face.
    models, _ = recorded
    assert len(FaceAnalyzer(models).find(two_faces).boxes) == 2
    assert len(FaceAnalyzer(models, FIRST_320).find(two_faces).boxes) == 1


def test_rgb_detection_can_be_chosen_and_finds_the_same_faces(faces, recorded, two_faces):
    models, detector = recorded
    grey = FaceAnalyzer(models)
    rgb = FaceAnalyzer(models, DetectionSettings(grey_detection=False))
    for image in (faces.pixels("obama2.jpg"), faces.pixels("biden.jpg"), two_faces):
        on_grey, on_rgb = grey.find(image), rgb.find(image)
        assert len(on_grey.boxes) == len(on_rgb.boxes)
        for first, second in zip(
            sorted(on_grey.boxes, key=lambda box: box.left),
            sorted(on_rgb.boxes, key=lambda box: box.left),
            strict=True,
        ):
            # The same face: centres within a tenth of its size, sizes within one
            # step of dlib's image pyramid (each level 5/6 of the one above).
            tolerance = max(4, second.height // 10)
            assert abs((first.left + first.right) - (second.left + second.right)) <= 2 * tolerance
            assert abs((first.top + first.bottom) - (second.top + second.bottom)) <= 2 * tolerance
            assert 5 / 6 - 0.05 <= first.height / second.height <= 6 / 5 + 0.05
        # The chip comes from the colour picture either way.
        assert on_grey.chip is not None and not np.array_equal(
            on_grey.chip[..., 0], on_grey.chip[..., 2]
        )
    assert {channels for _, channels, _ in detector.calls} == {1, 3}
