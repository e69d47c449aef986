"""1:1 verification: decisions, the threshold rule, reason codes, timings, redaction."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest

from egate.biometrics.benchmark import decision_agreement, measure_paths
from egate.biometrics.face import DetectionSettings, FaceAnalyzer
from egate.biometrics.image import read_image_file
from egate.biometrics.verifier import (
    Decision,
    FaceVerifier,
    Template,
    VerifierSettings,
)

STAGES = {"downscale", "detect", "align", "quality", "descriptor", "compare"}
VERIFY_KEYS = {"decision", "distance", "threshold", "reason", "detail", "faces", "timings"}


def blank(height: int = 480, width: int = 640) -> np.ndarray:
    return np.full((height, width, 3), 128, dtype=np.uint8)


def test_genuine_pair_matches(faces, verifier):
    result = verifier.verify(faces.template("obama.jpg"), faces.pixels("obama2.jpg"))
    assert result.decision is Decision.MATCH
    assert result.distance is not None and 0 < result.distance < 0.6
    assert result.threshold == 0.6
    assert (result.reason, result.detail, result.faces) == (None, None, 1)


def test_impostor_pair_does_not_match(faces, verifier):
    result = verifier.verify(faces.template("obama.jpg"), faces.pixels("biden.jpg"))
    assert result.decision is Decision.NO_MATCH
    assert result.reason == "BIOMETRIC_MISMATCH"
    assert result.distance is not None and result.distance > 0.6
    assert result.detail == f"distance {result.distance:.3f} above the threshold 0.6"


def test_timings_cover_every_stage(faces, verifier):
    result = verifier.verify(faces.template("obama.jpg"), faces.pixels("obama3.jpg"))
    assert set(result.timings) == STAGES
    assert all(seconds >= 0 for seconds in result.timings.values())
    assert result.timings["descriptor"] > 0


def test_timings_come_from_the_injected_clock(face_models, faces):
    ticks = itertools.count()
    clock = lambda: float(next(ticks))  # noqa: E731 - each reading one second later
    analyzer = FaceAnalyzer(face_models, clock=clock)
    verifier = FaceVerifier(analyzer, clock=clock)
    result = verifier.verify(faces.template("obama.jpg"), faces.pixels("obama2.jpg"))
    assert result.timings == dict.fromkeys(
        ["downscale", "detect", "align", "quality", "descriptor", "compare"], 1.0
    )


def test_match_rule_is_distance_at_most_threshold(face_models, faces, verifier):
    template, live = faces.template("obama.jpg"), faces.pixels("obama2.jpg")
    measured = verifier.verify(template, live).distance
    assert measured is not None

    def decide(threshold: float) -> Decision:
        settings = VerifierSettings(threshold=threshold)
        return FaceVerifier.with_models(face_models, settings).verify(template, live).decision

    assert decide(measured) is Decision.MATCH
    assert decide(math.nextafter(measured, 0.0)) is Decision.NO_MATCH


@pytest.mark.parametrize("threshold", [0.0, -0.1, 2.0, 3.0])
def test_threshold_must_lie_between_0_and_2(threshold):
    with pytest.raises(ValueError, match="threshold"):
        VerifierSettings(threshold=threshold)


def test_blank_frame_is_a_failure_to_acquire(faces, verifier):
    result = verifier.verify(faces.template("obama.jpg"), blank())
    assert result.decision is Decision.FAILURE_TO_ACQUIRE
    assert (result.reason, result.distance, result.faces) == ("FACE_NOT_FOUND", None, 0)
    assert set(result.timings) == {"downscale", "detect"}


def test_two_faces_are_multiple_faces(faces, verifier, two_faces):
    result = verifier.verify(faces.template("obama.jpg"), two_faces)
    assert result.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.reason == "MULTIPLE_FACES"
    assert result.faces == 2
    assert result.detail == "2 faces in the image"
    assert result.distance is None


@pytest.mark.faces
def test_group_photos_are_multiple_faces(faces, verifier, face_folder):
    photos = sorted((face_folder / "multi").glob("*.jp*g"))
    assert photos
    for photo in photos:
        result = verifier.verify(faces.template("obama.jpg"), read_image_file(photo))
        assert result.reason == "MULTIPLE_FACES", photo.name
        assert result.faces >= 2


def test_reference_without_a_face(faces, verifier):
    result = verifier.verify_photos(blank(), faces.pixels("obama2.jpg"))
    assert result.decision is Decision.FAILURE_TO_ACQUIRE
    assert result.reason == "REFERENCE_FACE_NOT_FOUND"
    assert result.distance is None
    assert set(result.timings) == {"reference_downscale", "reference_detect"}


def test_reference_with_two_faces(verifier, two_faces):
    enrollment = verifier.enroll(two_faces)
    assert enrollment.template is None
    assert enrollment.reason == "REFERENCE_MULTIPLE_FACES"


def test_verify_photos_reports_both_sides(faces, verifier):
    result = verifier.verify_photos(faces.pixels("obama.jpg"), faces.pixels("obama2.jpg"))
    assert result.decision is Decision.MATCH
    assert set(result.timings) == STAGES | {f"reference_{stage}" for stage in STAGES - {"compare"}}
    # The same distance as through the session's template.
    direct = verifier.verify(faces.template("obama.jpg"), faces.pixels("obama2.jpg"))
    assert result.distance == pytest.approx(direct.distance, abs=1e-12)


def test_template_is_redacted(faces):
    template = faces.template("obama.jpg")
    text = repr(template)
    assert "redacted" in text
    assert not re.search(r"\d", text)
    assert str(template) == text
    assert not hasattr(template, "__dict__")


def test_template_distance_is_symmetric_and_zero_to_itself(faces):
    first, second = faces.template("obama.jpg"), faces.template("biden.jpg")
    assert first.distance_to(first) == 0.0
    assert first.distance_to(second) == pytest.approx(second.distance_to(first), abs=1e-12)
    assert isinstance(Template(np.zeros(128)).distance(np.ones(128)), float)
    assert Template(np.zeros(128)).distance(np.ones(128)) == pytest.approx(math.sqrt(128))


def test_to_json(faces, verifier):
    result = verifier.verify(faces.template("obama.jpg"), faces.pixels("biden.jpg"))
    data = result.to_json()
    assert data["decision"] == "no_match"
    assert data["reason"] == "BIOMETRIC_MISMATCH"
    assert data["distance"] == result.distance
    assert set(data) == VERIFY_KEYS


def test_detection_on_the_scaled_copy_finds_the_full_resolution_box(face_models, faces):
    # obama3.jpg is 1434 x 2333: detected at 512 px, the box is scaled back.
    pixels = faces.pixels("obama3.jpg")
    fast = FaceAnalyzer(face_models).find(pixels)
    full = FaceAnalyzer(face_models, DetectionSettings(detection_long_side=4096)).find(pixels)
    assert len(fast.boxes) == len(full.boxes) == 1
    a, b = fast.boxes[0], full.boxes[0]
    overlap_w = min(a.right, b.right) - max(a.left, b.left)
    overlap_h = min(a.bottom, b.bottom) - max(a.top, b.top)
    assert overlap_w > 0 and overlap_h > 0
    union = (a.right - a.left) * a.height + (b.right - b.left) * b.height - overlap_w * overlap_h
    assert overlap_w * overlap_h / union > 0.7
    assert fast.chip is not None and fast.chip.shape == (150, 150, 3)


# --- egate's path against naive face_recognition -----------------------------

NAIVE_SUBSET = ("obama.jpg", "obama2.jpg", "obama_partial_face.jpg", "grace_hopper.jpg")


def test_fast_path_agrees_with_naive_face_recognition(faces, verifier):
    paths = [faces.path(name) for name in NAIVE_SUBSET]
    runs, naive_ran = measure_paths(verifier.analyzer, paths, rounds=1)
    if not naive_ran:
        pytest.skip("face_recognition is not installed: no naive path to compare with")
    assert [run.path for run in runs] == paths
    for run in runs:
        assert run.naive_faces == run.fast_faces == 1, run.path.name
        assert set(run.stages) == (STAGES - {"compare"}) | {"decode"}
    for first, second in itertools.combinations(runs, 2):
        assert first.naive_descriptor is not None and second.naive_descriptor is not None
        assert first.fast_descriptor is not None and second.fast_descriptor is not None
        naive = float(np.linalg.norm(first.naive_descriptor - second.naive_descriptor))
        fast = float(np.linalg.norm(first.fast_descriptor - second.fast_descriptor))
        assert abs(naive - fast) < 0.08, (first.path.name, second.path.name, naive, fast)
    compared, differ = decision_agreement(runs, 0.6)
    assert compared == 6
    assert differ == []


# --- the folder of face photos (EGATE_FACES_DIR) ----------------------------


def identity_photos(face_folder: Path) -> dict[str, list[Path]]:
    return {
        folder.name: sorted(path for path in folder.iterdir() if path.is_file())
        for folder in sorted((face_folder / "identities").iterdir())
        if folder.is_dir()
    }


@pytest.mark.faces
def test_identities_decide_right_at_typical_threshold(faces, face_folder):
    people = identity_photos(face_folder)
    templates = {path: faces.template(path) for photos in people.values() for path in photos}
    genuine = [pair for photos in people.values() for pair in itertools.combinations(photos, 2)]
    impostor = [
        (a, b)
        for (_, first), (_, second) in itertools.combinations(people.items(), 2)
        for a in first
        for b in second
    ]
    assert len(genuine) >= 10 and len(impostor) >= 80
    for a, b in genuine:
        assert templates[a].distance_to(templates[b]) <= 0.6, (a.name, b.name)
    for a, b in impostor:
        assert templates[a].distance_to(templates[b]) > 0.6, (a.name, b.name)


@pytest.mark.faces
def test_every_resolution_matches_the_identity_photo(faces, verifier, face_folder):
    reference = faces.template(face_folder / "identities" / "obama" / "obama.jpg")
    frames = sorted((face_folder / "resolution").glob("obama-*p.jpg"))
    assert [frame.name for frame in frames] == [
        "obama-1080p.jpg",
        "obama-240p.jpg",
        "obama-480p.jpg",
        "obama-720p.jpg",
    ]
    for frame in frames:
        result = verifier.verify(reference, read_image_file(frame))
        assert result.decision is Decision.MATCH, (frame.name, result.reason, result.detail)
