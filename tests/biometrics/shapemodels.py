"""Small landmark models written in dlib's shape predictor format, for the tests.

dlib itself loads them (``dlib.shape_predictor(path)``), so egate's reader and
fitter can be compared with dlib on models of any size, not only the 68-point
one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def integer(value: int) -> bytes:
    """``value`` in dlib's encoding: a control byte (size, sign), then the magnitude."""
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def real(value: float) -> bytes:
    """A single-precision ``value`` as dlib writes it: mantissa and power of two."""
    fraction, exponent = math.frexp(float(np.float32(value)))
    mantissa = int(fraction * (1 << 24))
    return integer(mantissa) + integer(exponent - 24 if mantissa else 0)


def column(values: np.ndarray) -> bytes:
    return integer(-len(values)) + integer(-1) + b"".join(real(v) for v in values)


@dataclass
class RandomModel:
    """A random model's arrays, with its file's bytes (``encode``)."""

    initial: np.ndarray  # (2N,)
    splits: list[list[list[tuple[int, int, float]]]]  # level, tree, split
    leaves: np.ndarray  # (L, T, S + 1, 2N)
    anchors: np.ndarray  # (L, P)
    deltas: np.ndarray  # (L, P, 2)

    def encode(self) -> bytes:
        out = [integer(1), column(self.initial), integer(len(self.splits))]
        for level, trees in enumerate(self.splits):
            out.append(integer(len(trees)))
            for tree, splits in enumerate(trees):
                out.append(integer(len(splits)))
                for first, second, threshold in splits:
                    out += [integer(first), integer(second), real(threshold)]
                out.append(integer(len(self.leaves[level, tree])))
                out += [column(leaf) for leaf in self.leaves[level, tree]]
        out.append(integer(len(self.anchors)))
        for anchors in self.anchors:
            out.append(integer(len(anchors)))
            out += [integer(int(a)) for a in anchors]
        out.append(integer(len(self.deltas)))
        for deltas in self.deltas:
            out.append(integer(len(deltas)))
            out += [real(x) + real(y) for x, y in deltas]
        return b"".join(out)


def random_model(
    seed: int, points: int = 6, levels: int = 3, trees: int = 12, depth: int = 3, pixels: int = 40
) -> RandomModel:
    """A model with random trees over a random face of ``points`` points."""
    rng = np.random.default_rng(seed)
    split_count = 2**depth - 1
    initial = rng.uniform(0.2, 0.8, 2 * points).astype(np.float32)
    splits = [
        [
            [
                (
                    int(rng.integers(pixels)),
                    int(rng.integers(pixels)),
                    float(np.float32(rng.uniform(-40, 40))),
                )
                for _ in range(split_count)
            ]
            for _ in range(trees)
        ]
        for _ in range(levels)
    ]
    leaves = rng.normal(0, 0.01, (levels, trees, split_count + 1, 2 * points)).astype(np.float32)
    anchors = rng.integers(points, size=(levels, pixels))
    deltas = rng.normal(0, 0.08, (levels, pixels, 2)).astype(np.float32)
    return RandomModel(initial, splits, leaves, anchors, deltas)
