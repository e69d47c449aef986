"""Servers and the queue in front of them: the gates, or the officer desks, of a hall.

A ``Pool`` is one kind of server (the e-gates, or the desks) and its queue.
A traveller who joins goes straight to an idle server if there is one, else
waits: in one shared serpentine line, ahead of it when given priority
(referrals at the desks), or with ``per_server`` in the shortest line of a
working server. A traveller handed to an idle server starts there at once
(the pool calls its ``serve``), and a server that finishes takes the next
traveller itself, so the queue costs no SimPy event at all: only the
services do. A server works while it is scheduled (the bank schedule or the
roster) and not failed; the pool keeps the books of that: the time-weighted
queue length, each server's available and busy time, and the changes in the
number working.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

from egate.gate.board import InstantBoard
from egate.gate.controller import GateController

__all__ = ["Pool", "Server"]


class Server:
    """A gate or a desk: whether it should work, whether it does, what it has done."""

    __slots__ = (
        "available_s",
        "board",
        "busy",
        "busy_s",
        "controller",
        "current",
        "failed",
        "index",
        "line",
        "scheduled",
        "served",
        "since",
        "stopped",
        "task",
        "working",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.busy = False
        self.scheduled = False  # the bank schedule or roster wants it open
        self.failed = False
        self.working = False  # open and up (busy or idle), as far as availability counts
        self.since = 0.0
        self.available_s = 0.0
        self.busy_s = 0.0
        self.served = 0
        self.stopped: simpy.Event | None = None  # a failure waiting for the server to stop
        self.controller: GateController | None = None
        self.board = InstantBoard()  # door travel is inside the step durations
        self.line: deque[int] = deque()  # its own line, with ``queue: per_gate``
        # The traveller in hand (-1: none) and what its service needs to go on.
        self.current = -1
        self.task: Any = None


class Pool:
    """Servers of one kind and the queue in front of them, with its time-weighted length.

    A traveller joining goes to an idle server if there is one (``serve(server,
    traveller, now)`` starts the service, there and then), else waits: in one
    shared line (``priority`` ahead of ``line``), or with ``per_server`` in
    the shortest line of a working server. A server that finishes asks
    ``done`` for the next traveller itself, so the queue costs no event.
    ``on_idle()`` is called whenever a server becomes idle.
    """

    def __init__(
        self,
        env: simpy.Environment,
        count: int,
        serve: Callable[[Server, int, float], None],
        on_idle: Callable[[], None],
        per_server: bool = False,
        on_start: Callable[[Server], None] | None = None,
        on_stop: Callable[[Server], None] | None = None,
    ) -> None:
        self.env = env
        self.servers = [Server(index) for index in range(count)]
        self._serve = serve
        self._on_idle = on_idle
        self.per_server = per_server
        self.idle: deque[Server] = deque()
        self.line: deque[int] = deque()
        self.priority: deque[int] = deque()
        self.waiting = 0
        self.area = 0.0  # integral of ``waiting`` over time
        self.last = 0.0
        self.most = 0
        self.working = 0
        # (time, change) of the number of working servers, for the interval table
        self.availability: list[tuple[float, int]] = []
        self._on_start = on_start
        self._on_stop = on_stop

    def _count(self, change: int, now: float) -> None:
        self.area += self.waiting * (now - self.last)
        self.last = now
        self.waiting += change
        if self.waiting > self.most:
            self.most = self.waiting

    def join(self, traveller: int, now: float, priority: bool = False) -> None:
        """``traveller`` arrives at this pool's queue at ``now`` (the present)."""
        idle = self.idle
        if idle:
            server = idle.popleft()
            server.busy = True
            self._serve(server, traveller, now)
            return
        # One more waiting (``_count(1, now)``, written out: this runs per traveller).
        waiting = self.waiting
        self.area += waiting * (now - self.last)
        self.last = now
        self.waiting = waiting = waiting + 1
        if waiting > self.most:
            self.most = waiting
        if priority:
            self.priority.append(traveller)
        elif self.per_server:
            self._shortest_line().append(traveller)
        else:
            self.line.append(traveller)

    def _shortest_line(self) -> deque[int]:
        best: Server | None = None
        best_length = 0
        for server in self.servers:
            if server.working:
                length = len(server.line) + server.busy
                if best is None or length < best_length:
                    best, best_length = server, length
        # With no server working, travellers wait in the common line until one opens.
        return self.line if best is None else best.line

    def _next(self, server: Server, now: float) -> int:
        if not self.waiting:
            return -1
        if self.priority:
            queue = self.priority
        elif server.line:
            queue = server.line
        elif self.line:
            queue = self.line
        else:
            # Its own line is empty: someone steps over from the longest other line.
            queue = max(self.servers, key=_line_length).line
            if not queue:
                return -1
        self._count(-1, now)
        return queue.popleft()

    def _hand(self, server: Server, traveller: int) -> None:
        server.busy = True
        self._serve(server, traveller, self.env.now)

    def done(self, server: Server, now: float) -> int:
        """``server`` has finished a traveller at ``now``: the next one for it, or -1 (it waits)."""
        if server.scheduled and not server.failed:
            waiting = self.waiting
            if waiting:
                if self.priority or self.per_server:
                    traveller = self._next(server, now)
                    if traveller >= 0:
                        return traveller  # (still busy)
                else:
                    # The head of the one line (``_next``, written out: this runs per traveller).
                    self.area += waiting * (now - self.last)
                    self.last = now
                    self.waiting = waiting - 1
                    return self.line.popleft()
            server.busy = False
            self.idle.append(server)
            self._on_idle()
        else:
            server.busy = False
            self._stop(server)
        return -1

    def refresh(self, server: Server) -> None:
        """Start or stop ``server`` after its schedule or health changed."""
        should = server.scheduled and not server.failed
        if should and not server.working:
            server.working = True
            server.since = self.env.now
            self.working += 1
            self.availability.append((server.since, 1))
            if self._on_start is not None:
                self._on_start(server)
            if not server.busy:
                traveller = self._next(server, server.since)
                if traveller >= 0:
                    self._hand(server, traveller)
                else:
                    self.idle.append(server)
                    self._on_idle()
        elif not should and server.working and not server.busy:
            self.idle.remove(server)
            self._stop(server)

    def _stop(self, server: Server) -> None:
        if not server.working:
            return
        now = self.env.now
        server.working = False
        server.available_s += now - server.since
        self.working -= 1
        self.availability.append((now, -1))
        if self._on_stop is not None:
            self._on_stop(server)
        if server.stopped is not None:
            server.stopped.succeed()
            server.stopped = None
        # Its line joins the others, in order (they were already counted as waiting).
        moving = list(server.line)
        server.line.clear()
        for traveller in moving:
            self._count(-1, now)
            self.join(traveller, now)

    def close_books(self) -> None:
        """Bring the time integrals up to now (the end of the run)."""
        now = self.env.now
        self._count(0, now)
        for server in self.servers:
            if server.working:
                server.available_s += now - server.since
                server.since = now


def _line_length(server: Server) -> int:
    return len(server.line)
