"""How long one APDU exchange with a contactless chip takes: an ISO/IEC 14443 air-time model.

A virtual chip answers at once; a real one does not, and an inspection that
reads in 2 ms on a laptop takes seconds at a gate.  ``AirTime.seconds`` gives
the time of one command and its response, so that virtual chips read as slowly
as real ones (the in-process transport and the vpcd server spend it through
an injected sleep).

The arithmetic (bit times, frames and chaining, turnarounds, the chip's own
time per command) is ``egate.chiptime.ChipAirTime``'s, in the core, where the
capacity model's chip read step uses it too; ``AirTime`` adds what only the
card edge knows: which instruction byte costs the chip how much work.

With the default figures a 20 KB DG2 read in 256-byte READ BINARY commands
under secure messaging takes about 3 s at 106 kbit/s and under 1 s at 848
kbit/s; with BAC, the small files and active authentication a whole read at
106 kbit/s takes 3 to 4 s, the low end of the 3 to 15 s that gates see in the
field (UK Border Agency, 2009); slower chips (higher ``latency_s``) and larger
photos make up the rest.  ``AirTime.zero()`` spends no time at all, for tests
and CPU benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

from egate.chiptime import (
    ACK_BYTES,
    BITS_PER_BYTE,
    BLOCK_OVERHEAD_BYTES,
    CARRIER_HZ,
    CYCLES_PER_BIT,
    FRAME_SIZES,
    SOF_EOF_BITS,
    ChipAirTime,
    ChipWork,
)
from hardware.emrtd.iso7816 import (
    INS_EXTERNAL_AUTHENTICATE,
    INS_GENERAL_AUTHENTICATE,
    INS_INTERNAL_AUTHENTICATE,
    INS_MSE,
)

__all__ = [
    "ACK_BYTES",
    "BITS_PER_BYTE",
    "BLOCK_OVERHEAD_BYTES",
    "CARRIER_HZ",
    "CYCLES_PER_BIT",
    "FRAME_SIZES",
    "SOF_EOF_BITS",
    "AirTime",
    "work_of",
]


def work_of(ins: int) -> ChipWork:
    """How much the chip computes for a command with instruction byte ``ins``."""
    if ins in (INS_GENERAL_AUTHENTICATE, INS_INTERNAL_AUTHENTICATE):
        return ChipWork.PUBLIC_KEY
    if ins in (INS_EXTERNAL_AUTHENTICATE, INS_MSE):
        return ChipWork.SYMMETRIC
    return ChipWork.PLAIN


@dataclass(frozen=True, slots=True)
class AirTime(ChipAirTime):
    """The air-time model of one chip and reader pair, by instruction byte (``ChipAirTime``)."""

    def processing_seconds(self, ins: int) -> float:
        """The chip's own time for a command with instruction byte ``ins``."""
        return self.work_seconds(work_of(ins))

    def seconds(self, command_len: int, response_len: int, ins: int) -> float:
        """The time of one exchange: the command on the air, the chip's work, the response.

        ``command_len`` and ``response_len`` are the APDUs' lengths in bytes
        (the response's status word included); ``ins`` is the command's
        instruction byte, which tells how much the chip computes.
        """
        return self.exchange_seconds(command_len, response_len, work_of(ins))
