"""Chip authentication (Doc 9303 part 11, 6.2; TR-03110 version 1): keys only the real chip knows.

DG14 carries the chip's static Diffie-Hellman public key
(ChipAuthenticationPublicKeyInfo, with an optional key id) and the protocol
(ChipAuthenticationInfo, e.g. id-CA-ECDH-AES-CBC-CMAC-128).  The inspection
system makes an ephemeral key pair on the same curve and sends its public
key under the current secure messaging:

* with 3DES, in MSE:Set KAT (``00 22 41 A6``: ``91`` the ephemeral public
  key, ``84`` the key id);
* with AES, in MSE:Set AT (``00 22 41 A4``: ``80`` the protocol OID, ``84``
  the key id) and then GENERAL AUTHENTICATE (``00 86 00 00``,
  ``7C { 80 ephemeral public key }``).

Both sides take the x-coordinate of the ECDH point as the shared secret,
derive K_enc and K_mac with the Doc 9303 KDF, and continue secure messaging
under them with the SSC back at 0.  The chip needs its private key for that:
a clone carries DG14 but not the key, so the first answer under the new keys
fails its MAC (or the clone cannot check the terminal's), and the result is
``CA_FAILED``.  The DH variants (id-CA-DH-*) are not implemented: they come
back ``UNSUPPORTED`` without a command sent.

``chip_authenticate`` is the terminal; ``ChipAuthenticator`` the chip's side,
for the virtual chip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from egate.documents.lds.der import oid_contents
from egate.documents.lds.errors import LdsError
from egate.documents.lds.files import lds_file
from egate.documents.lds.protocols import (
    STANDARD_DOMAIN_PARAMETER_IDS,
    ca_parts,
    ca_protocol,
)
from egate.documents.lds.protocols import protocol_name as protocol_name
from egate.documents.lds.tlv import encode_tlv, read_tlvs
from hardware.emrtd.apdu import SHORT_MAX_NE, CommandApdu, ResponseApdu
from hardware.emrtd.crypto import KDF_ENC, KDF_MAC, Cipher, kdf
from hardware.emrtd.ecmapping import domain_parameters, generate_private_key
from hardware.emrtd.errors import ProtocolError, SecureMessagingError
from hardware.emrtd.filereader import select_command
from hardware.emrtd.iso7816 import (
    INS_GENERAL_AUTHENTICATE,
    INS_MSE,
    MSE_SET_AT_CA,
    MSE_SET_KAT,
    SW_CONDITIONS,
    SW_DATA_NOT_FOUND,
    SW_INS,
    SW_SUCCESS,
    SW_WRONG_DATA,
    SW_WRONG_P1P2,
    TAG_DYNAMIC_AUTHENTICATION,
)
from hardware.emrtd.securemessaging import SecureChannel, SecureTransport

ID_CA_DH_AES_CBC_CMAC_128 = ca_protocol("DH", "AES-128")
ID_CA_ECDH_3DES_CBC_CBC = ca_protocol("ECDH", "3DES")
ID_CA_ECDH_AES_CBC_CMAC_128 = ca_protocol("ECDH", "AES-128")
ID_CA_ECDH_AES_CBC_CMAC_192 = ca_protocol("ECDH", "AES-192")
ID_CA_ECDH_AES_CBC_CMAC_256 = ca_protocol("ECDH", "AES-256")

# The protocols this module runs (ECDH with each cipher), with the cipher of
# the secure messaging they lead to.
CA_PROTOCOLS = {ca_protocol("ECDH", cipher.value): cipher for cipher in Cipher}

TAG_OID = 0x80
TAG_KEY_REFERENCE = 0x84
TAG_EPHEMERAL_KEY_KAT = 0x91
TAG_EPHEMERAL_KEY_GA = 0x80
# The answer under the new keys that proves them: SELECT EF.DG14, no answer data.
_CONFIRM = select_command(lds_file("DG14"))


def key_reference(key_id: int) -> bytes:
    """The value of data object 84 for a DG14 key id: the unsigned integer in the fewest bytes."""
    if key_id < 0:
        raise ValueError(f"a chip-authentication key id is not negative: {key_id}")
    return key_id.to_bytes(max(1, (key_id.bit_length() + 7) // 8), "big")


# The chip compares the OID's encoding: it never parses what the terminal sends.
_CIPHERS_BY_OID_BYTES = {oid_contents(oid): cipher for oid, cipher in CA_PROTOCOLS.items()}


def _point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


class CaStatus(Enum):
    """The verdict of chip authentication."""

    OK = "OK"
    # The chip did not answer under the keys its DG14 key leads to: a clone, or a broken chip.
    CA_FAILED = "CA_FAILED"
    # DG14 names a protocol or key this terminal does not run (DH): no verdict on the chip.
    UNSUPPORTED = "UNSUPPORTED"


@dataclass(frozen=True, slots=True)
class CaResult:
    """How chip authentication ended."""

    status: CaStatus
    # The ChipAuthenticationInfo protocol OID that was run (or asked for).
    protocol: str
    # The cipher of secure messaging after it (None when it did not run).
    cipher: Cipher | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether the chip proved it holds the private key of DG14."""
        return self.status is CaStatus.OK


# -- terminal ---------------------------------------------------------------------


def chip_authenticate(
    transport: SecureTransport,
    chip_public_key: PublicKeyTypes,
    *,
    protocol: str | None = None,
    key_id: int | None = None,
    random: Callable[[int], bytes],
    general_authenticate: bool | None = None,
) -> CaResult:
    """Run chip authentication on an open secure channel and re-key it.

    ``chip_public_key`` is DG14's ChipAuthenticationPublicKeyInfo key;
    ``protocol`` its ChipAuthenticationInfo OID (None: a DG14 without one,
    which means id-CA-ECDH-3DES-CBC-CBC); ``key_id`` the key id DG14 gives
    (sent in 84).  ``general_authenticate`` picks MSE:Set AT + GENERAL
    AUTHENTICATE over MSE:Set KAT (default: for AES only, as 9303 asks; some
    3DES chips take it too).  ``random`` draws the ephemeral private key.

    The secure channel of ``transport`` carries on under the new keys, SSC 0;
    after ``CA_FAILED`` the chip does not share them and the session is over.
    A card refusing the MSE or GENERAL AUTHENTICATE command raises
    ``StatusError``, a malformed answer ``ProtocolError`` or
    ``SecureMessagingError``.
    """
    oid = protocol if protocol is not None else ID_CA_ECDH_3DES_CBC_CBC
    name = protocol_name(oid)

    def unsupported(reason: str) -> CaResult:
        return CaResult(CaStatus.UNSUPPORTED, oid, None, reason)

    cipher = CA_PROTOCOLS.get(oid)
    if cipher is None:
        if _key_agreement(oid) == "DH":
            return unsupported(f"{name}: Diffie-Hellman chip authentication is not supported")
        return unsupported(f"{name} is not a chip-authentication protocol this terminal runs")
    if not isinstance(chip_public_key, ec.EllipticCurvePublicKey):
        return unsupported(
            f"{name} needs an EC key in DG14, not a {type(chip_public_key).__name__}"
        )
    parameter_id = STANDARD_DOMAIN_PARAMETER_IDS.get(chip_public_key.curve.name)
    if parameter_id is None:
        return unsupported(f"DG14's key is on {chip_public_key.curve.name}, not a Doc 9303 curve")
    scalar = generate_private_key(domain_parameters(parameter_id), random)
    ephemeral = ec.derive_private_key(scalar, chip_public_key.curve)
    point = _point(ephemeral.public_key())
    secret = ephemeral.exchange(ec.ECDH(), chip_public_key)
    reference = b"" if key_id is None else encode_tlv(TAG_KEY_REFERENCE, key_reference(key_id))

    use_ga = cipher.is_aes if general_authenticate is None else general_authenticate
    if use_ga:
        transport.transmit(
            CommandApdu(
                0x00, INS_MSE, *MSE_SET_AT_CA, encode_tlv(TAG_OID, oid_contents(oid)) + reference
            )
        ).check("MSE:Set AT (chip authentication)")
        data = encode_tlv(TAG_DYNAMIC_AUTHENTICATION, encode_tlv(TAG_EPHEMERAL_KEY_GA, point))
        answer = transport.transmit(
            CommandApdu(0x00, INS_GENERAL_AUTHENTICATE, 0x00, 0x00, data, SHORT_MAX_NE)
        ).check("GENERAL AUTHENTICATE (chip authentication)")
        _check_dynamic_authentication_data(answer)
    else:
        transport.transmit(
            CommandApdu(
                0x00, INS_MSE, *MSE_SET_KAT, encode_tlv(TAG_EPHEMERAL_KEY_KAT, point) + reference
            )
        ).check("MSE:Set KAT (chip authentication)")

    transport.channel.rekey(kdf(secret, KDF_ENC, cipher), kdf(secret, KDF_MAC, cipher), cipher)
    return _confirm(transport, oid, cipher)


def _key_agreement(oid: str) -> str | None:
    """A chip authentication OID's key agreement ("DH", "ECDH"); None if it is none."""
    try:
        return ca_parts(oid)[0]
    except ValueError:
        return None


def _check_dynamic_authentication_data(answer: bytes) -> None:
    """The chip's GENERAL AUTHENTICATE answer: an (empty) 7C template with CA version 1."""
    where = "GENERAL AUTHENTICATE (chip authentication)"
    try:
        objects = read_tlvs(answer, where)
    except LdsError as error:
        raise ProtocolError(str(error)) from None
    if len(objects) != 1 or objects[0].tag != TAG_DYNAMIC_AUTHENTICATION:
        raise ProtocolError(f"{where}: the answer is not one dynamic authentication data object 7C")


def _confirm(transport: SecureTransport, oid: str, cipher: Cipher) -> CaResult:
    """Send one command under the new keys: only a chip that has them answers with a good MAC."""
    channel = transport.channel
    response = transport.inner.transmit(channel.wrap(_CONFIRM))
    if not response.data and response.sw != SW_SUCCESS:
        # A bare status: the chip could not check the command's MAC under its keys.
        return CaResult(
            CaStatus.CA_FAILED,
            oid,
            cipher,
            f"the chip answered {response.sw:04X} without secure messaging under the new keys",
        )
    try:
        channel.unwrap(response)
    except SecureMessagingError as error:
        return CaResult(
            CaStatus.CA_FAILED, oid, cipher, f"the chip's answer under the new keys: {error}"
        )
    # Whatever the status, a good MAC under the new keys is the proof.
    return CaResult(CaStatus.OK, oid, cipher)


# -- chip -------------------------------------------------------------------------


class ChipAuthenticator:
    """The chip's side of chip authentication: its static private key and the commands that use it.

    ``respond`` answers MSE:Set KAT, MSE:Set AT (41 A4) and the GENERAL
    AUTHENTICATE that follows it, each already unwrapped from secure
    messaging.  Once a command has agreed new keys, ``take_channel`` hands
    the chip the secure channel to use *after* it has sent that command's
    answer under the old one.  ``key_id`` is the key id DG14 names (a
    terminal sending another gets 6A88).
    """

    def __init__(
        self, private_key: ec.EllipticCurvePrivateKey, *, key_id: int | None = None
    ) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise ValueError(
                f"chip authentication runs on EC keys, not {type(private_key).__name__}"
            )
        if private_key.curve.name not in STANDARD_DOMAIN_PARAMETER_IDS:
            raise ValueError(f"{private_key.curve.name} is not a Doc 9303 curve")
        self._key = private_key
        self._key_id = key_id
        self._pending: Cipher | None = (
            None  # the cipher MSE:Set AT chose, until GENERAL AUTHENTICATE
        )
        self._agreed: SecureChannel | None = None

    @property
    def key_id(self) -> int | None:
        """The key id of DG14's ChipAuthenticationPublicKeyInfo (None: none)."""
        return self._key_id

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public key DG14 carries."""
        return self._key.public_key()

    def take_channel(self) -> SecureChannel | None:
        """The secure channel the last command agreed on (SSC 0), once; None when it agreed none."""
        channel, self._agreed = self._agreed, None
        return channel

    def respond(self, command: CommandApdu) -> ResponseApdu:
        """The answer to MSE:Set KAT, MSE:Set AT or GENERAL AUTHENTICATE."""
        try:
            if command.ins == INS_MSE:
                return self._mse(command)
            if command.ins == INS_GENERAL_AUTHENTICATE:
                return self._general_authenticate(command)
            return _status(SW_INS)
        except _Refusal as refusal:
            self._pending = None
            return _status(refusal.sw)

    def _mse(self, command: CommandApdu) -> ResponseApdu:
        objects = _parse(command.data)
        p1p2 = (command.p1, command.p2)
        if p1p2 == MSE_SET_KAT:
            self._pending = None
            values = _only(objects, {TAG_EPHEMERAL_KEY_KAT, TAG_KEY_REFERENCE})
            if TAG_EPHEMERAL_KEY_KAT not in values:
                raise _Refusal(SW_WRONG_DATA)
            self._check_reference(values)
            self._agree(values[TAG_EPHEMERAL_KEY_KAT], Cipher.TDES)
            return _status(SW_SUCCESS)
        if p1p2 == MSE_SET_AT_CA:
            values = _only(objects, {TAG_OID, TAG_KEY_REFERENCE})
            cipher = _CIPHERS_BY_OID_BYTES.get(values.get(TAG_OID, b""))
            if cipher is None:
                raise _Refusal(SW_WRONG_DATA)  # no OID, or one of a protocol the chip does not run
            self._check_reference(values)
            self._pending = cipher
            return _status(SW_SUCCESS)
        raise _Refusal(SW_WRONG_P1P2)

    def _general_authenticate(self, command: CommandApdu) -> ResponseApdu:
        if command.p1 or command.p2:
            raise _Refusal(SW_WRONG_P1P2)
        cipher = self._pending
        if cipher is None:
            raise _Refusal(SW_CONDITIONS)  # no MSE:Set AT for chip authentication before it
        outer = _parse(command.data)
        if len(outer) != 1 or outer[0][0] != TAG_DYNAMIC_AUTHENTICATION:
            raise _Refusal(SW_WRONG_DATA)
        values = _only(_parse(outer[0][1]), {TAG_EPHEMERAL_KEY_GA})
        if TAG_EPHEMERAL_KEY_GA not in values:
            raise _Refusal(SW_WRONG_DATA)
        self._agree(values[TAG_EPHEMERAL_KEY_GA], cipher)
        self._pending = None
        return ResponseApdu(encode_tlv(TAG_DYNAMIC_AUTHENTICATION, b""), SW_SUCCESS)

    def _check_reference(self, values: dict[int, bytes]) -> None:
        reference = values.get(TAG_KEY_REFERENCE)
        if reference is None:
            return  # 9303 asks for 84 when DG14 names a key id; a chip of one key does without
        if self._key_id is None or int.from_bytes(reference, "big") != self._key_id:
            raise _Refusal(SW_DATA_NOT_FOUND)

    def _agree(self, point: bytes, cipher: Cipher) -> None:
        if point[:1] != b"\x04":
            raise _Refusal(SW_WRONG_DATA)  # 9303 sends uncompressed points only
        try:
            # cryptography checks that the point lies on the curve.
            terminal = ec.EllipticCurvePublicKey.from_encoded_point(self._key.curve, point)
        except ValueError:
            raise _Refusal(SW_WRONG_DATA) from None
        secret = self._key.exchange(ec.ECDH(), terminal)
        self._agreed = SecureChannel(
            kdf(secret, KDF_ENC, cipher), kdf(secret, KDF_MAC, cipher), 0, cipher
        )


class _Refusal(Exception):
    """Ends a chip-authentication command with a status word (never leaves the module)."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


def _status(sw: int) -> ResponseApdu:
    return ResponseApdu(b"", sw)


def _parse(data: bytes) -> list[tuple[int, bytes]]:
    try:
        return [(obj.tag, obj.value) for obj in read_tlvs(data, "chip authentication")]
    except LdsError:
        raise _Refusal(SW_WRONG_DATA) from None


def _only(objects: list[tuple[int, bytes]], allowed: set[int]) -> dict[int, bytes]:
    """The data objects by tag: each allowed tag at most once, no other (6A80)."""
    values: dict[int, bytes] = {}
    for tag, value in objects:
        if tag not in allowed or tag in values:
            raise _Refusal(SW_WRONG_DATA)
        values[tag] = value
    return values
