"""Where replications run: in this process, in a pool of processes, or on a Dask cluster.

A *job* is one replication of one configuration (``Job``); a backend runs a
list of them and reports each result as it finishes, with its index in the
list, so the caller keeps results in job order whatever order they finish
in. That, and seeds fixed per job before anything runs
(``simulation.replications``), is why the summaries are the same bit for
bit on any backend and any number of workers.

``open_backend`` picks one:

* ``processes=1``: ``InProcess``, every job in this process, one after the
  other (no start-up at all; what tests and debuggers want).
* ``cluster="tcp://HOST:PORT"``: ``simulation.cluster.DaskBackend`` on an
  existing Dask scheduler and its workers, on this or other machines.
* otherwise ``processes`` local workers (default one per core), on one of
  two kinds of pool chosen by the number of jobs. Measured by
  ``benchmarks/sweep_cluster.py`` on the 2-core development machine (shared
  with other work at the time): to the first result, a spawn
  ``ProcessPool`` of two takes 0.6 to 1.1 s and adds 0.4 to 0.5 ms per
  job; an embedded Dask ``LocalCluster`` of two takes 0.7 to 1.1 s longer
  and adds 5 to 8 ms per job. On a sweep of 200 jobs of 0.1 to 0.3 s each
  the two finish level (LocalCluster 17.9 and 35.3 s with its start-up,
  the pool 17.4 and 38.0 s). So below ``LOCAL_CLUSTER_JOBS`` jobs (a day's
  30 replications, a short sweep) the pool runs them: its quicker start is
  what counts. From ``LOCAL_CLUSTER_JOBS`` on the run lasts long enough that
  the cluster's costs vanish in it, and the ``LocalCluster`` is worth them:
  a worker that dies (killed, out of memory) is replaced and its jobs run
  again, where it would break a ``ProcessPool`` and lose the whole run; and
  the run takes the path it takes on a real cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Protocol

import numpy as np

from simulation.config import HallConfig
from simulation.hall import simulate
from simulation.statistics import RunResult, summarise_run

__all__ = [
    "LOCAL_CLUSTER_JOBS",
    "Backend",
    "Finished",
    "InProcess",
    "Job",
    "ProcessPool",
    "cores",
    "open_backend",
    "run_job",
]

# From this many jobs on, a local run uses an embedded Dask LocalCluster (module docstring).
LOCAL_CLUSTER_JOBS = 200

Finished = Callable[[int, RunResult], None]
"""Called once per finished job, in the order they finish, with (job index, result)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One replication: a configuration, the folder its file names are relative to, its seed."""

    config: HallConfig
    base_dir: Path
    seed: np.random.SeedSequence
    key: str  # names the job: its run key (simulation.runstore), unique within a run


def run_job(job: Job) -> RunResult:
    """Run one job (module level, so that every backend ships it by name)."""
    return summarise_run(simulate(job.config, job.base_dir, job.seed))


class Backend(Protocol):
    """Runs jobs and reports each result as it comes; raises the first job's error."""

    @property
    def workers(self) -> int:
        """How many jobs run at once."""
        ...

    def run(self, jobs: Sequence[Job], finished: Finished) -> None:
        """Run ``jobs``, calling ``finished`` for each; stop at the first error and raise it."""
        ...


class InProcess:
    """Every job in this process, one after the other."""

    @property
    def workers(self) -> int:
        """One job at a time."""
        return 1

    def run(self, jobs: Sequence[Job], finished: Finished) -> None:
        """Run the jobs in order."""
        for index, job in enumerate(jobs):
            finished(index, run_job(job))


class ProcessPool:
    """A pool of worker processes on this machine (``spawn``: the same on every platform)."""

    def __init__(self, workers: int) -> None:
        self._workers = workers

    @property
    def workers(self) -> int:
        """Processes in the pool."""
        return self._workers

    def run(self, jobs: Sequence[Job], finished: Finished) -> None:
        """Run the jobs on a pool started for them."""
        if not jobs:
            return
        workers = min(self._workers, len(jobs))
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures: dict[Future[RunResult], int] = {
                pool.submit(run_job, job): index for index, job in enumerate(jobs)
            }
            try:
                for future in as_completed(futures):
                    finished(futures[future], future.result())
            except BaseException:
                # An error or an interrupt: do not start what is still queued.
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def open_backend(
    jobs: int,
    *,
    processes: int | None = None,
    cluster: str | None = None,
    retries: int = 2,
) -> Iterator[Backend]:
    """The backend for ``jobs`` jobs (module docstring), closed on leaving the block.

    ``cluster`` is a Dask scheduler's address; ``processes`` the local
    workers (default one per core; not with ``cluster``, whose workers are
    its own). ``retries`` is how often Dask runs a job again whose worker
    was lost. Raises ``simulation.cluster.ClusterError`` when the cluster
    cannot be used.
    """
    if processes is not None and processes < 1:
        raise ValueError(f"processes must be at least 1 (got {processes})")
    if cluster is not None:
        # Imported here: distributed costs 0.4 s to import, which a local run need not pay.
        from simulation.cluster import DaskBackend

        with DaskBackend.connect(cluster, retries=retries) as backend:
            yield backend
        return
    workers = min(cores() if processes is None else processes, max(jobs, 1))
    if workers == 1:
        yield InProcess()
    elif jobs < LOCAL_CLUSTER_JOBS:
        yield ProcessPool(workers)
    else:
        from simulation.cluster import DaskBackend

        with DaskBackend.local(workers, retries=retries) as backend:
            yield backend
