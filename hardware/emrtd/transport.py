"""The in-process transport: APDUs to a virtual chip in the same program, as slow as a real one.

``VirtualTransport(chip)`` sends each ``CommandApdu`` to the chip as bytes
(the very bytes a reader would send), decodes the chip's answer, and spends
the chip's air time (``chip.air_time``, an ISO/IEC 14443 model) through the
injected ``sleep``; ``air_seconds`` adds up what it spent.  A chip that falls
silent (the document taken off the reader) is ``CardAbsent``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.errors import CardAbsent

Sleep = Callable[[float], None]


class AirTimeModel(Protocol):
    """How long one exchange takes (``hardware.emulators.emrtd.airtime.AirTime``)."""

    def seconds(self, command_len: int, response_len: int, ins: int) -> float:
        """The time of a command of ``command_len`` bytes and its response."""
        ...


class Card(Protocol):
    """A card in process: bytes in, bytes out (``hardware.emulators.emrtd.card.VirtualChip``)."""

    @property
    def air_time(self) -> AirTimeModel:
        """The card's air-time model."""
        ...

    def process(self, apdu: bytes) -> bytes:
        """The response to one command APDU; b"" when the card does not answer."""
        ...


class VirtualTransport:
    """A ``Transport`` to a card in the same process (see the module docstring)."""

    def __init__(self, card: Card, *, sleep: Sleep = time.sleep) -> None:
        self._card = card
        self._sleep = sleep
        self.air_seconds = 0.0
        self.exchanges = 0

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        """Send ``command`` to the card; CardAbsent when it does not answer."""
        raw = command.encode()
        answer = self._card.process(raw)
        self.exchanges += 1
        if not answer:
            raise CardAbsent(f"{command.header.hex().upper()}: the virtual chip does not answer")
        seconds = self._card.air_time.seconds(len(raw), len(answer), command.ins)
        if seconds > 0:
            self.air_seconds += seconds
            self._sleep(seconds)
        return ResponseApdu.decode(answer, command)
