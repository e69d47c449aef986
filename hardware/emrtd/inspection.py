"""The inspection of one eMRTD chip: access control, the files, and the chip checks, timed.

(One concept past the ~400-line guideline: the order of one whole read,
from access control to passive authentication, with the result and timings
it gives; each protocol it runs is a module of its own.)

The order follows Doc 9303 part 11 and what inspection systems do:

1. **Access control.**  EF.CardAccess is read from the master file; when it
   offers a PACE configuration this stack speaks, PACE runs (with the CAN
   when one is given, else the MRZ).  A chip without EF.CardAccess, or whose
   PACE fails for another reason than a wrong password, is opened with BAC,
   as part 11 prescribes for chips that support both.  A refused key ends
   the inspection ``access_denied``.
2. **The security files.**  EF.COM, EF.SOD, DG14 and DG15 are read under
   secure messaging: those EF.COM lists and those EF.SOD hashes, since
   nothing signs EF.COM and a clone could leave DG14 and DG15 out of it.
3. **The data groups**: DG1 and DG2, and DG11 and DG12 when present.
4. **Chip authentication** when DG14 offers it: the session is re-keyed on
   the chip's static key, which only a chip holding the private key can
   follow.  A chip that fails it (``CA_FAILED``) ends the session.
5. **Active authentication** when DG15 holds a key.
6. **Passive authentication** of what was read against EF.SOD and the
   trust store.

A data group EF.SOD hashes that the chip withholds (DG14, DG15) fails the
check it serves, and a PACE chip opened with BAC because EF.CardAccess does
not offer what the signed DG14 does is ``ACCESS_DOWNGRADED``.

Each step is timed with the injected monotonic clock and counted in APDUs.
Whatever the chip sends, the inspection returns a ``ChipInspection``: a chip
that stops answering is ``absent``, one whose bytes break the protocol or
the files is ``unreadable`` with the reason, a refused key ``access_denied``.
The verdicts of passive, active and chip authentication are carried for the
controller to judge; this module does not decide whether the traveller may
pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import load_der_public_key
from cryptography.x509.oid import NameOID

from egate.documents.chippolicy import ChipCheck, ChipFinding, ChipVerdicts, Proof
from egate.documents.lds.com import parse_com
from egate.documents.lds.dg1 import Dg1, parse_dg1
from egate.documents.lds.dg2 import FaceImage, parse_dg2
from egate.documents.lds.dg15 import parse_dg15
from egate.documents.lds.errors import LdsError
from egate.documents.lds.files import LdsFile, data_group, lds_file
from egate.documents.lds.securityinfos import (
    PaceInfo,
    SecurityInfos,
    parse_dg14,
    parse_security_infos,
)
from egate.documents.pki.errors import SodError
from egate.documents.pki.passive import PassiveVerdict, PaStatus, verify_passive
from egate.documents.pki.sod import parse_sod
from egate.documents.pki.truststore import TrustStore
from egate.gate.events import ChipStatus
from hardware.emrtd.activeauth import AaResult, AaStatus, active_authenticate
from hardware.emrtd.apdu import CommandApdu, ResponseApdu, Transport
from hardware.emrtd.bac import bac
from hardware.emrtd.chipauth import CaResult, CaStatus, chip_authenticate
from hardware.emrtd.errors import AccessDenied, CardAbsent, ChipError, ProtocolError, StatusError
from hardware.emrtd.filereader import SM_SHORT_CHUNK, read_file, select_application
from hardware.emrtd.pace import PaceParameters, PacePassword, pace
from hardware.emrtd.securemessaging import SecureChannel, SecureTransport

Random = Callable[[int], bytes]
Clock = Callable[[], float]

# The data groups an e-gate reads beside the security files: the MRZ, the
# face, and the additional personal and document details when present.
DEFAULT_DATA_GROUPS = (1, 2, 11, 12)


@dataclass(frozen=True, slots=True, repr=False)
class AccessKey:
    """What opens the chip: the MRZ information (BAC, PACE) and, optionally, the CAN (PACE)."""

    mrz_information: str | None = None
    can: str | None = None

    def __post_init__(self) -> None:
        if self.mrz_information is None and self.can is None:
            raise ValueError("a chip is opened with the MRZ information or the CAN")

    def __repr__(self) -> str:
        return f"AccessKey(mrz={'<redacted>' if self.mrz_information else None}, can=...)"


@dataclass(frozen=True, slots=True)
class StepTiming:
    """How long one step of the inspection took, and how many APDUs it sent."""

    step: str
    seconds: float
    apdus: int


@dataclass(frozen=True, slots=True, repr=False)
class ChipInspection:
    """Everything one inspection found.  Personal data (DG1, DG2, DG11) stays out of its repr."""

    status: ChipStatus
    reason: str = ""
    # "PACE" (with its protocol name) or "BAC"; None before access control succeeded.
    access: str | None = None
    # The raw files read, by LDS name ("EF.COM", "DG1", ...), as stored on the chip.
    files: dict[str, bytes] = field(default_factory=dict)
    dg1: Dg1 | None = None
    face: FaceImage | None = None
    active_authentication: AaResult | None = None
    chip_authentication: CaResult | None = None
    passive_authentication: PassiveVerdict | None = None
    timings: tuple[StepTiming, ...] = ()
    # Why the access control used is weaker than the chip's signed data offers.
    downgrade: str = ""

    def failures(self, printed_mrz: Sequence[str] | None = None) -> list[str]:
        """Why the chip does not pass, one ``CODE: reason`` each; empty when every check passed.

        ``printed_mrz`` (the lines read optically) is compared with DG1.
        """
        if self.status is not ChipStatus.OK:
            return [f"{self.status.name}: {self.reason}"]
        found: list[str] = []
        if (
            printed_mrz is not None
            and self.dg1 is not None
            and tuple(self.dg1.lines) != tuple(printed_mrz)
        ):
            found.append("DG1_MISMATCH: the chip's MRZ differs from the printed one")
        if self.downgrade:
            found.append(f"ACCESS_DOWNGRADED: {self.downgrade}")
        if self.passive_authentication is None:
            found.append("PA_NOT_RUN: passive authentication was not run")
        if self.passive_authentication is not None:
            found += [
                f"{check.status.name}: {check.detail}"
                for check in self.passive_authentication.checks
                if check.failed
            ]
        # A check this stack cannot run (UNSUPPORTED) is shown, not held against the chip.
        active = self.active_authentication
        if active is not None and active.status is AaStatus.AA_FAILED:
            found.append(f"{active.status.value}: {active.reason}")
        chip_auth = self.chip_authentication
        if chip_auth is not None and chip_auth.status is CaStatus.CA_FAILED:
            found.append(f"{chip_auth.status.value}: {chip_auth.reason}")
        return found

    def verdicts(self) -> ChipVerdicts:
        """The checks' findings in the gate's words, without personal data (for the policy)."""
        findings: list[ChipFinding] = []
        passive = self.passive_authentication
        if passive is None:
            findings.append(ChipFinding(ChipCheck.PA_NOT_RUN))
        else:
            findings += [
                ChipFinding(_PASSIVE_CODES[check.status], check.data_group)
                for check in passive.checks
                if check.status in _PASSIVE_CODES
            ]
        if self.downgrade:
            findings.append(ChipFinding(ChipCheck.ACCESS_DOWNGRADED))
        active, chip_auth = self.active_authentication, self.chip_authentication
        state, fingerprint = _signer(self.files.get("EF.SOD"))
        return ChipVerdicts(
            inspected=self.status is ChipStatus.OK,
            findings=tuple(findings),
            active_authentication=Proof.NOT_OFFERED
            if active is None
            else _PROOFS[active.status.value],
            chip_authentication=(
                Proof.NOT_OFFERED if chip_auth is None else _PROOFS[chip_auth.status.value]
            ),
            issuing_state=state,
            ds_fingerprint=fingerprint,
        )

    @property
    def seconds(self) -> float:
        """The time of the whole inspection."""
        return sum(timing.seconds for timing in self.timings)

    @property
    def apdus(self) -> int:
        """The APDUs the whole inspection sent."""
        return sum(timing.apdus for timing in self.timings)

    def __repr__(self) -> str:
        files = ", ".join(f"{name}:{len(raw)}" for name, raw in self.files.items())
        return (
            f"ChipInspection(status={self.status.value}, access={self.access}, "
            f"files=[{files}], seconds={self.seconds:.3f})"
        )


# Passive authentication's statuses as the gate's reason codes (OK and NOT_CHECKED are none).
_PASSIVE_CODES = {
    PaStatus.SOD_MISSING: ChipCheck.SOD_MISSING,
    PaStatus.SOD_INVALID: ChipCheck.SOD_INVALID,
    PaStatus.SIGNATURE_INVALID: ChipCheck.SIGNATURE_INVALID,
    PaStatus.DS_UNTRUSTED: ChipCheck.DS_UNTRUSTED,
    PaStatus.DS_EXPIRED: ChipCheck.DS_EXPIRED,
    PaStatus.DS_REVOKED: ChipCheck.DS_REVOKED,
    PaStatus.HASH_MISMATCH: ChipCheck.HASH_MISMATCH,
}
# AaStatus and CaStatus values (OK, AA_FAILED/CA_FAILED, UNSUPPORTED) as proofs.
_PROOFS = {
    "OK": Proof.OK,
    "AA_FAILED": Proof.FAILED,
    "CA_FAILED": Proof.FAILED,
    "UNSUPPORTED": Proof.UNSUPPORTED,
}


def _signer(sod: bytes | None) -> tuple[str | None, str | None]:
    """The document signer's country and SHA-256 fingerprint, from EF.SOD (None when unknown)."""
    if sod is None:
        return None, None
    try:
        certificate = parse_sod(sod).ds_certificate()
    except (SodError, ValueError):
        return None, None
    if certificate is None:
        return None, None
    countries = certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    country = str(countries[0].value) if countries else None
    return country, certificate.fingerprint(hashes.SHA256()).hex()


class _Counting:
    """A transport that counts the APDUs sent through it."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.count = 0

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        self.count += 1
        return self.inner.transmit(command)


class _Steps:
    """The timings of an inspection, step by step."""

    def __init__(self, clock: Clock, counter: _Counting) -> None:
        self._clock = clock
        self._counter = counter
        self.timings: list[StepTiming] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start, sent = self._clock(), self._counter.count
        try:
            yield
        finally:
            self.timings.append(StepTiming(name, self._clock() - start, self._counter.count - sent))


@dataclass
class _Session:
    """What the inspection has learnt so far."""

    transport: Transport
    channel: SecureChannel | None = None
    access: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    active: AaResult | None = None
    chip_auth: CaResult | None = None
    downgrade: str = ""
    # The PACEInfos of EF.CardAccess (none when it is missing or unreadable).
    offered_pace: tuple[PaceInfo, ...] = ()


def inspect_chip(
    transport: Transport,
    key: AccessKey,
    *,
    random: Random,
    clock: Clock = time.monotonic,
    data_groups: Sequence[int] = DEFAULT_DATA_GROUPS,
    chunk: int = SM_SHORT_CHUNK,
    trust: TrustStore | None = None,
    at: datetime | None = None,
) -> ChipInspection:
    """Inspect the chip on ``transport`` (see the module docstring); never raises for card bytes.

    Passive authentication runs when ``at`` (the moment certificates are
    judged at, timezone-aware) is given: against ``trust``, or an empty store
    (every document signer untrusted) without one.
    """
    counter = _Counting(transport)
    steps = _Steps(clock, counter)
    session = _Session(counter)
    try:
        _run(session, key, steps, random, data_groups, chunk)
        dg1 = parse_dg1(session.files["DG1"])
        face = parse_dg2(session.files["DG2"]).face
    except CardAbsent as error:
        return _ended(ChipStatus.ABSENT, str(error), session, steps)
    except AccessDenied as error:
        return _ended(ChipStatus.ACCESS_DENIED, str(error), session, steps)
    except (ChipError, LdsError) as error:
        return _ended(ChipStatus.UNREADABLE, str(error), session, steps)
    passive = None
    if at is not None:
        with steps.step("passive authentication"):
            passive = _passive(session.files, trust, at)
    return ChipInspection(
        ChipStatus.OK,
        access=session.access,
        files=dict(session.files),
        dg1=dg1,
        face=face,
        active_authentication=session.active,
        chip_authentication=session.chip_auth,
        passive_authentication=passive,
        timings=tuple(steps.timings),
        downgrade=session.downgrade,
    )


def _passive(files: dict[str, bytes], trust: TrustStore | None, at: datetime) -> PassiveVerdict:
    groups = {lds_file(name).data_group: raw for name, raw in files.items()}
    store = (
        trust if trust is not None else TrustStore.from_certificates([], source="no trust store")
    )
    return verify_passive(
        files.get("EF.SOD"),
        {number: raw for number, raw in groups.items() if number is not None},
        store,
        at=at,
    )


def _ended(status: ChipStatus, reason: str, session: _Session, steps: _Steps) -> ChipInspection:
    return ChipInspection(
        status,
        reason,
        access=session.access,
        files=dict(session.files),
        timings=tuple(steps.timings),
    )


def _run(
    session: _Session,
    key: AccessKey,
    steps: _Steps,
    random: Random,
    data_groups: Sequence[int],
    chunk: int,
) -> None:
    with steps.step("access control"):
        _open(session, key, random)
    com = _read_into(session, steps, lds_file("EF.COM"), chunk, required=True)
    listed = set(parse_com(com).data_groups) if com is not None else set()
    sod = _read_into(session, steps, lds_file("EF.SOD"), chunk)
    # EF.COM is signed by nobody: a clone could leave DG14 and DG15 out of it.
    # The groups EF.SOD hashes are looked for too, and one it hashes that the
    # chip withholds fails the check that needs it.
    signed = _hashed_data_groups(sod)
    wanted = listed | signed
    security = None
    if 14 in wanted and _read_into(session, steps, data_group(14), chunk) is not None:
        security = parse_dg14(session.files["DG14"])
        if (
            session.access == "BAC"
            and security.pace
            and set(security.pace) != set(session.offered_pace)
        ):
            # DG14 is signed; EF.CardAccess is not: PACE left out of it (or
            # altered) steers a terminal to weaker access control.
            session.downgrade = "DG14 offers PACE that EF.CardAccess does not"
    if 15 in wanted:
        _read_into(session, steps, data_group(15), chunk)
    for number in sorted({1, 2, *(n for n in data_groups if n in wanted)}):
        _read_into(session, steps, data_group(number), chunk, required=number in (1, 2))
    if 14 in signed and "DG14" not in session.files:
        session.chip_auth = CaResult(
            CaStatus.CA_FAILED, "", None, f"DG14 is hashed in EF.SOD but {_WITHHELD}"
        )
        return
    if 15 in signed and "DG15" not in session.files:
        session.active = AaResult(
            AaStatus.AA_FAILED, "", None, b"", b"", f"DG15 is hashed in EF.SOD but {_WITHHELD}"
        )
    # The chip checks come last: a failed chip authentication ends the session.
    if security is not None and security.chip_authentication_keys:
        with steps.step("chip authentication"):
            session.chip_auth = _chip_authentication(session, security, random)
        if session.chip_auth.status is CaStatus.CA_FAILED:
            return
    if "DG15" in session.files:
        with steps.step("active authentication"):
            session.active = _active(session, security, random)


_WITHHELD = "the chip does not give it: its key cannot be checked (a clone?)"


def _hashed_data_groups(sod: bytes | None) -> set[int]:
    """The data groups EF.SOD hashes (none when it is missing or unreadable: PA says why)."""
    if sod is None:
        return set()
    try:
        return set(parse_sod(sod).data_groups)
    except SodError:
        return set()


def _read_into(
    session: _Session, steps: _Steps, file: LdsFile, chunk: int, *, required: bool = False
) -> bytes | None:
    """Read ``file`` into the session; ProtocolError when a ``required`` file is missing."""
    with steps.step(f"read {file.name}"):
        raw = read_file(session.transport, file, chunk=chunk)
    if raw is None:
        if required:
            raise ProtocolError(f"{file.name}: the chip has no {file.name}")
        return None
    session.files[file.name] = raw
    return raw


def _chip_authentication(session: _Session, security: SecurityInfos, random: Random) -> CaResult:
    """Chip authentication with DG14's key: the session goes on under keys only the chip has."""
    key_info = security.chip_authentication_keys[0]
    protocol = next(
        (
            info.protocol
            for info in security.chip_authentication
            if info.key_id is None or info.key_id == key_info.key_id
        ),
        None,
    )
    try:
        public_key = load_der_public_key(key_info.public_key)
    except (ValueError, UnsupportedAlgorithm) as error:
        return CaResult(
            CaStatus.UNSUPPORTED,
            protocol or key_info.protocol,
            None,
            f"DG14's chip authentication key cannot be loaded: {error}",
        )
    assert isinstance(session.transport, SecureTransport)
    try:
        return chip_authenticate(
            session.transport, public_key, protocol=protocol, key_id=key_info.key_id, random=random
        )
    except StatusError as error:
        # DG14 offers it: a chip that refuses it has not the key (a clone).
        return CaResult(CaStatus.CA_FAILED, protocol or "", None, f"the chip refused: {error}")


def _active(session: _Session, security: SecurityInfos | None, random: Random) -> AaResult:
    """Active authentication with DG15's key (and DG14's hash for ECDSA)."""
    public_key = parse_dg15(session.files["DG15"]).public_key()
    info = security.active_authentication if security is not None else None
    hash_algorithm = info.hash_algorithm if info is not None else None
    try:
        return active_authenticate(
            session.transport, public_key, hash_algorithm=hash_algorithm, random=random
        )
    except StatusError as error:
        # DG15 holds a key: a chip that will not sign with it has not got it (a clone).
        return AaResult(AaStatus.AA_FAILED, "", None, b"", b"", f"the chip refused: {error}")


def _open(session: _Session, key: AccessKey, random: Random) -> None:
    """Access control: PACE when EF.CardAccess offers it, else BAC."""
    plain = session.transport
    parameters = _pace_parameters(session)
    pace_failure = ""
    if parameters is not None:
        password = (
            PacePassword.from_can(key.can)
            if key.can is not None
            else PacePassword.from_mrz(key.mrz_information or "")
        )
        try:
            channel = pace(plain, password, parameters, random)
        except (StatusError, ProtocolError) as error:
            # PACE not to be had: BAC, as part 11 prescribes; why is kept for the report.
            channel, pace_failure = None, f"PACE failed ({error}), then "
        if channel is not None:
            session.channel = channel
            session.access = f"PACE {parameters.name}"
            session.transport = SecureTransport(plain, channel)
            select_application(session.transport)
            return
    if key.mrz_information is None:
        raise AccessDenied(f"{pace_failure}BAC needs the MRZ information; only a CAN was given")
    try:
        select_application(plain)
        channel = bac(plain, key.mrz_information, random)
    except AccessDenied as error:
        raise AccessDenied(f"{pace_failure}{error}") from None
    except StatusError as error:
        raise StatusError(f"{pace_failure}{error.command}", error.sw) from None
    session.channel = channel
    session.access = "BAC"
    session.transport = SecureTransport(plain, channel)


def _pace_parameters(session: _Session) -> PaceParameters | None:
    """The first PACE configuration of EF.CardAccess this stack speaks; None without one.

    A chip without EF.CardAccess, or with one that cannot be read, is a BAC chip.
    """
    try:
        raw = read_file(session.transport, lds_file("EF.CardAccess"))
        if raw is None:
            return None
        session.offered_pace = offered = parse_security_infos(raw).pace
    except (StatusError, ProtocolError, LdsError):
        return None
    for info in offered:
        if info.parameter_id is not None and PaceParameters.supported(
            info.protocol, info.parameter_id
        ):
            return PaceParameters(info.protocol, info.parameter_id, len(offered) > 1)
    return None
