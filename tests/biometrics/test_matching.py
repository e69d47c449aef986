"""The matching core: results, backpressure, deadlines, shutdown and its metrics.

Most tests run thread workers (quick to start) and hold a worker busy on
purpose: ``HeldTemplate`` makes a verification wait inside its comparison
until the test lets it go, so "the worker is busy" is a fact, not a race.
Deadlines are read from a manual clock.  One test runs real processes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from egate.biometrics import verifier as verifier_module
from egate.biometrics.matching import (
    DeadlineExceeded,
    MatchingCore,
    MatchingCoreBusy,
    MatchingCoreClosed,
    WorkerDied,
)
from egate.biometrics.verifier import (
    Decision,
    Enrollment,
    Template,
    Verification,
    VerifierSettings,
)

# Guards against a hang only: no test asserts on how long anything takes.
HANG = 120.0


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class HeldTemplate(Template):
    """A template whose comparison waits until released: keeps a thread worker busy."""

    def __init__(self, inner: Template) -> None:
        super().__init__(np.zeros(128))
        self.inner = inner
        self.entered = threading.Event()
        self.released = threading.Event()

    def distance(self, other: np.ndarray) -> float:
        self.entered.set()
        assert self.released.wait(HANG)
        return self.inner.distance(other)


class BrokenTemplate(Template):
    """A template whose comparison fails: a job that raises inside the worker."""

    def distance(self, other: np.ndarray) -> float:
        raise ArithmeticError("broken template")


def blank(side: int = 64) -> np.ndarray:
    return np.full((side, side, 3), 128, dtype=np.uint8)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def core(registry, clock):
    """One thread worker, a queue of one, the manual clock."""
    with MatchingCore(
        workers=1, queue_limit=1, kind="thread", registry=registry, clock=clock
    ) as started:
        started.wait_ready()
        yield started


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def jobs(registry: CollectorRegistry, kind: str, outcome: str) -> float | None:
    return sample(registry, "egate_matching_jobs_total", kind=kind, outcome=outcome)


def held_busy(core: MatchingCore, faces, clock: ManualClock) -> tuple[HeldTemplate, object]:
    """Occupy the core's only worker with a genuine verification that waits to be released."""
    held = HeldTemplate(faces.template("obama.jpg"))
    future = core.submit_verify(held, faces.pixels("obama2.jpg"), clock.now + 100)
    assert held.entered.wait(HANG)
    return held, future


def test_results_outcomes_and_metrics(faces, registry, clock):
    with MatchingCore(workers=1, kind="thread", registry=registry, clock=clock) as core:
        core.wait_ready()
        deadline = clock.now + 60
        enrolled = core.submit_enroll(faces.pixels("obama.jpg"), deadline).result(HANG)
        assert isinstance(enrolled, Enrollment) and enrolled.template is not None
        not_enrolled = core.submit_enroll(blank(), deadline).result(HANG)
        assert not_enrolled.reason == "REFERENCE_FACE_NOT_FOUND"
        template = faces.template("obama.jpg")
        results = [
            core.submit_verify(template, faces.pixels(name), deadline).result(HANG)
            for name in ("obama2.jpg", "biden.jpg")
        ]
        results.append(core.submit_verify(template, blank(), deadline).result(HANG))
        assert all(isinstance(result, Verification) for result in results)
        assert [result.decision for result in results] == [
            Decision.MATCH,
            Decision.NO_MATCH,
            Decision.FAILURE_TO_ACQUIRE,
        ]
        # The template made by the core is as good as one made here.
        assert enrolled.template.distance_to(template) == pytest.approx(0.0, abs=1e-9)

        times = core.service_times()  # (takes the core's lock: the last job is settled)
        assert len(times) == 5
        assert all(seconds > 0 for seconds in times)
        assert jobs(registry, "enroll", "enrolled") == 1
        assert jobs(registry, "enroll", "failure_to_acquire") == 1
        assert jobs(registry, "verify", "match") == 1
        assert jobs(registry, "verify", "no_match") == 1
        assert jobs(registry, "verify", "failure_to_acquire") == 1
        assert jobs(registry, "verify", "busy") is None
        assert sample(registry, "egate_matching_service_seconds_count", kind="verify") == 3
        assert sample(registry, "egate_matching_service_seconds_count", kind="enroll") == 2
        service_sum = sample(registry, "egate_matching_service_seconds_sum", kind="verify")
        assert service_sum == pytest.approx(sum(times[2:]))
        assert sample(registry, "egate_matching_wait_seconds_count") == 5
        assert sample(registry, "egate_matching_queue_length") == 0
        assert sample(registry, "egate_matching_busy_workers") == 0
        assert sample(registry, "egate_matching_workers") == 1
        assert sample(registry, "egate_matching_late_results_total", kind="verify") is None


def test_full_queue_refuses_at_once(core, faces, registry, clock):
    held, first = held_busy(core, faces, clock)
    queued = core.submit_verify(faces.template("obama.jpg"), blank(), clock.now + 100)
    assert sample(registry, "egate_matching_queue_length") == 1
    assert sample(registry, "egate_matching_busy_workers") == 1
    with pytest.raises(MatchingCoreBusy, match="1 jobs waiting, limit 1"):
        core.submit_verify(faces.template("obama.jpg"), blank(), clock.now + 100)
    with pytest.raises(MatchingCoreBusy):
        core.submit_enroll(blank(), clock.now + 100)
    assert jobs(registry, "verify", "busy") == 1
    assert jobs(registry, "enroll", "busy") == 1
    held.released.set()
    assert first.result(HANG).decision is Decision.MATCH
    assert queued.result(HANG).reason == "FACE_NOT_FOUND"
    assert len(core.service_times()) == 2  # refused jobs never ran


def test_many_quick_submissions_meet_backpressure(faces, registry):
    # Without holding the worker: frames arrive far faster than they are verified.
    with MatchingCore(workers=1, queue_limit=1, kind="thread", registry=registry) as core:
        core.wait_ready()
        template, frame = faces.template("obama.jpg"), faces.pixels("obama3.jpg")
        taken = []
        with pytest.raises(MatchingCoreBusy):
            for _ in range(50):
                taken.append(core.submit_verify(template, frame, float("inf")))
        assert len(taken) >= 2
        for future in taken:
            assert future.result(HANG).decision is Decision.MATCH


def test_deadline_passed_while_waiting(core, faces, registry, clock):
    held, first = held_busy(core, faces, clock)
    late = core.submit_verify(faces.template("obama.jpg"), faces.pixels("obama2.jpg"), clock.now)
    assert not late.done()  # its deadline is now: not yet past
    clock.now += 0.5
    held.released.set()
    assert first.result(HANG).decision is Decision.MATCH
    error = late.exception(HANG)
    assert isinstance(error, DeadlineExceeded)
    assert "waited 0.500 s" in str(error)
    assert jobs(registry, "verify", "deadline_exceeded") == 1
    assert len(core.service_times()) == 1  # the dropped job never ran
    assert sample(registry, "egate_matching_queue_length") == 0


def test_deadline_already_past_on_an_idle_core(core, faces, registry, clock):
    future = core.submit_enroll(faces.pixels("obama.jpg"), clock.now - 0.001)
    assert future.done()
    assert isinstance(future.exception(), DeadlineExceeded)
    assert jobs(registry, "enroll", "deadline_exceeded") == 1
    # The worker was not used up: the next job runs.
    ok = core.submit_enroll(blank(), clock.now + 1).result(HANG)
    assert ok.reason == "REFERENCE_FACE_NOT_FOUND"


def test_result_after_its_deadline_is_delivered_and_counted_late(core, faces, registry, clock):
    held = HeldTemplate(faces.template("obama.jpg"))
    future = core.submit_verify(held, faces.pixels("obama2.jpg"), clock.now + 1)
    assert held.entered.wait(HANG)
    clock.now += 10
    held.released.set()
    assert future.result(HANG).decision is Decision.MATCH
    core.service_times()  # settled
    assert sample(registry, "egate_matching_late_results_total", kind="verify") == 1
    assert jobs(registry, "verify", "match") == 1


def test_failing_job_fails_its_future_and_spares_the_worker(core, faces, registry, clock):
    broken = BrokenTemplate(np.zeros(128))
    error = core.submit_verify(broken, faces.pixels("obama2.jpg"), clock.now + 60).exception(HANG)
    assert isinstance(error, RuntimeError)
    assert "matching worker failed" in str(error) and "broken template" in str(error)
    assert jobs(registry, "verify", "error") == 1
    after = core.submit_verify(faces.template("obama.jpg"), blank(), clock.now + 60)
    assert after.result(HANG).reason == "FACE_NOT_FOUND"


def test_close_fails_waiting_jobs_and_refuses_new_ones(core, faces, registry, clock):
    held, running = held_busy(core, faces, clock)
    waiting = core.submit_enroll(blank(), clock.now + 100)
    closer = threading.Thread(target=core.close)
    closer.start()
    assert isinstance(waiting.exception(HANG), MatchingCoreClosed)
    with pytest.raises(MatchingCoreClosed):
        core.submit_verify(faces.template("obama.jpg"), blank(), clock.now + 100)
    with pytest.raises(MatchingCoreClosed):
        core.submit_enroll(blank(), clock.now + 100)
    held.released.set()
    closer.join(HANG)
    assert not closer.is_alive()
    # The job a worker was running when close() came is finished, not dropped.
    assert running.result(HANG).decision is Decision.MATCH
    assert jobs(registry, "enroll", "closed") == 1
    assert sample(registry, "egate_matching_queue_length") == 0
    core.close()  # twice is harmless


def test_core_needs_a_worker():
    with pytest.raises(ValueError, match="at least one worker"):
        MatchingCore(workers=0, kind="thread")
    with pytest.raises(ValueError, match="queue limit"):
        MatchingCore(workers=1, queue_limit=-1, kind="thread")


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(verifier_module, "available_cores", lambda: 2)
    with (
        MatchingCore(workers=2, kind="thread") as two,
        MatchingCore(kind="thread", workers=1) as one,
    ):
        assert (two._worker_settings.threads, one._worker_settings.threads) == (1, 2)
    assert two.settings.threads is None  # the settings given are kept as they were
    chosen = VerifierSettings(threads=2)
    with MatchingCore(chosen, workers=2, kind="thread") as core:
        assert core._worker_settings.threads == 2


def test_process_workers_verify_and_a_crashed_worker_does_not_hang_close(faces, registry):
    with MatchingCore(workers=2, kind="process", registry=registry) as core:
        core.wait_ready(HANG)
        assert sample(registry, "egate_matching_workers") == 2
        enrollment = core.submit_enroll(faces.pixels("obama.jpg"), float("inf")).result(HANG)
        assert enrollment.template is not None  # a template made in a worker comes back
        template = enrollment.template
        futures = [
            core.submit_verify(template, faces.pixels(name), float("inf"))
            for name in ("obama2.jpg", "obama3.jpg")
        ]
        # Both jobs went straight to a worker each: nothing waits.
        assert sample(registry, "egate_matching_busy_workers") == 2
        assert sample(registry, "egate_matching_queue_length") == 0
        results = [future.result(HANG) for future in futures]
        assert [result.decision for result in results] == [Decision.MATCH, Decision.MATCH]
        assert all(result.distance is not None and result.distance < 0.6 for result in results)
        assert jobs(registry, "verify", "match") == 2
        assert len(core.service_times()) == 3

        # The worker processes die (out of memory, a crash in dlib).  The core
        # notices at its next health check: the jobs they held fail with
        # WorkerDied, new workers start, and they take the next jobs.
        workers = [
            child
            for child in multiprocessing.active_children()
            if child.name.startswith("egate-matching-")
        ]
        assert len(workers) == 2
        for worker in workers:
            os.kill(worker.pid, signal.SIGKILL)
            worker.join(HANG)
        lost = [core.submit_verify(template, blank(32), float("inf")) for _ in range(2)]
        for future in lost:
            error = future.exception(HANG)
            # Handed to a dead worker (WorkerDied) or, if the core had already
            # replaced it, run by the new one (no error).
            assert error is None or isinstance(error, WorkerDied)
        give_up = time.monotonic() + HANG  # a guard against hanging, not a speed check
        while sample(registry, "egate_matching_worker_restarts_total") != 2:
            assert time.monotonic() < give_up, "dead workers were never replaced"
            time.sleep(0.05)
        again = core.submit_verify(template, faces.pixels("obama2.jpg"), float("inf"))
        assert again.result(HANG).decision is Decision.MATCH
    assert sample(registry, "egate_matching_busy_workers") == 0


def test_a_worker_whose_answer_breaks_off_is_replaced_and_the_others_go_on(faces, registry):
    # A worker killed mid-answer (the OOM killer) leaves half a message on its
    # pipe. Each worker answers on a pipe of its own, so no lock stays held for
    # the others (one shared result queue did: a kill at the wrong moment
    # silenced every worker for good); the core drops the broken pipe, ends
    # that worker and starts another.
    with MatchingCore(workers=2, kind="process", registry=registry) as core:
        core.wait_ready(HANG)
        template = core.submit_enroll(faces.pixels("obama.jpg"), float("inf")).result(HANG).template
        assert template is not None
        broken, writer = multiprocessing.Pipe(duplex=False)
        with core._lock:
            core._results[0] = broken
        # A length header for 1,000 bytes, then 10 of them, then the end.
        os.write(writer.fileno(), (1000).to_bytes(4, "big") + b"x" * 10)
        writer.close()
        give_up = time.monotonic() + HANG  # a guard against hanging, not a speed check
        while sample(registry, "egate_matching_worker_restarts_total") != 1:
            assert time.monotonic() < give_up, "the worker with the broken pipe was not replaced"
            time.sleep(0.05)
        assert broken.closed
        results = [
            core.submit_verify(template, faces.pixels(name), float("inf")).result(HANG)
            for name in ("obama2.jpg", "obama3.jpg", "obama2.jpg")
        ]
        assert [result.decision for result in results] == [Decision.MATCH] * 3
    assert sample(registry, "egate_matching_busy_workers") == 0


def test_a_process_that_never_closes_its_core_still_exits():
    # Workers ignore SIGTERM, which multiprocessing's own exit handler relies on:
    # egate closes open cores first, so the interpreter does not wait for ever.
    program = (
        "from egate.biometrics.matching import MatchingCore\n"
        "core = MatchingCore(workers=1, kind='process')\n"
        "core.wait_ready()\n"
        "print('ready', flush=True)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=HANG
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "ready\n"
