"""Small JPEG thumbnails of a scenario passenger's chip photo and live capture.

The replay report embeds them beside each face decision as ``data:`` URIs, so
the page stays one self-contained file; the thumbnails are downscaled (about
96 px high) to keep it small.  The capture is the passenger's first face photo
with the scenario's variation applied, as the camera saw it.  A photo that
cannot be read gives ``None``, never an exception: a report must not fail over
one picture.  Nothing here holds a name: passengers are their scenario ids.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import cv2
import numpy as np

from egate.biometrics.image import RgbImage, read_image_file
from station.training.scenario import PassengerSpec, Scenario, Variation
from station.training.scenario_travellers import vary

__all__ = ["THUMBNAIL_HEIGHT", "PassengerPhotos", "jpeg_data_uri", "thumbnail_jpeg"]

THUMBNAIL_HEIGHT = 96
# Enough for a face to be recognisable at thumbnail size, a few kB each.
_QUALITY = 80

_log = logging.getLogger(__name__)


def thumbnail_jpeg(image: RgbImage, height: int = THUMBNAIL_HEIGHT) -> bytes:
    """``image`` (RGB) as a JPEG ``height`` pixels high (never enlarged), width to scale."""
    rows, columns = image.shape[:2]
    if rows > height:
        size = (max(1, round(columns * height / rows)), height)
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, _QUALITY])
    if not ok:
        raise ValueError("could not encode a thumbnail")
    return bytes(encoded.tobytes())


def jpeg_data_uri(jpeg: bytes) -> str:
    """A ``data:image/jpeg;base64,...`` URI of ``jpeg``, for an ``<img src>``."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


class PassengerPhotos:
    """The thumbnails of a scenario's passengers, each photo file read once.

    Scenarios reuse a few sample photos for many passengers, so thumbnails
    are cached by file and variation.  Not thread-safe.
    """

    def __init__(self, scenario: Scenario, height: int = THUMBNAIL_HEIGHT) -> None:
        self._specs = {spec.id: spec for spec in scenario.passengers}
        self._height = height
        self._cache: dict[tuple[Path, Variation | None], bytes | None] = {}

    def chip(self, passenger: str) -> bytes | None:
        """The photo on the passenger's chip (DG2), or ``None``: no chip, no photo, unreadable."""
        spec = self._specs.get(passenger)
        chip = None if spec is None else spec.chip
        if chip is None or chip.state != "ok" or chip.photo is None:
            return None
        return self._thumbnail(passenger, chip.photo, None)

    def capture(self, passenger: str) -> bytes | None:
        """The passenger's first live capture as the camera saw it, or ``None``."""
        spec = self._specs.get(passenger)
        face = None if spec is None else spec.face
        if face is None or face.kind == "attack":
            return None  # an attack's camera saw a print or a screen, not the photo itself
        if face.kind == "frames":
            first = next((entry for entry in face.frames if entry.resolved is not None), None)
            if first is None or first.resolved is None:
                return None
            return self._thumbnail(passenger, first.resolved, first.variation)
        if not face.resolved:
            return None
        return self._thumbnail(passenger, face.resolved[0], face.variation)

    def spec(self, passenger: str) -> PassengerSpec | None:
        """The scenario passenger of that id, if any."""
        return self._specs.get(passenger)

    def _thumbnail(self, passenger: str, path: Path, variation: Variation | None) -> bytes | None:
        key = (path, variation)
        if key not in self._cache:
            self._cache[key] = self._render(passenger, path, variation)
        return self._cache[key]

    def _render(self, passenger: str, path: Path, variation: Variation | None) -> bytes | None:
        try:
            image = read_image_file(path)
            if variation is not None:
                image = vary(image, variation)
            return thumbnail_jpeg(image, self._height)
        except Exception as error:  # a moved file, a bad image, an OpenCV error: "no photo"
            # The error's text names the file, and a photo's file name may be a person's.
            _log.warning("passenger %s: no thumbnail (%s)", passenger, type(error).__name__)
            return None
