"""The built-in stream of sample travellers for the mock gate, each with the outcome it deserves.

(At the ~400-line guideline: the sample cases and the seeded drawing of
made-up travellers from them belong together; the passenger model is
station.people.passenger_spec's.)

``sample_travellers`` makes an endless, seeded stream of fictional
travellers as a trainer's drill would have them (as in the Pudong-style
scenarios): mostly genuine, among them the exception cases a gate must
catch.  Each traveller is a scenario passenger
(:class:`~station.people.passenger_spec.PassengerSpec`, the one traveller
model): a passport composed from made-up names and unique document numbers
(forged, when altered, with :mod:`egate.documents.forgery` as a scenario's
are), its chip, the faces the camera will see, how they behave at the gate,
what they count as (``PassengerKind``) and the outcome and reason codes a
correct gate reaches with them (``Expectation``).  ``SampleCase`` lists the
cases the stream draws from, each written in those words.

Faces are real photos (there is no face in a fictional passport): the sample
photos that ``egate samples fetch`` installs, grouped by person
(:class:`SamplePhotos`).  The chip's DG2 holds one photo of a person,
re-encoded small as chip photos are; the camera sees another photo of the
same person when there is one.  Which photos are the same person matters
only to the face verifier, which the tests check against these pairs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from egate.biometrics.image import RgbImage, read_image_file
from egate.documents.forgery import Defect
from egate.samples import grace_hopper, installed_samples
from station.people.camerafeed import FacePictures
from station.people.passenger import Behaviour
from station.people.passenger_spec import (
    BehaviourSpec,
    ChipSpec,
    DocumentSpec,
    Expectation,
    Expected,
    FaceSpec,
    PassengerKind,
    PassengerSpec,
)
from station.people.traveller import MockDocument, mock_behaviour, mock_document


def _expect(outcome: Expected, *reasons: str) -> Expectation:
    return Expectation(outcome=outcome, reasons=reasons)


@dataclass(frozen=True, slots=True)
class Case:
    """A sample case as a scenario passenger: what they count as, bring and deserve.

    ``expected`` is what a correct two-step gate with the default policy
    makes of them.  The rest says how the stream fills in the made-up data.
    """

    kind: PassengerKind
    expected: Expectation
    defects: tuple[Defect, ...] = ()
    holder: Literal["adult", "child"] = "adult"  # a child is 2 to 11 years old
    expired: bool = False  # the passport expired before today
    chip: bool = True  # False: an older passport without a chip
    face: Literal["own", "someone else's", "nobody"] = "own"  # what the camera sees
    followed: bool = False  # a tailgater follows them into the gate


class SampleCase(Enum):
    """The cases the stream draws from, in the scenario's kinds, defects and expectations."""

    _value_: Case

    GENUINE = Case(PassengerKind.GENUINE, _expect(Expected.ACCEPTED))
    # Forged chips (made for real by the virtual chip reader): the photo in DG2
    # substituted under the genuine security object fails passive
    # authentication; a copy of a genuine chip without its private keys fails
    # chip (or active) authentication.  Drawn from the genuine share, right
    # after it, so that a seed draws every other case as before.
    PHOTO_SUBSTITUTED = Case(
        PassengerKind.DOCUMENT_FRAUD,
        _expect(Expected.REJECTED, "CHIP_HASH_MISMATCH"),
        defects=(Defect.CHIP_PHOTO_SUBSTITUTED,),
    )
    CLONED = Case(
        PassengerKind.DOCUMENT_FRAUD,
        _expect(Expected.REJECTED, "CHIP_CLONE_SUSPECTED"),
        defects=(Defect.CHIP_CLONED,),
    )
    IMPOSTOR = Case(
        PassengerKind.IMPOSTOR,
        _expect(Expected.REFERRED, "BIOMETRIC_MISMATCH"),
        face="someone else's",
    )
    EXPIRED = Case(PassengerKind.INELIGIBLE, _expect(Expected.REJECTED, "EXPIRED"), expired=True)
    # The forger moved the printed birth date back and recomputed the check
    # digits: the page looks sound and the holder older (never a minor), but
    # its key does not open the chip, keyed to the true date.
    ALTERED_BIRTH_DATE = Case(
        PassengerKind.DOCUMENT_FRAUD,
        _expect(Expected.REFERRED, "CHIP_ACCESS_DENIED"),
        defects=(Defect.ALTERED_BIRTH_DATE,),
    )
    NO_CHIP = Case(PassengerKind.GENUINE, _expect(Expected.REFERRED, "CHIP_ABSENT"), chip=False)
    MINOR = Case(PassengerKind.INELIGIBLE, _expect(Expected.REFERRED, "MINOR"), holder="child")
    TAILGATED = Case(
        PassengerKind.GENUINE,
        _expect(Expected.REFERRED, "TAILGATING", "OCCUPANCY"),
        followed=True,
    )
    # Nobody in view of the camera (looks away, too short, hat).
    NO_FACE = Case(
        PassengerKind.GENUINE, _expect(Expected.REFERRED, "FACE_NOT_FOUND"), face="nobody"
    )

    @property
    def case(self) -> Case:
        """The case's passenger: kind, expectation and what they bring."""
        return self._value_


GENUINE_SHARE = 0.7
# Of the genuine-looking share, forged chips: a PA failure (photo substituted) and a clone.
FORGED_CHIP_SHARE = 0.04
_FORGED_CHIPS = (SampleCase.PHOTO_SUBSTITUTED, SampleCase.CLONED)
# Most travellers are genuine; the rest is spread evenly over the exception cases.
DEFAULT_MIX: dict[SampleCase, float] = {
    case: GENUINE_SHARE - FORGED_CHIP_SHARE * len(_FORGED_CHIPS)
    if case is SampleCase.GENUINE
    else FORGED_CHIP_SHARE
    if case in _FORGED_CHIPS
    else (1 - GENUINE_SHARE) / (len(SampleCase) - 1 - len(_FORGED_CHIPS))
    for case in SampleCase
}

# The long side of a chip photo: DG2 portraits are small JPEGs.
CHIP_PHOTO_LONG_SIDE = 480
CHIP_PHOTO_QUALITY = 90

# Fictional names, mixed pinyin and others; any resemblance is chance.
_PINYIN_SURNAMES = ("ZHANG", "WANG", "LI", "CHEN", "LIU", "ZHOU", "HUANG", "XU", "SUN", "GAO")
_PINYIN_GIVEN = ("WEI", "XIAOMING", "JING", "YUTING", "HAORAN", "MEILIN", "ZIHAN", "JUN", "LAN")
_OTHER_SURNAMES = ("HALVORSEN", "OKONKWO", "MARLOWE", "DELACROIX", "VANTERPOOL", "RASMUSSEN")
_OTHER_GIVEN = ("ASTRID", "TOMAS", "AMARA", "LUCA", "NOOR", "ELENA", "FINN", "IMOGEN")
# Nationalities (and issuing states) with their weights: mostly arrivals home.
_NATIONALITIES = ("CHN", "UTO", "D", "GBR", "USA")
_NATIONALITY_WEIGHTS = (0.4, 0.15, 0.15, 0.15, 0.15)
_SEXES: tuple[Literal["F", "M"], ...] = ("F", "M")

_ADULT_BIRTHS = (date(1950, 1, 1), date(2000, 12, 31))
_YOUNGEST_ADULT, _OLDEST_ADULT = 18, 90
# A child is 2 to 11 years old: 12 years less a few days is always under 12.
_MINOR_AGE_DAYS = (2 * 365, 12 * 365 - 5)
_VALID_FOR_DAYS = (90, 10 * 365)
_EXPIRED_SINCE_DAYS = (1, 3 * 365)
# Drawn for an altered birth date before the scenario's forgery (three years
# back) was used, and still drawn so that a seed gives the same travellers.
_ALTERED_BY_DAYS = (365, 5 * 365)
# Unique document numbers: two letters, then the traveller's number in the stream.
_NUMBER_DIGITS = 7

# Photo names: a person's photos share a stem up to a trailing number (obama, obama2).
_TRAILING_NUMBER = re.compile(r"[_-]?\d+$")
_PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg"})


@dataclass(frozen=True, slots=True)
class SampleTraveller:
    """One fictional traveller: the scenario passenger, and the mock gate's view of them.

    ``follower`` is the tailgater who walks in behind them, if any (a
    passenger of kind ``tailgater`` with nothing of their own).
    """

    label: str  # "P0001": never a name
    case: SampleCase
    passenger: PassengerSpec
    document: MockDocument
    behaviour: Behaviour
    follower: PassengerSpec | None = None

    @property
    def kind(self) -> PassengerKind:
        """What the traveller counts as, in a scenario's words."""
        return self.passenger.kind

    @property
    def expected(self) -> Expected:
        """The outcome a correct gate reaches with them."""
        return self.passenger.expected.outcome

    @property
    def expected_reasons(self) -> tuple[str, ...]:
        """The reason codes a correct gate gives."""
        return self.passenger.expected.reasons

    def __repr__(self) -> str:
        return (
            f"SampleTraveller({self.label}, {self.case.name.lower()}: {self.kind.value}, "
            f"expected={self.expected.value}, reasons={self.expected_reasons}, "
            "<personal data redacted>)"
        )


@dataclass(frozen=True)
class SamplePhotos:
    """Face photos grouped by person: identity -> that person's photos."""

    identities: dict[str, list[Path]]

    def __post_init__(self) -> None:
        if not self.identities:
            raise ValueError("sample photos need at least one identity")
        for identity, photos in self.identities.items():
            if not photos:
                raise ValueError(f"identity {identity!r} has no photo")

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> SamplePhotos | None:
        """Group photo files by person; partial faces and non-JPEG files are left out.

        ``obama.jpg``, ``obama2.jpg`` and ``obama3.jpg`` are one person.
        None when no photo is left.
        """
        identities: dict[str, list[Path]] = {}
        for path in sorted(paths):
            stem = path.stem.lower()
            # A partial face cannot be verified, and the PNG of the set is a
            # format test, not a portrait.
            if path.suffix.lower() not in _PHOTO_SUFFIXES or "partial" in stem:
                continue
            person = _TRAILING_NUMBER.sub("", stem) or stem
            identities.setdefault(person, []).append(path)
        return cls(identities) if identities else None

    @classmethod
    def installed(cls, cache: Path | None = None) -> SamplePhotos | None:
        """The photos of ``egate samples fetch`` and matplotlib's portrait, or None if none."""
        samples = installed_samples(cache)
        if samples is not None:
            return cls.from_files(samples.images())
        # Without the fetched set, matplotlib's portrait may still be there.
        portrait = grace_hopper()
        return None if portrait is None else cls.from_files([portrait])


def chip_photo(
    path: Path, long_side: int = CHIP_PHOTO_LONG_SIDE, *, jpeg2000: bool = False
) -> bytes:
    """A photo as a chip would hold it in DG2: at most ``long_side`` pixels long.

    JPEG by default; ``jpeg2000`` as many passports store it.  ``ImageError``
    when the file is not an image.
    """
    # Decoded the way the gate decodes images (EXIF orientation applied).
    rgb = read_image_file(path)
    rows, columns = rgb.shape[:2]
    scale = long_side / max(rows, columns)
    if scale < 1:
        size = (max(1, round(columns * scale)), max(1, round(rows * scale)))
        rgb = np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if jpeg2000:
        # Compression ratio in thousandths: 100 keeps a portrait of a few tens of kB.
        ok, encoded = cv2.imencode(".jp2", bgr, [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 100])
    else:
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, CHIP_PHOTO_QUALITY])
    if not ok:
        raise ValueError(f"{path}: could not encode as a chip photo")
    return bytes(encoded.tobytes())


def _mix(
    mix: Mapping[SampleCase, float] | None, photos: SamplePhotos
) -> tuple[list[SampleCase], np.ndarray]:
    """The cases to draw from and their probabilities."""
    weights = dict(DEFAULT_MIX if mix is None else mix)
    for case, weight in weights.items():
        if not (np.isfinite(weight) and weight >= 0):
            raise ValueError(
                f"the weight of {case.name.lower()} must be a finite number, 0 or more"
            )
    if len(photos.identities) < 2:
        # An impostor needs someone else's face.
        for case in SampleCase:
            if case.case.face == "someone else's":
                weights.pop(case, None)
    cases = [case for case in SampleCase if weights.get(case, 0.0) > 0]
    if not cases:
        raise ValueError("the mix leaves no kind of traveller to draw")
    total = sum(weights[case] for case in cases)
    return cases, np.array([weights[case] / total for case in cases])


def _years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _day_between(first: date, last: date, rng: np.random.Generator) -> date:
    return first + timedelta(days=int(rng.integers(0, (last - first).days + 1)))


def _days(bounds: tuple[int, int], rng: np.random.Generator) -> timedelta:
    return timedelta(days=int(rng.integers(bounds[0], bounds[1] + 1)))


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def _shuffled(photos: list[Path], rng: np.random.Generator) -> tuple[Path, ...]:
    return tuple(photos[int(index)] for index in rng.permutation(len(photos)))


def sample_travellers(
    photos: SamplePhotos,
    today: date,
    rng: np.random.Generator,
    mix: Mapping[SampleCase, float] | None = None,
    *,
    pace: float = 1.0,
    pictures: FacePictures | None = None,
) -> Iterator[SampleTraveller]:
    """An endless stream of sample travellers, the same for the same seed, photos and day.

    ``mix`` weighs the cases (default ``DEFAULT_MIX``; weights need not sum
    to 1); IMPOSTOR is left out when the photos hold a single person.
    ``pace`` scales how long travellers take to lay the document down and to
    walk (below 1: quicker, for tests and demos); their patience is kept, so
    that the gate's own time limits still come first.  ``pictures``: the
    gate's capture window (``FacePictures``); with it, the camera sees each
    face moving as a live one for a whole window (blinks, speech, a turn),
    as a gate with a liveness check needs; without it, one still photo per
    capture attempt.
    """
    if not pace > 0:
        raise ValueError("pace must be positive")
    cases, probabilities = _mix(mix, photos)
    people = sorted(photos.identities)
    chip_photos: dict[Path, bytes] = {}  # re-encoding costs milliseconds: once per photo

    for number in itertools.count(1):
        case = cases[int(rng.choice(len(cases), p=probabilities))]
        wanted = case.case
        person = _pick(tuple(people), rng)
        own = photos.identities[person]
        reference = own[int(rng.integers(len(own)))]
        if wanted.face == "someone else's":
            other = _pick(tuple(p for p in people if p != person), rng)
            faces: tuple[Path, ...] = _shuffled(photos.identities[other], rng)
        elif wanted.face == "nobody":
            faces = ()
        else:
            # Another photo of the same person when there is one: a live face
            # is never the chip photo itself.
            others = [photo for photo in own if photo != reference] or [reference]
            faces = _shuffled(others, rng)
        if reference not in chip_photos:
            chip_photos[reference] = chip_photo(reference)
        label = f"P{number:04d}"
        passenger = PassengerSpec(
            id=label,
            kind=wanted.kind,
            document=_document(number, wanted, today, rng),
            chip=ChipSpec(photo=reference) if wanted.chip else ChipSpec(state="absent"),
            face=FaceSpec(
                photos=tuple(str(face) for face in faces), live=pictures is not None and bool(faces)
            ),
            behaviour=BehaviourSpec(
                present_s=float(rng.uniform(1.0, 3.0)) * pace,
                walk_s=float(rng.uniform(1.0, 2.0)) * pace,
            ),
            expected=wanted.expected,
        )
        follower = None
        if wanted.followed:
            follower = PassengerSpec(
                id=f"{label}-T",
                kind=PassengerKind.TAILGATER,
                behaviour=BehaviourSpec(tailgates=label),
                expected=wanted.expected,
            )
        shown: Sequence[Path | RgbImage | None] = faces
        if pictures is not None and faces:
            assert passenger.face is not None
            shown = pictures.pictures(passenger.face, rng)
        document = mock_document(passenger, chip_photos[reference], shown)
        behaviour = mock_behaviour(passenger.behaviour, followed=follower is not None)
        yield SampleTraveller(label, case, passenger, document, behaviour, follower)


def _document(number: int, case: Case, today: date, rng: np.random.Generator) -> DocumentSpec:
    """The passport of traveller ``number``, as ``case`` wants it."""
    nationality = _NATIONALITIES[int(rng.choice(len(_NATIONALITIES), p=_NATIONALITY_WEIGHTS))]
    chinese = nationality == "CHN"
    surname = _pick(_PINYIN_SURNAMES if chinese else _OTHER_SURNAMES, rng)
    given = _pick(_PINYIN_GIVEN if chinese else _OTHER_GIVEN, rng)
    letters = "".join(chr(ord("A") + int(code)) for code in rng.integers(0, 26, size=2))
    document_number = f"{letters}{number % 10**_NUMBER_DIGITS:0{_NUMBER_DIGITS}d}"
    if case.holder == "child":
        birth = today - _days(_MINOR_AGE_DAYS, rng)
    else:
        # Born 1950-2000, kept between 18 and 90 years old whatever ``today`` is:
        # a two-digit MRZ year cannot tell a centenarian from a baby.
        first = max(_ADULT_BIRTHS[0], _years_before(today, _OLDEST_ADULT))
        last = min(_ADULT_BIRTHS[1], _years_before(today, _YOUNGEST_ADULT))
        birth = _day_between(first, max(first, last), rng)
    if case.expired:
        expiry = today - _days(_EXPIRED_SINCE_DAYS, rng)
    else:
        expiry = today + _days(_VALID_FOR_DAYS, rng)
    sex = _SEXES[int(rng.integers(len(_SEXES)))]
    if Defect.ALTERED_BIRTH_DATE in case.defects:
        _days(_ALTERED_BY_DAYS, rng)  # see _ALTERED_BY_DAYS
    return DocumentSpec(
        issuing_state=nationality,
        nationality=nationality,
        surname=surname,
        given_names=given,
        number=document_number,
        birth_date=birth,
        sex=sex,
        expiry_date=expiry,
        defects=case.defects,
    )
