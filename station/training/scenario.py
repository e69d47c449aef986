"""Training scenario files: the gates, the passengers, what each should teach.

A scenario is a YAML file (``docs/scenarios.md``): a start time, the gates and
their topology, the document policy and stop list, device faults, and the
passengers in order of arrival.  Each passenger is a ``PassengerSpec``
(:mod:`station.people.passenger_spec`, the traveller model the mock gate's
sample travellers share): a document (forged by :mod:`egate.documents.forgery`
when it has defects), a chip, a live face, a behaviour, and the outcome and
reasons a correct gate reaches: what the trainee should learn.

``load_scenario`` validates everything a replay needs before anything runs:
an error is one line naming the file, its line, the passenger and the field.
Photos are checked to exist here and decoded when the replay is prepared.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from egate.config import ConfigError, ControllerConfig, LocatedError, MatchingConfig, load_config
from egate.documents.forgery import Defect
from egate.documents.pki.errors import PkiError
from egate.documents.pki.testpki import load_test_pki
from egate.documents.policy import DocumentPolicySettings
from station.people.passenger_spec import (
    Arrival,
    BehaviourSpec,
    ChipSpec,
    DocumentSpec,
    Expectation,
    Expected,
    FaceSpec,
    Identifier,
    PassengerKind,
    PassengerSpec,
    StrictModel,
    Variation,
)


class FaultDevice(StrEnum):
    """A device a scenario can make fail."""

    CAMERA = "camera"  # unplugged
    READER = "reader"  # its serial link lost
    ENTRY_DOOR = "entry_door"  # jammed
    EXIT_DOOR = "exit_door"  # jammed
    BOARD = "board"  # the door board switched off, then on again (power-cycled)


class GatesSpec(StrictModel):
    """The gates of the scenario: names, topology, limits, door speed."""

    ids: tuple[Identifier, ...] | None = Field(default=None, min_length=1, max_length=16)
    count: int | None = Field(default=None, ge=1, le=16)
    controller: ControllerConfig = Field(default_factory=ControllerConfig)
    door_travel_s: float = Field(default=1.5, gt=0, le=10, description="A door's travel time.")

    @model_validator(mode="after")
    def _names(self) -> GatesSpec:
        if self.ids is not None and self.count is not None and self.count != len(self.ids):
            raise LocatedError(("count",), f"{self.count} gates but {len(self.ids)} ids")
        if self.ids is not None and len(set(self.ids)) != len(self.ids):
            raise LocatedError(("ids",), "a gate id is given twice")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The gate ids, ``G1``.. when only a count is given."""
        if self.ids is not None:
            return self.ids
        return tuple(f"G{number}" for number in range(1, (self.count or 1) + 1))


class StopListEntry(StrictModel):
    """A document on the stop list: by issuing state and number, or a passenger's document."""

    passenger: Identifier | None = None
    issuing_state: str | None = None
    number: str | None = Field(default=None, pattern=r"^[A-Z0-9<]{1,9}$")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"passenger": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_way(self) -> StopListEntry:
        explicit = self.issuing_state is not None and self.number is not None
        if (self.passenger is not None) == explicit or (
            self.passenger is None and (self.issuing_state is None or self.number is None)
        ):
            raise ValueError("give a passenger id, or issuing_state and number")
        return self


class FaultSpec(StrictModel):
    """A device failing during the replay, and for how long."""

    device: FaultDevice
    gate: Identifier | None = Field(default=None, description="Default: the first gate.")
    during: Identifier | None = Field(
        default=None, description="Fails once this passenger has walked into the gate."
    )
    at: Arrival | None = Field(default=None, description="Or fails at this time.")
    lasts_s: float = Field(default=15.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _when(self) -> FaultSpec:
        if (self.during is None) == (self.at is None):
            raise ValueError("give either during (a passenger id) or at (a time)")
        return self


def _test_pki_folder(folder: Path, info: ValidationInfo) -> Path:
    """A test PKI folder, relative to the scenario file; its four files must load."""
    base = (info.context or {}).get("base_dir")
    if base is not None and not folder.is_absolute():
        folder = Path(base) / folder
    try:
        load_test_pki(folder)
    except PkiError as error:
        raise ValueError(str(error)) from None
    return folder


def photo_root(folder: Path, base: object = None) -> Path | str:
    """``folder`` (relative to ``base``, the scenario's folder), or why it is no photo root."""
    if isinstance(base, Path) and not folder.is_absolute():
        folder = base / folder
    if not folder.is_dir():
        return f"no such folder: {folder}"
    return folder


class NearThreshold(StrictModel):
    """How close to the threshold a face distance must come for the report to point it out."""

    genuine_above: float = Field(
        default=0.5,
        ge=0,
        lt=2,
        allow_inf_nan=False,
        description="A genuine traveller's distance above this is near the threshold.",
    )
    impostor_below: float = Field(
        default=0.7,
        ge=0,
        lt=2,
        allow_inf_nan=False,
        description="An impostor's distance below this is near the threshold.",
    )


class ReportSpec(StrictModel):
    """How the replay's report and console point out what a trainer should look at."""

    near_threshold: NearThreshold = Field(default_factory=NearThreshold)


class Scenario(StrictModel):
    """A whole training scenario; see the module docstring."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    start: datetime = Field(description="When the wave starts; documents are judged on its day.")
    gates: GatesSpec = Field(default_factory=GatesSpec)
    policy: DocumentPolicySettings = Field(default_factory=DocumentPolicySettings)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    stop_list: tuple[StopListEntry, ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    report: ReportSpec = Field(default_factory=ReportSpec)
    pki: Annotated[Path, AfterValidator(_test_pki_folder)] | None = Field(
        default=None,
        description=(
            "A test PKI folder (egate pki init), relative to the scenario: its document signer "
            "signs the genuine chips and its CSCA is the gates' trust store. Default: a test "
            "PKI made for the run."
        ),
    )
    seed: int = Field(
        default=0,
        ge=0,
        le=2**32 - 1,
        description="Seeds what a replay draws at random: the attack clips' motion and look.",
    )
    photos: Path | None = Field(
        default=None,
        description=(
            "The folder photo paths resolve against, relative to the scenario (egate replay "
            "--photos overrides it). Default: the scenario's folder."
        ),
    )
    passengers: tuple[PassengerSpec, ...] = Field(min_length=1, max_length=2000)

    @model_validator(mode="before")
    @classmethod
    def _photo_root(cls, data: object, info: ValidationInfo) -> object:
        # The photo root must be known before the passengers' photos are checked.
        context = info.context
        if not isinstance(data, dict) or not isinstance(context, dict):
            return data
        given = data.get("photos")
        if isinstance(given, str | Path):
            root = photo_root(Path(given), context.get("base_dir"))
            if isinstance(root, str):
                raise LocatedError(("photos",), root)
            context.setdefault("photo_dir", root)
            data = {**data, "photos": root}
        return data

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        index: dict[str, int] = {}
        for number, passenger in enumerate(self.passengers):
            if passenger.id in index:
                raise LocatedError(
                    ("passengers", number, "id"),
                    f"passenger id {passenger.id!r} is used twice (first by passenger "
                    f"number {index[passenger.id] + 1})",
                )
            index[passenger.id] = number
        gates = set(self.gates.names)
        followed: dict[str, str] = {}
        last_arrival = 0.0
        for number, passenger in enumerate(self.passengers):
            where = ("passengers", number)
            document = passenger.document
            if (
                document is not None
                and document.birth_date is not None
                and document.birth_date > self.today
            ):
                # Two-digit MRZ years would read it a century earlier: a "child" passes.
                raise LocatedError(
                    (*where, "document", "birth_date"),
                    f"{document.birth_date} is after the scenario's start ({self.today})",
                )
            if passenger.gate is not None and passenger.gate not in gates:
                raise LocatedError((*where, "gate"), f"no gate {passenger.gate!r} in gates")
            leader = passenger.behaviour.tailgates
            if leader is not None:
                field = (*where, "behaviour", "tailgates")
                if leader not in index:
                    raise LocatedError(field, f"no passenger {leader!r} in the scenario")
                if self.passengers[index[leader]].tailgater:
                    raise LocatedError(field, f"{leader} is a tailgater too: follow a traveller")
                if leader in followed:
                    raise LocatedError(field, f"{followed[leader]} already follows {leader}")
                followed[leader] = passenger.id
                continue
            if passenger.arrives is not None:
                arrival = self.offset(passenger.arrives)
                if arrival < last_arrival:
                    raise LocatedError(
                        (*where, "arrives"),
                        "passengers are listed in order of arrival: this one arrives before "
                        "the one listed before",
                    )
                last_arrival = arrival
        for number, entry in enumerate(self.stop_list):
            if entry.passenger is not None:
                known = (
                    entry.passenger in index
                    and not self.passengers[index[entry.passenger]].tailgater
                )
                if not known:
                    raise LocatedError(
                        ("stop_list", number, "passenger"),
                        f"no passenger {entry.passenger!r} with a document in the scenario",
                    )
        for number, fault in enumerate(self.faults):
            if fault.gate is not None and fault.gate not in gates:
                raise LocatedError(("faults", number, "gate"), f"no gate {fault.gate!r} in gates")
            if fault.during is not None and fault.during not in index:
                raise LocatedError(
                    ("faults", number, "during"), f"no passenger {fault.during!r} in the scenario"
                )
            if fault.at is not None and self.offset(fault.at) < 0:
                raise LocatedError(("faults", number, "at"), "before the scenario starts")
        return self

    def offset(self, moment: float | time) -> float:
        """Seconds after the start of an arrival or fault time (a time of day or seconds)."""
        if isinstance(moment, time):
            start = self.start
            at = datetime.combine(start.date(), moment, tzinfo=start.tzinfo)
            return (at - start).total_seconds()
        return float(moment)

    def arrivals(self) -> dict[str, float]:
        """Seconds after the start at which each non-tailgating passenger steps up."""
        times: dict[str, float] = {}
        last = 0.0
        for passenger in self.passengers:
            if passenger.tailgater:
                continue
            if passenger.arrives is not None:
                last = self.offset(passenger.arrives)
            times[passenger.id] = last
        return times

    @property
    def today(self) -> date:
        """The day documents are judged on."""
        return self.start.date()


def _name_location(data: object, location: tuple[int | str, ...]) -> str:
    """``passengers.6.chip`` as ``passenger P007: chip``, for error messages."""
    dotted = ".".join(str(step) for step in location) or "(top level)"
    if len(location) >= 2 and location[0] == "passengers" and isinstance(location[1], int):
        passengers = data.get("passengers") if isinstance(data, dict) else None
        entry = (
            passengers[location[1]]
            if isinstance(passengers, list) and location[1] < len(passengers)
            else None
        )
        name = entry.get("id") if isinstance(entry, dict) else None
        who = (
            f"passenger {name}" if isinstance(name, str) else f"passenger number {location[1] + 1}"
        )
        rest = ".".join(str(step) for step in location[2:])
        return f"{who}: {rest}" if rest else who
    return dotted


def load_scenario(path: Path, *, photos: Path | None = None) -> Scenario:
    """Read and check a scenario file; ``ConfigError`` with a one-line message when it is bad.

    ``photos`` (egate replay --photos) is the folder photo paths resolve
    against, over the file's own ``photos:`` and its folder.
    """
    if photos is not None:
        root = photo_root(photos)
        if isinstance(root, str):
            raise ConfigError(f"--photos {photos}: {root}")
        return load_config(path, Scenario, namer=_name_location, context={"photo_dir": root})
    return load_config(path, Scenario, namer=_name_location)


__all__ = [
    "BehaviourSpec",
    "ChipSpec",
    "ConfigError",
    "Defect",
    "DocumentSpec",
    "Expectation",
    "Expected",
    "FaceSpec",
    "FaultDevice",
    "FaultSpec",
    "GatesSpec",
    "PassengerKind",
    "PassengerSpec",
    "Scenario",
    "StopListEntry",
    "Variation",
    "load_scenario",
    "photo_root",
]
