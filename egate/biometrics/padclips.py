"""Presentation-attack clips made from sample photos and video, and clips read from disk.

A *clip* is what a gate's camera sees during one capture window: a short
sequence of RGB frames.  On disk it is either a folder of frames (PNG, JPEG or
any format egate reads, taken in natural order: ``frame2`` before
``frame10``) or a video file OpenCV can read.

The attacks are simulated, so that the presentation-attack check can be
evaluated on a machine with no printer, screen or volunteers:

* ``print_attack``: the photo printed on paper (a little less contrast and
  colour, a paper tint and grain, a white margin), held up in front of a
  background and moved with perspective: the sheet turns and tilts a few
  degrees and drifts, smoothly from frame to frame.  The sheet stays flat.
* ``screen_attack``: a photo, or the frames of a video, shown on a tablet
  screen: a dark bezel, the red/green/blue sub-pixel grid (which the
  camera's sampling turns into moiré), a gamma and colour-temperature shift,
  a raised black level and a glare spot; the device is moved rigidly.
* ``cut_clips``: bona fide clips, consecutive windows of a real video.

Every random choice comes from the ``numpy.random.Generator`` passed in, so a
seed gives the same clips on every run.  Frames stay in memory unless written
with ``write_clip``.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from egate.biometrics.image import IMAGE_SUFFIXES, ImageError, RgbImage, read_image_file
from egate.outputs import atomic_write

FloatImage = npt.NDArray[np.float32]

# The frame size of generated attacks: a 4:3 camera at VGA resolution.
ATTACK_FRAME_SIZE = (640, 480)
# Files read as video clips.
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
# Most frames read from one clip; a capture window is 10 or so.
MAX_CLIP_FRAMES = 300
# Largest frame accepted from a video (8K): beyond any camera a gate has.
MAX_VIDEO_PIXELS = 7680 * 4320
# Working resolution (long side) of a photo before it is printed or shown.
_SOURCE_LONG_SIDE = 720


class ClipError(ValueError):
    """A clip cannot be read; the message is one line naming the file."""


# --- geometry: a flat object moved in front of the camera -------------------------------


@dataclass(frozen=True, slots=True)
class PlaneMotion:
    """How far a held-up sheet or screen turns and drifts over a clip.

    Angles in degrees (peak amplitude of a smooth swing), drift as a share of
    the frame's height, scale as a relative change of size.
    """

    yaw: float = 14.0
    pitch: float = 10.0
    roll: float = 5.0
    drift: float = 0.05
    scale: float = 0.06


PRINT_MOTION = PlaneMotion()
# A tablet is heavier and usually held steadier than a sheet of paper.
SCREEN_MOTION = PlaneMotion(yaw=8.0, pitch=6.0, roll=3.0, drift=0.04, scale=0.04)


def _swing(rng: np.random.Generator, frames: int, amplitude: float) -> npt.NDArray[np.float64]:
    """A smooth random path: a slow sine of random phase and frequency, plus a random offset."""
    t = np.linspace(0.0, 1.0, frames)
    cycles = rng.uniform(0.3, 1.0)
    phase = rng.uniform(0, 2 * math.pi)
    offset = rng.uniform(-0.4, 0.4)
    return np.asarray(amplitude * (offset + 0.6 * np.sin(2 * math.pi * cycles * t + phase)))


def _rotation(yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float64]:
    y, p, r = (math.radians(angle) for angle in (yaw, pitch, roll))
    about_y = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    about_x = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    about_z = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return np.asarray(about_z @ about_y @ about_x)


def plane_quads(
    object_size: tuple[float, float],
    frame_size: tuple[int, int],
    frames: int,
    rng: np.random.Generator,
    motion: PlaneMotion,
) -> list[npt.NDArray[np.float32]]:
    """Where the four corners of a flat object (width, height in frame pixels) appear, per frame.

    The object is a rectangle in 3D, turned (yaw, pitch, roll) about its
    centre and seen by a pinhole camera whose focal length is the frame's
    width (a field of view of about 53 degrees): perspective, not just an
    affine shear.
    """
    width, height = object_size
    frame_w, frame_h = frame_size
    focal = float(frame_w)
    yaw, pitch, roll = (_swing(rng, frames, a) for a in (motion.yaw, motion.pitch, motion.roll))
    dx, dy = (_swing(rng, frames, motion.drift * frame_h) for _ in range(2))
    scale = 1.0 + _swing(rng, frames, motion.scale)
    # Centre the object with some slack, so a drift keeps it inside the frame.
    centre_x = frame_w / 2 + rng.uniform(-0.08, 0.08) * frame_w
    centre_y = frame_h / 2 + rng.uniform(-0.05, 0.05) * frame_h
    corners = np.array(
        [[-width / 2, -height / 2, 0], [width / 2, -height / 2, 0],
         [width / 2, height / 2, 0], [-width / 2, height / 2, 0]],
    )  # fmt: skip
    quads = []
    for k in range(frames):
        turned = corners * scale[k] @ _rotation(yaw[k], pitch[k], roll[k]).T
        depth = focal + turned[:, 2]
        x = focal * turned[:, 0] / depth + centre_x + dx[k]
        y = focal * turned[:, 1] / depth + centre_y + dy[k]
        quads.append(np.stack([x, y], axis=1).astype(np.float32))
    return quads


def _composite(frame: FloatImage, picture: FloatImage, quad: npt.NDArray[np.float32]) -> FloatImage:
    """``picture`` warped onto ``quad`` of ``frame`` (anti-aliased edges)."""
    height, width = picture.shape[:2]
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    transform = cv2.getPerspectiveTransform(source, quad)
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpPerspective(picture, transform, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(
        np.ones((height, width), np.float32), transform, size, flags=cv2.INTER_LINEAR
    )[..., None]
    return np.asarray(frame * (1 - mask) + warped * mask, dtype=np.float32)


# --- what the camera adds, and the scene behind -----------------------------------------


def background(size: tuple[int, int], rng: np.random.Generator) -> FloatImage:
    """A plausible, face-free scene behind the attacker: a lit wall with blurred shapes."""
    width, height = size
    top, bottom = rng.uniform(60, 200, 3), rng.uniform(40, 160, 3)
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    scene = np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3)).astype(np.float32)
    scene = np.ascontiguousarray(scene)
    for _ in range(int(rng.integers(3, 7))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(width // 10, width // 2)), int(rng.integers(height // 10, height))
        colour = tuple(float(c) for c in rng.uniform(20, 230, 3))
        cv2.rectangle(scene, (x0, y0), (x0 + w, y0 + h), colour, thickness=-1)
    return np.asarray(cv2.GaussianBlur(scene, (0, 0), sigmaX=rng.uniform(3, 8)), np.float32)


def _camera(frame: FloatImage, rng: np.random.Generator, defocus: float) -> RgbImage:
    """A camera's slight defocus and sensor noise, then 8-bit pixels."""
    blurred = cv2.GaussianBlur(frame, (0, 0), sigmaX=defocus) if defocus > 0 else frame
    noisy = blurred + rng.normal(0, 2.5, blurred.shape).astype(np.float32)
    return np.asarray(np.clip(noisy + 0.5, 0, 255), dtype=np.uint8)


def _working_copy(photo: RgbImage) -> FloatImage:
    height, width = photo.shape[:2]
    scale = min(1.0, _SOURCE_LONG_SIDE / max(height, width, 1))
    if scale == 1.0:
        return np.asarray(photo, dtype=np.float32)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(photo, size, interpolation=cv2.INTER_AREA), dtype=np.float32)


# --- print attack -----------------------------------------------------------------------


def printed(photo: RgbImage, rng: np.random.Generator) -> FloatImage:
    """The photo as it looks printed on paper: margin, tint, less contrast, grain."""
    picture = _working_copy(photo)
    grey = picture.mean(axis=2, keepdims=True)
    # Inkjet or laser prints on office paper: duller colours, squeezed tones.
    picture = grey + (picture - grey) * rng.uniform(0.65, 0.9)
    contrast = rng.uniform(0.7, 0.9)
    picture = picture.mean() + (picture - picture.mean()) * contrast
    picture = cv2.GaussianBlur(picture, (0, 0), sigmaX=rng.uniform(0.5, 1.0))
    height, width = picture.shape[:2]
    margin = max(2, round(min(height, width) * rng.uniform(0.04, 0.1)))
    paper = np.array([245, 242, 232], np.float32) * rng.uniform(0.9, 1.0)
    sheet = np.empty((height + 2 * margin, width + 2 * margin, 3), np.float32)
    sheet[:] = paper
    sheet[margin : margin + height, margin : margin + width] = np.minimum(picture, paper)
    grain = cv2.GaussianBlur(rng.normal(0, 6, sheet.shape[:2]).astype(np.float32), (0, 0), 0.8)
    return np.asarray(np.clip(sheet + grain[..., None], 0, 255), dtype=np.float32)


def print_attack(
    photo: RgbImage,
    frames: int,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = ATTACK_FRAME_SIZE,
    motion: PlaneMotion = PRINT_MOTION,
) -> list[RgbImage]:
    """``frames`` camera frames (``size`` = width, height) of ``photo`` printed and held up.

    The sheet fills 55 to 85 % of the frame's height, about where a face
    stands in a gate camera's view, and turns, tilts and drifts smoothly.
    Its lighting follows its angle (a sheet turned away from the light is
    darker).
    """
    if frames < 1:
        raise ValueError("a clip needs at least one frame")
    sheet = printed(photo, rng)
    scene = background(size, rng)
    sheet_h, sheet_w = sheet.shape[:2]
    height = size[1] * rng.uniform(0.55, 0.85)
    object_size = (height * sheet_w / sheet_h, height)
    quads = plane_quads(object_size, size, frames, rng, motion)
    light = rng.uniform(0.85, 1.1)
    defocus = rng.uniform(0.4, 1.0)
    clip = []
    for quad in quads:
        # Lambert's law: brightness follows the cosine of the sheet's turn,
        # read here from how much narrower it looks than it is tall.
        top = float(np.linalg.norm(quad[1] - quad[0]))
        left = float(np.linalg.norm(quad[3] - quad[0]))
        shading = light * min(1.0, 0.8 + 0.2 * (top / max(left, 1e-6)) * sheet_h / sheet_w)
        clip.append(_camera(_composite(scene, sheet * shading, quad), rng, defocus))
    return clip


# --- screen attack ----------------------------------------------------------------------

# A tablet's screen in its own pixels (16:10, landscape), before the sub-pixel grid;
# turned to portrait for portrait content.
_SCREEN_PIXELS = (400, 250)
# Each screen pixel becomes 3 x 3 samples: R, G and B columns and a dark gap row.
_SUBPIXELS = 3
# Share of the sub-pixel grid's contrast that the camera resolves.
_GRID_CONTRAST = 0.35


def _subpixel_mask() -> FloatImage:
    cell = np.zeros((_SUBPIXELS, _SUBPIXELS, 3), np.float32)
    for channel in range(3):
        cell[:, channel, channel] = 3.0  # each column lights one primary, at 3x to keep the mean
    cell[-1] *= 0.35  # the black matrix between rows of pixels
    return cell


def _screen_face(
    content: FloatImage, look: dict[str, float], screen: tuple[int, int]
) -> FloatImage:
    """The content as a screen emits it: gamma, colour temperature, black level, pixel grid."""
    width, height = screen
    fitted = np.zeros((height, width, 3), np.float32)
    content_h, content_w = content.shape[:2]
    scale = min(width / content_w, height / content_h)
    new_w, new_h = max(1, round(content_w * scale)), max(1, round(content_h * scale))
    resized = cv2.resize(content, (new_w, new_h), interpolation=cv2.INTER_AREA)
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    fitted[y0 : y0 + new_h, x0 : x0 + new_w] = resized
    emitted = 255.0 * np.power(np.clip(fitted / 255.0, 0, 1), look["gamma"])
    emitted = emitted * np.array([look["red"], 1.0, look["blue"]], np.float32)
    emitted = look["black"] + emitted * (1 - look["black"] / 255.0)
    grid = np.repeat(np.repeat(emitted, _SUBPIXELS, axis=0), _SUBPIXELS, axis=1)
    # Seen from half a metre the sub-pixels blur into each other: only part
    # of the grid's contrast reaches the camera, enough for moire.
    tiled = 1 + _GRID_CONTRAST * (np.tile(_subpixel_mask(), (height, width, 1)) - 1)
    panel = cv2.GaussianBlur(grid * tiled, (0, 0), sigmaX=0.7)
    return np.asarray(np.clip(panel, 0, 255), dtype=np.float32)


def _with_bezel(panel: FloatImage, rng: np.random.Generator) -> FloatImage:
    height, width = panel.shape[:2]
    border = round(max(height, width) * rng.uniform(0.04, 0.08))
    body = np.empty((height + 2 * border, width + 2 * border, 3), np.float32)
    body[:] = rng.uniform(12, 40)
    body[border : border + height, border : border + width] = panel
    return body


def _glare(device: FloatImage, rng: np.random.Generator, strength: float) -> FloatImage:
    """A reflected light: a soft bright ellipse on the glass, fixed on the device."""
    height, width = device.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    rx, ry = rng.uniform(0.1, 0.3) * width, rng.uniform(0.1, 0.3) * height
    spot = np.exp(-(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2))
    return np.asarray(device + strength * 255 * spot[..., None], dtype=np.float32)


def screen_attack(
    source: RgbImage | Sequence[RgbImage],
    frames: int,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = ATTACK_FRAME_SIZE,
    motion: PlaneMotion = SCREEN_MOTION,
) -> list[RgbImage]:
    """``frames`` camera frames of a photo (one array) or a video (frames) shown on a tablet.

    A video's frames are shown one per camera frame, from the start,
    looping when the video is shorter than the clip.  The device fills 60
    to 90 % of the frame's height and is moved rigidly.
    """
    if frames < 1:
        raise ValueError("a clip needs at least one frame")
    sources = [source] if isinstance(source, np.ndarray) else list(source)
    if not sources:
        raise ValueError("a screen attack needs a photo or at least one video frame")
    look = {
        "gamma": rng.uniform(0.8, 1.25),
        "red": rng.uniform(0.9, 1.0),
        "blue": rng.uniform(1.0, 1.1),
        "black": rng.uniform(8, 25),
    }
    glare_strength = rng.uniform(0.1, 0.35)
    # Drawn once: the bezel and the glare stay put on the device from frame to frame.
    glare_seed, bezel_seed = (int(seed) for seed in rng.integers(2**63, size=2))
    scene = background(size, rng)
    first_h, first_w = sources[0].shape[:2]
    long, short = _SCREEN_PIXELS
    screen = (short, long) if first_h > first_w else (long, short)
    panel_w, panel_h = screen[0] * _SUBPIXELS, screen[1] * _SUBPIXELS
    border = 0.06 * max(panel_h, panel_w)
    device_aspect = (panel_w + 2 * border) / (panel_h + 2 * border)
    height = size[1] * rng.uniform(0.6, 0.9)
    quads = plane_quads((height * device_aspect, height), size, frames, rng, motion)
    defocus = rng.uniform(0.3, 0.8)
    clip = []
    for k, quad in enumerate(quads):
        content = _working_copy(sources[k % len(sources)])
        device = _with_bezel(_screen_face(content, look, screen), np.random.default_rng(bezel_seed))
        device = _glare(device, np.random.default_rng(glare_seed), glare_strength)
        clip.append(_camera(_composite(scene, device, quad), rng, defocus))
    return clip


def portrait_crop(
    image: RgbImage,
    box: tuple[int, int, int, int],
    rng: np.random.Generator,
    widths: tuple[float, float] = (2.2, 2.8),
) -> RgbImage:
    """Head and shoulders around a face box (left, top, right, bottom), as an attacker frames it.

    The crop is ``widths`` face widths wide (drawn between the two), 4:5,
    the face a little above its centre, clipped to the image.
    """
    left, top, right, bottom = box
    face_w = max(1, right - left)
    width = face_w * rng.uniform(*widths)
    height = width * 5 / 4
    centre_x = (left + right) / 2
    centre_y = (top + bottom) / 2 + 0.15 * height
    image_h, image_w = image.shape[:2]
    x0 = int(max(0, round(centre_x - width / 2)))
    y0 = int(max(0, round(centre_y - height / 2)))
    x1 = int(min(image_w, round(centre_x + width / 2)))
    y1 = int(min(image_h, round(centre_y + height / 2)))
    return image[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else image


# --- bona fide clips from a video -------------------------------------------------------


def cut_clips(frames: Sequence[RgbImage], length: int, stride: int = 1) -> list[list[RgbImage]]:
    """Non-overlapping windows of ``length`` frames, taking every ``stride``-th frame."""
    if length < 1 or stride < 1:
        raise ValueError("clip length and stride must be at least 1")
    span = length * stride
    return [
        list(frames[start : start + span : stride])
        for start in range(0, len(frames) - span + 1, span)
    ]


# --- reading and writing clips ----------------------------------------------------------


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def is_clip(path: Path) -> bool:
    """Whether ``path`` looks like a clip: a folder, or a file with a video suffix."""
    return path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES


def frame_files(folder: Path) -> list[Path]:
    """The image files of a frame folder, in natural order (hidden files left out)."""
    return sorted(
        (
            path
            for path in folder.iterdir()
            if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
        ),
        key=_natural_key,
    )


def read_clip(path: Path, max_frames: int = MAX_CLIP_FRAMES) -> list[RgbImage]:
    """The first ``max_frames`` frames of a clip (a folder of frames or a video file).

    Raises ``ClipError`` (one line naming the file) when it cannot be read or
    holds no frame.
    """
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise ClipError(f"{path}: no frames (.png, .jpg, ...) in this folder")
        frames = []
        for file in files[:max_frames]:
            try:
                frames.append(read_image_file(file))
            except ImageError as error:
                raise ClipError(str(error)) from None
        return frames
    return list(video_frames(path, max_frames))


def video_frames(path: Path, max_frames: int = MAX_CLIP_FRAMES) -> Iterator[RgbImage]:
    """The first ``max_frames`` frames of a video file, one by one (``ClipError`` if unreadable)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise ClipError(f"{path}: {error.strerror or 'cannot be read'}") from None
    if not stat.S_ISREG(mode):
        raise ClipError(f"{path}: not a regular file or folder of frames")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ClipError(
            f"{path}: not a clip (a folder of frames or a video: "
            f"{', '.join(sorted(VIDEO_SUFFIXES))})"
        )
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ClipError(f"{path}: not a video OpenCV can read")
        count = 0
        while count < max_frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            if frame.ndim != 3 or frame.shape[0] * frame.shape[1] > MAX_VIDEO_PIXELS:
                raise ClipError(f"{path}: frame {count} is not a colour picture of at most 8K")
            count += 1
            yield np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        if count == 0:
            raise ClipError(f"{path}: no frame could be decoded (not a video, or damaged)")
    finally:
        capture.release()


def write_clip(folder: Path, frames: Sequence[RgbImage], quality: int = 92) -> None:
    """Write a clip as ``folder/frame000.jpg``, ... (each file written whole or not at all)."""
    for index, frame in enumerate(frames):
        ok, encoded = cv2.imencode(
            ".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if not ok:
            raise ValueError(f"frame {index} could not be encoded")
        atomic_write(folder / f"frame{index:03d}.jpg", encoded.tobytes())
