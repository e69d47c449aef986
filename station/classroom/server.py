"""The classroom console's web server: one running replay, shown in browsers and run from them.

``ConsoleServer`` is a Starlette app over a ``LiveView`` (what the class
sees), a ``ReplayControl`` (what the instructor may change) and the view's
trainee desk.  It serves the page (``static/``), the state and the
transcript over HTTP, the passengers' photos, and a WebSocket per browser.
Who a socket is comes from the token in its URL: the instructor's token, the
desk's, or none (a viewer).  Two random tokens are made per run and printed
with the URLs; nothing else is secret, and the server listens on the loopback
interface unless told otherwise.

One broadcaster task watches the view (its ``version`` and new transcript
lines) a few times a second and hands each connected socket what is new.  A
socket never holds up the others or the replay: each has its own bounded
outbox drained by its own sender, a send that takes too long or an outbox
that overflows drops that socket alone, and every call into the replay runs
on a worker thread.  What a browser sends is parsed by ``protocol``; a bad
message gets an ``error`` reply and the socket stays open.  What the server
calls on the replay is in ``ports``; ``runner`` serves the app.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from station.classroom import protocol
from station.classroom.ports import ControlPort, LivePort
from station.classroom.protocol import (
    AddPassenger,
    ClientMessage,
    Control,
    ControlAction,
    DeskOrder,
    Fault,
    ProtocolError,
    Role,
)
from station.training.control import StepUntil

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# How often the broadcaster looks at the view: quick enough for a door's travel,
# and at most this many state messages a second per browser.
BROADCAST_INTERVAL_S = 0.15
# A browser that cannot take one message in this long is gone or stuck: dropped.
SEND_TIMEOUT_S = 5.0
# Messages waiting for one browser; a browser this far behind is dropped.
OUTBOX = 256
PHOTO_KINDS = ("chip", "capture")
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


# -- tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tokens:
    """The two secrets of one console: the instructor's and the desk's."""

    instructor: str
    desk: str

    @classmethod
    def generate(cls) -> Tokens:
        """Two fresh random tokens."""
        return cls(secrets.token_urlsafe(18), secrets.token_urlsafe(18))

    def role(self, token: str | None) -> Role:
        """Who comes with ``token``: instructor, desk, or (any other token, or none) viewer."""
        if not token:
            return Role.VIEWER
        given = token.encode("utf-8", errors="replace")
        # Both comparisons always run, in constant time: a wrong token teaches nothing.
        instructor = secrets.compare_digest(given, self.instructor.encode())
        desk = secrets.compare_digest(given, self.desk.encode())
        if instructor:
            return Role.INSTRUCTOR
        return Role.DESK if desk else Role.VIEWER


@dataclass(frozen=True, slots=True)
class ConsoleUrls:
    """Where the instructor, the desk and the viewers open the console."""

    instructor: str
    desk: str
    viewers: str

    @classmethod
    def of(cls, host: str, port: int, tokens: Tokens) -> ConsoleUrls:
        """The URLs of a console listening on ``host``:``port``."""
        name = f"[{host}]" if ":" in host else host
        base = f"http://{name}:{port}/"
        return cls(f"{base}?token={tokens.instructor}", f"{base}?token={tokens.desk}", base)


# -- the app ---------------------------------------------------------------------------------


@dataclass(eq=False)
class _Client:
    """One connected browser: its role, the last transcript line it has, its outbox."""

    role: Role
    outbox: MemoryObjectSendStream[str]
    seq: int = 0
    dropped: bool = False

    def offer(self, text: str) -> bool:
        """Queue ``text`` for the browser without waiting; False (and dropped) when it is full."""
        if self.dropped:
            return False
        try:
            self.outbox.send_nowait(text)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self.dropped = True
            return False
        return True


class ConsoleServer:
    """The console's web app for one replay; see the module docstring."""

    def __init__(
        self,
        live: LivePort,
        control: ControlPort,
        *,
        tokens: Tokens | None = None,
        static_dir: Path = STATIC_DIR,
        interval_s: float = BROADCAST_INTERVAL_S,
        send_timeout_s: float = SEND_TIMEOUT_S,
        outbox: int = OUTBOX,
    ) -> None:
        self.live = live
        self.control = control
        self.tokens = tokens or Tokens.generate()
        self._static = static_dir
        self._interval_s = interval_s
        self._send_timeout_s = send_timeout_s
        self._outbox = outbox
        self._clients: set[_Client] = set()
        self._version: int | None = None  # the view's version the browsers last got
        # Held while the broadcaster sends and while a socket joins, so a
        # joining socket neither misses lines nor gets them twice.
        self._lock = anyio.Lock()
        self.app = Starlette(
            routes=[
                Route("/", self._index),
                Route("/api/state", self._state),
                Route("/api/transcript", self._transcript),
                Route("/api/photo/{passenger}/{which}", self._photo),
                WebSocketRoute("/ws", self._socket),
                Mount("/static", StaticFiles(directory=static_dir, check_dir=False)),
            ],
            lifespan=self._lifespan,
        )

    @property
    def connected(self) -> int:
        """How many browsers are connected now."""
        return len(self._clients)

    # -- HTTP ------------------------------------------------------------------------------

    async def _index(self, request: Request) -> Response:
        page = self._static / "index.html"
        if not page.is_file():
            return PlainTextResponse("the console page is not installed", status_code=404)
        return FileResponse(page, headers=_NO_STORE)

    async def _state(self, request: Request) -> Response:
        role = self.tokens.role(request.query_params.get("token"))
        snapshot = await anyio.to_thread.run_sync(self.live.snapshot)
        return _json(_view(snapshot, role))

    async def _transcript(self, request: Request) -> Response:
        since = request.query_params.get("since", "0")
        if not since.isdigit() or len(since) > 12:
            return _json({"error": "since must be a whole number of lines"}, status_code=400)
        lines = await anyio.to_thread.run_sync(self.live.lines_since, int(since))
        return _json({"lines": lines})

    async def _photo(self, request: Request) -> Response:
        passenger = request.path_params["passenger"]
        which = request.path_params["which"]
        if which not in PHOTO_KINDS:
            return PlainTextResponse("no such photo", status_code=404, headers=_NO_STORE)
        jpeg = await anyio.to_thread.run_sync(self.live.photo, passenger, which)
        if jpeg is None:
            return PlainTextResponse("no such photo", status_code=404, headers=_NO_STORE)
        return Response(jpeg, media_type="image/jpeg", headers=_NO_STORE)

    # -- the WebSocket ---------------------------------------------------------------------

    async def _socket(self, websocket: WebSocket) -> None:
        role = self.tokens.role(websocket.query_params.get("token"))
        await websocket.accept()
        outbox, pending = anyio.create_memory_object_stream[str](self._outbox)
        client = _Client(role, outbox)
        try:
            async with self._lock:
                snapshot, lines = await anyio.to_thread.run_sync(self._everything)
                client.offer(protocol.hello(role))
                client.offer(protocol.state(_view(snapshot, role)))
                client.offer(protocol.lines(lines))
                client.seq = _last_seq(lines, 0)
                self._clients.add(client)
            async with anyio.create_task_group() as group:
                group.start_soon(self._send_loop, websocket, client, pending, group.cancel_scope)
                await self._receive_loop(websocket, client)
                group.cancel_scope.cancel()
        finally:
            self._clients.discard(client)
            client.dropped = True
            outbox.close()
            pending.close()
            with suppress(Exception):  # already closed by the browser, most often
                await websocket.close()

    def _everything(self) -> tuple[dict[str, object], list[dict[str, object]]]:
        return self.live.snapshot(), self.live.lines_since(0)

    async def _send_loop(
        self,
        websocket: WebSocket,
        client: _Client,
        pending: MemoryObjectReceiveStream[str],
        scope: anyio.CancelScope,
    ) -> None:
        """Send the client's outbox in order; on a stuck or closed socket, end the connection."""
        try:
            async for text in pending:
                if client.dropped:
                    break
                with anyio.fail_after(self._send_timeout_s):
                    await websocket.send_text(text)
        except Exception as error:  # a closed socket raises whatever its transport raises
            log.info("console: a browser (%s) dropped: %s", client.role, type(error).__name__)
        client.dropped = True
        scope.cancel()

    async def _receive_loop(self, websocket: WebSocket, client: _Client) -> None:
        """Answer each message the browser sends, until it goes away or is dropped."""
        while not client.dropped:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            data: str | bytes = text if text is not None else message.get("bytes") or b""
            reply = await self._answer(client.role, data)
            if not client.offer(reply):
                return

    async def _answer(self, role: Role, data: str | bytes) -> str:
        """The reply to one client frame: an ack, or an error naming what was wrong."""
        try:
            message = protocol.parse_message(data)
        except ProtocolError as error:
            return protocol.error(error.request, str(error))
        refused = protocol.permission_error(message, role)
        if refused is not None:
            return protocol.error(message.request, refused)
        try:
            result = await anyio.to_thread.run_sync(self._carry_out, message)
        except ValueError as error:
            return protocol.error(message.request, str(error))
        except Exception as error:
            # Only the kind of failure is logged: a message may carry personal data.
            log.error("console: %s failed: %s", protocol.kind_of(message), type(error).__name__)
            return protocol.error(message.request, "the replay could not do that (see its log)")
        return protocol.ack(message.request, result)

    def _carry_out(self, message: ClientMessage) -> dict[str, object]:
        """Do what ``message`` asks (on a worker thread); what came of it."""
        match message:
            case Control(action=action, rate=rate):
                control = self.control
                if action is ControlAction.PLAY:
                    control.play()
                elif action is ControlAction.PAUSE:
                    control.pause()
                elif action is ControlAction.STEP_EVENT:
                    control.step(StepUntil.EVENT)
                elif action is ControlAction.STEP_DECISION:
                    control.step(StepUntil.DECISION)
                else:
                    assert rate is not None  # protocol: a speed message has its rate
                    control.set_rate(rate)
                return {
                    "paused": control.paused,
                    "rate": control.rate,
                    "finished": control.finished,
                }
            case Fault(gate=gate, device=device, lasts_s=lasts_s):
                self.control.inject_fault(gate, device, lasts_s)
                return {"gate": gate, "device": device.value, "lasts_s": lasts_s}
            case AddPassenger(template=template):
                return {"template": template, "passenger": self.control.add_passenger(template)}
            case DeskOrder(passenger=passenger, decision=decision, reason=reason):
                verdict = self.live.desk.decide(passenger, decision, reason)
                return {"passenger": passenger, **verdict.to_json()}

    # -- the broadcaster -------------------------------------------------------------------

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(self._broadcast_forever)
            yield
            group.cancel_scope.cancel()

    async def _broadcast_forever(self) -> None:
        while True:
            await anyio.sleep(self._interval_s)
            try:
                await self.broadcast()
            except Exception as error:
                # The view failed once; the next round may do better. Never the broadcaster's end.
                log.error("console: broadcast failed: %s", type(error).__name__)

    async def broadcast(self) -> None:
        """Hand every connected browser the state (when it changed) and the new lines."""
        async with self._lock:
            clients = [client for client in self._clients if not client.dropped]
            if not clients:
                return
            since = min(client.seq for client in clients)
            version, snapshot, lines = await anyio.to_thread.run_sync(
                self._changes, since, self._version
            )
            self._version = version
            states: dict[Role, str] = {}
            if snapshot is not None:
                states = {role: protocol.state(_view(snapshot, role)) for role in Role}
            for client in clients:
                if snapshot is not None:
                    client.offer(states[client.role])
                fresh = [line for line in lines if _seq(line) > client.seq]
                if fresh and client.offer(protocol.lines(fresh)):
                    client.seq = _last_seq(fresh, client.seq)

    def _changes(
        self, since: int, version: int | None
    ) -> tuple[int | None, dict[str, object] | None, list[dict[str, object]]]:
        """The view's version, its snapshot unless that is ``version``, lines after ``since``."""
        lines = self.live.lines_since(since)
        now = self.live.version
        if now == version:
            return now, None, lines
        try:
            snapshot = self.live.snapshot()
        except Exception as error:
            # The lines still go out; the state is tried again next round.
            log.error("console: the view's state failed: %s", type(error).__name__)
            return version, None, lines
        return now, snapshot, lines


def _view(snapshot: Mapping[str, object], role: Role) -> dict[str, object]:
    """The state as ``role`` may see it: the catalogue is the instructor's alone."""
    state = dict(snapshot)
    state["role"] = role.value
    if role is not Role.INSTRUCTOR:
        state.pop("catalogue", None)
    return state


def _seq(line: Mapping[str, object]) -> int:
    seq = line.get("seq")
    return seq if isinstance(seq, int) else 0


def _last_seq(lines: list[dict[str, object]], default: int) -> int:
    return max((_seq(line) for line in lines), default=default)


def _json(value: object, status_code: int = 200) -> Response:
    return Response(
        protocol.encode(value),
        status_code=status_code,
        media_type="application/json",
        headers=_NO_STORE,
    )


__all__ = [
    "BROADCAST_INTERVAL_S",
    "OUTBOX",
    "SEND_TIMEOUT_S",
    "STATIC_DIR",
    "ConsoleServer",
    "ConsoleUrls",
    "Tokens",
]
