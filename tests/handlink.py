"""A serial link and a clock that a test plays by hand, for driving a driver's session.

Not a pyserial mock: the session calls the same methods it calls on a
``SerialLink``, and the test hands over the bytes the device would send and
reads what the driver wrote.  (Tests further on use real pseudo-terminals.)
"""

from __future__ import annotations

from hardware.link import SerialSettings


class HandLink:
    """The link calls a session makes, answered by the test.

    ``reopens``: a closed link opens again at the session's next attempt (and
    forgets what was waiting to be read), as a replugged adapter does; without
    it a closed link stays closed.
    """

    def __init__(self, *, reopens: bool = False, settings: SerialSettings | None = None) -> None:
        self.settings = settings or SerialSettings(port="hand", read_timeout_s=0)
        self.reopens = reopens
        self.is_open = True
        self.last_error: str | None = None
        self.sent: list[bytes] = []
        self.inbox = bytearray()
        self.opened_at: list[float] = []
        self.closes = 0

    def try_reconnect(self, now: float) -> bool:
        if not self.is_open and self.reopens:
            self.is_open = True
            self.opened_at.append(now)
        return self.is_open

    def read(self, max_bytes: int = 4096) -> bytes:
        data = bytes(self.inbox[:max_bytes])
        del self.inbox[:max_bytes]
        return data

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.is_open = False
        self.closes += 1
        if self.reopens:
            self.inbox.clear()


class HandClock:
    """A clock the test moves by setting ``now``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
