"""A gate's serial devices, each played by its emulator on a pseudo-terminal of its own.

``emulators`` starts the reader, door board and occupancy sensor emulators a
gate's ``devices:`` section calls for and yields settings whose ports are
their pseudo-terminals, so the real drivers open them as they would open
``/dev/ttyUSB0``; ``emulated`` does so for a mock gate (``emulated: true``)
and passes real settings through.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hardware.devices import DeviceSettings
from hardware.emulators.door import DoorBoardSettings, DoorEmulator
from hardware.emulators.occupancy import OccupancyEmulator, OccupancySensorSettings
from hardware.emulators.pty import PseudoTerminal
from hardware.emulators.reader import ReaderEmulator
from hardware.link import SerialSettings


def _on_pty(serial: SerialSettings, pty: PseudoTerminal) -> SerialSettings:
    return serial.model_copy(update={"port": pty.path})


@dataclass(frozen=True, slots=True)
class Emulators:
    """The emulators of a mock gate, and device settings that point at them."""

    devices: DeviceSettings
    reader: ReaderEmulator | None
    doors: DoorEmulator | None
    occupancy: OccupancyEmulator | None


@contextlib.contextmanager
def emulators(
    devices: DeviceSettings,
    door_board: DoorBoardSettings | None = None,
    occupancy_sensor: OccupancySensorSettings | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Emulators]:
    """Start an emulator for each serial device on a pseudo-terminal of its own.

    ``door_board`` and ``occupancy_sensor`` say how the emulated devices
    behave; a configured ``identity`` is the one they answer HELLO with.
    ``clock`` is the devices' time (a replay's, which a console may pause).
    """
    with contextlib.ExitStack() as stack:
        update: dict[str, object] = {}
        reader = doors = occupancy = None
        if devices.reader is not None:
            pty = stack.enter_context(PseudoTerminal(watch_flushes=True))
            reader = stack.enter_context(
                ReaderEmulator(devices.reader.make_framing(), pty, clock=clock)
            )
            update["reader"] = devices.reader.model_copy(
                update={"serial": _on_pty(devices.reader.serial, pty)}
            )
        if devices.doors is not None:
            pty = stack.enter_context(PseudoTerminal())
            board = door_board or DoorBoardSettings()
            if devices.doors.identity is not None:
                board = board.model_copy(update={"identity": devices.doors.identity})
            doors = stack.enter_context(DoorEmulator(pty, board, clock=clock))
            update["doors"] = devices.doors.model_copy(
                update={"serial": _on_pty(devices.doors.serial, pty)}
            )
        if devices.occupancy is not None:
            pty = stack.enter_context(PseudoTerminal())
            sensor = occupancy_sensor or OccupancySensorSettings()
            if devices.occupancy.identity is not None:
                sensor = sensor.model_copy(update={"identity": devices.occupancy.identity})
            occupancy = stack.enter_context(OccupancyEmulator(pty, sensor, clock=clock))
            update["occupancy"] = devices.occupancy.model_copy(
                update={"serial": _on_pty(devices.occupancy.serial, pty)}
            )
        yield Emulators(devices.model_copy(update=update), reader, doors, occupancy)


@contextlib.contextmanager
def emulated(devices: DeviceSettings) -> Iterator[DeviceSettings]:
    """Start an emulator for each serial device; yield settings that point at them.

    Real (not emulated) settings pass through unchanged.
    """
    if not devices.emulated:
        yield devices
        return
    with emulators(devices) as started:
        yield started.devices
