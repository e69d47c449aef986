"""What scoring a capture window costs, for ``egate biometrics bench``.

A gate scores the frames its camera takes while the traveller walks in
(``egate.biometrics.capturewindow.CaptureScorer``) before it verifies the
best.  The bench makes such a window from one of its images, 10 frames at
1280 x 720 with the face moving a little, and reports the CPU time
(``time.process_time``) of scoring it: CPU rather than wall time, since the
target is a share of one core and a shared machine stretches wall time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from egate.biometrics.capturewindow import CaptureScorer
from egate.biometrics.face import FaceModels
from egate.biometrics.image import RgbImage

# The window the bench scores: frames of a gate camera's 720p stream.
CAPTURE_FRAMES = 10
CAPTURE_SIZE = (1280, 720)


def capture_window(image: RgbImage, frames: int = CAPTURE_FRAMES) -> list[RgbImage]:
    """``frames`` 1280 x 720 frames of ``image``, fitted in and moved 4 px right each frame.

    A stand-in for a camera's capture window with a face in every frame,
    made from a bench image (a traveller stepping in, slowly).
    """
    width, height = CAPTURE_SIZE
    shift = 4 * (frames - 1)
    scale = min((width - shift) / image.shape[1], height / image.shape[0])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    fitted = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    window = []
    for index in range(frames):
        frame = np.full((height, width, 3), 96, np.uint8)
        left = (width - shift - size[0]) // 2 + 4 * index
        top = (height - size[1]) // 2
        frame[top : top + size[1], left : left + size[0]] = fitted
        window.append(frame)
    return window


def capture_window_cost(
    models: FaceModels,
    image: RgbImage,
    rounds: int,
    clock: Callable[[], float] = time.process_time,
) -> dict[str, Any]:
    """CPU seconds ``CaptureScorer(models).score`` takes for a window made of ``image``.

    One warm-up window, then ``rounds`` of them; the median and the best
    (the closer to an idle machine's figure on a shared one).
    """
    scorer = CaptureScorer(models)
    frames = capture_window(image)
    scored = scorer.score(frames)  # warm-up: the landmark model's first use
    seconds = []
    for _ in range(rounds):
        started = clock()
        scorer.score(frames)
        seconds.append(clock() - started)
    return {
        "frames": len(frames),
        "size": f"{CAPTURE_SIZE[0]}x{CAPTURE_SIZE[1]}",
        "cpu_seconds_p50": statistics.median(seconds),
        "cpu_seconds_best": min(seconds),
        "frames_with_a_face": sum(1 for frame in scored.frames if frame.faces > 0),
    }
