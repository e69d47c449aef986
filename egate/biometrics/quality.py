"""Quality gates on a live face: big enough, sharp enough, lit well enough.

A face that fails a gate gives no comparison at all: the verification is a
failure to acquire (``LOW_QUALITY``), which a gate answers by capturing again
rather than by rejecting the traveller.  Sharpness and brightness are
measured on the aligned 150 x 150 chip, so their limits mean the same thing
whatever the camera's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from egate.biometrics.image import RgbImage


class QualitySettings(BaseModel):
    """Limits of the quality gates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_face_px: int = Field(
        default=64, ge=20, description="Smallest face box height, in pixels of the full frame."
    )
    min_sharpness: float = Field(
        default=15.0,
        ge=0,
        description="Smallest variance of the Laplacian over the face chip's centre.",
    )
    min_brightness: float = Field(
        default=40.0, ge=0, le=255, description="Darkest mean grey level (0-255) of the face."
    )
    max_brightness: float = Field(
        default=235.0, ge=0, le=255, description="Brightest mean grey level (0-255) of the face."
    )


@dataclass(frozen=True, slots=True)
class QualityMeasures:
    """What was measured on one face."""

    face_px: int
    sharpness: float
    brightness: float


def measure(chip: RgbImage, face_px: int) -> QualityMeasures:
    """Measure a face from its aligned chip and its box height in the full frame."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    # The chip has a padding of background around the face: measure the middle.
    centre = grey[height // 4 : height - height // 4, width // 4 : width - width // 4]
    sharpness = float(cv2.Laplacian(centre, cv2.CV_64F).var())
    brightness = float(np.mean(centre))
    return QualityMeasures(face_px=face_px, sharpness=sharpness, brightness=brightness)


def shortfall(measures: QualityMeasures, settings: QualitySettings) -> str | None:
    """Why the face fails a gate (measured value and limit), or None when it passes."""
    if measures.face_px < settings.min_face_px:
        return f"face {measures.face_px} px high, below the {settings.min_face_px} px minimum"
    if measures.brightness < settings.min_brightness:
        return (
            f"face too dark: brightness {measures.brightness:.1f}, "
            f"minimum {settings.min_brightness:.1f}"
        )
    if measures.brightness > settings.max_brightness:
        return (
            f"face too bright: brightness {measures.brightness:.1f}, "
            f"maximum {settings.max_brightness:.1f}"
        )
    if measures.sharpness < settings.min_sharpness:
        return (
            f"face too blurred: sharpness {measures.sharpness:.1f}, "
            f"minimum {settings.min_sharpness:.1f}"
        )
    return None
