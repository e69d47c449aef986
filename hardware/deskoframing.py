"""The DESKO framing: ``SOD STX line CR line CR [line CR] ETX EOD`` (DESKO's CUTE style).

The start and end of data bytes are the reader's own (``DeskoBytes``, set in
the gate file); the rest is as docs/readers.md describes it.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from hardware.frames import (
    CR,
    DEFAULT_IDLE_TIMEOUT_S,
    ETX,
    LF,
    STX,
    BadFrame,
    StartByteFraming,
    encode_line,
    split_frame_lines,
)

# DESKO's CUTE protocol gives each device its own start and end of data
# bytes; these are the ones egate uses for the OCR reader (see docs/readers.md).
DESKO_SOD = 0x1C
DESKO_EOD = 0x1D


# --- DESKO start and end of data bytes, as configured -----------------------------

# Bytes the DESKO framing gives a meaning of its own, whatever the reader's
# start and end of data bytes are.
_DESKO_FIXED = {STX: "STX", ETX: "ETX", CR: "CR", LF: "LF"}


def desko_byte_problem(value: int) -> str | None:
    """Why ``value`` cannot be a DESKO start or end of data byte (None: it can)."""
    if not 0 <= value <= 0xFF:
        return f"{value} is not a byte (00 to FF)"
    if value in _DESKO_FIXED:
        return f"{value:02X} is {_DESKO_FIXED[value]}, which the framing itself uses"
    if 0x20 <= value <= 0x7E:
        # It would end a frame in the middle of an MRZ line.
        return f"{value:02X} is printable ASCII ({chr(value)!r}), the text of an MRZ"
    return None


def _hex_byte(value: object) -> int:
    """A byte written as two hexadecimal digits ("1E", "0x1E"), checked for DESKO."""
    # A bare YAML number is refused: is 10 ten or sixteen? Quoted hex is unambiguous.
    if not isinstance(value, str):
        raise ValueError('expected a byte as two hexadecimal digits in quotes, e.g. "1E"')
    digits = value.strip().lower().removeprefix("0x")
    if len(digits) != 2 or not all(char in string.hexdigits for char in digits):
        raise ValueError(f'expected two hexadecimal digits, e.g. "1E", not {value!r}')
    byte = int(digits, 16)
    problem = desko_byte_problem(byte)
    if problem is not None:
        raise ValueError(problem)
    return byte


HexByte = Annotated[
    int,
    BeforeValidator(_hex_byte),
    PlainSerializer(lambda byte: f"{byte:02X}", return_type=str),
]
"""A byte given in configuration as two hexadecimal digits; written back the same way."""


class DeskoBytes(BaseModel):
    """The start and end of data bytes a DESKO reader wraps each document in (CUTE).

    CUTE gives each device of a kiosk its own pair; egate's default is the
    OCR reader's ``1C``/``1D``. In a gate file: ``desko: {start: "1E", end: "1F"}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: HexByte = Field(
        default=DESKO_SOD, description="Start of data byte, two hex digits (default 1C)."
    )
    end: HexByte = Field(
        default=DESKO_EOD, description="End of data byte, two hex digits (default 1D)."
    )

    @model_validator(mode="after")
    def _two_bytes(self) -> DeskoBytes:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start:02X}; they must differ")
        return self


# --- the framing -------------------------------------------------------------------


class DeskoFraming(StartByteFraming):
    """``SOD STX line CR line CR [line CR] ETX EOD``, as DESKO readers send under CUTE.

    The lines are sent as read, misread characters included; there is no
    checksum. A byte other than STX after SOD, or other than EOD after ETX,
    makes the frame a misread.
    """

    name = "desko"

    def __init__(
        self,
        *,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        sod: int = DESKO_SOD,
        eod: int = DESKO_EOD,
    ) -> None:
        super().__init__(idle_timeout_s)
        for what, value in (("SOD", sod), ("EOD", eod)):
            if (problem := desko_byte_problem(value)) is not None:
                raise ValueError(f"{what}: {problem}")
        if sod == eod:
            raise ValueError("SOD and EOD must differ")
        self._start = sod
        self._eod = eod
        self.control_bytes = frozenset({sod, eod, STX, ETX})
        self._state = 0

    # States: after SOD, in the text, after ETX.
    _AFTER_SOD, _TEXT, _AFTER_ETX = range(3)

    def _begin(self) -> None:
        self._state = self._AFTER_SOD

    def _step(self, byte: int) -> tuple[str, ...] | BadFrame | None:
        if self._state == self._AFTER_SOD:
            if byte == STX:
                self._state = self._TEXT
                return None
            return BadFrame(f"start of data followed by 0x{byte:02X}, not STX")
        if self._state == self._TEXT:
            if byte == ETX:
                self._state = self._AFTER_ETX
                return None
            if byte == self._start:
                return BadFrame("frame cut short by the start of the next one")
            if byte in (STX, self._eod):
                return BadFrame(f"unexpected 0x{byte:02X} inside the text")
            return None
        if byte == self._eod:
            return tuple(split_frame_lines(bytes(self._raw[2:-2])))
        return BadFrame(f"ETX followed by 0x{byte:02X}, not end of data")

    def encode(self, lines: Sequence[str]) -> bytes:
        text = b"".join(encode_line(line) + b"\r" for line in lines)
        return bytes([self._start, STX]) + text + bytes([ETX, self._eod])
