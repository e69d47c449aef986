"""How good a face picture is for automated comparison, measure by measure.

The measures follow the quality components of ISO/IEC 29794-5 (inter-eye
distance, head pose, eyes open, mouth closed, exposure, dynamic range,
illumination uniformity, sharpness, face size and position) and use its
names where it has one; the formulas are egate's own.  They read dlib's 68
landmarks (``egate.biometrics.landmarks``) and the pixels, with numpy and
OpenCV only: no model beyond the landmarks, and about 0.7 ms a face, so a
gate can score every frame of a capture window.

Each measure has a value in its own unit and a component score from 0
(useless) to 100 (as good as it gets), from a piecewise-linear ramp between
two documented limits.  The combined ``score`` is the weighted geometric mean
of the component scores: one very bad component (a face turned away, closed
eyes) pulls it down whatever the others.  ``problems`` holds one line per
requirement not met, and ``guidance`` the instruction that best helps the
traveller (``CaptureGuidance``), in the order a traveller can act on them:
face in the picture and turned to the camera, then distance, then light,
then obstruction, then eyes.

Pixel measures are taken on a grey copy of the face scaled so that the eyes
are ``NORMAL_EYE_DISTANCE`` pixels apart (about the scale of the 150-pixel
chip the face descriptor reads), inside the convex hull of the landmarks, so
their limits mean the same thing at any distance from the camera.

Limits: the head pose fits ten landmarks to one generic 3-D face, so it
carries each person's difference from that face (several degrees of yaw
and roll, more of pitch); ``eyes_visible`` is a contrast test (a uniform
band or dark glasses read low, clear glasses do not); exposure and
uniformity are grey levels of the face, not measures of the light.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from egate.biometrics.guidance import CaptureGuidance
from egate.biometrics.image import RgbImage
from egate.biometrics.landmarks import (
    INNER_LIPS,
    LEFT_EYE,
    POINT_COUNT,
    RIGHT_EYE,
    Landmarks,
)

Floats = npt.NDArray[np.float64]

# The face is resampled so its eyes are this many pixels apart before the pixel measures.
NORMAL_EYE_DISTANCE = 40.0
# The resampled face is never larger than this (arbitrary landmarks must stay cheap).
MAX_NORMAL_SIDE = 256
# Landmarks farther than this from the picture's origin are not a face in it.
MAX_COORDINATE = 1e6
UNDER_EXPOSED = 20  # grey level at or below which a pixel is nearly black
OVER_EXPOSED = 245  # grey level at or above which a pixel is nearly saturated
# Half-width and half-height of the region around each eye, in eye widths (corner to corner).
EYE_PATCH = (0.6, 0.3)

# A generic adult face in millimetres (x to the image's right when facing the
# camera, y down, z away from the camera; nose tip at the origin), for the
# landmarks whose depth varies least between people.  Rounded anthropometric
# averages: outer eye corners ~90 mm apart, inner ~32 mm, mouth ~50 mm wide.
_MODEL_POINTS: dict[int, tuple[float, float, float]] = {
    27: (0.0, -45.0, 20.0),  # nose bridge (sellion)
    30: (0.0, 0.0, 0.0),  # nose tip
    33: (0.0, 15.0, 15.0),  # nose base (subnasale)
    8: (0.0, 82.0, 25.0),  # chin (menton)
    36: (-45.0, -38.0, 38.0),  # outer corner of the subject's right eye (image left)
    39: (-16.0, -38.0, 28.0),  # its inner corner
    42: (16.0, -38.0, 28.0),  # inner corner of the left eye
    45: (45.0, -38.0, 38.0),  # its outer corner
    48: (-25.0, 38.0, 30.0),  # right mouth corner
    54: (25.0, 38.0, 30.0),  # left mouth corner
}
# The model is turned about its x axis by this much so that faces looking at
# the camera read a pitch of 0: untouched, the sample portraits (23 photos)
# read a median of +9 degrees, dlib's chin and nose points sitting lower than
# this generic face's.
NEUTRAL_PITCH_DEG = -9.0


def _tipped(model: Floats, degrees: float) -> Floats:
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = np.array([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
    return np.asarray(model @ rotation.T, dtype=np.float64)


_MODEL_INDEX = np.array(list(_MODEL_POINTS), dtype=np.intp)
_MODEL = _tipped(np.array(list(_MODEL_POINTS.values()), dtype=np.float64), NEUTRAL_PITCH_DEG)
_MODEL_OUTER_EYES_MM = 90.0


@dataclass(frozen=True, slots=True)
class QualityLimits:
    """Where each requirement lies: a measure beyond its limit is a problem."""

    min_eye_distance_px: float = 60.0  # ISO/IEC 19794-5 token image: 60 px between the eyes
    max_yaw_deg: float = 20.0
    max_pitch_deg: float = 20.0
    max_roll_deg: float = 15.0
    min_eyes_open: float = 0.15  # eye aspect ratio of a closing eye
    min_eyes_visible: float = 0.35  # eye-region contrast against the whole face's
    max_mouth_opening: float = 0.3  # inner-lip gap over mouth width
    min_exposure: float = 60.0  # mean grey level of the face
    max_exposure: float = 215.0
    min_dynamic_range: float = 50.0  # grey levels between the 1st and 99th percentile
    min_uniformity: float = 0.5  # darker half of the face over the brighter
    min_sharpness: float = 40.0  # variance of the Laplacian at NORMAL_EYE_DISTANCE
    min_inside: float = 0.98  # share of the landmarks' box inside the frame


# Weights of the component scores in the combined score (a weighted geometric mean).
WEIGHTS: dict[str, float] = {
    "inter_eye_distance": 2.0,
    "yaw": 2.0,
    "pitch": 1.0,
    "roll": 1.0,
    "eyes_open": 1.5,
    "eyes_visible": 1.5,
    "mouth_closed": 0.5,
    "exposure": 1.5,
    "dynamic_range": 1.0,
    "illumination_uniformity": 1.0,
    "sharpness": 1.5,
    "face_size": 0.5,
    "face_position": 1.0,
}


@dataclass(frozen=True, slots=True)
class FaceQuality:
    """The quality measures of one face, their component scores, the combined score and advice.

    Angles are in degrees: ``yaw`` > 0 when the subject turns to their left
    (the nose towards the image's right), ``pitch`` > 0 chin up, ``roll`` > 0
    when the eye line rises towards the image's right (a counter-clockwise
    tilt in the picture).  They are NaN when the pose cannot be estimated.
    """

    inter_eye_distance_px: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    eyes_open: float
    eyes_visible: float
    mouth_closed: float
    exposure: float
    under_exposed: float
    over_exposed: float
    dynamic_range: float
    illumination_uniformity: float
    sharpness: float
    face_size: float
    face_inside: float
    face_offset: float
    components: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    guidance: CaptureGuidance | None = None
    problems: tuple[str, ...] = ()

    @property
    def measures(self) -> dict[str, float]:
        """Every measured value by name (the fields above ``components``)."""
        return {name: getattr(self, name) for name in MEASURE_NAMES}

    def to_json(self) -> dict[str, Any]:
        """The measures, component scores, score, guidance and problems as a JSON object."""
        return {
            "measures": {name: _finite(value) for name, value in self.measures.items()},
            "components": {name: round(value, 1) for name, value in self.components.items()},
            "score": round(self.score, 1),
            "guidance": None if self.guidance is None else self.guidance.value,
            "problems": list(self.problems),
        }


MEASURE_NAMES = (
    "inter_eye_distance_px",
    "yaw_deg",
    "pitch_deg",
    "roll_deg",
    "eyes_open",
    "eyes_visible",
    "mouth_closed",
    "exposure",
    "under_exposed",
    "over_exposed",
    "dynamic_range",
    "illumination_uniformity",
    "sharpness",
    "face_size",
    "face_inside",
    "face_offset",
)


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def _ramp(value: float, zero_at: float, full_at: float) -> float:
    """0 at ``zero_at``, 100 at ``full_at``, linear between (either may be the larger)."""
    if not math.isfinite(value):
        return 0.0
    share = (value - zero_at) / (full_at - zero_at)
    return 100.0 * min(1.0, max(0.0, share))


def _distance(points: Floats, first: int, second: int) -> float:
    return float(np.hypot(*(points[first] - points[second])))


def eye_aspect_ratio(points: Floats, eye: slice) -> float:
    """Eyelid opening over eye width: (|p2-p6| + |p3-p5|) / (2 |p1-p4|), 0 when closed."""
    p = points[eye]
    width = float(np.hypot(*(p[0] - p[3])))
    if width < 1e-6:
        return 0.0
    opening = float(np.hypot(*(p[1] - p[5])) + np.hypot(*(p[2] - p[4])))
    return opening / (2.0 * width)


def mouth_opening(points: Floats) -> float:
    """Mean gap between the inner lips over the inner mouth's width (0 when closed)."""
    start = INNER_LIPS.start
    width = _distance(points, start, start + 4)  # inner mouth corners, points 60 and 64
    if width < 1e-6:
        return 0.0
    gaps = [_distance(points, start + k, start + 8 - k) for k in (1, 2, 3)]  # 61-67, 62-66, 63-65
    return float(np.mean(gaps)) / width


def head_pose(points: Floats, frame_size: tuple[int, int]) -> tuple[float, float, float]:
    """Yaw, pitch and roll in degrees, from ten landmarks fitted to a generic 3-D face.

    A pinhole camera whose focal length is the frame's long side and whose
    optical centre is the face itself: the pose is relative to the line of
    sight from the camera to the face, wherever it is in the frame.  NaN
    angles when the fit fails (degenerate landmarks).
    """
    image_points = points[_MODEL_INDEX].astype(np.float64)
    focal = float(max(frame_size))
    centre = image_points.mean(axis=0)
    camera = np.array([[focal, 0.0, centre[0]], [0.0, focal, centre[1]], [0.0, 0.0, 1.0]])
    outer_eyes_px = _distance(points, 36, 45)
    nan = (math.nan, math.nan, math.nan)
    if not np.all(np.isfinite(image_points)) or outer_eyes_px < 1.0:
        return nan
    # Start from a frontal face at the distance its eye width implies, so the
    # solver converges to the face looking towards the camera, not its mirror.
    rvec = np.zeros((3, 1))
    tvec = np.array([[0.0], [0.0], [focal * _MODEL_OUTER_EYES_MM / outer_eyes_px]])
    try:
        found, solved, _ = cv2.solvePnP(
            _MODEL,
            image_points,
            camera,
            None,
            rvec,
            tvec,
            useExtrinsicGuess=True,
            flags=cv2.SOLVEPNP_ITERATIVE,
        )
    except cv2.error:
        return nan
    if not found or not np.all(np.isfinite(solved)):
        return nan
    rotation = np.asarray(cv2.Rodrigues(solved)[0], dtype=np.float64)
    forward = -rotation[:, 2]  # where the face looks, in camera coordinates (y down)
    across = rotation[:, 0]  # the face's right-to-left axis (image left to right when frontal)
    if forward[2] >= 0:  # facing away from the camera: not a solution for a visible face
        return nan
    yaw = math.degrees(math.atan2(forward[0], -forward[2]))
    pitch = math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2])))
    roll = math.degrees(math.atan2(-across[1], across[0]))
    return yaw, pitch, roll


@dataclass(frozen=True, slots=True)
class _Pixels:
    exposure: float = 0.0
    under_exposed: float = 1.0
    over_exposed: float = 0.0
    dynamic_range: float = 0.0
    uniformity: float = 0.0
    sharpness: float = 0.0
    eyes_visible: float = 0.0


def _pixel_measures(image: RgbImage, points: Floats, eye_distance: float) -> _Pixels:
    """Exposure, dynamic range, uniformity, sharpness and eye visibility on the scaled face."""
    height, width = image.shape[:2]
    if not np.all(np.isfinite(points)) or height == 0 or width == 0:
        return _Pixels()
    low, high = np.floor(points.min(axis=0)), np.ceil(points.max(axis=0)) + 1
    left, top = int(max(0.0, low[0])), int(max(0.0, low[1]))
    right, bottom = int(min(float(width), high[0])), int(min(float(height), high[1]))
    if right - left < 2 or bottom - top < 2:
        return _Pixels()
    # Grey first, then scaled: a third of the pixels to resample.
    crop = cv2.cvtColor(np.ascontiguousarray(image[top:bottom, left:right]), cv2.COLOR_RGB2GRAY)
    scale = NORMAL_EYE_DISTANCE / max(eye_distance, 1.0)
    scale = min(scale, MAX_NORMAL_SIDE / max(right - left, bottom - top))
    size = (max(2, round((right - left) * scale)), max(2, round((bottom - top) * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    grey = np.asarray(cv2.resize(crop, size, interpolation=interpolation), dtype=np.uint8)
    local = (points - (left, top)) * (size[0] / (right - left), size[1] / (bottom - top))

    mask = np.zeros(grey.shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(local).astype(np.int32)), 1)
    # One histogram of the face gives mean, clipped shares and the percentiles.
    histogram = cv2.calcHist([grey], [0], mask, [256], [0, 256]).ravel()
    count = float(histogram.sum())
    if count < 16:
        return _Pixels()
    levels = np.arange(256, dtype=np.float64)
    exposure = float(histogram @ levels) / count
    spread = math.sqrt(max(0.0, float(histogram @ levels**2) / count - exposure**2))
    cumulative = np.cumsum(histogram)
    p1 = int(np.searchsorted(cumulative, 0.01 * count))
    p99 = int(np.searchsorted(cumulative, 0.99 * count))

    # Halves either side of the nose line (bridge to base), so a tilted head splits right.
    (x0, y0), (x1, y1) = local[27], local[33]
    dx, dy = x1 - x0, y1 - y0
    reach = 4.0 * max(size) / max(math.hypot(dx, dy), 1e-6)
    start, stop = (x0 - dx * reach, y0 - dy * reach), (x0 + dx * reach, y0 + dy * reach)
    # The polygon to the line's left: the line, then the same line pushed sideways.
    push = (-dy * reach, dx * reach)
    half = np.zeros_like(mask)
    quad = np.array(
        [
            start,
            stop,
            (stop[0] + push[0], stop[1] + push[1]),
            (start[0] + push[0], start[1] + push[1]),
        ]
    )
    if np.all(np.isfinite(quad)) and np.abs(quad).max() < 2**20:
        cv2.fillConvexPoly(half, np.round(quad).astype(np.int32), 1)
    first, second = cv2.bitwise_and(mask, half), cv2.bitwise_and(mask, 1 - half)
    if cv2.countNonZero(first) and cv2.countNonZero(second):
        means = sorted((cv2.mean(grey, first)[0], cv2.mean(grey, second)[0]))
        uniformity = (means[0] + 1.0) / (means[1] + 1.0)
    else:
        uniformity = 0.0

    # Texture inside the face only: the jaw's edge against the background would dominate.
    core = cv2.erode(mask, np.ones((5, 5), np.uint8))
    if cv2.countNonZero(core) >= 16:
        _, deviation = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F), mask=core)
        sharpness = float(deviation[0, 0]) ** 2
    else:
        sharpness = 0.0

    return _Pixels(
        exposure=exposure,
        under_exposed=float(histogram[: UNDER_EXPOSED + 1].sum()) / count,
        over_exposed=float(histogram[OVER_EXPOSED:].sum()) / count,
        dynamic_range=float(p99 - p1),
        uniformity=uniformity,
        sharpness=sharpness,
        eyes_visible=_eyes_visible(grey, local, spread),
    )


def _eyes_visible(grey: npt.NDArray[np.uint8], local: Floats, face_spread: float) -> float:
    """Contrast of the eye regions over the face's: an open, uncovered eye is high-contrast."""
    spreads = []
    height, width = grey.shape
    for eye in (RIGHT_EYE, LEFT_EYE):
        corners = local[eye]
        (cx, cy), eye_width = corners.mean(axis=0), float(np.hypot(*(corners[0] - corners[3])))
        half_w, half_h = EYE_PATCH[0] * eye_width, EYE_PATCH[1] * eye_width
        x0, x1 = max(0, round(cx - half_w)), min(width, round(cx + half_w) + 1)
        y0, y1 = max(0, round(cy - half_h)), min(height, round(cy + half_h) + 1)
        patch = grey[y0:y1, x0:x1]
        spreads.append(float(cv2.meanStdDev(patch)[1][0, 0]) if patch.size >= 4 else 0.0)
    return min(spreads) / max(face_spread, 1.0)


def assess(
    image: RgbImage, landmarks: Landmarks, limits: QualityLimits | None = None
) -> FaceQuality:
    """Measure one face (its landmarks in ``image``), score it and say what is wrong."""
    limits = limits or QualityLimits()
    points = landmarks.points
    if points.shape != (POINT_COUNT, 2) or not np.all(np.abs(points) < MAX_COORDINATE):
        return _unusable()
    height, width = image.shape[:2]
    eye_distance = landmarks.eye_distance
    yaw, pitch, roll = head_pose(points, (width, height))
    eyes_open = min(eye_aspect_ratio(points, RIGHT_EYE), eye_aspect_ratio(points, LEFT_EYE))
    opening = mouth_opening(points)
    pixels = _pixel_measures(image, points, eye_distance)

    # Where the face is: the landmarks' box against the frame.
    finite = points[np.all(np.isfinite(points), axis=1)]
    if finite.size and width and height:
        (x0, y0), (x1, y1) = finite.min(axis=0), finite.max(axis=0)
        area = max((x1 - x0) * (y1 - y0), 1e-9)
        overlap_w = max(0.0, min(x1, width) - max(x0, 0.0))
        overlap_h = max(0.0, min(y1, height) - max(y0, 0.0))
        face_inside = float(min(1.0, overlap_w * overlap_h / area))
        face_size = float((y1 - y0) / height)
        centre = np.array([(x0 + x1) / 2 - width / 2, (y0 + y1) / 2 - height / 2])
        face_offset = float(min(1.0, np.hypot(*centre) / np.hypot(width / 2, height / 2)))
    else:
        face_inside, face_size, face_offset = 0.0, 0.0, 1.0

    exposure_score = min(
        _ramp(pixels.exposure, 30.0, 80.0),
        _ramp(pixels.exposure, 240.0, 180.0),
        _ramp(pixels.under_exposed + pixels.over_exposed, 0.5, 0.05),
    )
    components = {
        "inter_eye_distance": _ramp(eye_distance, 30.0, 90.0),
        "yaw": _ramp(abs(yaw), 45.0, 5.0),
        "pitch": _ramp(abs(pitch), 40.0, 5.0),
        "roll": _ramp(abs(roll), 40.0, 5.0),
        "eyes_open": _ramp(eyes_open, 0.1, 0.22),
        "eyes_visible": _ramp(pixels.eyes_visible, 0.2, 0.6),
        "mouth_closed": _ramp(opening, 0.45, 0.1),
        "exposure": exposure_score,
        "dynamic_range": _ramp(pixels.dynamic_range, 30.0, 130.0),
        "illumination_uniformity": _ramp(pixels.uniformity, 0.35, 0.8),
        "sharpness": _ramp(pixels.sharpness, 10.0, 120.0),
        "face_size": _ramp(face_size, 0.05, 0.2),
        "face_position": 100.0 * face_inside * (1.0 - 0.5 * face_offset),
    }
    total_weight = sum(WEIGHTS.values())
    score = math.exp(
        sum(WEIGHTS[name] * math.log(max(1.0, value)) for name, value in components.items())
        / total_weight
    )

    quality = FaceQuality(
        inter_eye_distance_px=eye_distance,
        yaw_deg=yaw,
        pitch_deg=pitch,
        roll_deg=roll,
        eyes_open=eyes_open,
        eyes_visible=pixels.eyes_visible,
        mouth_closed=opening,
        exposure=pixels.exposure,
        under_exposed=pixels.under_exposed,
        over_exposed=pixels.over_exposed,
        dynamic_range=pixels.dynamic_range,
        illumination_uniformity=pixels.uniformity,
        sharpness=pixels.sharpness,
        face_size=face_size,
        face_inside=face_inside,
        face_offset=face_offset,
        components=components,
        score=score,
    )
    found = _problems(quality, limits)
    return dataclasses.replace(
        quality,
        guidance=next((advice for advice, _ in found if advice is not None), None),
        problems=tuple(line for _, line in found),
    )


def _unusable() -> FaceQuality:
    """The quality of landmarks that are not 68 finite points in or near the picture."""
    return FaceQuality(
        inter_eye_distance_px=0.0,
        yaw_deg=math.nan,
        pitch_deg=math.nan,
        roll_deg=math.nan,
        eyes_open=0.0,
        eyes_visible=0.0,
        mouth_closed=0.0,
        exposure=0.0,
        under_exposed=1.0,
        over_exposed=0.0,
        dynamic_range=0.0,
        illumination_uniformity=0.0,
        sharpness=0.0,
        face_size=0.0,
        face_inside=0.0,
        face_offset=1.0,
        components=dict.fromkeys(WEIGHTS, 0.0),
        score=0.0,
        guidance=CaptureGuidance.LOOK_AT_CAMERA,
        problems=("no usable landmarks (not 68 finite points near the picture)",),
    )


def _problems(q: FaceQuality, limits: QualityLimits) -> list[tuple[CaptureGuidance | None, str]]:
    """Every requirement not met, with its instruction, most actionable first."""
    look, closer = CaptureGuidance.LOOK_AT_CAMERA, CaptureGuidance.STEP_CLOSER
    dark, obstruction = CaptureGuidance.TOO_DARK, CaptureGuidance.REMOVE_OBSTRUCTION
    found: list[tuple[CaptureGuidance | None, str]] = []
    if q.face_inside < limits.min_inside:
        found.append((look, f"face partly outside the picture ({q.face_inside:.0%} inside)"))
    if not all(math.isfinite(angle) for angle in (q.yaw_deg, q.pitch_deg, q.roll_deg)):
        found.append((look, "head pose could not be estimated from the landmarks"))
    else:
        for name, angle, limit in (
            ("turned", q.yaw_deg, limits.max_yaw_deg),
            ("tilted up or down", q.pitch_deg, limits.max_pitch_deg),
            ("tilted sideways", q.roll_deg, limits.max_roll_deg),
        ):
            if abs(angle) > limit:
                found.append((look, f"head {name} {angle:+.0f} degrees (limit {limit:.0f})"))
    if q.inter_eye_distance_px < limits.min_eye_distance_px:
        found.append(
            (
                closer,
                f"eyes {q.inter_eye_distance_px:.0f} px apart, "
                f"below the {limits.min_eye_distance_px:.0f} px minimum",
            )
        )
    if q.exposure < limits.min_exposure:
        found.append((dark, f"face too dark: mean grey {q.exposure:.0f} of 255"))
    elif q.exposure > limits.max_exposure:
        found.append((None, f"face over-exposed: mean grey {q.exposure:.0f} of 255"))
    if q.dynamic_range < limits.min_dynamic_range:
        advice = dark if q.exposure < 128 else None
        found.append((advice, f"little contrast on the face: {q.dynamic_range:.0f} grey levels"))
    if q.illumination_uniformity < limits.min_uniformity:
        found.append((dark, f"face unevenly lit: darker side at {q.illumination_uniformity:.0%}"))
    if q.eyes_visible < limits.min_eyes_visible:
        found.append((obstruction, f"eyes hidden or featureless ({q.eyes_visible:.2f})"))
    if q.eyes_open < limits.min_eyes_open:
        found.append((look, f"eyes closed or nearly (eye aspect ratio {q.eyes_open:.2f})"))
    if q.mouth_closed > limits.max_mouth_opening:
        found.append((None, f"mouth open (opening {q.mouth_closed:.2f} of its width)"))
    if q.sharpness < limits.min_sharpness:
        found.append((None, f"face blurred: sharpness {q.sharpness:.0f}"))
    return found
