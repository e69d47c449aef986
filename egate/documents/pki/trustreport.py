"""A trust store judged at a moment: what ``egate pki list`` shows.

:func:`assess` says which CSCAs have expired or expire soon, and which CRLs
are past their next update.  A stale CRL that is the newest of its CSCA key
is a problem: every document signer of that key reads ``DS_UNTRUSTED``
(revocation status unknown) until a newer CRL is in the store.  An expired
CSCA is not: master lists keep them, nothing valid chains to one, and
passive authentication of a document it signed fails on its own.  A store
without any CSCA is a problem too: no document signer is trusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from egate.documents.pki.truststore import CscaCertificate, RevocationList, TrustStore

__all__ = [
    "CrlState",
    "CrlStatus",
    "CscaState",
    "CscaStatus",
    "TrustReport",
    "assess",
    "issuing_cscas",
]

_DAY = timedelta(days=1)


def issuing_cscas(item: RevocationList, cscas: Iterable[CscaCertificate]) -> list[CscaCertificate]:
    """The CSCAs that may have signed a CRL: of its issuer, and of its key when both say."""
    key = item.authority_key_identifier
    return [
        csca
        for csca in cscas
        if csca.subject == item.issuer
        and (key is None or csca.subject_key_identifier in (None, key))
    ]


class CscaState(StrEnum):
    """A CSCA certificate's validity at a moment."""

    OK = "OK"
    EXPIRES_SOON = "EXPIRES SOON"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT YET VALID"


class CrlState(StrEnum):
    """A CRL's freshness at a moment."""

    OK = "OK"
    # Past its next update, and the newest of its CSCA key: revocation status unknown.
    STALE = "STALE"
    # A newer CRL of the same CSCA key is in the store: this one is not used.
    SUPERSEDED = "SUPERSEDED"


@dataclass(frozen=True)
class CscaStatus:
    """A CSCA certificate, its state and the whole days left until it expires (negative: past)."""

    certificate: CscaCertificate
    state: CscaState
    days_left: int

    def to_dict(self) -> dict[str, object]:
        """The certificate's listing with its state."""
        return {
            **self.certificate.to_dict(),
            "state": self.state.value,
            "days_left": self.days_left,
        }


@dataclass(frozen=True)
class CrlStatus:
    """A CRL, its state, and whether a CSCA of the store issued it."""

    crl: RevocationList
    state: CrlState
    csca_found: bool

    def to_dict(self) -> dict[str, object]:
        """The CRL's listing with its state."""
        return {**self.crl.to_dict(), "state": self.state.value, "csca_found": self.csca_found}


@dataclass(frozen=True)
class TrustReport:
    """A trust store judged at ``at``; ``soon``: how far ahead an expiry is flagged."""

    at: datetime
    soon: timedelta
    cscas: tuple[CscaStatus, ...]
    crls: tuple[CrlStatus, ...]
    skipped: tuple[str, ...]

    def by_country(self) -> dict[str, list[CscaStatus]]:
        """The CSCAs by country (alpha-2, ``?`` for none), countries in order."""
        grouped: dict[str, list[CscaStatus]] = {}
        for status in sorted(self.cscas, key=lambda s: s.certificate.country or "?"):
            grouped.setdefault(status.certificate.country or "?", []).append(status)
        return grouped

    def count(self, state: CscaState | CrlState) -> int:
        """How many CSCAs or CRLs are in ``state``."""
        items = self.cscas if isinstance(state, CscaState) else self.crls
        return sum(1 for item in items if item.state is state)

    def problems(self) -> list[str]:
        """What makes the gate refuse documents it should accept: one line each."""
        found = []
        if not self.cscas:
            found.append("the trust store holds no CSCA certificate: no document signer is trusted")
        for status in self.crls:
            if status.state is CrlState.STALE:
                assert status.crl.next_update is not None
                found.append(
                    f"{status.crl.source}: the CRL of {status.crl.issuer} is past its next "
                    f"update ({status.crl.next_update:%Y-%m-%d %H:%M} UTC): documents of that "
                    "CSCA key read DS_UNTRUSTED until a newer CRL is imported"
                )
        return found

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the moment, the CSCAs and CRLs with their states, skipped, problems."""
        return {
            "at": self.at.isoformat(),
            "soon_days": self.soon // _DAY,
            "certificates": [status.to_dict() for status in self.cscas],
            "crls": [status.to_dict() for status in self.crls],
            "skipped": list(self.skipped),
            "problems": self.problems(),
        }


def assess(store: TrustStore, at: datetime, soon: timedelta) -> TrustReport:
    """Each CSCA's and CRL's state at ``at`` (timezone-aware)."""
    if at.utcoffset() is None:
        raise ValueError("at must be a timezone-aware datetime")
    cscas = []
    for certificate in store.certificates:
        left = certificate.not_after - at
        if at < certificate.not_before:
            state = CscaState.NOT_YET_VALID
        elif left < timedelta(0):
            state = CscaState.EXPIRED
        elif left <= soon:
            state = CscaState.EXPIRES_SOON
        else:
            state = CscaState.OK
        cscas.append(CscaStatus(certificate, state, left // _DAY))
    newest: dict[tuple[str, bytes | None], RevocationList] = {}
    for item in store.crls:
        key = (item.issuer, item.authority_key_identifier)
        if key not in newest or item.this_update > newest[key].this_update:
            newest[key] = item
    crls = []
    for item in store.crls:
        if newest[item.issuer, item.authority_key_identifier] is not item:
            crl_state = CrlState.SUPERSEDED
        elif item.next_update is not None and item.next_update < at:
            crl_state = CrlState.STALE
        else:
            crl_state = CrlState.OK
        crls.append(CrlStatus(item, crl_state, bool(issuing_cscas(item, store.certificates))))
    return TrustReport(at, soon, tuple(cscas), tuple(crls), store.skipped)
