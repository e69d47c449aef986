"""Training scenario files: the gates, the passengers, what each should teach.

A scenario is a YAML file (``docs/scenarios.md``): a start time, the gates and
their topology, the document policy and stop list, device faults, and the
passengers in order of arrival.  Each passenger brings a document (MRZ lines,
or fields from which a valid MRZ is composed, with deliberate defects on
request, forged by :mod:`egate.documents.forgery`), a chip (the DG2 photo,
``unreadable`` or ``none``), a live face (photos with an optional variation,
or ``none``), a behaviour (normal, slow, retreats, tailgates behind someone)
and the outcome and reasons a correct gate reaches: what the trainee should
learn.

``load_scenario`` validates everything a replay needs before anything runs:
an error is one line naming the file, its line, the passenger and the field.
Photos are checked to exist here and decoded when the replay is prepared.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from egate.clocktime import parse_time_of_day
from egate.config import ConfigError, ControllerConfig, LocatedError, MatchingConfig, load_config
from egate.documents.composer import DocumentData, MrzCompositionError
from egate.documents.forgery import Defect, forged_chip, forged_page
from egate.documents.layout import MrzFormat
from egate.documents.policy import DocumentPolicySettings
from egate.documents.states import is_known_state
from egate.samples import SAMPLES_PREFIX, SampleError, installed_samples

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
# Scenario seconds a person or a device takes for something.
Duration = Annotated[float, Field(ge=0, le=600, allow_inf_nan=False)]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".jp2", ".bmp", ".webp"})


class PassengerKind(StrEnum):
    """What a passenger stands for in the scorecard's counts."""

    GENUINE = "genuine"  # entitled to use the gate with their own passport
    IMPOSTOR = "impostor"  # presents someone else's genuine passport
    DOCUMENT_FRAUD = "document_fraud"  # forged or altered document
    INELIGIBLE = "ineligible"  # expired passport, a child, a nationality the gate does not serve
    STOP_LIST = "stop_list"  # a document reported lost or stolen
    TAILGATER = "tailgater"  # follows another passenger into the gate


class Expected(StrEnum):
    """The outcome a passenger's transaction should have; ``none``: no transaction at all."""

    ACCEPTED = "accepted"
    REFERRED = "referred"
    REJECTED = "rejected"
    ABORTED = "aborted"
    NONE = "none"


class FaultDevice(StrEnum):
    """A device a scenario can make fail."""

    CAMERA = "camera"  # unplugged
    READER = "reader"  # its serial link lost
    ENTRY_DOOR = "entry_door"  # jammed
    EXIT_DOOR = "exit_door"  # jammed


# -- images ------------------------------------------------------------------------


def _image_paths(text: str, info: ValidationInfo) -> tuple[Path, ...]:
    """The photo files ``text`` names: ``samples:NAME``, a file, or a folder of photos."""
    if text.startswith(SAMPLES_PREFIX):
        name = text[len(SAMPLES_PREFIX) :]
        samples = installed_samples((info.context or {}).get("sample_cache"))
        if samples is None:
            raise ValueError("sample photos are not fetched yet: run `egate samples fetch`")
        for candidate in (name, f"{name}.jpg"):
            try:
                return (samples.image(candidate),)
            except SampleError:
                continue
        known = ", ".join(path.stem for path in samples.images())
        raise ValueError(f"no sample photo {name!r} (there are: {known})")
    path = Path(text)
    base = (info.context or {}).get("base_dir")
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    if path.is_dir():
        photos = tuple(
            sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        )
        if not photos:
            raise ValueError(f"no photo in folder {path}")
        return photos
    if not path.is_file():
        raise ValueError(f"no such image file: {path}")
    return (path,)


def _photo(value: object, info: ValidationInfo) -> Path:
    """One photo: a folder stands for its first photo."""
    if not isinstance(value, str | Path):
        raise ValueError("expected the path of a photo, or samples:NAME")
    return _image_paths(str(value), info)[0]


ImageFile = Annotated[Path, BeforeValidator(_photo)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- documents ---------------------------------------------------------------------


class DocumentSpec(_Strict):
    """A passenger's document: printed MRZ lines, or the fields an MRZ is composed from."""

    mrz: tuple[str, ...] | None = Field(
        default=None, min_length=2, max_length=3, description="The printed MRZ lines, verbatim."
    )
    format: Literal["TD1", "TD2", "TD3"] = "TD3"
    type: str = Field(default="P", pattern=r"^[A-Z][A-Z<]?$")
    issuing_state: str | None = None
    nationality: str | None = Field(default=None, description="Default: the issuing state.")
    surname: str | None = None
    given_names: str = ""
    number: str | None = Field(default=None, pattern=r"^[A-Z0-9<]{1,9}$")
    birth_date: date | None = None
    sex: Literal["F", "M", "X", "<"] = "<"
    expiry_date: date | None = None
    defects: tuple[Defect, ...] = ()

    @field_validator("issuing_state", "nationality")
    @classmethod
    def _state(cls, code: str | None) -> str | None:
        if code is not None and not is_known_state(code):
            raise ValueError(f"{code!r} is not an ICAO state code")
        return code

    @model_validator(mode="after")
    def _complete(self) -> DocumentSpec:
        if self.mrz is not None:
            composed = {"issuing_state", "surname", "number", "birth_date", "expiry_date"}
            given = sorted(name for name in composed if getattr(self, name) is not None)
            if given or self.defects:
                extra = given or ["defects"]
                raise LocatedError(
                    (extra[0],), "give either mrz lines or the fields to compose one, not both"
                )
            return self
        for name in ("issuing_state", "surname", "number", "birth_date", "expiry_date"):
            if getattr(self, name) is None:
                raise LocatedError((name,), "required to compose the MRZ (or give mrz lines)")
        try:
            self.printed()
        except MrzCompositionError as error:
            raise ValueError(f"cannot compose an MRZ: {error}") from None
        return self

    def _data(self) -> DocumentData:
        assert self.issuing_state and self.surname and self.number
        assert self.birth_date and self.expiry_date
        return DocumentData(
            format=MrzFormat(self.format),
            document_type=self.type,
            issuing_state=self.issuing_state,
            surname=self.surname,
            given_names=self.given_names,
            document_number=self.number,
            nationality=self.nationality or self.issuing_state,
            birth_date=self.birth_date,
            sex=self.sex,
            expiry_date=self.expiry_date,
        )

    def chip_mrz(self) -> tuple[str, ...]:
        """The DG1 a genuine chip of this document holds: the true data."""
        if self.mrz is not None:
            return self.mrz
        return forged_chip(self._data(), self.defects)

    def printed(self) -> tuple[str, ...]:
        """The MRZ printed on the data page, as the reader sees it (defects applied)."""
        if self.mrz is not None:
            return self.mrz
        return forged_page(self._data(), self.defects)


# -- chip, face, behaviour, expectation -------------------------------------------------


class ChipSpec(_Strict):
    """The passport's chip: ``ok`` with its DG2 photo, ``unreadable`` (damaged) or ``absent``."""

    state: Literal["ok", "unreadable", "absent"] = "ok"
    photo: ImageFile | None = Field(
        default=None, description="The DG2 face image; without one the chip holds no photo."
    )
    format: Literal["jpeg", "jpeg2000"] = Field(
        default="jpeg", description="How DG2 stores the photo (many passports use JPEG 2000)."
    )
    read_s: Duration = Field(default=0.0, description="How long a read takes.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # chip: none | unreadable | PHOTO, or the full mapping
        if value is None or value == "none":
            return {"state": "absent"}
        if value == "unreadable":
            return {"state": "unreadable"}
        if isinstance(value, str):
            return {"photo": value}
        return value


class Variation(_Strict):
    """How the live image differs from the photo it is made from."""

    brightness: float = Field(default=1.0, gt=0, le=4, description="Pixel values times this.")
    blur: float = Field(default=0.0, ge=0, le=20, description="Gaussian blur sigma in pixels.")
    scale: float = Field(default=1.0, gt=0, le=4, description="Image size times this.")
    rotate: float = Field(default=0.0, ge=-45, le=45, description="Head tilt in degrees.")
    mirror: StrictBool = False


class FaceSpec(_Strict):
    """What the camera sees: one photo per capture attempt (the last one repeats).

    No photos: nobody in view of the camera (a failure to acquire).
    """

    photos: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    variation: Variation = Field(default_factory=Variation)
    resolved: tuple[Path, ...] = Field(default=(), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # face: none | PHOTO | [PHOTO, ...], or the mapping (photo: PHOTO for one)
        if value is None or value == "none":
            return {"photos": []}
        if isinstance(value, str):
            return {"photos": [value]}
        if isinstance(value, list):
            return {"photos": value}
        if isinstance(value, dict) and "photo" in value and "photos" not in value:
            rest = {key: item for key, item in value.items() if key != "photo"}
            return {**rest, "photos": [value["photo"]]}
        return value

    @field_validator("photos")
    @classmethod
    def _exist(cls, photos: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for index, text in enumerate(photos):
            try:
                _image_paths(text, info)
            except ValueError as error:
                raise LocatedError((index,), str(error)) from None
        return photos

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> FaceSpec:
        paths = tuple(path for text in self.photos for path in _image_paths(text, info))
        object.__setattr__(self, "resolved", paths)
        return self


# Default timings of a passenger (scenario seconds): laying the passport down,
# walking through an open door.  A slow passenger takes longer.
PRESENT_S, WALK_S = 2.0, 1.5
SLOW_PRESENT_S, SLOW_WALK_S = 8.0, 6.0


class BehaviourSpec(_Strict):
    """How a passenger acts at the gate."""

    slow: StrictBool = False
    retreats: StrictBool = Field(
        default=False, description="Takes the passport back and walks away once the entry opens."
    )
    tailgates: Identifier | None = Field(
        default=None, description="Follows this passenger into the gate (a tailgater)."
    )
    present_s: Duration | None = None
    walk_s: Duration | None = None

    @property
    def present(self) -> float:
        """Seconds from stepping up to laying the document on the reader."""
        default = SLOW_PRESENT_S if self.slow else PRESENT_S
        return default if self.present_s is None else self.present_s

    @property
    def walk(self) -> float:
        """Seconds to walk through a door once it stands open."""
        default = SLOW_WALK_S if self.slow else WALK_S
        return default if self.walk_s is None else self.walk_s


def _behaviour(value: object) -> object:
    if value is None or value == "normal":
        return {}
    if value == "slow":
        return {"slow": True}
    if value == "retreats":
        return {"retreats": True}
    if isinstance(value, str):
        raise ValueError("expected normal, slow, retreats or a mapping such as {tailgates: P012}")
    return value


BehaviourField = Annotated[BehaviourSpec, BeforeValidator(_behaviour)]
REASON_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")


class Expectation(_Strict):
    """The outcome a correct gate reaches, and every reason code it must give."""

    outcome: Expected
    reasons: tuple[Annotated[str, Field(pattern=REASON_CODE.pattern)], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, str):
            return {"outcome": value}
        if isinstance(value, dict) and "reason" in value:
            if "reasons" in value:
                raise ValueError("give reason or reasons, not both")
            rest = {key: item for key, item in value.items() if key != "reason"}
            return {**rest, "reasons": [value["reason"]]}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Expectation:
        if self.outcome in (Expected.ACCEPTED, Expected.NONE) and self.reasons:
            raise LocatedError(("reasons",), f"an outcome of {self.outcome.value} has no reasons")
        return self

    def met_by(self, outcome: str | None, reasons: tuple[str, ...]) -> bool:
        """Whether an actual outcome meets this: the same outcome, every expected reason given."""
        actual = outcome or Expected.NONE.value
        return actual == self.outcome.value and set(self.reasons) <= set(reasons)


def _arrival(value: object) -> object:
    """Seconds after the start (a number), or a time of day ``"HH:MM[:SS]"`` (a string)."""
    if isinstance(value, bool):
        raise ValueError('expected seconds after the start, or a time of day such as "07:31:20"')
    if isinstance(value, int | float):
        return value
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        return parse_time_of_day(value)  # egate.clocktime's grammar, hours up to 23
    raise ValueError('expected seconds after the start, or a time of day such as "07:31:20"')


Arrival = Annotated[float | time, BeforeValidator(_arrival)]


class PassengerSpec(_Strict):
    """One passenger of the scenario."""

    id: Identifier
    kind: PassengerKind = PassengerKind.GENUINE
    arrives: Arrival | None = Field(
        default=None,
        description="Seconds after the start, or a time of day; default: with the one before.",
    )
    gate: Identifier | None = Field(default=None, description="Default: the first free gate.")
    document: DocumentSpec | None = None
    chip: ChipSpec | None = None
    face: FaceSpec | None = None
    behaviour: BehaviourField = Field(default_factory=BehaviourSpec)
    expected: Expectation
    learn: str = Field(default="", description="What the trainee should take from this passenger.")

    @model_validator(mode="after")
    def _complete(self) -> PassengerSpec:
        tailgater = self.behaviour.tailgates is not None
        if tailgater:
            for name in ("document", "chip", "face", "arrives", "gate"):
                if getattr(self, name) is not None:
                    raise LocatedError(
                        (name,), "a tailgater brings nothing of their own: they follow someone in"
                    )
            if self.kind is not PassengerKind.TAILGATER:
                raise LocatedError(("kind",), "a passenger who tailgates is of kind tailgater")
            if self.behaviour.retreats or self.behaviour.slow:
                raise LocatedError(("behaviour",), "a tailgater only follows")
            return self
        if self.kind is PassengerKind.TAILGATER:
            raise LocatedError(("behaviour",), "a tailgater needs {tailgates: PASSENGER}")
        for name in ("document", "chip", "face"):
            if getattr(self, name) is None:
                hint = {"chip": " (a photo, unreadable or none)", "face": " (a photo, or none)"}
                raise LocatedError((name,), f"required{hint.get(name, '')}")
        return self

    @property
    def tailgater(self) -> bool:
        """Whether this passenger follows someone else in."""
        return self.behaviour.tailgates is not None


class GatesSpec(_Strict):
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


class StopListEntry(_Strict):
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


class FaultSpec(_Strict):
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


class Scenario(_Strict):
    """A whole training scenario; see the module docstring."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    start: datetime = Field(description="When the wave starts; documents are judged on its day.")
    gates: GatesSpec = Field(default_factory=GatesSpec)
    policy: DocumentPolicySettings = Field(default_factory=DocumentPolicySettings)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    stop_list: tuple[StopListEntry, ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    passengers: tuple[PassengerSpec, ...] = Field(min_length=1, max_length=2000)

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


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; ``ConfigError`` with a one-line message when it is bad."""
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
]
