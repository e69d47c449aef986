"""``egate biometrics quality``: the face image quality of photos and videos, measure by measure."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from egate.biometrics.capturewindow import CaptureScorer, FrameScore, WindowScore
from egate.biometrics.facequality import FaceQuality, assess
from egate.biometrics.image import RgbImage
from egate.biometrics.landmarks import LandmarkFinder
from egate.biometrics.padclips import VIDEO_SUFFIXES, ClipError, video_frames
from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.cli.faceinput import load_models, read_image

# Most frames read from one video: a minute at 30 frames a second.
MAX_VIDEO_FRAMES = 1800

# How each measure is shown: its label, format and unit.
_SHOWN: dict[str, tuple[str, str, str]] = {
    "inter_eye_distance_px": ("inter-eye distance", "{:.0f}", "px"),
    "yaw_deg": ("yaw", "{:+.1f}", "deg"),
    "pitch_deg": ("pitch", "{:+.1f}", "deg"),
    "roll_deg": ("roll", "{:+.1f}", "deg"),
    "eyes_open": ("eyes open", "{:.2f}", "eye aspect ratio"),
    "eyes_visible": ("eyes visible", "{:.2f}", "eye/face contrast"),
    "mouth_closed": ("mouth closed", "{:.2f}", "lip gap / width"),
    "exposure": ("exposure", "{:.0f}", "mean grey of 255"),
    "under_exposed": ("under-exposed", "{:.1%}", "of the face"),
    "over_exposed": ("over-exposed", "{:.1%}", "of the face"),
    "dynamic_range": ("dynamic range", "{:.0f}", "grey levels"),
    "illumination_uniformity": ("illumination uniformity", "{:.2f}", "dark/bright half"),
    "sharpness": ("sharpness", "{:.0f}", "Laplacian variance"),
    "face_size": ("face size", "{:.2f}", "of frame height"),
    "face_inside": ("face inside", "{:.0%}", "of the face"),
    "face_offset": ("face offset", "{:.2f}", "from centre (0-1)"),
}
# The component score shown beside each measure.
_COMPONENT = {
    "inter_eye_distance_px": "inter_eye_distance",
    "yaw_deg": "yaw",
    "pitch_deg": "pitch",
    "roll_deg": "roll",
    "eyes_open": "eyes_open",
    "eyes_visible": "eyes_visible",
    "mouth_closed": "mouth_closed",
    "exposure": "exposure",
    "dynamic_range": "dynamic_range",
    "illumination_uniformity": "illumination_uniformity",
    "sharpness": "sharpness",
    "face_size": "face_size",
    "face_inside": "face_position",
}


@dataclass(frozen=True, slots=True)
class PhotoQuality:
    """One photo's outcome: how many faces, and the largest one's quality."""

    photo: Path
    faces: int
    quality: FaceQuality | None

    @property
    def passed(self) -> bool:
        """Exactly one face, and no requirement unmet."""
        return self.faces == 1 and self.quality is not None and not self.quality.problems

    def to_json(self) -> dict[str, Any]:
        """The photo's name, face count and quality (no face geometry)."""
        quality = None if self.quality is None else self.quality.to_json()
        return {"photo": str(self.photo), "faces": self.faces, "quality": quality}


@dataclass(frozen=True, slots=True)
class WindowQuality:
    """One capture window of a video: which frames, and how the best of them scored."""

    first_frame: int
    last_frame: int
    score: WindowScore
    # The video's frame number of each scored frame.
    frame_numbers: tuple[int, ...]

    @property
    def best(self) -> FrameScore | None:
        """The best single-face frame, or None."""
        best = self.score.best()
        return self.score.frames[best[0]] if best else None

    @property
    def passed(self) -> bool:
        """Some single-face frame meets every requirement."""
        return any(
            frame.usable and frame.quality is not None and not frame.quality.problems
            for frame in self.score.frames
        )

    def to_json(self) -> dict[str, Any]:
        """The window's frames, best frame and guidance (no face geometry)."""
        best = self.best
        measured = None if best is None else best.quality
        guidance = self.score.guidance
        return {
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "frames": len(self.score.frames),
            "single_face_frames": sum(frame.usable for frame in self.score.frames),
            "best_frame": None if best is None else self.frame_numbers[best.index],
            "best_score": None if measured is None else round(measured.score, 1),
            "guidance": None if guidance is None else guidance.value,
            "best_problems": [] if measured is None else list(measured.problems),
        }


@dataclass(frozen=True, slots=True)
class VideoQuality:
    """A video scored as consecutive capture windows."""

    video: Path
    windows: tuple[WindowQuality, ...]

    @property
    def passed(self) -> bool:
        """Some window has a frame that meets every requirement."""
        return any(window.passed for window in self.windows)

    def to_json(self) -> dict[str, Any]:
        """The video's name and its windows."""
        return {"video": str(self.video), "windows": [w.to_json() for w in self.windows]}


def score_video(path: Path, scorer: CaptureScorer, window: int, stride: int) -> VideoQuality:
    """Every ``stride``-th frame of a video, scored ``window`` frames at a time."""
    windows: list[WindowQuality] = []
    frames: list[RgbImage] = []
    numbers: list[int] = []

    def close() -> None:
        windows.append(WindowQuality(numbers[0], numbers[-1], scorer.score(frames), tuple(numbers)))

    try:
        for number, frame in enumerate(video_frames(path, MAX_VIDEO_FRAMES)):
            if number % stride:
                continue
            frames.append(frame)
            numbers.append(number)
            if len(frames) == window:
                close()
                frames, numbers = [], []
    except ClipError as error:
        raise InputError(str(error)) from None
    if frames:
        close()
    return VideoQuality(path, tuple(windows))


@click.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON array.")
@click.option(
    "--window",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Frames of a video per capture window.",
)
@click.option(
    "--stride",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Score every STRIDE-th frame of a video (3: 10 frames a second from 30).",
)
def quality(photos: tuple[Path, ...], as_json: bool, window: int, stride: int) -> int:
    """Measure the face image quality of each PHOTO (ISO/IEC 29794-5 measures).

    For the largest face in each photo: inter-eye distance, head pose, eyes
    open and visible, mouth closed, exposure, dynamic range, illumination
    uniformity, sharpness, size and position, each with its 0-100 component
    score; a combined score; the capture instruction a gate would give; and
    the requirements not met.

    A video file (.mp4, .avi, .mov, .mkv, .webm, ...) is scored as a gate's
    camera stream: every STRIDE-th frame, WINDOW frames at a time (at most
    1800 frames read), each window giving its best frame, that frame's score
    and problems, and the instruction for the traveller.

    Exit status: 0 every photo has exactly one face and meets every
    requirement (every video has a frame that does); 1 otherwise (no face,
    several faces, a requirement not met); 2 a file cannot be read as an
    image or video (nothing is printed then).
    """
    models = load_models()
    finder = LandmarkFinder(models)
    scorer = CaptureScorer(models)
    results: list[PhotoQuality | VideoQuality] = []
    for photo in photos:
        if photo.suffix.lower() in VIDEO_SUFFIXES:
            results.append(score_video(photo, scorer, window, stride))
            continue
        pixels = read_image(photo)
        location = finder.locate(pixels)
        measured = None if location.landmarks is None else assess(pixels, location.landmarks)
        results.append(PhotoQuality(photo, len(location.boxes), measured))
    if as_json:
        click.echo(json.dumps([result.to_json() for result in results]))
    else:
        console = Console(highlight=False)
        for result in results:
            if isinstance(result, VideoQuality):
                show_video(console, result)
            else:
                show(console, result)
    return EXIT_OK if all(result.passed for result in results) else EXIT_FAILURE


def show_video(console: Console, result: VideoQuality) -> None:
    """A video's capture windows as a table."""
    table = Table(title=f"{result.video.name}: {len(result.windows)} capture windows")
    for column in (
        "frames",
        "one face",
        "best frame",
        "score",
        "guidance",
        "best frame's problems",
    ):
        table.add_column(column)
    for window in result.windows:
        best = window.best
        measured = None if best is None else best.quality
        table.add_row(
            f"{window.first_frame}-{window.last_frame}",
            f"{sum(frame.usable for frame in window.score.frames)}/{len(window.score.frames)}",
            "-" if best is None else str(window.frame_numbers[best.index]),
            "-" if measured is None else f"{measured.score:.0f}",
            "-" if window.score.guidance is None else window.score.guidance.value,
            "-" if measured is None else "; ".join(measured.problems) or "-",
        )
    console.print(table)


def show(console: Console, result: PhotoQuality) -> None:
    """One photo's measures as a table, or the line saying it has no face."""
    if result.quality is None:
        console.print(f"{result.photo.name}: no face found")
        return
    measured = result.quality
    title = f"{result.photo.name}: quality {measured.score:.0f}/100"
    if result.faces > 1:
        title += f" (largest of {result.faces} faces)"
    table = Table(title=title)
    table.add_column("measure", style="bold")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("score", justify="right")
    for name, value in measured.measures.items():
        label, form, unit = _SHOWN[name]
        component = _COMPONENT.get(name)
        score = "" if component is None else f"{measured.components[component]:.0f}"
        table.add_row(label, "-" if not math.isfinite(value) else form.format(value), unit, score)
    guidance = measured.guidance
    table.add_row("guidance", "-" if guidance is None else guidance.value, "", "")
    console.print(table)
    if result.faces > 1:
        console.print(f"  problem: {result.faces} faces in the photo")
    for problem in measured.problems:
        console.print(f"  problem: {problem}")
