"""How fast the capacity model runs: against a bare SimPy loop, against Ciw, and on a full day.

Usage: ``python benchmarks/simulation_speed.py [--rounds R] [--hours H]
[--day-replications N] [--processes P]``

Three measurements in one run:

1. The M/M/c validation case (``configs/airports/mmc-validation.yaml``: four
   gates, Poisson arrivals at 0.34/s, exponential service of mean 10 s) run
   three ways, in turn so that all see the same machine load, the median of
   ``--rounds`` rounds counting:

   * the full model: one replication through ``run_replication`` (arrivals,
     gates run by the gate controller, statistics summarised);
   * a bare SimPy M/M/c loop written below: one process per traveller and a
     ``simpy.Resource``, random numbers drawn in advance, waits kept in a
     list; the least a SimPy model can do, so the floor of what ours costs;
   * Ciw, the queueing library planners use, on the same network.

   Speed is travellers served per second of wall time. Targets (issue 17):
   the full model at least 2x the bare loop and at least 4x Ciw. (The model
   beats the bare loop by booking fewer events: 1.3 a traveller, the end of
   a service and an arrival only when a gate may be idle, against the loop's
   6: the arrival, the process's start and end, the request, the service and
   the release.)

2. The default Pudong-style day (about 49,000 passengers, built into
   ``egate simulate``) times 30 replications on every core: under 10 s.

The machine should be quiet: the three ways of item 1 take turns, but other
work landing on one of them still skews the ratios.

Each line says whether its target is met; the exit status is 1 if one is not.
Without Ciw installed (``pip install -e '.[dev]'`` brings it), its ratio is
skipped.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from simulation.config import HallConfig, default_hall, load_hall
from simulation.queueing import mmc_mean_wait
from simulation.replications import run_replication, run_replications

MMC_FILE = Path(__file__).resolve().parent.parent / "configs" / "airports" / "mmc-validation.yaml"
BARE_FLOOR = 2.0  # the full model's speed, at least this multiple of the bare loop's
CIW_MULTIPLE = 4.0  # ... and at least this multiple of Ciw's
DAY_SECONDS = 10.0
DAY_REPLICATIONS = 30

# The M/M/c case's rates (checked against the file at start).
ARRIVAL_RATE = 0.34
SERVICE_MEAN = 10.0
SERVERS = 4


class Timed:
    """Travellers served and mean wait of one timed run."""

    def __init__(self, served: int, seconds: float, mean_wait: float) -> None:
        self.served = served
        self.seconds = seconds
        self.mean_wait = mean_wait

    @property
    def rate(self) -> float:
        """Travellers per second of wall time."""
        return self.served / self.seconds


def full_model(config: HallConfig, round_number: int) -> Timed:
    """One replication of the whole capacity model, statistics included."""
    started = time.perf_counter()
    result = run_replication(config, Path(), round_number)
    seconds = time.perf_counter() - started
    return Timed(result.departures, seconds, result.waits.mean_s)


def bare_simpy(hours: float, seed: int) -> Timed:
    """M/M/c as a bare SimPy loop: a process per traveller queuing for a ``Resource``."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    horizon = hours * 3600.0
    # Enough draws for the horizon and then some; the loop stops at the horizon.
    expected = int(ARRIVAL_RATE * horizon * 1.1) + 1000
    gaps = rng.exponential(1.0 / ARRIVAL_RATE, expected).tolist()
    services = rng.exponential(SERVICE_MEAN, expected).tolist()
    env = simpy.Environment()
    gates = simpy.Resource(env, capacity=SERVERS)
    waits: list[float] = []

    def traveller(service: float) -> Generator[simpy.Event, Any, None]:
        arrived = env.now
        with gates.request() as turn:
            yield turn
            waits.append(env.now - arrived)
            yield env.timeout(service)

    def arrivals() -> Generator[simpy.Event, Any, None]:
        for gap, service in zip(gaps, services, strict=True):
            yield env.timeout(gap)
            if env.now >= horizon:
                return
            env.process(traveller(service))

    env.process(arrivals())
    env.run()  # until everyone has been served
    seconds = time.perf_counter() - started
    return Timed(len(waits), seconds, statistics.fmean(waits))


def load_ciw() -> Any:  # noqa: ANN401  (Ciw ships no type information)
    """The ciw module, or None when it is not installed."""
    try:
        return importlib.import_module("ciw")
    except ImportError:
        return None


def ciw_run(ciw: Any, hours: float, seed: int) -> Timed:  # noqa: ANN401
    """The same M/M/c network in Ciw, until the horizon."""
    started = time.perf_counter()
    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=ARRIVAL_RATE)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / SERVICE_MEAN)],
        number_of_servers=[SERVERS],
    )
    model = ciw.Simulation(network)
    model.simulate_until_max_time(hours * 3600.0)
    records = model.get_all_records()
    seconds = time.perf_counter() - started
    return Timed(len(records), seconds, statistics.fmean(r.waiting_time for r in records))


def check_case(config: HallConfig) -> None:
    """Refuse to compare if the shipped file no longer is the case the loops implement."""
    rate = config.arrivals.rate
    document = config.gates.steps.document
    if (
        rate is None
        or len(rate) != 1
        or abs(rate[0].per_hour / 3600.0 - ARRIVAL_RATE) > 1e-9
        or config.gates.count != SERVERS
        or document.kind != "exponential"
        or abs(document.build(Path()).mean - SERVICE_MEAN) > 1e-9
    ):
        raise SystemExit(f"{MMC_FILE}: no longer the M/M/{SERVERS} case this benchmark compares")


def _median(runs: Sequence[Timed]) -> Timed:
    return sorted(runs, key=lambda run: run.rate)[len(runs) // 2]


def _line(label: str, run: Timed) -> str:
    return (
        f"{label:<22} {run.rate:>10,.0f} travellers/s  "
        f"({run.served:,} in {run.seconds:.2f} s, mean wait {run.mean_wait:.2f} s)"
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurements, print rates, ratios and targets; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the M/M/c case")
    parser.add_argument("--hours", type=float, help="hours of M/M/c arrivals (default: the file's)")
    parser.add_argument("--day-replications", type=int, default=DAY_REPLICATIONS)
    parser.add_argument("--processes", type=int, help="for the day (default: one per core)")
    args = parser.parse_args(argv)

    config = load_hall(MMC_FILE)
    check_case(config)
    if args.hours is not None:
        config = config.model_copy(update={"horizon": config.start + args.hours * 3600.0})
    assert config.horizon is not None
    hours = (config.horizon - config.start) / 3600.0
    ciw = load_ciw()

    runs: dict[str, list[Timed]] = {"model": [], "bare": [], "ciw": []}
    steps: list[tuple[str, Callable[[int], Timed]]] = [
        ("model", lambda number: full_model(config, number)),
        ("bare", lambda number: bare_simpy(hours, number)),
    ]
    if ciw is not None:
        steps.append(("ciw", lambda number: ciw_run(ciw, hours, number)))
    for number in range(args.rounds):
        for name, step in steps:
            runs[name].append(step(number))

    theory = mmc_mean_wait(SERVERS, ARRIVAL_RATE, 1.0 / SERVICE_MEAN)
    model, bare = _median(runs["model"]), _median(runs["bare"])
    print(
        f"M/M/{SERVERS} at rho {ARRIVAL_RATE * SERVICE_MEAN / SERVERS:.2f}, {hours:g} h of "
        f"arrivals, median of {args.rounds} rounds (Erlang-C mean wait {theory:.2f} s)"
    )
    print(_line("full model", model))
    print(_line("bare SimPy loop", bare))
    bare_ratio = model.rate / bare.rate
    ok = bare_ratio >= BARE_FLOOR
    ciw_ratio = None
    if ciw is not None:
        theirs = _median(runs["ciw"])
        print(_line(f"Ciw {getattr(ciw, '__version__', '')}".strip(), theirs))
        ciw_ratio = model.rate / theirs.rate
    print(f"model / bare SimPy:     {bare_ratio:6.2f}x  (target >= {BARE_FLOOR}x: {_verdict(ok)})")
    if ciw_ratio is not None:
        ciw_ok = ciw_ratio >= CIW_MULTIPLE
        ok &= ciw_ok
        print(
            f"model / Ciw:            {ciw_ratio:6.2f}x  (target >= {CIW_MULTIPLE}x: "
            f"{_verdict(ciw_ok)})"
        )
    else:
        print("Ciw is not installed (pip install ciw): its ratio is skipped")

    # The day's target, in proportion when asked for another number of replications.
    limit = DAY_SECONDS * args.day_replications / DAY_REPLICATIONS
    started = time.perf_counter()
    summary = run_replications(
        default_hall(), replications=args.day_replications, processes=args.processes
    )
    seconds = time.perf_counter() - started
    day_ok = seconds < limit
    ok &= day_ok
    print(
        f"default day ({summary['arrivals'].mean:,.0f} passengers) x "
        f"{args.day_replications} replications: {seconds:.1f} s  "
        f"(target < {limit:g} s: {_verdict(day_ok)})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
