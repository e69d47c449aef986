"""``egate biometrics pad-eval`` and ``pad-clips``: presentation-attack figures and test clips.

Registered in the ``biometrics`` group (egate/cli/biometrics.py).  The work
is done in egate.biometrics.pad, padclips and padeval; this module reads the
folders, shows the tables and writes the files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from egate.biometrics.face import FaceBox
from egate.biometrics.image import ImageError, RgbImage, find_images, read_image_file
from egate.biometrics.landmarks import LandmarkFinder, largest
from egate.biometrics.pad import LivenessSettings, PassiveLivenessDetector
from egate.biometrics.padclips import (
    MAX_CLIP_FRAMES,
    ClipError,
    portrait_crop,
    print_attack,
    read_clip,
    screen_attack,
    video_frames,
    write_clip,
)
from egate.biometrics.padeval import (
    ATTACK,
    BONA_FIDE,
    DEFAULT_TARGET_BPCER,
    MANIFEST,
    PadDataError,
    Scored,
    find_presentations,
    scores_csv,
    summarise_pad,
)
from egate.cli.errors import EXIT_OK, InputError
from egate.cli.faceinput import FiniteRange, load_models
from egate.cli.progress import progress_bar
from egate.outputs import atomic_write
from egate.samples import installed_samples

# Species names pad-clips writes.
PRINT, SCREEN_PHOTO, SCREEN_VIDEO = "print", "screen_photo", "screen_video"
# Most video frames pad-clips reads: 5 minutes at 30 frames a second.
MAX_VIDEO_FRAMES = 9000
# Faces in the photos attacked are searched at this size (small faces too).
SEARCH_LONG_SIDE = 640


def _percent(value: object) -> str:
    return "-" if value is None else f"{float(str(value)):.1%}"


def _rate_text(rate: dict[str, Any]) -> str:
    """``1.4% (1/69)``: the rate and its counts (``-`` without samples)."""
    if rate["rate"] is None:
        return "-"
    return f"{_percent(rate['rate'])} ({rate['errors']}/{rate['presentations']})"


def _interval_text(rate: dict[str, Any]) -> str:
    if rate["ci95"] is None:
        return "-"
    low, high = rate["ci95"]
    return f"{low * 100:.1f}-{high * 100:.1f}%"


@click.command(name="pad-eval")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--frames",
    type=click.IntRange(2, MAX_CLIP_FRAMES),
    default=10,
    show_default=True,
    help="Frames of each clip (from its start) that form the capture window.",
)
@click.option(
    "--threshold",
    type=FiniteRange(0, 1, min_open=True),
    help=f"Score at or above which a clip is an attack [default: {LivenessSettings().threshold}].",
)
@click.option(
    "--target-bpcer",
    type=FiniteRange(0, 1, min_open=True, max_open=True),
    default=DEFAULT_TARGET_BPCER,
    show_default=True,
    help="BPCER at which the APCER is also reported.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write scores.csv and summary.json here.",
)
def pad_eval(
    directory: Path,
    frames: int,
    threshold: float | None,
    target_bpcer: float,
    as_json: bool,
    out_dir: Path | None,
) -> int:
    """Measure presentation-attack detection: APCER, BPCER (ISO/IEC 30107-3 terms).

    DIRECTORY holds one presentation per clip, a clip being a folder of
    frames (PNG, JPEG, ...; natural order) or a video file:

    \b
      DIRECTORY/bona_fide/<clip>          live people
      DIRECTORY/attack/<species>/<clip>   attacks, one folder per species
                                          (print, screen_photo, ...)

    Reports APCER per species (attacks accepted as bona fide), the highest
    of them, BPCER (bona fide refused) and each species' APCER with the
    threshold moved to where the BPCER reaches --target-bpcer on these bona
    fide clips, all with counts and 95 % Wilson intervals. Clips with too
    few frames showing a face are non-responses, counted apart. `egate
    biometrics pad-clips` writes such a folder.

    Exit status: 0 evaluated; 2 bad input (the folder is not laid out so, a
    clip cannot be read: the message names it).
    """
    try:
        presentations = find_presentations(directory)
    except PadDataError as error:
        raise InputError(str(error)) from None
    settings = LivenessSettings() if threshold is None else LivenessSettings(threshold=threshold)
    detector = PassiveLivenessDetector(load_models(), settings)
    scored: list[Scored] = []
    with progress_bar(len(presentations), "scoring clips") as advance:
        for presentation in presentations:
            try:
                clip = read_clip(presentation.path, max_frames=frames)
            except ClipError as error:
                raise InputError(str(error)) from None
            result = detector.check(clip)
            responded = result.frames_used >= settings.min_frames
            scored.append(
                Scored(presentation, result.score if responded else None, result.decision)
            )
            advance()
    summary = summarise_pad(scored, settings.threshold, target_bpcer)
    summary = {"frames_per_clip": frames, **summary}
    if out_dir is not None:
        atomic_write(out_dir / "scores.csv", scores_csv(scored, directory))
        atomic_write(out_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    if as_json:
        click.echo(json.dumps(summary))
    else:
        show_pad_summary(summary)
    return EXIT_OK


def show_pad_summary(summary: dict[str, Any]) -> None:
    """The PAD evaluation as a table on the terminal."""
    console = Console(highlight=False)
    target = summary["target_bpcer"]
    table = Table(
        title=f"Presentation-attack detection (ISO/IEC 30107-3), threshold {summary['threshold']}"
    )
    at = f"at BPCER {target['target']:.0%}"
    for column in ("class", "clips", "no resp.", "error rate", "95 % CI", at):
        table.add_column(column, justify="left" if column == "class" else "right")
    bona = summary["bona_fide"]
    rows: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None]] = [
        ("bona fide", bona, bona["bpcer"], target["bpcer"])
    ]
    for name, entry in summary["attacks"].items():
        rows.append((name, entry, entry["apcer"], entry.get("apcer_at_target_bpcer")))
    for label, entry, rate, there in rows:
        table.add_row(
            label,
            str(entry["clips"]),
            str(entry["non_responses"]),
            _rate_text(rate),
            _interval_text(rate),
            "-" if there is None else _rate_text(there),
        )
    table.caption = "error rate: BPCER for bona fide clips, APCER for each attack species"
    console.print(table)
    threshold = target["threshold"]
    console.print(
        f"APCER (worst species): {_percent(summary['apcer_max'])}; at BPCER "
        f"{target['target']:.0%} (threshold {'-' if threshold is None else f'{threshold:.4f}'}):"
        f" {_percent(target['apcer_max'])}"
        + ("" if target["measurable"] else " (that BPCER is not measurable here, see note)")
    )
    for note in summary["notes"]:
        console.print(f"note: {note}")


# --- pad-clips ---------------------------------------------------------------------------


def _photo_paths(photos_dir: Path | None) -> list[Path]:
    if photos_dir is not None:
        found = find_images(photos_dir)
        if not found:
            raise InputError(f"{photos_dir}: no images (.jpg, .png, ...) in it")
        return found
    samples = installed_samples()
    if samples is None:
        raise InputError("no photos: pass --photos DIR, or run `egate samples fetch` first")
    return samples.images()


def _box_tuple(box: FaceBox) -> tuple[int, int, int, int]:
    return box.left, box.top, box.right, box.bottom


def _union(boxes: list[FaceBox]) -> tuple[int, int, int, int]:
    return (
        min(b.left for b in boxes),
        min(b.top for b in boxes),
        max(b.right for b in boxes),
        max(b.bottom for b in boxes),
    )


def _video_windows(
    path: Path, finder: LandmarkFinder, frames: int, stride: int
) -> Iterator[tuple[int, list[RgbImage], list[FaceBox]]]:
    """(first frame's index, frames, face boxes) of each window with a face in every frame."""
    window: list[RgbImage] = []
    boxes: list[FaceBox] = []
    start = 0
    near: FaceBox | None = None
    try:
        for index, frame in enumerate(video_frames(path, MAX_VIDEO_FRAMES)):
            if index % stride:
                continue
            if not window:
                start = index
            # Only where the face is: its landmarks are not needed here.
            found = finder.detect(frame, near=near).boxes
            near = largest(found) if found else None
            if near is None:  # a face is missing: this window is not a clean presentation
                window, boxes = [], []
                continue
            window.append(frame)
            boxes.append(near)
            if len(window) == frames:
                yield start, window, boxes
                window, boxes = [], []
    except ClipError as error:
        raise InputError(str(error)) from None


def _staging_for(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: exists and is not an empty folder (pad-clips writes a new one)")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))


@click.command(name="pad-clips")
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--photos",
    "photos_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder of photos to attack with (searched recursively). Default: the fetched samples.",
)
@click.option(
    "--video",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Video of live people: bona fide clips and screen replays are cut from it.",
)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option(
    "--frames", type=click.IntRange(2, 100), default=10, show_default=True, help="Frames a clip."
)
@click.option(
    "--stride",
    type=click.IntRange(1, 30),
    default=2,
    show_default=True,
    help="Take every N-th video frame (2 at 30 frames a second: a 10-frame clip spans 0.67 s).",
)
@click.option(
    "--per-photo",
    type=click.IntRange(1, 50),
    default=2,
    show_default=True,
    help="Print and screen attacks made from each photo.",
)
def pad_clips(
    out: Path,
    photos_dir: Path | None,
    video: Path | None,
    seed: int,
    frames: int,
    stride: int,
    per_photo: int,
) -> int:
    """Write a folder of bona fide and attack clips that `pad-eval` reads.

    From each photo with a face (the fetched sample photos by default):
    --per-photo print attacks (the head-and-shoulders crop printed, held up
    and turned with perspective in front of a background) and as many
    screen attacks (shown on a simulated tablet). From --video: bona fide
    clips (non-overlapping windows of --frames frames, every --stride-th
    frame, with a face in each) and a screen replay of each. Everything
    comes from --seed: the same seed gives the same clips.

    \b
      OUT/bona_fide/video-<name>-<frame>/frame000.jpg ...
      OUT/attack/print/<photo>-<n>/frame000.jpg ...
      OUT/attack/screen_photo/<photo>-<n>/ ...
      OUT/attack/screen_video/video-<name>-<frame>/ ...
      OUT/manifest.json   seed, settings, counts, photos skipped and why

    OUT must not exist or be empty; it is written under a temporary name and
    renamed when complete. Exit status: 0 written; 2 bad input (OUT not
    empty, an unreadable photo or video: the message names it, nothing to
    make clips from).
    """
    rng = np.random.default_rng(seed)
    paths = _photo_paths(photos_dir)
    if video is not None:
        try:  # an unreadable video is refused before any clip is made
            next(iter(video_frames(video, 1)), None)
        except ClipError as error:
            raise InputError(str(error)) from None
    staging = _staging_for(out)
    try:
        manifest = _make_clips(staging, paths, video, rng, frames, stride, per_photo)
        manifest = {"seed": seed, **manifest}
        atomic_write(staging / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        if out.exists():
            out.rmdir()
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    console = Console(highlight=False)
    table = Table(title=f"PAD clips in {out} (seed {seed})")
    table.add_column("class")
    table.add_column("clips", justify="right")
    for name, count in manifest["clips"].items():
        table.add_row(name, str(count))
    console.print(table)
    for name, reason in manifest["skipped_photos"].items():
        console.print(f"skipped {name}: {reason}")
    return EXIT_OK


def _make_clips(
    root: Path,
    paths: list[Path],
    video: Path | None,
    rng: np.random.Generator,
    frames: int,
    stride: int,
    per_photo: int,
) -> dict[str, Any]:
    models = load_models()
    finder = LandmarkFinder(models, detection_long_side=SEARCH_LONG_SIDE)
    # Bona fide windows are those in which the PAD stage itself finds a face in every frame.
    detector_view = LandmarkFinder(
        models, detection_long_side=LivenessSettings().detection_long_side
    )
    counts = {BONA_FIDE: 0, PRINT: 0, SCREEN_PHOTO: 0, SCREEN_VIDEO: 0}
    skipped: dict[str, str] = {}
    with progress_bar(len(paths), "attacks from photos") as advance:
        for path in paths:
            try:
                image = read_image_file(path)
            except ImageError as error:
                raise InputError(str(error)) from None
            location = finder.locate(image)
            advance()
            if location.landmarks is None:
                skipped[path.name] = "no face found"
                continue
            for number in range(per_photo):
                crop = portrait_crop(image, _box_tuple(location.landmarks.box), rng)
                name = f"{path.stem}-{number}"
                write_clip(root / ATTACK / PRINT / name, print_attack(crop, frames, rng))
                write_clip(root / ATTACK / SCREEN_PHOTO / name, screen_attack(crop, frames, rng))
                counts[PRINT] += 1
                counts[SCREEN_PHOTO] += 1
    if video is not None:
        with progress_bar(1, f"clips from {video.name}") as advance:
            for start, window, boxes in _video_windows(video, detector_view, frames, stride):
                name = f"video-{video.stem}-{start}"
                write_clip(root / BONA_FIDE / name, window)
                # The attacker replays the same moments, zoomed on the face.
                framing = int(rng.integers(2**63))  # one framing for the whole replay
                # The union of the window's face boxes, so the face stays on the screen.
                crops = [
                    portrait_crop(f, _union(boxes), np.random.default_rng(framing), (1.5, 2.0))
                    for f in window
                ]
                write_clip(root / ATTACK / SCREEN_VIDEO / name, screen_attack(crops, frames, rng))
                counts[BONA_FIDE] += 1
                counts[SCREEN_VIDEO] += 1
            advance()
    if not any(counts.values()):
        raise InputError("nothing to make clips from: no photo with a face and no usable video")
    return {
        "frames": frames,
        "stride": stride,
        "per_photo": per_photo,
        "video": None if video is None else video.name,
        "clips": counts,
        "skipped_photos": skipped,
    }
