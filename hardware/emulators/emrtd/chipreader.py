"""A contactless reader of virtual chips: how a mock gate and a replay read travellers' chips.

``VirtualChipReader`` keeps the interface of the mock reader
(``hardware.chip.MockChipReader``, whose ``ChipStandBase`` it shares:
``load`` a chip per document number, ``present`` a document, ``fail_next``)
but every chip it is given is personalised into a real virtual chip, signed
by the reader's own test PKI, and every read is a whole inspection through
the chip stack: BAC or PACE, secure messaging, passive authentication
against the test CSCA, chip and active authentication.  So an altered
printed MRZ fails access control because the key really does not open the
chip, not because a table says so.

The chips run at no air time; a ``MockChip``'s ``read_seconds`` (3 to 15 s
for a real chip) is then made up with the injected ``sleep``, so scenarios
keep their timings.  A chip marked ``unreadable`` (and each read after
``fail_next``) answers with a damaged EF.COM, which the inspection reports
``unreadable``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from egate.documents.lds.dg2 import ImageType
from egate.documents.pki.testpki import TestPki, generate_test_pki
from egate.documents.pki.truststore import TrustStore
from egate.gate.events import ChipStatus
from hardware.chip import ChipRead, ChipStandBase, MockChip
from hardware.emrtd.activeauth import ActiveAuthenticator
from hardware.emrtd.chipauth import ChipAuthenticator
from hardware.emrtd.chipreader import InspectingChipReader
from hardware.emrtd.filereader import SM_SHORT_CHUNK
from hardware.emrtd.transport import VirtualTransport
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.card import ChipSettings, VirtualChip, pace_parameters_of
from hardware.emulators.emrtd.folder import CHIP_YAML, ChipFolderError, load_chip_folder
from hardware.emulators.emrtd.personalisation import (
    IssuedChip,
    PersonalisationError,
    Photo,
    personalise,
    photo_of,
)

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A personalised chip and how the mock chip asked it to behave."""

    issued: IssuedChip
    # Set apart from DG1's when the printed MRZ was altered after issue.
    access_key: str | None
    unreadable: bool
    read_seconds: float


def _photo(image: bytes) -> Photo:
    """DG2's photo; bytes that are no image are stored all the same (a drill's damaged photo)."""
    try:
        return photo_of(image, "DG2 image")
    except PersonalisationError:
        return Photo(image, ImageType.JPEG, 0, 0)


class VirtualChipReader(ChipStandBase[_Loaded]):
    """A ``ChipReader`` of virtual chips, loaded per document number (see the module docstring)."""

    def __init__(
        self,
        *,
        pki: TestPki | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Sleep = time.sleep,
        random: Callable[[int], bytes] = os.urandom,
        pace: bool = True,
    ) -> None:
        super().__init__()
        self._now = now
        self.pki = pki if pki is not None else generate_test_pki(now=now())
        self.trust = TrustStore.from_certificates([self.pki.csca_certificate], source="test CSCA")
        self._sleep = sleep
        self._random = random
        self._pace = pace

    def load(self, chip: MockChip) -> None:
        """Issue a virtual chip for ``chip``'s document (replacing any earlier one)."""
        issued = personalise(
            chip.dg1_mrz,
            None if chip.dg2_image is None else _photo(chip.dg2_image),
            self.pki.ds_certificate,
            self.pki.ds_key,
            signed_at=self._now(),
            pace=self._pace,
            active_authentication="ecdsa",
            chip_authentication=self._pace,
        )
        self._chips[chip.document_number] = _Loaded(
            issued, chip.access_key, chip.unreadable, chip.read_seconds
        )

    def read(self, access_key: str) -> ChipRead:
        """Inspect the presented document's chip, opened with ``access_key``."""
        loaded = self._presented_chip()
        if loaded is None:
            return ChipRead(ChipStatus.ABSENT)
        # A fault (fail_next) is a damaged chip, read as unreadable.
        damaged = self._take_failure() or loaded.unreadable
        card = self._card(loaded, damaged)
        reader = InspectingChipReader(
            lambda: VirtualTransport(card, sleep=self._sleep),
            trust=self.trust,
            now=self._now,
            random=self._random,
        )
        read = reader.read(access_key)
        # A refused key answers at once; a read (even of a bad chip) takes the chip's time.
        if read.status is not ChipStatus.ACCESS_DENIED and loaded.read_seconds > read.read_seconds:
            self._sleep(loaded.read_seconds - read.read_seconds)
            return ChipRead(
                read.status, read.dg1_mrz, read.dg2_image, loaded.read_seconds, read.inspection
            )
        return read

    def _card(self, loaded: _Loaded, damaged: bool) -> VirtualChip:
        issued = loaded.issued
        card_access = issued.files.get("EF.CardAccess")
        settings = ChipSettings(
            pace=card_access is not None, corrupt={"EF.COM": 0} if damaged else {}
        )
        return VirtualChip(
            issued.files,
            # The chip opens with its own DG1's key (or the one the mock chip names);
            # an altered printed MRZ gives the reader another.
            mrz_information=loaded.access_key or issued.mrz_information,
            pace_parameters=None if card_access is None else pace_parameters_of(card_access),
            settings=settings,
            active_authenticator=None
            if issued.aa_key is None
            else ActiveAuthenticator(issued.aa_key, random=self._random),
            chip_authenticator=None if issued.ca_key is None else ChipAuthenticator(issued.ca_key),
            air_time=AirTime.zero(),
            random=self._random,
        )


class FolderChipReader:
    """A ``ChipReader`` of the virtual chips in a folder (``chip: {kind: virtual, chips: DIR}``).

    Each subfolder is a chip folder (``egate chip issue``).  The chip of the
    document just read is the one its access key opens, or else the one of
    the same document number (whose key then fails: an altered printed MRZ);
    a document without a chip in the folder reads ``absent``.  Chips run with
    the air time their chip.yaml gives, spent with ``sleep``.
    """

    def __init__(
        self,
        folder: Path,
        *,
        trust: TrustStore | None,
        now: Callable[[], datetime],
        sleep: Sleep = time.sleep,
        random: Callable[[int], bytes] = os.urandom,
        chunk: int = SM_SHORT_CHUNK,
    ) -> None:
        try:
            entries = sorted(path for path in folder.iterdir() if path.is_dir())
        except OSError as error:
            raise ChipFolderError(f"{folder}: {error.strerror or error}") from None
        self._chips = {
            path: load_chip_folder(path) for path in entries if (path / CHIP_YAML).exists()
        }
        self._keys = {path: chip.mrz_information(str(path)) for path, chip in self._chips.items()}
        self._trust = trust
        self._now = now
        self._sleep = sleep
        self._random = random
        self._chunk = chunk

    def __len__(self) -> int:
        return len(self._chips)

    @property
    def trust(self) -> TrustStore | None:
        """The trust store passive authentication judges by (None: no signer is trusted)."""
        return self._trust

    @trust.setter
    def trust(self, store: TrustStore | None) -> None:
        # As InspectingChipReader's: an atomic rebinding, taken once per read.
        self._trust = store

    def folder_for(self, access_key: str) -> Path | None:
        """The chip folder of the document whose access key is ``access_key`` (see the class)."""
        for path, key in self._keys.items():
            if key == access_key:
                return path
        # The same document number (and check digit): the birth and expiry
        # dates, 14 characters, end the key.
        return next(
            (path for path, key in self._keys.items() if key[:-14] == access_key[:-14]), None
        )

    def read(self, access_key: str) -> ChipRead:
        """Inspect the chip of the document whose access key is ``access_key``."""
        path = self.folder_for(access_key)
        if path is None:
            return ChipRead(ChipStatus.ABSENT)
        card = self._chips[path].chip(random=self._random, where=str(path))
        return InspectingChipReader(
            lambda: VirtualTransport(card, sleep=self._sleep),
            trust=self._trust,
            now=self._now,
            random=self._random,
            chunk=self._chunk,
        ).read(access_key)
