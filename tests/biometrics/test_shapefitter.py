"""egate's landmark fitter gives dlib's points, to the pixel, one face or a window at a time."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from shapemodels import random_model

from egate.biometrics.face import FaceModels
from egate.biometrics.landmarks import LandmarkFinder, _shape_model
from egate.biometrics.shapefitter import ShapeFitter
from egate.biometrics.shapemodel import parse_shape_model

dlib = pytest.importorskip("dlib")


def _dlib_points(predictor, image, box) -> np.ndarray:
    shape = predictor(image, dlib.rectangle(*box))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float64)


def _frames_and_boxes(finder: LandmarkFinder, images) -> tuple[list, list]:
    frames, boxes = [], []
    for image in images:
        for box in finder.detect(image).boxes:
            frames.append(image)
            boxes.append((box.left, box.top, box.right, box.bottom))
    return frames, boxes


@pytest.fixture(scope="module")
def dlib_68():
    import face_recognition_models

    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


@pytest.fixture(scope="module")
def finder(face_models: FaceModels) -> LandmarkFinder:
    return LandmarkFinder(face_models, detection_long_side=640)


@pytest.mark.parametrize("seed", range(12))
def test_a_random_model_gives_dlibs_points(seed, tmp_path):
    written = random_model(seed, points=7, levels=3, trees=20, depth=3, pixels=60)
    path = tmp_path / "model.dat"
    path.write_bytes(written.encode())
    predictor = dlib.shape_predictor(str(path))
    fitter = ShapeFitter(parse_shape_model(path.read_bytes()))
    rng = np.random.default_rng(seed)
    # Smooth random pictures (so near pixels are alike, as in a face), boxes inside and
    # across the edges.
    images = [cv2.resize(rng.integers(0, 256, (12, 16, 3), np.uint8), (160, 120)) for _ in range(6)]
    boxes = [(10, 10, 90, 90), (-30, 40, 60, 140), (100, -20, 200, 60), (0, 0, 159, 119)]
    frames = [image for image in images for _ in boxes]
    corners = boxes * len(images)
    fitted = fitter.fit_many(frames, corners)
    for frame, box, points in zip(frames, corners, fitted, strict=True):
        np.testing.assert_array_equal(points, _dlib_points(predictor, frame, box))


def test_the_sample_photos_give_dlibs_68_points(faces, two_faces, finder, dlib_68):
    images = [faces.pixels(path) for path in faces.samples.images()] + [two_faces]
    frames, boxes = _frames_and_boxes(finder, images)
    assert len(boxes) >= 10
    fitted = _shape_model().fit_many(frames, boxes)
    for frame, box, points in zip(frames, boxes, fitted, strict=True):
        np.testing.assert_array_equal(points, _dlib_points(dlib_68, frame, box))


@pytest.mark.faces
def test_the_face_folder_and_its_video_give_dlibs_68_points(folder_pictures, finder, dlib_68):
    images = folder_pictures
    frames, boxes = _frames_and_boxes(finder, images)
    assert len(boxes) >= 30
    # All at once, as a capture window is fitted, and each alone: the same points.
    together = _shape_model().fit_many(frames, boxes)
    for frame, box, points in zip(frames, boxes, together, strict=True):
        expected = _dlib_points(dlib_68, frame, box)
        np.testing.assert_array_equal(points, expected)
        np.testing.assert_array_equal(_shape_model().fit_many([frame], [box])[0], expected)


def test_grey_bgr_and_read_only_pictures_are_fitted_as_dlib_fits_them(faces, finder, dlib_68):
    colour = np.ascontiguousarray(faces.pixels("obama.jpg"))
    box = finder.detect(colour).boxes[0]
    corners = (box.left, box.top, box.right, box.bottom)
    grey = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
    view = colour[:, ::-1][:, ::-1]  # not contiguous
    fitted = _shape_model().fit_many([grey, colour, view, colour.copy()], [corners] * 4)
    np.testing.assert_array_equal(fitted[0], _dlib_points(dlib_68, grey, corners))
    for points in fitted[1:]:
        np.testing.assert_array_equal(points, _dlib_points(dlib_68, colour, corners))


def test_bad_pictures_and_boxes_are_refused_with_a_reason():
    fitter = _shape_model()
    assert fitter.fit_many([], []) == []
    with pytest.raises(ValueError, match="not an 8-bit RGB or grey picture"):
        fitter.fit_many([np.zeros((8, 8, 4), np.uint8)], [(0, 0, 4, 4)])
    with pytest.raises(ValueError, match="not an 8-bit RGB or grey picture"):
        fitter.fit_many([np.zeros((8, 8), np.float32)], [(0, 0, 4, 4)])
    with pytest.raises(ValueError, match="beyond"):
        fitter.fit_many([np.zeros((8, 8), np.uint8)], [(0, 0, 1 << 40, 4)])
    with pytest.raises(ValueError, match="1 images but 2 boxes"):
        fitter.fit_many([np.zeros((8, 8), np.uint8)], [(0, 0, 4, 4)] * 2)


def test_an_unreadable_model_falls_back_to_dlibs_predictor(monkeypatch, caplog, faces, finder):
    import egate.biometrics.landmarks as landmarks
    import egate.biometrics.shapemodel as shapemodel

    def unreadable(path: Path):
        raise landmarks.ModelFormatError(f"{path}: byte 0: version 9, expected 1-1")

    image = faces.pixels("biden.jpg")
    box = finder.detect(image).boxes[0]
    expected = finder.fit(image, box).points
    monkeypatch.setattr(shapemodel, "read_shape_model", unreadable)
    landmarks._shape_model.cache_clear()
    try:
        fallback = landmarks._shape_model()
        assert "using dlib's" in caplog.text and "version 9" in caplog.text
        corners = (box.left, box.top, box.right, box.bottom)
        np.testing.assert_array_equal(fallback.fit_many([image], [corners])[0], expected)
    finally:
        landmarks._shape_model.cache_clear()
