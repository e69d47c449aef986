"""Runs on every backend give the same summaries; runs kept on disk come back exact; a cluster
that cannot be used says so in one line; Dask retries a failing task and survives a dead worker.

The Dask tests use an embedded ``LocalCluster`` (a second or two to start);
the real scheduler and workers as processes are in
``tests/cli/test_simulate_cluster.py``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import cloudpickle
import pytest

import simulation.replications as replications
import simulation.runstore as runstore
from simulation.backend import (
    LOCAL_CLUSTER_JOBS,
    Finished,
    InProcess,
    Job,
    ProcessPool,
    open_backend,
    run_job,
)
from simulation.config import HallConfig, default_hall
from simulation.replications import plan_jobs, run_configurations
from simulation.runstore import RunStore, config_digest, decode_run, encode_run, run_key
from simulation.statistics import RunResult
from simulation.summary import Summary

SMALL = {
    "name": "small",
    "start": "06:00",
    "horizon": "07:00",
    "arrivals": {
        "rate": [{"from": "06:00", "per_hour": 700}],
        "classes": [
            {"name": "residents", "share": 0.7, "channel": "gate"},
            {"name": "visitors", "share": 0.3, "channel": "desk"},
        ],
    },
    "gates": {
        "count": 3,
        "steps": {"document": {"kind": "exponential", "mean": 12}},
        "outcomes": {"biometric_mismatch": 0.05, "failure_to_acquire": 0.05},
    },
    "desks": {"count": 4, "service": {"kind": "exponential", "mean": 60}},
    "replications": 3,
    "seed": 11,
}

# Task functions defined here travel to Dask's workers by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def small(**changes: object) -> HallConfig:
    return HallConfig.model_validate({**SMALL, **changes})


def two_configs() -> list[HallConfig]:
    return [small(), small(name="four gates", gates={**SMALL["gates"], "count": 4})]


def text(summaries: Sequence[Summary]) -> str:
    """The summaries as the JSON a report is made from, runs included: equal means identical."""
    return json.dumps([summary.to_json(include_runs=True) for summary in summaries], sort_keys=True)


def summaries_on(backend: object, configs: list[HallConfig]) -> list[Summary]:
    """Run ``configs``' jobs on ``backend`` and summarise them per configuration."""
    planned = plan_jobs(configs)
    results: dict[int, RunResult] = {}
    backend.run([job for _, job in planned], results.__setitem__)  # type: ignore[attr-defined]
    return [
        Summary.of([results[i] for i, (owner, _) in enumerate(planned) if owner == number])
        for number in range(len(configs))
    ]


class Reversed:
    """A backend that runs the jobs last first, as a cluster may finish them."""

    workers = 1

    def run(self, jobs: Sequence[Job], finished: Finished) -> None:
        for index in reversed(range(len(jobs))):
            finished(index, run_job(jobs[index]))


# --- the same results everywhere ---------------------------------------------------------------


@pytest.fixture(scope="module")
def in_process() -> str:
    return text(run_configurations(two_configs(), processes=1))


def test_results_do_not_depend_on_the_order_jobs_finish_in(in_process, monkeypatch):
    @contextlib.contextmanager
    def reversed_backend(jobs: int, **_: object) -> Iterator[Reversed]:
        yield Reversed()

    monkeypatch.setattr(replications, "open_backend", reversed_backend)
    assert text(run_configurations(two_configs())) == in_process


def test_a_process_pool_gives_the_same_results(in_process):
    assert text(run_configurations(two_configs(), processes=2)) == in_process


def test_a_local_dask_cluster_gives_the_same_results_with_one_or_two_workers(in_process):
    from simulation.cluster import DaskBackend

    for workers in (1, 2):
        with DaskBackend.local(workers) as backend:
            assert text(summaries_on(backend, two_configs())) == in_process


def test_a_scheduler_by_address_runs_them_with_progress(in_process):
    from distributed import LocalCluster

    # Workers as threads of this process: the address is what is under test here.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        progress: list[tuple[int, int]] = []
        summaries = run_configurations(
            two_configs(),
            cluster=cluster.scheduler_address,
            progress=lambda *done: progress.append(done),
        )
    assert text(summaries) == in_process
    assert progress == [(done, 6) for done in range(1, 7)]


def test_the_backend_is_chosen_by_processes_cluster_and_job_count():
    with open_backend(10, processes=1) as backend:
        assert isinstance(backend, InProcess)
    with open_backend(1, processes=4) as backend:
        assert isinstance(backend, InProcess)  # one job needs no pool
    with open_backend(10, processes=2) as backend:
        assert isinstance(backend, ProcessPool) and backend.workers == 2
    from simulation.cluster import DaskBackend

    with open_backend(LOCAL_CLUSTER_JOBS, processes=2) as backend:
        assert isinstance(backend, DaskBackend) and backend.workers == 2
    with pytest.raises(ValueError), open_backend(10, processes=0):
        pass


def test_a_job_carries_the_files_its_configuration_read(tmp_path):
    # A worker on another machine has none of the planner's files: the job must not need them.
    times = tmp_path / "times.csv"
    times.write_text("seconds\n8\n11\n15\n", encoding="utf-8")
    steps = {"document": {"kind": "empirical", "file": str(times), "column": "seconds"}}
    job = plan_jobs([small(gates={**SMALL["gates"], "steps": steps})])[0][1]
    here = run_job(job)
    shipped = pickle.dumps(job)
    times.unlink()
    there = run_job(pickle.loads(shipped))
    assert encode_run(there) == encode_run(here)


# --- runs kept on disk ------------------------------------------------------------------------


def test_a_run_comes_back_from_its_file_exactly():
    config = small()
    run = run_job(plan_jobs([config])[0][1])
    back = decode_run(encode_run(run))
    assert encode_run(back) == encode_run(run)
    assert json.dumps(back.to_json()) == json.dumps(run.to_json())
    assert text([Summary.of([back])]) == text([Summary.of([run])])
    # NaN (the matching core's figures without a core) is kept as NaN, in strict JSON.
    stored = encode_run(run)
    assert b'"NaN"' in stored and b"NaN" not in stored.replace(b'"NaN"', b"")
    assert math.isnan(back.utilisation.matching)


def test_a_file_that_is_not_a_run_is_refused():
    for data in (b"", b"{", b'{"format": "other"}', b'{"format": "egate-run/1", "run": {}}'):
        with pytest.raises(ValueError):
            decode_run(data)


def test_run_keys_change_with_anything_that_decides_the_result(tmp_path):
    config = small()
    key = run_key(config, 11, 2)
    assert key.endswith("-r2") and key == run_key(small(), 11, 2)
    assert run_key(config, 12, 2) != key
    assert run_key(small(gates={**SMALL["gates"], "count": 4}), 11, 2) != key
    # A file the configuration reads: its bytes count, not only its name.
    times = tmp_path / "times.csv"
    times.write_text("seconds\n10\n12\n", encoding="utf-8")
    steps = {"document": {"kind": "empirical", "file": str(times), "column": "seconds"}}
    measured = small(gates={**SMALL["gates"], "steps": steps})
    before = config_digest(measured, 11)
    times.write_text("seconds\n10\n13\n", encoding="utf-8")
    assert config_digest(measured, 11) != before


def test_a_rerun_computes_only_the_runs_it_lacks(in_process, tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    first = run_configurations(two_configs(), processes=1, store=store)
    assert text(first) == in_process
    files = sorted(store.folder.iterdir())
    assert len(files) == 6 and all(path.suffix == ".json" for path in files)
    files[0].unlink()
    files[1].write_bytes(b"half a fi")  # a damaged file is run again
    ran: list[str] = []

    def counting(job: Job) -> object:
        ran.append(job.key)
        return run_job(job)

    monkeypatch.setattr("simulation.backend.run_job", counting)
    progress: list[tuple[int, int]] = []
    again = run_configurations(
        two_configs(), processes=1, store=store, progress=lambda *done: progress.append(done)
    )
    assert sorted(ran) == sorted(path.stem for path in files[:2])
    assert text(again) == in_process
    assert progress == [(done, 6) for done in range(1, 7)]
    # More replications keep the first ones: only the new ones run.
    ran.clear()
    run_configurations(two_configs(), replications=4, processes=1, store=store)
    assert sorted(key[-2:] for key in ran) == ["r3", "r3"]


# --- Dask: failures and unreachable clusters --------------------------------------------------


class FailOnce:
    """A task that fails the first time it runs (a worker short of disk for a moment)."""

    def __init__(self, marker: Path, how: str) -> None:
        self.marker = marker
        self.how = how

    def __call__(self, job: Job) -> object:
        if job.key.endswith("-r1") and not self.marker.exists():
            self.marker.touch()
            if self.how == "die":
                os._exit(1)  # the worker process dies with the task
            raise OSError("no space left on device")
        return run_job(job)


@pytest.mark.parametrize("how", ["raise", "die"])
def test_dask_runs_a_failed_task_again(in_process, tmp_path, how):
    from simulation.cluster import DaskBackend

    with DaskBackend.local(2, retries=2, task=FailOnce(tmp_path / "failed", how)) as backend:
        assert text(summaries_on(backend, two_configs())) == in_process
    assert (tmp_path / "failed").exists()


def test_a_task_that_keeps_failing_stops_the_run(tmp_path):
    from simulation.cluster import DaskBackend

    def always(job: Job) -> object:
        raise ValueError(f"broken model for {job.key}")

    jobs = [job for _, job in plan_jobs([small()])]
    with (
        DaskBackend.local(1, retries=1, task=always) as backend,
        pytest.raises(ValueError, match="broken model"),
    ):
        backend.run(jobs, lambda index, run: None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_scheduler_is_one_line_naming_it():
    from simulation.cluster import ClusterError, DaskBackend

    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ClusterError) as caught, DaskBackend.connect(address, timeout_s=2):
        pass
    message = str(caught.value)
    assert message.startswith(f"{address}: cannot reach the Dask scheduler")
    assert "\n" not in message


def test_a_scheduler_without_workers_is_an_error_naming_it():
    from distributed import LocalCluster

    from simulation.cluster import ClusterError, DaskBackend

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        with (
            pytest.raises(ClusterError, match="no Dask worker joined"),
            DaskBackend.connect(address, workers_timeout_s=0.5),
        ):
            pass


def test_a_changed_model_gets_other_run_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    config = default_hall()
    before = runstore.run_key(config, 7, 0)
    assert len(runstore.model_digest()) == 16
    # The model's code changed under the same version number: a stale run must not be reused.
    monkeypatch.setattr(runstore, "model_digest", lambda: "0" * 16)
    after = runstore.run_key(config, 7, 0)
    assert before != after
    assert after.endswith("-r0")
