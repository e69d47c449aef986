"""The 68 facial landmarks of a face: where its eyes, brows, nose, mouth and jaw are.

Quality measures (head pose, eyes open, mouth closed, inter-eye distance) and
the presentation-attack check (how the face moves across a capture window)
read a face through these points.  They come from dlib's 68-point shape
model, shipped with ``face_recognition_models`` (no download at run time),
fitted inside the box of dlib's HOG detector.

Point numbering is the iBUG 300-W scheme dlib uses: 0-16 the jaw line,
17-21 and 22-26 the brows, 27-35 the nose, 36-41 and 42-47 the eyes (the
subject's right eye first, i.e. the one on the image's left), 48-67 the mouth
(48-59 its outer lip line, 60-67 the inner).

The face is searched on a copy reduced to ``detection_long_side`` pixels,
and the landmarks are fitted on the full-resolution picture, so their
coordinates are in full-resolution pixels.  With ``near`` (the box found in
the previous frame of the same capture) only a region around it is searched,
which is how a capture window tracks a face cheaply from frame to frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

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
# How far around the previous box a tracked search looks, as a share of its size.
TRACKING_MARGIN = 0.5


@functools.cache
def _shape_model() -> Any:  # noqa: ANN401  (dlib ships no type information)
    """dlib's 68-point shape predictor, loaded once per process."""
    try:
        import dlib
        import face_recognition_models
    except ImportError as error:
        raise ModelsUnavailable(
            f"face models unavailable ({error.name} is not installed): run ./bootstrap setup"
        ) from None
    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


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


def _largest(boxes: tuple[FaceBox, ...]) -> FaceBox:
    return max(boxes, key=lambda box: box.height * (box.right - box.left))


class LandmarkFinder:
    """Finds faces and fits the 68 landmarks of the largest, with shared preloaded models."""

    def __init__(
        self,
        models: FaceModels,
        *,
        detection_long_side: int = 320,
        retry_upsampled: bool = True,
    ) -> None:
        self._detector = models.detector
        self._rectangle = models.rectangle
        self._shape = _shape_model()
        self.detection_long_side = detection_long_side
        self.retry_upsampled = retry_upsampled

    def _detect(self, image: RgbImage, offset: tuple[int, int] = (0, 0)) -> tuple[FaceBox, ...]:
        height, width = image.shape[:2]
        scale = min(1.0, self.detection_long_side / max(height, width, 1))
        small = (
            image
            if scale == 1.0
            else cv2.resize(
                image,
                (max(1, round(width * scale)), max(1, round(height * scale))),
                interpolation=cv2.INTER_AREA,
            )
        )
        rectangles = list(self._detector(small, 0))
        if not rectangles and self.retry_upsampled:
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

    def fit(self, image: RgbImage, box: FaceBox) -> Landmarks:
        """The 68 landmarks of the face in ``box`` (full-resolution pixels)."""
        shape = self._shape(image, self._rectangle(box.left, box.top, box.right, box.bottom))
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return Landmarks(points, box)

    def locate(self, image: RgbImage, *, near: FaceBox | None = None) -> FaceLocation:
        """Every face in ``image`` and the landmarks of the largest.

        With ``near``, only the region around that box is searched first (a
        face tracked from the previous frame); the whole picture is searched
        when nothing is found there.
        """
        boxes: tuple[FaceBox, ...] = ()
        if near is not None:
            height, width = image.shape[:2]
            margin_x = round((near.right - near.left) * TRACKING_MARGIN)
            margin_y = round(near.height * TRACKING_MARGIN)
            left, top = max(0, near.left - margin_x), max(0, near.top - margin_y)
            right, bottom = min(width, near.right + margin_x), min(height, near.bottom + margin_y)
            if right - left > 1 and bottom - top > 1:
                boxes = self._detect(image[top:bottom, left:right], (left, top))
        if not boxes:
            boxes = self._detect(image)
        if not boxes:
            return FaceLocation((), None)
        return FaceLocation(boxes, self.fit(image, _largest(boxes)))
