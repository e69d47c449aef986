"""dlib's landmark (shape predictor) model file, read into arrays.

The 68-point model face_recognition_models ships (100 MB) is a cascade of
regression forests (Kazemi and Sullivan's ensemble of regression trees): 15
levels of 500 trees of depth 4. At each level the current shape picks 500
pixels of the picture, each at a fixed offset from one of its points; every
tree compares pairs of those pixels down to a leaf, and the leaves' shape
corrections are added up. ``egate.biometrics.shapefitter`` evaluates it.

File layout (dlib's integer and floating point encodings, see
``egate.biometrics.dlibmodel``; a column is its row count and column count,
both negated, then its values):

* version 1;
* the initial shape, a column of 2N values (x0, y0, x1, y1, ...), points in
  the unit square of the face box;
* the forests: the number of levels; per level the number of trees; per tree
  its splits (a count, then per split two pixel indexes and a threshold) and
  its leaves (a count, then one column of 2N values each), the tree complete
  and stored breadth first, so a split's children are 2i+1 and 2i+2;
* the anchors: per level a count, then per pixel the index of its point;
* the deltas: per level a count, then per pixel its offset (x, y) from that
  point, in the initial shape's coordinates.

The reader checks every count against the first tree's and every index
against what it indexes, so a damaged or different file is a
``ModelFormatError`` naming the byte, never an out-of-range read later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from egate.biometrics.compiled import compiled
from egate.biometrics.dlibmodel import ModelFormatError, read_model_file

Bytes = npt.NDArray[np.uint8]
Floats32 = npt.NDArray[np.float32]
Indexes = npt.NDArray[np.int32]

# Beyond these the file is not a landmark model (and would ask for absurd arrays).
MAX_POINTS = 1_000
MAX_LEVELS = 100
MAX_TREES = 10_000
MAX_SPLITS = 1_023  # depth 10
MAX_PIXELS = 10_000
# A model's values are shape coordinates and pixel differences: far below this.
MAX_VALUE = 1e6
# An encoded float is two integers of at least two bytes each.
_SMALLEST_FLOAT = 4


@compiled
def _integer(data: Bytes, position: int) -> tuple[np.int64, int]:
    """The integer at ``position`` and the position after it; -(position + 1) if none is there."""
    if position < 0:
        return np.int64(0), position  # an earlier error, passed on
    if position >= len(data):
        return np.int64(0), -(position + 1)
    control = data[position]
    size = control & 0x0F
    end = position + 1 + size
    if size == 0 or size > 8 or (control & 0x70) != 0 or end > len(data):
        return np.int64(0), -(position + 1)
    if size == 8 and data[position + 8] & 0x80:
        return np.int64(0), -(position + 1)  # beyond a signed 64-bit magnitude
    value = np.int64(0)
    for k in range(size):
        value |= np.int64(data[position + 1 + k]) << np.int64(8 * k)
    if control & 0x80:
        value = -value
    return value, end


@compiled
def _real(data: Bytes, position: int) -> tuple[np.float32, int]:
    """The single-precision value at ``position`` (finite, |v| < MAX_VALUE), and the next position.

    dlib rounds the mantissa to single precision, then scales it by its
    power of two: exact in double precision, so the cast back is too.
    """
    start = position
    mantissa, position = _integer(data, position)
    if position < 0:
        return np.float32(0.0), position
    exponent, position = _integer(data, position)
    if position < 0:
        return np.float32(0.0), position
    if exponent < -1_000 or exponent > 1_000:
        return np.float32(0.0), -(start + 1)  # also dlib's codes for infinities and NaN
    value = np.float32(np.float64(np.float32(mantissa)) * 2.0**exponent)
    if not abs(value) < MAX_VALUE:
        return np.float32(0.0), -(start + 1)
    return value, position


@compiled
def _column(data: Bytes, position: int, out: Floats32) -> int:
    """A column of ``len(out)`` values read into ``out``; the next position, or -(error + 1)."""
    rows, next_position = _integer(data, position)
    if next_position < 0:
        return next_position
    columns, next_position = _integer(data, next_position)
    if next_position < 0:
        return next_position
    if rows != -len(out) or columns != -1:
        return -(position + 1)
    position = next_position
    for i in range(len(out)):
        out[i], position = _real(data, position)
    return position


@compiled
def _index(data: Bytes, position: int, limit: int) -> tuple[np.int64, int]:
    """An integer in [0, limit) at ``position``, and the next position (or -(error + 1))."""
    value, after = _integer(data, position)
    if after >= 0 and (value < 0 or value >= limit):
        return np.int64(0), -(position + 1)
    return value, after


@compiled
def _count(data: Bytes, position: int, expected: int) -> int:
    """Reads a count that must equal ``expected``; the next position, or -(error + 1)."""
    value, next_position = _integer(data, position)
    if next_position < 0:
        return next_position
    if value != expected:
        return -(position + 1)
    return next_position


@compiled
def _forests(
    data: Bytes,
    position: int,
    first: Indexes,
    second: Indexes,
    thresholds: Floats32,
    leaves: Floats32,
) -> int:
    """Every level's trees, read into the arrays; the next position, or -(error + 1).

    Like every reader here it carries on past an error without reading: each
    step passes a negative position on unchanged, so the first error is the
    one returned (the arrays are then discarded).
    """
    levels, trees, splits = first.shape
    position = _count(data, position, levels)
    for level in range(levels):
        position = _count(data, position, trees)
        for tree in range(trees):
            position = _count(data, position, splits)
            for split in range(splits):
                first[level, tree, split], position = _index(data, position, MAX_PIXELS)
                second[level, tree, split], position = _index(data, position, MAX_PIXELS)
                thresholds[level, tree, split], position = _real(data, position)
            position = _count(data, position, splits + 1)
            for leaf in range(splits + 1):
                position = _column(data, position, leaves[level, tree, leaf])
    return position


@compiled
def _anchors(data: Bytes, position: int, out: Indexes, points: int) -> int:
    """Per level, the point each pixel is placed from; the next position, or -(error + 1)."""
    levels, pixels = out.shape
    position = _count(data, position, levels)
    for level in range(levels):
        position = _count(data, position, pixels)
        for pixel in range(pixels):
            out[level, pixel], position = _index(data, position, points)
    return position


@compiled
def _deltas(data: Bytes, position: int, out: Floats32) -> int:
    """Per level, each pixel's offset from its point; the next position, or -(error + 1)."""
    levels, pixels, _ = out.shape
    position = _count(data, position, levels)
    for level in range(levels):
        position = _count(data, position, pixels)
        for pixel in range(pixels):
            out[level, pixel, 0], position = _real(data, position)
            out[level, pixel, 1], position = _real(data, position)
    return position


@dataclass(frozen=True, slots=True, eq=False)
class ShapeModel:
    """A landmark model's arrays: L levels of T trees of S splits, N points, P pixels a level."""

    initial_shape: Floats32  # (2N,): x0, y0, x1, y1, ... in the face box's unit square
    first: Indexes  # (L, T, S): the pixel a split subtracts from
    second: Indexes  # (L, T, S): the pixel it subtracts
    thresholds: Floats32  # (L, T, S): left child when the difference is above it
    leaves: Floats32  # (L, T, S + 1, 2N): the shape corrections
    anchors: Indexes  # (L, P): the point each pixel is placed from
    deltas: Floats32  # (L, P, 2): its offset from that point

    def __repr__(self) -> str:
        levels, trees, splits = self.first.shape
        return (
            f"ShapeModel({self.point_count} points, {levels} levels of {trees} trees "
            f"of {splits} splits, {self.anchors.shape[1]} pixels a level)"
        )

    @property
    def point_count(self) -> int:
        """How many landmarks the model places."""
        return len(self.initial_shape) // 2


class _Cursor:
    """Reads the small header fields in Python, with errors naming their byte."""

    def __init__(self, data: Bytes) -> None:
        self.data = data
        self.position = 0

    def integer(self, what: str, low: int, high: int) -> int:
        value, after = _integer(self.data, self.position)
        if after < 0:
            raise ModelFormatError(f"byte {self.position}: {what}: not an integer")
        if not low <= value <= high:
            raise ModelFormatError(f"byte {self.position}: {what} {value}, expected {low}-{high}")
        self.position = after
        return int(value)

    def check(self, position: int, what: str) -> None:
        if position < 0:
            raise ModelFormatError(
                f"byte {-position - 1}: {what} not as a landmark model's "
                "(a damaged file, or another kind of dlib model)"
            )
        self.position = position


def parse_shape_model(content: bytes) -> ShapeModel:
    """The landmark model in ``content`` (a shape predictor file's bytes)."""
    data = np.frombuffer(content, np.uint8)
    cursor = _Cursor(data)
    cursor.integer("version", 1, 1)
    start = cursor.position
    values = -cursor.integer("initial shape size", -2 * MAX_POINTS, -2)
    if values % 2:
        raise ModelFormatError(f"byte {start}: initial shape of {values} values, not points")
    cursor.position = start
    initial = np.empty(values, np.float32)
    cursor.check(_column(data, start, initial), "initial shape")
    if not np.ptp(initial.reshape(-1, 2), axis=0).any():
        # The fit scales by the initial shape's spread: it must have one.
        raise ModelFormatError(f"byte {start}: the initial shape's points all coincide")
    # The forests' sizes are those of the first level, first tree: all must match them.
    forests = cursor.position
    levels = cursor.integer("level count", 1, MAX_LEVELS)
    trees = cursor.integer("tree count", 1, MAX_TREES)
    splits = cursor.integer("split count", 1, MAX_SPLITS)
    if levels * trees * (splits + 1) * values * _SMALLEST_FLOAT > len(data):
        raise ModelFormatError(
            f"byte {forests}: {levels} levels of {trees} trees of {splits} splits "
            "cannot fit in the file"
        )
    first = np.empty((levels, trees, splits), np.int32)
    second = np.empty_like(first)
    thresholds = np.empty((levels, trees, splits), np.float32)
    leaves = np.empty((levels, trees, splits + 1, values), np.float32)
    cursor.check(_forests(data, forests, first, second, thresholds, leaves), "forest")
    anchors_at = cursor.position
    cursor.integer("anchor level count", levels, levels)
    pixels = cursor.integer("pixel count", 1, MAX_PIXELS)
    anchors = np.empty((levels, pixels), np.int32)
    cursor.check(_anchors(data, anchors_at, anchors, values // 2), "anchors")
    deltas = np.empty((levels, pixels, 2), np.float32)
    cursor.check(_deltas(data, cursor.position, deltas), "deltas")
    if cursor.position != len(data):
        raise ModelFormatError(f"byte {cursor.position}: data after the model's end")
    if max(int(first.max()), int(second.max())) >= pixels:
        raise ModelFormatError(f"byte {forests}: a split compares a pixel beyond the {pixels}")
    return ShapeModel(initial, first, second, thresholds, leaves, anchors, deltas)


def read_shape_model(path: Path) -> ShapeModel:
    """The landmark model in the file at ``path``."""
    return read_model_file(path, parse_shape_model)
