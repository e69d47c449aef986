"""A training scenario's passengers as mock travellers: documents, chips, faces, behaviour.

``prepare`` turns every passenger of a scenario into what the mock gate
needs (the printed MRZ, the chip with its DG2 photo, the camera's images
with their variation, the timings at the replay's speed) before any gate
starts, so that a photo that cannot be read is reported first, naming the
passenger and the field.  ``stop_list`` builds the scenario's stop list.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from egate.biometrics.image import ImageError, RgbImage, read_image_file
from egate.config import ConfigError
from egate.documents.mrz import parse_mrz
from egate.documents.stoplist import StopList, StopListError
from egate.privacy import Pseudonymizer
from station.people.camerafeed import FacePictures, altered, landmark_finder
from station.people.passenger import Behaviour
from station.people.traveller import MockDocument, mock_behaviour, mock_document
from station.people.travellers import chip_photo
from station.training.scenario import PassengerSpec, Scenario, Variation
from station.training.transcript import PassengerResult


@dataclass(frozen=True, slots=True)
class ScenarioTraveller:
    """A scenario passenger as the mock gate sees them."""

    label: str
    document: MockDocument
    behaviour: Behaviour

    def __repr__(self) -> str:
        return f"ScenarioTraveller({self.label}, <personal data redacted>)"


@dataclass(slots=True)
class PreparedPassenger:
    """A passenger prepared for the replay: their traveller and when they arrive."""

    spec: PassengerSpec
    traveller: ScenarioTraveller | None  # None for a tailgater
    arrival: float  # scenario seconds after the start
    result: PassengerResult
    # What an officer compares: the chip's photo as stored (DG2) and the first capture.
    chip_photo: bytes | None = None
    capture: RgbImage | None = None


def vary(image: RgbImage, variation: Variation) -> RgbImage:
    """``image`` as the camera sees it: rescaled, tilted, blurred, darker or brighter, mirrored."""
    out: np.ndarray = image
    if variation.scale != 1.0:
        rows, columns = out.shape[:2]
        size = (max(1, round(columns * variation.scale)), max(1, round(rows * variation.scale)))
        shrink = variation.scale < 1
        out = cv2.resize(out, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return altered(out, variation)


def capture_window(scenario: Scenario) -> tuple[int, float]:
    """The scenario gates' capture window: frames per capture attempt, seconds apart."""
    capture = scenario.matching.capture
    return capture.frames, capture.interval_s


def face_pictures(scenario: Scenario) -> FacePictures:
    """What makes the camera pictures of the scenario's faces, at its gates' capture window."""
    window, interval_s = capture_window(scenario)
    return FacePictures(window, interval_s, landmark_finder)


def passenger_rng(seed: int, passenger: str) -> np.random.Generator:
    """A passenger's own random generator: the same clips for the same seed and id."""
    return np.random.default_rng([seed, zlib.crc32(passenger.encode())])


def prepare(scenario: Scenario, source: str, speed: float) -> list[PreparedPassenger]:
    """Every passenger's document, chip and faces, decoded before anything starts.

    ``ConfigError`` naming the file, passenger and field when a photo cannot
    be read as one.
    """
    pictures = face_pictures(scenario)
    arrivals = scenario.arrivals()
    followed = {
        passenger.behaviour.tailgates
        for passenger in scenario.passengers
        if passenger.behaviour.tailgates is not None
    }
    chips: dict[tuple[Path, str], bytes] = {}
    return [
        prepare_passenger(
            spec,
            source,
            speed,
            arrival=0.0 if spec.tailgater else arrivals[spec.id],
            followed=spec.id in followed,
            chips=chips,
            pictures=pictures,
            seed=scenario.seed,
        )
        for spec in scenario.passengers
    ]


def prepare_passenger(
    spec: PassengerSpec,
    source: str,
    speed: float,
    *,
    arrival: float,
    followed: bool = False,
    chips: dict[tuple[Path, str], bytes] | None = None,
    pictures: FacePictures | None = None,
    seed: int = 0,
) -> PreparedPassenger:
    """One passenger's document, chip and faces (``chips``: DG2 images already made;
    ``pictures``: the maker of camera pictures at the gates' capture window, default one
    frame; ``seed``: the scenario's, for attack clips)."""
    chips = {} if chips is None else chips
    result = PassengerResult(spec.id, spec.kind, spec.expected, spec.learn)
    if spec.tailgater:
        result.follows = spec.behaviour.tailgates
        return PreparedPassenger(spec, None, arrival, result)
    assert spec.document is not None and spec.chip is not None and spec.face is not None

    def fail(field: str, error: Exception) -> ConfigError:
        return ConfigError(f"{source}: passenger {spec.id}: {field}: {error}")

    dg2 = None
    if spec.chip.state != "absent" and spec.chip.photo is not None:
        key = (spec.chip.photo, spec.chip.format)
        if key not in chips:
            try:
                chips[key] = chip_photo(spec.chip.photo, jpeg2000=spec.chip.format == "jpeg2000")
            except ValueError as error:  # ImageError included
                raise fail("chip.photo", error) from None
        dg2 = chips[key]
    faces: list[RgbImage | None] = []
    face = spec.face
    if pictures is None:
        pictures = FacePictures(1, 0.1, landmark_finder)
    if face.kind == "photos" and not face.live and pictures.window == 1:
        # One photo per capture attempt, as it always was: each photo as it is.
        for index, path in enumerate(face.resolved):
            try:
                faces.append(vary(read_image_file(path), face.variation))
            except ImageError as error:
                raise fail(f"face.photos.{index}", error) from None
    else:
        try:
            faces = pictures.pictures(face, passenger_rng(seed, spec.id))
        except (ValueError, cv2.error) as error:  # ImageError and ClipError included
            raise fail(f"face.{face.kind}", error) from None
    traveller = ScenarioTraveller(
        spec.id,
        mock_document(spec, dg2, faces, speed=speed),
        mock_behaviour(spec.behaviour, followed=followed, speed=speed),
    )
    first = next((picture for picture in faces if picture is not None), None)
    return PreparedPassenger(spec, traveller, arrival, result, dg2, first)


def stop_list(
    scenario: Scenario, source: str, pseudonymizer: Pseudonymizer, today: datetime
) -> StopList | None:
    """The scenario's stop list: its entries, its passengers' documents and any list file."""
    keys: set[str] = set()
    if scenario.policy.stop_list is not None:
        try:
            listed = StopList.load(scenario.policy.stop_list, pseudonymizer)
        except StopListError as error:
            raise ConfigError(f"{source}: policy.stop_list: {error}") from None
        keys |= listed.keys
    by_id = {passenger.id: passenger for passenger in scenario.passengers}
    for entry in scenario.stop_list:
        if entry.passenger is not None:
            document = by_id[entry.passenger].document
            assert document is not None
            fields = parse_mrz(document.printed(), today.date()).fields
            state, number = fields.issuing_state, fields.document_number
        else:
            assert entry.issuing_state is not None and entry.number is not None
            state, number = entry.issuing_state, entry.number
        keys.add(pseudonymizer.document_key(state, number))
    if not keys:
        return None
    return StopList(keys, pseudonymizer, f"{source} stop_list")
