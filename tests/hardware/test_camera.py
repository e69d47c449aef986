"""Cameras: OpenCvCamera on files, folders and a faked device; MockCamera's variations."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from egate.samples import grace_hopper
from hardware.camera import Camera, CameraError, CameraSettings, CameraState, Frame
from hardware.camerasource import CameraSource, SourceKind
from hardware.emulators.camera import (
    BACKGROUND_RGB,
    OCCLUDER_RGB,
    MockCamera,
    Variation,
    VideoFileCamera,
    occlusion_rectangle,
    portrait_face_box,
)
from hardware.opencvcamera import OpenCvCamera

# In the folder of face photos (EGATE_FACES_DIR, fixture face_folder).
SAMPLE_CLIP = Path("video") / "short_hamilton_clip.mp4"

ROWS, COLUMNS = 48, 64
FRAME_COUNT = 5


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def red_frame_bgr(marker: int) -> np.ndarray:
    """A pure red frame in OpenCV's BGR order, with a grey marker square of level ``marker``."""
    frame = np.zeros((ROWS, COLUMNS, 3), np.uint8)
    frame[:, :, 2] = 255
    frame[4:20, 4:20] = marker
    return frame


def write_video(path: Path, count: int = FRAME_COUNT) -> Path:
    """A short MJPG .avi whose frame ``i`` has a marker of level ``40 * i + 20``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (COLUMNS, ROWS))
    assert writer.isOpened()
    for index in range(count):
        writer.write(red_frame_bgr(40 * index + 20))
    writer.release()
    return path


def marker_level(frame: Frame) -> int:
    return int(np.median(frame.image[8:16, 8:16]))


def write_png(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (ROWS, COLUMNS)):
    image = np.zeros((*size, 3), np.uint8)
    image[:, :] = rgb[::-1]  # cv2 writes BGR
    assert cv2.imwrite(str(path), image)


@pytest.fixture
def video(tmp_path) -> Path:
    return write_video(tmp_path / "clip.avi")


@pytest.fixture
def folder(tmp_path) -> Path:
    """img1 red, img2 green, img10 blue (natural order), plus files that are not images."""
    root = tmp_path / "frames"
    root.mkdir()
    write_png(root / "img10.png", (0, 0, 255))
    write_png(root / "img2.png", (0, 255, 0))
    write_png(root / "img1.png", (255, 0, 0))
    (root / "notes.txt").write_text("not a frame")
    write_png(root / ".hidden.png", (9, 9, 9))
    return root


def dominant(frame: Frame) -> str:
    means = frame.image.reshape(-1, 3).mean(axis=0)
    return "RGB"[int(np.argmax(means))]


class TestVideoFile:
    def test_frames_are_rgb_arrays_stamped_by_the_clock(self, video, clock):
        camera = OpenCvCamera(video, clock=clock)
        assert isinstance(camera, Camera)
        assert camera.source.kind is SourceKind.VIDEO
        assert camera.state is CameraState.CONNECTED
        frame = camera.grab()
        assert frame is not None
        assert frame.image.shape == (ROWS, COLUMNS, 3)
        assert frame.image.dtype == np.uint8
        assert frame.timestamp == clock.now
        red, green, blue = frame.image[ROWS - 5, COLUMNS - 5]
        assert red > 200 and green < 60 and blue < 60
        assert dominant(frame) == "R"
        assert repr(frame) == f"Frame({COLUMNS}x{ROWS}, timestamp=100.000)"

    def test_plays_once_then_returns_none_without_loop(self, video, clock):
        camera = OpenCvCamera(str(video), clock=clock)
        levels = []
        for _ in range(FRAME_COUNT):
            clock.advance(0.1)
            frame = camera.grab()
            assert frame is not None
            levels.append(marker_level(frame))
        assert levels == sorted(levels) and levels[-1] - levels[0] > 120
        assert camera.grab() is None
        assert camera.grab() is None
        assert camera.state is CameraState.CONNECTED

    def test_loop_starts_again(self, video, clock):
        camera = OpenCvCamera(video, loop=True, clock=clock)
        frames = [camera.grab() for _ in range(2 * FRAME_COUNT + 1)]
        assert all(frame is not None for frame in frames)
        for index in range(FRAME_COUNT):
            assert np.array_equal(frames[index].image, frames[index + FRAME_COUNT].image)

    def test_width_and_height_scale_file_frames(self, video, clock):
        frame = OpenCvCamera(video, width=32, height=20, clock=clock).grab()
        assert frame is not None and frame.image.shape == (20, 32, 3)
        frame = OpenCvCamera(video, width=32, clock=clock).grab()
        assert frame is not None and frame.image.shape == (24, 32, 3)

    def test_a_deleted_file_disconnects_and_a_recreated_one_reconnects(
        self, video, tmp_path, clock
    ):
        camera = OpenCvCamera(video, loop=True, reconnect_initial_s=0.5, clock=clock)
        assert camera.grab() is not None
        aside = video.rename(tmp_path / "aside.avi")
        assert camera.grab() is None
        assert camera.state is CameraState.DISCONNECTED
        assert camera.problem == f"camera {video}: the video file is gone"
        clock.advance(0.5)
        assert camera.grab() is None  # still gone: the attempt fails quietly
        aside.rename(video)
        clock.advance(0.75)  # the second attempt is due 1 s after the first
        assert camera.grab() is None
        assert camera.state is CameraState.DISCONNECTED
        clock.advance(0.25)
        frame = camera.grab()
        assert frame is not None and frame.image.shape == (ROWS, COLUMNS, 3)
        assert camera.state is CameraState.CONNECTED
        assert camera.problem is None

    def test_a_file_that_comes_back_broken_is_retried_not_raised(self, video, clock):
        camera = OpenCvCamera(video, clock=clock)
        assert camera.grab() is not None
        video.unlink()
        assert camera.grab() is None
        video.write_bytes(b"half a file")
        clock.advance(0.5)
        assert camera.grab() is None
        assert camera.state is CameraState.DISCONNECTED
        assert camera.problem == f"camera {video}: not a video OpenCV can play"
        write_video(video)
        clock.advance(1.0)
        assert camera.grab() is not None


class TestBackoff:
    def test_delays_double_up_to_the_maximum(self, folder, tmp_path, clock):
        camera = OpenCvCamera(
            folder, loop=True, reconnect_initial_s=0.5, reconnect_max_s=2.0, clock=clock
        )
        assert camera.grab() is not None
        aside = folder.rename(tmp_path / "aside")
        start = clock.now
        assert camera.grab() is None
        # Attempts fail at +0.5, +1.5 (1 s later) and +3.5 (2 s later); the
        # next is due at +5.5 (still 2 s: the maximum).
        for offset in (0.5, 1.5, 3.5):
            clock.now = start + offset
            assert camera.grab() is None
        aside.rename(folder)
        clock.now = start + 5.4
        assert camera.grab() is None
        clock.now = start + 5.5
        assert camera.grab() is not None
        assert camera.state is CameraState.CONNECTED

    def test_delays_must_be_in_order(self, video):
        with pytest.raises(ValueError, match="initial <= max"):
            OpenCvCamera(video, reconnect_initial_s=5, reconnect_max_s=1)


class TestImageFolder:
    def test_plays_images_in_natural_order_as_rgb(self, folder, clock):
        camera = OpenCvCamera(folder, clock=clock)
        assert camera.source.kind is SourceKind.IMAGES
        frames = [camera.grab() for _ in range(3)]
        assert [dominant(frame) for frame in frames] == ["R", "G", "B"]
        assert all(frame.image.shape == (ROWS, COLUMNS, 3) for frame in frames)
        assert np.array_equal(frames[0].image[0, 0], [255, 0, 0])
        assert camera.grab() is None

    def test_loop_lists_the_folder_again(self, folder, clock):
        camera = OpenCvCamera(folder, loop=True, clock=clock)
        assert [dominant(camera.grab()) for _ in range(3)] == ["R", "G", "B"]
        (folder / "img2.png").unlink()
        write_png(folder / "img3.png", (255, 255, 0))
        frames = [camera.grab() for _ in range(3)]
        assert [dominant(frames[0]), dominant(frames[2])] == ["R", "B"]
        assert np.array_equal(frames[1].image[0, 0], [255, 255, 0])

    def test_undecodable_images_are_skipped(self, folder, clock):
        (folder / "img2.png").write_bytes(b"not a png")
        camera = OpenCvCamera(folder, clock=clock)
        assert [dominant(camera.grab()) for _ in range(2)] == ["R", "B"]
        assert camera.grab() is None
        assert camera.state is CameraState.CONNECTED

    def test_a_vanished_folder_disconnects_then_resumes(self, folder, tmp_path, clock):
        camera = OpenCvCamera(folder, loop=True, clock=clock)
        assert camera.grab() is not None
        shutil.rmtree(folder)
        assert camera.grab() is None
        assert camera.state is CameraState.DISCONNECTED
        assert camera.problem == f"camera {folder}: the folder is gone"
        folder.mkdir()
        write_png(folder / "only.png", (0, 255, 0))
        clock.advance(0.5)
        frame = camera.grab()
        assert frame is not None and dominant(frame) == "G"
        assert camera.state is CameraState.CONNECTED

    def test_a_single_image_is_a_still_camera(self, folder, clock):
        camera = OpenCvCamera(folder / "img2.png", loop=True, width=16, clock=clock)
        frames = [camera.grab() for _ in range(3)]
        assert all(frame is not None and dominant(frame) == "G" for frame in frames)
        assert frames[0].image.shape == (12, 16, 3)


class TestOpeningErrors:
    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("missing/clip.mp4", "camera missing/clip.mp4: no such file or folder"),
            ("/dev/video97", "camera /dev/video97: no such device"),
            (-1, "camera -1: a camera index is 0 or more"),
            ("  ", "camera '': the source is empty"),
        ],
    )
    def test_unusable_sources(self, source, message):
        with pytest.raises(CameraError) as caught:
            OpenCvCamera(source)
        assert str(caught.value) == message

    def test_a_file_that_is_no_video(self, tmp_path):
        path = tmp_path / "clip.mp4"
        path.write_text("hello\nworld\n")
        with pytest.raises(CameraError) as caught:
            OpenCvCamera(path)
        assert str(caught.value) == f"camera {path}: not a video OpenCV can play"

    def test_a_folder_without_images(self, tmp_path):
        (tmp_path / "readme.txt").write_text("no pictures here")
        with pytest.raises(CameraError) as caught:
            OpenCvCamera(tmp_path)
        message = str(caught.value)
        assert message.startswith(f"camera {tmp_path}: no images (")
        assert "\n" not in message

    @pytest.mark.parametrize("source", [97, "97"])
    def test_an_absent_device_index(self, source):
        with pytest.raises(CameraError) as caught:
            OpenCvCamera(source)
        assert str(caught.value) == "camera 97: cannot open the device (absent or busy)"

    def test_sources_are_classified(self, video, folder):
        assert CameraSource.parse("0") == CameraSource(SourceKind.DEVICE, 0, "0")
        assert CameraSource.parse(2).location == 2
        assert CameraSource.parse(video).kind is SourceKind.VIDEO
        assert CameraSource.parse(folder).kind is SourceKind.IMAGES
        assert CameraSource.parse(folder / "img1.png").kind is SourceKind.IMAGES


class FakeCapture:
    """Stands in for cv2.VideoCapture on a device: frames until told to fail."""

    instances: ClassVar[list[FakeCapture]] = []
    present: ClassVar[bool] = True
    failing: ClassVar[bool] = False

    def __init__(self, source, api):
        self.source, self.api = source, api
        self.properties: dict[int, float] = {}
        self.released = False
        FakeCapture.instances.append(self)

    def isOpened(self):
        return FakeCapture.present

    def set(self, prop, value):
        self.properties[prop] = value
        return True

    def read(self):
        if FakeCapture.failing:
            return False, None
        frame = np.zeros((ROWS, COLUMNS, 3), np.uint8)
        frame[:, :, 0] = 255  # blue in BGR
        return True, frame

    def release(self):
        self.released = True


@pytest.fixture
def fake_device(monkeypatch):
    monkeypatch.setattr(FakeCapture, "instances", [])
    monkeypatch.setattr(FakeCapture, "present", True)
    monkeypatch.setattr(FakeCapture, "failing", False)
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    return FakeCapture


class TestDevice:
    def test_settings_are_asked_of_the_device(self, fake_device, clock):
        camera = OpenCvCamera("0", width=1280, height=720, fps=30.0, clock=clock)
        (capture,) = fake_device.instances
        assert capture.source == 0 and capture.api == cv2.CAP_ANY
        assert capture.properties == {
            cv2.CAP_PROP_FRAME_WIDTH: 1280,
            cv2.CAP_PROP_FRAME_HEIGHT: 720,
            cv2.CAP_PROP_FPS: 30.0,
        }
        frame = camera.grab()
        assert frame is not None and dominant(frame) == "B"

    def test_a_device_that_stops_is_reopened_when_back(self, fake_device, clock):
        camera = OpenCvCamera(3, reconnect_initial_s=1.0, clock=clock)
        assert camera.grab() is not None
        fake_device.failing = True
        fake_device.present = False
        assert camera.grab() is None
        assert camera.state is CameraState.DISCONNECTED
        assert camera.problem == "camera 3: the device stopped sending frames"
        assert fake_device.instances[0].released
        clock.advance(1.0)
        assert camera.grab() is None
        assert camera.problem == "camera 3: cannot open the device (absent or busy)"
        fake_device.failing = False
        fake_device.present = True
        clock.advance(2.0)
        assert camera.grab() is not None
        assert camera.state is CameraState.CONNECTED
        assert len(fake_device.instances) == 3

    def test_close_releases_and_stops_reconnecting(self, fake_device, clock):
        with OpenCvCamera(0, clock=clock) as camera:
            assert camera.grab() is not None
        assert fake_device.instances[0].released
        assert camera.state is CameraState.DISCONNECTED
        clock.advance(100)
        assert camera.grab() is None
        assert len(fake_device.instances) == 1


class TestSettings:
    def test_defaults_and_camera_from_settings(self, video, clock):
        settings = CameraSettings(source=str(video), loop=True)
        assert settings.reconnect_initial_s == 0.5 and settings.reconnect_max_s == 10.0
        camera = OpenCvCamera.from_settings(settings, clock=clock)
        assert sum(camera.grab() is not None for _ in range(2 * FRAME_COUNT)) == 2 * FRAME_COUNT

    def test_a_number_source_is_an_index(self):
        assert CameraSettings(source=0).source == "0"

    def test_relative_paths_follow_the_configuration(self, tmp_path):
        settings = CameraSettings.model_validate(
            {"source": "clips/gate.mp4"}, context={"base_dir": tmp_path}
        )
        assert settings.source == str(tmp_path / "clips" / "gate.mp4")
        for kept in ("/dev/video0", "0"):
            assert (
                CameraSettings.model_validate({"source": kept}, context={"base_dir": tmp_path})
            ).source == kept

    @pytest.mark.parametrize(
        "fields",
        [
            {"source": "0", "colour": "yes"},
            {"source": "0", "fps": "30"},
            {"source": "0", "width": 0},
            {"source": "0", "loop": "yes"},
            {"source": "0", "reconnect_initial_s": 5.0, "reconnect_max_s": 1.0},
            {"source": ""},
        ],
    )
    def test_bad_settings_are_refused(self, fields):
        with pytest.raises(ValidationError):
            CameraSettings(**fields)


@pytest.mark.faces
def test_plays_the_sample_clip(face_folder, clock):
    clip = face_folder / SAMPLE_CLIP
    if not clip.is_file():
        pytest.skip(f"{clip} is absent (the folder of face photos has no sample clip)")
    camera = VideoFileCamera(clip, width=320, clock=clock)
    frames = [camera.grab() for _ in range(10)]
    assert all(frame is not None for frame in frames)
    assert all(frame.image.shape[1] == 320 and frame.image.shape[2] == 3 for frame in frames)
    assert len({frame.image.tobytes() for frame in frames}) > 1


# --- MockCamera ------------------------------------------------------------------


def textured(rows: int = 120, columns: int = 100, seed: int = 1) -> np.ndarray:
    """Mid-level noise: every variation shows in it and none saturates it."""
    rng = np.random.default_rng(seed)
    return rng.integers(40, 140, size=(rows, columns, 3), dtype=np.uint8)


def laplacian_variance(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def fixed_box(box):
    return lambda image: box


class TestMockCamera:
    def test_shows_images_in_turn_with_nobody_between(self, clock):
        first, second = textured(seed=1), textured(seed=2)
        camera = MockCamera([first, None, second], clock=clock)
        assert isinstance(camera, Camera)
        frames = [camera.grab() for _ in range(4)]
        assert np.array_equal(frames[0].image, first)
        assert np.array_equal(frames[1].image, np.full_like(first, BACKGROUND_RGB))
        assert np.array_equal(frames[2].image, second)
        assert np.array_equal(frames[3].image, first)
        assert frames[0].timestamp == clock.now
        # A frame is the caller's to change: the camera's pictures stay as they were.
        frames[1].image[:] = 0
        frames[3].image[:] = 0
        again = [camera.grab() for _ in range(3)]
        assert np.array_equal(again[0].image, np.full_like(first, BACKGROUND_RGB))
        assert np.array_equal(again[2].image, first)

    def test_brightness_scales_the_mean(self):
        image = textured()
        for factor in (0.5, 1.5):
            frame = MockCamera([image], Variation(brightness=factor)).grab()
            assert frame.image.mean() == pytest.approx(image.mean() * factor, rel=0.01)

    def test_blur_lowers_the_laplacian_variance(self):
        image = textured()
        frame = MockCamera([image], Variation(blur_sigma=2.0)).grab()
        assert laplacian_variance(frame.image) < laplacian_variance(image) / 10
        assert frame.image.mean() == pytest.approx(image.mean(), rel=0.02)

    def test_rotation_turns_the_picture_counter_clockwise_about_the_face(self):
        image = np.zeros((101, 101, 3), np.uint8)
        image[48:53, 78:83] = 255  # a marker 30 px right of the face centre (50, 50)
        camera = MockCamera(
            [image], Variation(rotation_deg=90.0), locate_face=fixed_box((25, 25, 75, 75))
        )
        rows, columns = np.nonzero(camera.grab().image[:, :, 0] > 128)
        # Counter-clockwise on screen: from the right of the centre to above it.
        assert rows.mean() == pytest.approx(20, abs=1.0)
        assert columns.mean() == pytest.approx(50, abs=1.0)

    @pytest.mark.parametrize(
        ("where", "rectangle"), [("eyes", (20, 29, 80, 47)), ("mouth", (20, 62, 80, 80))]
    )
    def test_occlusion_covers_the_eyes_or_the_lower_face(self, where, rectangle):
        box = (20, 20, 80, 80)
        assert occlusion_rectangle(box, where, 0.3) == rectangle
        image = np.full((100, 100, 3), 200, np.uint8)
        variation = Variation(occlusion=where, occlusion_size=0.3)
        frame = MockCamera([image], variation, locate_face=fixed_box(box)).grab()
        left, top, right, bottom = rectangle
        covered = np.zeros((100, 100), bool)
        covered[top:bottom, left:right] = True
        assert (frame.image[covered] == OCCLUDER_RGB).all()
        assert (frame.image[~covered] == 200).all()

    def test_no_face_found_means_no_occlusion(self):
        image = np.full((50, 50, 3), 200, np.uint8)
        camera = MockCamera([image], Variation(occlusion="eyes"), locate_face=lambda image: None)
        assert (camera.grab().image == 200).all()

    def test_the_default_face_box_is_a_portrait_guess(self):
        box = portrait_face_box(np.zeros((400, 300, 3), np.uint8))
        assert box == (75, 80, 225, 240)

    def test_ranges_are_drawn_from_the_injected_generator(self):
        image = textured()
        variation = Variation.model_validate(
            {
                "brightness": [0.6, 1.4],
                "blur_sigma": [0.0, 1.5],
                "rotation_deg": [-10, 10],
                "occlusion": "mouth",
                "occlusion_size": [0.2, 0.5],
            }
        )
        assert variation.brightness == (0.6, 1.4)

        def frames(seed):
            camera = MockCamera([image, image], variation, rng=np.random.default_rng(seed))
            return [camera.grab().image for _ in range(4)]

        same, again, other = frames(7), frames(7), frames(8)
        assert all(np.array_equal(a, b) for a, b in zip(same, again, strict=True))
        assert not np.array_equal(same[0], other[0])
        assert not np.array_equal(same[0], same[1])  # drawn anew for every frame

    def test_drawn_brightness_stays_in_its_range(self):
        image = textured()
        camera = MockCamera([image], Variation(brightness=(0.5, 0.6)), rng=np.random.default_rng(3))
        for _ in range(5):
            ratio = camera.grab().image.mean() / image.mean()
            assert 0.49 < ratio < 0.61

    def test_unplug_and_plug_back(self, clock):
        first, second = textured(seed=1), textured(seed=2)
        camera = MockCamera([first, second], clock=clock)
        assert np.array_equal(camera.grab().image, first)
        camera.unplug()
        assert camera.state is CameraState.DISCONNECTED
        assert camera.grab() is None
        camera.plug_back()
        assert camera.state is CameraState.CONNECTED
        assert np.array_equal(camera.grab().image, second)
        camera.close()
        assert camera.grab() is None
        camera.plug_back()
        assert camera.state is CameraState.DISCONNECTED

    def test_pictures_from_files(self, folder):
        camera = MockCamera([folder / "img1.png", None])
        assert dominant(camera.grab()) == "R"
        assert camera.grab().image.shape == (ROWS, COLUMNS, 3)

    @pytest.mark.skipif(grace_hopper() is None, reason="matplotlib's grace_hopper.jpg is absent")
    def test_a_sample_portrait_with_sunglasses(self):
        path = grace_hopper()
        plain = MockCamera([path]).grab().image
        frame = MockCamera([path], Variation(occlusion="eyes")).grab().image
        left, top, right, bottom = occlusion_rectangle(portrait_face_box(plain), "eyes", 0.4)
        assert (frame[top:bottom, left:right] == OCCLUDER_RGB).all()
        assert np.array_equal(frame[bottom:], plain[bottom:])

    @pytest.mark.parametrize(
        ("images", "message"),
        [
            ([], "mock camera: no pictures to show"),
            (
                [np.zeros((4, 4), np.uint8)],
                "mock camera, picture 1: expected H x W x 3 uint8 RGB pixels, "
                "got uint8 of shape (4, 4)",
            ),
        ],
    )
    def test_bad_pictures(self, images, message):
        with pytest.raises(CameraError) as caught:
            MockCamera(images)
        assert str(caught.value) == message

    def test_a_file_that_is_no_picture(self, tmp_path):
        path = tmp_path / "face.jpg"
        path.write_text("no face")
        with pytest.raises(CameraError, match=r"^mock camera, picture 2: .*face\.jpg") as caught:
            MockCamera([None, path])
        assert "\n" not in str(caught.value)

    def test_video_file_camera_loops_by_default(self, video, clock):
        camera = VideoFileCamera(video, clock=clock)
        assert all(camera.grab() is not None for _ in range(3 * FRAME_COUNT))


class TestVariation:
    @pytest.mark.parametrize(
        "fields",
        [
            {"brightness": [1.5, 0.5]},
            {"brightness": 0},
            {"brightness": "1.2"},
            {"blur_sigma": -1},
            {"rotation_deg": 200},
            {"occlusion": "nose"},
            {"occlusion_size": 1.5},
            {"glare": 1.0},
        ],
    )
    def test_bad_variations_are_refused(self, fields):
        with pytest.raises(ValidationError):
            Variation.model_validate(fields)

    def test_everything_is_optional(self):
        variation = Variation()
        assert variation.brightness is None and variation.occlusion == "none"
