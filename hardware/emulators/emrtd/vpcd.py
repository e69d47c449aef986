"""Serving a virtual chip to pcscd through vsmartcard's vpcd: a card in a real PC/SC reader slot.

vpcd (Debian package ``vsmartcard-vpcd``) is a pcscd reader driver whose
"reader" is a TCP port, 35963 on localhost for its first slot; a virtual card
connects to it and is then in that reader as far as every PC/SC application
is concerned.  The protocol on that connection, as vpcd speaks it:

* every message either way is a 2-byte big-endian length, then that many bytes;
* from vpcd, a 1-byte message is a control: 00 power off, 01 power on, 02
  reset (none answered), 04 get the ATR (answered with the ATR); vpcd asks
  for the ATR to poll whether the card is still there, and drops the
  connection when the answer is empty;
* any longer message is a command APDU, answered with the response APDU.

``serve_vpcd`` connects a ``VirtualChip`` and answers until ``stop`` is set;
a chip that falls silent (taken off the reader) disconnects, and with
``reconnect`` the server waits for it to be back (``chip.insert()``) and for
vpcd to listen again, so pcscd sees the card leave and come back.  Each
answer is held back by the chip's air time, so a read through pcscd takes
as long as it would on a real chip.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

from hardware.emulators.emrtd.card import VirtualChip

logger = logging.getLogger(__name__)

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963

CTRL_OFF = 0x00
CTRL_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04

# How often a blocked read or a wait looks at ``stop``.
POLL_SECONDS = 0.1

Sleep = Callable[[float], None]


class VpcdError(ConnectionError):
    """vpcd cannot be reached or broke the connection; the message is one line."""


def contactless_atr(historical: bytes) -> bytes:
    """The ATR a PC/SC reader builds for an ISO/IEC 14443-4 card (PC/SC part 3, 3.1.3.2.3).

    3B, T0 = 8k (TD1 follows, k historical bytes), TD1 = 80 (TD2 follows,
    T=0), TD2 = 01 (T=1), the historical bytes, and TCK: the exclusive or of
    every byte from T0 on.
    """
    if len(historical) > 15:
        raise ValueError(f"an ATR has at most 15 historical bytes, not {len(historical)}")
    body = bytes((0x80 | len(historical), 0x80, 0x01)) + historical
    check = 0
    for byte in body:
        check ^= byte
    return b"\x3b" + body + bytes((check,))


# The historical bytes say what the card is, for a person reading pcsc_scan's output.
DEFAULT_ATR = contactless_atr(b"egate vchip")


def serve_vpcd(
    chip: VirtualChip,
    host: str = VPCD_HOST,
    port: int = VPCD_PORT,
    *,
    stop: threading.Event,
    reconnect: bool = True,
    atr: bytes = DEFAULT_ATR,
    sleep: Sleep = time.sleep,
    retry_seconds: float = 1.0,
) -> None:
    """Serve ``chip`` to vpcd at ``host``:``port`` until ``stop`` is set.

    Without ``reconnect`` the first failure (vpcd not listening, the
    connection dropped) raises ``VpcdError``; with it, the server logs the
    failure once and tries again every ``retry_seconds``.  A chip that fell
    silent disconnects; the server connects again once it is back.
    """
    if not atr or len(atr) > 33:
        raise ValueError(f"an ATR has 1 to 33 bytes, not {len(atr)}")
    failing: str | None = None
    while not stop.is_set():
        if not chip.present:
            stop.wait(retry_seconds if reconnect else 0)
            if not reconnect:
                return
            continue
        try:
            connection = socket.create_connection((host, port), timeout=retry_seconds)
        except OSError as error:
            message = _unreachable(host, port, error)
            if not reconnect:
                raise VpcdError(message) from None
            if message != failing:
                logger.warning("%s; retrying every %g s", message, retry_seconds)
                failing = message
            stop.wait(retry_seconds)
            continue
        if failing is not None:
            logger.info("vpcd at %s:%d: connected", host, port)
            failing = None
        try:
            _session(connection, chip, stop, atr, sleep)
        except VpcdError as error:
            if not reconnect:
                raise
            logger.warning("%s; reconnecting", error)
            stop.wait(retry_seconds)
        finally:
            connection.close()


def _unreachable(host: str, port: int, error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return (
            f"vpcd is not listening on {host}:{port} "
            "(is pcscd running, with vsmartcard-vpcd installed?)"
        )
    return f"vpcd at {host}:{port}: cannot connect: {error.strerror or error}"


def _session(
    connection: socket.socket,
    chip: VirtualChip,
    stop: threading.Event,
    atr: bytes,
    sleep: Sleep,
) -> None:
    """Answer vpcd on one connection until ``stop``, the chip falls silent, or vpcd hangs up."""
    connection.settimeout(POLL_SECONDS)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = _Reader(connection, stop)
    while True:
        header = reader.read(2)
        if header is None:
            return
        message = reader.read(int.from_bytes(header, "big"))
        if message is None:
            return
        if not message:
            continue  # vpcd sends none; nothing to answer
        if len(message) == 1:
            answer = _control(message[0], chip, atr)
            if answer is not None:
                _send(connection, answer)
            continue
        answer = chip.process(message)
        if not answer:
            # The chip fell silent: leave the reader, and vpcd reports the card removed.
            logger.info("the virtual chip fell silent: leaving the reader")
            return
        seconds = chip.air_time.seconds(len(message), len(answer), message[1])
        if seconds > 0:
            sleep(seconds)
        _send(connection, answer)


def _control(code: int, chip: VirtualChip, atr: bytes) -> bytes | None:
    """The answer to a control message (None: none is due)."""
    if code == CTRL_ATR:
        # An empty answer tells vpcd the card is gone.
        return atr if chip.present else b""
    if code in (CTRL_OFF, CTRL_ON, CTRL_RESET):
        chip.reset()
        return None
    logger.warning("vpcd sent an unknown control byte %02X: ignored", code)
    return None


def _send(connection: socket.socket, payload: bytes) -> None:
    if len(payload) > 0xFFFF:
        raise VpcdError(f"a response of {len(payload)} bytes does not fit a vpcd message")
    try:
        connection.sendall(len(payload).to_bytes(2, "big") + payload)
    except OSError as error:
        raise VpcdError(f"vpcd connection lost: {error.strerror or error}") from None


class _Reader:
    """Reads whole messages off a socket with a short timeout, so ``stop`` is seen promptly."""

    def __init__(self, connection: socket.socket, stop: threading.Event) -> None:
        self._connection = connection
        self._stop = stop

    def read(self, count: int) -> bytes | None:
        """``count`` bytes, or None once ``stop`` is set (VpcdError when vpcd hangs up)."""
        buffer = bytearray()
        while len(buffer) < count:
            if self._stop.is_set():
                return None
            _quick_ack(self._connection)
            try:
                chunk = self._connection.recv(count - len(buffer))
            except TimeoutError:
                continue
            except OSError as error:
                raise VpcdError(f"vpcd connection lost: {error.strerror or error}") from None
            if not chunk:
                raise VpcdError("vpcd closed the connection")
            buffer += chunk
        return bytes(buffer)


def _quick_ack(connection: socket.socket) -> None:
    """Acknowledge what arrives at once (Linux; the setting lasts until the next read).

    vpcd may write a message's length and its bytes separately: Nagle's
    algorithm then holds the bytes back until the length is acknowledged,
    which a delayed acknowledgement puts off by some 40 ms on every APDU.
    """
    option = getattr(socket, "TCP_QUICKACK", None)
    if option is not None:
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.IPPROTO_TCP, option, 1)
