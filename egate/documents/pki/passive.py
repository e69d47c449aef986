"""Passive authentication (ICAO Doc 9303 part 11 §5.1): is the chip's data what its state signed?

(One concept past the ~400-line guideline: the verdict of passive
authentication, check by check, EF.SOD, its signature, the DS certificate's
path to a CSCA and each data group's hash, with the verdict's own types.)

:func:`verify_passive` takes EF.SOD's bytes, the data groups read and a
:class:`TrustStore`, and answers a :class:`PassiveVerdict`: an overall
:class:`PaStatus` and one :class:`PaCheck` per check, in this order:

1. ``sod``: EF.SOD present (SOD_MISSING) and well-formed (SOD_INVALID);
2. ``signature``: the SignerInfo's signed attributes carry the content type
   and the messageDigest of the LDSSecurityObject, and the DS key's
   signature over them holds (SIGNATURE_INVALID);
3. ``certificate``: the DS certificate has a path to a CSCA of the store
   (DS_UNTRUSTED), is valid at ``at`` (DS_EXPIRED) and is not revoked by a
   CRL of the store (DS_REVOKED);
4. ``data_group``, one per data group: the hash of what was read equals the
   SOD's (HASH_MISMATCH).  A read group the SOD has no hash for is a
   mismatch; a group in the SOD that was not read is listed NOT_CHECKED.

The overall status is that of the first check that failed, OK when none did.

The path is validated by pyhanko-certvalidator (cryptography's own
verifier refuses Brainpool curves, which most eMRTD PKIs use).  Revocation:
when the store holds a CRL of the CSCA key that issued the DS certificate
(same issuer name and, where both say, the same key identifier), revocation
information is required: a revoked DS fails DS_REVOKED, and a DS whose CRL is
out of date at ``at`` fails DS_UNTRUSTED ("revocation status unknown"), so
keep the store's CRLs fresh (Doc 9303 part 12: a CSCA issues one at least
every 90 days).  Without such a CRL, revocation is not checked.  SHA-1 stays
acceptable in certificates: documents signed under it are still in
circulation.  An expired DS certificate is still checked for its path, at
the last moment it was valid, so that a forged one reads DS_UNTRUSTED rather
than merely DS_EXPIRED.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)

from egate.documents.pki._cms import DIGESTS, check_signature, name_text
from egate.documents.pki.errors import SodError
from egate.documents.pki.sod import Sod, parse_sod
from egate.documents.pki.truststore import TrustStore

__all__ = ["PaCheck", "PaCheckKind", "PaStatus", "PassiveVerdict", "verify_passive"]

_T = TypeVar("_T")


class PaStatus(StrEnum):
    """The outcome of one check of passive authentication, or of the whole."""

    OK = "OK"
    NOT_CHECKED = "NOT_CHECKED"
    SOD_MISSING = "SOD_MISSING"
    SOD_INVALID = "SOD_INVALID"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    DS_UNTRUSTED = "DS_UNTRUSTED"
    DS_EXPIRED = "DS_EXPIRED"
    DS_REVOKED = "DS_REVOKED"
    HASH_MISMATCH = "HASH_MISMATCH"


class PaCheckKind(StrEnum):
    """What one check of passive authentication looked at."""

    SOD = "sod"
    SIGNATURE = "signature"
    CERTIFICATE = "certificate"
    DATA_GROUP = "data_group"


@dataclass(frozen=True)
class PaCheck:
    """One check: what was checked, how it went, and why (one line, no personal data)."""

    kind: PaCheckKind
    status: PaStatus
    detail: str
    data_group: int | None = None

    @property
    def failed(self) -> bool:
        """Whether the check found a fault (NOT_CHECKED is no fault)."""
        return self.status not in (PaStatus.OK, PaStatus.NOT_CHECKED)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        result: dict[str, object] = {
            "check": str(self.kind),
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.data_group is not None:
            result["data_group"] = self.data_group
        return result


@dataclass(frozen=True)
class PassiveVerdict:
    """The result of passive authentication: the overall status and every check."""

    status: PaStatus
    checks: tuple[PaCheck, ...]
    # The LDSSecurityObject's hash algorithm, the DS and the CSCA it chained to, when known.
    digest_algorithm: str | None = None
    ds_subject: str | None = None
    csca_subject: str | None = None
    revocation_checked: bool = False
    signing_time: datetime | None = field(default=None)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return self.status is PaStatus.OK

    @property
    def mismatched_data_groups(self) -> tuple[int, ...]:
        """The data groups whose hash is not the SOD's (or that the SOD does not cover)."""
        return tuple(
            c.data_group
            for c in self.checks
            if c.data_group is not None and c.status is PaStatus.HASH_MISMATCH
        )

    def check(self, kind: PaCheckKind, data_group: int | None = None) -> PaCheck | None:
        """The check of ``kind`` (for a data group, of that group), or None."""
        for item in self.checks:
            if item.kind is kind and item.data_group == data_group:
                return item
        return None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: status, checks and what was learnt of the signer."""
        return {
            "status": str(self.status),
            "checks": [c.to_dict() for c in self.checks],
            "digest_algorithm": self.digest_algorithm,
            "ds_subject": self.ds_subject,
            "csca_subject": self.csca_subject,
            "revocation_checked": self.revocation_checked,
            "signing_time": None if self.signing_time is None else self.signing_time.isoformat(),
        }


def verify_passive(
    sod_bytes: bytes | None,
    data_groups: Mapping[int, bytes],
    trust: TrustStore,
    *,
    at: datetime,
) -> PassiveVerdict:
    """Passive authentication of the data groups read (``{number: file bytes}``) at ``at``.

    ``at`` must be timezone-aware.  Never raises on what the chip sent:
    every fault of EF.SOD or of the data is a check in the verdict.
    """
    if at.utcoffset() is None:
        raise ValueError("at must be a timezone-aware datetime")
    if sod_bytes is None:
        checks = [
            PaCheck(PaCheckKind.SOD, PaStatus.SOD_MISSING, "the chip has no EF.SOD"),
            *_not_checked("EF.SOD missing"),
            *(
                PaCheck(
                    PaCheckKind.DATA_GROUP,
                    PaStatus.NOT_CHECKED,
                    f"DG{n}: no EF.SOD to check against",
                    n,
                )
                for n in sorted(data_groups)
            ),
        ]
        return _verdict(checks)
    try:
        sod = parse_sod(sod_bytes)
    except SodError as error:
        checks = [
            PaCheck(PaCheckKind.SOD, PaStatus.SOD_INVALID, str(error)),
            *_not_checked("EF.SOD unreadable"),
            *(
                PaCheck(
                    PaCheckKind.DATA_GROUP, PaStatus.NOT_CHECKED, f"DG{n}: EF.SOD unreadable", n
                )
                for n in sorted(data_groups)
            ),
        ]
        return _verdict(checks)
    return _verify(sod, data_groups, trust, at)


def _not_checked(reason: str) -> list[PaCheck]:
    return [
        PaCheck(PaCheckKind.SIGNATURE, PaStatus.NOT_CHECKED, reason),
        PaCheck(PaCheckKind.CERTIFICATE, PaStatus.NOT_CHECKED, reason),
    ]


def _verdict(
    checks: list[PaCheck],
    *,
    digest_algorithm: str | None = None,
    ds_subject: str | None = None,
    csca_subject: str | None = None,
    revocation_checked: bool = False,
    signing_time: datetime | None = None,
) -> PassiveVerdict:
    status = next((c.status for c in checks if c.failed), PaStatus.OK)
    return PassiveVerdict(
        status,
        tuple(checks),
        digest_algorithm=digest_algorithm,
        ds_subject=ds_subject,
        csca_subject=csca_subject,
        revocation_checked=revocation_checked,
        signing_time=signing_time,
    )


def _verify(
    sod: Sod, data_groups: Mapping[int, bytes], trust: TrustStore, at: datetime
) -> PassiveVerdict:
    covered = ", ".join(f"DG{n}" for n in sod.data_groups)
    checks = [
        PaCheck(
            PaCheckKind.SOD,
            PaStatus.OK if sod.digest_algorithm in DIGESTS else PaStatus.SOD_INVALID,
            f"EF.SOD hashes {covered} with {sod.digest_algorithm}"
            if sod.digest_algorithm in DIGESTS
            else f"EF.SOD: hash algorithm {sod.digest_algorithm} is not supported",
        )
    ]
    ds_subject = csca_subject = None
    revocation_checked = False
    ds = None
    if sod.ds_certificate_der is not None:
        try:
            ds = asn1_x509.Certificate.load(sod.ds_certificate_der)
            ds_subject = name_text(ds.subject)
            spki = ds.public_key.dump()
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError):
            ds = None
    if ds is None:
        reason = (
            "EF.SOD carries no certificate of its signer"
            if sod.ds_certificate_der is None
            else "the DS certificate in EF.SOD cannot be read"
        )
        checks.append(PaCheck(PaCheckKind.SIGNATURE, PaStatus.NOT_CHECKED, reason))
        checks.append(PaCheck(PaCheckKind.CERTIFICATE, PaStatus.DS_UNTRUSTED, reason))
    else:
        problem = check_signature(sod._signed, spki)
        checks.append(
            PaCheck(
                PaCheckKind.SIGNATURE,
                PaStatus.OK,
                f"signed by {ds_subject} ({sod.signer.signature_algorithm})",
            )
            if problem is None
            else PaCheck(PaCheckKind.SIGNATURE, PaStatus.SIGNATURE_INVALID, problem)
        )
        certificate_check, csca_subject, revocation_checked = _certificate(ds, trust, at)
        checks.append(certificate_check)
    checks.extend(_data_groups(sod, data_groups))
    return _verdict(
        checks,
        digest_algorithm=sod.digest_algorithm,
        ds_subject=ds_subject,
        csca_subject=csca_subject,
        revocation_checked=revocation_checked,
        signing_time=sod.signer.signing_time,
    )


def _data_groups(sod: Sod, data_groups: Mapping[int, bytes]) -> list[PaCheck]:
    return [
        _data_group(sod, number, data_groups)
        for number in sorted(set(data_groups) | set(sod.hashes))
    ]


def _data_group(sod: Sod, number: int, data_groups: Mapping[int, bytes]) -> PaCheck:
    """The check of data group ``number``: read, hashed in EF.SOD, and the hashes equal."""
    label, digest = f"DG{number}", sod.digest_algorithm

    def check(status: PaStatus, detail: str) -> PaCheck:
        return PaCheck(PaCheckKind.DATA_GROUP, status, detail, number)

    if number not in data_groups:
        return check(PaStatus.NOT_CHECKED, f"{label} is in EF.SOD but was not read")
    if number not in sod.hashes:
        return check(PaStatus.HASH_MISMATCH, f"{label} was read but EF.SOD has no hash of it")
    if digest not in DIGESTS:
        return check(PaStatus.NOT_CHECKED, f"{label}: {digest} is not supported")
    if hmac.compare_digest(hashlib.new(digest, data_groups[number]).digest(), sod.hashes[number]):
        return check(PaStatus.OK, f"{label} matches its {digest} hash")
    return check(PaStatus.HASH_MISMATCH, f"{label} differs from its {digest} hash in EF.SOD")


def _certificate(
    ds: asn1_x509.Certificate, trust: TrustStore, at: datetime
) -> tuple[PaCheck, str | None, bool]:
    """The DS certificate's check, the CSCA it chains to, whether revocation was checked."""

    def check(status: PaStatus, detail: str) -> PaCheck:
        return PaCheck(PaCheckKind.CERTIFICATE, status, detail)

    if not trust.certificates:
        # pyhanko falls back to the system's TLS roots on no anchors: never let it.
        return (
            check(PaStatus.DS_UNTRUSTED, "the trust store holds no CSCA certificate"),
            None,
            False,
        )
    try:
        not_before = ds.not_valid_before
        not_after = ds.not_valid_after
        issuer = ds.issuer
        crls = trust.crls_for(issuer, ds.authority_key_identifier)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as error:
        return (
            check(PaStatus.DS_UNTRUSTED, f"the DS certificate cannot be read: {_one_line(error)}"),
            None,
            False,
        )
    require = bool(crls)
    in_validity = not_before <= at <= not_after
    # An expired DS still gets its path checked, at the nearest moment it was valid,
    # so that a forged one is reported untrusted rather than merely expired.
    moment = at if in_validity else min(max(at, not_before), not_after)
    try:
        context = ValidationContext(
            trust_roots=trust.anchors(),
            crls=crls,
            revocation_mode="require" if require else "soft-fail",
            allow_fetching=False,
            moment=moment,
            retroactive_revinfo=True,
            weak_hash_algos={"md2", "md5"},
        )
        validator = CertificateValidator(ds, validation_context=context)
        # pyhanko leaves this coroutine unannotated.
        path = _run(validator.async_validate_usage({"digital_signature"}))  # type: ignore[no-untyped-call]
    except RevokedError as error:
        return check(PaStatus.DS_REVOKED, f"DS certificate revoked: {_one_line(error)}"), None, True
    except (ExpiredError, NotYetValidError) as error:
        return check(PaStatus.DS_EXPIRED, _one_line(error)), None, require
    except InsufficientRevinfoError as error:
        return (
            check(PaStatus.DS_UNTRUSTED, f"revocation status unknown: {_one_line(error)}"),
            None,
            require,
        )
    except PathBuildingError:
        return (
            check(
                PaStatus.DS_UNTRUSTED,
                "no path from the DS certificate to a CSCA in the trust store "
                f"(issuer {name_text(issuer)})",
            ),
            None,
            False,
        )
    except (PathValidationError, ValidationError) as error:
        return check(PaStatus.DS_UNTRUSTED, _one_line(error)), None, require
    except Exception as error:
        # pyhanko-certvalidator has internal asserts that certificates from a chip can
        # trip (e.g. a CRL signed with an EC key checked against an RSA issuer key):
        # whatever it raises, the DS is not shown trustworthy.
        reason = f"path validation failed: {type(error).__name__} {_one_line(error)}".rstrip()
        return check(PaStatus.DS_UNTRUSTED, reason), None, require
    csca = name_text(path.trust_anchor.authority.name)
    if not in_validity:
        span = f"{not_before.isoformat()} to {not_after.isoformat()}"
        return (
            check(PaStatus.DS_EXPIRED, f"DS certificate valid {span}, not at {at.isoformat()}"),
            csca,
            require,
        )
    revocation = "CRL checked" if require else "no CRL of its CSCA in the store"
    return check(PaStatus.OK, f"DS certificate chains to {csca} ({revocation})"), csca, require


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run pyhanko's coroutine to its end, whether or not the caller is inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Inside a running loop asyncio.run refuses: give the coroutine a loop of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
