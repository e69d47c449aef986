"""What a classroom sees of a running replay: lanes, queue, decisions, transcript, desk.

The replay feeds a ``LiveView`` from its own thread (``gate_item`` for every
event and command of a gate, ``document`` for every MRZ the gate read,
``line`` for every transcript line, ``lanes`` for the gates' state at each
round); a web console reads it from another thread (``snapshot``,
``lines_since``, ``photo``).  ``version`` changes whenever anything a viewer
sees has changed, so a console sends only what is new.

This is a training view of made-up travellers on a loopback console: it
shows what an officer would see, the MRZ and both photos included, and
keeps none of it once the replay ends.  Photos are held as decoded images and
encoded as JPEG only when a browser asks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import quote

import cv2
import numpy as np

from egate.biometrics.guidance import CaptureGuidance
from egate.biometrics.image import RgbImage
from egate.documents.layout import LAYOUTS
from egate.documents.mrz import MrzResult
from egate.gate import commands as c
from egate.gate import events as e
from station.training.control import RATES, ReplayControl
from station.training.desk import Desk
from station.training.facedecisions import Face, Margin, NearThreshold, margin_of
from station.training.narration import PRESENTATION_ATTACK
from station.training.scenario import FaultDevice, Scenario
from station.training.transcript import Line, clock_text

PhotoKind = Literal["chip", "capture"]
PHOTO_KINDS: tuple[PhotoKind, ...] = ("chip", "capture")
# Decisions kept for the view (a long wave has hundreds; the console shows the latest).
MAX_DECISIONS = 300
# Largest side of a photo sent to a browser, in pixels.
PHOTO_SIDE = 480
# The devices a lane shows as up or down, by the names the service reports faults under.
LANE_DEVICES = ("reader", "chip", "doors", "occupancy", "camera")


@dataclass(slots=True)
class LaneState:
    """One gate as the replay sees it at a round."""

    gate: str
    state: str
    passenger: str | None
    doors: dict[str, str]


@dataclass(slots=True)
class _Lane:
    gate: str
    state: str = "idle"
    degraded: bool = False
    doors: dict[str, str] = field(default_factory=lambda: {"entry": "unknown", "exit": "unknown"})
    indicator: str = "off"
    occupancy: int = 0
    passenger: str | None = None
    step: str = "idle"
    devices: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(LANE_DEVICES, True))
    # The capture instruction the indicator shows with its look signal, until it changes.
    guidance: CaptureGuidance | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "gate": self.gate,
            "state": self.state,
            "degraded": self.degraded,
            "doors": dict(self.doors),
            "indicator": self.indicator,
            "occupancy": self.occupancy,
            "passenger": self.passenger,
            "step": self.step,
            "devices": dict(self.devices),
            "guidance": None
            if self.guidance is None
            else {"code": self.guidance.value, "text": self.guidance.text},
        }


@dataclass(slots=True)
class _Photos:
    chip: bytes | None = None  # the DG2 image as stored on the chip (JPEG or JPEG 2000)
    capture: RgbImage | None = None
    encoded: dict[str, bytes] = field(default_factory=dict)


# The controller's states in which a lane counts as degraded.
_DEGRADED = frozenset({"degraded", "closed"})
# What a lane's step reads as, by the controller's state.
_STEPS = {
    "idle": "idle",
    "reading": "document",
    "entering": "entry",
    "capturing": "capture",
    "verifying": "verify",
    "exiting": "exit",
    "degraded": "degraded",
    "closed": "closed",
}


class LiveView:
    """The classroom's view of one replay; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        source: str,
        gates: Sequence[str],
        start: datetime,
        threshold: float,
        near_threshold: NearThreshold | None = None,
        fault_devices: Sequence[str] = (),
        catalogue: Callable[[], list[dict[str, str]]] | None = None,
        control_state: Callable[[], dict[str, object]] | None = None,
        desk: Desk | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._version = 0
        self._name, self._source = name, source
        self._gates = tuple(gates)
        self._start = start
        self._threshold = threshold
        self._faces: dict[str, Face] = {}
        self._near = near_threshold or NearThreshold()
        self._fault_devices = tuple(fault_devices)
        self._catalogue = catalogue or list
        self._control_state = control_state or dict
        self.desk = desk or Desk()
        self._lanes = {gate: _Lane(gate) for gate in self._gates}
        self._queue: list[dict[str, object]] = []
        self._passengers: dict[str, dict[str, object]] = {}
        self._decisions: list[dict[str, object]] = []
        self._decision_ids = 0
        self._lines: list[dict[str, object]] = []
        self._faults: list[dict[str, object]] = []
        self._photos: dict[str, _Photos] = {}
        self._at = 0.0
        self._scorecard: dict[str, object] | None = None
        self._pending_document: dict[str, MrzResult] = {}
        self._transport: tuple[object, ...] = ()

    # -- what the console reads ------------------------------------------------

    @property
    def version(self) -> int:
        """A number that changes whenever the view has changed, the desk and the transport
        (paused, rate, finished) included."""
        control = self._control_state()
        transport = (control.get("paused"), control.get("rate"), control.get("finished"))
        with self._lock:
            if transport != self._transport:
                self._transport = transport
                self._changed()
            return self._version + self.desk.version

    def snapshot(self) -> dict[str, object]:
        """The state a console shows (the transcript apart: ``lines_since``)."""
        control = self._control_state()
        with self._lock:
            return {
                "scenario": {
                    "name": self._name,
                    "source": self._source,
                    "gates": list(self._gates),
                    "start": self._start.isoformat(),
                    "threshold": self._threshold,
                    "near_threshold": {
                        "genuine_above": self._near.genuine_above,
                        "impostor_below": self._near.impostor_below,
                    },
                },
                "clock": {
                    "at_s": round(self._at, 1),
                    "time": clock_text(self._start, self._at),
                    "paused": bool(control.get("paused", False)),
                    "rate": control.get("rate", 1.0),
                    "rates": control.get("rates", [1.0]),
                    "finished": bool(control.get("finished", False)),
                },
                "lanes": [lane.to_json() for lane in self._lanes.values()],
                "queue": [dict(entry) for entry in self._queue],
                "decisions": [dict(decision) for decision in self._decisions],
                "passengers": [dict(p) for p in self._passengers.values()],
                "faults": {
                    "devices": list(self._fault_devices),
                    "active": [dict(f) for f in self._faults if float(f["until_s"]) > self._at],  # type: ignore[arg-type]
                },
                "catalogue": self._catalogue(),
                "desk": self._desk_json(),
                "role": "viewer",
                "scorecard": self._scorecard,
            }

    def lines_since(self, seq: int) -> list[dict[str, object]]:
        """The transcript lines after number ``seq`` (numbers start at 1)."""
        with self._lock:
            return [dict(line) for line in self._lines[max(0, seq) :]]

    def photo(self, passenger: str, which: str) -> bytes | None:
        """A passenger's chip photo or live capture as JPEG, or None."""
        with self._lock:
            photos = self._photos.get(passenger)
            if photos is None or which not in PHOTO_KINDS:
                return None
            cached = photos.encoded.get(which)
            if cached is not None:
                return cached
            image = _decoded_chip(photos.chip) if which == "chip" else photos.capture
            encoded = None if image is None else _jpeg(image)
            if encoded is not None:
                photos.encoded[which] = encoded
            return encoded

    # -- what the replay feeds -------------------------------------------------

    def passenger(
        self,
        passenger: str,
        chip: bytes | None,
        capture: RgbImage | None,
        face: Face = Face.OTHER,
    ) -> None:
        """A passenger the replay knows of, with the photos an officer would compare and
        whose face the camera sees (for the near-threshold warning)."""
        with self._lock:
            self._photos[passenger] = _Photos(chip, capture)
            self._faces[passenger] = face
            self._passengers[passenger] = {
                "id": passenger,
                "gate": None,
                "status": "not_arrived",
                "outcome": None,
            }
            self._changed()

    def lanes(
        self,
        at: float,
        lanes: Sequence[LaneState],
        queue: Sequence[tuple[str, float]],
        statuses: Mapping[str, tuple[str, str | None, str | None]],
    ) -> None:
        """The gates, the queue and each passenger's (status, gate, outcome) at ``at``."""
        with self._lock:
            before = self._state_key()
            self._at = at
            for state in lanes:
                lane = self._lanes[state.gate]
                lane.state = state.state
                lane.degraded = state.state in _DEGRADED
                lane.passenger = state.passenger
                lane.step = _STEPS.get(state.state, state.state)
                lane.doors.update(state.doors)
            self._queue = [
                {"passenger": who, "waiting_s": round(max(0.0, at - since), 1)}
                for who, since in queue
            ]
            for who, (status, gate, outcome) in statuses.items():
                entry = self._passengers.get(who)
                if entry is not None:
                    entry.update(status=status, gate=gate, outcome=outcome)
            # The clock moves every round; count it as a change at most every tenth of a second.
            if self._state_key() != before:
                self._changed()

    def gate_item(self, gate: str, at: float, passenger: str | None, item: object) -> None:
        """An event the gate's controller got or a command it gave."""
        with self._lock:
            lane = self._lanes.get(gate)
            if lane is None:
                return
            match item:
                case e.DoorReported(door=door, position=position) if position is not None:
                    lane.doors[door.value] = position.value
                case c.ShowSignal(signal=signal):
                    lane.indicator = signal.value
                    lane.guidance = None
                case c.GuideTraveller(guidance=guidance):
                    lane.indicator = c.Signal.LOOK.value
                    lane.guidance = guidance
                case e.OccupancyChanged(count=count):
                    lane.occupancy = count
                case e.DeviceFault(device=device):
                    lane.devices[device] = False
                case e.DeviceRecovered(device=device):
                    lane.devices[device] = True
                case e.FaceVerified(decision=decision, distance=distance, reason=reason):
                    face = self._faces.get(passenger or "", Face.OTHER)
                    margin = margin_of(face, distance, self._threshold, self._near)
                    self._decision(
                        {
                            "kind": "face",
                            "at_s": round(at, 1),
                            "gate": gate,
                            "passenger": passenger,
                            "decision": decision.value,
                            "reason": reason,
                            "attack": reason == PRESENTATION_ATTACK,
                            "distance": None if distance is None else round(distance, 4),
                            "threshold": self._threshold,
                            "margin": margin.value,
                            "near_threshold": margin is not Margin.CLEAR,
                            "chip_photo": self._photo_url(passenger, "chip"),
                            "capture_photo": self._photo_url(passenger, "capture"),
                        }
                    )
                case e.DocumentRead(mrz_valid=valid, check=check):
                    result = self._pending_document.pop(gate, None)
                    self._decision(
                        {
                            "kind": "document",
                            "at_s": round(at, 1),
                            "gate": gate,
                            "passenger": passenger,
                            "valid": valid,
                            "verdict": check.verdict.value,
                            "reasons": list(check.reasons),
                            **_mrz_view(result),
                        }
                    )
                case _:
                    return
            self._changed()

    def document(self, gate: str, result: MrzResult) -> None:
        """The MRZ the gate read, before its controller hears the verdict (``DocumentRead``)."""
        with self._lock:
            self._pending_document[gate] = result

    def line(self, line: Line) -> None:
        """A transcript line."""
        with self._lock:
            self._lines.append({**line.to_json(self._start), "seq": len(self._lines) + 1})
            self._changed()

    def fault(self, gate: str, device: str, at: float, until: float) -> None:
        """A fault injected from ``at`` until ``until`` (scenario seconds)."""
        with self._lock:
            self._faults.append(
                {"gate": gate, "device": device, "from_s": round(at, 1), "until_s": round(until, 1)}
            )
            self._changed()

    def finished(self, scorecard: dict[str, object]) -> None:
        """The replay has ended; ``scorecard`` is its scorecard JSON."""
        with self._lock:
            self._scorecard = scorecard
            self._changed()

    # -- inside ------------------------------------------------------------------

    def _photo_url(self, passenger: str | None, which: PhotoKind) -> str | None:
        """Where a browser gets the photo, or None when there is none to get."""
        photos = None if passenger is None else self._photos.get(passenger)
        if photos is None or (photos.chip if which == "chip" else photos.capture) is None:
            return None
        return _photo_url(passenger, which)

    def _desk_json(self) -> dict[str, object]:
        """The desk, with no address for a photo the traveller does not have."""
        desk = self.desk.to_json()
        cases = desk.get("cases")
        for case in cases if isinstance(cases, list) else ():
            who = case.get("passenger")
            for which in PHOTO_KINDS:
                case[f"{which}_photo"] = self._photo_url(
                    who if isinstance(who, str) else None, which
                )
        return desk

    def _decision(self, decision: dict[str, object]) -> None:
        self._decision_ids += 1
        self._decisions.append({"id": self._decision_ids, **decision})
        del self._decisions[:-MAX_DECISIONS]

    def _state_key(self) -> tuple[object, ...]:
        return (
            round(self._at, 1),
            tuple(
                (lane.state, lane.passenger, tuple(lane.doors.items()))
                for lane in self._lanes.values()
            ),
            tuple(tuple(entry.items()) for entry in self._queue),
            tuple(tuple(p.items()) for p in self._passengers.values()),
        )

    def _changed(self) -> None:
        self._version += 1


def _photo_url(passenger: object, which: PhotoKind) -> str | None:
    if not isinstance(passenger, str):
        return None
    return f"/api/photo/{quote(passenger, safe='')}/{which}"


def _mrz_view(result: MrzResult | None) -> dict[str, object]:
    """The MRZ as read, its failed check digits and its repaired characters (1-based)."""
    if result is None:
        return {"mrz": [], "failed": [], "repaired": []}
    layout = LAYOUTS[result.format]
    failed: list[dict[str, object]] = []
    for check in result.checks:
        if check.ok or not check.name.endswith("_check_digit"):
            continue
        offset = getattr(layout, check.name.removesuffix("_digit"), None)
        if isinstance(offset, int):
            line, column = layout.locate(offset)
            failed.append(
                {"field": check.name.removesuffix("_check_digit"), "line": line, "column": column}
            )
    return {
        "mrz": list(result.lines),
        "failed": failed,
        "repaired": [repair.to_json() for repair in result.repairs],
    }


def _decoded_chip(data: bytes | None) -> RgbImage | None:
    """The chip's photo decoded (JPEG or JPEG 2000), or None when it is no image."""
    if not data:
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _jpeg(image: RgbImage) -> bytes | None:
    """``image`` as a JPEG no larger than ``PHOTO_SIDE``, or None when it cannot be one."""
    rows, columns = image.shape[:2]
    scale = min(1.0, PHOTO_SIDE / max(rows, columns, 1))
    if scale < 1.0:
        size = (max(1, round(columns * scale)), max(1, round(rows * scale)))
        image = np.ascontiguousarray(
            cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    return bytes(encoded) if ok else None


def live_view(
    scenario: Scenario,
    source: str,
    control: ReplayControl,
    *,
    near_threshold: NearThreshold | None = None,
) -> LiveView:
    """The live view of replaying ``scenario`` under ``control``, with a desk of its own."""

    def control_state() -> dict[str, object]:
        return {
            "paused": control.paused,
            "rate": control.rate,
            "rates": list(RATES),
            "finished": control.finished,
        }

    return LiveView(
        name=scenario.name,
        source=source,
        gates=scenario.gates.names,
        start=scenario.start,
        threshold=scenario.matching.verifier.threshold,
        near_threshold=near_threshold or scenario.report.near_threshold,
        fault_devices=[device.value for device in FaultDevice],
        catalogue=control.catalogue,
        control_state=control_state,
    )


__all__ = [
    "LANE_DEVICES",
    "MAX_DECISIONS",
    "LaneState",
    "LiveView",
    "live_view",
]
