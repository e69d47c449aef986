"""What scoring a capture window costs: egate's CaptureScorer against a naive baseline.

Usage: ``python benchmarks/capture_scoring.py [--rounds N] [--json]``

The window is 10 frames at 1280 x 720: frames 90, 93, ..., 117 of
``../shared/faces/video/short_hamilton_clip.mp4`` (a face in every one, at
10 frames a second), scaled and padded to 720p, when that folder is present;
otherwise matplotlib's grace_hopper portrait placed in a grey 720p frame,
moved a few pixels from frame to frame.

* egate: ``CaptureScorer.score``: the first frame searched whole on a grey
  copy reduced to 640 px, the others near the previous face on a region
  scaled so the face is ~84 px, the 68 landmarks of all frames fitted
  together at full resolution (egate.biometrics.shapefitter), quality
  measures;
* naive: every frame searched whole at full resolution by dlib's HOG
  detector (no upsampling), 68 landmarks of the largest face by dlib's own
  shape predictor (one face at a time), the same quality measures.

CPU time (``time.process_time``) of each path per window, the median and
the best of ``--rounds`` windows (after one warm-up), both paths in the same
run, with the load average: on a shared machine other processes inflate CPU
time too (shared caches and cores), so the best round is the closer to an
idle machine's figure.  Also how many frames each path found a face in, and
the best frames each picks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from egate.biometrics.capturewindow import CaptureScorer, FrameScore, WindowScore
from egate.biometrics.face import FaceBox, FaceModels
from egate.biometrics.facequality import assess
from egate.biometrics.image import RgbImage, read_image_file
from egate.biometrics.landmarks import Landmarks
from egate.samples import grace_hopper

VIDEO = Path(__file__).resolve().parent.parent.parent / "shared/faces/video/short_hamilton_clip.mp4"
WIDTH, HEIGHT = 1280, 720
FRAMES = 10
FIRST_FRAME, STEP = 90, 3


def _letterbox(frame: RgbImage) -> RgbImage:
    """``frame`` scaled to fit 1280 x 720 and padded with black."""
    height, width = frame.shape[:2]
    scale = min(WIDTH / width, HEIGHT / height)
    size = (round(width * scale), round(height * scale))
    scaled = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    top, left = (HEIGHT - size[1]) // 2, (WIDTH - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = scaled
    return canvas


def video_frames(path: Path) -> list[RgbImage]:
    """Frames FIRST_FRAME, +STEP, ... of the video, at 720p."""
    capture = cv2.VideoCapture(str(path))
    frames: list[RgbImage] = []
    index = 0
    while len(frames) < FRAMES:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= FIRST_FRAME and (index - FIRST_FRAME) % STEP == 0:
            frames.append(_letterbox(np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), np.uint8)))
        index += 1
    capture.release()
    return frames


def photo_frames(photo: RgbImage) -> list[RgbImage]:
    """The photo in a grey 720p frame, moved a few pixels each frame."""
    frames = []
    height, width = photo.shape[:2]
    for k in range(FRAMES):
        canvas = np.full((HEIGHT, WIDTH, 3), 96, np.uint8)
        left, top = (WIDTH - width) // 2 + 6 * k - 30, (HEIGHT - height) // 2 + 3 * (k % 4)
        canvas[top : top + height, left : left + width] = photo
        frames.append(canvas)
    return frames


def window() -> tuple[str, list[RgbImage]]:
    """The benchmark's frames and where they come from."""
    if VIDEO.is_file():
        frames = video_frames(VIDEO)
        if len(frames) == FRAMES:
            return f"{VIDEO.name} frames {FIRST_FRAME}-{FIRST_FRAME + STEP * (FRAMES - 1)}", frames
    path = grace_hopper()
    if path is None:
        raise SystemExit("neither the sample video nor matplotlib's grace_hopper.jpg is there")
    photo = read_image_file(path)
    return f"{path.name} moved in a 720p frame", photo_frames(photo[:600, :512])


def naive_scorer(models: FaceModels) -> Callable[[list[RgbImage]], WindowScore]:
    """Every frame searched whole at full resolution, then dlib's landmarks and the measures."""
    import dlib
    import face_recognition_models

    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())

    def score(frames: list[RgbImage]) -> WindowScore:
        scored = []
        for index, frame in enumerate(frames):
            rectangles = list(models.detector(frame, 0))
            if not rectangles:
                scored.append(FrameScore(index, None, 0, None))
                continue
            largest = max(rectangles, key=lambda r: r.width() * r.height())
            box = FaceBox(largest.left(), largest.top(), largest.right(), largest.bottom())
            shape = predictor(frame, largest)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            landmarks = Landmarks(points, box)
            scored.append(FrameScore(index, assess(frame, landmarks), len(rectangles), landmarks))
        return WindowScore(tuple(scored))

    return score


def cpu_ms(run: Callable[[], WindowScore], rounds: int) -> tuple[list[float], WindowScore]:
    """CPU milliseconds of each of ``rounds`` calls of ``run`` (after a warm-up), and its result."""
    result = run()
    times = []
    for _ in range(rounds):
        started = time.process_time()
        result = run()
        times.append((time.process_time() - started) * 1000)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="windows timed per path")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args()
    source, frames = window()
    models = FaceModels()
    scorer = CaptureScorer(models)
    naive = naive_scorer(models)
    load_before = os.getloadavg()[0]
    egate_times, egate_result = cpu_ms(lambda: scorer.score(frames), options.rounds)
    naive_times, naive_result = cpu_ms(lambda: naive(frames), options.rounds)
    egate_ms, naive_ms = statistics.median(egate_times), statistics.median(naive_times)
    report = {
        "frames": source,
        "frame_size": f"{WIDTH}x{HEIGHT}",
        "window": len(frames),
        "rounds": options.rounds,
        "cpus": os.cpu_count(),
        "load_average": round(max(load_before, os.getloadavg()[0]), 2),
        "egate_cpu_ms": round(egate_ms, 1),
        "egate_best_cpu_ms": round(min(egate_times), 1),
        "naive_cpu_ms": round(naive_ms, 1),
        "naive_best_cpu_ms": round(min(naive_times), 1),
        "speedup": round(naive_ms / egate_ms, 1),
        "egate_faces_found": sum(frame.faces > 0 for frame in egate_result.frames),
        "naive_faces_found": sum(frame.faces > 0 for frame in naive_result.frames),
        "egate_tracked_frames": sum(frame.tracked for frame in egate_result.frames),
        "egate_best": egate_result.best(3),
        "naive_best": naive_result.best(3),
    }
    if options.json:
        print(json.dumps(report))
        return
    print(f"Capture-window scoring: {report['window']} frames at {report['frame_size']}")
    print(f"frames: {source}")
    print(
        f"CPU time per window over {options.rounds} windows each; load average "
        f"{report['load_average']} on {report['cpus']} CPUs (other processes inflate CPU time)"
    )
    print(
        f"{'path':6} {'median ms':>10} {'best ms':>8} {'ms/frame':>9} {'faces found':>12}  best 3"
    )
    for name, times, result in (
        ("egate", egate_times, egate_result),
        ("naive", naive_times, naive_result),
    ):
        median = statistics.median(times)
        found = sum(frame.faces > 0 for frame in result.frames)
        print(
            f"{name:6} {median:10.1f} {min(times):8.1f} {median / len(frames):9.2f} "
            f"{found:>9}/{len(frames)}  {result.best(3)}"
        )
    print(
        f"naive / egate: {naive_ms / egate_ms:.1f}x (median), "
        f"{min(naive_times) / min(egate_times):.1f}x (best); target: egate under 50 ms a window"
    )


if __name__ == "__main__":
    main()
