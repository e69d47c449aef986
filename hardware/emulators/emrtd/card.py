"""A virtual eMRTD chip: an ISO/IEC 7816-4 card with the LDS files, answering an inspection system.

(One concept past the ~400-line guideline: the command dispatch and the
session state every command consults, which access control is open under
which secure channel and how far PACE has got; the file system and each
protocol's cryptography are modules of their own.)

``VirtualChip.process(apdu)`` takes a command's bytes and returns the
response's bytes (data and status word); it never raises: whatever it is
sent, it answers with the status word a card would give (6700 wrong length,
6D00 unknown instruction, 6E00 unknown class, 6A86 wrong P1-P2, 6982
security status not satisfied, 6988 bad secure messaging, 6A82 no such file,
6B00 offset beyond the file, ...).

The card understands:

* SELECT (A4) and READ BINARY (B0, B1) of the file system of ICAO Doc 9303
  part 10, the MF with EF.CardAccess and the eMRTD application with the
  rest (``hardware.emulators.emrtd.filesystem``).
* Access control: GET CHALLENGE (84) and EXTERNAL AUTHENTICATE (82) for
  BAC; MSE:Set AT (22 C1A4) and GENERAL AUTHENTICATE (86, chained) for PACE.
* Under secure messaging, after access control: INTERNAL AUTHENTICATE (88)
  for active authentication; MSE:Set KAT (22 41A6) or MSE:Set AT (22 41A4)
  and GENERAL AUTHENTICATE for chip authentication, which re-keys secure
  messaging.

The cryptography is the inspection side's own, in its chip-side roles
(``hardware.emrtd``: BAC, PACE, active and chip authentication, secure
messaging); this module keeps the sessions and the dispatch.  As Doc
9303 part 11 prescribes, a plain command or a secure-messaging error ends the
secure-messaging session: the chip is closed again until the next access
control.

Fault injection (``ChipSettings``): a chip that falls silent after a number of
APDUs (the document taken off the reader: ``present`` turns false and
``process`` answers nothing) and files served with a byte flipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from egate.documents.lds.errors import LdsError
from egate.documents.lds.securityinfos import parse_security_infos
from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.bac import BacResponder
from hardware.emrtd.chipauth import ChipAuthenticator
from hardware.emrtd.crypto import bac_key_seed
from hardware.emrtd.errors import (
    AccessDenied,
    ChipError,
    ProtocolError,
    SecureMessagingError,
    StatusError,
)
from hardware.emrtd.iso7816 import (
    CLA_CHAINING,
    CLA_CHANNEL,
    CLA_SM,
    INS_EXTERNAL_AUTHENTICATE,
    INS_GENERAL_AUTHENTICATE,
    INS_GET_CHALLENGE,
    INS_INTERNAL_AUTHENTICATE,
    INS_MSE,
    INS_READ_BINARY,
    INS_READ_BINARY_ODD,
    INS_SELECT,
    MSE_SET_AT_CA,
    MSE_SET_AT_PACE,
    MSE_SET_KAT,
    SW_AUTHENTICATION_FAILED,
    SW_CLA,
    SW_CONDITIONS,
    SW_DATA_NOT_FOUND,
    SW_INS,
    SW_LOGICAL_CHANNEL,
    SW_SECURITY_STATUS,
    SW_SM_INCORRECT,
    SW_SM_MISSING,
    SW_SUCCESS,
    SW_UNKNOWN,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
)
from hardware.emrtd.pace import PaceParameters, PacePassword
from hardware.emrtd.paceresponder import PaceResponder
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.filesystem import FILE_NAMES as FILE_NAMES
from hardware.emulators.emrtd.filesystem import ChipFiles

Random = Callable[[int], bytes]


class Responder(Protocol):
    """A chip-side protocol step: answers one (unwrapped) command."""

    def respond(self, command: CommandApdu) -> ResponseApdu:
        """The chip's answer to ``command``."""
        ...


class ChannelLike(Protocol):
    """The chip's side of a secure-messaging session (``hardware.emrtd.securemessaging``)."""

    def unwrap_command(self, command: CommandApdu) -> CommandApdu:
        """The plain command inside a protected one (SecureMessagingError if it fails)."""
        ...

    def wrap_response(self, response: ResponseApdu) -> ResponseApdu:
        """The protected form of a plain response."""
        ...


@dataclass(frozen=True, slots=True)
class ChipSettings:
    """How a virtual chip behaves: its access control, and the faults it injects."""

    # Basic Access Control (GET CHALLENGE, EXTERNAL AUTHENTICATE).
    bac: bool = True
    # PACE (with the parameters of EF.CardAccess, which is readable only when PACE is on).
    pace: bool = True
    # Some test chips answer SELECT and READ BINARY in plain, without access control.
    plain_access: bool = False
    # The most data bytes one READ BINARY answers (the chip's I/O buffer);
    # vpcd carries at most 65535 bytes a message, secure messaging included.
    read_buffer: int = 0xFF00
    # Fault: after this many APDUs the chip falls silent, as if the document left the reader.
    mute_after: int | None = None
    # Fault: files served with one byte flipped (file name -> byte offset, XOR FF).
    corrupt: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not 1 <= self.read_buffer <= 0xFF00:
            raise ValueError(f"read_buffer is 1 to {0xFF00} bytes, not {self.read_buffer}")
        if self.mute_after is not None and self.mute_after < 0:
            raise ValueError(f"mute_after is 0 or more APDUs, not {self.mute_after}")
        for name, offset in self.corrupt.items():
            if name not in FILE_NAMES:
                raise ValueError(f"corrupt: {name!r} is not an LDS file name")
            if offset < 0:
                raise ValueError(f"corrupt: {name}: offset {offset} is negative")


class _Answer(Exception):
    """Ends a command with a status word (internal: never leaves the chip)."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


class VirtualChip:
    """An eMRTD chip in software (see the module docstring).

    ``files`` maps LDS file names (``"EF.COM"``, ``"DG1"`` ... ``"DG16"``,
    ``"EF.SOD"``, ``"EF.CardAccess"``) to their bytes as stored on a chip.
    ``mrz_information`` is the chip's BAC and PACE-MRZ password (document
    number, birth and expiry dates with their check digits), ``can`` its card
    access number for PACE-CAN; ``pace_parameters`` the PACE configurations
    it runs (default: those of its EF.CardAccess that ``hardware.emrtd.pace``
    speaks).  ``active_authenticator`` answers INTERNAL
    AUTHENTICATE (None: the chip has no active authentication);
    ``chip_authenticator`` answers chip authentication.  ``air_time`` is the
    model transports use to make the chip as slow as a real one.
    """

    def __init__(
        self,
        files: Mapping[str, bytes],
        *,
        mrz_information: str,
        can: str | None = None,
        pace_parameters: Sequence[PaceParameters] | None = None,
        settings: ChipSettings | None = None,
        active_authenticator: Responder | None = None,
        chip_authenticator: ChipAuthenticator | None = None,
        air_time: AirTime | None = None,
        random: Random = os.urandom,
    ) -> None:
        self.settings = settings if settings is not None else ChipSettings()
        self.air_time = air_time if air_time is not None else AirTime()
        unknown = sorted(set(files) - set(FILE_NAMES))
        if unknown:
            raise ValueError(f"not LDS file names: {', '.join(unknown)}")
        if self.settings.pace and "EF.CardAccess" not in files:
            raise ValueError("a chip with PACE needs EF.CardAccess (its PACE parameters)")
        try:
            mrz_information.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("the MRZ information is ASCII text") from None
        self._key_seed = bac_key_seed(mrz_information)
        self._passwords = [PacePassword.from_mrz(mrz_information)]
        if can is not None:
            self._passwords.append(PacePassword.from_can(can))
        self._pace_parameters = None if pace_parameters is None else tuple(pace_parameters)
        self._random = random
        self._active = active_authenticator
        self._chip_auth = chip_authenticator
        self._files = ChipFiles(
            files,
            corrupt=self.settings.corrupt,
            pace=self.settings.pace,
            plain_access=self.settings.plain_access,
            read_buffer=self.settings.read_buffer,
        )
        self._count = 0
        self._present = True
        # The state a power cycle clears (and the files' selection).
        self._channel: ChannelLike | None = None
        # Chip authentication's new keys, in force once its answer has left.
        self._next_channel: ChannelLike | None = None
        self._bac: BacResponder | None = None
        self._pace: PaceResponder | None = None

    def __repr__(self) -> str:
        return f"VirtualChip({self._files.sizes()}, settings={self.settings!r})"

    # -- the card in the field ---------------------------------------------------

    @property
    def present(self) -> bool:
        """Whether the chip is in the reader's field (False once it fell silent)."""
        return self._present

    @property
    def secure_messaging(self) -> bool:
        """Whether a secure-messaging session is open (access control succeeded)."""
        return self._channel is not None

    @property
    def apdu_count(self) -> int:
        """The APDUs the chip has received since it entered the field."""
        return self._count

    def reset(self) -> None:
        """A power cycle: the MF is selected again, any session is gone."""
        self._files.reset()
        self._close_session()

    def remove(self) -> None:
        """Take the document off the reader: the chip answers nothing."""
        self._present = False
        self.reset()

    def insert(self) -> None:
        """Put the document back: a fresh power-up, the APDU count from 0."""
        self._present = True
        self._count = 0
        self.reset()

    def file(self, name: str) -> bytes | None:
        """The bytes the chip serves for file ``name`` (faults included), or None."""
        return self._files.file(name)

    # -- commands --------------------------------------------------------------------

    def process(self, apdu: bytes) -> bytes:
        """The response (data and status word) to one command APDU; b"" when the chip is silent."""
        if not self._present:
            return b""
        self._count += 1
        mute_after = self.settings.mute_after
        if mute_after is not None and self._count > mute_after:
            self.remove()
            return b""
        try:
            return self._process(apdu).encode()
        except Exception:
            # A card never crashes: whatever went wrong inside, it answers 6F00
            # and forgets its session.
            self._close_session()
            return SW_UNKNOWN.to_bytes(2, "big")

    def _process(self, apdu: bytes) -> ResponseApdu:
        try:
            command = CommandApdu.decode(apdu)
        except (ProtocolError, ValueError):
            return _status(SW_WRONG_LENGTH)
        if command.cla & CLA_CHANNEL:
            return _status(SW_LOGICAL_CHANNEL)
        if command.cla & ~(CLA_SM | CLA_CHAINING | CLA_CHANNEL):
            return _status(SW_CLA)
        if command.cla & CLA_SM == CLA_SM:
            return self._protected(command)
        if command.cla & CLA_SM:
            return _status(SW_CLA)  # SM bits 01 or 10: proprietary formats this chip lacks
        if self._channel is not None and not self.settings.plain_access:
            # Doc 9303 part 11: a plain command ends secure messaging.
            self._close_session()
        return self._answer(command, protected=False)

    def _protected(self, command: CommandApdu) -> ResponseApdu:
        channel = self._channel
        if channel is None:
            return _status(SW_SM_MISSING)
        try:
            plain = channel.unwrap_command(command)
        except SecureMessagingError:
            self._close_session()
            return _status(SW_SM_INCORRECT)
        except (ChipError, ValueError):
            self._close_session()
            return _status(SW_SM_MISSING)
        response = self._answer(plain, protected=True)
        if self._channel is None:
            return response  # the command closed the session: its error goes in plain
        # Under the keys the command came with, even when chip authentication
        # has just agreed new ones for the commands that follow.
        wrapped = channel.wrap_response(response)
        if self._next_channel is not None:
            self._channel, self._next_channel = self._next_channel, None
        return wrapped

    def _answer(self, command: CommandApdu, *, protected: bool) -> ResponseApdu:
        try:
            return self._dispatch(command, protected)
        except _Answer as answer:
            return _status(answer.sw)
        except StatusError as error:
            return _status(error.sw)

    def _dispatch(self, command: CommandApdu, protected: bool) -> ResponseApdu:
        ins = command.ins
        if ins == INS_SELECT:
            return self._files.select(command, protected)
        if ins in (INS_READ_BINARY, INS_READ_BINARY_ODD):
            return self._files.read_binary(command, protected)
        if ins in (INS_GET_CHALLENGE, INS_EXTERNAL_AUTHENTICATE):
            return self._basic_access_control(command, protected)
        if ins == INS_MSE:
            return self._mse(command, protected)
        if ins == INS_GENERAL_AUTHENTICATE:
            return self._general_authenticate(command, protected)
        if ins == INS_INTERNAL_AUTHENTICATE:
            return self._internal_authenticate(command, protected)
        return _status(SW_INS)

    # -- access control and authentication ---------------------------------------

    def _close_session(self) -> None:
        self._channel = None
        self._next_channel = None
        self._bac = None
        self._pace = None

    def _basic_access_control(self, command: CommandApdu, protected: bool) -> ResponseApdu:
        """GET CHALLENGE and EXTERNAL AUTHENTICATE (Doc 9303 part 11, 4.3), in plain."""
        if not self.settings.bac:
            raise _Answer(SW_INS)
        if protected:
            raise _Answer(SW_CONDITIONS)
        if command.p1 or command.p2:
            raise _Answer(SW_WRONG_P1P2)
        if command.ins == INS_GET_CHALLENGE:
            if command.data or command.ne != 8:
                raise _Answer(SW_WRONG_LENGTH)
            self._close_session()
            self._bac = BacResponder(self._key_seed, self._random)
            return ResponseApdu(self._bac.get_challenge(), SW_SUCCESS)
        responder, self._bac = self._bac, None
        if responder is None:
            raise _Answer(SW_CONDITIONS)
        if len(command.data) != 40:
            raise _Answer(SW_WRONG_LENGTH)
        try:
            answer = responder.external_authenticate(command.data)
        except AccessDenied:
            raise _Answer(SW_AUTHENTICATION_FAILED) from None
        except ProtocolError:
            raise _Answer(SW_CONDITIONS) from None
        self._channel = responder.channel
        return ResponseApdu(answer, SW_SUCCESS)

    def _mse(self, command: CommandApdu, protected: bool) -> ResponseApdu:
        """MSE:Set AT for PACE in plain; chip authentication's MSE under secure messaging."""
        reference = (command.p1, command.p2)
        if reference == MSE_SET_AT_PACE and not protected:
            if not self.settings.pace:
                raise _Answer(SW_INS)
            self._close_session()
            pace = PaceResponder(self._pace_info(), self._passwords, self._random)
            pace.mse_set_at(command.data)  # a StatusError carries the status word
            self._pace = pace
            return _status(SW_SUCCESS)
        if reference in (MSE_SET_AT_CA, MSE_SET_KAT):
            if not protected:
                raise _Answer(SW_SECURITY_STATUS)
            return self._chip_authentication(command)
        raise _Answer(SW_WRONG_P1P2)

    def _pace_info(self) -> tuple[PaceParameters, ...]:
        """The PACE parameters the chip offers: given, or read from its EF.CardAccess."""
        if self._pace_parameters is None:
            card_access = self.file("EF.CardAccess") or b""
            self._pace_parameters = pace_parameters_of(card_access)
        if not self._pace_parameters:
            raise _Answer(SW_DATA_NOT_FOUND)  # no usable PACEInfo
        return self._pace_parameters

    def _general_authenticate(self, command: CommandApdu, protected: bool) -> ResponseApdu:
        """PACE's four steps in plain; chip authentication's key agreement under SM."""
        if command.p1 or command.p2:
            raise _Answer(SW_WRONG_P1P2)
        if protected:
            return self._chip_authentication(command)
        pace = self._pace
        if pace is None:
            raise _Answer(SW_CONDITIONS)
        try:
            answer = pace.general_authenticate(command.data, bool(command.cla & CLA_CHAINING))
        except AccessDenied:
            self._pace = None
            raise _Answer(SW_AUTHENTICATION_FAILED) from None
        except StatusError:
            self._pace = None
            raise
        if pace.channel is not None:
            self._pace = None
            self._channel = pace.channel
        return ResponseApdu(answer, SW_SUCCESS)

    def _chip_authentication(self, command: CommandApdu) -> ResponseApdu:
        """MSE:Set KAT, MSE:Set AT and GENERAL AUTHENTICATE of chip authentication (under SM)."""
        if self._chip_auth is None:
            raise _Answer(SW_INS if command.ins == INS_GENERAL_AUTHENTICATE else SW_WRONG_P1P2)
        response = self._chip_auth.respond(command)
        self._next_channel = self._chip_auth.take_channel()
        return response

    def _internal_authenticate(self, command: CommandApdu, protected: bool) -> ResponseApdu:
        if self._active is None:
            raise _Answer(SW_INS)
        if not protected and not self.settings.plain_access:
            raise _Answer(SW_SECURITY_STATUS)
        return self._active.respond(command)


def _status(sw: int) -> ResponseApdu:
    return ResponseApdu(b"", sw)


def pace_parameters_of(card_access: bytes) -> tuple[PaceParameters, ...]:
    """The PACE parameters of EF.CardAccess's PACEInfos that this chip can run.

    A file that does not parse, or PACEInfos with protocols or domain
    parameters the PACE module does not speak, give none.
    """
    try:
        infos = parse_security_infos(card_access)
    except LdsError:
        return ()
    return tuple(
        PaceParameters(info.protocol, info.parameter_id)
        for info in infos.pace
        if info.parameter_id is not None
        and PaceParameters.supported(info.protocol, info.parameter_id)
    )
