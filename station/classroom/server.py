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
message gets an ``error`` reply and the socket stays open.

``ConsoleRunner`` serves the app with uvicorn on a thread of its own, on a
socket bound beforehand (so a port in use is an error the command line can
word); no access log, since URLs carry tokens and photos are personal data,
even made-up ones.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread
import uvicorn
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from station.classroom import DEFAULT_HOST, DEFAULT_PORT, protocol
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
from station.training.desk import DeskDecision, RefusalReason
from station.training.scenario import FaultDevice

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# How often the broadcaster looks at the view: quick enough for a door's travel,
# and at most this many state messages a second per browser.
BROADCAST_INTERVAL_S = 0.15
# A browser that cannot take one message in this long is gone or stuck: dropped.
SEND_TIMEOUT_S = 5.0
# Messages waiting for one browser; a browser this far behind is dropped.
OUTBOX = 256
# Frames above this are closed by the WebSocket layer itself; between
# protocol.MAX_MESSAGE_BYTES and this they get an error reply.
WS_MAX_FRAME = 16 * protocol.MAX_MESSAGE_BYTES
PHOTO_KINDS = ("chip", "capture")
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


# -- what the server needs of the replay (station.training's classes provide it) ----------


class Verdict(Protocol):
    """The judgement of a desk decision."""

    def to_json(self) -> dict[str, object]:
        """The decision, its verdict and points, as JSON."""
        ...


class DeskPort(Protocol):
    """The trainee desk, as the server uses it."""

    def decide(
        self, passenger: str, decision: DeskDecision, reason: RefusalReason | None = None
    ) -> Verdict:
        """Judge the trainee's decision; ValueError when it cannot be taken."""
        ...


class LivePort(Protocol):
    """What the class sees of the replay (``LiveView``)."""

    @property
    def version(self) -> int:
        """Changes whenever the view does."""
        ...

    @property
    def desk(self) -> DeskPort:
        """The trainee desk of the replay."""
        ...

    def snapshot(self) -> dict[str, object]:
        """The state JSON (role "viewer", catalogue included)."""
        ...

    def lines_since(self, seq: int) -> list[dict[str, object]]:
        """Transcript lines numbered above ``seq``."""
        ...

    def photo(self, passenger: str, which: str) -> bytes | None:
        """A passenger's "chip" or "capture" photo as JPEG, or None."""
        ...


class ControlPort(Protocol):
    """The replay's remote control (``ReplayControl``)."""

    @property
    def paused(self) -> bool:
        """Whether the replay stands still."""
        ...

    @property
    def rate(self) -> float:
        """How many times its own pace the replay runs."""
        ...

    @property
    def finished(self) -> bool:
        """Whether the replay's loop has ended."""
        ...

    def play(self) -> None:
        """Run on."""
        ...

    def pause(self) -> None:
        """Stand still."""
        ...

    def step(self, until: StepUntil) -> None:
        """Run to the next line or decision, then pause."""
        ...

    def set_rate(self, rate: float) -> None:
        """Run at ``rate``; ValueError for a rate not offered."""
        ...

    def inject_fault(self, gate: str, device: FaultDevice, lasts_s: float) -> None:
        """Fail a device now; ValueError for an unknown gate or a bad duration."""
        ...

    def add_passenger(self, template: str) -> str:
        """Send a copy of a passenger; the copy's id, ValueError for an unknown one."""
        ...


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


# -- serving ---------------------------------------------------------------------------------


class ConsoleAddressError(OSError):
    """The console cannot listen where it was asked to; the message is one line."""


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port`` (0: any free port); ``ConsoleAddressError``."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as error:
        raise ConsoleAddressError(f"cannot listen on {where}: {_reason(error)}") from None
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restart reuses the port at once (a live listener still refuses).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ConsoleAddressError(f"cannot listen on {where}: {_reason(error)}") from None
    sock.set_inheritable(True)
    return sock


def _reason(error: BaseException) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error) or "unknown"


class ConsoleRunner:
    """Serves a ``ConsoleServer`` with uvicorn on a thread of its own, on a bound socket."""

    def __init__(self, server: ConsoleServer, sock: socket.socket) -> None:
        self.server = server
        self._socket = sock
        config = uvicorn.Config(
            server.app,
            log_level="warning",
            access_log=False,  # URLs carry tokens
            lifespan="on",
            ws_max_size=WS_MAX_FRAME,
            timeout_graceful_shutdown=2,
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._uvicorn.run,
            kwargs={"sockets": [sock]},
            name="egate-console",
            daemon=True,
        )

    @property
    def host(self) -> str:
        """The address the console listens on."""
        return str(self._socket.getsockname()[0])

    @property
    def port(self) -> int:
        """The port the console listens on (the real one when 0 was asked for)."""
        return int(self._socket.getsockname()[1])

    def urls(self, host: str | None = None) -> ConsoleUrls:
        """The console's URLs, naming ``host`` (default: the address listened on)."""
        return ConsoleUrls.of(host or self.host, self.port, self.server.tokens)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start serving; RuntimeError when uvicorn did not come up within ``timeout_s``."""
        self._thread.start()
        waited = 0.0
        while not self._uvicorn.started:
            if not self._thread.is_alive() or waited >= timeout_s:
                raise RuntimeError("the console's web server did not start")
            self._thread.join(0.02)
            waited += 0.02

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close every connection and stop serving."""
        self._uvicorn.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            self._uvicorn.force_exit = True
            self._thread.join(timeout_s)
        self._socket.close()


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "STATIC_DIR",
    "ConsoleAddressError",
    "ConsoleRunner",
    "ConsoleServer",
    "ConsoleUrls",
    "ControlPort",
    "DeskPort",
    "LivePort",
    "Tokens",
    "Verdict",
    "listen",
]
