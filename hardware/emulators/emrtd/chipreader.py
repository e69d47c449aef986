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
keep their timings.  A chip with an ``air_kbps`` runs at that ISO/IEC 14443
rate instead (``AirTime``, spent through the same ``sleep``, ``speed`` times
faster), with BAC or PACE as its ``protocol`` says.  A chip marked
``unreadable`` (and each read after ``fail_next``) answers with a damaged
EF.COM, which the inspection reports ``unreadable``.

A chip with a ``forgery`` (``ChipForgery``) is forged for real, so that the
inspection finds what it would find on a forged passport:

- ``photo_substituted``: issued with the true holder's photo, then DG2
  replaced by the chip's photo, EF.SOD kept (a DG2 hash mismatch);
- ``data_altered``: issued with ``issued_mrz``, then DG1 replaced by the
  altered one, which also opens the chip; EF.SOD kept (a DG1 hash mismatch);
- ``resigned_unknown_csca``: a consistent chip signed by a forger's own
  CSCA and DS (one per reader), which the trust store does not hold;
- ``ds_expired``: signed under a DS certificate of the reader's CSCA whose
  validity ended before today;
- ``ds_revoked``: signed under a second DS certificate of the reader's CSCA,
  revoked by a CRL of that CSCA that the reader adds to its trust store;
- ``cloned``: a genuine chip's files served with other active and chip
  authentication keys than the ones DG15 and DG14 name;
- ``no_sod``: EF.SOD removed.

The reader's test PKI is backdated by ``PKI_BACKDATE`` so that the expired
DS lies inside its CSCA's validity.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography import x509
from PIL import Image

from egate.documents.lds.dg1 import encode_dg1
from egate.documents.lds.dg2 import ImageType, encode_dg2
from egate.documents.mrz import parse_mrz
from egate.documents.pki.testpki import (
    PrivateKey,
    TestPki,
    generate_test_pki,
    issue_crl,
    issue_ds,
)
from egate.documents.pki.truststore import TrustStore
from egate.gate.events import ChipStatus
from hardware.chip import ChipForgery, ChipRead, ChipStandBase, MockChip, mrz_information
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

# How long before its creation the reader's own test PKI became valid.
PKI_BACKDATE = timedelta(days=30)
# The expired DS: valid for this long, ending this long ago.
EXPIRED_DS_VALIDITY = timedelta(days=10)
EXPIRED_DS_ENDED_AGO = timedelta(days=5)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A personalised chip and how the mock chip asked it to behave."""

    issued: IssuedChip
    # Set apart from DG1's when the printed MRZ was altered after issue.
    access_key: str | None
    unreadable: bool
    read_seconds: float
    air_kbps: int | None = None
    speed: float = 1.0


# The century of a date plays no part in an access key (see hardware.chip).
_ANY_DAY = datetime(2000, 1, 1).date()


def _photo(image: bytes) -> Photo:
    """DG2's photo; bytes that are no image are stored all the same (a drill's damaged photo)."""
    try:
        return photo_of(image, "DG2 image")
    except PersonalisationError:
        return Photo(image, ImageType.JPEG, 0, 0)


@cache
def _true_holder_photo() -> bytes:
    """The photo a substituted chip photo replaced: a small grey portrait-sized JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (120, 160), (128, 128, 128)).save(out, "JPEG", quality=75)
    return out.getvalue()


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
        self.pki = pki if pki is not None else generate_test_pki(now=now() - PKI_BACKDATE)
        self.trust = TrustStore.from_certificates([self.pki.csca_certificate], source="test CSCA")
        self._sleep = sleep
        self._random = random
        self._pace = pace
        # The forgers' signers, made on first use.
        self._forger_pki: TestPki | None = None
        self._expired_ds: tuple[x509.Certificate, PrivateKey] | None = None
        self._revoked_ds: tuple[x509.Certificate, PrivateKey] | None = None

    def load(self, chip: MockChip) -> None:
        """Issue a virtual chip for ``chip``'s document (replacing any earlier one)."""
        forgery = chip.forgery
        pace = self._pace if chip.protocol is None else chip.protocol == "pace"
        signer, signed_at = self._signer(forgery)
        photo = None if chip.dg2_image is None else _photo(chip.dg2_image)
        if forgery is ChipForgery.PHOTO_SUBSTITUTED:
            photo = _photo(_true_holder_photo())
        issued_mrz = chip.issued_mrz if chip.issued_mrz is not None else chip.dg1_mrz
        issued = personalise(
            issued_mrz,
            photo,
            signer[0],
            signer[1],
            signed_at=signed_at,
            pace=pace,
            active_authentication="ecdsa",
            chip_authentication=pace,
        )
        access_key = chip.access_key
        files = dict(issued.files)
        if forgery is ChipForgery.PHOTO_SUBSTITUTED and chip.dg2_image is not None:
            substitute = _photo(chip.dg2_image)
            files["DG2"] = encode_dg2(
                substitute.data, substitute.image_type, substitute.width, substitute.height
            )
        elif forgery is ChipForgery.DATA_ALTERED:
            files["DG1"] = encode_dg1(list(chip.dg1_mrz))
            if access_key is None:
                # The altered DG1's key opens the chip, as the altered page's does.
                access_key = mrz_information(parse_mrz(chip.dg1_mrz, _ANY_DAY, repair=False))
        elif forgery is ChipForgery.NO_SOD:
            del files["EF.SOD"]
        if forgery is ChipForgery.CLONED:
            # The copy answers with keys of its own: the signed DG14 and DG15 name others.
            clone = personalise(
                issued_mrz,
                None,
                signer[0],
                signer[1],
                signed_at=signed_at,
                pace=pace,
                active_authentication="ecdsa",
                chip_authentication=pace,
            )
            issued = replace(issued, aa_key=clone.aa_key, ca_key=clone.ca_key)
        issued = replace(issued, files=files)
        self._chips[chip.document_number] = _Loaded(
            issued,
            access_key,
            chip.unreadable,
            chip.read_seconds,
            chip.air_kbps,
            chip.speed,
        )

    def _signer(
        self, forgery: ChipForgery | None
    ) -> tuple[tuple[x509.Certificate, PrivateKey], datetime]:
        """Who signs the chip's EF.SOD, and when."""
        now = self._now()
        if forgery is ChipForgery.RESIGNED_UNKNOWN_CSCA:
            if self._forger_pki is None:
                self._forger_pki = generate_test_pki(now=now - PKI_BACKDATE, random=self._random)
            return (self._forger_pki.ds_certificate, self._forger_pki.ds_key), now
        if forgery is ChipForgery.DS_EXPIRED:
            if self._expired_ds is None:
                start = now - EXPIRED_DS_ENDED_AGO - EXPIRED_DS_VALIDITY
                self._expired_ds = issue_ds(
                    self.pki.csca_certificate,
                    self.pki.csca_key,
                    now=start,
                    validity=EXPIRED_DS_VALIDITY,
                    name="egate TEST Document Signer (expired)",
                    random=self._random,
                )
            certificate = self._expired_ds[0]
            return self._expired_ds, certificate.not_valid_before_utc + timedelta(days=1)
        if forgery is ChipForgery.DS_REVOKED:
            if self._revoked_ds is None:
                self._revoked_ds = issue_ds(
                    self.pki.csca_certificate,
                    self.pki.csca_key,
                    now=now - timedelta(days=1),
                    name="egate TEST Document Signer (revoked)",
                    random=self._random,
                )
                crl = issue_crl(
                    self.pki.csca_certificate,
                    self.pki.csca_key,
                    [self._revoked_ds[0].serial_number],
                    now=now - timedelta(minutes=1),
                )
                self.trust = self.trust.merged(
                    TrustStore.from_certificates([], [crl], source="test CSCA CRL")
                )
            return self._revoked_ds, now
        return (self.pki.ds_certificate, self.pki.ds_key), now

    def read(self, access_key: str) -> ChipRead:
        """Inspect the presented document's chip, opened with ``access_key``."""
        loaded = self._presented_chip()
        if loaded is None:
            return ChipRead(ChipStatus.ABSENT)
        # A fault (fail_next) is a damaged chip, read as unreadable.
        damaged = self._take_failure() or loaded.unreadable
        card = self._card(loaded, damaged)
        speed = loaded.speed

        def sleep(seconds: float) -> None:
            self._sleep(seconds / speed)

        reader = InspectingChipReader(
            lambda: VirtualTransport(card, sleep=sleep),
            trust=self.trust,
            now=self._now,
            random=self._random,
        )
        read = reader.read(access_key)
        # A refused key answers at once; a read (even of a bad chip) takes the chip's time.
        if (
            loaded.air_kbps is None
            and read.status is not ChipStatus.ACCESS_DENIED
            and loaded.read_seconds > read.read_seconds
        ):
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
            air_time=AirTime.zero()
            if loaded.air_kbps is None
            else AirTime(bit_rate_kbps=loaded.air_kbps),
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
