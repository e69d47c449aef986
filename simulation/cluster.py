"""Replications as Dask tasks: on an embedded ``LocalCluster`` or a scheduler on the network.

A planner's sweep of thousands of replications outgrows one machine. Dask's
distributed scheduler spreads tasks over workers on many machines: start
``dask scheduler`` on one, ``dask worker tcp://HOST:8786`` on the others,
and point ``egate simulate --cluster tcp://HOST:8786`` at it
(docs/simulation.md, *Running on several machines*).

Each job (``simulation.backend.Job``: a configuration and a seed) is one
task. The configuration travels with it, files it names already read (a
validated ``HallConfig`` holds their contents), so workers need egate
installed but not the planner's files. Failures are met twice over: a
task that raises is run again up to ``retries`` times (a worker short of
memory or disk for a moment), and a worker that dies mid-task is replaced
and its tasks given to others by the scheduler itself (up to Dask's
``distributed.scheduler.allowed-failures``, 3 by default). An error that
persists stops the run and is raised here.

Workers compute what this machine would: the same code on the same seeds.
So that the result is the same bit for bit, ``DaskBackend.connect`` refuses
a cluster whose workers run another egate, numpy (whose generators draw the
random numbers) or SimPy.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from distributed import Client, LocalCluster, as_completed
from distributed.client import Future

from simulation.backend import Finished, Job, run_job
from simulation.statistics import RunResult

__all__ = ["CONNECT_TIMEOUT_S", "WORKERS_TIMEOUT_S", "ClusterError", "DaskBackend", "versions"]

CONNECT_TIMEOUT_S = 10.0  # a scheduler that has not answered by then is not there
WORKERS_TIMEOUT_S = 60.0  # how long a scheduler without workers is waited for

# What must match between this machine and every worker for bit-identical results.
_PACKAGES = ("egate", "numpy", "simpy")


class ClusterError(Exception):
    """The cluster cannot be used; the message is one line naming the address."""


def versions() -> dict[str, str]:
    """The versions of what decides a run's numbers, here (run on workers too)."""
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


class DaskBackend:
    """Runs jobs as tasks through a Dask ``Client``."""

    def __init__(
        self,
        client: Client,
        workers: int,
        retries: int = 2,
        task: Callable[[Job], RunResult] = run_job,
    ) -> None:
        self._client = client
        self._workers = workers
        self._retries = retries
        self._task = task  # what a task runs; tests put in one that fails on purpose

    @property
    def workers(self) -> int:
        """Worker threads the scheduler had when the run started."""
        return self._workers

    @classmethod
    @contextmanager
    def connect(
        cls,
        address: str,
        *,
        retries: int = 2,
        timeout_s: float = CONNECT_TIMEOUT_S,
        workers_timeout_s: float = WORKERS_TIMEOUT_S,
    ) -> Iterator[DaskBackend]:
        """A backend on the scheduler at ``address``, with at least one worker.

        Raises ``ClusterError`` when the scheduler does not answer within
        ``timeout_s``, no worker joins within ``workers_timeout_s``, or a
        worker runs other versions of egate, numpy or SimPy.
        """
        with _client(address, timeout_s) as client:
            try:
                client.wait_for_workers(1, timeout=workers_timeout_s)
            except TimeoutError:
                raise ClusterError(
                    f"{address}: no Dask worker joined the scheduler within "
                    f"{workers_timeout_s:g} s (start one: dask worker {address})"
                ) from None
            _check_versions(client, address)
            yield cls(client, _threads(client), retries)

    @classmethod
    @contextmanager
    def local(
        cls, workers: int, *, retries: int = 2, task: Callable[[Job], RunResult] = run_job
    ) -> Iterator[DaskBackend]:
        """A backend on an embedded ``LocalCluster`` of ``workers`` single-threaded processes."""
        # Processes, one thread each: the model holds the GIL. No dashboard: a
        # command-line run has nobody to look at it, and its port may be taken.
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
            yield cls(client, workers, retries, task)

    def run(self, jobs: Sequence[Job], finished: Finished) -> None:
        """Submit every job as a task and report each result as it comes back."""
        # Keys name the job (readable on the dashboard) and this run: a key used
        # again while the scheduler still forgets its last use would be refused.
        run = uuid.uuid4().hex[:8]
        futures: dict[object, int] = {}
        submitted: list[Future[RunResult]] = []
        for index, job in enumerate(jobs):
            future = self._client.submit(
                self._task, job, key=f"egate-{job.key}-{run}-{index}", retries=self._retries
            )
            futures[future.key] = index
            submitted.append(future)
        try:
            for future in as_completed(submitted, loop=self._client.loop):  # type: ignore[no-untyped-call]
                finished(futures[future.key], future.result())
        except BaseException:
            # An error or an interrupt: the rest is not wanted.
            self._client.cancel(submitted)  # type: ignore[no-untyped-call]
            raise


@contextmanager
def _client(address: str, timeout_s: float) -> Iterator[Client]:
    """A client of the scheduler at ``address``, or ``ClusterError`` in one line."""
    _probe(address, timeout_s)
    try:
        client = Client(  # type: ignore[no-untyped-call]
            address, timeout=timeout_s, set_as_default=False
        )
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"{address}: cannot reach the Dask scheduler ({_reason(error)})"
        ) from None
    except ValueError as error:  # not an address at all
        raise ClusterError(f"{address}: not a Dask scheduler address ({error})") from None
    closing: AbstractContextManager[Client] = client
    with closing:
        yield client


def _probe(address: str, timeout_s: float) -> None:
    """Fail at once on a port nobody listens on (distributed would retry until its timeout)."""
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ClusterError(f"{address}: cannot reach the Dask scheduler ({reason})") from None


def _reason(error: BaseException) -> str:
    """The first line of an error's message, without the address distributed repeats."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.rstrip(":")


def _threads(client: Client) -> int:
    info: dict[str, Any] = client.scheduler_info()
    return sum(int(worker.get("nthreads", 1)) for worker in info.get("workers", {}).values()) or 1


def _check_versions(client: Client, address: str) -> None:
    """Refuse workers whose egate, numpy or SimPy differ from ours (see the module docstring)."""
    ours = versions()
    try:
        theirs: dict[str, Any] = client.run(versions, on_error="return")
    except Exception as error:  # any failure to run it means: not usable
        raise ClusterError(f"{address}: cannot ask the workers their versions: {error}") from None
    for worker, answer in sorted(theirs.items()):
        if isinstance(answer, BaseException):
            raise ClusterError(
                f"{address}: worker {worker} cannot run egate "
                f"({type(answer).__name__}: {_reason(answer)}); install egate {ours['egate']} "
                "there"
            )
        differing = [
            f"{name} {answer.get(name)} (here {ours[name]})"
            for name in _PACKAGES
            if answer.get(name) != ours[name]
        ]
        if differing:
            raise ClusterError(
                f"{address}: worker {worker} runs {', '.join(differing)}: results would not "
                "match a local run; install the same versions"
            )
