"""Putting a traveller's document on the mock gate: MRZ, chip and face together.

At a real gate one act, laying the passport on the reader, starts three
devices: the reader sends the printed MRZ, the chip reader finds the chip
(DG1, the DG2 photo), and the camera then sees the traveller.
``MockDocumentFeed`` does the same to the emulated devices, so that a test,
a demo or a training scenario describes a traveller once.

``mock_document`` and ``mock_behaviour`` turn a passenger as a scenario
describes one (:class:`~station.people.passenger_spec.PassengerSpec`) into
what the mock devices hold and how the mock passenger acts: a training
replay's passengers and the mock gate's sample travellers come this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from egate.biometrics.image import RgbImage
from hardware.chip import ChipForgery, ChipStand, MockChip
from hardware.emulators.camera import MockCamera
from hardware.emulators.reader import ReaderEmulator
from station.people.passenger import Behaviour
from station.people.passenger_spec import BehaviourSpec, PassengerSpec

# A traveller's patience (scenario seconds): the gate's own time limits come first.
PATIENCE_S = 60.0


@dataclass(frozen=True, slots=True)
class MockDocument:
    """One traveller's document and face for the mock devices."""

    # The printed MRZ, as the reader sends it (it may differ from the chip's DG1).
    mrz: tuple[str, ...]
    # The chip, or None for a document without one (the chip reader finds nothing).
    chip: MockChip | None
    # What the camera shows once the traveller is in the gate: one or more
    # face photos (several: retries see the next), None for nobody in view.
    faces: Sequence[RgbImage | Path | None] = field(default_factory=tuple)

    def __repr__(self) -> str:
        return f"MockDocument(<personal data redacted>, chip={self.chip is not None})"


class MockDocumentFeed:
    """Presents documents to an emulated reader, a chip reader (virtual chips) and a mock camera."""

    def __init__(self, reader: ReaderEmulator, chips: ChipStand, camera: MockCamera) -> None:
        self._reader = reader
        self._chips = chips
        self._camera = camera

    def present(self, document: MockDocument) -> None:
        """Lay the document on the reader: chip and camera are ready before the MRZ is sent."""
        if document.chip is not None:
            self._chips.load(document.chip)
            self._chips.present(document.chip.document_number)
        else:
            self._chips.present(None)
        self._camera.show(document.faces)
        self._reader.send(document.mrz)

    def take_away(self) -> None:
        """The traveller leaves with the document: no chip, nobody in view."""
        self._chips.present(None)
        self._camera.show(())


def mock_document(
    passenger: PassengerSpec,
    dg2: bytes | None,
    faces: Sequence[RgbImage | Path | None],
    *,
    speed: float = 1.0,
) -> MockDocument:
    """The document ``passenger`` lays on the reader, with their chip and face.

    The reader gets the printed MRZ (defects and all) as it reads it (with
    the document's ``ocr_misread``, if any), the chip holds the true DG1 and
    ``dg2`` (the photo as the chip stores it) unless there is none, and the
    camera shows ``faces``, one per grab, in turn (None among them, or none
    at all: nobody in view).  A chip read takes the passenger's ``read_s`` divided
    by ``speed`` (or its air time at ``air_kbps``, as fast); a chip forgery
    among the defects becomes the chip's ``forgery``.  A tailgater brings no
    document: ``ValueError``.
    """
    document, chip = passenger.document, passenger.chip
    if document is None or chip is None:
        raise ValueError(f"passenger {passenger.id} brings no document of their own")
    on_chip = None
    if chip.state != "absent":
        defect = document.chip_forgery()
        on_chip = MockChip.of(
            document.chip_mrz(),
            dg2,
            unreadable=chip.state == "unreadable",
            read_seconds=chip.read_s / speed,
            forgery=None if defect is None else ChipForgery(defect.value.removeprefix("chip_")),
            issued_mrz=document.issued_mrz(),
            protocol=chip.protocol,
            air_kbps=chip.air_kbps,
            speed=speed,
        )
    return MockDocument(document.read(), on_chip, tuple(faces) if faces else (None,))


def mock_behaviour(
    behaviour: BehaviourSpec, *, followed: bool, speed: float = 1.0, patience_s: float = PATIENCE_S
) -> Behaviour:
    """How a passenger acts at the mock gate: their timings ``speed`` times faster.

    ``followed``: a tailgater walks in behind them.
    """
    return Behaviour(
        present_s=behaviour.present / speed,
        walk_s=behaviour.walk / speed,
        tailgater=followed,
        patience_s=patience_s / speed,
        retreats=behaviour.retreats,
    )
