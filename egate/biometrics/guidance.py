"""What a gate tells a traveller whose face it cannot yet capture well.

While the camera's capture window runs, each frame's quality says what
stands between the traveller and a usable picture; the gate turns the
most telling problem into one of these instructions on its indicator, and
records the code (never the picture) in its audit trail.
"""

from __future__ import annotations

from enum import StrEnum


class CaptureGuidance(StrEnum):
    """An instruction to the traveller during face capture, with its reason code."""

    LOOK_AT_CAMERA = "LOOK_AT_CAMERA"  # no face, or the head turned or tilted away
    STEP_CLOSER = "STEP_CLOSER"  # the face too small: eyes too few pixels apart
    REMOVE_OBSTRUCTION = "REMOVE_OBSTRUCTION"  # eyes or mouth hidden (glasses, mask, hand)
    TOO_DARK = "TOO_DARK"  # the face under-exposed or unevenly lit

    @property
    def text(self) -> str:
        """The short instruction an indicator shows (no traveller data)."""
        return _TEXTS[self]


_TEXTS = {
    CaptureGuidance.LOOK_AT_CAMERA: "Look at the camera",
    CaptureGuidance.STEP_CLOSER: "Step closer to the camera",
    CaptureGuidance.REMOVE_OBSTRUCTION: "Remove glasses, mask or anything covering your face",
    CaptureGuidance.TOO_DARK: "Face the light, please",
}
