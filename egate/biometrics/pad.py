"""Presentation-attack detection (PAD): is a live person in front of the camera, or a picture?

A gate captures a window of frames while the traveller walks in; the PAD
stage sits between that capture and the verification.  ``PassiveLivenessDetector``
needs nothing from the traveller: it reads how the face moves across the
window.

* **A picture moves as a plane.**  A printed photo or a photo on a screen,
  however it is turned or tilted, moves all its points by one homography
  (a 3 x 3 projective map).  A live head is not flat: when it turns, the
  nose moves against the cheeks and the jaw line (parallax), and the face
  changes its expression, speaks, blinks.  For every pair of frames the
  detector fits a homography from the 68 landmarks of one frame to those of
  the other (least squares) and takes what it leaves unexplained: the root
  mean square residual, divided by the inter-eye distance so that it does
  not depend on the face's size.  Landmarks jitter by a pixel or two from
  frame to frame, on a picture as on a face, and that jitter alone leaves a
  residual of 0.015 to 0.04 eye distances.  But jitter is the same between
  any two frames, while real deformation accumulates: the *non-rigid motion*
  of the window is the median residual of the pairs at least half the
  window apart, less the median residual of neighbouring frames.  A picture
  scores about 0 whatever its jitter; a live face scores more the more it
  deforms.
* **A picture does not blink.**  The eye aspect ratio (the eye's height over
  its width, from its six landmarks) of each eye is compared with its median
  over the window; the *blink dip* is how far the lowest value falls below
  the median, in the eye that dips least (a blink closes both eyes; a
  misfitted landmark usually moves one).

Each measure becomes evidence of life between 0 and 1 by a logistic curve
through two documented settings: 5 % at the low one and 95 % at the high
one (``rigid_residual`` and ``live_residual`` for motion, ``blink_dip_low``
and ``blink_dip_high`` for blinks), 50 % half-way.  The stronger of the two
is the liveness, and the **score is 1 - liveness**: near 0 clearly alive,
near 1 no sign of life.  (A smooth curve rather than a clipped ramp, so that
scores stay ordered and an evaluation can set a threshold between any two.)
A score at or above ``threshold`` is an attack (reason ``PRESENTATION_ATTACK``).

With fewer than ``min_frames`` frames showing a face there is no motion to
judge: the score is 1 and the decision is ``too_few_frames`` ("attack" by
default: a gate that cannot see life does not accept it).

What this does not stop: a video of the person replayed on a screen (the
face in it moves and blinks, and a screen held up adds only planar motion),
a 3D mask (rigid but not flat: parallax), a bent print (not flat either), a
live accomplice.  A live traveller who stands perfectly still and does not
blink in the window looks like a picture (a bona fide error): windows of a
second or more make that rare.

No face image, landmark coordinate or template leaves this module: the
result carries a score, two summary measures and one line of text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from egate.biometrics.face import FaceBox, FaceModels
from egate.biometrics.image import RgbImage
from egate.biometrics.landmarks import LEFT_EYE, RIGHT_EYE, LandmarkFinder, Landmarks, largest

# The gate's policy: no PAD stage, or the passive detector below.
Liveness = Literal["off", "passive"]
PRESENTATION_ATTACK = "PRESENTATION_ATTACK"
# Eye distance (px) below which landmarks are too coarse to judge motion by.
MIN_EYE_DISTANCE = 8.0
# Largest landmark coordinate taken for a pixel position (a 1 000 000-pixel-wide frame).
MAX_COORDINATE = 1e6


class PadDecision(StrEnum):
    """What the PAD stage concluded about a capture window."""

    BONA_FIDE = "bona_fide"
    ATTACK = "attack"


@dataclass(frozen=True, slots=True)
class PadResult:
    """The PAD stage's outcome for one capture window.

    ``score`` is in 0..1, higher is more attack-like.  ``motion`` (the
    median homography residual in eye distances) and ``blink`` (the eye
    aspect ratio's deepest dip, 0..1) are None when they could not be
    measured; ``frames_used`` counts the frames that showed a usable face.
    """

    score: float
    decision: PadDecision
    reason: str | None = None
    detail: str | None = None
    frames_used: int = 0
    motion: float | None = None
    blink: float | None = None

    def to_json(self) -> dict[str, object]:
        """Plain data for reports, events and the audit trail (no biometric data)."""
        return {
            "score": round(self.score, 4),
            "decision": self.decision.value,
            "reason": self.reason,
            "detail": self.detail,
            "frames_used": self.frames_used,
            "motion": None if self.motion is None else round(self.motion, 4),
            "blink": None if self.blink is None else round(self.blink, 4),
        }


class PresentationAttackDetector(Protocol):
    """A PAD stage: judges a capture window, optionally with landmarks found already."""

    def check(
        self, frames: Sequence[RgbImage], landmarks: Sequence[Landmarks | None] | None = None
    ) -> PadResult:
        """Whether ``frames`` show a live face (``landmarks[i]``: frame i's face, or None)."""
        ...


class LivenessSettings(BaseModel):
    """Thresholds of the passive liveness detector (see the module's description)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(
        default=0.5, gt=0, le=1, description="Score at or above which a window is an attack."
    )
    min_frames: int = Field(
        default=3, ge=2, le=1000, description="Frames with a face needed to judge motion."
    )
    too_few_frames: Literal["attack", "bona_fide"] = Field(
        default="attack", description="Decision when fewer than min_frames frames show a face."
    )
    rigid_residual: float = Field(
        default=0.01,
        ge=0,
        description="Non-rigid motion (eye distances) that is 5 % evidence of life.",
    )
    live_residual: float = Field(
        default=0.025,
        gt=0,
        description="Non-rigid motion (eye distances) that is 95 % evidence of life.",
    )
    blink_dip_low: float = Field(
        default=0.5,
        ge=0,
        lt=1,
        description="Eye-openness dip (0..1) that is 5 % evidence of a blink.",
    )
    blink_dip_high: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Eye-openness dip (0..1) that is 95 % evidence of a blink.",
    )
    detection_long_side: int = Field(
        default=320, ge=80, le=4096, description="Long side of the copy faces are searched on."
    )


def eye_aspect_ratios(landmarks: Landmarks) -> tuple[float, float]:
    """Each eye's (sum of the two eyelid gaps) / (2 x the eye's width): ~0.3 open, ~0.1 shut."""
    ratios = []
    for part in (RIGHT_EYE, LEFT_EYE):
        p = landmarks.points[part]
        width = float(np.linalg.norm(p[0] - p[3]))
        gaps = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
        ratios.append(gaps / (2 * width) if width > 0 else 0.0)
    return ratios[0], ratios[1]


def planar_residual(first: Landmarks, second: Landmarks) -> float | None:
    """What a homography from ``first``'s points to ``second``'s leaves, in eye distances (RMS).

    None when no homography can be fitted (degenerate points).
    """
    if not (_within_frame_range(first.points) and _within_frame_range(second.points)):
        return None
    source = first.points.astype(np.float32)
    target = second.points.astype(np.float32)
    try:
        transform, _ = cv2.findHomography(source, target, 0)
        if transform is None or not np.all(np.isfinite(transform)):
            return None
        mapped = cv2.perspectiveTransform(source[None], transform)[0]
    except cv2.error:  # points OpenCV cannot fit (e.g. all on one line): no measure
        return None
    rms = float(np.sqrt(np.mean(np.sum((mapped - target) ** 2, axis=1))))
    scale = (first.eye_distance + second.eye_distance) / 2
    return rms / scale if scale > 0 and math.isfinite(rms) else None


# ln(19): the logistic's distance, in widths, from 50 % to 95 %.
_LOGIT_95 = math.log(19.0)


def evidence(value: float, low: float, high: float) -> float:
    """A logistic curve in 0..1 through 5 % at ``low`` and 95 % at ``high``."""
    if high <= low:
        return 1.0 if value >= high else 0.0
    middle, width = (low + high) / 2, (high - low) / (2 * _LOGIT_95)
    exponent = -(value - middle) / width
    return 0.0 if exponent > 700 else 1.0 / (1.0 + math.exp(exponent))


def _within_frame_range(points: npt.NDArray[np.float64]) -> bool:
    """Finite coordinates no camera frame exceeds (beyond them float32 arithmetic overflows)."""
    return bool(np.all(np.isfinite(points))) and bool(np.all(np.abs(points) < MAX_COORDINATE))


def _usable(landmarks: Landmarks | None) -> bool:
    return (
        landmarks is not None
        and landmarks.points.shape == (68, 2)
        and _within_frame_range(landmarks.points)
        and landmarks.eye_distance >= MIN_EYE_DISTANCE
    )


def _is_frame(frame: object) -> bool:
    return (
        isinstance(frame, np.ndarray)
        and frame.dtype == np.uint8
        and frame.ndim == 3
        and frame.shape[2] == 3
        and frame.shape[0] >= 1
        and frame.shape[1] >= 1
    )


class PassiveLivenessDetector:
    """Liveness from non-rigid facial motion and blinks across a capture window."""

    def __init__(self, models: FaceModels, settings: LivenessSettings | None = None) -> None:
        self.settings = settings or LivenessSettings()
        self._finder = LandmarkFinder(models, detection_long_side=self.settings.detection_long_side)

    def find_landmarks(self, frames: Sequence[RgbImage]) -> list[Landmarks | None]:
        """The largest face's landmarks in each frame, tracked from the previous frame's box.

        The faces are found frame by frame, then the landmarks of all of them
        fitted together (one pass over the shape model for the window).
        """
        images: list[RgbImage] = []
        faces: list[FaceBox | None] = []
        near: FaceBox | None = None
        for frame in frames:
            if not _is_frame(frame):
                images.append(frame)
                faces.append(None)  # not a picture: nothing to fit, and no box to follow
                continue
            image = np.ascontiguousarray(frame)
            boxes = self._finder.detect(image, near=near).boxes
            near = largest(boxes) if boxes else None
            images.append(image)
            faces.append(near)
        return self._finder.fit_many(images, faces)

    def check(
        self, frames: Sequence[RgbImage], landmarks: Sequence[Landmarks | None] | None = None
    ) -> PadResult:
        """Judge a capture window; ``landmarks`` (one per frame, None: no face) saves a search.

        Landmarks of another length than ``frames`` are not trusted: the faces are searched.
        """
        settings = self.settings
        if landmarks is None or len(landmarks) != len(frames):
            landmarks = self.find_landmarks(frames)
        faces = [face for face in landmarks if face is not None and _usable(face)]
        if len(faces) < settings.min_frames:
            detail = (
                f"{len(faces)} of {len(frames)} frames show a face; "
                f"liveness needs {settings.min_frames}"
            )
            if settings.too_few_frames == "attack":
                return PadResult(1.0, PadDecision.ATTACK, PRESENTATION_ATTACK, detail, len(faces))
            return PadResult(1.0, PadDecision.BONA_FIDE, None, detail, len(faces))
        motion = self.non_rigid_motion(faces)
        blink = self.blink_dip(faces)
        liveness = max(
            0.0
            if motion is None
            else evidence(motion, settings.rigid_residual, settings.live_residual),
            0.0
            if blink is None
            else evidence(blink, settings.blink_dip_low, settings.blink_dip_high),
        )
        score = 1.0 - liveness
        motion_text = "-" if motion is None else f"{motion:.3f}"
        blink_text = "-" if blink is None else f"{blink:.2f}"
        measures = (
            f"non-rigid motion {motion_text} eye distances, blink dip {blink_text}, "
            f"{len(faces)} of {len(frames)} frames"
        )
        if score >= settings.threshold:
            return PadResult(
                score,
                PadDecision.ATTACK,
                PRESENTATION_ATTACK,
                f"face moved like a flat picture and did not blink ({measures})",
                len(faces),
                motion,
                blink,
            )
        return PadResult(score, PadDecision.BONA_FIDE, None, measures, len(faces), motion, blink)

    @staticmethod
    def non_rigid_motion(faces: Sequence[Landmarks]) -> float | None:
        """Residual of frames half a window apart less that of neighbours (eye distances)."""
        count = len(faces)
        near: list[float] = []
        far: list[float] = []
        for i in range(count):
            for j in range(i + 1, count):
                if j - i == 1 or 2 * (j - i) >= count:
                    residual = planar_residual(faces[i], faces[j])
                    if residual is not None:
                        (near if j - i == 1 else far).append(residual)
        if not near or not far:
            return None
        return float(np.median(far) - np.median(near))

    @staticmethod
    def blink_dip(faces: Sequence[Landmarks]) -> float | None:
        """How far eye openness falls below its median (0..1), in the eye that falls least."""
        ratios: npt.NDArray[np.float64] = np.array([eye_aspect_ratios(face) for face in faces])
        typical = np.median(ratios, axis=0)
        if np.any(typical <= 0):
            return None
        dips = 1.0 - ratios.min(axis=0) / typical
        return float(np.clip(dips.min(), 0.0, 1.0))
