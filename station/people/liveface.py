"""A live traveller made from one still photo: the face blinks, speaks and turns a little.

A camera in front of a real person never sees the same picture twice: the
eyes blink, the mouth moves, the head turns and its nose moves against its
cheeks (a head is not flat).  A gate's passive liveness check
(:mod:`egate.biometrics.pad`) looks for exactly that, so a scenario's genuine
traveller, who on a fresh machine is only a sample photo, must move too, or
the gate rightly takes them for a printed photo held up.

``animate`` turns one photo into ``count`` camera frames of that person by
warping the picture around its 68 landmarks (found once, with dlib's model
through :class:`~egate.biometrics.landmarks.LandmarkFinder`):

* a **blink** once per ``period`` frames: the skin above and below each eye
  is stretched over it until the lids meet (the eye's openness dips);
* **speech**: the chin and lower lip drop and rise again, a few hundredths
  of the face's size;
* a **turn**: the nose and the middle of the face shift sideways against
  the jaw line, as parallax does when a head turns.

It is a mock of a live face for drills, not a model of one: it says nothing
about how well a detector does on real people (that needs real video, see
``egate biometrics pad-eval``).  No landmark leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from egate.biometrics.image import RgbImage
from egate.biometrics.landmarks import JAW, LEFT_EYE, MOUTH, NOSE, RIGHT_EYE, Landmarks

Grid = npt.NDArray[np.float32]

# Per frame of a blink period: how far the lids are closed (0 open, 1 shut).
# A blink lasts 100-300 ms: two or three frames at 10 frames a second.
BLINK_PROFILE = {2: 0.45, 3: 1.0, 4: 0.55}
# Speech: the chin's largest drop, and the nose's largest sideways shift, in eye distances.
JAW_DROP = 0.4
NOSE_SHIFT = 0.25


@dataclass(frozen=True, slots=True)
class Motion:
    """How the face is moved in one frame: lids closed (0..1), chin drop and nose shift (px)."""

    closed: float
    jaw_drop_px: float
    nose_shift_px: float


def motions(count: int, eye_distance: float, period: int) -> list[Motion]:
    """The face's movement in each of ``count`` frames: a blink every ``period`` frames, and
    a slow turn with the mouth opening, one way in one period and back in the next.

    The turn and the mouth move steadily across a period, as a head does
    over a second: frames far apart in a capture window differ more than
    neighbouring ones (a detector tells deformation from landmark jitter so).
    """
    period = max(period, 5)
    result = []
    for k in range(count):
        phase = k % period
        closed = BLINK_PROFILE.get(phase, 0.0)
        # -1 .. 1 across one period, and back across the next.
        sweep = 2 * phase / (period - 1) - 1
        turn = sweep if (k // period) % 2 == 0 else -sweep
        jaw = JAW_DROP * eye_distance * (turn + 1) / 2
        nose = NOSE_SHIFT * eye_distance * turn
        result.append(Motion(closed, jaw, nose))
    return result


def _eye_field(grid_x: Grid, grid_y: Grid, points: npt.NDArray[np.float64], closed: float) -> Grid:
    """The vertical sampling offset that shuts one eye ``closed`` of the way.

    Above the eye's centre line the picture is sampled further up (the upper
    lid's skin comes down), below it further down; the offset fades out over
    ``reach`` so nothing tears.
    """
    centre_x, centre_y = points.mean(axis=0)
    width = float(np.linalg.norm(points[0] - points[3]))
    gaps = np.linalg.norm(points[1] - points[5]) + np.linalg.norm(points[2] - points[4])
    half_height = max(1.0, float(gaps) / 4)
    reach = max(3.0 * half_height, 4.0)
    # Slightly more than the half-height, so the lids cover the eye entirely.
    pull = closed * min(1.3 * half_height, 0.9 * reach)
    dy = grid_y - np.float32(centre_y)
    across = np.clip(np.abs(grid_x - np.float32(centre_x)) / np.float32(0.8 * width), 0, 1)
    window = 0.5 * (1 + np.cos(np.pi * across))
    fade = np.clip(1 - np.abs(dy) / np.float32(reach), 0, 1)
    return np.asarray(np.sign(dy + 0.5) * pull * fade * window, dtype=np.float32)


def warp(image: RgbImage, face: Landmarks, motion: Motion) -> RgbImage:
    """``image`` with the face of ``face`` moved as ``motion`` says."""
    rows, columns = image.shape[:2]
    grid_x, grid_y = np.meshgrid(
        np.arange(columns, dtype=np.float32), np.arange(rows, dtype=np.float32)
    )
    offset_x = np.zeros_like(grid_x)
    offset_y = np.zeros_like(grid_y)
    points = face.points
    scale = max(face.eye_distance, 4.0)
    if motion.closed > 0:
        for eye in (RIGHT_EYE, LEFT_EYE):
            offset_y += _eye_field(grid_x, grid_y, points[eye], motion.closed)
    if motion.jaw_drop_px > 0:
        # From the middle of the mouth down to below the chin the picture moves down
        # (sampled from higher up), fading in above the mouth and out under the chin.
        jaw = points[JAW]
        mouth_y = float(points[MOUTH][:, 1].mean())
        chin_y = float(jaw[:, 1].max())
        rise = np.clip((grid_y - (mouth_y - 0.3 * scale)) / np.float32(0.3 * scale), 0, 1)
        fall = np.clip(1 - (grid_y - chin_y) / np.float32(0.6 * scale), 0, 1)
        left, right = float(jaw[:, 0].min()), float(jaw[:, 0].max())
        middle, half = (left + right) / 2, max((right - left) / 2, 1.0)
        across = np.clip(np.abs(grid_x - np.float32(middle)) / np.float32(half), 0, 1)
        offset_y -= motion.jaw_drop_px * rise * fall * 0.5 * (1 + np.cos(np.pi * across))
    if motion.nose_shift_px != 0:
        nose_x, nose_y = points[NOSE].mean(axis=0)
        sigma = 0.55 * scale
        bump = np.exp(-((grid_x - nose_x) ** 2 + (grid_y - nose_y) ** 2) / (2 * sigma**2))
        offset_x -= np.float32(motion.nose_shift_px) * bump.astype(np.float32)
    moved = cv2.remap(
        image,
        grid_x + offset_x,
        grid_y + offset_y,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.ascontiguousarray(moved, dtype=np.uint8)


def animate(image: RgbImage, face: Landmarks | None, count: int, period: int) -> list[RgbImage]:
    """``count`` frames of the person in ``image`` moving as a live face does.

    ``face``: the landmarks of the face in ``image``; without one (no face
    found) every frame is the still picture, which is what a camera sees of
    a photo.  ``period``: the frames between blinks (the capture window).
    """
    if count < 1:
        raise ValueError("an animation needs at least one frame")
    if face is None:
        return [image] * count
    return [warp(image, face, motion) for motion in motions(count, face.eye_distance, period)]
