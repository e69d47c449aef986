"""``egate biometrics quality``: tables, JSON and exit statuses on sample photos and videos.

Run through the command object with click's CliRunner (``standalone_mode``
off, so the command's exit status is its return value and an input error is
raised as egate's ``main`` would see it).  One set of loaded face models is
shared by every test.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from egate.biometrics.face import FaceModels
from egate.cli import biometrics_quality
from egate.cli.biometrics_quality import quality
from egate.cli.errors import InputError
from egate.samples import grace_hopper


@pytest.fixture(scope="module")
def module_models() -> FaceModels:
    return FaceModels()


@pytest.fixture(autouse=True)
def models_loaded_once(monkeypatch, module_models):
    monkeypatch.setattr(biometrics_quality, "load_models", lambda: module_models)


@pytest.fixture(scope="module")
def hopper() -> str:
    path = grace_hopper()
    if path is None:
        pytest.skip("matplotlib's grace_hopper.jpg is not installed")
    return str(path)


@pytest.fixture
def dark_hopper(tmp_path, hopper) -> str:
    path = tmp_path / "dark.png"
    pixels = np.asarray(Image.open(hopper).convert("RGB"))
    Image.fromarray((pixels * 0.2).astype(np.uint8)).save(path)
    return str(path)


@pytest.fixture
def blank(tmp_path) -> str:
    path = tmp_path / "nobody.png"
    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(path)
    return str(path)


def run(*args: str) -> Result:
    return CliRunner().invoke(quality, list(args), standalone_mode=False, env={"COLUMNS": "160"})


def test_a_good_portrait_passes_with_its_table(hopper):
    ran = run(hopper)
    assert ran.exception is None, ran.output
    assert ran.return_value == 0
    assert "grace_hopper.jpg: quality" in ran.output
    for label in ("inter-eye distance", "yaw", "eyes open", "exposure", "sharpness", "guidance"):
        assert label in ran.output
    assert "problem:" not in ran.output


def test_json_has_one_record_per_photo(hopper, dark_hopper):
    ran = run(hopper, dark_hopper, "--json")
    assert ran.exception is None, ran.output
    records = json.loads(ran.output)
    assert [Path(record["photo"]).name for record in records] == ["grace_hopper.jpg", "dark.png"]
    good, dark = (record["quality"] for record in records)
    assert good["guidance"] is None and good["problems"] == []
    assert dark["guidance"] == "TOO_DARK"
    assert dark["measures"]["exposure"] < good["measures"]["exposure"] / 3
    assert dark["score"] < good["score"]
    # A photo with a problem makes the status 1.
    assert ran.return_value == 1


def test_a_photo_without_a_face_exits_1(blank):
    ran = run(blank)
    assert ran.return_value == 1
    assert "nobody.png: no face found" in ran.output
    as_json = json.loads(run(blank, "--json").output)
    assert as_json == [{"photo": blank, "faces": 0, "quality": None}]


def test_an_unreadable_file_is_an_input_error_and_nothing_is_printed(tmp_path, hopper):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    ran = run(hopper, str(broken))
    assert isinstance(ran.exception, InputError)
    message = str(ran.exception)
    assert "broken.jpg" in message and "\n" not in message
    assert ran.output == ""


def test_a_photo_is_required():
    ran = CliRunner().invoke(quality, [])
    assert ran.exit_code == 2
    assert "Missing argument" in ran.output


@pytest.fixture
def hopper_video(tmp_path, hopper) -> str:
    """Six 640 x 480 frames: grace_hopper's portrait moving 5 px a frame on grey."""
    path = tmp_path / "walk.avi"
    portrait = cv2.resize(
        cv2.cvtColor(np.asarray(Image.open(hopper).convert("RGB")), cv2.COLOR_RGB2BGR),
        (256, 300),
    )
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for k in range(6):
        frame = np.full((480, 640, 3), 96, np.uint8)
        frame[90 : 90 + 300, 150 + 5 * k : 406 + 5 * k] = portrait
        writer.write(frame)
    writer.release()
    return str(path)


def test_a_video_is_scored_as_capture_windows(hopper_video):
    ran = run(hopper_video, "--window", "3", "--stride", "1", "--json")
    assert ran.exception is None, ran.output
    (record,) = json.loads(ran.output)
    assert Path(record["video"]).name == "walk.avi"
    windows = record["windows"]
    assert [(w["first_frame"], w["last_frame"], w["frames"]) for w in windows] == [
        (0, 2, 3),
        (3, 5, 3),
    ]
    for window in windows:
        assert window["single_face_frames"] == 3
        assert window["first_frame"] <= window["best_frame"] <= window["last_frame"]
        assert 0 < window["best_score"] <= 100
    table = run(hopper_video, "--window", "3", "--stride", "2")
    assert "walk.avi: 1 capture windows" in table.output
    assert "0-4" in table.output


def test_an_unreadable_video_is_an_input_error(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"not a video")
    ran = run(str(fake))
    assert isinstance(ran.exception, InputError)
    assert "clip.mp4" in str(ran.exception) and "\n" not in str(ran.exception)


def test_the_sample_video_finds_the_singer_and_asks_him_closer(face_folder):
    video = face_folder / "video" / "short_hamilton_clip.mp4"
    if not video.is_file():
        pytest.skip(f"no sample video at {video}")
    ran = run(str(video), "--stride", "9", "--json")
    (record,) = json.loads(ran.output)
    windows = record["windows"]
    # 275 frames, every ninth scored, 10 a window; the face appears from frame ~82.
    assert [(w["first_frame"], w["last_frame"]) for w in windows] == [
        (0, 81),
        (90, 171),
        (180, 261),
        (270, 270),
    ]
    assert windows[0]["single_face_frames"] == 0 and windows[0]["guidance"] == "LOOK_AT_CAMERA"
    # Facing the camera in 360p frames, eyes ~37 px apart.
    assert windows[1]["single_face_frames"] == 10
    assert windows[1]["guidance"] == "STEP_CLOSER"
    assert ran.return_value == 1
