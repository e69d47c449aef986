"""A capture window judged as a gate's matching core judges it: best frame, guidance, liveness.

Real sample photos and real models; attack frames come from
``egate.biometrics.padclips`` (a print moved in front of the camera).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from egate.biometrics.capture import (
    LIVENESS_NOT_JUDGED,
    CaptureSettings,
    CaptureVerifier,
)
from egate.biometrics.decision import Decision
from egate.biometrics.face import FaceModels
from egate.biometrics.guidance import CaptureGuidance
from egate.biometrics.image import RgbImage
from egate.biometrics.matching import MatchingCore
from egate.biometrics.padclips import print_attack
from egate.biometrics.verifier import FaceVerifier

EMPTY = np.full((480, 640, 3), 128, np.uint8)


@pytest.fixture(scope="module")
def window(face_models: FaceModels, verifier: FaceVerifier) -> CaptureVerifier:
    return CaptureVerifier(verifier, face_models, CaptureSettings(frames=3))


@pytest.fixture(scope="module")
def liveness(face_models: FaceModels, verifier: FaceVerifier) -> CaptureVerifier:
    return CaptureVerifier(verifier, face_models, CaptureSettings(frames=6, liveness="passive"))


def _on_canvas(face: RgbImage, shift: int) -> RgbImage:
    """The photo placed on a grey 640 x 480 frame, ``shift`` pixels right of centre."""
    canvas = EMPTY.copy()
    small = face[: min(face.shape[0], 460), : min(face.shape[1], 600)]
    top = (480 - small.shape[0]) // 2
    left = min(640 - small.shape[1], max(0, (640 - small.shape[1]) // 2 + shift))
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    return canvas


def test_the_best_frame_of_a_window_is_verified_and_matches(
    window: CaptureVerifier, faces: Any
) -> None:
    # Nobody, then the traveller: the window still decides on the good frame.
    live = faces.pixels("obama2.jpg")
    result = window.verify_window(faces.template("obama.jpg"), [EMPTY, live, EMPTY])
    assert result.verification.decision is Decision.MATCH
    assert result.verification.distance is not None and result.verification.distance < 0.6
    assert (result.frames, result.usable_frames, result.guidance) == (3, 1, None)
    assert result.best_quality is not None and 0 < result.best_quality <= 100
    # The window's own stage is timed beside the verification's.
    assert {"window_score", "descriptor"} <= set(result.verification.timings)


def test_an_impostor_s_window_is_a_mismatch_without_guidance(
    window: CaptureVerifier, faces: Any
) -> None:
    live = faces.pixels("biden.jpg")
    result = window.verify_window(faces.template("obama.jpg"), [live, live, live])
    assert result.verification.decision is Decision.NO_MATCH
    assert result.verification.reason == "BIOMETRIC_MISMATCH"
    assert result.guidance is None


def test_a_window_without_a_face_tells_the_traveller_to_look_at_the_camera(
    window: CaptureVerifier, faces: Any
) -> None:
    result = window.verify_window(faces.template("obama.jpg"), [EMPTY, EMPTY, EMPTY])
    assert result.verification.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.verification.reason == "FACE_NOT_FOUND"
    assert result.guidance is CaptureGuidance.LOOK_AT_CAMERA
    assert result.usable_frames == 0 and result.best_quality is None


def test_a_dark_window_asks_for_light(window: CaptureVerifier, faces: Any) -> None:
    dark = (faces.pixels("obama2.jpg") * 0.15).astype(np.uint8)
    result = window.verify_window(faces.template("obama.jpg"), [dark, dark, dark])
    assert result.verification.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.guidance is CaptureGuidance.TOO_DARK


def test_two_faces_at_the_start_or_end_of_a_window_are_judged_as_such(
    window: CaptureVerifier, faces: Any, two_faces: RgbImage
) -> None:
    # The same frame with only the traveller in it (the other half left white).
    alone = two_faces.copy()
    alone[:, faces.pixels("obama2.jpg").shape[1] :] = 255
    # The first frame is searched whole, the others near the face found; the
    # last frame is searched whole again (someone who stepped in meanwhile).
    for frames in ([two_faces, alone, alone], [alone, alone, two_faces]):
        result = window.verify_window(faces.template("obama.jpg"), frames)
        assert result.verification.reason == "MULTIPLE_FACES"
    assert result.verification.decision is Decision.FAILURE_TO_ACQUIRE


def test_a_print_held_up_to_the_camera_is_a_presentation_attack(
    liveness: CaptureVerifier, faces: Any
) -> None:
    frames = print_attack(faces.pixels("obama2.jpg"), 6, np.random.default_rng(3))
    result = liveness.verify_window(faces.template("obama.jpg"), frames)
    assert result.verification.reason == "PRESENTATION_ATTACK"
    assert result.verification.decision is Decision.NO_MATCH
    assert result.verification.distance is None  # no comparison was made
    assert result.liveness is not None and result.liveness.score >= 0.5
    assert result.to_json()["liveness"] == result.liveness_verdict == "attack"


def test_a_match_without_enough_faces_to_judge_liveness_is_captured_again(
    liveness: CaptureVerifier, faces: Any
) -> None:
    live = _on_canvas(faces.pixels("obama2.jpg"), 0)
    frames = [EMPTY] * 5 + [live]
    result = liveness.verify_window(faces.template("obama.jpg"), frames)
    assert result.verification.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.verification.reason == LIVENESS_NOT_JUDGED
    assert result.liveness is None and result.liveness_verdict == "not_judged"
    assert result.guidance is not None


def test_a_one_frame_window_is_scored_only_when_it_gives_no_face_to_compare(
    window: CaptureVerifier, faces: Any
) -> None:
    # Nothing to choose between: a match is verified at once, without scoring.
    matched = window.verify_window(faces.template("obama.jpg"), [faces.pixels("obama2.jpg")])
    assert matched.verification.decision is Decision.MATCH
    assert "window_score" not in matched.verification.timings
    assert (matched.guidance, matched.usable_frames, matched.best_quality) == (None, 1, None)
    # A failure to acquire is scored, for what to tell the traveller.
    dark = (faces.pixels("obama2.jpg") * 0.15).astype(np.uint8)
    failed = window.verify_window(faces.template("obama.jpg"), [dark])
    assert failed.verification.decision is Decision.FAILURE_TO_ACQUIRE
    assert "window_score" in failed.verification.timings
    assert failed.guidance is CaptureGuidance.TOO_DARK


def test_the_result_carries_no_pictures_or_templates(window: CaptureVerifier, faces: Any) -> None:
    live = faces.pixels("obama2.jpg")
    result = window.verify_window(faces.template("obama.jpg"), [live])
    text = repr(result.to_json())
    assert "array" not in text and "Template" not in text and "Landmarks" not in text


def test_liveness_needs_a_window_of_several_frames() -> None:
    with pytest.raises(ValidationError, match="at least 3 frames"):
        CaptureSettings(frames=1, liveness="passive")


def test_the_matching_core_verifies_a_window_in_a_worker_process(faces: Any) -> None:
    # Frames travel stacked in one shared-memory segment; the worker loads the
    # capture models with its first window.
    live = faces.pixels("obama2.jpg")
    with MatchingCore(workers=1, capture=CaptureSettings(frames=2)) as core:
        core.wait_ready()
        template = faces.template("obama.jpg")
        nobody = np.zeros_like(live)
        future = core.submit_capture(template, [nobody, live], time.monotonic() + 60)
        result = future.result(timeout=120)
        assert result.verification.decision is Decision.MATCH
        assert result.frames == 2
        with pytest.raises(ValueError, match="frames of one size"):
            core.submit_capture(template, [live, EMPTY], time.monotonic() + 60)
