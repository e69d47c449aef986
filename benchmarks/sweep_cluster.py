"""How a sweep scales on Dask: 1 worker against 2, what a task costs, what a cluster costs to start.

Usage: ``python benchmarks/sweep_cluster.py [--points N] [--replications R]
[--tiny-jobs J] [--cluster tcp://HOST:PORT]``

Measured in one run, each against a baseline taken in the same run:

1. Start-up, to the first result of a tiny job: a spawn ``ProcessPool`` of
   two processes against an embedded ``LocalCluster`` of two workers (the
   figures behind ``simulation.backend``'s choice between them).
2. Per-task overhead: ``--tiny-jobs`` replications of a hall of a few
   minutes, in this process (the baseline), on the pool and on a
   one-worker ``LocalCluster``; the overhead is the difference per job.
3. The speed-up: a sweep of ``--points`` gate counts of
   ``configs/airports/pudong-morning.yaml`` (7,000 travellers) times
   ``--replications``, on a ``LocalCluster`` of one worker and then of two
   (one thread each, started before the clock runs). Target: the two
   workers at least 1.7x as fast. Beside them the same sweep on a spawn
   pool of two, start-up included (what a local run would use instead).
   The runs' summaries must be identical, byte for byte. With ``--cluster``
   the sweep also runs on that scheduler's workers, reported beside the
   others.

Each target line says whether it is met; the exit status is 1 if one is not.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from simulation.backend import Backend, InProcess, Job, ProcessPool, run_job
from simulation.cluster import DaskBackend
from simulation.config import HallConfig, load_hall
from simulation.replications import plan_jobs
from simulation.statistics import RunResult
from simulation.summary import Summary
from simulation.sweep import Sweep, sweep_configs

AIRPORTS = Path(__file__).resolve().parent.parent / "configs" / "airports"
SWEEP_FILE = AIRPORTS / "pudong-morning.yaml"
SPEED_UP = 1.7  # two workers against one, on a 100-point sweep

TINY = {
    "name": "tiny",
    "start": "06:00",
    "horizon": "06:05",
    "arrivals": {"rate": [{"from": "06:00", "per_hour": 600}]},
    "gates": {"count": 2, "steps": {"document": {"kind": "exponential", "mean": 10}}},
    "replications": 1,
    "seed": 3,
}


def timed_run(backend: Backend, jobs: Sequence[Job]) -> tuple[float, list[RunResult]]:
    """Seconds to run ``jobs`` on ``backend``, and the results in job order."""
    results: dict[int, RunResult] = {}
    started = time.perf_counter()
    backend.run(jobs, results.__setitem__)
    seconds = time.perf_counter() - started
    return seconds, [results[index] for index in range(len(jobs))]


def startup(job: Job) -> tuple[float, float]:
    """Seconds from nothing to the first result: a pool of two, a LocalCluster of two."""
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        pool.submit(run_job, job).result()
        pool_s = time.perf_counter() - started
    started = time.perf_counter()
    with DaskBackend.local(2) as backend:
        timed_run(backend, [job])
        cluster_s = time.perf_counter() - started
    return pool_s, cluster_s


def overheads(jobs: Sequence[Job]) -> tuple[float, float, float]:
    """Per job: seconds in this process, and the extra seconds on a warm pool and on Dask."""
    local_s, _ = timed_run(InProcess(), jobs)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        pool.submit(run_job, jobs[0]).result()  # the process is up and has imported the model
        started = time.perf_counter()
        for future in [pool.submit(run_job, job) for job in jobs]:
            future.result()
        pool_s = time.perf_counter() - started
    with DaskBackend.local(1) as backend:
        timed_run(backend, jobs[:1])  # likewise
        dask_s, _ = timed_run(backend, jobs)
    count = len(jobs)
    return local_s / count, (pool_s - local_s) / count, (dask_s - local_s) / count


def sweep_jobs(points: int, replications: int) -> tuple[list[tuple[int, Job]], int]:
    """The sweep's jobs (configuration number, job) and its number of configurations."""
    base = load_hall(SWEEP_FILE)
    low = base.gates.count
    configs = sweep_configs(base, Sweep("gates", tuple(range(low, low + points))))
    return plan_jobs(list(configs), SWEEP_FILE.parent, replications=replications), len(configs)


def summaries_text(planned: Sequence[tuple[int, Job]], runs: Sequence[RunResult]) -> str:
    """The sweep's summaries as JSON, to compare runs byte for byte."""
    numbers = sorted({number for number, _ in planned})
    return json.dumps(
        [
            Summary.of(
                [run for (owner, _), run in zip(planned, runs, strict=True) if owner == n]
            ).to_json(include_runs=True)
            for n in numbers
        ],
        sort_keys=True,
    )


def on_cluster(workers: int, jobs: Sequence[Job]) -> tuple[float, list[RunResult]]:
    """The sweep on a LocalCluster of ``workers``, timed once the cluster is up."""
    with DaskBackend.local(workers) as backend:
        return timed_run(backend, jobs)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurements, print the figures and the ratio; exit 1 if the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100, help="sweep values (default 100)")
    parser.add_argument("--replications", type=int, default=2, help="per value (default 2)")
    parser.add_argument("--tiny-jobs", type=int, default=300, help="jobs for the overhead")
    parser.add_argument("--cluster", help="also run the sweep on this Dask scheduler")
    args = parser.parse_args(argv)

    tiny = [job for _, job in plan_jobs([HallConfig.model_validate(TINY)], replications=1)]
    pool_start, cluster_start = startup(tiny[0])
    print(
        f"start-up to a first result: spawn pool of 2 {pool_start:.2f} s, "
        f"LocalCluster of 2 {cluster_start:.2f} s ({cluster_start - pool_start:+.2f} s)"
    )
    tiny_jobs = [
        job for _, job in plan_jobs([HallConfig.model_validate(TINY)], replications=args.tiny_jobs)
    ]
    per_job, pool_extra, dask_extra = overheads(tiny_jobs)
    print(
        f"per-task overhead over {len(tiny_jobs)} jobs of {per_job * 1e3:.1f} ms in this "
        f"process (baseline): pool +{pool_extra * 1e3:.2f} ms, Dask +{dask_extra * 1e3:.2f} ms"
    )

    planned, configs = sweep_jobs(args.points, args.replications)
    jobs = [job for _, job in planned]
    one_s, one_runs = on_cluster(1, jobs)
    two_s, two_runs = on_cluster(2, jobs)
    pool_s, pool_runs = timed_run(ProcessPool(2), jobs)  # start-up included, as a user pays it
    text = summaries_text(planned, one_runs)
    same = text == summaries_text(planned, two_runs) == summaries_text(planned, pool_runs)
    ratio = one_s / two_s
    ok = ratio >= SPEED_UP and same
    print(
        f"sweep of {configs} gate counts x {args.replications} replications "
        f"({len(jobs)} tasks, {SWEEP_FILE.name}):"
    )
    print(f"  1 worker   {one_s:7.2f} s  ({one_s / len(jobs) * 1e3:.0f} ms per task) baseline")
    print(f"  2 workers  {two_s:7.2f} s")
    print(f"  speed-up   {ratio:7.2f}x  (target >= {SPEED_UP}x: {_verdict(ratio >= SPEED_UP)})")
    print(f"  spawn pool of 2, start-up included: {pool_s:.2f} s ({two_s / pool_s:.2f}x its time)")
    print(f"  summaries of 1 and 2 workers and of the pool identical: {'yes' if same else 'NO'}")
    if args.cluster:
        with DaskBackend.connect(args.cluster) as backend:
            remote_s, remote_runs = timed_run(backend, jobs)
        remote_same = summaries_text(planned, remote_runs) == text
        ok &= remote_same
        print(
            f"  {args.cluster} ({backend.workers} worker threads) {remote_s:.2f} s, "
            f"{one_s / remote_s:.2f}x the 1-worker run; identical: "
            f"{'yes' if remote_same else 'NO'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
