"""The passive liveness detector, the simulated attack clips and the ISO/IEC 30107-3 figures.

Kept cheap: small frames, few of them, one set of face models for the module
(the session's, from conftest).  The bona fide test reads ten frames of the
development setup's sample video and skips without it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError

from egate.biometrics.face import FaceBox, FaceModels
from egate.biometrics.image import RgbImage
from egate.biometrics.landmarks import LandmarkFinder, Landmarks
from egate.biometrics.pad import (
    PRESENTATION_ATTACK,
    LivenessSettings,
    PadDecision,
    PassiveLivenessDetector,
    evidence,
    planar_residual,
)
from egate.biometrics.padclips import (
    ClipError,
    cut_clips,
    portrait_crop,
    print_attack,
    read_clip,
    screen_attack,
    video_frames,
    write_clip,
)
from egate.biometrics.padeval import (
    PadDataError,
    Presentation,
    Scored,
    find_presentations,
    summarise_pad,
    threshold_for_bpcer,
    wilson_interval,
)

SAMPLE_VIDEO = Path("video") / "short_hamilton_clip.mp4"
# Frames 82 on of the sample video: one performer, singing, face ~35 px between the eyes.
VIDEO_FIRST_FACE_FRAME = 82


@pytest.fixture(scope="module")
def detector(face_models: FaceModels) -> PassiveLivenessDetector:
    return PassiveLivenessDetector(face_models)


@pytest.fixture(scope="module")
def portrait(faces, face_models: FaceModels) -> RgbImage:
    """obama2.jpg's head and shoulders, as an attacker would print it."""
    image = faces.pixels("obama2.jpg")
    found = LandmarkFinder(face_models, detection_long_side=640).locate(image).landmarks
    assert found is not None
    box = found.box
    return portrait_crop(image, (box.left, box.top, box.right, box.bottom), rng(0))


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- the detector ------------------------------------------------------------------------


def test_a_print_attack_is_decided_attack(detector, portrait):
    clip = print_attack(portrait, 6, rng(1), size=(400, 300))
    result = detector.check(clip)
    assert result.frames_used >= 3
    assert result.decision is PadDecision.ATTACK
    assert result.reason == PRESENTATION_ATTACK
    assert result.score >= detector.settings.threshold
    assert result.detail is not None and "\n" not in result.detail


def test_a_bona_fide_clip_from_the_sample_video_is_decided_bona_fide(detector, face_folder):
    frames = list(video_frames(face_folder / SAMPLE_VIDEO, VIDEO_FIRST_FACE_FRAME + 20))
    clip = cut_clips(frames[VIDEO_FIRST_FACE_FRAME:], length=10, stride=2)[0]
    result = detector.check(clip)
    assert result.frames_used == 10
    assert result.decision is PadDecision.BONA_FIDE, result.detail
    assert result.reason is None


def test_landmarks_passed_in_are_used_instead_of_a_search(detector, portrait):
    clip = print_attack(portrait, 4, rng(2), size=(400, 300))
    found = detector.find_landmarks(clip)
    # Blank frames: only the landmarks given can show a face.
    blank = [np.zeros_like(frame) for frame in clip]
    assert detector.check(blank, found).frames_used == sum(face is not None for face in found)


def test_too_few_frames_with_a_face_follow_the_settings(face_models):
    blank = [np.zeros((40, 40, 3), np.uint8)] * 4
    refusing = PassiveLivenessDetector(face_models).check(blank)
    assert (refusing.decision, refusing.reason, refusing.score) == (
        PadDecision.ATTACK,
        PRESENTATION_ATTACK,
        1.0,
    )
    assert refusing.detail == "0 of 4 frames show a face; liveness needs 3"
    lenient = PassiveLivenessDetector(face_models, LivenessSettings(too_few_frames="bona_fide"))
    assert lenient.check(blank).decision is PadDecision.BONA_FIDE


def test_a_plane_leaves_no_residual_and_a_deformed_face_does():
    points = rng(3).uniform(0, 100, (68, 2))
    points[36:42] = [[30, 40], [33, 38], [36, 38], [39, 40], [36, 42], [33, 42]]
    points[42:48] = points[36:42] + np.array([40.0, 0.0])
    first = Landmarks(points, FaceBox(0, 0, 100, 100))
    homography = np.array([[1.1, 0.05, 3], [-0.02, 0.95, 5], [1e-4, 2e-4, 1]])
    moved = np.c_[points, np.ones(68)] @ homography.T
    planar = Landmarks(moved[:, :2] / moved[:, 2:], first.box)
    assert planar_residual(first, planar) == pytest.approx(0, abs=1e-4)
    bent = Landmarks(points + rng(4).normal(0, 2, points.shape), first.box)
    assert planar_residual(first, bent) > 0.02


def test_evidence_runs_through_five_and_ninety_five_percent():
    assert evidence(0.01, 0.01, 0.025) == pytest.approx(0.05)
    assert evidence(0.025, 0.01, 0.025) == pytest.approx(0.95)
    assert evidence(0.0175, 0.01, 0.025) == pytest.approx(0.5)
    assert evidence(-1e9, 0.01, 0.025) == 0.0


def test_settings_refuse_unknown_fields_and_are_frozen():
    with pytest.raises(ValidationError):
        LivenessSettings(treshold=0.4)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        LivenessSettings().threshold = 0.3  # type: ignore[misc]


frame_strategy = hnp.arrays(
    np.uint8,
    st.one_of(
        st.tuples(st.integers(1, 24), st.integers(1, 24), st.just(3)),
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
    ),
)
landmark_strategy = st.one_of(
    st.none(),
    hnp.arrays(np.float64, (68, 2), elements=st.one_of(st.floats(-1e4, 1e4), st.floats())).map(
        lambda points: Landmarks(points, FaceBox(0, 0, 10, 10))
    ),
)


@st.composite
def windows(draw: st.DrawFn) -> tuple[list[RgbImage], list[Landmarks | None] | None]:
    """Frames, and either no landmarks (searched) or one (or None) per frame."""
    frames = draw(st.lists(frame_strategy, max_size=5))
    if draw(st.booleans()):
        return frames, None
    return frames, draw(st.lists(landmark_strategy, min_size=len(frames), max_size=len(frames)))


@pytest.mark.filterwarnings("error")  # no overflow or invalid-value warning either
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window=windows())
def test_check_never_raises_and_scores_within_0_and_1(detector, window):
    result = detector.check(*window)
    assert 0.0 <= result.score <= 1.0 and math.isfinite(result.score)
    assert result.decision in (PadDecision.ATTACK, PadDecision.BONA_FIDE)


# --- the clips ---------------------------------------------------------------------------


def test_attack_clips_are_deterministic_by_seed(portrait):
    first = print_attack(portrait, 2, rng(5), size=(160, 120))
    again = print_attack(portrait, 2, rng(5), size=(160, 120))
    other = print_attack(portrait, 2, rng(6), size=(160, 120))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    shown = screen_attack([portrait, portrait[::-1]], 3, rng(7), size=(160, 120))
    assert [frame.shape for frame in shown] == [(120, 160, 3)] * 3


def test_clips_are_written_and_read_back_in_natural_order(tmp_path, portrait):
    clip = print_attack(portrait, 11, rng(8), size=(64, 48))
    write_clip(tmp_path / "clip", clip)
    back = read_clip(tmp_path / "clip")
    assert len(back) == 11
    # frame010 after frame009, not after frame001: the last frame comes last.
    assert np.abs(back[-1].astype(int) - clip[-1]).mean() < 8
    assert len(read_clip(tmp_path / "clip", max_frames=3)) == 3


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.mp4", b"not a video at all", "broken.mp4: "),
        ("notes.txt", b"hello", "notes.txt: not a clip"),
    ],
)
def test_reading_a_bad_clip_file_fails_with_one_line_naming_it(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ClipError) as caught:
        read_clip(path)
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_reading_a_clip_folder_names_the_bad_frame_or_says_it_is_empty(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClipError, match="no frames"):
        read_clip(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "frame1.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ClipError) as caught:
        read_clip(tmp_path / "bad")
    assert "frame1.png" in str(caught.value) and "\n" not in str(caught.value)


# --- the evaluation ----------------------------------------------------------------------


def scored(label: str | None, scores: list[float | None]) -> list[Scored]:
    return [
        Scored(
            Presentation(Path(f"{label}-{index}"), label),
            score,
            PadDecision.ATTACK if score is None or score >= 0.5 else PadDecision.BONA_FIDE,
        )
        for index, score in enumerate(scores)
    ]


def test_apcer_and_bpcer_on_known_scores():
    samples = (
        scored(None, [0.1, 0.2, 0.6, 0.3, None])
        + scored("print", [0.9, 0.4, 0.8])
        + scored("screen", [0.2, None])
    )
    summary = summarise_pad(samples, threshold=0.5)
    bona = summary["bona_fide"]
    assert bona["non_responses"] == 1
    assert bona["bpcer"]["errors"] == 1 and bona["bpcer"]["presentations"] == 4
    assert bona["bpcer"]["rate"] == 0.25
    attacks = summary["attacks"]
    assert attacks["print"]["apcer"]["rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert attacks["screen"]["apcer"] == {
        "errors": 1,
        "presentations": 1,
        "rate": 1.0,
        "ci95": [pytest.approx(0.2065, abs=1e-4), 1.0],
    }
    assert attacks["screen"]["non_responses"] == 1
    assert summary["apcer_max"] == 1.0
    # Four bona fide clips cannot measure a BPCER of 1 %: the threshold accepts them all.
    target = summary["target_bpcer"]
    assert target["measurable"] is False and target["bona_fide_needed"] == 100
    assert target["threshold"] == math.nextafter(0.6, math.inf)
    assert target["bpcer"]["errors"] == 0
    assert attacks["print"]["apcer_at_target_bpcer"]["errors"] == 1  # 0.4 only
    assert any("needs at least 100 bona fide clips" in note for note in summary["notes"])


def test_the_threshold_at_bpcer_1_percent_allows_one_error_in_100():
    bona = [index / 100 for index in range(100)]
    threshold = threshold_for_bpcer(bona, 0.01)
    assert threshold == math.nextafter(0.98, math.inf)
    assert sum(score >= threshold for score in bona) == 1
    assert threshold_for_bpcer([], 0.01) is None


def test_wilson_interval_known_values():
    low, high = wilson_interval(0, 10) or (math.nan, math.nan)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(5, 10) or (math.nan, math.nan)
    assert (low, high) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert wilson_interval(0, 0) is None


def test_evaluation_folder_layout(tmp_path):
    with pytest.raises(PadDataError, match="neither bona_fide"):
        find_presentations(tmp_path)
    clip = [np.zeros((8, 8, 3), np.uint8)]
    write_clip(tmp_path / "bona_fide" / "live-1", clip)
    write_clip(tmp_path / "attack" / "print" / "p-1", clip)
    (tmp_path / "attack" / "screen").mkdir()
    (tmp_path / "attack" / "screen" / "replay.mp4").write_bytes(b"")
    found = find_presentations(tmp_path)
    assert [(p.path.name, p.label) for p in found] == [
        ("live-1", "bona_fide"),
        ("p-1", "print"),
        ("replay.mp4", "screen"),
    ]
    (tmp_path / "attack" / "print" / "readme.txt").write_text("x")
    with pytest.raises(PadDataError, match=r"readme\.txt: not a clip"):
        find_presentations(tmp_path)
