"""A matching core's worker: the loop that runs in each worker process (or thread), and its mail.

The core (``egate.biometrics.matching``) puts ``Job``s in a worker's inbox and
reads ``Done``s from the worker's own result pipe (``ResultPipe``; never one
queue shared by all workers: a worker killed while writing to it would hold
its lock for good and silence the others).  A worker loads the face models once,
answers a ready ``Done`` (number -1), then runs jobs until it gets anything
that is not a job.  A frame for a worker process travels in shared memory
(``share_frame``), not pickled through a pipe.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from egate.biometrics.image import RgbImage
from egate.biometrics.verifier import Enrollment, Template, Verification, VerifierSettings

if TYPE_CHECKING:
    # The capture window's modules load the landmark and liveness models: a
    # worker imports them with its first capture job only.
    from egate.biometrics.capture import CaptureResult, CaptureSettings, CaptureVerifier
    from egate.biometrics.face import FaceModels
    from egate.biometrics.verifier import FaceVerifier

# Anything that is not a job tells a worker (or the collector) to stop.
STOP = None


@dataclass(frozen=True, slots=True)
class SharedFrame:
    """An image handed to a worker process in shared memory rather than through a pipe."""

    name: str
    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Job:
    """One job for a worker: make a template (``enroll``), verify one frame against
    ``template`` (``verify``), or a capture window of frames stacked in ``image``
    (``capture``: frames x rows x columns x 3)."""

    number: int
    kind: Literal["enroll", "verify", "capture"]
    image: RgbImage | SharedFrame
    template: Template | None


def share_frame(
    image: RgbImage, spare: list[shared_memory.SharedMemory]
) -> tuple[SharedFrame, shared_memory.SharedMemory]:
    """Copy ``image`` into shared memory: a spare segment large enough, else a new one.

    Reusing a segment saves creating and faulting in fresh pages for every
    frame: for a 1080p frame that was most of the hand-over's time.
    """
    fitting = [segment for segment in spare if segment.size >= image.nbytes]
    if fitting:
        segment = min(fitting, key=lambda candidate: candidate.size)
        spare.remove(segment)
    else:
        segment = shared_memory.SharedMemory(create=True, size=max(1, image.nbytes))
    view: RgbImage = np.ndarray(image.shape, dtype=np.uint8, buffer=segment.buf)
    view[...] = image
    del view  # no view may outlive the segment's close()
    return SharedFrame(segment.name, image.shape), segment


@contextlib.contextmanager
def job_pixels(image: RgbImage | SharedFrame) -> Iterator[RgbImage]:
    """The job's pixels; a shared frame is mapped, not copied, and unmapped after."""
    if not isinstance(image, SharedFrame):
        yield image
        return
    segment = shared_memory.SharedMemory(name=image.name)
    try:
        yield np.ndarray(image.shape, dtype=np.uint8, buffer=segment.buf)
    finally:
        segment.close()


@dataclass(frozen=True, slots=True)
class Done:
    """A worker's answer to job ``number`` (-1: the worker is ready), or why it failed."""

    number: int
    worker: int
    result: Verification | Enrollment | CaptureResult | None
    error: str | None
    service_seconds: float


class JobQueue(Protocol):
    """What workers and the core need of a queue: thread and process queues both fit."""

    def put(self, item: object) -> None: ...

    def get(self, block: bool = True, timeout: float | None = None) -> object: ...


class ResultPipe:
    """A worker's channel back to its core: the sending end of a pipe of its own.

    Only this worker writes to it, so no lock is shared between workers: a
    worker that dies mid-message (the kernel's OOM killer, a crash in native
    code) leaves a pipe that ends, which the core reads as the worker's death
    and replaces with the worker.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def put(self, item: object) -> None:
        """Send ``item`` to the core (``OSError`` once the core has closed its end)."""
        self._connection.send(item)


# How often an idle worker process checks that its parent is still alive.
_PARENT_CHECK_S = 1.0
# The environment a worker process starts with: OpenBLAS and OpenCV's own
# thread pool (resizing, colour conversion) on one thread each, as ONNX Runtime is.
_WORKER_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OPENCV_FOR_THREADS_NUM": "1"}
_environment_lock = threading.Lock()


@contextlib.contextmanager
def worker_environment() -> Iterator[None]:
    """Put ``_WORKER_ENVIRONMENT`` in the environment while a worker is spawned.

    Variables already set (by the operator) are left as they are.
    """
    with _environment_lock:
        added = [name for name in _WORKER_ENVIRONMENT if name not in os.environ]
        for name in added:
            os.environ[name] = _WORKER_ENVIRONMENT[name]
        try:
            yield
        finally:
            for name in added:
                os.environ.pop(name, None)


def serve(
    worker: int,
    settings: VerifierSettings,
    jobs: JobQueue,
    done: ResultPipe,
    capture: CaptureSettings | None = None,
) -> None:
    """A worker's loop: load the models once, then run jobs until told to stop."""
    with contextlib.suppress(OSError):  # the core closed its end: nobody to answer
        _serve(worker, settings, jobs, done, capture)


def _serve(
    worker: int,
    settings: VerifierSettings,
    jobs: JobQueue,
    done: ResultPipe,
    capture: CaptureSettings | None,
) -> None:
    from egate.biometrics.face import FaceModels
    from egate.biometrics.verifier import FaceVerifier

    parent = multiprocessing.parent_process()
    if parent is not None:
        # A worker process stops when its core tells it to: Ctrl-C at a
        # terminal or SIGTERM to the process group must not kill it mid-job.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
    models = FaceModels()
    verifier = FaceVerifier.with_models(models, settings)
    capturer: CaptureVerifier | None = None
    done.put(Done(-1, worker, None, None, 0.0))  # ready
    while True:
        try:
            job = jobs.get(timeout=_PARENT_CHECK_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return  # the service died without stopping us (kill -9, OOM)
            continue
        if not isinstance(job, Job):
            break
        started = time.perf_counter()
        try:
            with job_pixels(job.image) as pixels:
                result: Verification | Enrollment | CaptureResult
                if job.template is None:
                    result = verifier.enroll(pixels)
                elif job.kind == "capture":
                    if capturer is None:
                        capturer = _capturer(verifier, models, capture)
                    result = capturer.verify_window(job.template, list(pixels))
                else:
                    result = verifier.verify(job.template, pixels)
                del pixels  # the mapping closes when the block ends
            done.put(Done(job.number, worker, result, None, time.perf_counter() - started))
        except Exception as error:  # a bad job must not take the worker down
            done.put(Done(job.number, worker, None, repr(error), time.perf_counter() - started))


def _capturer(
    verifier: FaceVerifier, models: FaceModels, settings: CaptureSettings | None
) -> CaptureVerifier:
    """The capture-window verifier, made with the first capture job."""
    from egate.biometrics.capture import CaptureSettings, CaptureVerifier

    return CaptureVerifier(verifier, models, settings or CaptureSettings())
