"""The biometric matching core: one verification service that several gates share.

Gates hand it jobs (make a template from a chip photo; verify a live frame
against a template) and get futures back.  It keeps a bounded queue: when
``queue_limit`` jobs are already waiting, ``submit`` refuses with
``MatchingCoreBusy`` at once, so a gate can fall back (capture again, refer)
instead of piling up.  Each job carries a deadline; a job still waiting when
its deadline passes is dropped without running and fails with
``DeadlineExceeded``, and a result that arrives late is reported as late.

Workers are processes by default, by measurement: dlib's own descriptor holds
the GIL (two threads ran it no faster than one); with the descriptor on numpy,
which releases it, two threads still verify fewer faces per second than two
processes (29 against 33 here).  Each worker loads the models once and keeps
them.

Each worker process gives OpenBLAS (which runs the descriptor network on
numpy) one thread, unless ``OPENBLAS_NUM_THREADS`` is already set: with one
worker per core, more threads only contend.  Measured here with two workers
on two cores: 20 ms per descriptor with one thread each, 135 ms with two.
OpenBLAS reads the setting when it loads, so it is put in the environment the
worker is spawned with; this process keeps its own.  OpenCV's thread pool
(``OPENCV_FOR_THREADS_NUM``) gets one thread the same way.  A verification
in a worker (face detection and ONNX Runtime's descriptor) takes the
workers' share of the cores, at most two (``VerifierSettings.threads_for``):
one each for two workers on two cores.

Queue length, waiting and service times and outcomes are Prometheus metrics
on the registry passed in; service times are also kept (the last
``SERVICE_TIME_SAMPLES``) so that ``egate biometrics bench`` can export them
as the matching core's service-time distribution for ``egate simulate``.

The workers' loop and what travels to and from them are in
``egate.biometrics.matchingworker``; the metrics in
``egate.biometrics.matchingmetrics``.
"""

from __future__ import annotations

import atexit
import dataclasses
import itertools
import multiprocessing
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing import shared_memory
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from prometheus_client import CollectorRegistry

from egate.biometrics.image import RgbImage
from egate.biometrics.matchingmetrics import MatchingMetrics
from egate.biometrics.matchingworker import (
    STOP,
    Done,
    Job,
    JobQueue,
    ResultPipe,
    SharedFrame,
    serve,
    share_frame,
    worker_environment,
)
from egate.biometrics.verifier import Enrollment, Template, Verification, VerifierSettings

if TYPE_CHECKING:
    from egate.biometrics.capture import CaptureResult, CaptureSettings

SERVICE_TIME_SAMPLES = 10_000
# How often the core looks for dead workers when no result arrives.
HEALTH_CHECK_S = 0.5
WorkerKind = Literal["process", "thread"]


class MatchingCoreBusy(RuntimeError):
    """The queue is full: the job was not taken."""


class DeadlineExceeded(TimeoutError):
    """The job's deadline passed before a worker could start it."""


class WorkerDied(RuntimeError):
    """The worker running the job died (a crash in native code, or it was killed)."""


class MatchingCoreClosed(RuntimeError):
    """The core is shut down and takes no more jobs."""


class MatchingCore:
    """Verification service with a bounded queue, deadlines and a worker pool.

    One thread worker (a gate runs process workers), asked to make a
    template from a grey picture with no face in it, then given a job whose
    deadline has already passed::

        >>> import time
        >>> import numpy as np
        >>> from prometheus_client import CollectorRegistry
        >>> registry = CollectorRegistry()
        >>> core = MatchingCore(workers=1, kind="thread", registry=registry)
        >>> core.wait_ready()  # the worker has loaded the face models
        >>> grey = np.full((240, 320, 3), 128, dtype=np.uint8)
        >>> enrolled = core.submit_enroll(grey, deadline=time.monotonic() + 5.0)
        >>> enrolled.result().template, enrolled.result().reason
        (None, 'REFERENCE_FACE_NOT_FOUND')
        >>> late = core.submit_enroll(grey, deadline=time.monotonic() - 1.0)
        >>> type(late.exception()).__name__
        'DeadlineExceeded'
        >>> registry.get_sample_value("egate_matching_jobs_total",
        ...                           {"kind": "enroll", "outcome": "failure_to_acquire"})
        1.0
        >>> core.close()
    """

    def __init__(
        self,
        settings: VerifierSettings | None = None,
        *,
        workers: int = 2,
        queue_limit: int = 16,
        kind: WorkerKind = "process",
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        prefetch: int | None = None,
        gate: str | None = None,
        capture: CaptureSettings | None = None,
    ) -> None:
        """``gate``: the one gate this core serves, as a ``gate`` label on its metrics;
        ``capture``: the capture window and liveness check of ``submit_capture`` jobs."""
        if workers < 1 or queue_limit < 0:
            raise ValueError("a matching core needs at least one worker and a queue limit >= 0")
        self.settings = settings or VerifierSettings()
        # The workers share the cores: each gets its share of threads (at most 2).
        self._worker_settings = self.settings.model_copy(
            update={"threads": self.settings.threads_for(workers)}
        )
        self.capture = capture
        self.workers = workers
        self.queue_limit = queue_limit
        self._clock = clock
        self._metrics = MatchingMetrics(
            registry if registry is not None else CollectorRegistry(), gate
        )
        self._metrics.workers.set(workers)
        self._lock = threading.Condition()
        self._waiting: deque[tuple[Job, float, float, Future[Any]]] = deque()
        self._running: dict[int, tuple[Job, float, Future[Any], int]] = {}
        # Shared memory holding the frames of running jobs (process workers only).
        self._segments: dict[int, shared_memory.SharedMemory] = {}
        # Segments of finished jobs, kept for the next frames (process workers only).
        self._spare: list[shared_memory.SharedMemory] = []
        # One entry per free slot: a worker takes ``prefetch`` jobs at a time.
        # Process workers hold a second job in their inbox so that they never
        # wait for the round trip to this process between jobs (measured: about
        # 18 ms of idle time per 150 ms job); the prefetched job starts within
        # one job's time of its handover, where its deadline was checked.
        self._prefetch = prefetch if prefetch is not None else (2 if kind == "process" else 1)
        if self._prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        self._idle: list[int] = []
        self._numbers = itertools.count()
        self._service_times: deque[float] = deque(maxlen=SERVICE_TIME_SAMPLES)
        self._closed = False
        self._inboxes: list[JobQueue] = []
        self._handles: list[Any] = []
        self._kind = kind
        # spawn: a fresh interpreter per worker, safe beside the parent's threads.
        self._context: SpawnContext = multiprocessing.get_context("spawn")
        # Each worker answers through a pipe of its own (``ResultPipe``); the
        # collector watches them all, and this one, which close() writes to.
        self._results: list[Connection | None] = []
        self._wake, self._waker = self._context.Pipe(duplex=False)
        for index in range(workers):
            self._start_worker(index)
        self._collector = threading.Thread(
            target=self._collect, name="egate-matching-collector", daemon=True
        )
        self._collector.start()
        _open_cores.add(self)

    def _start_worker(self, index: int) -> None:
        """Start worker ``index`` (again, after it died)."""
        process = self._kind == "process"
        inbox: JobQueue = self._context.Queue() if process else queue.Queue()
        results, answers = self._context.Pipe(duplex=False)
        start: Any = self._context.Process if process else threading.Thread
        handle = start(
            target=serve,
            args=(index, self._worker_settings, inbox, ResultPipe(answers), self.capture),
            name=f"egate-matching-{index}",
            daemon=True,
        )
        if process:
            with worker_environment():
                handle.start()
            # The process has its own copy: with this one closed, its death ends the pipe.
            answers.close()
        else:
            handle.start()
        if index < len(self._handles):
            old = self._results[index]
            if old is not None:
                old.close()
            self._inboxes[index], self._handles[index] = inbox, handle
            self._results[index] = results
        else:
            self._inboxes.append(inbox)
            self._handles.append(handle)
            self._results.append(results)

    def _release(self, number: int) -> None:
        """Free the shared memory of job ``number``, if it had any (lock held)."""
        segment = self._segments.pop(number, None)
        if segment is None:
            return
        # The worker unmapped it before answering: keep it for the next frame.
        if not self._closed and len(self._spare) < self.workers * self._prefetch + 1:
            self._spare.append(segment)
        else:
            segment.close()
            segment.unlink()

    def _replace_dead_workers(self) -> None:
        """Fail the job of each worker that died and start a new one in its place (lock held)."""
        for index, handle in enumerate(self._handles):
            if handle.is_alive() or self._closed:
                continue
            for number, (job, _, future, worker) in list(self._running.items()):
                if worker == index:
                    del self._running[number]
                    self._release(number)
                    self._metrics.jobs.labels(job.kind, "worker_died").inc()
                    future.set_exception(WorkerDied(f"matching worker {index} died mid-job"))
            self._idle = [slot for slot in self._idle if slot != index]
            self._metrics.restarts.inc()
            self._start_worker(index)

    def _ready_workers(self) -> set[int]:
        """Workers that have loaded their models: free or running a job (lock held)."""
        return {*self._idle, *(worker for *_, worker in self._running.values())}

    def _take_slot(self) -> int:
        """A free slot of the worker with the most free slots, so work spreads (lock held)."""
        worker = max(sorted(set(self._idle)), key=self._idle.count)
        self._idle.remove(worker)
        return worker

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until every worker has loaded its models."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._ready_workers()) < self.workers:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise TimeoutError(f"matching core workers not ready after {timeout} s")
                self._lock.wait(remaining)

    def submit_verify(
        self, template: Template, live: RgbImage, deadline: float
    ) -> Future[Verification]:
        """Queue a verification of ``live`` against ``template``, to start before ``deadline``."""
        return self._submit("verify", live, template, deadline)

    def submit_capture(
        self, template: Template, frames: list[RgbImage], deadline: float
    ) -> Future[CaptureResult]:
        """Queue a capture window (frames of one size) to verify against ``template``."""
        if not frames or any(frame.shape != frames[0].shape for frame in frames):
            raise ValueError("a capture window needs one or more frames of one size")
        return self._submit("capture", np.stack(frames), template, deadline)

    def submit_enroll(self, reference: RgbImage, deadline: float) -> Future[Enrollment]:
        """Queue the making of a template from a reference photo."""
        return self._submit("enroll", reference, None, deadline)

    def _submit(
        self,
        kind: Literal["enroll", "verify", "capture"],
        image: RgbImage,
        template: Template | None,
        deadline: float,
    ) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise MatchingCoreClosed("the matching core is shut down")
            if len(self._waiting) >= self.queue_limit and not self._idle:
                self._metrics.jobs.labels(kind, "busy").inc()
                raise MatchingCoreBusy(
                    f"matching core busy: {len(self._waiting)} jobs waiting, "
                    f"limit {self.queue_limit}"
                )
            job = Job(next(self._numbers), kind, image, template)
            self._waiting.append((job, deadline, self._clock(), future))
            self._dispatch()
        return future

    def _dispatch(self) -> None:
        """Hand waiting jobs to idle workers; drop those past their deadline (lock held)."""
        now = self._clock()
        while self._waiting and self._idle:
            job, deadline, queued, future = self._waiting.popleft()
            if now > deadline:
                self._metrics.jobs.labels(job.kind, "deadline_exceeded").inc()
                future.set_exception(
                    DeadlineExceeded(f"job waited {now - queued:.3f} s, past its deadline")
                )
                continue
            worker = self._take_slot()
            self._metrics.wait.observe(now - queued)
            self._running[job.number] = (job, deadline, future, worker)
            sent = job
            if self._kind == "process" and not isinstance(job.image, SharedFrame):
                # A frame of several megabytes goes faster through shared
                # memory than pickled through a pipe, and costs this process less.
                frame, self._segments[job.number] = share_frame(job.image, self._spare)
                sent = dataclasses.replace(job, image=frame)
            self._inboxes[worker].put(sent)
        # Jobs whose deadline passed while no worker was free go too.
        while self._waiting and now > self._waiting[0][1]:
            job, _, queued, future = self._waiting.popleft()
            self._metrics.jobs.labels(job.kind, "deadline_exceeded").inc()
            future.set_exception(
                DeadlineExceeded(f"job waited {now - queued:.3f} s, past its deadline")
            )
        self._metrics.queue_length.set(len(self._waiting))
        self._metrics.busy_workers.set(len({worker for *_, worker in self._running.values()}))

    def _collect(self) -> None:
        """Take finished jobs from the workers, settle their futures, dispatch more."""
        while True:
            with self._lock:
                watched = [results for results in self._results if results is not None]
            ready = wait([*watched, self._wake], timeout=HEALTH_CHECK_S)
            if self._wake in ready:
                # close(): settle what the workers sent before they stopped, then end.
                for results in watched:
                    while results.poll() and self._receive(results):
                        pass
                return
            if not ready:
                with self._lock:
                    self._heal()
                continue
            for answered in ready:
                assert isinstance(answered, Connection)
                if not self._receive(answered):
                    with self._lock:
                        self._drop_worker(answered)
                        self._heal()

    def _heal(self) -> None:
        """Replace dead workers, hand waiting jobs out, wake who waits (lock held)."""
        self._replace_dead_workers()
        self._dispatch()
        self._lock.notify_all()

    def _receive(self, results: Connection) -> bool:
        """Settle the next ``Done`` on a worker's pipe; False when the pipe gave none."""
        try:
            done = results.recv()
        except Exception:  # the worker died mid-message (or wrote what is not a message)
            return False
        if not isinstance(done, Done):
            return False
        self._settle(done)
        return True

    def _drop_worker(self, results: Connection) -> None:
        """Stop reading a worker's ended pipe, and end the worker if it lives on (lock held)."""
        index = self._results.index(results)
        self._results[index] = None
        results.close()
        handle = self._handles[index]
        if handle.is_alive() and hasattr(handle, "kill"):
            handle.kill()  # garbage on its pipe: it cannot be trusted with more jobs
            handle.join(timeout=10)

    def _settle(self, done: Done) -> None:
        """Settle the future of a finished job (or count a worker ready), dispatch more."""
        with self._lock:
            running = self._running.pop(done.number, None)
            self._release(done.number)
            if running is None:
                # A worker's ready signal (or news of a job close() already failed).
                if done.number < 0:
                    self._idle.extend([done.worker] * self._prefetch)
            else:
                job, deadline, future, worker = running
                self._idle.append(worker)
                self._service_times.append(done.service_seconds)
                self._metrics.service.labels(job.kind).observe(done.service_seconds)
                if self._clock() > deadline:
                    # Finished, but after its deadline: the gate may have moved on.
                    self._metrics.late.labels(job.kind).inc()
                if done.error is not None or done.result is None:
                    self._metrics.jobs.labels(job.kind, "error").inc()
                    future.set_exception(RuntimeError(f"matching worker failed: {done.error}"))
                else:
                    self._metrics.jobs.labels(job.kind, _outcome(done.result)).inc()
                    future.set_result(done.result)
            self._dispatch()
            self._lock.notify_all()

    def service_times(self) -> list[float]:
        """Seconds each recent job spent with a worker, oldest first."""
        with self._lock:
            return list(self._service_times)

    def close(self) -> None:
        """Stop the workers; jobs not finished by then fail with ``MatchingCoreClosed``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            while self._waiting:
                job, _, _, future = self._waiting.popleft()
                self._metrics.jobs.labels(job.kind, "closed").inc()
                future.set_exception(MatchingCoreClosed("the matching core shut down"))
            self._metrics.queue_length.set(0)
            self._lock.notify_all()
        for inbox in self._inboxes:
            inbox.put(STOP)
        _open_cores.discard(self)
        for handle in self._handles:
            handle.join(timeout=10)
            if handle.is_alive() and hasattr(handle, "kill"):
                # SIGKILL: a worker ignores SIGTERM (it must not die mid-job
                # when its process group is signalled).
                handle.kill()
                handle.join(timeout=10)
        self._waker.send(None)
        self._collector.join(timeout=10)
        for results in self._results:
            if results is not None:
                results.close()
        self._wake.close()
        self._waker.close()
        with self._lock:
            # Jobs whose worker never answered (it died, or was stopped while
            # busy) would otherwise leave their futures pending forever.
            for number in list(self._segments):
                self._release(number)
            for segment in self._spare:
                segment.close()
                segment.unlink()
            self._spare.clear()
            for job, _, future, _ in self._running.values():
                self._metrics.jobs.labels(job.kind, "closed").inc()
                future.set_exception(MatchingCoreClosed("the matching core shut down mid-job"))
            self._running.clear()
            self._metrics.busy_workers.set(0)

    def __enter__(self) -> MatchingCore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# Cores not closed yet.  Their workers ignore SIGTERM, and at exit
# multiprocessing terminates daemonic children with SIGTERM and then waits
# for them: a core left open would keep the process from ever exiting.  This
# handler, registered after multiprocessing's own, runs before it and closes them.
_open_cores: weakref.WeakSet[MatchingCore] = weakref.WeakSet()


@atexit.register
def _close_open_cores() -> None:
    for core in list(_open_cores):
        core.close()


def _outcome(result: Verification | Enrollment | CaptureResult) -> str:
    if isinstance(result, Enrollment):
        return "enrolled" if result.template is not None else "failure_to_acquire"
    if isinstance(result, Verification):
        return result.decision.value
    return result.verification.decision.value
