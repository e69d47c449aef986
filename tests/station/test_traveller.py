"""One document laid on the mock gate reaches the reader, the chip reader and the camera."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from egate.documents.layout import MrzFormat
from egate.documents.specimens import SPECIMENS
from egate.gate.events import ChipStatus
from hardware.chip import MockChip, MockChipReader, mrz_information
from hardware.emulators.camera import MockCamera
from hardware.emulators.reader import ReaderEmulator
from hardware.reader import DocumentRead, SerialMrzReader
from station.people.traveller import MockDocument, MockDocumentFeed

TD3 = SPECIMENS[MrzFormat.TD3]
TD1 = SPECIMENS[MrzFormat.TD1]


def photo(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.full((60, 40, 3), rgb, dtype=np.uint8)


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def gate(pty, fast_settings, today):
    """An emulated reader on a pseudo-terminal with its driver, a chip reader, a camera."""
    reader = SerialMrzReader(fast_settings(pty.port), "desko", lambda: today)
    chips = MockChipReader()
    camera = MockCamera([None], rng=np.random.default_rng(0), clock=lambda: 1.0)
    with ReaderEmulator("desko", pty) as emulator:
        yield MockDocumentFeed(emulator, chips, camera), reader, chips, camera
    reader.close()


def test_a_presented_document_is_read_chipped_and_seen(gate, poll_until):
    feed, reader, chips, camera = gate
    face = photo((180, 120, 90))
    portrait = jpeg(photo((90, 90, 90)))
    feed.present(MockDocument(TD3, MockChip.of(TD3, portrait), [face]))

    events = poll_until(reader, lambda events: len(events) == 1)
    (read,) = events
    assert isinstance(read, DocumentRead) and read.lines == TD3
    # The gate opens the chip with the key of the MRZ it read.
    chip = chips.read(mrz_information(read.result))
    assert (chip.status, chip.dg1_mrz, chip.dg2_image) == (ChipStatus.OK, TD3, portrait)
    frame = camera.grab()
    assert frame is not None and np.array_equal(frame.image, face)


def test_an_altered_printed_mrz_does_not_open_the_chip(gate, poll_until):
    feed, reader, chips, _ = gate
    # The printed MRZ is another document's: its key cannot open this chip.
    feed.present(MockDocument(TD1, MockChip.of(TD3, None)))
    (read,) = poll_until(reader, lambda events: len(events) == 1)
    assert isinstance(read, DocumentRead)
    assert chips.read(mrz_information(read.result)).status is ChipStatus.ACCESS_DENIED


def test_no_chip_and_nobody_in_view(gate, poll_until):
    feed, reader, chips, camera = gate
    feed.present(MockDocument(TD3, MockChip.of(TD3, None), [photo((1, 2, 3))]))
    poll_until(reader, lambda events: len(events) == 1)
    feed.take_away()
    assert chips.read("anything").status is ChipStatus.ABSENT
    frame = camera.grab()
    assert frame is not None and not np.array_equal(frame.image[0, 0], (1, 2, 3))
    feed.present(MockDocument(TD1, None))
    poll_until(reader, lambda events: len(events) == 1)
    assert chips.read("anything").status is ChipStatus.ABSENT


def test_the_document_prints_without_personal_data():
    document = MockDocument(TD3, None)
    assert "ERIKSSON" not in repr(document) and "L898902C" not in repr(document)
