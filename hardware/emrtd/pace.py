"""PACE, Password Authenticated Connection Establishment (Doc 9303 part 11 §4.4), ECDH-GM.

The inspection system proves it knows a password printed on the document,
the MRZ information (password 1: K = SHA-1 of it) or the card access number
(password 2: K = the CAN's digits), without sending it, and both sides agree
on strong session keys:

1. MSE:Set AT (00 22 C1 A4) names the protocol OID and the password; the
   standardized domain parameters come from EF.CardAccess (tag 84 names them
   when the chip offers several).
2. GENERAL AUTHENTICATE, four times (CLA 10: chained, then 00), each data
   field a dynamic authentication data object 7C:
   - the chip sends a nonce s encrypted under K_pi = KDF(K, 3) (80);
   - both exchange mapping keys (81, 82) and map the generator with s
     (``hardware.emrtd.ecmapping``);
   - both exchange ephemeral keys on the mapped generator (83, 84); the
     shared secret gives K_enc = KDF(S, 1) and K_mac = KDF(S, 2);
   - both exchange authentication tokens (85, 86): the MAC under K_mac (CMAC
     truncated to 8 bytes for AES, the retail MAC for 3DES) of the other
     side's ephemeral key in a public-key data object 7F49 {06 OID, 86 point}.
3. Secure messaging starts with those keys and a send sequence counter of 0.

A wrong password gives a different nonce, generator and keys: the chip
refuses the terminal's token, and ``pace`` raises ``AccessDenied``.  Whatever
the chip answers, ``pace`` raises only the typed errors of
``hardware.emrtd.errors``.

This module is the inspection system's side (``pace``) and what both sides
share: the password, the parameters, the data objects, the keys and the
tokens.  The chip's side, for the virtual chip, is
``hardware.emrtd.paceresponder.PaceResponder``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from egate.documents.lds.der import oid_contents
from egate.documents.lds.errors import LdsError
from egate.documents.lds.protocols import pace_protocol, protocol_name
from egate.documents.lds.tlv import Tlv, encode_tlv, read_tlvs
from hardware.emrtd.apdu import SHORT_MAX_NE, CommandApdu, ResponseApdu, Transport
from hardware.emrtd.crypto import (
    KDF_ENC,
    KDF_MAC,
    KDF_PI,
    Cipher,
    aes_cmac,
    cbc_decrypt,
    kdf,
    retail_mac,
)
from hardware.emrtd.ecmapping import (
    DomainParameters,
    EcPoint,
    decode_point,
    domain_parameters,
    encode_point,
    generate_private_key,
    map_generator,
    shared_secret,
)
from hardware.emrtd.errors import AccessDenied, ProtocolError
from hardware.emrtd.iso7816 import (
    CLA_CHAINING,
    INS_GENERAL_AUTHENTICATE,
    INS_MSE,
    MSE_SET_AT_PACE,
    SW_SUCCESS,
    SW_TRIES_LEFT,
    TAG_DYNAMIC_AUTHENTICATION,
)
from hardware.emrtd.securemessaging import SecureChannel

Random = Callable[[int], bytes]

TOKEN_LENGTH = 8

# The PACE protocols spoken here: ECDH Generic Mapping with each cipher.
_CIPHERS = {pace_protocol("ECDH", "GM", cipher.value): cipher for cipher in Cipher}
_OID_BYTES = {oid: oid_contents(oid) for oid in _CIPHERS}


class PasswordKind(IntEnum):
    """The password references of MSE:Set AT (tag 83)."""

    MRZ = 1
    CAN = 2


@dataclass(frozen=True, slots=True, repr=False)
class PacePassword:
    """A PACE password as the key K = f(π) it is used through; personal data, never shown."""

    kind: PasswordKind
    key: bytes

    @classmethod
    def from_mrz(cls, mrz_information: str) -> PacePassword:
        """From the MRZ information (number, birth and expiry dates with check digits): SHA-1."""
        return cls(PasswordKind.MRZ, hashlib.sha1(mrz_information.encode("ascii")).digest())

    @classmethod
    def from_can(cls, can: str) -> PacePassword:
        """From the card access number printed on the document (ValueError unless digits)."""
        if not (can.isascii() and can.isdigit()):
            raise ValueError("a card access number is made of digits")
        return cls(PasswordKind.CAN, can.encode("ascii"))

    def __repr__(self) -> str:
        return f"PacePassword({self.kind.name}, key=<redacted>)"


@dataclass(frozen=True, slots=True)
class PaceParameters:
    """One PACE configuration: the protocol OID and the standardized domain parameters.

    Built from a PACEInfo of EF.CardAccess (its protocol and parameterId);
    ``send_parameter_id`` puts the parameter id in MSE:Set AT (tag 84), which
    a chip offering several domain parameters needs.  An OID or parameter
    id not spoken here is a ``ProtocolError``; ``supported`` tells first.
    """

    oid: str
    parameter_id: int
    send_parameter_id: bool = False

    def __post_init__(self) -> None:
        if self.oid not in _CIPHERS:
            raise ProtocolError(
                f"PACE: protocol {self.oid} is not supported (ECDH Generic Mapping only)"
            )
        domain_parameters(self.parameter_id)

    @staticmethod
    def supported(oid: str, parameter_id: int) -> bool:
        """Whether ``PaceParameters(oid, parameter_id)`` can be run by this module."""
        try:
            PaceParameters(oid, parameter_id)
        except ProtocolError:
            return False
        return True

    @property
    def name(self) -> str:
        """The protocol's name in Doc 9303 (e.g. id-PACE-ECDH-GM-AES-CBC-CMAC-128)."""
        return protocol_name(self.oid)

    @property
    def cipher(self) -> Cipher:
        """The block cipher of the nonce, the tokens and secure messaging."""
        return _CIPHERS[self.oid]

    @property
    def domain(self) -> DomainParameters:
        """The elliptic curve."""
        return domain_parameters(self.parameter_id)

    @property
    def oid_bytes(self) -> bytes:
        """The OID's DER content octets (what tags 80 and 06 carry)."""
        return _OID_BYTES[self.oid]


# -- data objects ----------------------------------------------------------


def dynamic_data(tag: int | None = None, value: bytes = b"") -> bytes:
    """Dynamic authentication data: 7C around one data object (or empty)."""
    return encode_tlv(TAG_DYNAMIC_AUTHENTICATION, b"" if tag is None else encode_tlv(tag, value))


def data_objects(data: bytes, where: str) -> list[Tlv]:
    """The BER-TLV data objects of a data field (ProtocolError naming ``where`` and the byte)."""
    try:
        return read_tlvs(data, where)
    except LdsError as error:
        raise ProtocolError(str(error)) from None


def parse_dynamic_data(data: bytes, where: str) -> dict[int, bytes]:
    """The data objects in a 7C template: {tag: value} (ProtocolError naming ``where``)."""
    outer = data_objects(data, where)
    if len(outer) != 1 or outer[0].tag != TAG_DYNAMIC_AUTHENTICATION:
        raise ProtocolError(f"{where}: expected one dynamic authentication data object 7C")
    objects: dict[int, bytes] = {}
    try:
        inner = outer[0].children()
    except LdsError as error:
        raise ProtocolError(str(error)) from None
    for item in inner:
        if item.tag in objects:
            raise ProtocolError(f"{where}: byte {item.offset}: data object {item.tag:02X} twice")
        objects[item.tag] = item.value
    return objects


def _field(objects: dict[int, bytes], tag: int, where: str) -> bytes:
    if tag not in objects:
        raise ProtocolError(f"{where}: data object {tag:02X} is missing")
    return objects[tag]


def mse_set_at_data(parameters: PaceParameters, kind: PasswordKind) -> bytes:
    """The data field of MSE:Set AT: 80 protocol OID, 83 password reference, [84 parameter id]."""
    data = encode_tlv(0x80, parameters.oid_bytes) + encode_tlv(0x83, bytes((kind,)))
    if parameters.send_parameter_id:
        data += encode_tlv(0x84, bytes((parameters.parameter_id,)))
    return data


def authentication_token(parameters: PaceParameters, k_mac: bytes, other_key: EcPoint) -> bytes:
    """The token over the other side's ephemeral key: MAC(K_mac, 7F49 {06 OID, 86 point})."""
    point = encode_point(parameters.domain, other_key)
    key_object = encode_tlv(
        0x7F49, encode_tlv(0x06, parameters.oid_bytes) + encode_tlv(0x86, point)
    )
    if parameters.cipher is Cipher.TDES:
        return retail_mac(k_mac, key_object)
    return aes_cmac(k_mac, key_object)[:TOKEN_LENGTH]


def nonce_key(password: PacePassword, cipher: Cipher) -> bytes:
    """K_pi, the key the chip's nonce is encrypted under: KDF(K, 3)."""
    return kdf(password.key, KDF_PI, cipher)


def session_keys(secret: bytes, cipher: Cipher) -> tuple[bytes, bytes]:
    """K_enc and K_mac of secure messaging from the shared secret: KDF(S, 1), KDF(S, 2)."""
    return kdf(secret, KDF_ENC, cipher), kdf(secret, KDF_MAC, cipher)


# -- the inspection system -----------------------------------------------------


def pace(
    transport: Transport,
    password: PacePassword,
    info: PaceParameters,
    random: Random,
) -> SecureChannel:
    """Run PACE with the chip on ``transport``; the secure channel it opens (SSC 0).

    ``random`` draws the terminal's mapping and ephemeral private keys, in
    that order.  ``AccessDenied`` when the chip refuses the password or does
    not prove it knows it; ``StatusError`` when it refuses a step for another
    reason; ``ProtocolError`` when its answers are malformed.
    """
    cipher, domain = info.cipher, info.domain
    answer = transport.transmit(
        CommandApdu(0x00, INS_MSE, *MSE_SET_AT_PACE, mse_set_at_data(info, password.kind))
    )
    # 63Cx: the password's retry counter is x, the command was carried out.
    if answer.sw != SW_SUCCESS and not (answer.sw & 0xFFF0 == SW_TRIES_LEFT and answer.sw & 0x0F):
        answer.check("PACE MSE:Set AT")

    where = "PACE GENERAL AUTHENTICATE (encrypted nonce)"
    encrypted = _field(_step(transport, dynamic_data(), where), 0x80, where)
    if not encrypted or len(encrypted) % cipher.block_size:
        raise ProtocolError(
            f"{where}: the encrypted nonce has {len(encrypted)} bytes, "
            f"not a whole number of {cipher.block_size}-byte blocks"
        )
    nonce = cbc_decrypt(cipher, nonce_key(password, cipher), encrypted)

    where = "PACE GENERAL AUTHENTICATE (mapping)"
    sk_map = generate_private_key(domain, random)
    pk_map = domain.multiply(sk_map, domain.generator)
    reply = _step(transport, dynamic_data(0x81, encode_point(domain, pk_map)), where)
    chip_map = decode_point(domain, _field(reply, 0x82, where), "the chip's mapping key")
    mapped = map_generator(domain, nonce, domain.multiply(sk_map, chip_map, "the mapping point"))

    where = "PACE GENERAL AUTHENTICATE (key agreement)"
    sk = generate_private_key(domain, random)
    pk = domain.multiply(sk, mapped, "the terminal's ephemeral key")
    reply = _step(transport, dynamic_data(0x83, encode_point(domain, pk)), where)
    chip_key = decode_point(domain, _field(reply, 0x84, where), "the chip's ephemeral key")
    if chip_key == pk:
        raise ProtocolError(f"{where}: the chip's ephemeral key is the terminal's own")
    k_enc, k_mac = session_keys(shared_secret(domain, sk, chip_key, "the chip's key"), cipher)

    where = "PACE GENERAL AUTHENTICATE (mutual authentication)"
    token = authentication_token(info, k_mac, chip_key)
    answer = transport.transmit(
        CommandApdu(
            0x00, INS_GENERAL_AUTHENTICATE, 0, 0, dynamic_data(0x85, token), ne=SHORT_MAX_NE
        )
    )
    if answer.sw != SW_SUCCESS:
        # The chip checks the terminal's token first: with a wrong password
        # its keys differ and it refuses (6300 in Doc 9303, some chips 6982).
        raise AccessDenied(
            f"PACE: the chip refused the {password.kind.name} password "
            f"(status {answer.sw:04X} to the terminal's authentication token): "
            f"the {_password_words(password.kind)} does not open this chip"
        )
    chip_token = _field(parse_dynamic_data(answer.data, where), 0x86, where)
    if not hmac.compare_digest(chip_token, authentication_token(info, k_mac, pk)):
        raise AccessDenied(
            "PACE: the chip's authentication token is wrong: "
            "the chip did not prove it knows the password"
        )
    return SecureChannel(k_enc, k_mac, 0, cipher)


def _password_words(kind: PasswordKind) -> str:
    return "MRZ (document number, birth or expiry date)" if kind is PasswordKind.MRZ else "CAN"


def _step(transport: Transport, data: bytes, where: str) -> dict[int, bytes]:
    """One chained GENERAL AUTHENTICATE: the data objects of the chip's 7C answer."""
    answer: ResponseApdu = transport.transmit(
        CommandApdu(CLA_CHAINING, INS_GENERAL_AUTHENTICATE, 0, 0, data, ne=SHORT_MAX_NE)
    )
    return parse_dynamic_data(answer.check(where), where)
