"""The raw records of one replication of the hall model, as ``simulation.hall`` keeps them.

Per traveller, the moments they reached each place (NaN for a place never
reached) and the gate or desk that served them (-1 for none); per server,
its busy and available time; and the integrals over time of the queue
lengths, kept during the run. ``simulation.statistics`` makes the figures
of a run from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulation.arrivals import Arrivals
from simulation.config import HallConfig

__all__ = ["BoolArray", "FloatArray", "GateDecision", "HallRecords", "IntArray"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class GateDecision:
    """How the gate controller ended one kind of transaction."""

    outcome: str  # egate.gate.commands.Outcome value
    reasons: tuple[str, ...]
    impostor: bool


@dataclass(frozen=True, slots=True, eq=False)
class HallRecords:
    """The raw records of one replication: per traveller and per server, as the model kept them.

    Per-traveller arrays are indexed like ``arrivals``; a time is NaN for a
    step the traveller never reached, an index -1.
    """

    config: HallConfig
    spawn_key: tuple[int, ...]
    end: float  # when the run stopped (the last departure, or the drain limit)
    arrivals: Arrivals
    arrived: FloatArray
    gate_start: FloatArray
    gate_end: FloatArray
    gate_of: IntArray
    decision_of: IntArray  # index into ``decisions``
    decisions: tuple[GateDecision, ...]
    referred: BoolArray
    desk_join: FloatArray
    desk_start: FloatArray
    desk_end: FloatArray
    desk_of: IntArray
    left: FloatArray
    gate_queue_area: float  # integrals over time, kept during the run
    desk_queue_area: float
    hall_area: float
    gate_queue_max: int
    desk_queue_max: int
    gate_available_s: tuple[float, ...]
    gate_busy_s: tuple[float, ...]
    gate_served: tuple[int, ...]
    desk_available_s: tuple[float, ...]
    desk_busy_s: tuple[float, ...]
    gate_availability: tuple[tuple[float, int], ...]  # (time, +1 or -1 working gates)
    desk_availability: tuple[tuple[float, int], ...]
    core_workers: int
    core_busy_s: float
    core_requests: int
    # When each traveller asked the matching core for a worker and when one took
    # them (NaN: never, or still waiting at the end), and the time integral and
    # maximum of the number waiting for a worker, kept during the run.
    core_asked: FloatArray
    core_start: FloatArray
    core_queue_area: float
    core_queue_max: int
