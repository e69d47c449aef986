"""The arrivals hall as a SimPy model: queues, e-gates run by the gate controller, desks.

(One concept past the ~400-line guideline: the parts below share one set of
per-traveller records and the two pools, and a traveller's path runs
through several of them, gate to matching core to desk. The pools of servers
are in ``simulation.servers``, the fates in ``simulation.fates``.)

SimPy in one paragraph: an ``Environment`` keeps a clock and a calendar of
*events*; a *process* is a generator that yields an event (``env.timeout(d)``
to let ``d`` seconds pass, or any event another process will trigger) and
resumes when the calendar reaches it, and an event can also simply call
functions (its *callbacks*) when the calendar reaches it. Nothing happens
between events, so the cost of a run is the number of events, not the length
of the day.

The model (``Hall``) has these parts:

* **Arrivals** walk through the travellers generated up front
  (``simulation.arrivals``), in order. A gate user joins the gate queue, a
  desk user the desk queue; if a server is idle the traveller goes straight
  to it.
* **Gates.** A gate serves one traveller at a time through its own
  ``GateController``, the state machine that runs real gates: the model
  feeds it the events a real gate's devices would send (``DocumentRead``,
  ``ChipRead``, ``EntryPassed``, ``FaceCaptured``, ``FaceVerified``,
  ``ExitPassed``, ``OccupancyChanged``), each stamped with the simulated
  moment it happens, and the controller's state says which step comes next,
  which event answers it, and finally how the transaction ends (``Finish``).
  Each step takes a time drawn from its distribution. What happens to a
  traveller (a rejected document, two failed captures, a mismatch, a
  tailgater) is drawn up front from the configured rates: the traveller's
  *fate* (``simulation.fates``). The controller's retries, referrals and
  safety rules then play out as on hardware; timeouts are not modelled
  (step times are the times travellers take), so the controller's timers
  are never fired.
* **Desks** serve desk travellers and those the gates referred or
  rejected (after backing out of the gate and walking over), optionally
  referrals first; each desk goes on and off duty with the roster and
  finishes the traveller in hand before leaving.
* **Bank schedules** open and close gates by time of day (an officer's
  ``CLOSE`` and ``RESET`` to the controller), and **failures** take a gate
  down for a repair (``DeviceFault``/``DeviceRecovered``); both let the
  traveller in the gate finish first. These two are SimPy processes.
* **Matching core** (optional): the verify step queues for one of ``K``
  workers, first come first served. The traveller stands in the gate
  meanwhile; when they asked and when a worker took them is kept per
  traveller, with the number waiting for a worker over time, because that
  queue is waiting, not service (``simulation.statistics``).

Speed. Only these cost an event: the end of a service at a gate or a desk,
a referred traveller reaching the desks, a gate's traveller asking the core
for a worker, and an arrival that may find a server idle. An arrival who
finds every server of their kind busy changes nothing until the next event,
so they need none of their own: every event first lets in whoever arrived
since, each at their own time (for the queues' and the hall's books), and
whenever a server becomes idle the first arrival who could take it is
booked. Servers are not processes:
the event that ends a service calls the server, which takes the next
traveller itself (``simulation.servers``), so queueing and handing over cost
no event. Steps that follow one another without anyone else involved are
added up and spent in one event; steps configured as zero take no time and
no event; durations come from batched streams. The core needs no event of
its own either: it serves in the order asked, so when a worker takes a
traveller is known the moment they ask (when the first worker comes free, if
not now), and the rest of the path is added to it. And because the
controller is a pure state machine that starts every transaction from the
same idle state, its decisions depend only on the traveller's fate: the first
transaction with a given fate is run through the controller event by event
and its path (steps, outcome, reasons) is remembered; later ones with the
same fate replay that path. With ``replay_decisions=False`` every transaction
is run through the controller; results are identical, only slower (the tests
check both). The default Pudong-style day books 2.5 events a traveller, the
M/M/c validation case 1.3.

Draw order. Each step's durations come from a stream of its own, handed out
in the order they are needed: a gate draws the steps up to the core when it
takes the traveller, and the core's time and the steps after it when the
traveller asks the core.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from heapq import heappush
from pathlib import Path
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from egate.biometrics.decision import Decision
from egate.gate import events as e
from egate.gate.commands import CaptureFace, Command, Finish, VerifyFace
from egate.gate.controller import GateController
from egate.gate.events import OfficerAction
from egate.gate.settings import ControllerSettings, State
from simulation.arrivals import generate_arrivals
from simulation.chip_specs import ChipStepSpec
from simulation.classes import desk_services
from simulation.config import HallConfig, Period, period_bounds
from simulation.distributions import Deterministic, Distribution, Exponential, Stream
from simulation.fates import Plan, Plans, decode, document_outcomes, draw_fates
from simulation.records import GateDecision, HallRecords
from simulation.servers import Pool, Server

__all__ = ["Hall", "simulate"]

# The steps a transaction can spend time in.  CHIP follows DOCUMENT (both
# while the controller is READING); CORE is the verify step when it is served
# by the central matching core.
DOCUMENT, ENTRY, CAPTURE, VERIFY, EXIT, RETREAT, CHIP, CORE = range(8)
_STEP_NAMES = ("document", "entry", "capture", "verify", "exit")

# Random streams, by purpose: a stream keeps its number when others are added,
# so a configuration's arrivals (say) stay the same across a sweep.
_ARRIVALS, _FATES, _STEP0 = 0, 1, 2  # steps take 2..6
_RETREAT, _WALK, _DESK, _REFERRAL, _CORE, _FAILURE, _REPAIR, _CHIP = range(7, 15)
# A traveller class with its own desk service (EES enrolment, ...) draws from
# stream _CLASS0 + its index.
_CLASS0 = 100


def child_seed(seed: np.random.SeedSequence, purpose: int) -> np.random.SeedSequence:
    """The seed of one random stream of a replication (the same as ``seed.spawn``'s child)."""
    return np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, purpose), pool_size=seed.pool_size
    )


class _Route:
    """A remembered path ready to replay: the draws before the core, whether it asks, after."""

    __slots__ = ("after", "before", "core", "plan")

    def __init__(
        self,
        plan: Plan,
        before: tuple[Callable[[], float], ...],
        core: bool,
        after: tuple[Callable[[], float], ...],
    ) -> None:
        self.plan = plan
        self.before = before
        self.core = core
        self.after = after

    @classmethod
    def of(cls, plan: Plan, draws: Sequence[Callable[[], float] | None]) -> _Route:
        """``plan``'s steps as the draws that time them (a step in a plan always takes time)."""
        steps = plan.steps
        cut = steps.index(CORE) if CORE in steps else len(steps)

        def timed(part: tuple[int, ...]) -> tuple[Callable[[], float], ...]:
            found = tuple(draws[step] for step in part)
            assert all(draw is not None for draw in found)
            return found  # type: ignore[return-value]

        return cls(plan, timed(steps[:cut]), cut < len(steps), timed(steps[cut + 1 :]))


def _first_from(chosen: np.ndarray[Any, np.dtype[np.bool_]]) -> list[int]:
    """For each index, the first index from it on where ``chosen`` holds (its length: none)."""
    count = chosen.size
    where = np.where(chosen, np.arange(count), count)
    return [*np.minimum.accumulate(where[::-1])[::-1].tolist(), count]


def _batches(
    distribution: Distribution, rng: np.random.Generator, batch: int = 4096
) -> Iterator[list[float]]:
    while True:
        yield distribution.sample_many(rng, batch).tolist()


def _draw(distribution: Distribution, seed: np.random.SeedSequence) -> Callable[[], float] | None:
    """A callable giving durations, or None for a step that always takes no time.

    The values of a ``Stream`` (successive batches of ``sample_many``), handed
    out by ``next`` on a chain of the batches: a call runs no Python code.
    """
    if isinstance(distribution, Deterministic):
        return None if distribution.value == 0 else itertools.repeat(distribution.value).__next__
    values = itertools.chain.from_iterable(_batches(distribution, np.random.default_rng(seed)))
    return values.__next__


class _Booked(simpy.Timeout):
    """A timeout with its callback, booked for a moment: the one kind of event the hall books.

    What ``env.timeout(at - env.now, value).callbacks.append(callback)`` makes,
    in one step, but for the moment ``at`` exactly (``now + (at - now)`` need
    not be ``at`` in floating point): ``Timeout.__init__``'s own assignments
    with the callback list given, and ``Environment.schedule``'s one line (the
    calendar's heap and its event counter are SimPy 4's; ``pyproject.toml``
    keeps SimPy below 5). Nothing is booked in the past.
    """

    def __init__(
        self,
        env: simpy.Environment,
        at: float,
        value: Any,  # noqa: ANN401  (what the callback reads back)
        callback: Callable[[simpy.Event], None],
    ) -> None:
        self.env = env
        self.callbacks = [callback]
        self._value = value
        self._delay = at - env._now
        self._ok = True
        heappush(env._queue, (at, NORMAL, next(env._eid), self))


class Hall:
    """One replication of a hall configuration; ``run()`` it once for its records.

    An hour of two gates, 120 e-gate travellers an hour, one in ten refused
    by the face check and sent to the one desk::

        >>> from pathlib import Path
        >>> import numpy as np
        >>> from simulation.config import HallConfig
        >>> from simulation.statistics import summarise_run
        >>> config = HallConfig.model_validate({
        ...     "name": "two gates", "start": "06:00", "horizon": "07:00",
        ...     "arrivals": {"rate": [{"from": "06:00", "per_hour": 120}], "egate_share": 1.0},
        ...     "gates": {"count": 2,
        ...               "steps": {"document": {"kind": "deterministic", "value": 20}},
        ...               "outcomes": {"biometric_mismatch": 0.1}},
        ...     "desks": {"count": 1, "service": {"kind": "deterministic", "value": 60}},
        ... })
        >>> records = Hall(config, Path("."), np.random.SeedSequence(1)).run()
        >>> [(decision.outcome, decision.reasons) for decision in records.decisions]
        [('accepted', ()), ('referred', ('BIOMETRIC_MISMATCH',))]
        >>> result = summarise_run(records)
        >>> result.arrivals, result.outcomes
        (126, {'accepted': 116, 'referred': 10})
        >>> result.service_level.met
        True
    """

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
        rates = gates.rates()
        checks = gates.chip_checks
        self.documents = document_outcomes(
            [failure for failure, _ in rates.chip_failures],
            None if checks is None else checks.policy,
        )
        self.fates = draw_fates(
            rates,
            len(self.arrivals),
            gates.capture_attempts,
            np.random.default_rng(child_seed(seed, _FATES)),
        )

        def build(spec: ChipStepSpec, purpose: int) -> Callable[[], float] | None:
            return _draw(spec.build(base_dir), child_seed(seed, purpose))

        self.draws: list[Callable[[], float] | None] = [
            build(getattr(gates.steps, name), _STEP0 + index)
            for index, name in enumerate(_STEP_NAMES)
        ]
        self.draws.append(build(gates.retreat, _RETREAT))
        self.draws.append(build(gates.steps.chip, _CHIP))
        self.walk = build(gates.referral_walk, _WALK)
        # The matching core: when each of its workers comes free next (a heap).
        self.core: list[float] | None = None
        self.core_draw: Callable[[], float] | None = None
        if config.matching is not None:
            self.core = [0.0] * config.matching.workers
            self.core_draw = build(config.matching.service, _CORE)
        self.desk_draw = self.referral_draw = None
        self.class_draws: list[Callable[[], float] | None] = []
        if desks is not None:
            self.desk_draw = build(desks.service, _DESK)
            self.referral_draw = (
                self.desk_draw
                if desks.referral_service is None
                else build(desks.referral_service, _REFERRAL)
            )
            # By class index: the class's own desk service, or the desks'.
            self.class_draws = [
                self.desk_draw if spec is None else build(spec, _CLASS0 + index)
                for index, spec in enumerate(desk_services(config.arrivals.class_infos()))
            ]

        self.gates = Pool(
            env,
            gates.count,
            self._serve_gate,
            self._book_arrival,
            gates.queue == "per_gate",
            self._open,
            self._close,
        )
        settings = ControllerSettings(capture_attempts=gates.capture_attempts)
        for server in self.gates.servers:
            server.controller = GateController(f"G{server.index + 1:02d}", gates.topology, settings)
            for report in server.board.report():
                server.controller.handle(report, 0.0)
        self.desks = Pool(
            env, 0 if desks is None else desks.most, self._serve_desk, self._book_arrival
        )
        self.referral_priority = desks is not None and desks.referral_priority
        self.plans = Plans()
        self.routes: dict[int, _Route] = {}  # the remembered paths by fate code

        count = self.travellers = len(self.arrivals)
        uses_gate = self.arrivals.uses_gate()
        self.arrival_times = [*self.arrivals.times.tolist(), math.inf]
        self.uses_gate = uses_gate.tolist()
        self.class_of = self.arrivals.classes.tolist()
        # Arrivals are taken in order; the first not taken yet, and from each
        # traveller on, the first who goes to the gates and the first who goes
        # to the desks (``count``: nobody).
        self.next_arrival = 0
        self.next_to_gates = _first_from(uses_gate)
        self.next_to_desks = _first_from(~uses_gate)
        # The moment of the arrival event booked (inf: none), and its number.
        self.arrival_at = math.inf
        self.arrival_booking = 0
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
        # The matching core: per traveller when they asked for a worker, when one
        # took them and for how long (a transaction verifies at most once); when
        # those waiting now will be taken (in order), and the most ever waiting.
        self.core_asked = [nan] * count
        self.core_start = [nan] * count
        self.core_took = [nan] * count
        self.core_line: deque[float] = deque()
        self.core_area = 0.0
        self.core_last = 0.0
        self.core_most = 0
        self.core_busy = 0.0
        self.core_requests = 0
        self.done = env.event()
        # The callbacks events call (bound once).
        self._on_arrival = self._arrive
        self._on_gate_done = self._gate_done
        self._on_core = self._core_asked
        self._on_desks = self._reach_desks
        self._on_desk_done = self._desk_done

    # -- arrivals --------------------------------------------------------------------------

    def _arrive(self, event: simpy.Event) -> None:
        """An arrival event: whoever has arrived by now joins their queue.

        (``_take_arrivals`` and ``_book_arrival`` written out: this runs per
        arrival that may find a server free.)
        """
        if event.value != self.arrival_booking:
            return  # (an earlier one was booked since: it took over)
        now = self.env.now
        times, uses_gate = self.arrival_times, self.uses_gate
        traveller = self.next_arrival
        while times[traveller] <= now:
            self.next_arrival = traveller + 1
            self.arrived[traveller] = at = times[traveller]
            in_hall = self.in_hall
            self.hall_area += in_hall * (at - self.hall_last)
            self.hall_last = at
            self.in_hall = in_hall + 1
            if uses_gate[traveller]:
                pool = self.gates
            else:
                pool = self.desks
                self.desk_join[traveller] = at
            if pool.idle and at < now:
                raise RuntimeError(f"traveller {traveller} found a server free without an event")
            pool.join(traveller, at)
            traveller += 1
        at = math.inf
        traveller = self.next_arrival
        if self.gates.idle:
            at = times[self.next_to_gates[traveller]]
        if self.desks.idle:
            desk = times[self.next_to_desks[traveller]]
            if desk < at:
                at = desk
        if at < math.inf:
            self.arrival_at = at
            self.arrival_booking += 1
            _Booked(self.env, at, self.arrival_booking, self._on_arrival)
        else:
            self.arrival_at = math.inf

    def _take_arrivals(self, now: float, before: bool = False) -> None:
        """Everyone who arrived by ``now`` (``before`` it) joins their queue, each when they came.

        Every event of the hall starts here, before it changes anything: an
        arrival with nobody free to serve them has no event of their own
        (module docstring). One who would find a server idle is a mistake.
        """
        times, uses_gate = self.arrival_times, self.uses_gate
        traveller = self.next_arrival
        while times[traveller] < now or (times[traveller] == now and not before):
            at = times[traveller]
            self.next_arrival = traveller + 1
            self.arrived[traveller] = at
            in_hall = self.in_hall
            self.hall_area += in_hall * (at - self.hall_last)
            self.hall_last = at
            self.in_hall = in_hall + 1
            if uses_gate[traveller]:
                pool = self.gates
            else:
                pool = self.desks
                self.desk_join[traveller] = at
            if pool.idle and at < now:
                raise RuntimeError(f"traveller {traveller} found a server free without an event")
            pool.join(traveller, at)
            traveller += 1

    def _book_arrival(self) -> None:
        """Make sure the first arrival who may find a server idle has an event (one is idle now).

        The pools call it whenever a server becomes idle. At most one arrival
        event is live: an earlier one replaces it (``arrival_booking``).
        """
        times, traveller = self.arrival_times, self.next_arrival
        booked = self.arrival_at
        if booked <= times[traveller]:
            return  # the next arrival, whoever it is, has an event: it books further
        at = math.inf
        if self.gates.idle:
            at = times[self.next_to_gates[traveller]]
        if self.desks.idle:
            desk = times[self.next_to_desks[traveller]]
            if desk < at:
                at = desk
        if at < booked:
            self.arrival_at = at
            self.arrival_booking += 1
            _Booked(self.env, at, self.arrival_booking, self._on_arrival)

    def _depart(self, traveller: int, now: float) -> None:
        """``traveller`` leaves the hall now."""
        self.left[traveller] = now
        self.hall_area += self.in_hall * (now - self.hall_last)
        self.hall_last = now
        self.in_hall -= 1
        self.departed += 1
        if self.departed == self.travellers:
            self.done.succeed()

    # -- gates -----------------------------------------------------------------------------

    def _serve_gate(self, server: Server, traveller: int, now: float) -> None:
        """Gate ``server`` takes ``traveller`` now (and the next ones, while they take no time).

        The path is known from the start (remembered, or run through the
        controller as far as the matching core), so a service books one
        event: its end, or the moment the traveller asks the core.
        """
        routes = self.routes if self.replay else None
        fates = self.fates
        while traveller >= 0:
            self.gate_start[traveller] = now
            self.gate_of[traveller] = server.index
            server.current = traveller
            route = None if routes is None else routes.get(fates[traveller])
            if route is not None:
                server.task = route
                pending = 0.0
                for draw in route.before:
                    pending += draw()
                core = route.core
            else:
                # Through the controller: as far as the core (a time), or to the end.
                run = self._transaction(server, traveller, now)
                try:
                    pending = next(run)
                    server.task, core = run, True
                except StopIteration as finished:
                    server.task, pending = finished.value
                    core = False
            if core:  # the traveller asks the core once ``pending`` has passed
                if pending > 0:
                    _Booked(self.env, now + pending, server, self._on_core)
                    return
                if self._ask_core(server, now):
                    return
            elif pending > 0:
                _Booked(self.env, now + pending, server, self._on_gate_done)
                return
            traveller = self._finish_gate(server, now)

    def _gate_done(self, event: simpy.Event) -> None:
        """A gate's service has ended: its traveller goes on, the gate takes the next one."""
        server: Server = event.value  # type: ignore[assignment]  # (what it was booked with)
        now = self.env.now
        if self.arrival_times[self.next_arrival] <= now:
            self._take_arrivals(now)
        traveller = self._finish_gate(server, now)
        if traveller >= 0:
            self._serve_gate(server, traveller, now)

    def _core_asked(self, event: simpy.Event) -> None:
        """The traveller in gate ``event.value`` asks the core for a worker now."""
        server: Server = event.value  # type: ignore[assignment]  # (what it was booked with)
        now = self.env.now
        if self.arrival_times[self.next_arrival] <= now:
            self._take_arrivals(now)
        if not self._ask_core(server, now):
            traveller = self._finish_gate(server, now)
            if traveller >= 0:
                self._serve_gate(server, traveller, now)

    def _ask_core(self, server: Server, now: float) -> bool:
        """The verify step at the central core: a worker's turn, then the rest of the path.

        The core serves in the order asked (one FIFO queue for ``K``
        workers), so when a worker takes this traveller is known now: when
        the first of the workers comes free, if that is later than now (the
        Kiefer-Wolfowitz recursion of a multi-server FIFO queue). The
        traveller waits in the gate meanwhile, verifies, and finishes the
        path; one event books the end of all that. True when it is booked,
        False when the gate is done already (nothing left takes time).
        """
        traveller = server.current
        free = self.core
        assert free is not None
        started = free[0]
        if started < now:
            started = now
        elif started > now:  # a queue: this traveller waits behind those still waiting
            self._core_books(now)
            line = self.core_line
            line.append(started)
            if len(line) > self.core_most:
                self.core_most = len(line)
        duration = self.core_draw()  # type: ignore[misc]  # (set when there is a core)
        finished = started + duration if duration > 0 else started
        heapq.heapreplace(free, finished)
        self.core_asked[traveller] = now
        self.core_start[traveller] = started
        self.core_took[traveller] = duration
        self.core_requests += 1
        self.core_busy += duration
        task = server.task
        if type(task) is _Route:
            pending = 0.0
            for draw in task.after:
                pending += draw()
        else:
            try:
                task.send(finished)
            except StopIteration as done:
                server.task, pending = done.value
            else:
                raise RuntimeError(f"gate {server.index + 1}: a second verification at the core")
        end = finished + pending if pending > 0 else finished
        if end > now:
            _Booked(self.env, end, server, self._on_gate_done)
            return True
        return False

    def _core_books(self, now: float) -> None:
        """Bring the core queue's time integral up to ``now``; whoever a worker took leaves it."""
        line = self.core_line
        area, last = self.core_area, self.core_last
        while line and line[0] <= now:
            taken = line.popleft()
            area += (len(line) + 1) * (taken - last)
            last = taken
        self.core_area = area + len(line) * (now - last)
        self.core_last = now

    def _finish_gate(self, server: Server, now: float) -> int:
        """The traveller in gate ``server`` leaves it now; the next traveller for it, or -1."""
        traveller = server.current
        task = server.task
        plan = task.plan if type(task) is _Route else task
        self.gate_end[traveller] = now
        self.plan_of[traveller] = plan.number
        server.busy_s += now - self.gate_start[traveller]
        server.served += 1
        if plan.referred:
            self._refer(traveller, now)
        else:
            self._depart(traveller, now)
        return self.gates.done(server, now)

    def _transaction(
        self, server: Server, traveller: int, now: float
    ) -> Generator[float, float, tuple[Plan, float]]:
        """Run one transaction through the gate's controller, event by event.

        A plain generator, not a process: it adds up the time the steps take,
        and at the matching core yields that time (the traveller asks for a
        worker once it has passed) and is sent back the moment the core
        finished. Its value: the path (a plan, remembered for replay) and the
        time the steps after the core take.
        """
        draws = self.draws
        code = self.fates[traveller]
        controller = server.controller
        assert controller is not None
        fate = decode(code, self.capture_attempts, len(self.documents) - 4)
        document = self.documents[fate.document]
        decision = Decision.NO_MATCH if fate.no_match else Decision.MATCH
        elapsed = now  # the moment the next event happens
        pending = 0.0  # time spent since ``elapsed``
        finish: Finish | None = None
        steps: list[int] = []
        captures = 0
        answer: tuple[e.Event, ...]
        step: int | None

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
                    step, answer = DOCUMENT, document.events
                case State.ENTERING:
                    step, answer = ENTRY, (e.EntryPassed(),)
                    if fate.tailgated:  # someone followed them in
                        answer += (e.OccupancyChanged(2),)
                case State.CAPTURING if document.reference_failure is not None:
                    # No photo to compare the face with: the service says so at once.
                    reference = document.reference_failure
                    failure = e.FaceVerified(
                        Decision.FAILURE_TO_ACQUIRE, reference, request=requested
                    )
                    step, answer = None, (failure,)
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
                elapsed = yield pending
                pending = 0.0
                steps.append(step)
            elif step is not None:
                draw = draws[step]
                if draw is not None:
                    pending += draw()
                    steps.append(step)
                chip = draws[CHIP] if step == DOCUMENT else None
                if chip is not None:  # the chip is read once the document lies on the reader
                    pending += chip()
                    steps.append(CHIP)
            for event in answer:
                feed(event)
        if finish is None:
            raise RuntimeError(f"gate {controller.gate_id}: transaction ended without Finish")
        plan = self.plans.learn(code, tuple(steps), finish, fate.impostor)
        if code not in self.routes:
            self.routes[code] = _Route.of(plan, draws)
        return plan, pending

    # -- the referrals and the desks -------------------------------------------------------

    def _refer(self, traveller: int, now: float) -> None:
        self.referred[traveller] = True
        walk = 0.0 if self.walk is None else self.walk()
        if walk > 0:
            _Booked(self.env, now + walk, traveller, self._on_desks)
        else:
            self._to_desks(traveller, now)

    def _reach_desks(self, event: simpy.Event) -> None:
        traveller = event.value
        assert isinstance(traveller, int)
        now = self.env.now
        if self.arrival_times[self.next_arrival] <= now:
            self._take_arrivals(now)
        self._to_desks(traveller, now)

    def _to_desks(self, traveller: int, now: float) -> None:
        self.desk_join[traveller] = now
        self.desks.join(traveller, now, self.referral_priority)

    def _serve_desk(self, server: Server, traveller: int, now: float) -> None:
        """Desk ``server`` takes ``traveller`` now: one event, the end of the service."""
        referred, class_of = self.referred, self.class_of
        while traveller >= 0:
            self.desk_start[traveller] = now
            self.desk_of[traveller] = server.index
            if referred[traveller]:
                draw = self.referral_draw
            else:
                draw = self.class_draws[class_of[traveller]]
            duration = 0.0 if draw is None else draw()
            server.current = traveller
            server.task = duration
            if duration > 0:
                _Booked(self.env, now + duration, server, self._on_desk_done)
                return
            traveller = self._finish_desk(server, now)

    def _desk_done(self, event: simpy.Event) -> None:
        server: Server = event.value  # type: ignore[assignment]  # (what it was booked with)
        now = self.env.now
        if self.arrival_times[self.next_arrival] <= now:
            self._take_arrivals(now)
        traveller = self._finish_desk(server, now)
        if traveller >= 0:
            self._serve_desk(server, traveller, now)

    def _finish_desk(self, server: Server, now: float) -> int:
        traveller = server.current
        self.desk_end[traveller] = now
        server.busy_s += server.task
        server.served += 1
        self._depart(traveller, now)
        return self.desks.done(server, now)

    # -- gates opening and closing ---------------------------------------------------------

    def _open(self, server: Server) -> None:
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

    def _close(self, server: Server) -> None:
        """A gate stops working: failed (a device fault) or closed by an officer."""
        controller = server.controller
        assert controller is not None
        event = e.DeviceFault("gate") if server.failed else e.OfficerCommand(OfficerAction.CLOSE)
        _drive(server, event, self.env.now)

    def _schedule(
        self, pool: Pool, periods: Sequence[tuple[float, float, int]]
    ) -> Generator[simpy.Event, Any, None]:
        """Keep ``count`` servers scheduled during each (start, end, count) period."""
        changes = sorted(
            {at for start, end, _ in periods for at in (start, end) if math.isfinite(at)}
        )
        for at in changes:
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
                self._take_arrivals(self.env.now)
            wanted = sum(count for start, end, count in periods if start <= at < end)
            for server in pool.servers:
                server.scheduled = server.index < wanted
            for server in pool.servers:
                pool.refresh(server)

    def _failures(
        self, server: Server, up: Callable[[], float], down: Callable[[], float]
    ) -> Generator[simpy.Event, Any, None]:
        """Fail after an exponential up time; repair after the traveller in hand has left."""
        env = self.env
        while True:
            yield env.timeout(up())
            self._take_arrivals(env.now)
            server.failed = True
            if server.working and server.busy:
                server.stopped = env.event()
                yield server.stopped
            else:
                self.gates.refresh(server)
            yield env.timeout(down())
            self._take_arrivals(env.now)
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
        if not times.size:
            env.run(until=max(last, 1e-9))
        else:
            stop = env.timeout(cap)
            env.run(until=self.done | stop)
        return self._records()

    def _records(self) -> HallRecords:
        self._take_arrivals(self.env.now, before=True)  # (a run cut off at the drain limit)
        self.gates.close_books()
        self.desks.close_books()
        now = self.env.now
        self.hall_area += self.in_hall * (now - self.hall_last)
        self.hall_last = now

        def floats(values: list[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
            return np.array(values, dtype=np.float64)

        def ints(values: list[int]) -> np.ndarray[Any, np.dtype[np.int64]]:
            return np.array(values, dtype=np.int64)

        # The core's times were set when each traveller asked; a run cut off at the
        # drain limit has not reached some of them: those workers never took anyone
        # (still waiting at the end), or never finished.
        core_asked, core_start = floats(self.core_asked), floats(self.core_start)
        core_took = floats(self.core_took)
        core_start[core_start > now] = np.nan
        taken = ~np.isnan(core_start)
        finished = taken & (core_start + core_took <= now)
        core_busy = self.core_busy
        if int(finished.sum()) != self.core_requests:
            core_busy = float(core_took[finished].sum())
        self._core_books(now)
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
                for plan in self.plans.in_order
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
            core_busy_s=core_busy,
            core_requests=int(taken.sum()),
            core_asked=core_asked,
            core_start=core_start,
            core_queue_area=self.core_area,
            core_queue_max=self.core_most,
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


def _drive(server: Server, event: e.Event, now: float) -> list[Command]:
    """Hand ``event`` to the gate's controller, and the board's answers to its door orders."""
    controller = server.controller
    assert controller is not None
    return server.board.drive(controller.handle, event, now)
