"""Scoring the frames of a capture window cheaply, to verify the best of them.

A gate's camera delivers frames while the traveller walks up; only the best
one or few are worth a face descriptor (~10 ms each).  Scoring must cost far
less than that, so it is done cheaply first:

* the first frame (and any frame where the face was lost) is searched whole,
  on a grey copy reduced to ``detection_long_side`` pixels (640: faces from
  about 160 px high in a 720p frame);
* every later frame is searched only near where the face is expected (its
  last box moved on as it moved between the last two frames), on a region
  scaled so that face is ``tracking_face_px`` across, just above the 80-pixel
  window of dlib's HOG detector (``LandmarkFinder.locate(near=...)``), then
  on a wider region; a frame where it is not found there is not searched
  whole until the face has been missing ``patience`` frames in a row;
* the 68 landmarks are fitted at full resolution, and the quality measures
  (``egate.biometrics.facequality``) read them and the face's pixels.

Limit: a tracked frame searches only the region around the face it follows,
so its ``faces`` counts the faces there; a second person elsewhere in the
frame is seen on the next whole-frame search (the first frame of a window,
or after the face is lost).  Once a frame holds several faces, the frames
after it are searched whole until a single face is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from egate.biometrics.face import FaceBox, FaceModels
from egate.biometrics.facequality import FaceQuality, QualityLimits, assess
from egate.biometrics.guidance import CaptureGuidance
from egate.biometrics.image import RgbImage
from egate.biometrics.landmarks import FaceLocation, LandmarkFinder, Landmarks, largest


@dataclass(frozen=True, slots=True)
class FrameScore:
    """One frame: how many faces, and the largest face's landmarks and quality (None without)."""

    index: int
    quality: FaceQuality | None
    faces: int
    landmarks: Landmarks | None
    # Found near the previous frame's face (only that region was searched).
    tracked: bool = False

    @property
    def usable(self) -> bool:
        """One face, measured: a candidate for verification."""
        return self.faces == 1 and self.quality is not None

    @property
    def box(self) -> FaceBox | None:
        """The largest face's box, to track it into the next frame."""
        return None if self.landmarks is None else self.landmarks.box

    def to_json(self) -> dict[str, Any]:
        """The frame's score without any face geometry (privacy: no landmarks, no box)."""
        return {
            "index": self.index,
            "faces": self.faces,
            "tracked": self.tracked,
            "quality": None if self.quality is None else self.quality.to_json(),
        }


@dataclass(frozen=True, slots=True)
class WindowScore:
    """Every frame of a capture window, scored."""

    frames: tuple[FrameScore, ...]

    def best(self, n: int = 1) -> list[int]:
        """Indices of the ``n`` best single-face frames, best first (earlier on a tie)."""
        usable = [frame for frame in self.frames if frame.usable and frame.quality is not None]
        ranked = sorted(
            usable, key=lambda frame: (-frame.quality.score if frame.quality else 0.0, frame.index)
        )
        return [frame.index for frame in ranked[: max(0, n)]]

    @property
    def guidance(self) -> CaptureGuidance | None:
        """What to tell the traveller, or None when some single-face frame needs no advice.

        With no single-face frame at all: ``LOOK_AT_CAMERA``; otherwise the
        advice for the best frame (what stands between it and a good capture).
        """
        best = self.best(len(self.frames))
        if not best:
            return CaptureGuidance.LOOK_AT_CAMERA
        by_index = {frame.index: frame for frame in self.frames}
        qualities = [by_index[index].quality for index in best]
        if any(quality is not None and quality.guidance is None for quality in qualities):
            return None
        first = qualities[0]
        return None if first is None else first.guidance

    def to_json(self) -> dict[str, Any]:
        """The window as a JSON object (no face geometry)."""
        guidance = self.guidance
        return {
            "frames": [frame.to_json() for frame in self.frames],
            "best": self.best(len(self.frames)),
            "guidance": None if guidance is None else guidance.value,
        }


class CaptureScorer:
    """Scores capture frames: faces found cheaply and tracked, then measured for quality.

    ``patience``: how many frames in a row the tracked face may be missing
    (a blink of motion blur, a head turned for a moment) before the whole
    frame is searched again; until then only around its last place.
    """

    def __init__(
        self,
        models: FaceModels,
        *,
        detection_long_side: int = 640,
        retry_upsampled: bool = False,
        tracking_face_px: int = 84,
        grey_detection: bool = True,
        patience: int = 1,
        limits: QualityLimits | None = None,
    ) -> None:
        self._finder = LandmarkFinder(
            models,
            detection_long_side=detection_long_side,
            retry_upsampled=retry_upsampled,
            tracking_face_px=tracking_face_px,
            grey_detection=grey_detection,
        )
        self.patience = patience
        self.limits = limits or QualityLimits()

    def score_frame(
        self,
        frame: RgbImage,
        near: FaceBox | None = None,
        *,
        index: int = 0,
        search_whole: bool = True,
    ) -> FrameScore:
        """Score one frame.

        ``near``: where the face is expected (the previous frame's box, or
        better its prediction, see ``predict``), searched first; then the
        whole frame unless ``search_whole`` is false.
        """
        location = self._finder.locate(frame, near=near, search_whole=search_whole)
        landmarks = location.landmarks
        if landmarks is None:
            return FrameScore(index, None, 0, None)
        quality = assess(frame, landmarks, self.limits)
        return FrameScore(index, quality, len(location.boxes), landmarks, location.tracked)

    def score(self, frames: Sequence[RgbImage]) -> WindowScore:
        """Score a window of frames, tracking the face from each frame to the next.

        Faces are found in every frame first, then the landmarks of all the
        frames fitted together: the shape model (65 MB) is read once for the
        window rather than once a frame.
        """
        found: list[FaceLocation] = []
        last: FaceBox | None = None
        before: FaceBox | None = None  # the box of the frame before ``last``'s, if consecutive
        missed = 0
        for frame in frames:
            near = None if last is None else predict(last, before)
            location = self._finder.detect(
                frame, near=near, search_whole=near is None or missed >= self.patience
            )
            if not location.boxes:
                missed += 1
                before = None
            elif len(location.boxes) > 1:
                # Several people: search every frame whole until one is left, so a
                # second face is never hidden by tracking only the first.
                last, before, missed = None, None, 0
            else:
                missed = 0
                consecutive = len(found) > 0 and len(found[-1].boxes) == 1
                before = last if consecutive else None
                last = location.boxes[0]
            found.append(location)
        fitted = self._finder.fit_many(
            frames, [largest(location.boxes) if location.boxes else None for location in found]
        )
        return WindowScore(
            tuple(
                FrameScore(index, None, 0, None)
                if landmarks is None
                else FrameScore(
                    index,
                    assess(frame, landmarks, self.limits),
                    len(location.boxes),
                    landmarks,
                    location.tracked,
                )
                for index, (frame, location, landmarks) in enumerate(
                    zip(frames, found, fitted, strict=True)
                )
            )
        )


def predict(last: FaceBox, before: FaceBox | None) -> FaceBox:
    """Where a face is likely in the next frame: moved again as it moved from ``before``."""
    if before is None:
        return last
    dx = (last.left + last.right - before.left - before.right) // 2
    dy = (last.top + last.bottom - before.top - before.bottom) // 2
    return FaceBox(last.left + dx, last.top + dy, last.right + dx, last.bottom + dy)
