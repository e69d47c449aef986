"""``egate biometrics quality``: the face image quality of photos, measure by measure."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from egate.biometrics.facequality import FaceQuality, assess
from egate.biometrics.landmarks import LandmarkFinder
from egate.cli.errors import EXIT_FAILURE, EXIT_OK

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


@click.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON array.")
def quality(photos: tuple[Path, ...], as_json: bool) -> int:
    """Measure the face image quality of each PHOTO (ISO/IEC 29794-5 measures).

    For the largest face in each photo: inter-eye distance, head pose, eyes
    open and visible, mouth closed, exposure, dynamic range, illumination
    uniformity, sharpness, size and position, each with its 0-100 component
    score; a combined score; the capture instruction a gate would give; and
    the requirements not met.

    Exit status: 0 every photo has exactly one face and meets every
    requirement; 1 some photo has no face, several faces, or a requirement
    not met; 2 a file cannot be read as an image (nothing is printed then).
    """
    # Imported here: egate.cli.biometrics registers this command.
    from egate.cli import biometrics as biometrics_cli

    finder = LandmarkFinder(biometrics_cli.load_models())
    results = []
    for photo in photos:
        pixels = biometrics_cli.read_image(photo)
        location = finder.locate(pixels)
        measured = None if location.landmarks is None else assess(pixels, location.landmarks)
        results.append(PhotoQuality(photo, len(location.boxes), measured))
    if as_json:
        click.echo(json.dumps([result.to_json() for result in results]))
    else:
        console = Console(highlight=False)
        for result in results:
            show(console, result)
    return EXIT_OK if all(result.passed for result in results) else EXIT_FAILURE


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
