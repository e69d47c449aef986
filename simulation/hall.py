"""The arrivals hall as a SimPy model: queues, e-gates run by the gate controller, desks.

(One concept past the ~400-line guideline: the processes below share one set
of per-traveller records and the two pools, and a traveller's path runs
through several of them, gate to matching core to desk. The pools of servers
are in ``simulation.servers``, the fates in ``simulation.fates``.)

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
  traveller in the gate finish first.
* **Matching core** (optional): the verify step queues for one of ``K``
  workers of a shared ``simpy.Resource``. The traveller stands in the gate
  meanwhile; when they asked and when a worker took them is kept per
  traveller, with the number waiting for a worker over time, because that
  queue is waiting, not service (``simulation.statistics``).

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
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import simpy

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


def _constant(value: float) -> Callable[[], float]:
    return lambda: value


def _draw(distribution: Distribution, seed: np.random.SeedSequence) -> Callable[[], float] | None:
    """A callable giving durations, or None for a step that always takes no time."""
    if isinstance(distribution, Deterministic):
        return None if distribution.value == 0 else _constant(distribution.value)
    return Stream(distribution, np.random.default_rng(seed))


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
        self.core: simpy.Resource | None = None
        self.core_draw: Callable[[], float] | None = None
        if config.matching is not None:
            self.core = simpy.Resource(env, config.matching.workers)
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

        self.gates = Pool(env, gates.count, gates.queue == "per_gate", self._open, self._close)
        settings = ControllerSettings(capture_attempts=gates.capture_attempts)
        for server in self.gates.servers:
            server.controller = GateController(f"G{server.index + 1:02d}", gates.topology, settings)
            for report in server.board.report():
                server.controller.handle(report, 0.0)
        self.desks = Pool(env, 0 if desks is None else desks.most)
        self.plans = Plans()

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
        # The matching core: per traveller when they asked for a worker and when
        # one took them (a transaction verifies at most once), and the queue's books.
        self.core_asked = [nan] * count
        self.core_start = [nan] * count
        self.core_waiting = 0
        self.core_area = 0.0
        self.core_last = 0.0
        self.core_most = 0
        self.core_busy = 0.0
        self.core_requests = 0
        self.done = env.event()

    # -- set-up ----------------------------------------------------------------------------

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

    def _gate(self, server: Server) -> Generator[simpy.Event, Any, None]:
        """A gate's life: serve whoever comes, through its controller (or a remembered path)."""
        env, pool, draws = self.env, self.gates, self.draws
        timeout, plans, fates, replay = env.timeout, self.plans.by_code, self.fates, self.replay
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
                plan = yield from self._transaction(server, traveller)
            else:
                pending = 0.0
                for step in plan.steps:
                    if step == CORE:
                        if pending > 0:
                            yield timeout(pending)
                            pending = 0.0
                        yield from self._verify_at_core(traveller)
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

    def _transaction(self, server: Server, traveller: int) -> Generator[simpy.Event, Any, Plan]:
        """Run one transaction through the gate's controller, event by event; its path."""
        env, draws = self.env, self.draws
        code = self.fates[traveller]
        controller = server.controller
        assert controller is not None
        fate = decode(code, self.capture_attempts, len(self.documents) - 4)
        document = self.documents[fate.document]
        decision = Decision.NO_MATCH if fate.no_match else Decision.MATCH
        elapsed = env.now  # the moment the next event happens
        pending = 0.0  # time spent since the last yield
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
                if pending > 0:
                    yield env.timeout(pending)
                    pending = 0.0
                yield from self._verify_at_core(traveller)
                elapsed = env.now
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
        if pending > 0:
            yield env.timeout(pending)
        if finish is None:
            raise RuntimeError(f"gate {controller.gate_id}: transaction ended without Finish")
        return self.plans.learn(code, tuple(steps), finish, fate.impostor)

    def _verify_at_core(self, traveller: int) -> Generator[simpy.Event, Any, None]:
        """The verify step at the central core: wait for a worker inside the gate, then verify."""
        core, env = self.core, self.env
        assert core is not None and self.core_draw is not None
        self.core_asked[traveller] = env.now
        with core.request() as request:
            if request.triggered:  # a worker was free
                yield request
            else:
                self._core_queue(1)
                yield request
                self._core_queue(-1)
            self.core_start[traveller] = env.now
            self.core_requests += 1
            duration = self.core_draw()
            if duration > 0:
                yield env.timeout(duration)
            self.core_busy += duration

    def _core_queue(self, change: int) -> None:
        """The number waiting for a core worker changes: keep its integral and its maximum."""
        now = self.env.now
        self.core_area += self.core_waiting * (now - self.core_last)
        self.core_last = now
        self.core_waiting += change
        if self.core_waiting > self.core_most:
            self.core_most = self.core_waiting

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

    def _desk(self, server: Server) -> Generator[simpy.Event, Any, None]:
        env, pool = self.env, self.desks
        timeout, referred = env.timeout, self.referred
        class_draws, referral_draw = self.class_draws, self.referral_draw
        class_of = self.arrivals.classes.tolist()
        desk_start, desk_end, desk_of = self.desk_start, self.desk_end, self.desk_of
        traveller = -1
        while True:
            if traveller < 0:
                traveller = yield server.wake
            started = env.now
            desk_start[traveller] = started
            desk_of[traveller] = server.index
            draw = referral_draw if referred[traveller] else class_draws[class_of[traveller]]
            duration = 0.0 if draw is None else draw()
            if duration > 0:
                yield timeout(duration)
            desk_end[traveller] = env.now
            server.busy_s += duration
            server.served += 1
            self._depart(traveller)
            traveller = pool.done(server)

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
        self._core_queue(0)
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
            core_busy_s=self.core_busy,
            core_requests=self.core_requests,
            core_asked=floats(self.core_asked),
            core_start=floats(self.core_start),
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
