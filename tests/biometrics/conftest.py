"""Shared fixtures of the biometrics tests: sample faces, loaded models, templates.

The sample photos come from the package registry through
``egate.samples.fetch_samples`` (one download per machine, then the per-user
cache) and from matplotlib; tests skip when they cannot be had.  A larger
set, the folder named by ``EGATE_FACES_DIR`` (``face_folder``, in
``tests/conftest.py``), is optional: tests that use it are marked ``faces``
and skip when it is absent.

Models load once per session, and each photo is decoded and turned into a
template at most once, because a descriptor costs ~0.1 s.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from egate.biometrics.face import FaceModels
from egate.biometrics.image import RgbImage, find_images, read_image_file
from egate.biometrics.verifier import FaceVerifier, Template
from egate.samples import SampleError, SampleSet, fetch_samples, grace_hopper


class Faces:
    """Sample photos by name, decoded and enrolled lazily, each at most once."""

    def __init__(self, samples: SampleSet, verifier: FaceVerifier) -> None:
        self.samples = samples
        self.verifier = verifier
        self._pixels: dict[Path, RgbImage] = {}
        self._templates: dict[Path, Template] = {}

    def path(self, name: str) -> Path:
        return self.samples.image(name)

    def pixels(self, name_or_path: str | Path) -> RgbImage:
        path = self.path(name_or_path) if isinstance(name_or_path, str) else name_or_path
        if path not in self._pixels:
            self._pixels[path] = read_image_file(path)
            self._pixels[path].setflags(write=False)  # shared: no test may change it
        return self._pixels[path]

    def template(self, name_or_path: str | Path) -> Template:
        path = self.path(name_or_path) if isinstance(name_or_path, str) else name_or_path
        if path not in self._templates:
            enrollment = self.verifier.enroll(self.pixels(path))
            assert enrollment.template is not None, (path, enrollment.reason, enrollment.detail)
            self._templates[path] = enrollment.template
        return self._templates[path]


@pytest.fixture(scope="session")
def sample_faces() -> SampleSet:
    """The face_recognition 1.3.0 test photos, fetched once into the per-user cache."""
    try:
        return fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")


@pytest.fixture(scope="session")
def grace_hopper_path() -> Path:
    """matplotlib's sample portrait."""
    path = grace_hopper()
    if path is None:
        pytest.skip("matplotlib's grace_hopper.jpg is not installed")
    return path


@pytest.fixture(scope="session")
def face_models() -> FaceModels:
    """dlib's detector, landmarks and descriptor network, loaded once."""
    return FaceModels()


@pytest.fixture(scope="session")
def verifier(face_models: FaceModels) -> FaceVerifier:
    """A verifier with the default settings (threshold 0.6)."""
    return FaceVerifier.with_models(face_models)


@pytest.fixture(scope="session")
def faces(sample_faces: SampleSet, grace_hopper_path: Path, verifier: FaceVerifier) -> Faces:
    """Sample photos and their templates, shared by every test of the session."""
    return Faces(sample_faces, verifier)


@pytest.fixture(scope="session")
def two_faces(faces: Faces) -> RgbImage:
    """Two people in one frame: two sample portraits pasted side by side on white."""
    images = [faces.pixels("obama2.jpg"), faces.pixels("grace_hopper.jpg")]
    height = max(image.shape[0] for image in images)
    canvas = np.full((height, sum(image.shape[1] for image in images), 3), 255, np.uint8)
    left = 0
    for image in images:
        canvas[: image.shape[0], left : left + image.shape[1]] = image
        left += image.shape[1]
    canvas.setflags(write=False)
    return canvas


@pytest.fixture(scope="session")
def folder_pictures(face_folder: Path) -> list[RgbImage]:
    """The face folder's photos and every sixth of its video's first 120 frames (RGB)."""
    pictures = [read_image_file(path) for path in find_images(face_folder)]
    capture = cv2.VideoCapture(str(next((face_folder / "video").glob("*.mp4"))))
    for index in range(120):
        ok, frame = capture.read()
        if not ok:
            break
        if index % 6 == 0:
            pictures.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    for picture in pictures:
        picture.setflags(write=False)  # shared: no test may change it
    return pictures
