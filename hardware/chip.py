"""The passport chip reader: DG1 (the MRZ) and DG2 (the face photo) from the chip.

An eMRTD chip opens only to a reader that proves it saw the data page.  With
Basic Access Control (ICAO Doc 9303 part 11) the proof is a key derived from
the *MRZ information*: the document number, the birth date and the expiry
date, each followed by its check digit, exactly as printed in the MRZ
(``L898902C<369080619406236`` for the specimen).  ``mrz_information`` builds
it from a parsed MRZ, ``bac_key_seed`` hashes it into K_seed (the first 16
bytes of its SHA-1), and ``bac_keys`` derives the session-establishment keys
K_enc and K_mac from K_seed (SHA-1 over K_seed and a 32-bit counter, 1 for
K_enc and 2 for K_mac, first 16 bytes, each byte's lowest bit set for odd
parity as DES keys require).  PACE, which newer chips prefer, starts from the
same MRZ information (or the card access number); its key agreement is not
implemented here.

``ChipReader.read(access_key)`` takes the MRZ information as the access key
and returns a ``ChipRead``: ``ok`` with the DG1 MRZ lines and the DG2 image
bytes (JPEG or JPEG 2000, as stored on the chip, the biometric header around
them removed), ``unreadable`` (no answer or a damaged chip), ``access_denied``
(the key does not open the chip: a misread or altered MRZ) or ``absent`` (no
chip in the field).  Reading a chip takes 3 to 15 s depending on the chip
(UK Border Agency, 2009), which is why ``read_seconds`` is reported.

``MockChipReader`` is fed chip contents per document number from Python (and
from scenario files) and decides ``access_denied`` with the very BAC
derivation above.  For commissioning a gate of real devices before its chip
reader driver exists, ``hardware.chipdocuments`` loads test documents from a
folder (``chip: {kind: mock, documents: DIR}``) into a reader that presents
the chip of the document whose MRZ was just read.

A real driver on PC/SC (pyscard, ISO 7816 APDUs: select the eMRTD
application, BAC or PACE, secure messaging, read DG1 and DG2, check EF.SOD's
hashes) comes later and implements the same protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar, runtime_checkable

from egate.documents.layout import LAYOUTS, long_number_extension
from egate.documents.mrz import MrzResult, parse_mrz

# The controller's word for how a chip read ended, shared with it.
from egate.gate.events import ChipStatus

# The BAC key derivation lives with the chip stack's cryptography; its names
# stay importable from here.
from hardware.emrtd.crypto import adjust_des_parity as adjust_des_parity
from hardware.emrtd.crypto import bac_key_seed as bac_key_seed
from hardware.emrtd.crypto import bac_keys as bac_keys
from hardware.emrtd.crypto import derive_key as derive_key

if TYPE_CHECKING:  # the chip stack (cryptography, the PKI) loads only where chips are read
    from hardware.emrtd.inspection import ChipInspection

Sleep = Callable[[float], None]
ChipT = TypeVar("ChipT")


@dataclass(frozen=True, slots=True)
class ChipRead:
    """The outcome of one chip read: its status, DG1 and DG2 when ``ok``, and its duration."""

    status: ChipStatus
    # The MRZ lines stored in DG1.
    dg1_mrz: tuple[str, ...] | None = None
    # The face image of DG2 as stored: JPEG or JPEG 2000 bytes.
    dg2_image: bytes | None = None
    read_seconds: float = 0.0
    # A real (or virtual) chip's whole inspection: access control, the files,
    # and the verdicts of passive, active and chip authentication.
    inspection: ChipInspection | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.status is not ChipStatus.OK and (
            self.dg1_mrz is not None or self.dg2_image is not None
        ):
            raise ValueError(f"a chip read with status {self.status.value} carries no data")

    def __repr__(self) -> str:
        # DG1 and DG2 are personal and biometric data: they stay out of logs.
        parts = [f"status={self.status.value}", f"read_seconds={self.read_seconds:.2f}"]
        if self.dg1_mrz is not None:
            parts.append("dg1=<redacted>")
        if self.dg2_image is not None:
            parts.append(f"dg2=<{len(self.dg2_image)} bytes>")
        if self.inspection is not None:
            parts.append(f"access={self.inspection.access}")
        return f"ChipRead({', '.join(parts)})"


@runtime_checkable
class ChipReader(Protocol):
    """Reads the chip of the document on the reader, opened with an access key."""

    def read(self, access_key: str) -> ChipRead:
        """Read DG1 and DG2; ``access_key`` is the MRZ information (see ``mrz_information``)."""
        ...


class ChipStand(ChipReader, Protocol):
    """A test reader documents' chips are placed on: the mock reader, the virtual chips' reader."""

    def load(self, chip: MockChip) -> None:
        """Make ``chip`` the chip of its document number."""
        ...

    def present(self, document_number: str | None) -> None:
        """Put a document on the reader (None: take it off)."""
        ...

    def fail_next(self, count: int = 1) -> None:
        """Fault injection: the next ``count`` reads fail."""
        ...


def mrz_information(result: MrzResult) -> str:
    """The BAC/PACE access key of an MRZ: number, birth and expiry dates, with check digits.

    The characters are taken as they stand in the (repaired) MRZ lines,
    document number fillers included.  A long document number (TD1, TD2)
    counts whole, its check digit being the one after it in the optional data.
    """
    layout = LAYOUTS[result.format]
    text = "".join(result.lines)
    extension = long_number_extension(layout, text)
    if extension is None:
        number = text[layout.document_number] + text[layout.document_number_check]
    else:
        number = text[layout.document_number] + text[extension]
    birth = text[layout.birth_date] + text[layout.birth_date_check]
    expiry = text[layout.expiry_date] + text[layout.expiry_date_check]
    return number + birth + expiry


class ChipForgery(StrEnum):
    """How a drill's chip was forged; the virtual chip reader makes each for real.

    Each fails a chip check of the inspection (``ChipCheck``): a substituted
    photo or altered DG1 under the genuine EF.SOD (a hash mismatch), a chip
    re-signed by a forger's own CSCA (untrusted signer), one signed under an
    expired or a revoked Document Signer, a copy of a genuine chip without
    its private keys (active and chip authentication fail), no EF.SOD at all.
    """

    PHOTO_SUBSTITUTED = "photo_substituted"  # DG2 replaced, EF.SOD kept
    DATA_ALTERED = "data_altered"  # DG1 edited to agree with an altered page, EF.SOD kept
    RESIGNED_UNKNOWN_CSCA = "resigned_unknown_csca"  # signed by a forger's own PKI
    DS_EXPIRED = "ds_expired"  # signed under a DS certificate that has expired
    DS_REVOKED = "ds_revoked"  # signed under a DS certificate its CSCA revoked
    CLONED = "cloned"  # a genuine chip's files with other AA/CA private keys
    NO_SOD = "no_sod"  # EF.SOD removed


ChipProtocol = Literal["bac", "pace"]
# ISO/IEC 14443's bit rates.
AIR_RATES_KBPS = (106, 212, 424, 848)


# The access key is built from raw MRZ characters: the century of a date, the
# only thing parse_mrz needs "today" for, plays no part in it.
_ANY_DAY = date(2000, 1, 1)


@dataclass(frozen=True, slots=True)
class MockChip:
    """What one document's chip holds, and how it behaves on the mock reader."""

    dg1_mrz: tuple[str, ...]
    dg2_image: bytes | None
    # A damaged chip (or antenna): every read is ``unreadable``.
    unreadable: bool = False
    # How long a read takes (a real chip: 3 to 15 s).
    read_seconds: float = 0.0
    # The key that opens the chip; by default the MRZ information of DG1.
    # Set it apart from DG1 to model a printed MRZ that was altered.
    access_key: str | None = None
    # A forged chip (made for real by the virtual chip reader; the mock reader ignores it).
    forgery: ChipForgery | None = None
    # DATA_ALTERED: the DG1 the chip was issued (and its EF.SOD signed) with;
    # ``dg1_mrz`` is then the altered DG1 the forger wrote, which opens the chip.
    issued_mrz: tuple[str, ...] | None = None
    # The chip's access control (None: the reader's default) and its air rate in
    # kbit/s (None: no air time, ``read_seconds`` instead).
    protocol: ChipProtocol | None = None
    air_kbps: int | None = None
    # Air time runs this many times faster (a replay's speed).
    speed: float = 1.0
    document_number: str = field(init=False)
    _keys: tuple[bytes, bytes] = field(init=False)

    def __post_init__(self) -> None:
        if self.read_seconds < 0:
            raise ValueError("read_seconds must be 0 or more")
        if self.air_kbps is not None and self.air_kbps not in AIR_RATES_KBPS:
            rates = ", ".join(map(str, AIR_RATES_KBPS))
            raise ValueError(f"air_kbps is one of {rates}, not {self.air_kbps}")
        if not self.speed > 0:
            raise ValueError("speed must be positive")
        if (self.issued_mrz is not None) != (self.forgery is ChipForgery.DATA_ALTERED):
            raise ValueError("issued_mrz is given exactly for a data_altered chip")
        result = parse_mrz(self.dg1_mrz, _ANY_DAY, repair=False)
        key = self.access_key if self.access_key is not None else mrz_information(result)
        object.__setattr__(self, "document_number", result.fields.document_number)
        object.__setattr__(self, "_keys", bac_keys(bac_key_seed(key)))

    @classmethod
    def of(
        cls,
        dg1_mrz: Sequence[str],
        dg2_image: bytes | None,
        *,
        unreadable: bool = False,
        read_seconds: float = 0.0,
        access_key: str | None = None,
        forgery: ChipForgery | None = None,
        issued_mrz: Sequence[str] | None = None,
        protocol: ChipProtocol | None = None,
        air_kbps: int | None = None,
        speed: float = 1.0,
    ) -> MockChip:
        """A chip from MRZ lines in any sequence."""
        return cls(
            tuple(dg1_mrz),
            dg2_image,
            unreadable,
            read_seconds,
            access_key,
            forgery,
            None if issued_mrz is None else tuple(issued_mrz),
            protocol,
            air_kbps,
            speed,
        )

    def opens_with(self, access_key: str) -> bool:
        """Whether BAC with ``access_key`` succeeds: the derived keys are the chip's."""
        try:
            keys = bac_keys(bac_key_seed(access_key))
        except ValueError:  # not ASCII: no reader could send it
            return False
        return keys == self._keys

    def __repr__(self) -> str:
        forgery = "" if self.forgery is None else f", forgery={self.forgery.value}"
        return f"MockChip(<personal data redacted>, unreadable={self.unreadable}{forgery})"


class ChipStandBase(Generic[ChipT]):
    """The part the test readers (``ChipStand``) share: chips by document number, one presented.

    ``fail_next`` injects faults, which each reader's ``read`` uses up with
    ``_take_failure``, one a read.
    """

    def __init__(self) -> None:
        self._chips: dict[str, ChipT] = {}
        self._presented: str | None = None
        self._failures = 0

    def present(self, document_number: str | None) -> None:
        """Put a document on the reader (None: take it off).

        A document whose chip was never loaded reads ``absent``, like a
        passport without a chip.
        """
        self._presented = document_number

    def fail_next(self, count: int = 1) -> None:
        """Fault injection: the next ``count`` reads are ``unreadable`` whatever the chip."""
        if count < 0:
            raise ValueError("count must be 0 or more")
        self._failures = count

    def _presented_chip(self) -> ChipT | None:
        """The chip of the document on the reader; None without one (``absent``)."""
        return None if self._presented is None else self._chips.get(self._presented)

    def _take_failure(self) -> bool:
        """Whether this read meets an injected fault, using it up."""
        failing = self._failures > 0
        self._failures = max(0, self._failures - 1)
        return failing


class MockChipReader(ChipStandBase[MockChip]):
    """A chip reader fed with chips per document number; ``present`` puts one on it.

    ``sleep`` spends a chip's ``read_seconds`` on ``ok`` and ``unreadable``
    reads (the reader keeps trying a bad chip); ``access_denied`` and
    ``absent`` answer at once.  Tests pass nothing and chips with 0 s.
    """

    def __init__(self, *, sleep: Sleep = time.sleep) -> None:
        super().__init__()
        self._sleep = sleep

    def load(self, chip: MockChip) -> None:
        """Make ``chip`` the chip of its document number (replacing any earlier one)."""
        self._chips[chip.document_number] = chip

    def read(self, access_key: str) -> ChipRead:
        """Read the presented document's chip with ``access_key``."""
        chip = self._presented_chip()
        if chip is None:
            return ChipRead(ChipStatus.ABSENT)
        failing = self._take_failure()
        if chip.unreadable or failing:
            self._spend(chip.read_seconds)
            return ChipRead(ChipStatus.UNREADABLE, read_seconds=chip.read_seconds)
        if not chip.opens_with(access_key):
            return ChipRead(ChipStatus.ACCESS_DENIED)
        self._spend(chip.read_seconds)
        return ChipRead(ChipStatus.OK, chip.dg1_mrz, chip.dg2_image, chip.read_seconds)

    def _spend(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)
