"""``egate simulate --cluster``: a sweep on a real Dask scheduler and two workers, as a planner
runs one across machines, here all on loopback; and the one-line errors of a cluster that
cannot be used.

The scheduler and workers are ``dask scheduler`` and ``dask worker`` processes
(``python -m dask``, one thread each) importing this checkout, started once
for the module. Where they cannot start the tests skip, saying why; with
``CI=true`` that is a failure instead.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from small_hall import SMALL_HALL

CHECKOUT = Path(__file__).resolve().parents[2]
STARTUP_S = 60.0  # how long the scheduler and workers may take to come up

# Shorter than the other tests' hall, and busier: a quick sweep that still queues.
SMALL = (
    SMALL_HALL.replace('horizon: "08:00"', 'horizon: "07:30"')
    .replace("per_hour: 600", "per_hour: 700")
    .replace("biometric_mismatch: 0.02", "biometric_mismatch: 0.03")
    .replace("seed: 5", "seed: 23")
)

SWEEP = ("--sweep", "gates=2..4", "-r", "3")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(address: str, processes: list[subprocess.Popen[bytes]]) -> None:
    """The scheduler closes itself and its workers; what lingers is stopped, then killed."""
    from distributed import Client

    try:
        with Client(address, timeout=5, set_as_default=False) as client:
            client.shutdown()
    except (OSError, TimeoutError):
        pass  # not up, or gone already
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
    for process in reversed(processes):
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a running ``dask scheduler`` with two single-threaded ``dask worker``s."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{free_port()}"
    # The workers import egate from this checkout, as the command under test does.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])),
    }
    dask = [sys.executable, "-m", "dask"]
    commands = [
        [
            *dask,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            address.rsplit(":", 1)[1],
            "--no-dashboard",
        ],
        *(
            [
                *dask,
                "worker",
                address,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--name",
                f"worker-{number}",
                "--local-directory",
                str(folder / f"worker-{number}"),
            ]
            for number in (1, 2)
        ),
    ]
    processes: list[subprocess.Popen[bytes]] = []
    log = (folder / "dask.log").open("wb")
    try:
        try:
            for command in commands:
                processes.append(
                    subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
                )
            with Client(address, timeout=STARTUP_S, set_as_default=False) as client:
                client.wait_for_workers(2, timeout=STARTUP_S)
        except (OSError, TimeoutError) as error:
            reason = f"could not start a Dask scheduler and two workers on loopback: {error}"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        yield address
    finally:
        _stop(address, processes)
        log.close()


def report(ran) -> dict[str, object]:
    assert ran.status == 0, ran.err
    data = json.loads(ran.out)
    assert isinstance(data, dict)
    return data


def test_a_sweep_on_the_cluster_matches_the_local_run(cli, small, scheduler):
    local = cli("simulate", str(small), *SWEEP, "--processes", "1", "--json")
    remote = cli("simulate", str(small), *SWEEP, "--cluster", scheduler, "--json")
    assert report(remote) == report(local)
    assert remote.out == local.out  # byte for byte


def test_a_grid_on_the_cluster_matches_the_local_run(cli, small, scheduler):
    # The Done-when, on a small hall: two settings given as the shell splits them.
    grid = ("--sweep", "gates=2..3", "desks=4..5", "-r", "2", "--json")
    local = cli("simulate", str(small), *grid, "--processes", "1")
    remote = cli("simulate", str(small), *grid, "--cluster", scheduler)
    assert report(remote)["format"] == "egate-grid/1"
    assert remote.out == local.out  # byte for byte


def test_the_scheduler_may_come_from_the_environment(cli, small, scheduler, monkeypatch):
    local = cli("simulate", str(small), "-r", "2", "--processes", "1", "--json")
    monkeypatch.setenv("EGATE_DASK_SCHEDULER", scheduler.removeprefix("tcp://"))
    remote = cli("simulate", str(small), "-r", "2", "--json")
    assert remote.out == local.out and remote.status == 0


def test_a_cluster_run_resumes_from_the_runs_kept_in_out(cli, small, scheduler, tmp_path):
    out = tmp_path / "out"
    command = ("simulate", str(small), *SWEEP, "--cluster", scheduler, "--out", str(out), "--json")
    first = cli(*command, "--keep-runs")
    kept = sorted((out / "runs").iterdir())
    assert len(kept) == 9
    kept[4].unlink()  # as if the run had been stopped before this one finished
    stamps = {path.name: path.stat().st_mtime_ns for path in kept if path.exists()}
    again = cli(*command, "--keep-runs")
    assert again.err.splitlines() == [f"resuming: 8 of 9 runs already in {out / 'runs'}"]
    assert again.out == first.out
    # The eight were read, not run again; the ninth was made anew.
    assert {path.name: path.stat().st_mtime_ns for path in kept if path.name in stamps} == stamps
    assert kept[4].exists()
    # Without --keep-runs the runs go once the reports are written.
    last = cli(*command)
    assert last.out == first.out
    assert sorted(path.name for path in out.iterdir()) == ["sweep.csv", "sweep.json", "sweep.png"]


# --- a cluster that cannot be used ------------------------------------------------------------


def test_an_unreachable_scheduler_exits_2_with_one_line(egate_process, small):
    address = f"tcp://127.0.0.1:{free_port()}"
    ran = egate_process("simulate", str(small), "-r", "1", "--cluster", address)
    assert ran.returncode == 2
    lines = ran.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"egate: error: {address}: cannot reach the Dask scheduler ("
    ), lines
    assert ran.stdout == b""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--cluster", "tcp://127.0.0.1"), "expected a Dask scheduler's address"),
        (("--cluster", "udp://127.0.0.1:8786"), "expected tcp:// or tls://"),
        (("--cluster", "127.0.0.1:8786", "--processes", "2"), "not both"),
        (("--keep-runs",), "give --out too"),
    ],
)
def test_bad_cluster_options_exit_2(cli, small, argv, message):
    ran = cli("simulate", str(small), "-r", "1", *argv)
    assert ran.status == 2
    assert len(ran.err.splitlines()) == 1 and message in ran.err, ran.err
