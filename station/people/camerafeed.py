"""What the mock camera shows of a passenger: the pictures of their scenario ``face:``.

A gate's camera grabs a window of frames per capture attempt (the gate's
``capture.frames``, ``interval_s`` apart); the mock camera shows one picture
per grab, in order, and goes round them (:class:`hardware.emulators.camera.MockCamera`).
``face_pictures`` makes those pictures from a :class:`FaceSpec`:

* ``photos``: each photo for a whole capture window (``window`` grabs), still
  or, with ``live``, moving as a live face (:mod:`station.people.liveface`);
  with a window of one frame they are exactly the photos, as before windows;
* ``frames``: each entry for its ``repeat`` grabs (nobody in view for ``none``);
* ``video``: the frames of a video file or a folder of frames, one per
  ``interval_s`` of the video (every frame of a folder);
* ``attack``: a print or screen attack made from the photo or video with
  :mod:`egate.biometrics.padclips`, three windows long, from the passenger's
  own random generator (so a scenario's seed replays the same clip); the
  photo, or the video from the first frame its face shows in, is cropped to
  the head and shoulders, as an attacker frames it.

Every picture but a window-of-one photo's is a camera frame of one size
(``CAMERA_FRAME``, 640 x 480): a capture window's frames must be alike, and
``scale`` then says how near the traveller stands (below 1: further away on
the background, above 1: closer, cropped), not how big the picture is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from egate.biometrics.image import RgbImage, read_image_file
from egate.biometrics.landmarks import Landmarks
from hardware.emulators.camera import BACKGROUND_RGB, video_frames
from station.people.liveface import animate
from station.people.passenger_spec import (
    MAX_FACE_FRAMES,
    AttackSpecies,
    FaceSpec,
    Variation,
)

# A gate camera's frame: width, height (VGA, the size of padclips' attack clips).
CAMERA_FRAME = (640, 480)
# Capture windows an attack clip lasts: one per capture attempt the gate makes by default.
ATTACK_WINDOWS = 3
# Shortest attack clip: a passive check wants several frames even in a small window.
MIN_ATTACK_FRAMES = 8

# Frames of a video searched for the face an attacker zooms on.
VIDEO_SEARCH_FRAMES = 30

# Finds the largest face's landmarks in a picture, or None.
FaceFinder = Callable[[RgbImage], Landmarks | None]


def landmark_finder() -> FaceFinder:
    """The largest face's 68 landmarks in a picture (dlib's models, loaded now)."""
    from egate.biometrics.face import FaceModels
    from egate.biometrics.landmarks import LandmarkFinder

    finder = LandmarkFinder(FaceModels())
    return lambda image: finder.locate(image).landmarks


def fit_frame(image: RgbImage, size: tuple[int, int] = CAMERA_FRAME) -> RgbImage:
    """``image`` in a camera frame of ``size`` (width, height): shrunk to fit if larger,
    centred on the plain background."""
    width, height = size
    rows, columns = image.shape[:2]
    factor = min(1.0, width / columns, height / rows)
    if factor < 1.0:
        new_size = (max(1, round(columns * factor)), max(1, round(rows * factor)))
        image = np.asarray(cv2.resize(image, new_size, interpolation=cv2.INTER_AREA))
        rows, columns = image.shape[:2]
    if (columns, rows) == (width, height):
        return np.ascontiguousarray(image, dtype=np.uint8)
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = BACKGROUND_RGB
    top, left = (height - rows) // 2, (width - columns) // 2
    frame[top : top + rows, left : left + columns] = image
    return frame


def in_frame(frame: RgbImage, variation: Variation) -> RgbImage:
    """``frame`` as the camera sees the traveller: nearer or further (``scale``, the frame
    keeping its size), tilted, blurred, darker or brighter, mirrored."""
    out: np.ndarray = frame
    rows, columns = out.shape[:2]
    if variation.scale != 1.0:
        # About the centre: further away shows the scene around, nearer crops it.
        turn = cv2.getRotationMatrix2D((columns / 2, rows / 2), 0.0, variation.scale)
        out = cv2.warpAffine(
            out,
            turn,
            (columns, rows),
            flags=cv2.INTER_AREA if variation.scale < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=BACKGROUND_RGB,
        )
    return altered(out, variation)


def altered(image: RgbImage, variation: Variation) -> RgbImage:
    """``image`` tilted, blurred, darker or brighter and mirrored as ``variation`` says
    (its ``scale`` is the caller's: a frame keeps its size, a photo does not)."""
    out: np.ndarray = image
    if variation.rotate:
        rows, columns = out.shape[:2]
        turn = cv2.getRotationMatrix2D((columns / 2, rows / 2), variation.rotate, 1.0)
        out = cv2.warpAffine(out, turn, (columns, rows), borderMode=cv2.BORDER_REPLICATE)
    if variation.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), variation.blur)
    if variation.brightness != 1.0:
        out = cv2.convertScaleAbs(out, alpha=variation.brightness)
    if variation.mirror:
        out = cv2.flip(out, 1)
    return np.ascontiguousarray(out, dtype=np.uint8)


class FacePictures:
    """Makes the mock camera's pictures of scenario faces; see the module docstring.

    ``window`` and ``interval_s``: the gate's capture window (frames, seconds
    apart); ``finder`` locates a face's landmarks, for live faces and for
    framing an attack's photo as an attacker would (loaded by the caller only
    when a scenario needs it).
    """

    def __init__(
        self,
        window: int,
        interval_s: float,
        finder: Callable[[], FaceFinder] = landmark_finder,
    ) -> None:
        self.window = max(1, window)
        self.interval_s = interval_s
        self._finder_factory = finder
        self._finder: FaceFinder | None = None

    def _find(self, image: RgbImage) -> Landmarks | None:
        if self._finder is None:
            self._finder = self._finder_factory()
        return self._finder(image)

    def pictures(self, face: FaceSpec, rng: np.random.Generator) -> list[RgbImage | None]:
        """The camera's pictures of ``face``, in the order it shows them; ``ValueError`` (one
        line) when a photo or video cannot be read or an attack cannot be made of it."""
        match face.kind:
            case "attack":
                return list(self._attack(face, rng))
            case "video":
                assert face.resolved_video is not None
                step = self._video_step(face.resolved_video)
                frames = video_frames(face.resolved_video, every=step, limit=MAX_FACE_FRAMES)
                return [in_frame(fit_frame(frame), face.variation) for frame in frames]
            case "frames":
                return self._frames(face)
        return self._photos(face)

    def _video_step(self, path: Path) -> int:
        """Video frames per grab: one each ``interval_s`` of the video (all of a folder)."""
        if path.is_dir():
            return 1
        capture = cv2.VideoCapture(str(path))
        try:
            fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        finally:
            capture.release()
        if not 0 < fps < 1000:
            return 1
        return max(1, round(fps * self.interval_s))

    def _photos(self, face: FaceSpec) -> list[RgbImage | None]:
        pictures: list[RgbImage | None] = []
        for path in face.resolved:
            frame = fit_frame(read_image_file(path))
            if face.live:
                moving = animate(frame, self._find(frame), self.window, self.window)
                pictures.extend(in_frame(picture, face.variation) for picture in moving)
            else:
                pictures.extend([in_frame(frame, face.variation)] * self.window)
        return pictures

    def _frames(self, face: FaceSpec) -> list[RgbImage | None]:
        pictures: list[RgbImage | None] = []
        for entry in face.frames:
            if entry.resolved is None:
                pictures.extend([None] * entry.repeat)
                continue
            frame = fit_frame(read_image_file(entry.resolved))
            if entry.live:
                moving = animate(frame, self._find(frame), entry.repeat, self.window)
            else:
                moving = [frame] * entry.repeat
            own = entry.variation
            pictures.extend(in_frame(in_frame(p, own), face.variation) for p in moving)
        return pictures

    def _box(self, image: RgbImage) -> tuple[int, int, int, int] | None:
        """The largest face's box (left, top, right, bottom) in ``image``, or None."""
        found = self._find(image)
        if found is None:
            return None
        box = found.box
        return box.left, box.top, box.right, box.bottom

    def _attack(self, face: FaceSpec, rng: np.random.Generator) -> list[RgbImage]:
        from egate.biometrics import padclips  # numpy-heavy clip making: only for attacks

        count = max(MIN_ATTACK_FRAMES, ATTACK_WINDOWS * self.window)
        if face.video is not None:
            assert face.resolved_video is not None
            step = self._video_step(face.resolved_video)
            frames = video_frames(face.resolved_video, every=step, limit=MAX_FACE_FRAMES)
            # The attacker starts the video where the face shows and zooms the player on
            # it: the head and shoulders where it is first found, every frame cut alike.
            found = next(
                (
                    (index, box)
                    for index, frame in enumerate(frames[:VIDEO_SEARCH_FRAMES])
                    if (box := self._box(frame)) is not None
                ),
                None,
            )
            if found is not None:
                start, box = found
                crop_seed = int(rng.integers(2**32))  # one crop size for the whole video
                frames = [
                    padclips.portrait_crop(frame, box, np.random.default_rng(crop_seed))
                    for frame in frames[start:]
                ]
            shown: RgbImage | list[RgbImage] = frames
        else:
            photo = read_image_file(face.resolved[0])
            # An attacker prints or shows the head and shoulders, not a whole group photo.
            box = self._box(photo)
            if box is not None:
                photo = padclips.portrait_crop(photo, box, rng)
            shown = photo
        if face.attack is AttackSpecies.PRINT:
            assert isinstance(shown, np.ndarray)
            clip = padclips.print_attack(shown, count, rng, size=CAMERA_FRAME)
        else:
            clip = padclips.screen_attack(shown, count, rng, size=CAMERA_FRAME)
        return [in_frame(frame, face.variation) for frame in clip]
