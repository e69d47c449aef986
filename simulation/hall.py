"""The arrivals hall as a SimPy model: queues, e-gates run by the gate controller, desks.

SimPy in one paragraph: an ``Environment`` keeps a clock and a calendar of
*events*; a *process* is a generator that yields an event (``env.timeout(d)``
to let ``d`` seconds pass, or any event another process will trigger) and
resumes when the calendar reaches it. Nothing happens between events, so the
cost of a run is the number of events, not the length of the day.

The model (``Hall``) has these processes:

* **Arrivals** walk through the travellers generated up front
  (``simulation.arrivals``). A gate user joins the gate queue, a desk user
  the desk queue; if a server is idle the traveller goes straight to it.
* **Gates.** A gate serves one traveller at a time through its own
  ``GateController``, the state machine that runs real gates: the model
  feeds it the events a real gate's devices would send (``DocumentRead``,
  ``ChipRead``, ``EntryPassed``, ``FaceCaptured``, ``FaceVerified``,
  ``ExitPassed``, ``OccupancyChanged``), each at the simulated moment it
  happens, and the controller's state says which step comes next, which
  event answers it, and finally how the transaction ends (``Finish``). Each
  step takes a time drawn from its distribution. What happens to a
  traveller (a rejected document, two failed captures, a mismatch, a
  tailgater) is drawn up front from the configured rates: the traveller's
  *fate*. The controller's retries, referrals and safety rules then play
  out as on hardware; timeouts are not modelled (step times are the times
  travellers take), so the controller's timers are never fired.
* **Desks** serve desk travellers and those the gates referred or
  rejected (after backing out of the gate and walking over), optionally
  referrals first; each desk goes on and off duty with the roster and
  finishes the traveller in hand before leaving.
* **Bank schedules** open and close gates by time of day (an officer's
  ``CLOSE`` and ``RESET`` to the controller), and **failures** take a gate
  down for a repair (``DeviceFault``/``DeviceRecovered``); both let the
  traveller in the gate finish first.
* **Matching core** (optional): the verify step queues for one of ``K``
  workers of a shared ``simpy.Resource``.

Speed. Only three things cost events: an arrival, handing a traveller to an
idle server, and the time a service takes. Steps that follow one another
without anyone else involved are added up and spent in one ``timeout``;
steps configured as zero take no time and no event; durations come from
batched streams. And because the controller is a pure state machine that
starts every transaction from the same idle state, its decisions depend only
on the traveller's fate: the first transaction with a given fate is run
through the controller event by event and its path (steps, outcome, reasons)
is remembered; later ones with the same fate replay that path. With
``replay_decisions=False`` every transaction is run through the controller;
results are identical, only slower (the tests check both).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from egate.biometrics.verifier import Decision
from egate.documents.policy import Verdict
from egate.gate import events as e
from egate.gate.board import InstantBoard
from egate.gate.commands import CaptureFace, Command, Finish, Outcome, VerifyFace
from egate.gate.controller import GateController
from egate.gate.events import ChipStatus, DocumentCheck, OfficerAction
from egate.gate.settings import ControllerSettings, State
from simulation.arrivals import generate_arrivals
from simulation.config import HallConfig, Period, period_bounds
from simulation.distributions import (
    Deterministic,
    Distribution,
    DistributionSpec,
    Exponential,
    Stream,
)
from simulation.statistics import GateDecision, HallRecords

__all__ = ["Hall", "simulate"]

# The steps a transaction can spend time in.  CORE is the verify step when it
# is served by the central matching core.
DOCUMENT, ENTRY, CAPTURE, VERIFY, EXIT, RETREAT, CORE = range(7)
_STEP_NAMES = ("document", "entry", "capture", "verify", "exit")

# Random streams, by purpose: a stream keeps its number when others are added,
# so a configuration's arrivals (say) stay the same across a sweep.
_ARRIVALS, _FATES, _STEP0 = 0, 1, 2  # steps take 2..6
_RETREAT, _WALK, _DESK, _REFERRAL, _CORE, _FAILURE, _REPAIR = range(7, 14)

# A fate's outcome at the document reader.
_DOC_OK, _DOC_REJECT, _DOC_REFER, _DOC_CHIP = range(4)
_ACCEPTED_DOCUMENT = DocumentCheck(Verdict.ACCEPT)
_DOCUMENT_EVENTS = {
    _DOC_OK: (e.DocumentRead(True, _ACCEPTED_DOCUMENT), e.ChipRead(ChipStatus.OK)),
    _DOC_REJECT: (e.DocumentRead(True, DocumentCheck(Verdict.REJECT)), e.ChipRead(ChipStatus.OK)),
    _DOC_REFER: (e.DocumentRead(True, DocumentCheck(Verdict.REFER)), e.ChipRead(ChipStatus.OK)),
    _DOC_CHIP: (e.DocumentRead(True, _ACCEPTED_DOCUMENT), e.ChipRead(ChipStatus.UNREADABLE)),
}


def child_seed(seed: np.random.SeedSequence, purpose: int) -> np.random.SeedSequence:
    """The seed of one random stream of a replication (the same as ``seed.spawn``'s child)."""
    return np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, purpose), pool_size=seed.pool_size
    )


@dataclass(frozen=True, slots=True)
class _Fate:
    """What will happen to one gate user, decoded from its fate code."""

    document: int
    failed_captures: int  # before the first good one; capture_attempts or more: never
    tailgated: bool
    impostor: bool
    no_match: bool


@dataclass(frozen=True, slots=True)
class _Plan:
    """The path the controller took for one fate: steps to spend time in, and the ending."""

    number: int
    steps: tuple[int, ...]
    outcome: Outcome
    reasons: tuple[str, ...]
    impostor: bool
    referred: bool  # sent to the desks (referred or rejected)


class _Server:
    """A gate or a desk: whether it should work, whether it does, what it has done."""

    __slots__ = (
        "available_s",
        "board",
        "busy",
        "busy_s",
        "controller",
        "failed",
        "index",
        "line",
        "scheduled",
        "served",
        "since",
        "stopped",
        "wake",
        "working",
    )

    def __init__(self, env: simpy.Environment, index: int) -> None:
        self.index = index
        self.wake: simpy.Event = env.event()  # what the idle server's process waits for
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


class _Pool:
    """Servers of one kind and the queue in front of them, with its time-weighted length.

    A traveller joining goes to an idle server if there is one, else waits:
    in one shared line (``priority`` ahead of ``line``), or with
    ``per_server`` in the shortest line of a working server. A server that
    finishes takes the next traveller itself, so a busy period costs no
    event beyond the services.
    """

    def __init__(
        self,
        env: simpy.Environment,
        count: int,
        per_server: bool = False,
        on_start: Callable[[_Server], None] | None = None,
        on_stop: Callable[[_Server], None] | None = None,
    ) -> None:
        self.env = env
        self.servers = [_Server(env, index) for index in range(count)]
        self.per_server = per_server
        self.idle: deque[_Server] = deque()
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

    def _count(self, change: int) -> None:
        now = self.env.now
        self.area += self.waiting * (now - self.last)
        self.last = now
        self.waiting += change
        if self.waiting > self.most:
            self.most = self.waiting

    def join(self, traveller: int, priority: bool = False) -> None:
        """``traveller`` arrives at this pool's queue."""
        if self.idle:
            server = self.idle.popleft()
            server.busy = True
            server.wake.succeed(traveller)
            return
        self._count(1)
        if priority:
            self.priority.append(traveller)
        elif self.per_server:
            self._shortest_line().append(traveller)
        else:
            self.line.append(traveller)

    def _shortest_line(self) -> deque[int]:
        best: _Server | None = None
        best_length = 0
        for server in self.servers:
            if server.working:
                length = len(server.line) + server.busy
                if best is None or length < best_length:
                    best, best_length = server, length
        # With no server working, travellers wait in the common line until one opens.
        return self.line if best is None else best.line

    def _next(self, server: _Server) -> int:
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
        self._count(-1)
        return queue.popleft()

    @staticmethod
    def _hand(server: _Server, traveller: int) -> None:
        server.busy = True
        server.wake.succeed(traveller)

    def done(self, server: _Server) -> int:
        """``server`` has finished a traveller: the next one for it, or -1 (it waits)."""
        server.busy = False
        if server.scheduled and not server.failed:
            traveller = self._next(server)
            if traveller >= 0:
                server.busy = True
                return traveller
        server.wake = self.env.event()
        if server.scheduled and not server.failed:
            self.idle.append(server)
        else:
            self._stop(server)
        return -1

    def refresh(self, server: _Server) -> None:
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
                traveller = self._next(server)
                if traveller >= 0:
                    self._hand(server, traveller)
                else:
                    self.idle.append(server)
        elif not should and server.working and not server.busy:
            self.idle.remove(server)
            self._stop(server)

    def _stop(self, server: _Server) -> None:
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
            self._count(-1)
            self.join(traveller)

    def close_books(self) -> None:
        """Bring the time integrals up to now (the end of the run)."""
        self._count(0)
        now = self.env.now
        for server in self.servers:
            if server.working:
                server.available_s += now - server.since
                server.since = now


def _line_length(server: _Server) -> int:
    return len(server.line)


def _constant(value: float) -> Callable[[], float]:
    return lambda: value


def _draw(distribution: Distribution, seed: np.random.SeedSequence) -> Callable[[], float] | None:
    """A callable giving durations, or None for a step that always takes no time."""
    if isinstance(distribution, Deterministic):
        return None if distribution.value == 0 else _constant(distribution.value)
    return Stream(distribution, np.random.default_rng(seed))


class Hall:
    """One replication of a hall configuration; ``run()`` it once for its records."""

    def __init__(
        self,
        config: HallConfig,
        base_dir: Path,
        seed: np.random.SeedSequence,
        *,
        replay_decisions: bool = True,
    ) -> None:
        self.config = config
        self.seed = seed
        self.replay = replay_decisions
        env = self.env = simpy.Environment()
        self.arrivals = generate_arrivals(
            config, np.random.default_rng(child_seed(seed, _ARRIVALS)), base_dir
        )
        gates, desks = config.gates, config.desks
        self.capture_attempts = gates.capture_attempts
        self.fates = self._draw_fates(np.random.default_rng(child_seed(seed, _FATES)))

        def build(spec: DistributionSpec, purpose: int) -> Callable[[], float] | None:
            return _draw(spec.build(base_dir), child_seed(seed, purpose))

        self.draws: list[Callable[[], float] | None] = [
            build(getattr(gates.steps, name), _STEP0 + index)
            for index, name in enumerate(_STEP_NAMES)
        ]
        self.draws.append(build(gates.retreat, _RETREAT))
        self.walk = build(gates.referral_walk, _WALK)
        self.core: simpy.Resource | None = None
        self.core_draw: Callable[[], float] | None = None
        if config.matching is not None:
            self.core = simpy.Resource(env, config.matching.workers)
            self.core_draw = build(config.matching.service, _CORE)
        self.desk_draw = self.referral_draw = None
        if desks is not None:
            self.desk_draw = build(desks.service, _DESK)
            self.referral_draw = (
                self.desk_draw
                if desks.referral_service is None
                else build(desks.referral_service, _REFERRAL)
            )

        self.gates = _Pool(env, gates.count, gates.queue == "per_gate", self._open, self._close)
        settings = ControllerSettings(capture_attempts=gates.capture_attempts)
        for server in self.gates.servers:
            server.controller = GateController(f"G{server.index + 1:02d}", gates.topology, settings)
            for report in server.board.report():
                server.controller.handle(report, 0.0)
        self.desks = _Pool(env, 0 if desks is None else desks.most)
        self.plans: dict[int, _Plan] = {}
        self.plan_list: list[_Plan] = []

        count = self.travellers = len(self.arrivals)
        nan = float("nan")
        self.arrived = [nan] * count
        self.gate_start = [nan] * count
        self.gate_end = [nan] * count
        self.gate_of = [-1] * count
        self.plan_of = [-1] * count
        self.referred = [False] * count
        self.desk_join = [nan] * count
        self.desk_start = [nan] * count
        self.desk_end = [nan] * count
        self.desk_of = [-1] * count
        self.left = [nan] * count
        self.in_hall = 0
        self.hall_area = 0.0
        self.hall_last = 0.0
        self.departed = 0
        self.core_wait = 0.0
        self.core_busy = 0.0
        self.core_requests = 0
        self.done = env.event()

    # -- set-up ----------------------------------------------------------------------------

    def _draw_fates(self, rng: np.random.Generator) -> list[int]:
        """Every traveller's fate code, drawn at once (desk users' codes go unused).

        The code packs document outcome (4 values), failed captures
        (0..attempts), tailgating, impostor and no-match (2 each).
        """
        rates = self.config.gates.rates()
        count = len(self.arrivals)
        attempts = self.capture_attempts
        uniforms = rng.random((5, count))
        document_bounds = np.cumsum(
            [rates.document_rejection, rates.document_referral, rates.chip_unreadable]
        )
        # Below the first bound: rejected, below the second: referred, ...; so
        # that _DOC_OK is 0, shift the categories round by one.
        document = (np.searchsorted(document_bounds, uniforms[0], side="right") + 1) % 4
        fta = rates.failure_to_acquire
        if fta >= 1:
            failed = np.full(count, attempts, dtype=np.int64)
        elif fta > 0:
            # P(at least k failures in a row) = fta**k; 1 - u avoids log(0).
            ratio = np.log1p(-uniforms[1]) / math.log(fta)
            failed = np.floor(np.minimum(ratio, attempts)).astype(np.int64)
        else:
            failed = np.zeros(count, dtype=np.int64)
        tailgated = uniforms[2] < rates.tailgating
        impostor = uniforms[3] < rates.impostor_share
        no_match = np.where(impostor, uniforms[4] >= rates.fmr, uniforms[4] < rates.fnmr)
        code = document + 4 * (
            failed + (attempts + 1) * (tailgated + 2 * (impostor + 2 * no_match))
        )
        result: list[int] = code.astype(np.int64).tolist()
        return result

    def _decode(self, code: int) -> _Fate:
        document, rest = code % 4, code // 4
        failed, rest = rest % (self.capture_attempts + 1), rest // (self.capture_attempts + 1)
        return _Fate(document, failed, bool(rest & 1), bool(rest & 2), bool(rest & 4))

    # -- processes ---------------------------------------------------------------------------

    def _arrive(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        uses_gate = self.arrivals.uses_gate().tolist()
        arrived, desk_join = self.arrived, self.desk_join
        gates, desks = self.gates, self.desks
        timeout = env.timeout
        now = env.now
        for traveller, at in enumerate(self.arrivals.times.tolist()):
            if at > now:
                yield timeout(at - now)
                now = env.now
            arrived[traveller] = now
            self.hall_area += self.in_hall * (now - self.hall_last)
            self.hall_last = now
            self.in_hall += 1
            if uses_gate[traveller]:
                gates.join(traveller)
            else:
                desk_join[traveller] = now
                desks.join(traveller)

    def _depart(self, traveller: int) -> None:
        now = self.env.now
        self.left[traveller] = now
        self.hall_area += self.in_hall * (now - self.hall_last)
        self.hall_last = now
        self.in_hall -= 1
        self.departed += 1
        if self.departed == self.travellers:
            self.done.succeed()

    def _gate(self, server: _Server) -> Generator[simpy.Event, Any, None]:
        """A gate's life: serve whoever comes, through its controller (or a remembered path)."""
        env, pool, draws = self.env, self.gates, self.draws
        timeout, plans, fates, replay = env.timeout, self.plans, self.fates, self.replay
        gate_start, gate_end, plan_of = self.gate_start, self.gate_end, self.plan_of
        gate_of, index = self.gate_of, server.index
        traveller = -1
        while True:
            if traveller < 0:
                traveller = yield server.wake
            started = env.now
            gate_start[traveller] = started
            gate_of[traveller] = index
            plan = plans.get(fates[traveller]) if replay else None
            if plan is None:
                plan = yield from self._transaction(server, fates[traveller])
            else:
                pending = 0.0
                for step in plan.steps:
                    if step == CORE:
                        if pending > 0:
                            yield timeout(pending)
                            pending = 0.0
                        yield from self._verify_at_core()
                    else:
                        pending += draws[step]()  # type: ignore[misc]  # (never None here)
                if pending > 0:
                    yield timeout(pending)
            ended = env.now
            gate_end[traveller] = ended
            plan_of[traveller] = plan.number
            server.busy_s += ended - started
            server.served += 1
            if plan.referred:
                self._refer(traveller)
            else:
                self._depart(traveller)
            traveller = pool.done(server)

    def _transaction(self, server: _Server, code: int) -> Generator[simpy.Event, Any, _Plan]:
        """Run one transaction through the gate's controller, event by event; its path."""
        env, draws = self.env, self.draws
        controller = server.controller
        assert controller is not None
        fate = self._decode(code)
        decision = Decision.NO_MATCH if fate.no_match else Decision.MATCH
        elapsed = env.now  # the moment the next event happens
        pending = 0.0  # time spent since the last yield
        finish: Finish | None = None
        steps: list[int] = []
        captures = 0
        answer: tuple[e.Event, ...]

        requested = ""

        def feed(event: e.Event) -> None:
            nonlocal finish, requested
            for command in _drive(server, event, elapsed + pending):
                if isinstance(command, Finish):
                    finish = command
                elif isinstance(command, CaptureFace | VerifyFace):
                    requested = command.request

        feed(e.DocumentPresented())
        while controller.state is not State.IDLE:
            match controller.state:
                case State.READING:
                    step, answer = DOCUMENT, _DOCUMENT_EVENTS[fate.document]
                case State.ENTERING:
                    step, answer = ENTRY, (e.EntryPassed(),)
                    if fate.tailgated:  # someone followed them in
                        answer += (e.OccupancyChanged(2),)
                case State.CAPTURING:
                    captures += 1
                    faces = 0 if captures <= fate.failed_captures else 1
                    step, answer = CAPTURE, (e.FaceCaptured(faces, requested),)
                case State.VERIFYING:
                    step = VERIFY if self.core is None else CORE
                    answer = (e.FaceVerified(decision, request=requested),)
                case State.EXITING:
                    step, answer = EXIT, (e.ExitPassed(),)
                case State.RETREAT:
                    step, answer = RETREAT, (e.OccupancyChanged(0),)
                case other:
                    raise RuntimeError(f"gate {controller.gate_id}: unexpected state {other}")
            if step == CORE:
                if pending > 0:
                    yield env.timeout(pending)
                    pending = 0.0
                yield from self._verify_at_core()
                elapsed = env.now
                steps.append(step)
            else:
                draw = draws[step]
                if draw is not None:
                    pending += draw()
                    steps.append(step)
            for event in answer:
                feed(event)
        if pending > 0:
            yield env.timeout(pending)
        if finish is None:
            raise RuntimeError(f"gate {controller.gate_id}: transaction ended without Finish")
        return self._learn(code, tuple(steps), finish, fate.impostor)

    def _learn(self, code: int, steps: tuple[int, ...], finish: Finish, impostor: bool) -> _Plan:
        known = self.plans.get(code)
        if known is not None:
            # The controller is deterministic: the same fate takes the same path.
            if (known.steps, known.outcome, known.reasons) != (
                steps,
                finish.outcome,
                finish.reasons,
            ):
                raise RuntimeError(f"the controller decided fate {code} differently twice")
            return known
        referred = finish.outcome is not Outcome.ACCEPTED
        plan = _Plan(len(self.plan_list), steps, finish.outcome, finish.reasons, impostor, referred)
        self.plans[code] = plan
        self.plan_list.append(plan)
        return plan

    def _verify_at_core(self) -> Generator[simpy.Event, Any, None]:
        core, env = self.core, self.env
        assert core is not None and self.core_draw is not None
        asked = env.now
        with core.request() as request:
            yield request
            self.core_wait += env.now - asked
            self.core_requests += 1
            duration = self.core_draw()
            if duration > 0:
                yield env.timeout(duration)
            self.core_busy += duration

    def _refer(self, traveller: int) -> None:
        self.referred[traveller] = True
        walk = 0.0 if self.walk is None else self.walk()
        if walk > 0:
            self.env.timeout(walk, traveller).callbacks.append(self._reach_desks)
        else:
            self._to_desks(traveller)

    def _reach_desks(self, event: simpy.Event) -> None:
        traveller = event.value
        assert isinstance(traveller, int)
        self._to_desks(traveller)

    def _to_desks(self, traveller: int) -> None:
        self.desk_join[traveller] = self.env.now
        desks = self.config.desks
        self.desks.join(traveller, priority=desks is not None and desks.referral_priority)

    def _desk(self, server: _Server) -> Generator[simpy.Event, Any, None]:
        env, pool = self.env, self.desks
        timeout, referred = env.timeout, self.referred
        desk_draw, referral_draw = self.desk_draw, self.referral_draw
        desk_start, desk_end, desk_of = self.desk_start, self.desk_end, self.desk_of
        traveller = -1
        while True:
            if traveller < 0:
                traveller = yield server.wake
            started = env.now
            desk_start[traveller] = started
            desk_of[traveller] = server.index
            draw = referral_draw if referred[traveller] else desk_draw
            duration = 0.0 if draw is None else draw()
            if duration > 0:
                yield timeout(duration)
            desk_end[traveller] = env.now
            server.busy_s += duration
            server.served += 1
            self._depart(traveller)
            traveller = pool.done(server)

    def _open(self, server: _Server) -> None:
        """A gate starts working: bring its controller back to idle."""
        controller = server.controller
        assert controller is not None
        now = self.env.now
        if controller.state is State.DEGRADED:
            _drive(server, e.DeviceRecovered("gate"), now)
        if controller.state is State.CLOSED:
            _drive(server, e.OfficerCommand(OfficerAction.RESET), now)
        if controller.state is not State.IDLE:
            raise RuntimeError(f"gate {controller.gate_id} does not reopen ({controller.state})")

    def _close(self, server: _Server) -> None:
        """A gate stops working: failed (a device fault) or closed by an officer."""
        controller = server.controller
        assert controller is not None
        event = e.DeviceFault("gate") if server.failed else e.OfficerCommand(OfficerAction.CLOSE)
        _drive(server, event, self.env.now)

    def _schedule(
        self, pool: _Pool, periods: Sequence[tuple[float, float, int]]
    ) -> Generator[simpy.Event, Any, None]:
        """Keep ``count`` servers scheduled during each (start, end, count) period."""
        changes = sorted(
            {at for start, end, _ in periods for at in (start, end) if math.isfinite(at)}
        )
        for at in changes:
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            wanted = sum(count for start, end, count in periods if start <= at < end)
            for server in pool.servers:
                server.scheduled = server.index < wanted
            for server in pool.servers:
                pool.refresh(server)

    def _failures(
        self, server: _Server, up: Callable[[], float], down: Callable[[], float]
    ) -> Generator[simpy.Event, Any, None]:
        """Fail after an exponential up time; repair after the traveller in hand has left."""
        env = self.env
        while True:
            yield env.timeout(up())
            server.failed = True
            if server.working and server.busy:
                server.stopped = env.event()
                yield server.stopped
            else:
                self.gates.refresh(server)
            yield env.timeout(down())
            server.failed = False
            self.gates.refresh(server)

    # -- running -------------------------------------------------------------------------------

    def _timetable(
        self, periods: Sequence[Period] | None, counts: Sequence[int], size: int, end: float
    ) -> list[tuple[float, float, int]]:
        """(start, end, count) in model time; without a schedule, all ``size`` all the time."""
        if periods is None:
            return [(0.0, math.inf, size)]
        start = self.config.start
        bounds = period_bounds(periods, end + start)
        return [
            (begin - start, finish - start, count)
            for (begin, finish), count in zip(bounds, counts, strict=True)
        ]

    def run(self) -> HallRecords:
        """Simulate until everyone has left (or the drain limit); the raw records.

        A hall runs once: make a new one for another replication.
        """
        env, config = self.env, self.config
        if env.now > 0 or self.departed:
            raise RuntimeError("this hall has already run")
        times = self.arrivals.times
        last = (config.horizon - config.start) if config.horizon is not None else 0.0
        if times.size:
            last = max(last, float(times[-1]))
        cap = last + config.drain_limit_h * 3600.0
        for server in self.gates.servers:
            env.process(self._gate(server))
        for server in self.desks.servers:
            env.process(self._desk(server))
        banks = config.gates.banks
        opening = [bank.open for bank in banks or ()]
        env.process(
            self._schedule(
                self.gates, self._timetable(banks, opening, len(self.gates.servers), cap)
            )
        )
        roster = None if config.desks is None else config.desks.roster
        staffing = [shift.desks for shift in roster or ()]
        env.process(
            self._schedule(
                self.desks, self._timetable(roster, staffing, len(self.desks.servers), cap)
            )
        )
        failures = config.gates.failures
        if failures is not None:
            up = Stream(
                Exponential(failures.mtbf_h * 3600.0),
                np.random.default_rng(child_seed(self.seed, _FAILURE)),
            )
            down = Stream(
                Exponential(failures.mttr_min * 60.0),
                np.random.default_rng(child_seed(self.seed, _REPAIR)),
            )
            for server in self.gates.servers:
                env.process(self._failures(server, up, down))
        env.process(self._arrive())
        if not times.size:
            env.run(until=max(last, 1e-9))
        else:
            stop = env.timeout(cap)
            env.run(until=self.done | stop)
        return self._records()

    def _records(self) -> HallRecords:
        self.gates.close_books()
        self.desks.close_books()
        now = self.env.now
        self.hall_area += self.in_hall * (now - self.hall_last)
        self.hall_last = now

        def floats(values: list[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
            return np.array(values, dtype=np.float64)

        def ints(values: list[int]) -> np.ndarray[Any, np.dtype[np.int64]]:
            return np.array(values, dtype=np.int64)

        matching = self.config.matching
        return HallRecords(
            config=self.config,
            spawn_key=tuple(self.seed.spawn_key),
            end=now,
            arrivals=self.arrivals,
            arrived=floats(self.arrived),
            gate_start=floats(self.gate_start),
            gate_end=floats(self.gate_end),
            gate_of=ints(self.gate_of),
            decision_of=ints(self.plan_of),
            decisions=tuple(
                GateDecision(plan.outcome.value, plan.reasons, plan.impostor)
                for plan in self.plan_list
            ),
            referred=np.array(self.referred, dtype=bool),
            desk_join=floats(self.desk_join),
            desk_start=floats(self.desk_start),
            desk_end=floats(self.desk_end),
            desk_of=ints(self.desk_of),
            left=floats(self.left),
            gate_queue_area=self.gates.area,
            desk_queue_area=self.desks.area,
            hall_area=self.hall_area,
            gate_queue_max=self.gates.most,
            desk_queue_max=self.desks.most,
            gate_available_s=tuple(server.available_s for server in self.gates.servers),
            gate_busy_s=tuple(server.busy_s for server in self.gates.servers),
            gate_served=tuple(server.served for server in self.gates.servers),
            desk_available_s=tuple(server.available_s for server in self.desks.servers),
            desk_busy_s=tuple(server.busy_s for server in self.desks.servers),
            gate_availability=tuple(self.gates.availability),
            desk_availability=tuple(self.desks.availability),
            core_workers=0 if matching is None else matching.workers,
            core_busy_s=self.core_busy,
            core_wait_s=self.core_wait,
            core_requests=self.core_requests,
        )


def simulate(
    config: HallConfig,
    base_dir: Path,
    seed: np.random.SeedSequence,
    *,
    replay_decisions: bool = True,
) -> HallRecords:
    """Run one replication of ``config`` from ``seed``; the raw records (see ``statistics``)."""
    return Hall(config, base_dir, seed, replay_decisions=replay_decisions).run()


def _drive(server: _Server, event: e.Event, now: float) -> list[Command]:
    """Hand ``event`` to the gate's controller, and the board's answers to its door orders."""
    controller = server.controller
    assert controller is not None
    commands = controller.handle(event, now)
    answers = server.board.answer(commands)
    while answers:
        more = controller.handle(answers.pop(0), now)
        commands += more
        answers += server.board.answer(more)
    return commands
