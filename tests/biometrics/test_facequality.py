"""Face image quality measures: their values on altered copies of sample portraits.

Each test alters a portrait in one known way (rotated, darkened, shrunk,
mirrored, eyes covered, one side shaded, blurred) and checks the measure it
should move, by how much, and the instruction a gate would give.  The
portraits are matplotlib's grace_hopper (always there) and, for a turned
head, the face_recognition sample obama2 (skips without the samples).
"""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from egate.biometrics import facequality
from egate.biometrics.face import FaceBox, FaceModels
from egate.biometrics.facequality import (
    FaceQuality,
    assess,
    eye_aspect_ratio,
    head_pose,
    mouth_opening,
)
from egate.biometrics.guidance import CaptureGuidance
from egate.biometrics.image import RgbImage, read_image_file
from egate.biometrics.landmarks import LEFT_EYE, RIGHT_EYE, LandmarkFinder, Landmarks


@pytest.fixture(scope="module")
def finder(face_models: FaceModels) -> LandmarkFinder:
    return LandmarkFinder(face_models)


@pytest.fixture(scope="module")
def hopper(grace_hopper_path) -> RgbImage:
    image = read_image_file(grace_hopper_path)
    image.setflags(write=False)
    return image


@pytest.fixture(scope="module")
def hopper_landmarks(finder: LandmarkFinder, hopper: RgbImage) -> Landmarks:
    found = finder.locate(hopper).landmarks
    assert found is not None
    return found


def measured(finder: LandmarkFinder, image: RgbImage) -> FaceQuality:
    found = finder.locate(image).landmarks
    assert found is not None, "no face found"
    return assess(image, found)


def test_a_good_portrait_scores_high_with_nothing_to_say(hopper, hopper_landmarks):
    quality = assess(hopper, hopper_landmarks)
    assert quality.score > 85
    assert quality.guidance is None
    assert quality.problems == ()
    assert 70 < quality.inter_eye_distance_px < 95
    assert abs(quality.yaw_deg) < 10 and abs(quality.roll_deg) < 5
    assert quality.eyes_open > 0.2 and quality.eyes_visible > 0.5
    assert quality.mouth_closed < 0.1
    assert 100 < quality.exposure < 180 and quality.dynamic_range > 150
    assert quality.illumination_uniformity > 0.9
    assert quality.face_inside == 1.0
    assert all(0 <= value <= 100 for value in quality.components.values())


@pytest.mark.parametrize("angle", [15.0, -15.0])
def test_rotating_the_picture_in_plane_reads_as_roll(finder, hopper, hopper_landmarks, angle):
    height, width = hopper.shape[:2]
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    rotated = cv2.warpAffine(hopper, rotation, (width, height), borderMode=cv2.BORDER_REPLICATE)
    before, after = assess(hopper, hopper_landmarks), measured(finder, rotated)
    # Counter-clockwise in the picture (OpenCV's positive angle) is positive roll.
    assert after.roll_deg - before.roll_deg == pytest.approx(angle, abs=2.0)
    # Yaw moves a little (a new landmark fit, a generic 3-D face): within 6 degrees.
    assert after.yaw_deg == pytest.approx(before.yaw_deg, abs=6.0)


def test_a_darkened_copy_is_too_dark(hopper, hopper_landmarks):
    before = assess(hopper, hopper_landmarks)
    dark = (hopper * 0.2).astype(np.uint8)
    after = assess(dark, hopper_landmarks)
    assert after.exposure == pytest.approx(before.exposure * 0.2, rel=0.1)
    assert after.components["exposure"] < 20
    assert after.dynamic_range < before.dynamic_range / 3
    assert after.guidance is CaptureGuidance.TOO_DARK
    assert any("too dark" in problem for problem in after.problems)
    assert after.score < before.score - 30


def test_a_shrunk_copy_has_the_eyes_closer_and_asks_to_step_closer(hopper, hopper_landmarks):
    height, width = hopper.shape[:2]
    small = cv2.resize(hopper, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    shrunk = Landmarks(hopper_landmarks.points / 4, hopper_landmarks.box)
    before, after = assess(hopper, hopper_landmarks), assess(small, shrunk)
    assert after.inter_eye_distance_px == pytest.approx(before.inter_eye_distance_px / 4)
    assert after.inter_eye_distance_px < 60
    assert after.guidance is CaptureGuidance.STEP_CLOSER
    assert after.components["inter_eye_distance"] == 0
    # The pose and pixel measures hardly move: they do not depend on the size.
    assert after.roll_deg == pytest.approx(before.roll_deg, abs=1.0)
    assert after.exposure == pytest.approx(before.exposure, abs=5)


def test_eyes_covered_by_a_band_ask_to_remove_the_obstruction(finder, hopper, hopper_landmarks):
    covered = hopper.copy()
    eyes = hopper_landmarks.points[36:48]
    margin = 0.25 * hopper_landmarks.eye_distance
    top, bottom = int(eyes[:, 1].min() - margin), int(eyes[:, 1].max() + margin)
    left, right = hopper_landmarks.points[:, 0].min(), hopper_landmarks.points[:, 0].max()
    covered[top:bottom, int(left) : int(right)] = 25
    # Where the eyes were: featureless.
    at_the_eyes = assess(covered, hopper_landmarks)
    assert at_the_eyes.eyes_visible < 0.1
    assert at_the_eyes.guidance is CaptureGuidance.REMOVE_OBSTRUCTION
    # Searched afresh: no face, or one whose eyes are hidden.
    found = finder.locate(covered).landmarks
    if found is not None:
        assert assess(covered, found).guidance is CaptureGuidance.REMOVE_OBSTRUCTION


def test_mirroring_a_turned_head_flips_its_yaw(finder, faces):
    image = faces.pixels("obama2.jpg")  # turned about 17 degrees to his right
    original = measured(finder, image)
    mirrored = measured(finder, np.ascontiguousarray(image[:, ::-1]))
    assert original.yaw_deg < -10
    assert mirrored.yaw_deg == pytest.approx(-original.yaw_deg, abs=3.0)
    assert mirrored.roll_deg == pytest.approx(-original.roll_deg, abs=2.0)
    assert abs(original.yaw_deg) > 15 or original.guidance is None


def test_one_side_in_shadow_is_uneven_lighting(hopper, hopper_landmarks):
    shaded = hopper.astype(np.float64)
    nose_x = int(hopper_landmarks.points[27:31, 0].mean())
    shaded[:, :nose_x] *= 0.25
    quality = assess(shaded.astype(np.uint8), hopper_landmarks)
    assert quality.illumination_uniformity < 0.4
    assert quality.guidance is CaptureGuidance.TOO_DARK
    assert any("unevenly lit" in problem for problem in quality.problems)


def test_a_blurred_copy_loses_sharpness(hopper, hopper_landmarks):
    before = assess(hopper, hopper_landmarks)
    blurred = assess(cv2.GaussianBlur(hopper, (0, 0), 4), hopper_landmarks)
    assert blurred.sharpness < before.sharpness / 10
    assert any("blurred" in problem for problem in blurred.problems)


def test_a_face_cut_by_the_frame_is_partly_outside(hopper, hopper_landmarks):
    nose_x = int(hopper_landmarks.points[30, 0])
    cut = np.ascontiguousarray(hopper[:, nose_x:])
    moved = Landmarks(hopper_landmarks.points - (nose_x, 0), hopper_landmarks.box)
    quality = assess(cut, moved)
    assert 0.4 < quality.face_inside < 0.6
    assert quality.guidance is CaptureGuidance.LOOK_AT_CAMERA


def test_eye_aspect_ratio_and_mouth_opening_formulas():
    points = np.zeros((68, 2))
    # An eye 30 px wide whose lids are 9 px apart: (9 + 9) / (2 * 30) = 0.3.
    eye = [(0, 0), (10, -4.5), (20, -4.5), (30, 0), (20, 4.5), (10, 4.5)]
    points[RIGHT_EYE] = eye
    points[LEFT_EYE] = [(x + 60, y) for x, y in eye]
    assert eye_aspect_ratio(points, RIGHT_EYE) == pytest.approx(0.3)
    closed = points.copy()
    closed[RIGHT_EYE, 1] = 0
    assert eye_aspect_ratio(closed, RIGHT_EYE) == 0
    # Inner lips 40 px wide, 10 px apart at 61-67, 62-66, 63-65: opening 0.25.
    points[60:68] = [(0, 0), (10, -5), (20, -5), (30, -5), (40, 0), (30, 5), (20, 5), (10, 5)]
    assert mouth_opening(points) == pytest.approx(0.25)


@pytest.mark.parametrize(("yaw", "pitch"), [(0, 0), (20, 0), (-20, 0), (0, 15), (0, -15)])
def test_head_pose_recovers_a_projected_model(yaw, pitch):
    # The generic face turned by known angles and projected: the fit must give them back.
    model = facequality._MODEL
    y, p = math.radians(yaw), math.radians(pitch)
    turn = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    nod = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    camera_points = model @ (turn @ nod).T + (0.0, 0.0, 600.0)
    focal, centre = 1000.0, np.array([640.0, 360.0])
    projected = camera_points[:, :2] / camera_points[:, 2:] * focal + centre
    points = np.zeros((68, 2))
    points[facequality._MODEL_INDEX] = projected
    got_yaw, got_pitch, got_roll = head_pose(points, (1000, 720))
    assert got_yaw == pytest.approx(yaw, abs=1.5)
    assert got_pitch == pytest.approx(pitch, abs=1.5)
    assert got_roll == pytest.approx(0, abs=1.5)


def test_to_json_is_plain_json_without_geometry(hopper, hopper_landmarks):
    record = assess(hopper, hopper_landmarks).to_json()
    assert set(record) == {"measures", "components", "score", "guidance", "problems"}
    assert set(record["measures"]) == set(facequality.MEASURE_NAMES)
    json.dumps(record, allow_nan=False)


def test_degenerate_landmarks_give_nan_pose_and_a_problem(hopper):
    same_point = Landmarks(np.full((68, 2), 50.0), FaceBox(0, 0, 100, 100))
    quality = assess(hopper, same_point)
    assert math.isnan(quality.yaw_deg)
    assert quality.guidance is CaptureGuidance.LOOK_AT_CAMERA
    assert quality.to_json()["measures"]["yaw_deg"] is None


def test_landmarks_that_are_not_numbers_score_zero(hopper):
    points = np.full((68, 2), 50.0)
    points[30] = math.nan
    quality = assess(hopper, Landmarks(points, FaceBox(0, 0, 100, 100)))
    assert quality.score == 0
    assert quality.guidance is CaptureGuidance.LOOK_AT_CAMERA
    assert quality.problems == ("no usable landmarks (not 68 finite points near the picture)",)


coordinates = st.one_of(
    st.floats(-100, 300), st.sampled_from([math.nan, math.inf, -math.inf, 1e300])
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    image=arrays(
        np.uint8,
        st.tuples(st.integers(1, 48), st.integers(1, 48), st.just(3)),
        elements=st.integers(0, 255),
    ),
    points=arrays(np.float64, (68, 2), elements=coordinates),
)
def test_any_pixels_and_landmarks_never_raise(image, points):
    quality = assess(image, Landmarks(points, FaceBox(0, 0, 1, 1)))
    assert 0 <= quality.score <= 100
    assert all(0 <= value <= 100 for value in quality.components.values())
    json.dumps(quality.to_json(), allow_nan=False)
