"""PACE, the chip's side (Doc 9303 part 11 §4.4): the answers to MSE and GENERAL AUTHENTICATE.

``PaceResponder`` runs the exchange ``hardware.emrtd.pace`` describes, with
the same password, parameters, data objects, keys and tokens: it raises
``StatusError`` carrying the status word to answer when a command is
malformed or out of order, and ``AccessDenied`` (answer 6300) when the
terminal's token is wrong.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from hardware.emrtd.crypto import cbc_encrypt
from hardware.emrtd.ecmapping import (
    EcPoint,
    decode_point,
    encode_point,
    generate_private_key,
    map_generator,
    shared_secret,
)
from hardware.emrtd.errors import AccessDenied, ProtocolError, StatusError
from hardware.emrtd.iso7816 import SW_CONDITIONS, SW_DATA_NOT_FOUND, SW_WRONG_DATA
from hardware.emrtd.pace import (
    PaceParameters,
    PacePassword,
    PasswordKind,
    Random,
    authentication_token,
    data_objects,
    dynamic_data,
    nonce_key,
    parse_dynamic_data,
    session_keys,
)
from hardware.emrtd.securemessaging import SecureChannel

# The chip's nonce: 128 bits, a whole number of blocks for 3DES and AES alike.
NONCE_LENGTH = 16


@dataclass(slots=True)
class _Session:
    """What the chip remembers between the steps of one PACE run."""

    parameters: PaceParameters
    password: PacePassword
    step: int = 1
    nonce: bytes = b""
    mapped: EcPoint | None = None
    chip_key: EcPoint | None = None
    terminal_key: EcPoint | None = None
    k_enc: bytes = b""
    k_mac: bytes = b""


class PaceResponder:
    """The chip's side of PACE, driven by the virtual chip's MSE and GENERAL AUTHENTICATE.

    ``parameters`` are the PACEInfos of the chip's EF.CardAccess, ``passwords``
    those it accepts (its MRZ information, its CAN).  ``random`` draws the
    nonce, then the chip's mapping and ephemeral private keys.  After the
    fourth step ``channel`` is the secure channel (SSC 0).

    Errors: ``StatusError`` whose ``sw`` is the status word to answer
    (6A80 malformed data, 6985 out of order, 6A88 password or parameters not
    available), ``AccessDenied`` when the terminal's token is wrong (answer
    6300).  Any error ends the run: the terminal starts again with MSE:Set AT.
    """

    def __init__(
        self,
        parameters: Sequence[PaceParameters],
        passwords: Sequence[PacePassword],
        random: Random,
    ) -> None:
        if not parameters:
            raise ValueError("a PACE chip offers at least one set of parameters")
        self._parameters = tuple(parameters)
        self._passwords = {password.kind: password for password in passwords}
        self._random = random
        self._session: _Session | None = None
        self.channel: SecureChannel | None = None

    def mse_set_at(self, data: bytes) -> None:
        """MSE:Set AT: choose the protocol, domain parameters and password for a new run."""
        command = "MSE:Set AT"
        self._session = None
        self.channel = None
        try:
            found = {item.tag: item.value for item in data_objects(data, command)}
        except ProtocolError:
            raise StatusError(command, SW_WRONG_DATA) from None
        if 0x80 not in found or 0x83 not in found:
            raise StatusError(command, SW_WRONG_DATA)
        wanted = found.get(0x84)
        candidates = [
            p
            for p in self._parameters
            if p.oid_bytes == found[0x80] and wanted in (None, bytes((p.parameter_id,)))
        ]
        reference = found[0x83]
        if not candidates or len(reference) != 1 or reference[0] not in self._passwords:
            raise StatusError(command, SW_DATA_NOT_FOUND)
        self._session = _Session(candidates[0], self._passwords[PasswordKind(reference[0])])

    def general_authenticate(self, data: bytes, chained: bool | None = None) -> bytes:
        """One GENERAL AUTHENTICATE: the 7C data to answer with status 9000.

        ``chained`` is whether the command's CLA had the chaining bit (10):
        steps 1 to 3 must, the last must not; None leaves it unchecked.
        """
        command = "GENERAL AUTHENTICATE"
        session, self._session = self._session, None  # kept only if the step succeeds
        if session is None or (chained is not None and chained != (session.step < 4)):
            raise StatusError(command, SW_CONDITIONS)
        tag = (None, 0x81, 0x83, 0x85)[session.step - 1]
        try:
            objects = parse_dynamic_data(data, command)
            if set(objects) != ({tag} if tag else set()):
                raise ProtocolError(f"{command}: data objects {sorted(objects)}, not {tag}")
            if session.step == 1:
                answer = self._nonce(session)
            elif session.step == 2:
                answer = self._map(session, objects[0x81])
            elif session.step == 3:
                answer = self._agree(session, objects[0x83])
            else:
                return self._authenticate(session, objects[0x85])
        except ProtocolError:
            raise StatusError(command, SW_WRONG_DATA) from None
        session.step += 1
        self._session = session
        return answer

    def _nonce(self, session: _Session) -> bytes:
        cipher = session.parameters.cipher
        session.nonce = self._random(NONCE_LENGTH)
        key = nonce_key(session.password, cipher)
        return dynamic_data(0x80, cbc_encrypt(cipher, key, session.nonce))

    def _map(self, session: _Session, terminal_data: bytes) -> bytes:
        domain = session.parameters.domain
        terminal_map = decode_point(domain, terminal_data, "the terminal's mapping key")
        sk_map = generate_private_key(domain, self._random)
        h = domain.multiply(sk_map, terminal_map, "the mapping point")
        session.mapped = map_generator(domain, session.nonce, h)
        return dynamic_data(0x82, encode_point(domain, domain.multiply(sk_map, domain.generator)))

    def _agree(self, session: _Session, terminal_data: bytes) -> bytes:
        domain, cipher = session.parameters.domain, session.parameters.cipher
        assert session.mapped is not None
        terminal_key = decode_point(domain, terminal_data, "the terminal's ephemeral key")
        sk = generate_private_key(domain, self._random)
        chip_key = domain.multiply(sk, session.mapped, "the chip's ephemeral key")
        if terminal_key == chip_key:
            raise ProtocolError("PACE: the terminal's ephemeral key is the chip's own")
        secret = shared_secret(domain, sk, terminal_key, "the terminal's key")
        session.k_enc, session.k_mac = session_keys(secret, cipher)
        session.terminal_key, session.chip_key = terminal_key, chip_key
        return dynamic_data(0x84, encode_point(domain, chip_key))

    def _authenticate(self, session: _Session, token: bytes) -> bytes:
        parameters = session.parameters
        assert session.terminal_key is not None and session.chip_key is not None
        expected = authentication_token(parameters, session.k_mac, session.chip_key)
        if not hmac.compare_digest(token, expected):
            raise AccessDenied(
                f"PACE: the terminal's authentication token is wrong "
                f"(wrong {session.password.kind.name} password)"
            )
        self.channel = SecureChannel(session.k_enc, session.k_mac, 0, parameters.cipher)
        return dynamic_data(
            0x86, authentication_token(parameters, session.k_mac, session.terminal_key)
        )
