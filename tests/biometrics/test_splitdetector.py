"""The detector's pyramid searched on two threads gives one search's boxes."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from egate.biometrics import verifier as verifier_module
from egate.biometrics.dlibmodel import ModelFormatError, decode_integer
from egate.biometrics.face import DetectionSettings, FaceAnalyzer, FaceModels
from egate.biometrics.splitdetector import SplitPyramidDetector, read_layout
from egate.biometrics.verifier import FaceVerifier, VerifierSettings


@pytest.fixture(scope="module")
def saved_detector(face_models: FaceModels, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("detector") / "frontal.svm"
    face_models.detector.save(str(path))
    return path.read_bytes()


@pytest.fixture(scope="module")
def split(face_models: FaceModels) -> Any:
    detector = SplitPyramidDetector(face_models.detector)
    yield detector
    detector.close()


def _corners(boxes: list[Any]) -> list[tuple[int, int, int, int]]:
    return [(box.left(), box.top(), box.right(), box.bottom()) for box in boxes]


def _grey_copies(image: np.ndarray, sides: tuple[int, ...]) -> list[np.ndarray]:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    copies = []
    for side in sides:
        scale = min(1.0, side / max(height, width))
        size = (round(width * scale), round(height * scale))
        copies.append(cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if scale < 1 else grey)
    return copies


def test_the_layout_of_dlibs_frontal_detector(saved_detector):
    layout = read_layout(saved_detector)
    levels, end = decode_integer(saved_detector, layout.levels_start)
    assert (levels, end) == (1000, layout.levels_end)  # dlib's default: no limit
    assert layout.iou == pytest.approx(0.3301, abs=1e-4)
    assert layout.covered == pytest.approx(0.7886, abs=1e-4)


def test_another_saved_object_is_refused(saved_detector):
    with pytest.raises(ModelFormatError, match="versions 3/1"):
        read_layout(b"\x01\x03" + saved_detector[2:])


@given(st.binary(max_size=80))
def test_any_bytes_give_a_layout_or_a_format_error(data):
    try:
        layout = read_layout(data)
    except ModelFormatError:
        return
    assert 0 <= layout.iou <= 1 and 0 <= layout.covered <= 1


@given(st.data())
def test_a_damaged_header_gives_a_layout_or_a_format_error(saved_detector, data):
    header = bytearray(saved_detector[:64])
    for _ in range(data.draw(st.integers(1, 4))):
        header[data.draw(st.integers(0, len(header) - 1))] = data.draw(st.integers(0, 255))
    try:
        layout = read_layout(bytes(header))
    except ModelFormatError:
        return
    assert layout.levels_start < layout.levels_end <= len(header)
    assert 0 <= layout.iou <= 1 and 0 <= layout.covered <= 1


def test_the_sample_photos_give_one_searchs_boxes(split, face_models, faces, two_faces):
    compared = 0
    images = [faces.pixels(path) for path in faces.samples.images()] + [two_faces]
    for image in images:
        for copy in _grey_copies(image, (512, 640, 1024)):
            expected = _corners(list(face_models.detector(copy, 0)))
            assert _corners(split.detect(copy)) == expected
            compared += len(expected)
    # Faces at every size of the pyramid, several per picture, and one cut by the edge.
    assert compared >= 20


@pytest.mark.faces
def test_the_face_folder_gives_one_searchs_boxes(split, face_models, folder_pictures):
    compared = 0
    for image in folder_pictures:
        for copy in _grey_copies(image, (512, 640)):
            expected = _corners(list(face_models.detector(copy, 0)))
            assert _corners(split.detect(copy)) == expected
            compared += len(expected)
    assert compared >= 40


def test_a_small_picture_and_a_closed_helper_still_give_the_boxes(face_models, faces):
    detector = SplitPyramidDetector(face_models.detector)
    portrait = _grey_copies(faces.pixels("obama.jpg"), (512,))[0]
    small = cv2.resize(portrait, (150, 150 * portrait.shape[0] // portrait.shape[1]))
    assert _corners(detector.detect(small)) == _corners(list(face_models.detector(small, 0)))
    detector.close()
    found = detector.detect(portrait)
    assert len(found) == 1 and _corners(found) == _corners(list(face_models.detector(portrait, 0)))


def test_two_threads_give_the_same_faces_and_descriptor(face_models, faces, two_faces):
    one = FaceAnalyzer(face_models, DetectionSettings(threads=1))
    two = FaceAnalyzer(face_models, DetectionSettings(threads=2))
    for image in (faces.pixels("biden.jpg"), two_faces):
        first, second = one.find(image), two.find(image)
        assert second.boxes == first.boxes
        assert first.chip is not None and second.chip is not None
        np.testing.assert_array_equal(second.chip, first.chip)
        # Two threads add the descriptor's sums in another order: within rounding.
        np.testing.assert_allclose(two.describe(second.chip), one.describe(first.chip), atol=1e-5)
    assert len(two.find(two_faces).boxes) == 2
    # Detection on colour rather than grey splits the same way.
    colour = {
        threads: FaceAnalyzer(face_models, DetectionSettings(grey_detection=False, threads=threads))
        for threads in (1, 2)
    }
    assert colour[2].find(two_faces).boxes == colour[1].find(two_faces).boxes


def test_threads_follow_the_setting_or_the_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(verifier_module, "available_cores", lambda: 2)
    assert VerifierSettings().threads_for() == 2
    assert VerifierSettings().threads_for(verifiers=2) == 1
    assert VerifierSettings(threads=1).threads_for() == 1
    monkeypatch.setattr(verifier_module, "available_cores", lambda: 16)
    assert VerifierSettings().threads_for(verifiers=4) == 2  # the split uses two at most
    monkeypatch.setattr(verifier_module, "available_cores", lambda: 1)
    assert VerifierSettings(threads=2).threads_for() == 2
    assert VerifierSettings().threads_for() == 1


def test_a_verifier_takes_its_threads_from_the_settings(face_models):
    analyzer = FaceVerifier.with_models(face_models, VerifierSettings(threads=1)).analyzer
    assert analyzer.settings.threads == 1
    analyzer = FaceVerifier.with_models(face_models, VerifierSettings(threads=2)).analyzer
    assert analyzer.settings.threads == 2


def test_the_limited_copy_searches_only_the_top_levels(split, face_models, faces):
    # A window is 73 px at its own level: 73 and 88 px at the top two levels.
    # biden.jpg's face is 14 % of the long side (73 px at 512); obama.jpg's
    # is 24 %, found three levels down (125 px).
    small_face = _grey_copies(faces.pixels("biden.jpg"), (512,))[0]
    large_face = _grey_copies(faces.pixels("obama.jpg"), (512,))[0]
    assert [box.width() for box in face_models.detector(small_face, 0)] == [73]
    assert [box.width() for box in face_models.detector(large_face, 0)] == [125]
    assert [box.width() for box in split._top(small_face, 0)] == [73]
    assert {box.width() for box in split._top(large_face, 0)} <= {73, 88}


def test_an_unreadable_detector_leaves_one_thread(face_models, monkeypatch, caplog):
    import copy

    from egate.biometrics import face as face_module

    def broken(detector: Any) -> SplitPyramidDetector:
        raise ModelFormatError("saved detector versions 9/9")

    monkeypatch.setattr(face_module, "SplitPyramidDetector", broken)
    models = copy.copy(face_models)
    models._split, models._split_failed = None, False
    analyzer = FaceAnalyzer(models, DetectionSettings(threads=2))
    assert models.split_detector() is None
    assert any("using one" in record.getMessage() for record in caplog.records)
    assert analyzer.find(np.zeros((200, 200, 3), np.uint8)).boxes == ()
