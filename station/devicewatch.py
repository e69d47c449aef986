"""The gate's devices as the service sees and drives them.

``DeviceWatch`` polls the reader, the door board and the occupancy sensor
(none of them blocks) and turns what they report into controller events; it
tells the controller when a device goes down or comes back, carries the
controller's door orders and signals to the board and the indicator, and
orders a door in fault again now and then.

A driver is this program's code, but no bug of it in answer to what a
device sent may end the service: a driver that raises is marked down (the
gate degrades, the audit trail says why) and polled again after a pause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from egate.gate import commands as c
from egate.gate import events as e
from egate.gate.controller import GateController
from egate.metrics import GateMetrics
from egate.ratelimit import LogLimiter
from hardware.camera import Frame
from hardware.door import DoorEvent, DoorFault, DoorStateChanged, Refused, WatchdogTripped
from hardware.doorprotocol import DoorState
from hardware.occupancy import OccupancyChanged, OccupancyEvent, Passage, TailgateDetected
from hardware.reader import DocumentRead, ReadFailed
from station.doororders import DoorOrders, board_door, ordered_door
from station.gatedevices import GateDevices
from station.owntime import OwnTime

Polled = TypeVar("Polled")

_DEVICE_COMMANDS = (
    c.OpenEntryDoor,
    c.CloseEntryDoor,
    c.OpenExitDoor,
    c.CloseExitDoor,
    c.ShowSignal,
    c.GuideTraveller,
)
_SIGNAL_TEXT = {
    c.Signal.READY: "place your passport on the reader",
    c.Signal.WAIT: "please wait",
    c.Signal.LOOK: "look at the camera",
    c.Signal.PASS: "please walk through",
    c.Signal.OFFICER: "please see an officer",
    c.Signal.CLOSED: "gate closed",
}


class DeviceWatch:
    """Polls the gate's devices for the controller and carries its orders to them.

    ``feed`` hands an event to the controller, ``alarm`` raises one (reason,
    detail), ``audit`` writes an audit record, ``on_document`` takes a
    document the reader read; ``driver_retry_s``: how long a driver that
    raised is out, ``door_retry_s``: how often a door in fault is ordered
    again, ``misread_log_s``: how often a misread is logged (each is counted).
    """

    def __init__(
        self,
        devices: GateDevices,
        controller: GateController,
        metrics: GateMetrics,
        own_time: OwnTime,
        *,
        feed: Callable[[e.Event, float], None],
        alarm: Callable[[str, str], None],
        audit: Callable[[dict[str, object]], None],
        on_document: Callable[[DocumentRead, float], None],
        clock: Callable[[], float],
        log: logging.Logger,
        driver_retry_s: float,
        door_retry_s: float,
        misread_log_s: float,
    ) -> None:
        self._devices = devices
        self._controller = controller
        self._metrics = metrics
        self._own_time = own_time
        self._feed = feed
        self._alarm = alarm
        self._audit = audit
        self._on_document = on_document
        self._clock = clock
        self._log = log
        self._driver_retry_s = driver_retry_s
        self._door_retry_s = door_retry_s
        self._door_orders = DoorOrders(devices.doors)
        # The health last reported to the controller (None: not reported yet).
        self._reported: dict[str, bool | None] = dict.fromkeys(devices.names())
        # Drivers that raised: why, and when to poll them again.
        self._broken: dict[str, tuple[str, float]] = {}
        self._misreads = LogLimiter(misread_log_s)
        self._occupancy = 0
        self._door_retry_at = 0.0

    # -- devices to events -----------------------------------------------------

    def poll(self, now: float, *, feed: bool) -> None:
        """Poll every driver; with ``feed``, what they report goes to the controller."""
        devices = self._devices
        for read in self._guarded("reader", devices.reader.poll, now):
            if feed:
                self._on_reader(read, now)
        for door_event in self._guarded("doors", devices.doors.poll, now):
            if feed:
                self._on_door_event(door_event, now)
        if devices.occupancy is not None:
            for sensor_event in self._guarded("occupancy", devices.occupancy.poll, now):
                if feed:
                    self._on_occupancy_event(sensor_event, now)

    def door_positions(self, now: float) -> None:
        """Report the door positions heard so far: the controller opens no door without them."""
        for report in self._door_orders.positions():
            self._feed(report, now)

    def health(self) -> dict[str, str | None]:
        """Each device and why it is down: the drivers' view, and drivers out after raising."""
        health = self._devices.health()
        for device, (reason, _) in self._broken.items():
            if device in health:
                health[device] = reason
        return health

    def report_at_start(self, health: dict[str, str | None]) -> None:
        """Tell the controller which devices were not found at start (the others are up)."""
        for device, problem in health.items():
            if problem is None:
                self._reported[device] = True
                self._metrics.device(device, True)
            else:
                self._changed(device, up=False, reason=f"not found at start: {problem}",
                              now=self._clock())  # fmt: skip

    def report_changes(self, now: float) -> None:
        """Tell the controller of each device that went down or came back since it last heard."""
        for device, problem in self.health().items():
            up = problem is None
            if self._reported[device] is not None and self._reported[device] != up:
                self._changed(device, up=up, reason=problem or "", now=now)

    def grab(self, now: float) -> Frame | None:
        """A frame from the camera, or None (also when its driver raises: the camera is down)."""
        if "camera" in self._broken and now < self._broken["camera"][1]:
            return None
        try:
            frame = self._devices.camera.grab()
        except Exception as error:  # a driver bug degrades the gate, never kills it
            self._driver_failed("camera", error, now)
            return None
        self._broken.pop("camera", None)
        return frame

    def _guarded(
        self, device: str, poll: Callable[[float], list[Polled]], now: float
    ) -> list[Polled]:
        """``poll(now)``, or nothing while the driver is out after raising."""
        broken = self._broken.get(device)
        if broken is not None and now < broken[1]:
            return []
        try:
            events = poll(now)
        except Exception as error:  # any driver failure degrades the gate, never kills it
            self._driver_failed(device, error, now)
            return []
        if broken is not None:
            del self._broken[device]
            self._log.info("gate %s: %s driver polls again", self._controller.gate_id, device)
        return events

    def _driver_failed(self, device: str, error: Exception, now: float) -> None:
        reason = f"driver error: {type(error).__name__}"
        self._broken[device] = (reason, now + self._driver_retry_s)
        self._log.error("gate %s: %s %s: %s", self._controller.gate_id, device, reason,
                        str(error)[:200],
                        exc_info=self._log.isEnabledFor(logging.DEBUG))  # fmt: skip
        self._alarm("DRIVER_ERROR", f"{device}: {type(error).__name__}")

    def _changed(self, device: str, *, up: bool, reason: str, now: float) -> None:
        self._reported[device] = up
        kind = "device_recovered" if up else "device_fault"
        self._audit({"kind": kind, "device": device, "reason": reason})
        self._metrics.device(device, up)
        log = self._log.info if up else self._log.warning
        log("gate %s: %s %s%s", self._controller.gate_id, device,
            "back" if up else "down", f" ({reason})" if reason else "")  # fmt: skip
        self._feed(e.DeviceRecovered(device) if up else e.DeviceFault(device, reason), now)

    def _on_reader(self, read: DocumentRead | ReadFailed, now: float) -> None:
        if isinstance(read, DocumentRead):
            self._on_document(read, now)
            return
        self._metrics.misread()
        # A noisy line sends misreads by the thousand: a line now and then says how many.
        suppressed = self._misreads.allow(now)
        if suppressed is not None:
            more = f" (+{suppressed} more since the last line)" if suppressed else ""
            self._log.info("reader: misread (%s)%s", read.reason, more)

    def _on_door_event(self, event: DoorEvent, now: float) -> None:
        for reported in self._door_orders.events(event):
            self._feed(reported, now)
        match event:
            case DoorStateChanged(door=door, state=state):
                # A door in fault may stand anywhere; count it open only when it says so.
                is_open = state in (DoorState.OPEN, DoorState.OPENING, DoorState.CLOSING)
                self._metrics.door(door.value.lower(), is_open)
            case DoorFault(door=door, code=code):
                self._alarm(f"DOOR_FAULT_{door.value}", code)
            case WatchdogTripped():
                self._alarm("DOOR_WATCHDOG", "")
            case Refused(command=command, code=code, text=text):
                self._log.warning("doors: %s %s refused: %s %s", command.verb,
                                  " ".join(command.args), code, text)  # fmt: skip

    def _on_occupancy_event(self, event: OccupancyEvent, now: float) -> None:
        match event:
            case OccupancyChanged(count=count):
                self._occupancy = count
                self._feed(e.OccupancyChanged(count), now)
            case Passage(direction=direction, beam=beam):
                # The sensor says which way and, with beams, through which door; a
                # count-only sensor's passage went through the door we ordered open.
                door = e.Door(beam.lower()) if beam in ("ENTRY", "EXIT") else None
                if door is None:
                    door = next(
                        (way for way in e.Door if self._controller.commanded_open(way)), None
                    )
                if direction == "in" and door is e.Door.ENTRY:
                    self._feed(e.EntryPassed(), now)
                elif direction == "out" and door is e.Door.EXIT:
                    self._feed(e.ExitPassed(), now)
            case TailgateDetected():
                # The sensor saw two people pass as one: at least two are inside.
                self._feed(e.OccupancyChanged(max(2, self._occupancy)), now)

    # -- the controller's orders to devices --------------------------------------

    def carry_out(self, command: c.Command) -> bool:
        """Send a door order or a signal to its device; whether ``command`` was one.

        Door boards and indicators are devices: their time is not the service's.
        """
        if not isinstance(command, _DEVICE_COMMANDS):
            return False
        with self._own_time.device():
            self._to_device(command)
        return True

    def _to_device(self, command: c.Command) -> None:
        shown = isinstance(command, c.ShowSignal | c.GuideTraveller)
        device = "indicator" if shown else "doors"
        try:
            if isinstance(command, c.ShowSignal):
                signal = command.signal
                self._devices.indicator.show(signal, _SIGNAL_TEXT[signal])
            elif isinstance(command, c.GuideTraveller):
                # Guidance is the look signal with a more telling instruction.
                self._devices.indicator.show(c.Signal.LOOK, command.guidance.text)
            else:
                self._door_orders.carry_out(command)
        except Exception as error:  # a driver bug degrades the gate, never kills it
            now = self._clock()
            self._driver_failed(device, error, now)
            door = ordered_door(command)
            if door is not None:
                # The order never left: the board will not answer it (the event
                # joins the queue of the controller's events being handled).
                self._feed(e.DoorAnswered(door, None), now)

    def retry_doors_now(self) -> None:
        """Order a door in fault again at the next step (an officer's reset)."""
        self._door_retry_at = 0.0

    def repeat_to_faulted_doors(self, now: float) -> None:
        """Order a door in fault again now and then: a board clears a fault on a new order.

        The exit is always ordered shut; the entry as the controller wants it
        (open while someone may need to walk back).
        """
        doors = self._devices.doors
        if now < self._door_retry_at or not doors.connected or doors.busy:
            return
        self._door_retry_at = now + self._door_retry_s
        for door in (e.Door.EXIT, e.Door.ENTRY):
            side = board_door(door)
            if doors.state(side) is not DoorState.FAULT:
                continue
            if door is e.Door.ENTRY and self._controller.commanded_open(door):
                doors.open(side)
            else:
                doors.close(side)
