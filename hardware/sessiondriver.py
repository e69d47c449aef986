"""What the door controller and occupancy sensor drivers share: a session and its meaning.

A :class:`SessionDriver` owns a :class:`~hardware.doorsession.CommandSession`
(commands, retries, heartbeat, reconnection, identification) and turns what
it reports into a device's own events: a subclass says what kind of device
it drives and what replies and events mean for it.  ``hardware/door.py`` and
``hardware/occupancy.py`` are its two subclasses.
"""

from __future__ import annotations

import time
from typing import ClassVar, Generic, TypeVar

from hardware.doorprotocol import Command, ErrorReply, Event, Reply
from hardware.doorsession import (
    Acknowledged,
    Clock,
    CommandSession,
    CommandSettings,
    Connected,
    DeviceRestarted,
    Disconnected,
    Refused,
    SessionEvent,
    Unsolicited,
    polling_link,
)
from hardware.link import SerialLink, SerialSettings

DeviceEvent = TypeVar("DeviceEvent")


class SessionDriver(Generic[DeviceEvent]):
    """What the door controller and the occupancy sensor drivers share.

    The session carries commands, retries, reconnection and identification;
    a subclass only says what kind of device it drives (``KIND``, and
    ``_check_probe`` on the first STATUS reply after every connection), what
    replies and unsolicited events mean for its device, and what to forget
    when the device may have changed behind its back.
    """

    # The KIND a device of this sort gives in its answer to HELLO.
    KIND: ClassVar[str]

    def __init__(
        self,
        port: SerialLink | SerialSettings,
        settings: CommandSettings | None = None,
        *,
        clock: Clock = time.monotonic,
        first_seq: int = 1,
        identity: str | None = None,
    ) -> None:
        self._session = CommandSession(
            polling_link(port, clock),
            settings,
            probe="STATUS",
            clock=clock,
            first_seq=first_seq,
            identity=identity,
            kind=self.KIND,
            check=self._check_probe,
        )

    @property
    def connected(self) -> bool:
        """The device is identified and answering."""
        return self._session.connected

    @property
    def problem(self) -> str | None:
        """Why the device is not connected (a link error, silence, the wrong device); else None."""
        return self._session.problem

    @property
    def busy(self) -> bool:
        """A command is outstanding or queued."""
        return self._session.busy

    @property
    def port(self) -> str:
        """The serial port (or URL) of the device."""
        return self._session.port

    def status(self) -> Command:
        """Ask the device for everything it reports."""
        return self._session.submit("STATUS")

    def shutdown(self) -> None:
        """Close the serial port; the driver is done."""
        self._session.close()

    def poll(self, now: float) -> list[SessionEvent | DeviceEvent]:
        """What happened up to ``now``: session events followed by what they mean."""
        events: list[SessionEvent | DeviceEvent] = []
        for event in self._session.poll(now):
            if isinstance(event, Refused):
                events.append(self._refused(event))
                continue
            events.append(event)
            if isinstance(event, Connected | Disconnected | DeviceRestarted):
                # Whatever was known is stale until the device reports again.
                events += self._forget(event.at)
            elif isinstance(event, Acknowledged):
                events += self._fields(event.command, event.reply, event.at)
            elif isinstance(event, Unsolicited):
                events += self._unsolicited(event.event, event.at)
        return events + self._tick(now)

    def _check_probe(self, reply: Reply | ErrorReply) -> str | None:
        """Why the first STATUS reply shows another kind of device; None when it does not."""
        return None

    def _refused(self, event: Refused) -> SessionEvent | DeviceEvent:
        """The event to report for a refused command (a subclass may say more)."""
        return event

    def _tick(self, now: float) -> list[SessionEvent | DeviceEvent]:
        """What becomes due at ``now`` without a word from the device."""
        return []

    def _forget(self, at: float) -> list[SessionEvent | DeviceEvent]:
        """Drop what was known of the device; what that settles, as events."""
        raise NotImplementedError

    def _fields(
        self, command: Command, reply: Reply, at: float
    ) -> list[SessionEvent | DeviceEvent]:
        raise NotImplementedError

    def _unsolicited(self, event: Event, at: float) -> list[SessionEvent | DeviceEvent]:
        raise NotImplementedError


def fields_text(reply: Reply, limit: int = 40) -> str:
    """A reply's fields as they were sent, shortened for a one-line reason."""
    text = " ".join(f"{key}={value}" for key, value in reply.fields) or "nothing"
    return text if len(text) <= limit else text[: limit - 3] + "..."
