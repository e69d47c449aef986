"""How long one APDU exchange with a contactless chip takes: an ISO/IEC 14443 air-time model.

A virtual chip answers at once; a real one does not, and an inspection that
reads in 2 ms on a laptop takes seconds at a gate.  ``AirTime.seconds`` gives
the time of one command and its response, so that virtual chips read as slowly
as real ones (the in-process transport and the vpcd server spend it through
an injected sleep).

The model:

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
* **Chip time.**  A chip's processing time per APDU: a few milliseconds for a
  SELECT or a READ BINARY (secure messaging included), tens of milliseconds
  for 3DES mutual authentication, and 100 ms or more for public-key work
  (PACE key agreement, chip authentication, active authentication signatures)
  on a smart-card processor.

With these figures a 20 KB DG2 read in 256-byte READ BINARY commands under
secure messaging takes about 3 s at 106 kbit/s and under 1 s at 848 kbit/s;
with BAC, the small files and active authentication a whole read at 106
kbit/s takes 3 to 4 s, the low end of the 3 to 15 s that gates see in the
field (UK Border Agency, 2009); slower chips (higher ``latency_s``) and larger
photos make up the rest.  ``AirTime.zero()`` spends no time at all, for tests
and CPU benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hardware.emrtd.iso7816 import (
    INS_EXTERNAL_AUTHENTICATE,
    INS_GENERAL_AUTHENTICATE,
    INS_INTERNAL_AUTHENTICATE,
    INS_MSE,
)

CARRIER_HZ = 13.56e6
# The bit rates of ISO/IEC 14443-2 in kbit/s, and the carrier cycles per bit.
CYCLES_PER_BIT = {106: 128, 212: 64, 424: 32, 848: 16}
BITS_PER_BYTE = 10
# PCB (prologue) and the two CRC bytes of an ISO/IEC 14443-4 block (no CID, no NAD).
BLOCK_OVERHEAD_BYTES = 3
# Start and end of frame, in bits (Type B: 10 to 11 etu each).
SOF_EOF_BITS = 22
# An R(ACK) block: PCB and CRC.
ACK_BYTES = 3
# The frame sizes ISO/IEC 14443-4 allows for FSD and FSC (FSDI/FSCI 0 to 12).
FRAME_SIZES = (16, 24, 32, 40, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096)


@dataclass(frozen=True, slots=True)
class AirTime:
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
    # No time at all, whatever the figures above (``AirTime.zero()``).
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
    def zero(cls) -> AirTime:
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

    def processing_seconds(self, ins: int) -> float:
        """The chip's own time for a command with instruction byte ``ins``."""
        if self.instant:
            return 0.0
        if ins in (INS_GENERAL_AUTHENTICATE, INS_INTERNAL_AUTHENTICATE):
            return self.public_key_latency_s
        if ins in (INS_EXTERNAL_AUTHENTICATE, INS_MSE):
            return self.auth_latency_s
        return self.latency_s

    def seconds(self, command_len: int, response_len: int, ins: int) -> float:
        """The time of one exchange: the command on the air, the chip's work, the response.

        ``command_len`` and ``response_len`` are the APDUs' lengths in bytes
        (the response's status word included); ``ins`` is the command's
        instruction byte, which tells how much the chip computes.
        """
        if self.instant:
            return 0.0
        if command_len < 0 or response_len < 0:
            raise ValueError("APDU lengths are 0 or more bytes")
        return (
            self.transfer_seconds(command_len)
            + self.turnaround_s
            + self.processing_seconds(ins)
            + self.transfer_seconds(response_len)
            + self.turnaround_s
        )
