"""Fits a landmark model to faces, many frames at once: dlib's landmarks, to the bit.

dlib's shape predictor fits one face at a time, and for the 68-point model
each fit reads one leaf of each of its 7,500 trees: 4 MB of a 65 MB table
that no processor cache holds, so the fit waits on memory (0.8 ms a face
when the same face is fitted again, 1.3-2.9 ms in a capture window, more
when other processes share the caches). ``ShapeFitter.fit_many`` fits the
frames of a window tree by tree: each tree's splits and leaves are read once
for all the frames, and the frames of one face mostly reach the same leaves.

The arithmetic is dlib's, in the same order and precision (the points are
the same integers: the tests compare them with dlib's on sample photos and
video frames):

* at each level, the similarity transform that takes the initial shape to
  the current one (least squares, in double precision; dlib's SVD reduces
  to this closed form for two dimensions), cast to single precision;
* each pixel placed at its anchor point plus the transformed delta (single
  precision), mapped into the face box (``left + x * (right - left)``, in
  double precision) and rounded half up; its value is the mean of the three
  channels rounded down, or 0 outside the picture;
* each tree walked from its root (left when the first pixel minus the second
  is above the threshold), its leaf added to the shape in single precision,
  trees in order (the walks go a step at a time across all the trees, so
  the processor overlaps their memory reads);
* the final points mapped into the box and rounded as the pixels are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numba.typed import List

from egate.biometrics.compiled import compiled
from egate.biometrics.shapemodel import Floats32, Indexes, ShapeModel

Rgb = npt.NDArray[np.uint8]
Boxes = npt.NDArray[np.int64]  # (B, 4): left, top, right, bottom
FittedPoints = npt.NDArray[np.int64]  # (B, N, 2)
# Box corners beyond this are not a face in any picture (and would overflow the rounding).
MAX_COORDINATE = 1 << 24


@compiled
def _place(value: float, origin: int, extent: float) -> int:
    """A unit-square coordinate in the box's pixels, rounded half up as dlib rounds."""
    return math.floor(float(value) * extent + origin + 0.5)


@compiled
def _sample(
    image: Rgb,
    box: npt.NDArray[np.int64],
    shape: Floats32,
    initial: Floats32,
    anchors: npt.NDArray[np.int32],
    deltas: Floats32,
    pixels: Floats32,
) -> None:
    """The values of one level's pixels, placed from ``shape``, into ``pixels``."""
    points = len(initial) // 2
    # Means and covariance of the initial (from) and current (to) shapes, as dlib, in double.
    from_x = from_y = to_x = to_y = 0.0
    for i in range(points):
        from_x += initial[2 * i]
        from_y += initial[2 * i + 1]
        to_x += shape[2 * i]
        to_y += shape[2 * i + 1]
    from_x /= points
    from_y /= points
    to_x /= points
    to_y /= points
    spread = xx = xy = yx = yy = 0.0
    for i in range(points):
        fx, fy = initial[2 * i] - from_x, initial[2 * i + 1] - from_y
        tx, ty = shape[2 * i] - to_x, shape[2 * i + 1] - to_y
        spread += fx * fx + fy * fy
        xx += tx * fx
        xy += tx * fy
        yx += ty * fx
        yy += ty * fy
    # Scale times rotation: [[a, -b], [b, a]] (the counts cancel between spread and covariance).
    a = np.float32((xx + yy) / spread)
    b = np.float32((yx - xy) / spread)
    height, width = image.shape[0], image.shape[1]
    left, top = box[0], box[1]
    extent_x, extent_y = float(box[2] - box[0]), float(box[3] - box[1])
    for p in range(len(anchors)):
        anchor = anchors[p]
        dx, dy = deltas[p, 0], deltas[p, 1]
        x = _place(a * dx - b * dy + shape[2 * anchor], left, extent_x)
        y = _place(b * dx + a * dy + shape[2 * anchor + 1], top, extent_y)
        if 0 <= x < width and 0 <= y < height:
            total = np.int32(image[y, x, 0]) + np.int32(image[y, x, 1]) + np.int32(image[y, x, 2])
            pixels[p] = np.float32(total // 3)
        else:
            pixels[p] = np.float32(0.0)


@compiled
def _fit(
    images: List[Rgb],
    boxes: Boxes,
    initial: Floats32,
    first: Indexes,
    second: Indexes,
    thresholds: Floats32,
    leaves: Floats32,
    anchors: Indexes,
    deltas: Floats32,
) -> FittedPoints:
    """The landmarks of the face in ``boxes[i]`` of ``images[i]``, all frames level by level."""
    count = len(images)
    levels, trees, splits = first.shape
    values = len(initial)
    depth = 0
    while (1 << depth) - 1 < splits:
        depth += 1
    shapes = np.empty((count, values), np.float32)
    for f in range(count):
        shapes[f] = initial
    pixels = np.empty((count, anchors.shape[1]), np.float32)
    nodes = np.empty((trees, count), np.int64)
    for level in range(levels):
        for f in range(count):
            _sample(
                images[f], boxes[f], shapes[f], initial, anchors[level], deltas[level], pixels[f]
            )
        # Every tree one step down at a time, rather than each tree root to leaf:
        # the node reads of different trees do not wait on each other, so the
        # processor has many in flight (a third less time when the model is not
        # cached); and every frame at each tree, so a tree is read once a window.
        nodes[:] = 0
        for _ in range(depth):
            for tree in range(trees):
                for f in range(count):
                    node = nodes[tree, f]
                    if node < splits:
                        difference = (
                            pixels[f, first[level, tree, node]]
                            - pixels[f, second[level, tree, node]]
                        )
                        left = difference > thresholds[level, tree, node]
                        nodes[tree, f] = 2 * node + 1 if left else 2 * node + 2
        # The leaves added in tree order, as dlib adds them (single precision).
        for tree in range(trees):
            for f in range(count):
                leaf = leaves[level, tree, nodes[tree, f] - splits]
                shape = shapes[f]
                for v in range(values):
                    shape[v] += leaf[v]
    points = np.empty((count, values // 2, 2), np.int64)
    for f in range(count):
        left, top = boxes[f, 0], boxes[f, 1]
        extent_x, extent_y = float(boxes[f, 2] - left), float(boxes[f, 3] - top)
        for i in range(values // 2):
            points[f, i, 0] = _place(shapes[f, 2 * i], left, extent_x)
            points[f, i, 1] = _place(shapes[f, 2 * i + 1], top, extent_y)
    return points


class ShapeFitter:
    """Places a landmark model's points on faces (``fit_many`` for a window of frames)."""

    def __init__(self, model: ShapeModel) -> None:
        self.model = model

    def fit_many(
        self, images: Sequence[npt.NDArray[np.uint8]], boxes: Sequence[tuple[int, int, int, int]]
    ) -> list[npt.NDArray[np.float64]]:
        """The points (N x 2, pixels) of the face in each box (left, top, right, bottom).

        Images are H x W x 3 (RGB or BGR: the channels are averaged) or H x W grey.
        """
        if len(images) != len(boxes):
            raise ValueError(f"{len(images)} images but {len(boxes)} boxes")
        if not images:
            return []
        corners = np.array(boxes, np.int64).reshape(len(boxes), 4)
        if np.abs(corners).max() > MAX_COORDINATE:
            raise ValueError(f"a face box beyond {MAX_COORDINATE} pixels")
        frames = List([_three_channels(image) for image in images])
        model = self.model
        points = _fit(
            frames,
            corners,
            model.initial_shape,
            model.first,
            model.second,
            model.thresholds,
            model.leaves,
            model.anchors,
            model.deltas,
        )
        return [np.asarray(face, np.float64) for face in points]


def _three_channels(image: npt.NDArray[np.uint8]) -> Rgb:
    """``image`` as a contiguous read-only H x W x 3 array (grey repeated: its mean is itself)."""
    grey = image.ndim == 2
    if image.dtype != np.uint8 or not (grey or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"not an 8-bit RGB or grey picture: {image.dtype} {image.shape}")
    if grey:
        image = np.repeat(image[:, :, None], 3, axis=2)
    # Every frame as a read-only view: one type for numba whether the caller's
    # arrays are writable or not (the fitter only reads them).
    frame = np.ascontiguousarray(image).view()
    frame.flags.writeable = False
    return frame
