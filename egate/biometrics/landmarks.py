"""The 68 facial landmarks of a face: where its eyes, brows, nose, mouth and jaw are.

Quality measures (head pose, eyes open, mouth closed, inter-eye distance) and
the presentation-attack check (how the face moves across a capture window)
read a face through these points.  They come from dlib's 68-point shape
model, shipped with ``face_recognition_models`` (no download at run time),
fitted inside the box of dlib's HOG detector by egate's fitter
(``egate.biometrics.shapefitter``: dlib's points, and the frames of a capture
window fitted together, ``fit_many``).

Point numbering is the iBUG 300-W scheme dlib uses: 0-16 the jaw line,
17-21 and 22-26 the brows, 27-35 the nose, 36-41 and 42-47 the eyes (the
subject's right eye first, i.e. the one on the image's left), 48-67 the mouth
(48-59 its outer lip line, 60-67 the inner).

The face is searched on a copy reduced to ``detection_long_side`` pixels,
and the landmarks are fitted on the full-resolution picture, so their
coordinates are in full-resolution pixels.  With ``near`` (where the face
is expected: the box found in the previous frame of the same capture, or its
prediction) only a region around it is searched, first 1.5 then 2.5 times
its size, scaled so the face there is about ``tracking_face_px`` pixels
across: just above the 80-pixel window of dlib's HOG detector, so the search
costs about the same (~1.5 ms here) whatever the face's size in the frame.
This is how a capture window tracks a face cheaply from frame to frame.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from egate.biometrics.dlibmodel import ModelFormatError
from egate.biometrics.face import FaceBox, FaceModels, ModelsUnavailable
from egate.biometrics.image import RgbImage

Points = npt.NDArray[np.float64]

JAW = slice(0, 17)
RIGHT_BROW = slice(17, 22)
LEFT_BROW = slice(22, 27)
NOSE = slice(27, 36)
RIGHT_EYE = slice(36, 42)  # the subject's right eye: on the image's left
LEFT_EYE = slice(42, 48)
MOUTH = slice(48, 68)
OUTER_LIPS = slice(48, 60)
INNER_LIPS = slice(60, 68)
POINT_COUNT = 68
# How far around the previous box a tracked search looks, as a share of its
# size: first close (the caller predicts where the face went), then wider.
TRACKING_MARGIN = 0.25
WIDE_TRACKING_MARGIN = 0.75
# dlib's HOG detector scans an 80 x 80 window: faces much smaller are missed.
HOG_WINDOW_PX = 80

_log = logging.getLogger(__name__)


class _Fitter(Protocol):
    def fit_many(
        self, images: Sequence[npt.NDArray[np.uint8]], boxes: Sequence[tuple[int, int, int, int]]
    ) -> list[Points]: ...


class _DlibFitter:
    """dlib's own shape predictor, a face at a time (when egate's fitter cannot read the model)."""

    def __init__(self, path: str) -> None:
        import dlib

        self._predictor = dlib.shape_predictor(path)
        self._rectangle = dlib.rectangle

    def fit_many(
        self, images: Sequence[npt.NDArray[np.uint8]], boxes: Sequence[tuple[int, int, int, int]]
    ) -> list[Points]:
        fitted = []
        for image, box in zip(images, boxes, strict=True):
            shape = self._predictor(image, self._rectangle(*box))
            fitted.append(np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64))
        return fitted


def _unavailable(error: ImportError) -> ModelsUnavailable:
    return ModelsUnavailable(
        f"face models unavailable ({error.name} is not installed): run ./bootstrap setup"
    )


@functools.cache
def _shape_model() -> _Fitter:
    """The 68-point landmark model, loaded once per process.

    egate's fitter (``egate.biometrics.shapefitter``: dlib's points, several
    frames at once); dlib's own predictor, after one warning, when the file
    is not the model that fitter reads.
    """
    try:
        import face_recognition_models
    except ImportError as error:
        raise _unavailable(error) from None
    # Imported here: numba loads in a process that fits landmarks, not in every
    # egate command that merely imports this module (about 0.15 s).
    from egate.biometrics.shapefitter import ShapeFitter
    from egate.biometrics.shapemodel import read_shape_model

    path = face_recognition_models.pose_predictor_model_location()
    try:
        return ShapeFitter(read_shape_model(Path(path)))
    except ModelFormatError as error:
        _log.warning("landmark fitting across frames unavailable, using dlib's: %s", error)
    try:
        return _DlibFitter(path)
    except ImportError as error:
        raise _unavailable(error) from None


@dataclass(frozen=True, slots=True, eq=False)
class Landmarks:
    """68 points of one face (``points[i] = (x, y)`` in full-resolution pixels) and its box."""

    points: Points
    box: FaceBox

    def __repr__(self) -> str:
        # Landmark geometry is biometric data: keep it out of logs and tracebacks.
        return f"Landmarks(box={self.box.right - self.box.left}x{self.box.height})"

    def centre(self, part: slice) -> tuple[float, float]:
        """The mean position of a group of points (e.g. ``RIGHT_EYE``)."""
        x, y = self.points[part].mean(axis=0)
        return float(x), float(y)

    @property
    def eye_distance(self) -> float:
        """Distance between the eye centres in pixels (ISO/IEC 29794-5's inter-eye distance)."""
        (rx, ry), (lx, ly) = self.centre(RIGHT_EYE), self.centre(LEFT_EYE)
        return float(np.hypot(lx - rx, ly - ry))


@dataclass(frozen=True, slots=True)
class FaceLocation:
    """Every face found in a picture, and the landmarks of the largest (None without a face)."""

    boxes: tuple[FaceBox, ...]
    landmarks: Landmarks | None
    # Found by the search near the given box (only that region was searched).
    tracked: bool = False


def _corners(box: FaceBox) -> tuple[int, int, int, int]:
    return box.left, box.top, box.right, box.bottom


def largest(boxes: tuple[FaceBox, ...]) -> FaceBox:
    """The box of largest area (the face nearest the camera)."""
    return max(boxes, key=lambda box: box.height * (box.right - box.left))


class LandmarkFinder:
    """Finds faces and fits the 68 landmarks of the largest, with shared preloaded models.

    ``detection_long_side``: the long side of the copy a whole picture is
    searched on; ``retry_upsampled``: search it again enlarged twice when
    nothing is found (faces down to ~40 px instead of ~80 px on that copy, at
    four times the cost); ``tracking_face_px``: the size a tracked face is
    scaled to for the search near its previous box; ``grey_detection``: run
    the detector on a grey copy.
    """

    def __init__(
        self,
        models: FaceModels,
        *,
        detection_long_side: int = 320,
        retry_upsampled: bool = True,
        tracking_face_px: int = 90,
        grey_detection: bool = False,
    ) -> None:
        self._detector = models.detector
        self._shape = _shape_model()
        self.detection_long_side = detection_long_side
        self.retry_upsampled = retry_upsampled
        self.tracking_face_px = max(HOG_WINDOW_PX, tracking_face_px)
        # HOG on one grey channel instead of the strongest gradient of three:
        # ~30 % faster (the landmarks are fitted on the colour image either way).
        self.grey_detection = grey_detection

    def _detect(
        self, image: RgbImage, scale: float, *, upsample: bool, offset: tuple[int, int] = (0, 0)
    ) -> tuple[FaceBox, ...]:
        """Faces in ``image`` searched on a copy scaled by ``scale``, in ``image``'s pixels."""
        height, width = image.shape[:2]
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small: npt.NDArray[np.uint8] = image
        if self.grey_detection and image.ndim == 3:
            # Grey before scaling: a third of the pixels to resample.
            small = np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
        if size == (width, height):
            scale = 1.0
        else:
            shrinking = scale < 1.0
            small = np.asarray(
                cv2.resize(
                    small, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
                ),
                dtype=np.uint8,
            )
        rectangles = list(self._detector(small, 0))
        if not rectangles and upsample:
            rectangles = list(self._detector(small, 1))
        dx, dy = offset
        return tuple(
            FaceBox(
                left=max(0, round(r.left() / scale)) + dx,
                top=max(0, round(r.top() / scale)) + dy,
                right=min(width, round(r.right() / scale)) + dx,
                bottom=min(height, round(r.bottom() / scale)) + dy,
            )
            for r in rectangles
        )

    def _search_whole(self, image: RgbImage) -> tuple[FaceBox, ...]:
        height, width = image.shape[:2]
        scale = min(1.0, self.detection_long_side / max(height, width, 1))
        return self._detect(image, scale, upsample=self.retry_upsampled)

    def _search_near(self, image: RgbImage, near: FaceBox, margin: float) -> tuple[FaceBox, ...]:
        height, width = image.shape[:2]
        near_width, near_height = near.right - near.left, near.bottom - near.top
        margin_x = round(near_width * margin)
        margin_y = round(near_height * margin)
        left, top = max(0, near.left - margin_x), max(0, near.top - margin_y)
        right, bottom = min(width, near.right + margin_x), min(height, near.bottom + margin_y)
        if right - left < HOG_WINDOW_PX // 4 or bottom - top < HOG_WINDOW_PX // 4:
            return ()
        # The face a little over the detector's window: the cheapest size it is still found at
        # (enlarged up to twice when it was smaller, for a face walking in from afar).
        scale = min(2.0, self.tracking_face_px / max(near_width, near_height, 1))
        return self._detect(
            image[top:bottom, left:right], scale, upsample=False, offset=(left, top)
        )

    def fit(self, image: RgbImage, box: FaceBox) -> Landmarks:
        """The 68 landmarks of the face in ``box`` (full-resolution pixels)."""
        (points,) = self._shape.fit_many([image], [_corners(box)])
        return Landmarks(points, box)

    def fit_many(
        self, images: Sequence[RgbImage], boxes: Sequence[FaceBox | None]
    ) -> list[Landmarks | None]:
        """The 68 landmarks of the face in each frame's box (None where it has none).

        The frames with a face are fitted together: one pass over the model for all.
        """
        present = [(index, box) for index, box in enumerate(boxes) if box is not None]
        fitted = self._shape.fit_many(
            [images[index] for index, _ in present], [_corners(box) for _, box in present]
        )
        found: list[Landmarks | None] = [None] * len(boxes)
        for (index, box), points in zip(present, fitted, strict=True):
            found[index] = Landmarks(points, box)
        return found

    def detect(
        self, image: RgbImage, *, near: FaceBox | None = None, search_whole: bool = True
    ) -> FaceLocation:
        """Every face in ``image``, without landmarks (``locate`` says where it searches)."""
        boxes: tuple[FaceBox, ...] = ()
        if near is not None:
            boxes = self._search_near(image, near, TRACKING_MARGIN) or self._search_near(
                image, near, WIDE_TRACKING_MARGIN
            )
        tracked = bool(boxes)
        if not boxes and (near is None or search_whole):
            boxes = self._search_whole(image)
        return FaceLocation(boxes, None, tracked)

    def locate(
        self, image: RgbImage, *, near: FaceBox | None = None, search_whole: bool = True
    ) -> FaceLocation:
        """Every face in ``image`` and the landmarks of the largest.

        With ``near``, only the region around that box is searched first,
        close then wider (a face tracked from the previous frame; ``boxes``
        then holds only the faces in that region); the whole picture is
        searched when nothing is found there, unless ``search_whole`` is false.
        """
        found = self.detect(image, near=near, search_whole=search_whole)
        if not found.boxes:
            return found
        return FaceLocation(found.boxes, self.fit(image, largest(found.boxes)), found.tracked)
