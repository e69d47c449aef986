"""dlib's HOG face detector with its image pyramid searched in two parts at once.

dlib's frontal face detector slides five HOG filters over every level of an
image pyramid (each level 5/6 the size of the one above) and keeps, among all
the windows scoring above its threshold, those that do not overlap a
better-scoring one.  The two largest levels, where the smallest faces are
found, hold about half the work.  ``SplitPyramidDetector`` searches them on a
helper thread with a copy of the detector limited to two levels, while the
calling thread searches the rest on the image reduced twice by dlib's own
pyramid, then merges the two lists with the detector's own overlap rule
(dlib releases Python's lock while it searches, so the two parts run on two
cores).

The result is the boxes one search gives, in the same order.  A box found in
the reduced image is mapped back through the level it was found at (its size
there is the detector's fixed window), so its corners round once, as in one
search; two boxes that overlap across the two parts are kept or dropped by
score as one search would.  Where one search could differ: a box dropped in
its own part by a box that the other part's better box then drops (a chain
of three overlapping windows), and a box cut by the picture's edge, whose
size no longer names its level (then mapped within a pixel).  The tests
compare both on every sample photo and video frame.

What the copy changes is one number of the detector's saved form, the
scanner's largest pyramid level count; the overlap rule is read from the same
saved form.  Layout (dlib's integer and floating point encodings, see
``egate.biometrics.dlibmodel``): object detector version 2; scanner version
1; the feature planes (two integers when empty); cell size; padding; window
width and height; the largest pyramid level count; the smallest level's width
and height; the nuclear norm regularisation; the feature dimensions; then the
overlap rule (intersection over the bounding box, share of one box covered)
and the filters.
"""

from __future__ import annotations

import math
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from egate.biometrics.dlibmodel import ModelFormatError, decode_float, decode_integer

# Pyramid levels searched on the helper thread: the two largest hold 1 + 25/36
# of the 1/(1 - 25/36) = 3.27 image areas a whole pyramid has, about half.
TOP_LEVELS = 2
# Below this short side the rest of the pyramid is empty or tiny, and one
# search costs less than handing half of it to another thread.
_SMALLEST_SPLIT = 160


class Box(Protocol):
    """What this module uses of a ``dlib.rectangle``."""

    def left(self) -> int: ...
    def top(self) -> int: ...
    def right(self) -> int: ...
    def bottom(self) -> int: ...
    def width(self) -> int: ...
    def height(self) -> int: ...
    def intersect(self, other: Box, /) -> Box: ...
    def is_empty(self) -> bool: ...
    def __add__(self, other: Box, /) -> Box: ...


@dataclass(frozen=True, slots=True)
class DetectorLayout:
    """Where a saved HOG detector keeps what the split needs."""

    # Byte span of the scanner's largest pyramid level count.
    levels_start: int
    levels_end: int
    # The overlap rule: boxes overlap when their intersection is more than
    # ``iou`` of their bounding box, or more than ``covered`` of either box.
    iou: float
    covered: float


def read_layout(data: bytes) -> DetectorLayout:
    """The layout of a saved dlib HOG detector (``ModelFormatError`` when not one)."""
    version, position = decode_integer(data, 0)
    scanner_version, position = decode_integer(data, position)
    if (version, scanner_version) != (2, 1):
        raise ModelFormatError(
            f"saved detector versions {version}/{scanner_version}, "
            "expected 2/1 (dlib's HOG detector)"
        )
    planes_capacity, position = decode_integer(data, position)
    planes, position = decode_integer(data, position)
    if planes_capacity or planes:
        raise ModelFormatError(f"byte {position}: the saved detector holds feature planes")
    for _ in range(4):  # cell size, padding, window width and height
        _, position = decode_integer(data, position)
    levels_start = position
    _, levels_end = decode_integer(data, position)
    position = levels_end
    for _ in range(2):  # smallest level's width and height
        _, position = decode_integer(data, position)
    _, position = decode_float(data, position)  # nuclear norm regularisation
    _, position = decode_integer(data, position)  # feature dimensions
    iou, position = decode_float(data, position)
    covered, position = decode_float(data, position)
    if not (0 <= iou <= 1 and 0 <= covered <= 1):
        raise ModelFormatError(f"byte {position}: overlap rule {iou}, {covered} is not two shares")
    return DetectorLayout(levels_start, levels_end, iou, covered)


def _area(box: Box) -> int:
    # dlib's boxes include both corners.
    return int((box.right() - box.left() + 1) * (box.bottom() - box.top() + 1))


class SplitPyramidDetector:
    """A dlib HOG detector whose search runs on two threads, with one search's boxes.

    ``detect(image)`` takes what ``detector(image, 0)`` takes (a grey or RGB
    uint8 array) and returns its rectangles.  One detection at a time per
    instance (dlib's detector keeps its scan in itself); ``close`` ends the
    helper thread.
    """

    def __init__(self, detector: Any) -> None:  # noqa: ANN401 - dlib ships no types
        import dlib

        with tempfile.TemporaryDirectory(prefix="egate-detector-") as folder:
            saved = Path(folder) / "detector.svm"
            detector.save(str(saved))
            data = saved.read_bytes()
            layout = read_layout(data)
            levels = bytes([1, TOP_LEVELS])  # dlib's integer encoding: one byte follows
            saved.write_bytes(data[: layout.levels_start] + levels + data[layout.levels_end :])
            self._top: Any = dlib.fhog_object_detector(str(saved))
        self._whole = detector
        self._layout = layout
        self._pyramid: Any = dlib.pyramid_down(6)
        self._rectangle: Any = dlib.rectangle
        self._drectangle: Any = dlib.drectangle
        # The window's size at its own level: every box of a search is this
        # size at the level it was found at (a blank picture scored with no
        # threshold gives level-0 boxes).
        probe, _, _ = self._top.run(np.zeros((2 * _SMALLEST_SPLIT,) * 2, np.uint8), 0, -1e9)
        if not probe:
            raise ModelFormatError("the limited detector finds no window on a blank picture")
        self._window = (min(box.width() for box in probe), min(box.height() for box in probe))
        self._lock = threading.Lock()
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="egate-detect")

    def close(self) -> None:
        """End the helper thread (a detection after this runs on one thread)."""
        self._helper.shutdown(wait=True)

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        """The boxes ``detector(image, 0)`` gives, best first."""
        if min(image.shape[:2]) < _SMALLEST_SPLIT:
            return list(self._whole(image, 0))
        with self._lock:
            try:
                top = self._helper.submit(self._top.run, image, 0, 0.0)
            except RuntimeError:  # closed: search on this thread
                return list(self._whole(image, 0))
            reduced = image
            for _ in range(TOP_LEVELS):
                reduced = self._pyramid(reduced)
            boxes, scores, _ = self._whole.run(reduced, 0, 0.0)
            found = [(score, self._to_full(box)) for box, score in zip(boxes, scores, strict=True)]
            boxes, scores, _ = top.result()
        found += zip(scores, boxes, strict=True)
        # One search's rule: best first, each kept unless it overlaps one kept.
        found.sort(key=lambda entry: -entry[0])
        kept: list[Box] = []
        for _, box in found:
            if not any(self._overlap(box, other) for other in kept):
                kept.append(box)
        return kept

    def _overlap(self, first: Box, second: Box) -> bool:
        inner = first.intersect(second)
        if inner.is_empty():
            return False
        shared = _area(inner)
        return (
            shared / _area(first + second) > self._layout.iou
            or shared / _area(first) > self._layout.covered
            or shared / _area(second) > self._layout.covered
        )

    def _to_full(self, box: Box) -> Box:
        """A box of the reduced image in the full image's pixels, as one search maps it."""
        width, height = self._window
        exact = self._drectangle(box.left(), box.top(), box.right(), box.bottom())
        best: tuple[float, int, Any] | None = None
        for level in range(64):
            down = self._pyramid.rect_down(exact, level)
            candidate = self._rectangle(
                round(down.left()), round(down.top()), round(down.right()), round(down.bottom())
            )
            if candidate.width() < width / 2:
                break
            if self._pyramid.rect_up(candidate, level) != box:
                continue
            # The level whose window size the box has (an edge can change it a little).
            misfit = abs(math.log(candidate.width() * candidate.height() / (width * height)))
            if best is None or misfit < best[0]:
                best = (misfit, level, candidate)
        mapped: Box
        if best is None:
            mapped = self._pyramid.rect_up(box, TOP_LEVELS)
        else:
            _, level, candidate = best
            mapped = self._pyramid.rect_up(candidate, level + TOP_LEVELS)
        return mapped
