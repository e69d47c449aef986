"""Scenario faces beyond one photo per attempt: frame sequences, videos, live photos, attacks.

What the scenario file says (``face:``), the camera pictures made of it
(``station.people.camerafeed``) in the order the mock camera shows them, one
per grab, and the one-line errors for bad values.  Pictures here are small
synthetic images: no face models are loaded (a live photo without a face
found stays still, as a photo does).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egate.biometrics.image import RgbImage
from egate.biometrics.landmarks import Landmarks
from egate.config import ConfigError
from hardware.emulators.camera import MockCamera, video_frames
from station.people.camerafeed import CAMERA_FRAME, FacePictures, fit_frame, in_frame
from station.people.liveface import BLINK_PROFILE, animate, motions
from station.people.passenger_spec import FaceSpec, Variation
from station.training.scenario import load_scenario
from station.training.scenario_travellers import passenger_rng

DOCUMENT = {
    "issuing_state": "NLD",
    "surname": "TEST",
    "number": "NX0000001",
    "birth_date": "1980-01-01",
    "expiry_date": "2031-01-01",
}


def picture(value: int, size: tuple[int, int] = (40, 30)) -> RgbImage:
    """A plain picture of grey ``value``, ``size`` = (width, height)."""
    return np.full((size[1], size[0], 3), value, np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Photos a.png (grey 50) and b.png (grey 200), and frames/ with three numbered frames."""
    root = tmp_path_factory.mktemp("faces")
    cv2.imwrite(str(root / "a.png"), picture(50))
    cv2.imwrite(str(root / "b.png"), picture(200))
    (root / "frames").mkdir()
    for number in (1, 2, 10):  # natural order: 1, 2, 10
        cv2.imwrite(str(root / "frames" / f"f{number}.png"), picture(number * 10))
    return root


def scenario_with(folder: Path, face: object, **passenger: object) -> Path:
    """A one-passenger scenario file in ``folder`` whose face is ``face``."""
    entry = {"id": "P1", "document": DOCUMENT, "chip": "a.png", "face": face}
    entry.setdefault("expected", "accepted")
    entry.update(passenger)
    data = {"name": "faces", "start": "2026-01-01T08:00:00+00:00", "passengers": [entry]}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def no_finder() -> object:
    return lambda image: None


def grey(image: RgbImage | None) -> int | None:
    """The middle pixel's grey value, or None for nobody in view."""
    if image is None:
        return None
    rows, columns = image.shape[:2]
    return int(image[rows // 2, columns // 2, 0])


# -- the scenario file ------------------------------------------------------------------


def test_each_form_loads(folder: Path) -> None:
    forms = {
        "photos": "a.png",
        "frames": {"frames": ["a.png", "none", {"photo": "b.png", "repeat": 3, "scale": 0.5}]},
        "video": {"video": "frames"},
        "attack": {"attack": "print", "photo": "a.png"},
    }
    attacker = {
        "kind": "presentation_attack",
        "expected": {"outcome": "referred", "reason": "PRESENTATION_ATTACK"},
    }
    for kind, face in forms.items():
        extra = attacker if kind == "attack" else {}
        spec = load_scenario(scenario_with(folder, face, **extra))
        assert spec.passengers[0].face is not None
        assert spec.passengers[0].face.kind == kind
    frames = load_scenario(scenario_with(folder, forms["frames"])).passengers[0].face
    assert frames is not None
    assert [entry.resolved for entry in frames.frames] == [
        folder / "a.png",
        None,
        folder / "b.png",
    ]


@pytest.mark.parametrize(
    ("face", "where", "says"),
    [
        ({"attack": "mask", "photo": "a.png"}, "face.attack", "'print' or 'screen'"),
        ({"attack": "print", "video": "frames"}, "face", "a print attack shows a photo"),
        ({"attack": "screen"}, "face", "an attack needs a photo or a video"),
        ({"attack": "print", "photo": "gone.png"}, "face.photo", "no such image file"),
        ({"video": "gone.mp4"}, "face.video", "no such video file or folder"),
        ({"frames": ["a.png"], "video": "frames"}, "face", "give one of photos, frames or video"),
        ({"frames": [{"photo": "none", "live": True}]}, "face.frames.0", "nobody in view"),
        ({"frames": [{"photo": "a.png", "repeat": 0}]}, "face.frames.0.repeat", "greater than"),
        ({"live": True, "video": "frames"}, "face", "live animates photos"),
    ],
)
def test_bad_faces_are_one_line_naming_passenger_and_field(
    folder: Path, face: object, where: str, says: str
) -> None:
    kind = "presentation_attack" if isinstance(face, dict) and "attack" in face else "genuine"
    with pytest.raises(ConfigError) as caught:
        load_scenario(scenario_with(folder, face, kind=kind))
    message = str(caught.value)
    assert "\n" not in message
    assert f"passenger P1: {where}" in message
    assert says in message


def test_an_attack_is_staged_by_a_presentation_attacker(folder: Path) -> None:
    with pytest.raises(ConfigError, match=r"passenger P1: kind: .*of kind presentation_attack"):
        load_scenario(scenario_with(folder, {"attack": "screen", "photo": "a.png"}))


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["a.png", "frames", "none", "print", "screen", "nope.png", "", "mask"]),
    st.lists(st.sampled_from(["a.png", "none", "b.png", "gone.png"]), max_size=3),
)
FACES = st.one_of(
    VALUES,
    st.dictionaries(
        st.sampled_from(["photo", "photos", "frames", "video", "attack", "live", "variation", "x"]),
        VALUES,
        max_size=4,
    ),
    st.fixed_dictionaries(
        {
            "frames": st.lists(
                st.one_of(
                    VALUES,
                    st.dictionaries(
                        st.sampled_from(["photo", "repeat", "live", "scale", "blur", "y"]),
                        VALUES,
                        max_size=3,
                    ),
                ),
                max_size=3,
            )
        }
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(face=FACES, kind=st.sampled_from(["genuine", "presentation_attack"]))
def test_any_face_loads_or_is_refused_in_one_line(folder: Path, face: object, kind: str) -> None:
    try:
        load_scenario(scenario_with(folder, face, kind=kind))
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message and "Traceback" not in message
        assert "passenger P1" in message


# -- the camera's pictures ---------------------------------------------------------------


def test_the_mock_camera_shows_its_pictures_in_order_one_per_grab() -> None:
    camera = MockCamera([picture(10), None, picture(30)], clock=lambda: 0.0)
    shown = []
    for _ in range(7):
        frame = camera.grab()
        assert frame is not None
        shown.append(int(frame.image[0, 0, 0]))
    # Nobody in view is the plain grey background; after the last picture the first again.
    assert shown == [10, 128, 30, 10, 128, 30, 10]
    camera.show([picture(70), picture(80)])
    assert [int(camera.grab().image[0, 0, 0]) for _ in range(3)] == [70, 80, 70]  # type: ignore[union-attr]


def test_frames_are_one_per_grab_in_order_at_one_frame_size(folder: Path) -> None:
    face = (
        load_scenario(
            scenario_with(
                folder, {"frames": [{"photo": "a.png", "repeat": 2}, "none", "b.png", "a.png"]}
            )
        )
        .passengers[0]
        .face
    )
    assert face is not None
    pictures = FacePictures(8, 0.1, no_finder).pictures(face, passenger_rng(0, "P1"))
    assert [grey(p) for p in pictures] == [50, 50, None, 200, 50]
    assert {p.shape for p in pictures if p is not None} == {(CAMERA_FRAME[1], CAMERA_FRAME[0], 3)}


def test_photos_last_a_capture_window_each(folder: Path) -> None:
    face = load_scenario(scenario_with(folder, ["a.png", "b.png"])).passengers[0].face
    assert face is not None
    pictures = FacePictures(3, 0.1, no_finder).pictures(face, passenger_rng(0, "P1"))
    assert [grey(p) for p in pictures] == [50, 50, 50, 200, 200, 200]


def test_a_folder_video_plays_in_natural_order(folder: Path) -> None:
    face = load_scenario(scenario_with(folder, {"video": "frames"})).passengers[0].face
    assert face is not None
    pictures = FacePictures(8, 0.1, no_finder).pictures(face, passenger_rng(0, "P1"))
    assert [grey(p) for p in pictures] == [10, 20, 100]


def test_a_video_file_is_read_every_nth_frame(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (32, 24))
    for number in range(10):
        writer.write(picture(number * 20 + 10, (32, 24)))
    writer.release()
    frames = video_frames(path, every=3)
    assert [round(int(frame[12, 16, 0]), -1) for frame in frames] == [10, 70, 130, 190]
    # A grab every 0.2 s of a 10 frames a second video: every second frame.
    face = FaceSpec.model_validate({"video": str(path)})
    pictures = FacePictures(4, 0.2, no_finder).pictures(face, passenger_rng(0, "P1"))
    assert len(pictures) == 5
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    with pytest.raises(ValueError, match=r"text\.mp4: "):
        video_frames(text)


def test_an_attack_clip_replays_with_the_seed(folder: Path) -> None:
    face = FaceSpec.model_validate({"attack": "print", "photo": str(folder / "b.png")})
    pictures = FacePictures(2, 0.1, no_finder)
    first = pictures.pictures(face, passenger_rng(7, "P1"))
    again = pictures.pictures(face, passenger_rng(7, "P1"))
    other = pictures.pictures(face, passenger_rng(8, "P1"))
    assert len(first) == 8  # three windows of 2, but at least MIN_ATTACK_FRAMES
    assert all(p is not None and p.shape == (480, 640, 3) for p in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))  # type: ignore[arg-type]
    assert not np.array_equal(first[0], other[0])  # type: ignore[arg-type]


def test_nearer_and_further_keep_the_frame_size() -> None:
    frame = fit_frame(picture(90, (200, 160)))
    assert frame.shape == (480, 640, 3)
    assert grey(frame) == 90 and int(frame[0, 0, 0]) == 128  # centred on the background
    far = in_frame(frame, Variation(scale=0.1))
    assert far.shape == frame.shape
    assert int(np.count_nonzero(far[..., 0] == 90)) < int(np.count_nonzero(frame[..., 0] == 90))
    near = in_frame(frame, Variation(scale=4.0))
    assert near.shape == frame.shape and np.all(near == 90)


# -- a live face -------------------------------------------------------------------------


def synthetic_face(size: int = 200) -> tuple[RgbImage, Landmarks]:
    """A drawn face and its 68 points: eyes, a nose, a mouth, a jaw, roughly where dlib's are."""
    from egate.biometrics.face import FaceBox

    image = np.full((size, size, 3), 180, np.uint8)
    points = np.zeros((68, 2))
    centre = size / 2
    for index, angle in enumerate(np.linspace(np.pi * 0.95, np.pi * 0.05, 17)):
        points[index] = (centre + 70 * np.cos(angle), centre + 70 * np.sin(angle))
    points[17:27] = [(60 + 9 * k, 62) for k in range(10)]
    points[27:36] = [(centre, 80 + 6 * k) for k in range(9)]
    for start, eye_x in ((36, 70), (42, 130)):
        ring = [(-12, 0), (-5, -5), (5, -5), (12, 0), (5, 5), (-5, 5)]
        points[start : start + 6] = [(eye_x + dx, 80 + dy) for dx, dy in ring]
        cv2.ellipse(image, (eye_x, 80), (12, 5), 0, 0, 360, (20, 20, 20), -1)
    points[48:68] = [
        (centre + 20 * np.cos(a), 140 + 6 * np.sin(a))
        for a in np.linspace(0, 2 * np.pi, 20, endpoint=False)
    ]
    cv2.ellipse(image, (int(centre), 140), (20, 6), 0, 0, 360, (120, 40, 40), -1)
    return image, Landmarks(points, FaceBox(left=30, top=40, right=170, bottom=175))


def test_a_live_face_blinks_once_a_window_and_turns_one_way_across_it() -> None:
    moves = motions(16, 60.0, 8)
    assert [m.closed for m in moves[:8]] == [BLINK_PROFILE.get(k, 0.0) for k in range(8)]
    shifts = [m.nose_shift_px for m in moves]
    assert shifts[:8] == sorted(shifts[:8]) and shifts[8:] == sorted(shifts[8:], reverse=True)


def test_a_live_face_moves_around_its_features_only() -> None:
    image, face = synthetic_face()
    frames = animate(image, face, 8, 8)
    assert len(frames) == 8 and all(f.shape == image.shape for f in frames)
    blink = frames[3]
    # Shut: the dark eye is covered by the skin around it; the corners of the picture stay.
    assert int(blink[80, 70, 0]) > int(image[80, 70, 0]) + 50
    assert np.array_equal(blink[:20, :20], image[:20, :20])
    # Without a face found the photo stays still.
    assert all(np.array_equal(f, image) for f in animate(image, None, 3, 8))


def test_the_report_shows_a_frame_sequence_by_its_first_photo_and_no_attack_photo(
    folder: Path,
) -> None:
    from station.training.reportphotos import PassengerPhotos

    frames = load_scenario(scenario_with(folder, {"frames": ["none", "b.png"]}))
    assert PassengerPhotos(frames).capture("P1") is not None
    attack = load_scenario(
        scenario_with(
            folder,
            {"attack": "print", "photo": "b.png"},
            kind="presentation_attack",
            expected={"outcome": "referred", "reason": "PRESENTATION_ATTACK"},
        )
    )
    # The camera saw a print, not the photo it was made of.
    assert PassengerPhotos(attack).capture("P1") is None


def test_sample_travellers_show_a_window_per_photo_with_a_capture_window(folder: Path) -> None:
    from datetime import date

    from station.people.travellers import SampleCase, SamplePhotos, sample_travellers

    photos = SamplePhotos({"a": [folder / "a.png", folder / "b.png"]})
    pictures = FacePictures(4, 0.1, no_finder)
    stream = sample_travellers(
        photos,
        date(2026, 1, 1),
        np.random.default_rng(1),
        {SampleCase.GENUINE: 1.0},
        pictures=pictures,
    )
    traveller = next(stream)
    assert traveller.passenger.face is not None and traveller.passenger.face.live
    faces = traveller.document.faces
    assert len(faces) == 4  # the other photo than the chip's, for a whole window
    assert all(f is not None and f.shape == (480, 640, 3) for f in faces)  # type: ignore[union-attr]


def test_a_video_that_does_not_decode_is_refused_when_the_replay_is_prepared(
    folder: Path,
) -> None:
    from station.training.scenario_travellers import prepare

    (folder / "broken.mp4").write_text("not a video")
    scenario = load_scenario(scenario_with(folder, {"video": "broken.mp4"}))
    with pytest.raises(ConfigError) as caught:
        prepare(scenario, "drill.yaml", 1.0)
    message = str(caught.value)
    assert message.startswith("drill.yaml: passenger P1: face.video: ")
    assert "\n" not in message
