"""Whole inspections of virtual chips: issued with a test PKI, served in process, inspected.

Each test issues a chip with ``personalise`` (keys generated once for the
module: RSA key generation is slow), serves its files from a ``VirtualChip``
and asserts on what ``inspect_chip`` found: the access protocol, the files and
their bytes, DG1's lines, the photo, and the verdicts of passive, active and
chip authentication; then clones, corrupted files, foreign signers, wrong
keys, chips that leave the field and chips that answer garbage.
"""

from __future__ import annotations

import io
import math
import random as random_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from egate.documents.lds.com import encode_com
from egate.documents.lds.files import data_group
from egate.documents.lds.protocols import pace_protocol
from egate.documents.lds.securityinfos import PaceInfo, encode_security_infos
from egate.documents.lds.tlv import MAX_HEADER_BYTES, encode_tlv
from egate.documents.pki.passive import PaCheckKind, PaStatus
from egate.documents.pki.testpki import TestPki, generate_test_pki
from egate.documents.pki.truststore import TrustStore
from egate.gate.events import ChipStatus
from hardware.emrtd.activeauth import AaStatus, ActiveAuthenticator
from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.chipauth import CaStatus, ChipAuthenticator
from hardware.emrtd.errors import CardAbsent, ProtocolError
from hardware.emrtd.filereader import SM_SHORT_CHUNK, read_file, select_application
from hardware.emrtd.inspection import AccessKey, ChipInspection, inspect_chip
from hardware.emrtd.pace import PaceParameters
from hardware.emrtd.securemessaging import Cipher
from hardware.emrtd.transport import VirtualTransport
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.card import ChipSettings, VirtualChip, pace_parameters_of
from hardware.emulators.emrtd.personalisation import (
    AaKeyType,
    IssuedChip,
    Photo,
    personalise,
    photo_of,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINES = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
# Document number and check digit, birth date and check digit, expiry and check digit.
MRZ_INFORMATION = "L898902C3674081221204159"
CAN = "123456"
PACE_GM = "PACE id-PACE-ECDH-GM-AES-CBC-CMAC-128"
ALLOWED = {ChipStatus.ABSENT, ChipStatus.UNREADABLE, ChipStatus.ACCESS_DENIED, ChipStatus.OK}


def seeded(seed: int) -> Callable[[int], bytes]:
    return random_module.Random(seed).randbytes


def check_digit(text: str) -> str:
    """Doc 9303 part 3's check digit (weights 7 3 1) of digits and fillers."""
    values = [0 if char == "<" else int(char) for char in text]
    return str(sum(value * (7, 3, 1)[index % 3] for index, value in enumerate(values)) % 10)


def with_birth_date(birth: str) -> str:
    """MRZ_INFORMATION with another birth date (its check digit right)."""
    return MRZ_INFORMATION[:10] + birth + check_digit(birth) + MRZ_INFORMATION[17:]


class FakeClock:
    """A monotonic clock that moves only when the transport spends air time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Recording:
    """A transport that keeps each command's instruction byte."""

    def __init__(self, inner: VirtualTransport) -> None:
        self.inner = inner
        self.instructions: list[int] = []

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        self.instructions.append(command.ins)
        return self.inner.transmit(command)


@dataclass(frozen=True)
class Keys:
    """Keys made once for the module."""

    rsa1024: rsa.RSAPrivateKey
    rsa1024_other: rsa.RSAPrivateKey
    rsa2048: rsa.RSAPrivateKey
    ecdsa: ec.EllipticCurvePrivateKey
    ca: ec.EllipticCurvePrivateKey
    ca_other: ec.EllipticCurvePrivateKey


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return generate_test_pki(now=NOW)


@pytest.fixture(scope="module")
def trust(pki: TestPki) -> TrustStore:
    return TrustStore.from_certificates([pki.csca_certificate])


@pytest.fixture(scope="module")
def keys() -> Keys:
    def rsa_key(bits: int) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)

    def ec_key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.BrainpoolP256R1())

    return Keys(rsa_key(1024), rsa_key(1024), rsa_key(2048), ec_key(), ec_key(), ec_key())


@pytest.fixture(scope="module")
def photo() -> Photo:
    # Noise compresses badly: a 120 x 150 JPEG of it is about 12 KB, a DG2 of some 50 pieces.
    generator = random_module.Random(3)
    image = Image.frombytes("RGB", (120, 150), generator.randbytes(120 * 150 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=75)
    return photo_of(out.getvalue())


def issue(
    pki: TestPki,
    photo: Photo,
    keys: Keys,
    *,
    pace: bool = False,
    aa: AaKeyType | None = None,
    ca: bool = False,
    aa_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    ca_key: ec.EllipticCurvePrivateKey | None = None,
) -> IssuedChip:
    if aa_key is None and aa is not None:
        aa_key = {"rsa1024": keys.rsa1024, "rsa2048": keys.rsa2048, "ecdsa": keys.ecdsa}[aa]
    return personalise(
        LINES,
        photo,
        pki.ds_certificate,
        pki.ds_key,
        signed_at=NOW,
        pace=pace,
        active_authentication=aa,
        chip_authentication=ca,
        can=CAN if pace else None,
        aa_key=aa_key,
        ca_key=(ca_key or keys.ca) if ca else None,
    )


def serve(
    chip: IssuedChip,
    *,
    files: Mapping[str, bytes] | None = None,
    aa_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    ca_key: ec.EllipticCurvePrivateKey | None = None,
    air_time: AirTime | None = None,
    pace_parameters: list[PaceParameters] | None = None,
    **settings: object,
) -> VirtualChip:
    """A virtual chip holding ``chip``'s files (or ``files``) and keys (or the keys given)."""
    files = dict(chip.files if files is None else files)
    aa_key = aa_key or chip.aa_key
    ca_key = ca_key or chip.ca_key
    pace = "EF.CardAccess" in files
    if pace_parameters is None and pace:
        pace_parameters = list(pace_parameters_of(files["EF.CardAccess"]))
    return VirtualChip(
        files,
        mrz_information=chip.mrz_information,
        can=chip.can,
        pace_parameters=pace_parameters,
        settings=ChipSettings(pace=pace, **settings),
        active_authenticator=None
        if aa_key is None
        else ActiveAuthenticator(aa_key, random=seeded(4)),
        chip_authenticator=None if ca_key is None else ChipAuthenticator(ca_key),
        air_time=air_time if air_time is not None else AirTime.zero(),
        random=seeded(5),
    )


def run_inspection(
    card: VirtualChip,
    key: AccessKey | None = None,
    *,
    trust: TrustStore | None,
    **options: object,
) -> ChipInspection:
    return inspect_chip(
        VirtualTransport(card, sleep=lambda _: None),
        key or AccessKey(MRZ_INFORMATION),
        random=seeded(6),
        trust=trust,
        at=NOW,
        **options,
    )


def reads(size: int, chunk: int) -> int:
    """The APDUs reading a ``size``-byte file: SELECT, its header, then ``chunk``-byte pieces."""
    head = min(MAX_HEADER_BYTES, chunk)
    return 2 + math.ceil(max(0, size - head) / chunk)


def stored(chip: IssuedChip) -> dict[str, bytes]:
    """The files an inspection reads from the eMRTD application (EF.CardAccess is the MF's)."""
    return {name: raw for name, raw in chip.files.items() if name != "EF.CardAccess"}


# -- whole inspections that pass ---------------------------------------------------


@pytest.mark.parametrize(
    ("pace", "aa", "ca", "key", "access", "aa_algorithm"),
    [
        (False, None, False, AccessKey(MRZ_INFORMATION), "BAC", None),
        (False, "rsa1024", False, AccessKey(MRZ_INFORMATION), "BAC", "RSA-1024"),
        (False, "ecdsa", True, AccessKey(MRZ_INFORMATION), "BAC", "ECDSA brainpoolP256r1"),
        (True, None, False, AccessKey(MRZ_INFORMATION), PACE_GM, None),
        (True, "rsa2048", True, AccessKey(MRZ_INFORMATION), PACE_GM, "RSA-2048"),
        (True, "ecdsa", True, AccessKey(can=CAN), PACE_GM, "ECDSA brainpoolP256r1"),
        (True, "rsa1024", False, AccessKey(MRZ_INFORMATION, can=CAN), PACE_GM, "RSA-1024"),
    ],
    ids=[
        "bac",
        "bac-aa-rsa1024",
        "bac-ca-aa-ecdsa",
        "pace-mrz",
        "pace-mrz-ca-aa-rsa2048",
        "pace-can-ca-aa-ecdsa",
        "pace-can-aa-rsa1024",
    ],
)
def test_a_genuine_chip_reads_whole_and_passes_every_check(
    pki, trust, keys, photo, pace, aa, ca, key, access, aa_algorithm
):
    chip = issue(pki, photo, keys, pace=pace, aa=aa, ca=ca)
    result = run_inspection(serve(chip), key, trust=trust)

    assert result.status is ChipStatus.OK
    assert result.reason == ""
    assert result.access == access
    # Every file of the application, byte for byte, in the order the inspection reads them.
    assert result.files == stored(chip)
    order = ["EF.COM", "EF.SOD", "DG14", "DG15", "DG1", "DG2"]
    assert list(result.files) == [name for name in order if name in chip.files]
    assert len(result.files["DG1"]) == 93  # 61 5B, 5F1F 58, the 88 characters of a TD3
    assert len(result.files["DG2"]) > len(photo.data)
    assert ("DG14" in result.files) == (pace or ca or aa == "ecdsa")
    assert ("DG15" in result.files) == (aa is not None)
    assert result.dg1 is not None and result.dg1.lines == LINES
    assert result.face is not None and result.face.image == photo.data
    assert (result.face.width, result.face.height) == (120, 150)

    passive = result.passive_authentication
    assert passive is not None and passive.status is PaStatus.OK
    groups = sorted(int(name[2:]) for name in chip.files if name.startswith("DG"))
    checked = [c.data_group for c in passive.checks if c.kind is PaCheckKind.DATA_GROUP]
    assert checked == groups
    assert all(c.status is PaStatus.OK for c in passive.checks)
    assert passive.ds_subject == pki.ds_certificate.subject.rfc4514_string()

    if aa is None:
        assert result.active_authentication is None
    else:
        active = result.active_authentication
        assert active is not None and active.status is AaStatus.OK
        assert active.algorithm.startswith(aa_algorithm)
        assert len(active.challenge) == 8
    if ca:
        chip_auth = result.chip_authentication
        assert chip_auth is not None and chip_auth.status is CaStatus.OK
        assert chip_auth.cipher is Cipher.AES128
    else:
        assert result.chip_authentication is None
    assert result.failures(LINES) == []


def test_dg1_that_differs_from_the_printed_mrz_is_a_failure(pki, trust, keys, photo):
    result = run_inspection(serve(issue(pki, photo, keys)), trust=trust)
    printed = (LINES[0].replace("ANNA", "ANNE"), LINES[1])
    assert result.failures(printed) == ["DG1_MISMATCH: the chip's MRZ differs from the printed one"]


def test_the_repr_names_files_and_sizes_never_their_content(pki, trust, keys, photo):
    result = run_inspection(serve(issue(pki, photo, keys)), trust=trust)
    text = repr(result)
    assert "access=BAC" in text and "DG1:93" in text
    assert "ERIKSSON" not in text and "L898902C" not in text
    assert "L898902C" not in repr(AccessKey(MRZ_INFORMATION, can=CAN))
    assert CAN not in repr(AccessKey(MRZ_INFORMATION, can=CAN))


def test_without_a_moment_there_is_no_passive_authentication(pki, keys, photo):
    card = serve(issue(pki, photo, keys))
    result = inspect_chip(VirtualTransport(card), AccessKey(MRZ_INFORMATION), random=seeded(1))
    assert result.status is ChipStatus.OK
    assert result.passive_authentication is None
    assert "passive authentication" not in [t.step for t in result.timings]


def test_without_a_trust_store_the_signer_is_untrusted(pki, keys, photo):
    result = run_inspection(serve(issue(pki, photo, keys)), trust=None)
    assert result.status is ChipStatus.OK
    assert result.passive_authentication is not None
    assert result.passive_authentication.status is PaStatus.DS_UNTRUSTED


# -- clones, forgeries, foreign signers -----------------------------------------


def test_a_clone_without_the_active_authentication_key_fails_aa(pki, trust, keys, photo):
    original = issue(pki, photo, keys, aa="rsa1024")
    # Another chip of the same document, with its own key: its private key is all the clone has.
    other = issue(pki, photo, keys, aa="rsa1024", aa_key=keys.rsa1024_other)
    assert other.files["DG15"] != original.files["DG15"]
    clone = serve(original, aa_key=other.aa_key)

    result = run_inspection(clone, trust=trust)

    assert result.status is ChipStatus.OK
    assert result.files == stored(original)
    assert result.passive_authentication is not None
    assert result.passive_authentication.status is PaStatus.OK  # the files are the genuine ones
    active = result.active_authentication
    assert active is not None and active.status is AaStatus.AA_FAILED
    assert result.failures(LINES) == [f"AA_FAILED: {active.reason}"]


def test_a_clone_without_the_chip_authentication_key_fails_ca(pki, trust, keys, photo):
    original = issue(pki, photo, keys, pace=True, aa="ecdsa", ca=True)
    other = issue(pki, photo, keys, pace=True, aa="ecdsa", ca=True, ca_key=keys.ca_other)
    assert other.files["DG14"] != original.files["DG14"]
    clone = serve(original, ca_key=other.ca_key)

    result = run_inspection(clone, trust=trust)

    assert result.status is ChipStatus.OK
    assert result.access == PACE_GM
    assert result.files == stored(original)
    chip_auth = result.chip_authentication
    assert chip_auth is not None and chip_auth.status is CaStatus.CA_FAILED
    # A failed chip authentication ends the session: no active authentication after it.
    assert result.active_authentication is None
    assert "active authentication" not in [t.step for t in result.timings]
    assert result.failures(LINES) == [f"CA_FAILED: {chip_auth.reason}"]


def test_one_flipped_byte_of_dg2_is_a_hash_mismatch_of_dg2(pki, trust, keys, photo):
    chip = issue(pki, photo, keys, pace=True, aa="ecdsa", ca=True)
    offset = len(chip.files["DG2"]) - 100  # inside the JPEG's coded data
    result = run_inspection(serve(chip, corrupt={"DG2": offset}), trust=trust)

    assert result.status is ChipStatus.OK
    flipped = bytearray(chip.files["DG2"])
    flipped[offset] ^= 0xFF
    assert result.files["DG2"] == bytes(flipped)
    assert result.face is not None and result.face.image != photo.data
    passive = result.passive_authentication
    assert passive is not None and passive.status is PaStatus.HASH_MISMATCH
    assert passive.mismatched_data_groups == (2,)
    assert [c.data_group for c in passive.checks if c.failed] == [2]
    mismatch = passive.check(PaCheckKind.DATA_GROUP, 2)
    assert mismatch is not None
    assert result.failures(LINES) == [f"HASH_MISMATCH: {mismatch.detail}"]
    assert "DG2" in mismatch.detail


def test_a_chip_signed_by_another_pki_is_untrusted(pki, trust, keys, photo):
    stranger = generate_test_pki(now=NOW, country="D")
    chip = issue(stranger, photo, keys, aa="ecdsa")
    result = run_inspection(serve(chip), trust=trust)

    assert result.status is ChipStatus.OK
    passive = result.passive_authentication
    assert passive is not None and passive.status is PaStatus.DS_UNTRUSTED
    certificate = passive.check(PaCheckKind.CERTIFICATE)
    assert certificate is not None and certificate.status is PaStatus.DS_UNTRUSTED
    # The signature and the hashes are right: only the signer is unknown.
    assert [c.kind for c in passive.checks if c.failed] == [PaCheckKind.CERTIFICATE]
    assert result.failures(LINES) == [f"DS_UNTRUSTED: {certificate.detail}"]


@pytest.mark.parametrize("how", ["withheld", "unlisted"])
def test_a_clone_that_hides_dg14_and_dg15_does_not_pass_clean(pki, trust, keys, photo, how):
    original = issue(pki, photo, keys, pace=True, aa="ecdsa", ca=True)
    files = dict(original.files)
    if how == "withheld":
        del files["DG14"], files["DG15"]  # SELECT answers 6A82
    else:
        files["EF.COM"] = encode_com([1, 2])  # EF.COM is not covered by EF.SOD
    # The clone has the genuine files and neither of the chip's private keys.
    clone = VirtualChip(
        files,
        mrz_information=MRZ_INFORMATION,
        pace_parameters=pace_parameters_of(files["EF.CardAccess"]),
        air_time=AirTime.zero(),
    )
    result = run_inspection(clone, trust=trust)
    # Withheld: DG14 is hashed in EF.SOD but missing; unlisted: read all the same,
    # and the clone cannot answer chip authentication.
    assert [failure.split(":")[0] for failure in result.failures(LINES)] == ["CA_FAILED"]


# -- access control ----------------------------------------------------------------


@pytest.mark.parametrize("pace", [False, True], ids=["bac", "pace"])
def test_a_wrong_birth_date_is_access_denied_naming_the_mrz(pki, trust, keys, photo, pace):
    wrong = with_birth_date("740813")
    assert wrong != MRZ_INFORMATION and wrong[17:] == MRZ_INFORMATION[17:]
    result = run_inspection(
        serve(issue(pki, photo, keys, pace=pace)), AccessKey(wrong), trust=trust
    )

    assert result.status is ChipStatus.ACCESS_DENIED
    assert result.reason.startswith("PACE: " if pace else "BAC: ")
    assert "MRZ" in result.reason
    assert result.access is None
    assert result.files == {}
    assert result.dg1 is None and result.face is None and result.passive_authentication is None
    assert result.failures(LINES) == [f"ACCESS_DENIED: {result.reason}"]


def test_a_wrong_can_is_access_denied_naming_the_can(pki, trust, keys, photo):
    result = run_inspection(
        serve(issue(pki, photo, keys, pace=True)), AccessKey(can="654321"), trust=trust
    )
    assert result.status is ChipStatus.ACCESS_DENIED
    assert "CAN" in result.reason
    assert result.files == {}


def test_a_can_alone_does_not_open_a_bac_chip(pki, trust, keys, photo):
    result = run_inspection(serve(issue(pki, photo, keys)), AccessKey(can=CAN), trust=trust)
    assert result.status is ChipStatus.ACCESS_DENIED
    assert result.reason == "BAC needs the MRZ information; only a CAN was given"


def test_a_pace_protocol_this_stack_does_not_run_falls_back_to_bac(pki, trust, keys, photo):
    chip = issue(pki, photo, keys, pace=True, aa="ecdsa", ca=True)
    files = dict(chip.files)
    # Integrated mapping: EF.CardAccess offers nothing this terminal speaks.
    files["EF.CardAccess"] = encode_security_infos(
        [PaceInfo(pace_protocol("ECDH", "IM", "AES-128"), 2, 13)]
    )
    card = serve(chip, files=files)
    recording = Recording(VirtualTransport(card))
    result = inspect_chip(
        recording, AccessKey(MRZ_INFORMATION), random=seeded(1), trust=trust, at=NOW
    )

    assert result.status is ChipStatus.OK
    assert result.access == "BAC"
    assert result.files == stored(chip)
    # The signed DG14 still offers the PACE the altered EF.CardAccess hides.
    assert result.failures(LINES) == [
        "ACCESS_DOWNGRADED: DG14 offers PACE that EF.CardAccess does not"
    ]
    # EF.CardAccess was read, PACE never started: GET CHALLENGE is the first authentication.
    before_bac = recording.instructions[: recording.instructions.index(0x84)]
    assert 0x22 not in before_bac and 0x86 not in before_bac
    assert before_bac.count(0xB0) == reads(len(files["EF.CardAccess"]), SM_SHORT_CHUNK) - 1


def test_a_pace_that_fails_for_another_reason_than_the_password_falls_back_to_bac(
    pki, trust, keys, photo
):
    chip = issue(pki, photo, keys, pace=True, aa="rsa1024", ca=True)
    # EF.CardAccess says brainpoolP256r1; the chip runs PACE on secp256r1 only.
    other_curve = [PaceParameters(pace_protocol("ECDH", "GM", "AES-128"), 12)]
    card = serve(chip, pace_parameters=other_curve)
    recording = Recording(VirtualTransport(card))
    result = inspect_chip(
        recording, AccessKey(MRZ_INFORMATION), random=seeded(1), trust=trust, at=NOW
    )

    assert result.status is ChipStatus.OK
    assert result.access == "BAC"
    assert result.files == stored(chip)
    assert result.failures(LINES) == []
    # PACE went first (MSE:Set AT, GENERAL AUTHENTICATE), then BAC.
    first_bac = recording.instructions.index(0x84)
    assert recording.instructions.index(0x22) < recording.instructions.index(0x86) < first_bac


def test_a_pace_chip_without_bac_whose_pace_fails_is_unreadable(pki, trust, keys, photo):
    chip = issue(pki, photo, keys, pace=True)
    other_curve = [PaceParameters(pace_protocol("ECDH", "GM", "AES-128"), 12)]
    result = run_inspection(serve(chip, pace_parameters=other_curve, bac=False), trust=trust)
    assert result.status is ChipStatus.UNREADABLE
    assert result.access is None
    assert result.files == {}


# -- a chip that leaves, timings and APDU counts -----------------------------------


def test_a_chip_that_falls_silent_mid_read_is_absent(pki, trust, keys, photo):
    chip = issue(pki, photo, keys, aa="rsa1024")
    whole = run_inspection(serve(chip), trust=trust)
    before_dg2 = sum(
        t.apdus for t in whole.timings[: [t.step for t in whole.timings].index("read DG2")]
    )
    mute_after = before_dg2 + 5

    result = run_inspection(serve(chip, mute_after=mute_after), trust=trust)

    assert result.status is ChipStatus.ABSENT
    assert "does not answer" in result.reason
    assert result.access == "BAC"
    assert result.files == {name: raw for name, raw in stored(chip).items() if name != "DG2"}
    assert result.dg1 is None and result.face is None
    assert result.passive_authentication is None and result.active_authentication is None
    # The unanswered command counts: it was sent.
    assert result.apdus == mute_after + 1
    assert result.timings[-1].step == "read DG2" and result.timings[-1].apdus == 6
    assert result.failures(LINES) == [f"ABSENT: {result.reason}"]


def test_a_chip_silent_from_the_start_is_absent(pki, trust, keys, photo):
    result = run_inspection(serve(issue(pki, photo, keys, pace=True), mute_after=0), trust=trust)
    assert result.status is ChipStatus.ABSENT
    assert result.access is None
    assert result.apdus == 1


@pytest.mark.parametrize("pace", [False, True], ids=["bac", "pace"])
def test_step_timings_and_apdu_counts_add_up(pki, trust, keys, photo, pace):
    chip = issue(pki, photo, keys, pace=pace, aa="ecdsa", ca=True)
    clock = FakeClock()
    card = serve(chip, air_time=AirTime())  # 106 kbit/s
    transport = VirtualTransport(card, sleep=clock.sleep)
    result = inspect_chip(
        transport,
        AccessKey(MRZ_INFORMATION),
        random=seeded(1),
        clock=clock,
        trust=trust,
        at=NOW,
    )

    assert result.status is ChipStatus.OK
    steps = {t.step: t for t in result.timings}
    assert list(steps) == [
        "access control",
        "read EF.COM",
        "read EF.SOD",
        "read DG14",
        "read DG15",
        "read DG1",
        "read DG2",
        "chip authentication",
        "active authentication",
        "passive authentication",
    ]
    # Every APDU is in one step; the clock moved only by the chip's air time.
    assert result.apdus == transport.exchanges == card.apdu_count
    assert result.seconds == pytest.approx(transport.air_seconds) == pytest.approx(clock.now)
    for name, raw in stored(chip).items():
        assert steps[f"read {name}"].apdus == reads(len(raw), SM_SHORT_CHUNK)
    card_access = len(chip.files.get("EF.CardAccess", b""))
    if pace:
        # EF.CardAccess, MSE:Set AT, four GENERAL AUTHENTICATE, SELECT of the application.
        assert steps["access control"].apdus == reads(card_access, SM_SHORT_CHUNK) + 1 + 4 + 1
        assert steps["access control"].seconds > 4 * AirTime().public_key_latency_s
    else:
        # SELECT EF.CardAccess (not found), SELECT of the application, GET CHALLENGE, EXTERNAL
        # AUTHENTICATE.
        assert steps["access control"].apdus == 4
        assert AirTime().auth_latency_s < steps["access control"].seconds < 0.1
    # MSE:Set AT, GENERAL AUTHENTICATE, and the SELECT that proves the new keys.
    assert steps["chip authentication"].apdus == 3
    assert steps["chip authentication"].seconds > AirTime().public_key_latency_s
    assert steps["active authentication"].apdus == 1
    assert steps["active authentication"].seconds > AirTime().public_key_latency_s
    assert steps["passive authentication"].apdus == 0
    assert steps["passive authentication"].seconds == 0.0
    assert steps["read DG2"].seconds > 10 * steps["read DG1"].seconds


def test_extended_length_reads_the_same_bytes_in_fewer_apdus(pki, trust, keys, photo):
    chip = issue(pki, photo, keys, pace=True, aa="ecdsa", ca=True)
    runs = {}
    for chunk in (SM_SHORT_CHUNK, 4096):
        clock = FakeClock()
        transport = VirtualTransport(serve(chip, air_time=AirTime()), sleep=clock.sleep)
        runs[chunk] = inspect_chip(
            transport,
            AccessKey(MRZ_INFORMATION),
            random=seeded(1),
            clock=clock,
            chunk=chunk,
            trust=trust,
            at=NOW,
        )
    short, extended = runs[SM_SHORT_CHUNK], runs[4096]
    assert short.status is extended.status is ChipStatus.OK
    assert extended.files == short.files == stored(chip)
    assert extended.failures(LINES) == short.failures(LINES) == []
    dg2 = len(chip.files["DG2"])
    short_dg2 = next(t for t in short.timings if t.step == "read DG2")
    extended_dg2 = next(t for t in extended.timings if t.step == "read DG2")
    assert short_dg2.apdus == reads(dg2, SM_SHORT_CHUNK)
    assert extended_dg2.apdus == reads(dg2, 4096) == 2 + math.ceil((dg2 - MAX_HEADER_BYTES) / 4096)
    assert extended.apdus < short.apdus
    # Fewer commands, less of the chip's time per command: the read is quicker on the air too.
    assert extended_dg2.seconds < short_dg2.seconds


# -- whatever the card sends ---------------------------------------------------------


class ScriptedCard:
    """A card whose every answer is drawn by hypothesis; silent after ``limit`` commands."""

    def __init__(self, answer: Callable[[], bytes], limit: int = 40) -> None:
        self._answer = answer
        self._limit = limit
        self.count = 0
        self.air_time = AirTime.zero()

    def process(self, apdu: bytes) -> bytes:
        self.count += 1
        return b"" if self.count > self._limit else self._answer()


class ScriptedTransport:
    """A transport whose every answer is a drawn ResponseApdu; CardAbsent after ``limit``."""

    def __init__(self, answer: Callable[[], ResponseApdu], limit: int = 40) -> None:
        self._answer = answer
        self._limit = limit
        self.count = 0

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        self.count += 1
        if self.count > self._limit:
            raise CardAbsent("the scripted card has left")
        return self._answer()


STATUS_WORDS = st.one_of(
    st.sampled_from([0x9000, 0x6282, 0x6A82, 0x6300, 0x6982, 0x6988, 0x6D00, 0x6F00]),
    st.integers(0, 0xFFFF),
)


def assert_allowed(result: ChipInspection) -> None:
    assert result.status in ALLOWED
    assert isinstance(result.failures(LINES), list)
    repr(result)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), can=st.booleans())
def test_arbitrary_card_bytes_never_crash_the_inspection(data, can):
    card = ScriptedCard(lambda: data.draw(st.binary(max_size=300), label="answer"))
    key = AccessKey(MRZ_INFORMATION, can=CAN if can else None)
    result = inspect_chip(VirtualTransport(card), key, random=seeded(1), at=NOW)
    assert_allowed(result)
    assert result.status is not ChipStatus.OK


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), can=st.booleans())
def test_arbitrary_response_apdus_never_crash_the_inspection(data, can):
    answers = st.builds(ResponseApdu, st.binary(max_size=300), STATUS_WORDS)
    transport = ScriptedTransport(lambda: data.draw(answers, label="answer"))
    key = AccessKey(MRZ_INFORMATION, can=CAN if can else None)
    result = inspect_chip(transport, key, random=seeded(1), at=NOW)
    assert_allowed(result)
    assert result.status is not ChipStatus.OK


class FlippingCard:
    """A real chip whose answers have bytes flipped (``flips``: exchange -> position, mask)."""

    def __init__(self, chip: VirtualChip, flips: dict[int, tuple[int, int]]) -> None:
        self._chip = chip
        self._flips = flips
        self.count = 0
        self.air_time = chip.air_time

    def process(self, apdu: bytes) -> bytes:
        answer = bytearray(self._chip.process(apdu))
        flip = self._flips.get(self.count)
        self.count += 1
        if flip is not None and answer:
            position, mask = flip
            answer[position % len(answer)] ^= mask
        return bytes(answer)


@pytest.fixture(scope="module")
def flipped_chips(pki: TestPki, keys: Keys, photo: Photo) -> dict[str, IssuedChip]:
    return {
        "bac-aa-rsa": issue(pki, photo, keys, aa="rsa1024"),
        "pace-ca-aa-ecdsa": issue(pki, photo, keys, pace=True, aa="ecdsa", ca=True),
    }


@pytest.mark.parametrize("kind", ["bac-aa-rsa", "pace-ca-aa-ecdsa"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.dictionaries(
        st.integers(0, 90), st.tuples(st.integers(0, 300), st.integers(1, 255)), max_size=3
    )
)
def test_flipped_bytes_from_a_real_chip_never_crash_nor_pass_as_genuine(
    trust, flipped_chips, kind, flips
):
    chip = flipped_chips[kind]
    card = FlippingCard(serve(chip), flips)
    result = inspect_chip(
        VirtualTransport(card), AccessKey(MRZ_INFORMATION), random=seeded(1), trust=trust, at=NOW
    )
    assert_allowed(result)
    event(f"{result.status.value} after {result.timings[-1].step if result.timings else 'nothing'}")
    if result.status is ChipStatus.OK:
        # Secure messaging's MACs let no flipped byte into what was read.
        assert result.files == stored(chip)
        assert result.passive_authentication is not None
        assert result.passive_authentication.status is PaStatus.OK


def wrapped(tag: int, body: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, or arbitrary bytes inside the file's own tag (to get past it)."""
    return st.one_of(body, body.map(lambda value: encode_tlv(tag, value)))


def variants(genuine: bytes, tag: int, size: int) -> st.SearchStrategy[bytes]:
    """Mostly the file as issued (to reach the later steps), else one byte flipped, else garbage."""
    flipped = st.tuples(st.integers(0, len(genuine) - 1), st.integers(1, 255)).map(
        lambda flip: (
            genuine[: flip[0]] + bytes((genuine[flip[0]] ^ flip[1],)) + genuine[flip[0] + 1 :]
        )
    )
    garbage = wrapped(tag, st.binary(max_size=size))
    return st.sampled_from(["as issued"] * 3 + ["flipped"] * 2 + ["garbage"]).flatmap(
        lambda kind: {"as issued": st.just(genuine), "flipped": flipped, "garbage": garbage}[kind]
    )


@pytest.fixture(scope="module")
def genuine(pki: TestPki, keys: Keys, photo: Photo) -> IssuedChip:
    return issue(pki, photo, keys, aa="ecdsa", ca=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_files_behind_genuine_secure_messaging_never_crash_the_inspection(
    trust, genuine, data
):
    files = {}
    for name, tag, size in (
        ("EF.COM", 0x60, 40),
        ("DG1", 0x61, 120),
        ("DG2", 0x75, 300),
        ("DG14", 0x6E, 200),
        ("DG15", 0x6F, 200),
        ("EF.SOD", 0x77, 300),
    ):
        strategy = variants(genuine.files[name], tag, size)
        if name in ("DG14", "DG15"):
            strategy = st.one_of(strategy, st.none())  # EF.COM lists it, the chip lacks it
        chosen = data.draw(strategy, label=name)
        if chosen is not None:
            files[name] = chosen
    card = serve(genuine, files=files)
    result = inspect_chip(
        VirtualTransport(card), AccessKey(MRZ_INFORMATION), random=seeded(1), trust=trust, at=NOW
    )
    assert_allowed(result)
    assert result.access == "BAC"
    event(f"{result.status.value} after {result.timings[-1].step}")
    # What was read is what the chip holds, up to the length its first bytes declare (and
    # EF.COM may no longer list every group).
    assert all(files[name].startswith(raw) for name, raw in result.files.items())
    if result.status is ChipStatus.OK:
        assert result.passive_authentication is not None


def test_a_transport_protocol_error_is_unreadable():
    def answer() -> ResponseApdu:
        raise ProtocolError("response APDU of 1 bytes has no status word")

    result = inspect_chip(ScriptedTransport(answer), AccessKey(MRZ_INFORMATION), random=seeded(1))
    assert result.status is ChipStatus.UNREADABLE
    assert "no status word" in result.reason


def test_a_pace_chip_without_ef_cardaccess_is_a_downgrade(pki, trust, keys, photo):
    chip = issue(pki, photo, keys, pace=True, aa="ecdsa", ca=True)
    files = {name: raw for name, raw in chip.files.items() if name != "EF.CardAccess"}
    result = run_inspection(serve(chip, files=files), trust=trust)
    assert result.access == "BAC"
    assert result.failures(LINES) == [
        "ACCESS_DOWNGRADED: DG14 offers PACE that EF.CardAccess does not"
    ]


def test_an_inspection_without_passive_authentication_does_not_pass(pki, keys, photo):
    result = inspect_chip(
        VirtualTransport(serve(issue(pki, photo, keys))),
        AccessKey(MRZ_INFORMATION),
        random=seeded(3),
    )
    assert result.status is ChipStatus.OK
    assert result.failures(LINES) == ["PA_NOT_RUN: passive authentication was not run"]


def test_a_huge_file_in_the_largest_pieces_keeps_le_within_bounds():
    # 200 KB: offsets past 32767 read with the odd READ BINARY, pieces near 65536 bytes.
    content = encode_tlv(0x63, bytes(range(256)) * 800)
    card = VirtualChip(
        {"DG3": content},
        mrz_information=MRZ_INFORMATION,
        settings=ChipSettings(pace=False, plain_access=True),
        air_time=AirTime.zero(),
    )
    transport = VirtualTransport(card)
    select_application(transport)
    assert read_file(transport, data_group(3), chunk=65536) == content
