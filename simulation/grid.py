"""Grids: a sweep of several settings at once, every combination, and the cheapest that meets.

``gates=6..12 desks=20..40:10`` runs the hall once per combination of the
values (7 x 3 = 21 configurations), all with the same seed and replications
so that they see the same travellers (common random numbers, as the values
of a one-setting sweep do, ``simulation.sweep``). Each setting is written and
applied as in a sweep; a setting may appear once.

*Meeting* is the sweep's: the lower end of the 95% confidence interval of
the share waiting at most ``max_wait_min`` reaches the target. Among the
combinations that meet, the *cheapest* is chosen by a fixed order of cost
(``COST_ORDER``), not by a sum: fewest desks first, then fewest gates, then
fewest matching workers, then the strictest threshold. Desks are officers,
paid for every hour of every day; a gate or a core worker is bought once.
So a combination with one desk fewer wins whatever gates it needs; the
fewest of the others are chosen at that staffing (``cheapest_by``: the same
answer at each staffing level, the trade-off a planner weighs).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from simulation.config import HallConfig
from simulation.summary import Summary
from simulation.sweep import (
    Sweep,
    Verdict,
    apply_setting,
    parse_sweep,
    verdicts_of,
)

__all__ = [
    "COST_ORDER",
    "MAX_POINTS",
    "Grid",
    "GridResult",
    "Point",
    "grid_configs",
    "parse_settings",
]

# Dearest first: officers are a running cost, gates and core workers a one-off one;
# the threshold costs nothing but its smallest value is the strictest.
COST_ORDER = ("desks", "gates", "workers", "threshold")
# More combinations than this is a typo (two fine ranges multiplied), not a study.
MAX_POINTS = 2000

Point = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Grid:
    """Two or more settings, each with its values; the grid is every combination."""

    axes: tuple[Sweep, ...]

    @property
    def parameters(self) -> tuple[str, ...]:
        """The settings, in the order written."""
        return tuple(axis.parameter for axis in self.axes)

    @property
    def points(self) -> tuple[Point, ...]:
        """Every combination, one value per setting; the first setting varies slowest."""
        return tuple(itertools.product(*(axis.values for axis in self.axes)))

    def labels(self, point: Point) -> tuple[str, ...]:
        """The point's values as written (``12``, ``0.55``)."""
        return tuple(axis.label(value) for axis, value in zip(self.axes, point, strict=True))

    def describe(self, point: Point, leave_out: str | None = None) -> str:
        """``desks 20, gates 8``: the point, dearest setting first (less ``leave_out``)."""
        by_name = dict(zip(self.parameters, self.labels(point), strict=True))
        return ", ".join(
            f"{name} {by_name[name]}" for name in _by_cost(self.parameters) if name != leave_out
        )

    def __str__(self) -> str:
        return " ".join(str(axis) for axis in self.axes)


def _by_cost(parameters: Sequence[str]) -> list[str]:
    return sorted(parameters, key=COST_ORDER.index)


def parse_settings(texts: Sequence[str]) -> Sweep | Grid:
    """One sweep, or a grid of several, from ``NAME=RANGE`` texts (each may hold several,
    separated by spaces); ``ValueError`` with a one-line message naming the setting."""
    items = [item for text in texts for item in text.split()]
    if not items:
        raise ValueError(f"{' '.join(texts)!r}: no setting given")
    axes: list[Sweep] = []
    for item in items:
        axis = parse_sweep(item)
        if any(seen.parameter == axis.parameter for seen in axes):
            raise ValueError(f"{item!r}: {axis.parameter} is swept twice; give it once")
        axes.append(axis)
    if len(axes) == 1:
        return axes[0]
    grid = Grid(tuple(axes))
    count = math.prod(len(axis.values) for axis in axes)
    if count > MAX_POINTS:
        sizes = " x ".join(str(len(axis.values)) for axis in axes)
        raise ValueError(f"{str(grid)!r}: {sizes} = {count} combinations, more than {MAX_POINTS}")
    return grid


def grid_configs(config: HallConfig, grid: Grid) -> tuple[HallConfig, ...]:
    """One configuration per point of ``grid`` (``ValueError`` naming the setting that does
    not apply)."""
    configs = []
    for point in grid.points:
        changed = config
        for parameter, value in zip(grid.parameters, point, strict=True):
            changed = apply_setting(changed, parameter, value)
        configs.append(changed)
    return tuple(configs)


@dataclass(frozen=True, slots=True)
class GridResult:
    """What a grid found: one configuration and summary per point, and the cheapest that meets."""

    grid: Grid
    configs: tuple[HallConfig, ...]
    summaries: tuple[Summary, ...]

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """Per point, how its configuration stands against the service level."""
        return verdicts_of(self.configs, self.summaries)

    @property
    def met(self) -> tuple[bool, ...]:
        """Per point, whether it meets the service level with 95% confidence."""
        return tuple(verdict is Verdict.MET for verdict in self.verdicts)

    def cost(self, point: Point) -> Point:
        """The point's values, dearest setting first: a smaller tuple is cheaper."""
        by_name = dict(zip(self.grid.parameters, point, strict=True))
        return tuple(by_name[name] for name in _by_cost(self.grid.parameters))

    def _cheapest(self, accept: Sequence[bool]) -> Point | None:
        chosen = [point for point, ok in zip(self.grid.points, accept, strict=True) if ok]
        return min(chosen, key=self.cost, default=None)

    @property
    def cheapest(self) -> Point | None:
        """The cheapest point (``COST_ORDER``) meeting with 95% confidence, or None."""
        return self._cheapest(self.met)

    @property
    def cheapest_on_mean(self) -> Point | None:
        """The cheapest point whose mean share reaches the target (confident or not), or None."""
        return self._cheapest([verdict is not Verdict.MISSED for verdict in self.verdicts])

    @property
    def dearest(self) -> str:
        """The setting that costs most (``COST_ORDER``): the one the answer is decided on first."""
        return _by_cost(self.grid.parameters)[0]

    def cheapest_by(self) -> dict[float, Point | None]:
        """For each value of the dearest setting, the cheapest point meeting with it."""
        axis = self.grid.parameters.index(self.dearest)
        return {
            value: self._cheapest(
                [
                    met and point[axis] == value
                    for point, met in zip(self.grid.points, self.met, strict=True)
                ]
            )
            for value in self.grid.axes[axis].values
        }
