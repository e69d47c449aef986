"""The gate controller: a pure state machine that turns gate events into commands.

It owns no clock, threads or devices, so the same object decides on gate
hardware, in training replays and inside the capacity model.
"""

from egate.gate.commands import Command, Outcome, Signal
from egate.gate.controller import ControllerSettings, GateController, State, Topology
from egate.gate.events import ChipStatus, DocumentCheck, Door, Event, OfficerAction

__all__ = [
    "ChipStatus",
    "Command",
    "ControllerSettings",
    "DocumentCheck",
    "Door",
    "Event",
    "GateController",
    "OfficerAction",
    "Outcome",
    "Signal",
    "State",
    "Topology",
]
