"""How long a contactless chip read takes: ISO/IEC 14443 air time, and a whole eMRTD read.

(One concept past the ~400-line guideline: the time of a read, from one
exchange on the air to the APDUs of a whole inspection, whose lengths follow
from the same secure-messaging arithmetic.)

Pure arithmetic, shared by the two places that need it: the virtual chips
(``hardware.emulators.emrtd.airtime.AirTime``, which spends this time on
every APDU they answer) and the capacity model's chip read step
(``simulation.chipread``), which cannot import the drivers.

**One exchange** (``ChipAirTime.exchange_seconds``):

* **Bit time.**  ISO/IEC 14443-2 divides the 13.56 MHz carrier: one bit (one
  elementary time unit, etu) lasts 128/fc at 106 kbit/s (9.44 µs), 64/fc at
  212, 32/fc at 424 and 16/fc at 848 kbit/s.
* **Bytes.**  Each byte costs 10 bits on the air: 8 data bits plus start and
  stop bits in Type B (ISO/IEC 14443-3), 8 data bits plus parity in Type A
  with its modulation overhead rounding to about the same.
* **Frames.**  ISO/IEC 14443-4 carries an APDU in I-blocks of at most FSD
  (reader) or FSC (chip) bytes, each with a prologue (PCB) and a CRC (3
  bytes), plus a start and end of frame (about 2 bytes' worth: SOF and EOF
  are 10 to 11 etu each in Type B).  A longer APDU is chained: every block
  but the last is acknowledged by an R(ACK) block (3 bytes) from the other
  side.  Each change of direction costs a frame delay time (ISO/IEC 14443-3:
  at least 1172/fc ≈ 86 µs for the chip's answer; readers add their own,
  100 µs in all here).
* **Chip time.**  A chip's processing time per APDU (``ChipWork``): a few
  milliseconds for a SELECT or a READ BINARY (secure messaging included),
  tens of milliseconds for symmetric authentication (BAC's EXTERNAL
  AUTHENTICATE, MSE), and 100 ms or more for public-key work (PACE key
  agreement, chip authentication, active authentication signatures) on a
  smart-card processor.

**A whole read** (``read_exchanges``, ``read_seconds``): the APDUs egate's
inspection (``hardware.emrtd.inspection.inspect_chip``) sends to a chip of
a given ``ChipProfile``, with their lengths, in order: access control (BAC,
or PACE with ECDH generic mapping on a 256-bit curve), EF.COM, EF.SOD, DG14,
DG15, DG1 and DG2 under secure messaging (3DES after BAC, AES after PACE or
chip authentication) in READ BINARY pieces of ``chunk`` bytes, then chip
authentication and active authentication.  Passive authentication sends no
APDU and is left out.  For the virtual chips egate issues this is the
inspection's air time to the microsecond (a test reads them and compares);
real chips differ in their processing times, which ``ChipAirTime`` takes as
settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal, Self

__all__ = [
    "BIT_RATES",
    "FRAME_SIZES",
    "HEADER_BYTES",
    "MAX_FILE_BYTES",
    "SM_SHORT_CHUNK",
    "ActiveAuthentication",
    "ChipAirTime",
    "ChipProfile",
    "ChipWork",
    "Exchange",
    "file_exchanges",
    "read_exchanges",
    "read_piece",
    "read_seconds",
]

CARRIER_HZ = 13.56e6
# The bit rates of ISO/IEC 14443-2 in kbit/s, and the carrier cycles per bit.
CYCLES_PER_BIT = {106: 128, 212: 64, 424: 32, 848: 16}
BIT_RATES = tuple(CYCLES_PER_BIT)
BITS_PER_BYTE = 10
# PCB (prologue) and the two CRC bytes of an ISO/IEC 14443-4 block (no CID, no NAD).
BLOCK_OVERHEAD_BYTES = 3
# Start and end of frame, in bits (Type B: 10 to 11 etu each).
SOF_EOF_BITS = 22
# An R(ACK) block: PCB and CRC.
ACK_BYTES = 3
# The frame sizes ISO/IEC 14443-4 allows for FSD and FSC (FSDI/FSCI 0 to 12).
FRAME_SIZES = (16, 24, 32, 40, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096)


class ChipWork(Enum):
    """How much a chip computes to answer a command."""

    PLAIN = "plain"  # SELECT, READ BINARY, GET CHALLENGE
    SYMMETRIC = "symmetric"  # BAC's EXTERNAL AUTHENTICATE, MSE
    PUBLIC_KEY = "public_key"  # GENERAL AUTHENTICATE of PACE and CA, AA's INTERNAL AUTHENTICATE


@dataclass(frozen=True, slots=True)
class ChipAirTime:
    """The air-time model of one chip and reader pair (see the module docstring)."""

    bit_rate_kbps: int = 106
    # Largest ISO/IEC 14443-4 frame the reader (FSD) and the chip (FSC) accept.
    frame_size: int = 256
    # One change of direction on the air: the frame delay time and the reader's own.
    turnaround_s: float = 100e-6
    # The chip's processing time for a plain command (SELECT, READ BINARY, GET CHALLENGE).
    latency_s: float = 0.005
    # ... for a symmetric-key authentication step (BAC's EXTERNAL AUTHENTICATE, MSE).
    auth_latency_s: float = 0.02
    # ... for a public-key operation (PACE and chip authentication's GENERAL
    # AUTHENTICATE, active authentication's INTERNAL AUTHENTICATE).
    public_key_latency_s: float = 0.15
    # No time at all, whatever the figures above (``zero()``).
    instant: bool = False

    def __post_init__(self) -> None:
        if self.bit_rate_kbps not in CYCLES_PER_BIT:
            raise ValueError(
                f"bit rate {self.bit_rate_kbps} kbit/s is not one of ISO/IEC 14443's "
                f"{', '.join(str(rate) for rate in CYCLES_PER_BIT)}"
            )
        if self.frame_size not in FRAME_SIZES:
            raise ValueError(
                f"frame size {self.frame_size} is not one of ISO/IEC 14443-4's "
                f"{', '.join(str(size) for size in FRAME_SIZES)}"
            )
        for name in ("turnaround_s", "latency_s", "auth_latency_s", "public_key_latency_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be 0 or more seconds, not {value}")

    @classmethod
    def zero(cls) -> Self:
        """A chip that answers in no time at all: nothing on the air, nothing to compute."""
        return cls(instant=True)

    @property
    def bit_seconds(self) -> float:
        """The duration of one bit (etu) on the air."""
        return CYCLES_PER_BIT[self.bit_rate_kbps] / CARRIER_HZ

    def transfer_seconds(self, length: int) -> float:
        """The air time of one APDU of ``length`` bytes in one direction, chaining included.

        Every block of a chain but the last is acknowledged by the other side,
        which costs the acknowledgement and two changes of direction.
        """
        if self.instant:
            return 0.0
        payload = self.frame_size - BLOCK_OVERHEAD_BYTES
        blocks = max(1, math.ceil(length / payload))
        bits = (length + blocks * BLOCK_OVERHEAD_BYTES) * BITS_PER_BYTE + blocks * SOF_EOF_BITS
        acks = blocks - 1
        bits += acks * (ACK_BYTES * BITS_PER_BYTE + SOF_EOF_BITS)
        return bits * self.bit_seconds + 2 * acks * self.turnaround_s

    def work_seconds(self, work: ChipWork) -> float:
        """The chip's own time for a command that needs ``work``."""
        if self.instant:
            return 0.0
        if work is ChipWork.PUBLIC_KEY:
            return self.public_key_latency_s
        if work is ChipWork.SYMMETRIC:
            return self.auth_latency_s
        return self.latency_s

    def exchange_seconds(self, command_len: int, response_len: int, work: ChipWork) -> float:
        """The time of one exchange: the command on the air, the chip's work, the response.

        ``command_len`` and ``response_len`` are the APDUs' lengths in bytes
        (the response's status word included).
        """
        if self.instant:
            return 0.0
        if command_len < 0 or response_len < 0:
            raise ValueError("APDU lengths are 0 or more bytes")
        return (
            self.transfer_seconds(command_len)
            + self.turnaround_s
            + self.work_seconds(work)
            + self.transfer_seconds(response_len)
            + self.turnaround_s
        )


# --- a whole read ---------------------------------------------------------------------------

# The piece of a READ BINARY that fits a short secure-messaging response
# (``hardware.emrtd.filereader.SM_SHORT_CHUNK``).
SM_SHORT_CHUNK = 0xDF
# What a reader fetches first to learn a file's size: tag and length
# (``egate.documents.lds.tlv.MAX_HEADER_BYTES``).
HEADER_BYTES = 8
# The largest file the inspection reads (``hardware.emrtd.filereader.DEFAULT_MAX_SIZE``).
MAX_FILE_BYTES = 1 << 20
# READ BINARY with an even instruction addresses offsets up to this; past it, B1.
_MAX_EVEN_OFFSET = 0x7FFF
_SHORT_MAX_LC = 255
_SHORT_MAX_NE = 256
_MAC_BYTES = 8
# Secure messaging's block size: 3DES after BAC, AES after PACE or chip authentication.
_TDES_BLOCK, _AES_BLOCK = 8, 16

ActiveAuthentication = Literal["none", "rsa1024", "rsa2048", "ecdsa"]
# The signature (and so the response) of INTERNAL AUTHENTICATE, by key.
_AA_SIGNATURE_BYTES = {"rsa1024": 128, "rsa2048": 256, "ecdsa": 64}
# DG15 as egate's virtual chips write it: the public key in SubjectPublicKeyInfo.
_DG15_BYTES = {"rsa1024": 165, "rsa2048": 298, "ecdsa": 94}


@dataclass(frozen=True, slots=True)
class Exchange:
    """One command and its response: their lengths in bytes, and the chip's work."""

    command: int
    response: int
    work: ChipWork = ChipWork.PLAIN


@dataclass(frozen=True, slots=True)
class ChipProfile:
    """What decides how many bytes a read of a chip moves: protocol, photo, checks, files.

    The sizes of the small files default to those of the chips ``egate chip
    issue`` writes (a TD3 passport, the test PKI's document signer): an
    EF.SOD of some 1.1 KB, a DG14 when the chip offers PACE or chip
    authentication, a DG15 when it offers active authentication.
    """

    protocol: Literal["bac", "pace"]
    dg2_bytes: int
    active_authentication: ActiveAuthentication = "rsa1024"
    chip_authentication: bool = False
    # READ BINARY pieces: 223 fits a short response; larger ones need extended length.
    chunk: int = SM_SHORT_CHUNK
    dg1_bytes: int = 93
    card_access_bytes: int = 22
    # None: as egate's virtual chips have them.
    com_bytes: int | None = None
    sod_bytes: int | None = None
    dg14_bytes: int | None = None
    dg15_bytes: int | None = None
    _sizes: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.protocol not in ("bac", "pace"):
            raise ValueError(f"protocol {self.protocol!r} is not bac or pace")
        if self.active_authentication not in ("none", *_AA_SIGNATURE_BYTES):
            raise ValueError(f"active authentication {self.active_authentication!r} is unknown")
        if not 1 <= self.chunk <= 65536:
            raise ValueError(f"chunk {self.chunk} is outside 1..65536")
        groups = 2 + self.has_dg14 + self.has_dg15
        defaults = {
            "EF.COM": 20 + groups,
            "EF.SOD": 946 + 40 * groups,
            "DG14": _dg14_bytes(self) if self.has_dg14 else 0,
            "DG15": _DG15_BYTES.get(self.active_authentication, 0),
        }
        given = {
            "EF.COM": self.com_bytes,
            "EF.SOD": self.sod_bytes,
            "DG14": self.dg14_bytes,
            "DG15": self.dg15_bytes,
        }
        sizes = {name: defaults[name] if value is None else value for name, value in given.items()}
        sizes |= {"DG1": self.dg1_bytes, "DG2": self.dg2_bytes}
        for name, size in (*sizes.items(), ("EF.CardAccess", self.card_access_bytes)):
            if not HEADER_BYTES <= size <= MAX_FILE_BYTES and (size or name not in _OPTIONAL):
                raise ValueError(
                    f"{name} of {size} bytes is outside {HEADER_BYTES}..{MAX_FILE_BYTES}"
                )
        object.__setattr__(self, "_sizes", sizes)

    @property
    def has_dg14(self) -> bool:
        """The chip has DG14: it offers PACE, chip authentication or ECDSA active authentication."""
        return (
            self.protocol == "pace"
            or self.chip_authentication
            or self.active_authentication == "ecdsa"
        )

    @property
    def has_dg15(self) -> bool:
        """The chip has DG15: it offers active authentication."""
        return self.active_authentication != "none"

    def file_bytes(self, name: str) -> int:
        """The size of ``name`` (``EF.COM``, ``EF.SOD``, ``DG1``, ``DG2``, ``DG14``, ``DG15``)."""
        return self._sizes[name]

    @property
    def block(self) -> int:
        """Secure messaging's cipher block while the files are read: 8 after BAC, 16 after PACE."""
        return _AES_BLOCK if self.protocol == "pace" else _TDES_BLOCK

    def with_dg2(self, dg2_bytes: int) -> ChipProfile:
        """The same chip with another photo."""
        return replace(self, dg2_bytes=dg2_bytes)


_OPTIONAL = frozenset({"DG14", "DG15"})
# DG14's security infos as egate's virtual chips write them: PACEInfo,
# ChipAuthenticationInfo with its public key, ActiveAuthenticationInfo.
_PACE_INFO, _CA_INFOS, _AA_INFO = 20, 122, 25


def _dg14_bytes(profile: ChipProfile) -> int:
    infos = (
        _PACE_INFO * (profile.protocol == "pace")
        + _CA_INFOS * profile.chip_authentication
        + _AA_INFO * (profile.active_authentication == "ecdsa")
    )
    return _tlv_length(_tlv_length(infos))  # 6E { 31 { infos } }


def _tlv_length(value: int) -> int:
    """The bytes of a data object with a ``value`` of that many bytes (DER length)."""
    if value < 0x80:
        return 2 + value
    return 1 + 1 + (value.bit_length() + 7) // 8 + value


def _padded(length: int, block: int) -> int:
    """ISO/IEC 9797-1 padding method 2: a 80 byte, then zeros to a whole block."""
    return (length // block + 1) * block


def _plain_command(data: int, ne: int) -> int:
    """The length of a plain command APDU with ``data`` bytes and ``ne`` expected."""
    extended = data > _SHORT_MAX_LC or ne > _SHORT_MAX_NE
    length = 4
    if data:
        length += (3 if extended else 1) + data
        if ne:
            length += 2 if extended else 1
    elif ne:
        length += 3 if extended else 1
    return length


def _sm_command(data: int, ne: int, block: int, odd: bool = False) -> int:
    """The length of a command wrapped in secure messaging (DO'87 or DO'85, DO'97, DO'8E)."""
    objects = 0
    if data:
        cryptogram = _padded(data, block)
        objects += _tlv_length(cryptogram if odd else 1 + cryptogram)
    if ne:
        objects += _tlv_length(1 if ne <= _SHORT_MAX_NE else 2)
    wrapped = objects + _tlv_length(_MAC_BYTES)
    extended = data > _SHORT_MAX_LC or ne > _SHORT_MAX_NE or wrapped > _SHORT_MAX_LC
    return _plain_command(wrapped, 65536 if extended else _SHORT_MAX_NE)


def _sm_response(data: int, block: int, odd: bool = False) -> int:
    """The length of a response in secure messaging (DO'87 or DO'85, DO'99, DO'8E, SW)."""
    objects = 0
    if data:
        cryptogram = _padded(data, block)
        objects += _tlv_length(cryptogram if odd else 1 + cryptogram)
    return objects + _tlv_length(2) + _tlv_length(_MAC_BYTES) + 2


def read_piece(offset: int, length: int, block: int | None) -> Exchange:
    """One READ BINARY of ``length`` bytes at ``offset``, plain (``block`` None) or protected."""
    if offset <= _MAX_EVEN_OFFSET:
        if block is None:
            return Exchange(_plain_command(0, length), length + 2)
        return Exchange(_sm_command(0, length, block), _sm_response(length, block))
    # B1: the offset in DO'54, the data in DO'53.
    body = 2 + (offset.bit_length() + 7) // 8
    length = min(length, 65536 - 4)
    wrapped = _tlv_length(length)
    if block is None:
        return Exchange(_plain_command(body, wrapped), wrapped + 2)
    return Exchange(
        _sm_command(body, wrapped, block, odd=True), _sm_response(wrapped, block, odd=True)
    )


def file_exchanges(size: int, chunk: int, block: int | None) -> list[Exchange]:
    """SELECT a file of ``size`` bytes and read it whole: its header, then ``chunk``-byte pieces.

    ``block`` is secure messaging's cipher block (8 for 3DES, 16 for AES),
    None for a plain read.
    """
    select = (
        Exchange(_plain_command(2, 0), 2)
        if block is None
        else Exchange(_sm_command(2, 0, block), _sm_response(0, block))
    )
    head = min(HEADER_BYTES, chunk)
    exchanges = [select, read_piece(0, head, block)]
    done = head
    while done < size:
        piece = min(chunk, size - done)
        exchanges.append(read_piece(done, piece, block))
        done += min(piece, 65536 - 4)
    return exchanges


# PACE with ECDH generic mapping on a 256-bit curve: MSE:Set AT, then four
# GENERAL AUTHENTICATE (the encrypted nonce, the mapping keys, the
# key-agreement keys, the authentication tokens), in plain.
_PACE = (
    Exchange(20, 2, ChipWork.SYMMETRIC),
    Exchange(8, 22, ChipWork.PUBLIC_KEY),
    Exchange(75, 71, ChipWork.PUBLIC_KEY),
    Exchange(75, 71, ChipWork.PUBLIC_KEY),
    Exchange(18, 14, ChipWork.PUBLIC_KEY),
)
# BAC: SELECT of the application, GET CHALLENGE, EXTERNAL AUTHENTICATE.
_BAC = (
    Exchange(12, 2),
    Exchange(5, 10),
    Exchange(46, 42, ChipWork.SYMMETRIC),
)
_AID_BYTES = 7
# Chip authentication's data: its protocol's OID (MSE), the terminal's
# ephemeral key on a 256-bit curve (GENERAL AUTHENTICATE: 7C 43 80 41 04 ...).
_CA_MSE_DATA = 12
_CA_KEY_DATA = 69
_CA_ANSWER_DATA = 2
_AA_CHALLENGE = 8


def read_exchanges(profile: ChipProfile) -> list[Exchange]:
    """The APDUs of a whole inspection of a chip like ``profile``, in order (see the module)."""
    exchanges = [Exchange(_plain_command(2, 0), 2)]  # SELECT EF.CardAccess
    if profile.protocol == "pace":
        exchanges += file_exchanges(profile.card_access_bytes, profile.chunk, None)[1:]
        exchanges += _PACE
        exchanges.append(
            Exchange(_sm_command(_AID_BYTES, 0, _AES_BLOCK), _sm_response(0, _AES_BLOCK))
        )
    else:
        exchanges += _BAC
    block = profile.block
    names = ["EF.COM", "EF.SOD"]
    names += ["DG14"] * profile.has_dg14 + ["DG15"] * profile.has_dg15 + ["DG1", "DG2"]
    for name in names:
        exchanges += file_exchanges(profile.file_bytes(name), profile.chunk, block)
    if profile.chip_authentication:
        exchanges += [
            Exchange(
                _sm_command(_CA_MSE_DATA, 0, block), _sm_response(0, block), ChipWork.SYMMETRIC
            ),
            Exchange(
                _sm_command(_CA_KEY_DATA, _SHORT_MAX_NE, block),
                _sm_response(_CA_ANSWER_DATA, block),
                ChipWork.PUBLIC_KEY,
            ),
        ]
        block = _AES_BLOCK  # the session goes on under the chip's keys, in AES
        exchanges.append(Exchange(_sm_command(2, 0, block), _sm_response(0, block)))
    if profile.has_dg15:
        signature = _AA_SIGNATURE_BYTES[profile.active_authentication]
        ne = _SHORT_MAX_NE if signature <= _SHORT_MAX_NE else signature
        exchanges.append(
            Exchange(
                _sm_command(_AA_CHALLENGE, ne, block),
                _sm_response(signature, block),
                ChipWork.PUBLIC_KEY,
            )
        )
    return exchanges


def read_seconds(profile: ChipProfile, air: ChipAirTime) -> float:
    """The air time of a whole read of a chip like ``profile`` (``read_exchanges``)."""
    return math.fsum(
        air.exchange_seconds(exchange.command, exchange.response, exchange.work)
        for exchange in read_exchanges(profile)
    )
