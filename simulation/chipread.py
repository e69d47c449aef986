"""The chip read step of a gate transaction: its duration from the chips travellers carry.

A gate reads each passport's chip while the traveller stands at the
reader; the read takes from under a second to 15 s, depending on the chip's
access protocol (BAC or PACE), the size of the photo in DG2, the ISO/IEC
14443 bit rate reader and chip agree on, and how fast the chip computes.
``ChipReadTime`` is a ``Distribution`` of that duration for a population of
chips: each draw picks a kind of chip by its share and a photo size, and
the read takes what ``egate.chiptime.read_seconds`` says, the same
arithmetic the virtual chips spend on the air.

Drawing is vectorised: every kind's read is the time of everything but the
photo, plus the photo's pieces, whose running total is tabulated once per
kind (``_PhotoTable``); a draw is two table lookups. The tests check draws
against ``read_seconds`` to the nanosecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from egate.chiptime import (
    HEADER_BYTES,
    MAX_FILE_BYTES,
    ChipAirTime,
    ChipProfile,
    read_piece,
    read_seconds,
)
from simulation.distributions import Distribution, FloatArray

__all__ = ["ChipKind", "ChipReadTime"]

# Photos are drawn as sizes in bytes, rounded, and held to what a reader reads.
_MIN_PHOTO = HEADER_BYTES
# The mean of a mixture is estimated from this many draws of a fixed seed.
_MEAN_DRAWS = 1 << 16


@dataclass(frozen=True, slots=True)
class ChipKind:
    """One kind of chip in the population: its share, what it holds, its air time.

    ``profile``'s DG2 size is replaced by each draw's; ``photo_bytes``, when
    given, draws this kind's photos instead of the population's.
    """

    share: float
    profile: ChipProfile
    air: ChipAirTime
    photo_bytes: Distribution | None = None


class _PhotoTable:
    """The time to read a photo of any size on one kind of chip, by table.

    A photo of ``S`` bytes is read as its header (8 bytes) and then pieces of
    ``chunk`` bytes, the last one shorter. ``rest`` is the whole read with an
    8-byte photo; ``full[k]`` the time of the first ``k`` whole pieces;
    ``partial[c][r]`` that of a last piece of ``r`` bytes at an offset of class
    ``c`` (READ BINARY B0 up to 32767, then B1 with a 2- or 3-byte offset).
    """

    def __init__(self, kind: ChipKind) -> None:
        self.profile = kind.profile
        self.air = kind.air
        self.chunk = kind.profile.chunk
        self.rest = read_seconds(kind.profile.with_dg2(HEADER_BYTES), kind.air)
        self.full = np.zeros(1, dtype=np.float64)
        offsets = (0, 0x8000, 0x10000)
        self.partial = np.array(
            [
                [0.0] + [self._piece(offset, length) for length in range(1, self.chunk)]
                for offset in offsets
            ],
            dtype=np.float64,
        )

    def _piece(self, offset: int, length: int) -> float:
        exchange = read_piece(offset, length, self.profile.block)
        return self.air.exchange_seconds(exchange.command, exchange.response, exchange.work)

    def _grow(self, pieces: int) -> None:
        """Tabulate ``full`` up to ``pieces`` whole pieces."""
        known = self.full.size - 1
        if pieces <= known:
            return
        added = [
            self._piece(HEADER_BYTES + index * self.chunk, self.chunk)
            for index in range(known, pieces)
        ]
        self.full = np.concatenate((self.full, self.full[-1] + np.cumsum(added)))

    def seconds(self, sizes: np.ndarray) -> FloatArray:
        """The read times of photos of ``sizes`` bytes (integers, 8 or more)."""
        pieces, remainder = np.divmod(sizes - HEADER_BYTES, self.chunk)
        if pieces.size:
            self._grow(int(pieces.max()))
        last_offset = HEADER_BYTES + pieces * self.chunk
        offset_class = (last_offset > 0x7FFF).astype(np.int64) + (last_offset > 0xFFFF)
        result: FloatArray = self.rest + self.full[pieces] + self.partial[offset_class, remainder]
        return result


class ChipReadTime:
    """The duration of a chip read at a gate, over a population of chips (see the module)."""

    __slots__ = ("_kinds", "_mean", "_photo", "_shares", "_tables")

    def __init__(self, kinds: Sequence[ChipKind], photo_bytes: Distribution) -> None:
        if not kinds:
            raise ValueError("a population of chips needs at least one kind")
        shares = np.array([kind.share for kind in kinds], dtype=np.float64)
        if not (np.isfinite(shares).all() and (shares >= 0).all() and shares.sum() > 0):
            raise ValueError("the shares of chip kinds must be numbers >= 0, not all 0")
        self._kinds = tuple(kinds)
        self._shares = shares / shares.sum()
        self._photo = photo_bytes
        self._tables = [_PhotoTable(kind) for kind in kinds]
        self._mean: float | None = None

    @property
    def kinds(self) -> tuple[ChipKind, ...]:
        """The kinds of chips."""
        return self._kinds

    @property
    def mean(self) -> float:
        """The expected read time, estimated from 65,536 draws of a fixed seed."""
        if self._mean is None:
            draws = self.sample_many(np.random.default_rng(0), _MEAN_DRAWS)
            self._mean = float(draws.mean())
        return self._mean

    def photo_sizes(self, rng: np.random.Generator, which: np.ndarray) -> np.ndarray:
        """Photo sizes in bytes for chips of kinds ``which`` (rounded, 8 B to 1 MiB)."""
        sizes = self._photo.sample_many(rng, which.size)
        for index, kind in enumerate(self._kinds):
            if kind.photo_bytes is not None:
                mine = which == index
                sizes[mine] = kind.photo_bytes.sample_many(rng, int(mine.sum()))
        return np.clip(np.rint(sizes), _MIN_PHOTO, MAX_FILE_BYTES).astype(np.int64)

    def sample_many(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` read times at once."""
        which = rng.choice(len(self._kinds), size=count, p=self._shares)
        sizes = self.photo_sizes(rng, which)
        seconds = np.empty(count, dtype=np.float64)
        for index, table in enumerate(self._tables):
            mine = which == index
            seconds[mine] = table.seconds(sizes[mine])
        return seconds

    def sample(self, rng: np.random.Generator) -> float:
        """One read time."""
        return float(self.sample_many(rng, 1)[0])

    def __repr__(self) -> str:
        return f"ChipReadTime({len(self._kinds)} kinds of chip)"
