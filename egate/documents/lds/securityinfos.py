"""SecurityInfos (Doc 9303 part 11 §9.2): what EF.CardAccess and DG14 say the chip supports.

A SET of SecurityInfo, each a SEQUENCE starting with a protocol OID.  Read
here: PACEInfo (PACE with a mapping, cipher and standard domain parameters),
ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo (the chip's static
key as a SubjectPublicKeyInfo) and ActiveAuthenticationInfo (the hash of
ECDSA active authentication).  Every other SecurityInfo (TerminalAuthentica-
tionInfo, domain parameter infos, CardInfoLocator, ...) is kept whole as an
``UnknownSecurityInfo`` and written back byte for byte.  EF.CardAccess is the
bare SET; DG14 wraps it in tag 6E.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from egate.documents.lds.der import (
    OID,
    SEQUENCE,
    SET,
    encode_integer,
    encode_oid,
    read_integer,
    read_oid,
    read_spki,
)
from egate.documents.lds.protocols import (
    AA_HASHES,
    AA_PROTOCOL,
    STANDARD_DOMAIN_PARAMETERS,
    ca_parts,
    pace_parts,
    pk_key_agreement,
)
from egate.documents.lds.protocols import ca_protocol as ca_protocol
from egate.documents.lds.protocols import pace_protocol as pace_protocol
from egate.documents.lds.tlv import Tlv, encode_tlv, expect, read_file_tlv

DG14_TAG = 0x6E


@dataclass(frozen=True, slots=True)
class PaceInfo:
    """PACE: protocol (key agreement, mapping, cipher), version (2) and domain parameter id."""

    protocol: str
    version: int = 2
    parameter_id: int | None = None

    @property
    def key_agreement(self) -> str:
        """ "DH" or "ECDH"."""
        return pace_parts(self.protocol)[0]

    @property
    def mapping(self) -> str:
        """ "GM" (generic), "IM" (integrated) or "CAM" (chip authentication mapping)."""
        return pace_parts(self.protocol)[1]

    @property
    def cipher(self) -> str:
        """ "3DES", "AES-128", "AES-192" or "AES-256"."""
        return pace_parts(self.protocol)[2]

    @property
    def domain_parameters(self) -> str | None:
        """The standard domain parameters' name ("brainpoolP256r1"), if the id is one."""
        if self.parameter_id is None:
            return None
        return STANDARD_DOMAIN_PARAMETERS.get(self.parameter_id)


@dataclass(frozen=True, slots=True)
class ChipAuthenticationInfo:
    """Chip authentication: protocol (key agreement, cipher), version (1 or 2), key id."""

    protocol: str
    version: int = 1
    key_id: int | None = None

    @property
    def key_agreement(self) -> str:
        """ "DH" or "ECDH"."""
        return ca_parts(self.protocol)[0]

    @property
    def cipher(self) -> str:
        """ "3DES", "AES-128", "AES-192" or "AES-256"."""
        return ca_parts(self.protocol)[1]


@dataclass(frozen=True, slots=True)
class ChipAuthenticationPublicKeyInfo:
    """The chip's static key agreement key: id-PK-DH or id-PK-ECDH, SubjectPublicKeyInfo DER."""

    protocol: str
    public_key: bytes = field(repr=False)
    key_id: int | None = None

    @property
    def key_agreement(self) -> str:
        """ "DH" or "ECDH"."""
        return pk_key_agreement(self.protocol)


@dataclass(frozen=True, slots=True)
class ActiveAuthenticationInfo:
    """Active authentication with ECDSA: the signature algorithm, hence the hash."""

    signature_algorithm: str
    version: int = 1
    protocol: str = AA_PROTOCOL

    @property
    def hash_algorithm(self) -> str | None:
        """ "sha256" and the like, or None for an algorithm this table does not know."""
        return AA_HASHES.get(self.signature_algorithm)


@dataclass(frozen=True, slots=True)
class UnknownSecurityInfo:
    """A SecurityInfo not read here, kept as its DER bytes."""

    protocol: str
    der: bytes = field(repr=False)


SecurityInfo = (
    PaceInfo
    | ChipAuthenticationInfo
    | ChipAuthenticationPublicKeyInfo
    | ActiveAuthenticationInfo
    | UnknownSecurityInfo
)


@dataclass(frozen=True, slots=True)
class SecurityInfos:
    """The SecurityInfo of EF.CardAccess or DG14, in the file's order."""

    infos: tuple[SecurityInfo, ...]

    @property
    def pace(self) -> tuple[PaceInfo, ...]:
        """The PACEInfos."""
        return tuple(i for i in self.infos if isinstance(i, PaceInfo))

    @property
    def chip_authentication(self) -> tuple[ChipAuthenticationInfo, ...]:
        """The ChipAuthenticationInfos."""
        return tuple(i for i in self.infos if isinstance(i, ChipAuthenticationInfo))

    @property
    def chip_authentication_keys(self) -> tuple[ChipAuthenticationPublicKeyInfo, ...]:
        """The ChipAuthenticationPublicKeyInfos."""
        return tuple(i for i in self.infos if isinstance(i, ChipAuthenticationPublicKeyInfo))

    @property
    def active_authentication(self) -> ActiveAuthenticationInfo | None:
        """The ActiveAuthenticationInfo, if any."""
        return next((i for i in self.infos if isinstance(i, ActiveAuthenticationInfo)), None)


def _kind(protocol: str) -> type[SecurityInfo] | None:
    """Which SecurityInfo ``protocol`` announces, if it is one read here."""
    for kind, check in (
        (PaceInfo, pace_parts),
        (ChipAuthenticationInfo, ca_parts),
        (ChipAuthenticationPublicKeyInfo, pk_key_agreement),
    ):
        try:
            check(protocol)
        except ValueError:
            continue
        return kind
    return ActiveAuthenticationInfo if protocol == AA_PROTOCOL else None


def _optional_id(parts: list[Tlv], what: str) -> int | None:
    return read_integer(parts[2], what) if len(parts) == 3 else None


def _info(obj: Tlv, raw: bytes) -> SecurityInfo:
    """One SecurityInfo; ``raw`` is the file, for the exact bytes of what is kept whole."""
    parts = expect(obj, SEQUENCE).children()
    if len(parts) < 2:
        raise obj.error("SecurityInfo without its required data")
    protocol = read_oid(parts[0])
    kind = _kind(protocol)
    if kind is None:
        return UnknownSecurityInfo(protocol, raw[obj.offset : obj.end])
    if len(parts) > 3:
        raise parts[3].error(f"{protocol}: more parts than the SecurityInfo has")
    if kind is PaceInfo:
        version = read_integer(parts[1], "PACEInfo version")
        return PaceInfo(protocol, version, _optional_id(parts, "PACE parameter id"))
    if kind is ChipAuthenticationInfo:
        version = read_integer(parts[1], "ChipAuthenticationInfo version")
        return ChipAuthenticationInfo(protocol, version, _optional_id(parts, "key id"))
    if kind is ChipAuthenticationPublicKeyInfo:
        read_spki(parts[1])
        key = raw[parts[1].offset : parts[1].end]
        return ChipAuthenticationPublicKeyInfo(protocol, key, _optional_id(parts, "key id"))
    if len(parts) != 3:
        raise obj.error("ActiveAuthenticationInfo without its signature algorithm")
    version = read_integer(parts[1], "ActiveAuthenticationInfo version")
    return ActiveAuthenticationInfo(read_oid(expect(parts[2], OID)), version)


def _parse_set(raw: bytes, content: Tlv) -> SecurityInfos:
    items = expect(content, SET).children()
    if not items:
        raise content.error("SecurityInfos is empty")
    return SecurityInfos(tuple(_info(item, raw) for item in items))


def parse_security_infos(raw: bytes, file: str = "EF.CardAccess") -> SecurityInfos:
    """A file that is a bare SecurityInfos SET (EF.CardAccess)."""
    return _parse_set(raw, read_file_tlv(raw, file, SET))


def parse_dg14(raw: bytes) -> SecurityInfos:
    """DG14: SecurityInfos in tag 6E."""
    outer = read_file_tlv(raw, "DG14", DG14_TAG)
    children = outer.children()
    if len(children) != 1:
        raise outer.error(f"DG14 holds {len(children)} data objects (one SET expected)")
    return _parse_set(raw, children[0])


def _optional(number: int | None) -> bytes:
    return b"" if number is None else encode_integer(number)


def encode_security_info(info: SecurityInfo) -> bytes:
    """One SecurityInfo's DER encoding."""
    if isinstance(info, UnknownSecurityInfo):
        return info.der
    if isinstance(info, PaceInfo):
        pace_parts(info.protocol)
        body = encode_integer(info.version) + _optional(info.parameter_id)
    elif isinstance(info, ChipAuthenticationInfo):
        ca_parts(info.protocol)
        body = encode_integer(info.version) + _optional(info.key_id)
    elif isinstance(info, ChipAuthenticationPublicKeyInfo):
        pk_key_agreement(info.protocol)
        body = info.public_key + _optional(info.key_id)
    else:
        body = encode_integer(info.version) + encode_oid(info.signature_algorithm)
    return encode_tlv(SEQUENCE, encode_oid(info.protocol) + body)


def encode_security_infos(infos: Iterable[SecurityInfo]) -> bytes:
    """SecurityInfos as DER: a SET OF, its members in ascending order of their encodings."""
    members = sorted(encode_security_info(info) for info in infos)
    if not members:
        raise ValueError("SecurityInfos needs at least one SecurityInfo")
    return encode_tlv(SET, b"".join(members))


def encode_dg14(infos: Iterable[SecurityInfo]) -> bytes:
    """DG14: the SecurityInfos in tag 6E."""
    return encode_tlv(DG14_TAG, encode_security_infos(infos))
