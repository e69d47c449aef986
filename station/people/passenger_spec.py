"""A passenger as a training scenario describes one: document, chip, face, behaviour, outcome.

(One concept past the ~400-line guideline: one passenger as a scenario file
writes it, a tree of pydantic models whose sections, document, chip, face,
behaviour, expectation and desk answer, are validated against each other.)

``PassengerSpec`` is the one traveller model.  A scenario file lists its
passengers in it (:mod:`station.training.scenario`), and the mock gate's
stream of sample travellers (:mod:`station.people.travellers`) draws its own
in it, so both speak of the same kinds (``PassengerKind``), document defects
(:class:`egate.documents.forgery.Defect`) and expected outcomes
(``Expectation``).  Each passenger brings a document (MRZ lines, or fields
from which a valid MRZ is composed, forged with deliberate defects on
request), a chip (the DG2 photo, ``unreadable`` or ``none``), a live face
(photos with an optional variation, or ``none``), a behaviour (normal, slow,
retreats, tailgates behind someone), the outcome and reasons a correct
gate reaches, and what an officer should decide at the desk
(``DeskExpectation``: the ``desk:`` key, else by kind).
:mod:`station.people.traveller` turns one into what the mock gate's
devices need.

Photos are checked to exist when a passenger is validated; they are decoded
when a replay is prepared (or, for the mock stream, by the mock camera).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, time
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
from egate.config import LocatedError
from egate.documents.composer import DocumentData, MrzCompositionError
from egate.documents.forgery import CHIP_FORGERIES, Defect, forged_chip, forged_page, issued_chip
from egate.documents.layout import MrzFormat
from egate.documents.states import is_known_state
from egate.samples import SAMPLES_PREFIX, SampleError, installed_samples

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
# Scenario seconds a person or a device takes for something.
Duration = Annotated[float, Field(ge=0, le=600, allow_inf_nan=False)]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".jp2", ".bmp", ".webp"})
# Most camera pictures one passenger's face sequence holds (30 s at 10 frames a second).
MAX_FACE_FRAMES = 300


class PassengerKind(StrEnum):
    """What a passenger stands for in the scorecard's counts."""

    GENUINE = "genuine"  # entitled to use the gate with their own passport
    IMPOSTOR = "impostor"  # presents someone else's genuine passport
    DOCUMENT_FRAUD = "document_fraud"  # forged or altered document
    INELIGIBLE = "ineligible"  # expired passport, a child, a nationality the gate does not serve
    STOP_LIST = "stop_list"  # a document reported lost or stolen
    TAILGATER = "tailgater"  # follows another passenger into the gate
    # Holds a picture of a face up to the camera: a print or a screen (a presentation attack).
    PRESENTATION_ATTACK = "presentation_attack"


class Expected(StrEnum):
    """The outcome a passenger's transaction should have; ``none``: no transaction at all."""

    ACCEPTED = "accepted"
    REFERRED = "referred"
    REJECTED = "rejected"
    ABORTED = "aborted"
    NONE = "none"


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
    context = info.context or {}
    # The scenario's photo root (photos:, or egate replay --photos), else its folder.
    base = context.get("photo_dir") or context.get("base_dir")
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


class StrictModel(BaseModel):
    """A part of a scenario file: unknown keys are errors, and it never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# -- documents ---------------------------------------------------------------------


MRZ_CHARACTER = r"^[A-Z0-9<]$"


class OcrMisread(StrictModel):
    """One character the reader gets wrong: line and position count from 1."""

    line: int = Field(ge=1, le=3)
    position: int = Field(ge=1, le=44)
    read_as: str = Field(pattern=MRZ_CHARACTER, description="One MRZ character: A-Z, 0-9 or <.")

    def apply(self, lines: tuple[str, ...]) -> tuple[str, ...]:
        """``lines`` as the reader sends them: the one character read as ``read_as``."""
        index, at = self.line - 1, self.position - 1
        text = lines[index]
        return (*lines[:index], text[:at] + self.read_as + text[at + 1 :], *lines[index + 1 :])


class DocumentSpec(StrictModel):
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
    ocr_misread: OcrMisread | None = Field(
        default=None,
        description="The reader's copy differs in one character; page and chip hold the truth.",
    )

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
            self._check_misread()
            return self
        for name in ("issuing_state", "surname", "number", "birth_date", "expiry_date"):
            if getattr(self, name) is None:
                raise LocatedError((name,), "required to compose the MRZ (or give mrz lines)")
        forgeries = sorted(CHIP_FORGERIES.intersection(self.defects))
        if len(forgeries) > 1:
            raise LocatedError(
                ("defects",), f"one chip forgery at most, not {', '.join(forgeries)}"
            )
        try:
            self.printed()
        except MrzCompositionError as error:
            raise ValueError(f"cannot compose an MRZ: {error}") from None
        self._check_misread()
        return self

    def _check_misread(self) -> None:
        misread = self.ocr_misread
        if misread is None:
            return
        lines = self.printed()
        if misread.line > len(lines):
            raise LocatedError(
                ("ocr_misread", "line"), f"line {misread.line}, but the MRZ has {len(lines)} lines"
            )
        width = len(lines[misread.line - 1])
        if misread.position > width:
            raise LocatedError(
                ("ocr_misread", "position"),
                f"position {misread.position}, but line {misread.line} has {width} characters",
            )
        if lines[misread.line - 1][misread.position - 1] == misread.read_as:
            raise LocatedError(
                ("ocr_misread", "read_as"),
                f"{misread.read_as!r} is what is printed there: a misread reads another character",
            )

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

    def chip_forgery(self) -> Defect | None:
        """The chip forgery among the defects (``chip_photo_substituted``, ...), if any."""
        return next((d for d in self.defects if d in CHIP_FORGERIES), None)

    def issued_mrz(self) -> tuple[str, ...] | None:
        """The DG1 an altered chip was issued with (``chip_data_altered``); None otherwise."""
        if self.mrz is not None:
            return None
        return issued_chip(self._data(), self.defects)

    def printed(self) -> tuple[str, ...]:
        """The MRZ printed on the data page (defects applied)."""
        if self.mrz is not None:
            return self.mrz
        return forged_page(self._data(), self.defects)

    def read(self) -> tuple[str, ...]:
        """The MRZ as the reader sends it: the printed page, with any ``ocr_misread``."""
        page = self.printed()
        return page if self.ocr_misread is None else self.ocr_misread.apply(page)


# -- chip, face, behaviour, expectation -------------------------------------------------


class ChipSpec(StrictModel):
    """The passport's chip: ``ok`` with its DG2 photo, ``unreadable`` (damaged) or ``absent``."""

    state: Literal["ok", "unreadable", "absent"] = "ok"
    photo: ImageFile | None = Field(
        default=None, description="The DG2 face image; without one the chip holds no photo."
    )
    format: Literal["jpeg", "jpeg2000"] = Field(
        default="jpeg", description="How DG2 stores the photo (many passports use JPEG 2000)."
    )
    read_s: Duration = Field(default=0.0, description="How long a read takes.")
    protocol: Literal["bac", "pace"] | None = Field(
        default=None, description="The chip's access control; default: PACE (the reader's)."
    )
    air_kbps: Literal[106, 212, 424, 848] | None = Field(
        default=None,
        description="The chip's air rate: the read takes the air time at this rate, not read_s.",
    )

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


class Variation(StrictModel):
    """How the live image differs from the photo it is made from."""

    brightness: float = Field(default=1.0, gt=0, le=4, description="Pixel values times this.")
    blur: float = Field(default=0.0, ge=0, le=20, description="Gaussian blur sigma in pixels.")
    scale: float = Field(default=1.0, gt=0, le=4, description="Image size times this.")
    rotate: float = Field(default=0.0, ge=-45, le=45, description="Head tilt in degrees.")
    mirror: StrictBool = False


class FrameSpec(Variation):
    """One entry of a frame sequence: a photo (or nobody in view), how many grabs it lasts,
    whether it moves as a live face, and how the camera sees it (the ``Variation`` keys;
    ``scale`` is how near the traveller stands: the frame keeps its size)."""

    photo: str | None = Field(default=None, description="None: nobody in view (looked away).")
    repeat: int = Field(default=1, ge=1, le=MAX_FACE_FRAMES, description="Grabs it lasts.")
    live: StrictBool = Field(default=False, description="Blinks, speaks and turns a little.")
    resolved: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # - PHOTO | none, or the mapping (photo: none too)
        if value is None or value == "none":
            return {"photo": None}
        if isinstance(value, str):
            return {"photo": value}
        if isinstance(value, dict) and value.get("photo") == "none":
            return {**value, "photo": None}
        return value

    @field_validator("photo")
    @classmethod
    def _exists(cls, photo: str | None, info: ValidationInfo) -> str | None:
        if photo is not None:
            if not photo:
                raise ValueError("expected the path of a photo, or samples:NAME")
            _image_paths(photo, info)
        return photo

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> FrameSpec:
        if self.photo is not None:
            object.__setattr__(self, "resolved", _image_paths(self.photo, info)[0])
        elif self.live:
            raise LocatedError(("live",), "nobody in view cannot move: give a photo")
        return self

    @property
    def variation(self) -> Variation:
        """How the camera sees this entry's photo."""
        return Variation(
            brightness=self.brightness,
            blur=self.blur,
            scale=self.scale,
            rotate=self.rotate,
            mirror=self.mirror,
        )


class AttackSpecies(StrEnum):
    """A presentation attack a scenario can stage in front of the camera."""

    PRINT = "print"  # a printed photo held up and moved
    SCREEN = "screen"  # a photo or a video shown on a tablet held up


def _source_path(text: str, info: ValidationInfo) -> Path:
    """A video file or a folder of frames, relative to the scenario's photo root."""
    path = Path(text)
    context = info.context or {}
    base = context.get("photo_dir") or context.get("base_dir")
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    if not path.exists():
        raise ValueError(f"no such video file or folder of frames: {path}")
    return path


class FaceSpec(StrictModel):
    """What the camera sees; see the forms in ``docs/scenarios.md``.

    * ``photos``: one photo per capture attempt (the camera goes round them),
      held still for a whole capture window, or moving as a live face with ``live``;
    * ``frames``: one picture per camera grab, in order (the camera goes round them);
    * ``video``: a video file (or a folder of frames), one frame per grab;
    * ``attack``: a presentation attack made from ``photo`` (print or screen) or
      ``video`` (screen).

    No photos: nobody in view of the camera (a failure to acquire).
    """

    photos: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    live: StrictBool = Field(
        default=False, description="The photos blink, speak and turn a little, as a live face."
    )
    frames: tuple[FrameSpec, ...] = Field(default=(), max_length=MAX_FACE_FRAMES)
    video: Annotated[str, Field(min_length=1)] | None = None
    attack: AttackSpecies | None = None
    photo: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="The photo an attack is made from."
    )
    variation: Variation = Field(default_factory=Variation)
    resolved: tuple[Path, ...] = Field(default=(), exclude=True)
    # The video (or folder of frames) ``video`` names, found.
    resolved_video: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # face: none | PHOTO | [PHOTO, ...], or the mapping (photo: PHOTO for one,
        # except in an attack, where photo is what the attack shows)
        if value is None or value == "none":
            return {"photos": []}
        if isinstance(value, str):
            return {"photos": [value]}
        if isinstance(value, list):
            return {"photos": value}
        if (
            isinstance(value, dict)
            and "photo" in value
            and "photos" not in value
            and "attack" not in value
        ):
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

    @field_validator("photo")
    @classmethod
    def _photo_exists(cls, photo: str | None, info: ValidationInfo) -> str | None:
        if photo is not None:
            _image_paths(photo, info)
        return photo

    @field_validator("video")
    @classmethod
    def _video_exists(cls, video: str | None, info: ValidationInfo) -> str | None:
        if video is not None:
            _source_path(video, info)
        return video

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> FaceSpec:
        self._one_form()
        paths = tuple(path for text in self.photos for path in _image_paths(text, info))
        if self.photo is not None:
            paths = _image_paths(self.photo, info)[:1]
        object.__setattr__(self, "resolved", paths)
        if self.video is not None:
            object.__setattr__(self, "resolved_video", _source_path(self.video, info))
        return self

    def _one_form(self) -> None:
        """One of photos, frames, video or attack; an attack from one photo or video."""
        given = [name for name in ("photos", "frames", "video") if getattr(self, name)]
        if self.attack is not None:
            for name in ("photos", "frames"):
                if getattr(self, name):
                    raise LocatedError((name,), "an attack shows its photo or video: no " + name)
            if self.live:
                raise LocatedError(("live",), "an attack is not a live face")
            if (self.photo is None) == (self.video is None):
                raise LocatedError(("attack",), "an attack needs a photo or a video (one)")
            if self.attack is AttackSpecies.PRINT and self.photo is None:
                raise LocatedError(("video",), "a print attack shows a photo: give photo")
            return
        if len(given) > 1:
            raise LocatedError((given[1],), f"give one of photos, frames or video, not {given[0]}")
        if self.photo is not None:
            raise LocatedError(("photo",), "give photo or photos, not both")
        grabs = sum(entry.repeat for entry in self.frames)
        if grabs > MAX_FACE_FRAMES:
            raise LocatedError(
                ("frames",), f"{grabs} camera pictures; at most {MAX_FACE_FRAMES} a passenger"
            )
        if self.live and not self.photos:
            raise LocatedError(("live",), "live animates photos: give photo or photos")

    @property
    def kind(self) -> Literal["photos", "frames", "video", "attack"]:
        """Which form this face takes."""
        if self.attack is not None:
            return "attack"
        if self.frames:
            return "frames"
        if self.video is not None:
            return "video"
        return "photos"


# Default timings of a passenger (scenario seconds): laying the passport down,
# walking through an open door.  A slow passenger takes longer.
PRESENT_S, WALK_S = 2.0, 1.5
SLOW_PRESENT_S, SLOW_WALK_S = 8.0, 6.0


class BehaviourSpec(StrictModel):
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


class Expectation(StrictModel):
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


# -- the officer's desk ------------------------------------------------------------------


class DeskDecision(StrEnum):
    """What an officer decides about a traveller the gate sent to the desk."""

    ADMIT = "admit"
    REFUSE = "refuse"
    SUPERVISOR = "supervisor"  # call a supervisor: the officer cannot decide alone


class RefusalReason(StrEnum):
    """Why an officer refuses entry."""

    IMPOSTOR = "impostor"  # not the holder of the passport
    FORGED_DOCUMENT = "forged_document"  # forged or altered document or chip
    INVALID_DOCUMENT = "invalid_document"  # expired, not valid for travel
    STOP_LIST = "stop_list"  # reported lost or stolen
    NOT_ENTITLED = "not_entitled"  # no right of entry by this route


@dataclass(frozen=True, slots=True)
class DeskExpectation:
    """The officer's right answer for a passenger: a refusal has a reason, nothing else has."""

    decision: DeskDecision
    reason: RefusalReason | None = None

    def __post_init__(self) -> None:
        if (self.decision is DeskDecision.REFUSE) != (self.reason is not None):
            raise ValueError("a refusal, and only a refusal, has a reason")

    def to_json(self) -> dict[str, str | None]:
        """``{"decision": "refuse", "reason": "impostor"}``."""
        return {
            "decision": self.decision.value,
            "reason": None if self.reason is None else self.reason.value,
        }


# The right answer at the desk when a passenger's scenario says none: the kind's.
# An ineligible traveller (a child, a nationality the gate does not serve) may
# enter through a desk; a stop-list hit and a tailgater are a supervisor's.
DESK_BY_KIND: dict[PassengerKind, DeskExpectation] = {
    PassengerKind.GENUINE: DeskExpectation(DeskDecision.ADMIT),
    PassengerKind.INELIGIBLE: DeskExpectation(DeskDecision.ADMIT),
    PassengerKind.IMPOSTOR: DeskExpectation(DeskDecision.REFUSE, RefusalReason.IMPOSTOR),
    PassengerKind.DOCUMENT_FRAUD: DeskExpectation(
        DeskDecision.REFUSE, RefusalReason.FORGED_DOCUMENT
    ),
    PassengerKind.STOP_LIST: DeskExpectation(DeskDecision.SUPERVISOR),
    PassengerKind.TAILGATER: DeskExpectation(DeskDecision.SUPERVISOR),
    # Someone who held a picture up to the camera tried to deceive the border: a
    # supervisor takes over (questioning, the passport's holder, evidence, a report).
    PassengerKind.PRESENTATION_ATTACK: DeskExpectation(DeskDecision.SUPERVISOR),
}


class DeskSpec(StrictModel):
    """The scenario's ``desk:`` key: what an officer should decide if the gate sends them."""

    decision: DeskDecision
    reason: RefusalReason | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # desk: admit | supervisor | refuse (the last one then asks for its reason)
        if isinstance(value, str):
            return {"decision": value}
        return value

    @model_validator(mode="after")
    def _reason(self) -> DeskSpec:
        if self.decision is DeskDecision.REFUSE and self.reason is None:
            choices = ", ".join(reason.value for reason in RefusalReason)
            raise LocatedError(("reason",), f"refuse needs a reason: {choices}")
        if self.decision is not DeskDecision.REFUSE and self.reason is not None:
            raise LocatedError(("reason",), f"only refuse has a reason, not {self.decision.value}")
        return self

    @property
    def expectation(self) -> DeskExpectation:
        """The answer this key asks of the officer."""
        return DeskExpectation(self.decision, self.reason)


# The latest a number of seconds after the start may say: a drill spans a day at most.
MAX_ARRIVAL_S = 24 * 3600


def _arrival(value: object) -> object:
    """Seconds after the start (a number), or a time of day ``"HH:MM[:SS]"`` (a string).

    Seconds are finite and within a day of the start (0 to ``MAX_ARRIVAL_S``):
    an infinite or huge time would never come and hang a real-time replay.
    """
    if isinstance(value, bool):
        raise ValueError('expected seconds after the start, or a time of day such as "07:31:20"')
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a time: give seconds after the start (0 to 86400)")
        if not 0 <= value <= MAX_ARRIVAL_S:
            raise ValueError(
                f"{value:g} s is not within a day of the start: give 0 to {MAX_ARRIVAL_S} seconds"
            )
        return value
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:  # YAML reads 1e29 (no dot) as a string: a number all the same
            number = float(value)
        except ValueError:
            return parse_time_of_day(value)  # egate.clocktime's grammar, hours up to 23
        return _arrival(number)
    raise ValueError('expected seconds after the start, or a time of day such as "07:31:20"')


Arrival = Annotated[float | time, BeforeValidator(_arrival)]


class PassengerSpec(StrictModel):
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
    desk: DeskSpec | None = Field(
        default=None, description="The officer's right answer at the desk; default: by kind."
    )

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
        assert self.document is not None and self.chip is not None
        assert self.face is not None
        if self.face.attack is not None and self.kind is not PassengerKind.PRESENTATION_ATTACK:
            raise LocatedError(
                ("kind",), "a passenger who stages an attack is of kind presentation_attack"
            )
        forgery = self.document.chip_forgery()
        if forgery is not None and self.chip.state != "ok":
            raise LocatedError(("document", "defects"), f"{forgery.value} needs a chip in state ok")
        return self

    @property
    def tailgater(self) -> bool:
        """Whether this passenger follows someone else in."""
        return self.behaviour.tailgates is not None

    @property
    def desk_expectation(self) -> DeskExpectation:
        """What an officer should decide if the gate sends this passenger to the desk."""
        return DESK_BY_KIND[self.kind] if self.desk is None else self.desk.expectation


__all__ = [
    "DESK_BY_KIND",
    "MAX_ARRIVAL_S",
    "Arrival",
    "AttackSpecies",
    "BehaviourSpec",
    "ChipSpec",
    "Defect",
    "DeskDecision",
    "DeskExpectation",
    "DeskSpec",
    "DocumentSpec",
    "Duration",
    "Expectation",
    "Expected",
    "FaceSpec",
    "FrameSpec",
    "Identifier",
    "OcrMisread",
    "PassengerKind",
    "PassengerSpec",
    "RefusalReason",
    "StrictModel",
    "Variation",
]
