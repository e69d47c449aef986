"""A mock camera that shows the traveller's face, as lit, focused and posed as asked.

``MockCamera`` implements the ``Camera`` protocol over a list of pictures:
face images (pixels or image files), and ``None`` for moments when nobody is
in view (the camera then shows the empty background).  Each ``grab()``
returns the next picture in turn, cycling, altered by a ``Variation``:

* ``brightness``: a factor on every pixel (0.5 half as bright, 1.5 brighter);
* ``blur_sigma``: a Gaussian blur of that sigma in pixels (out of focus, motion);
* ``rotation_deg``: the head turned in the image plane, counter-clockwise;
* ``occlusion``: a dark rectangle over the ``eyes`` (sunglasses) or the
  ``mouth`` (a mask, from the chin up), ``occlusion_size`` high as a fraction
  of the face box.

Each amount is a fixed value or a ``[low, high]`` range drawn anew for each
frame from the injected random generator, so a seed replays the same frames.
``unplug()`` and ``plug_back()`` inject the loss of the camera.

A scenario's traveller hands it a sequence (a photo sequence, the frames of a
video, an attack clip): each grab shows the next picture, so a gate that grabs
a window of several frames per capture attempt sees the face move.
``video_frames`` reads such a sequence from a video file or a folder of
frames.  A video file played as the camera itself needs no mock:
``VideoFileCamera`` is the real driver, ``OpenCvCamera``, playing the file.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, model_validator

from egate.biometrics.image import IMAGE_SUFFIXES, ImageError, RgbImage, read_image_file
from hardware.camera import (
    DEFAULT_RECONNECT_INITIAL_S,
    DEFAULT_RECONNECT_MAX_S,
    CameraError,
    CameraState,
    Clock,
    Frame,
)
from hardware.opencvcamera import OpenCvCamera

# A face box in pixels: (left, top, right, bottom), as face detectors give it
# (from the brows to the chin).
FaceBox = tuple[int, int, int, int]
FaceLocator = Callable[[RgbImage], FaceBox | None]

Factor = Annotated[StrictFloat, Field(gt=0, le=10)]
Sigma = Annotated[StrictFloat, Field(ge=0, le=50)]
Degrees = Annotated[StrictFloat, Field(ge=-180, le=180)]
Fraction = Annotated[StrictFloat, Field(gt=0, le=1)]

# Where the occluding band sits, as fractions of the face box height.
EYES_CENTRE = 0.3
OCCLUDER_RGB = (24, 24, 24)
# The empty scene when nobody is in view and no background was given.
BACKGROUND_RGB = (128, 128, 128)
DEFAULT_SIZE = (480, 640)  # rows, columns


class Variation(BaseModel):
    """How a mock camera alters each face image; fixed amounts or ``[low, high]`` ranges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brightness: Factor | tuple[Factor, Factor] | None = Field(
        default=None, description="Factor on every pixel: below 1 darker, above 1 brighter."
    )
    blur_sigma: Sigma | tuple[Sigma, Sigma] | None = Field(
        default=None, description="Gaussian blur sigma in pixels (0: sharp)."
    )
    rotation_deg: Degrees | tuple[Degrees, Degrees] | None = Field(
        default=None, description="In-plane head rotation in degrees, counter-clockwise."
    )
    occlusion: Literal["none", "eyes", "mouth"] = Field(
        default="none", description="What a dark rectangle covers: nothing, the eyes, the mouth."
    )
    occlusion_size: Fraction | tuple[Fraction, Fraction] = Field(
        default=0.4, description="Height of the rectangle as a fraction of the face's height."
    )

    @model_validator(mode="after")
    def _ranges_in_order(self) -> Variation:
        for name in ("brightness", "blur_sigma", "rotation_deg", "occlusion_size"):
            amount = getattr(self, name)
            if isinstance(amount, tuple) and amount[0] > amount[1]:
                raise ValueError(f"{name}: the range [{amount[0]}, {amount[1]}] is reversed")
        return self


def _draw(amount: float | tuple[float, float] | None, rng: np.random.Generator) -> float | None:
    if isinstance(amount, tuple):
        return float(rng.uniform(amount[0], amount[1]))
    return amount


def portrait_face_box(image: RgbImage) -> FaceBox:
    """Where the face is in a head-and-shoulders portrait: centred, upper middle.

    A guess without a detector; pass ``locate_face`` to ``MockCamera`` for
    photos framed otherwise.
    """
    rows, columns = image.shape[:2]
    return (
        round(columns * 0.25),
        round(rows * 0.2),
        round(columns * 0.75),
        round(rows * 0.6),
    )


def occlusion_rectangle(box: FaceBox, where: str, size: float) -> FaceBox:
    """The rectangle (left, top, right, bottom) that covers the eyes or mouth of ``box``."""
    left, top, right, bottom = box
    face_height = bottom - top
    band = max(1, round(face_height * size))
    # The eyes band is centred on the eye line; the mouth band rises from the chin.
    start = round(top + face_height * EYES_CENTRE - band / 2) if where == "eyes" else bottom - band
    return max(0, left), max(0, start), max(0, right), max(0, start + band)


def vary(
    image: RgbImage,
    box: FaceBox | None,
    *,
    brightness: float | None = None,
    blur_sigma: float | None = None,
    rotation_deg: float | None = None,
    occlusion: str = "none",
    occlusion_size: float = 0.4,
) -> RgbImage:
    """``image`` with the face (in ``box``) occluded, turned, relit and blurred, in that order.

    The order follows the scene: what the traveller wears, how the head is
    held, the light, then the lens.
    """
    result = image
    if occlusion != "none" and box is not None:
        left, top, right, bottom = occlusion_rectangle(box, occlusion, occlusion_size)
        result = result.copy()
        result[top:bottom, left:right] = OCCLUDER_RGB
    if rotation_deg:
        rows, columns = result.shape[:2]
        if box is None:
            centre = (columns / 2, rows / 2)
        else:
            centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        matrix = cv2.getRotationMatrix2D(centre, rotation_deg, 1.0)
        result = np.asarray(
            cv2.warpAffine(
                result,
                matrix,
                (columns, rows),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
    if brightness is not None and brightness != 1.0:
        result = np.asarray(cv2.convertScaleAbs(result, alpha=brightness, beta=0))
    if blur_sigma:
        result = np.asarray(cv2.GaussianBlur(result, (0, 0), sigmaX=blur_sigma))
    return np.ascontiguousarray(result, dtype=np.uint8)


def _pixels(picture: RgbImage | Path, position: int) -> RgbImage:
    if isinstance(picture, Path):
        try:
            return read_image_file(picture)
        except ImageError as error:
            raise CameraError(f"mock camera, picture {position}: {error}") from None
    array = np.asarray(picture)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise CameraError(
            f"mock camera, picture {position}: expected H x W x 3 uint8 RGB pixels, "
            f"got {array.dtype} of shape {array.shape}"
        )
    return array


class MockCamera:
    """A camera that shows given face images in turn, varied, with nobody or unplugged on cue.

    ``images`` holds RGB pixel arrays, image files, and ``None`` for "nobody
    in view" (``background`` is then shown, plain grey by default).
    ``locate_face`` finds the face box that occlusion and rotation refer to;
    the default assumes a head-and-shoulders portrait.  ``rng`` draws ranged
    amounts; ``clock`` stamps the frames.
    """

    def __init__(
        self,
        images: Sequence[RgbImage | Path | None],
        variation: Variation | None = None,
        *,
        rng: np.random.Generator | None = None,
        clock: Clock = time.monotonic,
        locate_face: FaceLocator = portrait_face_box,
        background: RgbImage | Path | None = None,
    ) -> None:
        if len(images) == 0:
            raise CameraError("mock camera: no pictures to show")
        self._variation = variation or Variation()
        self._rng = rng if rng is not None else np.random.default_rng()
        self._clock = clock
        self._locate_face = locate_face
        pictures = self._prepared(images)
        if background is not None:
            self._background = _pixels(background, 0)
        else:
            first = next((entry[0] for entry in pictures if entry is not None), None)
            rows, columns = DEFAULT_SIZE if first is None else first.shape[:2]
            self._background = np.full((rows, columns, 3), BACKGROUND_RGB, dtype=np.uint8)
        self._pictures = pictures
        self._next = 0
        self._plugged = True
        self._closed = False

    def _prepared(
        self, images: Sequence[RgbImage | Path | None]
    ) -> list[tuple[RgbImage, FaceBox | None] | None]:
        pictures: list[tuple[RgbImage, FaceBox | None] | None] = []
        for position, picture in enumerate(images, start=1):
            if picture is None:
                pictures.append(None)
                continue
            pixels = _pixels(picture, position)
            pictures.append((pixels, self._locate_face(pixels)))
        return pictures

    def show(self, images: Sequence[RgbImage | Path | None]) -> None:
        """Show other pictures from the next grab on (the next traveller steps in).

        An empty sequence shows the background: nobody in view.
        """
        self._pictures = self._prepared(images) if images else [None]
        self._next = 0

    @property
    def state(self) -> CameraState:
        """``disconnected`` while unplugged or once closed."""
        if self._plugged and not self._closed:
            return CameraState.CONNECTED
        return CameraState.DISCONNECTED

    @property
    def position(self) -> int:
        """Index in ``images`` of the picture the next grab shows."""
        return self._next

    def grab(self) -> Frame | None:
        """The next picture, varied; None while unplugged or once closed."""
        if self.state is CameraState.DISCONNECTED:
            return None
        entry = self._pictures[self._next]
        self._next = (self._next + 1) % len(self._pictures)
        variation, rng = self._variation, self._rng
        # Drawn in a fixed order whatever the picture, so a seed gives one sequence.
        brightness = _draw(variation.brightness, rng)
        blur_sigma = _draw(variation.blur_sigma, rng)
        rotation_deg = _draw(variation.rotation_deg, rng)
        occlusion_size = _draw(variation.occlusion_size, rng)
        assert occlusion_size is not None
        image, box = (self._background, None) if entry is None else entry
        varied = vary(
            image,
            box,
            brightness=brightness,
            blur_sigma=blur_sigma,
            rotation_deg=rotation_deg,
            occlusion=variation.occlusion,
            occlusion_size=occlusion_size,
        )
        if varied is image:
            varied = image.copy()  # a frame never shares pixels with the camera's pictures
        return Frame(varied, self._clock())

    def unplug(self) -> None:
        """Fault injection: the camera is gone until ``plug_back()``."""
        self._plugged = False

    def plug_back(self) -> None:
        """The camera is back; it carries on with the picture it would have shown next."""
        self._plugged = True

    def close(self) -> None:
        """Stop for good: grabs return None."""
        self._closed = True

    def __repr__(self) -> str:
        return f"MockCamera({len(self._pictures)} pictures, {self.state.value})"


# Largest video frame read into a sequence (8K): beyond any camera a gate has.
MAX_VIDEO_PIXELS = 7680 * 4320


def _natural(path: Path) -> list[int | str]:
    """``frame2`` before ``frame10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def video_frames(path: Path, *, every: int = 1, limit: int = 300) -> list[RgbImage]:
    """Every ``every``-th frame of a video file (or picture of a folder, in natural order),
    ``limit`` at most, as RGB pixels.

    ``ValueError`` with one line naming the file when it is no video OpenCV
    can read, or holds no frame.
    """
    if every < 1 or limit < 1:
        raise ValueError("every and limit must be at least 1")
    if path.is_dir():
        files = sorted(
            (
                file
                for file in path.iterdir()
                if file.suffix.lower() in IMAGE_SUFFIXES and not file.name.startswith(".")
            ),
            key=_natural,
        )[::every][:limit]
        if not files:
            raise ValueError(f"{path}: no frames (.png, .jpg, ...) in this folder")
        return [read_image_file(file) for file in files]
    if not path.is_file():
        raise ValueError(f"{path}: no such video file")
    capture = cv2.VideoCapture(str(path))
    frames: list[RgbImage] = []
    try:
        if not capture.isOpened():
            raise ValueError(f"{path}: not a video OpenCV can read")
        index = 0
        while len(frames) < limit:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            if frame.ndim != 3 or frame.shape[0] * frame.shape[1] > MAX_VIDEO_PIXELS:
                raise ValueError(f"{path}: frame {index} is not a colour picture of at most 8K")
            if index % every == 0:
                frames.append(np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
            index += 1
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"{path}: no frame could be decoded (not a video, or damaged)")
    return frames


class VideoFileCamera(OpenCvCamera):
    """A camera that plays a video file, looping by default: the real driver, nothing mocked."""

    def __init__(
        self,
        path: str | Path,
        *,
        loop: bool = True,
        width: int | None = None,
        height: int | None = None,
        reconnect_initial_s: float = DEFAULT_RECONNECT_INITIAL_S,
        reconnect_max_s: float = DEFAULT_RECONNECT_MAX_S,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(
            Path(path),
            width=width,
            height=height,
            loop=loop,
            reconnect_initial_s=reconnect_initial_s,
            reconnect_max_s=reconnect_max_s,
            clock=clock,
        )
