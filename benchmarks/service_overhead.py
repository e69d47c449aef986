"""The gate controller's and service's own time per transaction, against the 20 ms budget.

(One program past the ~400-line guideline: the run and each part of its
breakdown are measured on the same transactions and printed as one table; the
gate itself is the code under test.)

Usage: ``python benchmarks/service_overhead.py [--transactions N] [--seed S]
[--matching process|thread] [--workers W] [--repeat R] [--audit-dir DIR]``

Sample travellers walk through a mock gate (emulated reader, doors and
occupancy sensor on pseudo-terminals, mock camera and chip, quick doors and
walkers) run by the real ``GateService`` with a matching core and an audit
trail that flushes every record to disk.  The service's own time of a
transaction is ``GateService.summary.own_seconds``: time spent handing events
to the controller and carrying out its commands (``GateService._feed``), the
document policy's verdict and the chip photo's decoding and hand-over, less
the time spent in devices (camera grabs, door and indicator orders) and the
command line's display; devices and people are not counted.  The target is a
p95 under 20 ms.

The breakdown is measured in the same run, on the same transactions:

* the bare controller: the very events the service handed to
  ``GateController.handle``, replayed through a fresh controller (median of
  ``--repeat`` replays);
* the audit: each transaction's audit lines written again to a new trail in
  the same folder, with ``fsync`` (as the gate does) and without it, the
  baseline that shows what flushing costs;
* the metrics: ``GateMetrics.transaction`` for each transaction's record;
* the hand-over of the face verification job to the matching core (timed in
  the run itself: with process workers it copies the camera frame into shared
  memory);
* the enrolment job's hand-over (timed in the run), the document policy's
  verdict and the decoding of the chip photo (both replayed on the same
  travellers' documents);
* the rest: whatever else happens (the transaction record, timers, waiting
  for the interpreter lock held by other threads).

The mock camera shows the sample photos at their own size (up to 2333 x 1434
pixels), larger than a gate camera's frames, so the verification hand-over
here is an upper bound.

The audit sits in a temporary folder under ``--audit-dir`` (default: the
system's temporary folder); the file system type is printed, since a flush
to tmpfs costs nothing.  Exit status 0 when the p95 own time is within
budget, 1 when it is over.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import logging
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from egate.audit import AuditTrail, read_audit
from egate.biometrics.image import RgbImage, decode_chip_photo
from egate.biometrics.matching import MatchingCore, WorkerKind
from egate.biometrics.verifier import Enrollment, Template, Verification, VerifierSettings
from egate.cli.run import mock_gate_config
from egate.config import MatchingConfig
from egate.documents.mrz import parse_mrz
from egate.documents.policy import DocumentPolicy
from egate.gate.commands import Command
from egate.gate.controller import GateController
from egate.gate.events import Event
from egate.gate.transaction import TransactionRecord
from egate.metrics import GateMetrics
from egate.privacy import Pseudonymizer
from hardware.devices import EmulationSettings
from hardware.indicator import RecordingIndicator
from station.mockgate import MockGate
from station.people.travellers import SampleTraveller
from station.service import GateService

BUDGET_S = 0.020
LOOP_SLEEP_S = 0.002
# A transaction that takes longer than this has hung (a passage takes about a second).
PATIENCE_PER_TRANSACTION_S = 60.0
SALT = b"egate-benchmark-salt"
# Quick doors and travellers: a passage takes about a second.
EMULATION = EmulationSettings(door_travel_s=0.2, pace=0.05, gap_s=0.1)
# Kinds of audit lines the service writes while it feeds the controller.
FED_AUDIT_KINDS = frozenset({"transaction", "alarm"})


@dataclass
class Recorder:
    """What the run handed to the controller, cut where each transaction's own time ends."""

    events: list[tuple[Event, float]] = field(default_factory=list)
    # (number of events handed over, number of transactions finished) at each cut.
    cuts: list[tuple[int, int]] = field(default_factory=list)
    records: list[TransactionRecord] = field(default_factory=list)

    def groups(self) -> list[list[tuple[Event, float]]]:
        """The events of each transaction's own time, in order."""
        starts = [0, *(events for events, _ in self.cuts)]
        return [self.events[a:b] for a, b in itertools.pairwise(starts)]

    def records_by_group(self) -> list[list[TransactionRecord]]:
        """The transaction records finished within each group."""
        ends = [0, *(records for _, records in self.cuts)]
        return [self.records[a:b] for a, b in itertools.pairwise(ends)]

    def per_group(self, timings: list[tuple[int, float]]) -> list[float]:
        """``(events handed over so far, seconds)`` pairs added up per group."""
        totals = [0.0] * len(self.cuts)
        ends = [events for events, _ in self.cuts]
        for at, seconds in timings:
            index = bisect.bisect_right(ends, at)
            if index < len(totals):
                totals[index] += seconds
        return totals


class RecordingController(GateController):
    """A gate controller that keeps every event it is handed, for the replay."""

    def __init__(self, recorder: Recorder, gate_id: str) -> None:
        super().__init__(gate_id)
        self._recorder = recorder

    def handle(self, event: Event, now: float) -> list[Command]:
        self._recorder.events.append((event, now))
        return super().handle(event, now)


class CuttingMetrics(GateMetrics):
    """Gate metrics that mark where the service closed a transaction's own time."""

    def __init__(self, recorder: Recorder, gate_id: str, registry: CollectorRegistry) -> None:
        super().__init__(gate_id, registry)
        self._recorder = recorder

    def own_time(self, seconds: float) -> None:
        super().own_time(seconds)
        recorder = self._recorder
        recorder.cuts.append((len(recorder.events), len(recorder.records)))


class TimedMatchingCore(MatchingCore):
    """A matching core that times the hand-over of each job (the work itself runs elsewhere)."""

    def __init__(
        self, recorder: Recorder, settings: VerifierSettings, *, workers: int, kind: WorkerKind
    ) -> None:
        super().__init__(settings, workers=workers, kind=kind)
        self._recorder = recorder
        # (events handed to the controller so far, seconds) of each hand-over.
        self.enroll_handovers: list[tuple[int, float]] = []
        self.verify_handovers: list[tuple[int, float]] = []

    def submit_enroll(self, reference: RgbImage, deadline: float) -> Future[Enrollment]:
        started = time.perf_counter()
        try:
            return super().submit_enroll(reference, deadline)
        finally:
            self._note(self.enroll_handovers, started)

    def submit_verify(
        self, template: Template, live: RgbImage, deadline: float
    ) -> Future[Verification]:
        started = time.perf_counter()
        try:
            return super().submit_verify(template, live, deadline)
        finally:
            self._note(self.verify_handovers, started)

    def _note(self, handovers: list[tuple[int, float]], started: float) -> None:
        handovers.append((len(self._recorder.events), time.perf_counter() - started))


class TimedAuditTrail(AuditTrail):
    """An audit trail that times each write of the lines the service writes while feeding."""

    def __init__(self, recorder: Recorder, path: Path) -> None:
        super().__init__(path)
        self._recorder = recorder
        # (events handed to the controller so far, seconds) of each write.
        self.writes: list[tuple[int, float]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        started = time.perf_counter()
        super().write(record)
        if record.get("kind") in FED_AUDIT_KINDS:
            self.writes.append((len(self._recorder.events), time.perf_counter() - started))


@dataclass(frozen=True)
class Run:
    """What the service run left for the breakdown."""

    own_s: list[float]
    audit_s: list[float]
    travellers: list[SampleTraveller]
    audit_groups: list[list[dict[str, Any]]]
    outcomes: dict[str, int]
    elapsed_s: float


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def file_system(path: Path) -> str:
    """The type of the file system ``path`` is on (Linux), else ``unknown``."""
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "unknown"
    resolved, best, kind = str(path.resolve()), "", "unknown"
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1]
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind


@contextmanager
def progress_bar(total: int, what: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal's stderr; nothing when stderr is piped."""
    console = Console(stderr=True)
    with Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)


def run_service(
    transactions: int,
    seed: int,
    matching: MatchingCore,
    recorder: Recorder,
    folder: Path,
    emulation: EmulationSettings,
) -> Run:
    """``transactions`` transactions through a GateService on a mock gate."""
    gate = mock_gate_config()
    registry = CollectorRegistry()
    metrics = CuttingMetrics(recorder, gate.gate_id, registry)
    policy = DocumentPolicy.from_settings(gate.policy, Pseudonymizer(SALT))
    audit_path = folder / "service-audit.jsonl"
    indicator = RecordingIndicator()
    with ExitStack() as stack:
        audit = TimedAuditTrail(recorder, audit_path)
        stack.enter_context(audit)
        mock = stack.enter_context(
            MockGate(
                gate.devices,
                emulation.model_copy(update={"seed": seed}),
                indicator,
                today=date.today,
                base_dir=folder,
            )
        )
        assert mock.devices is not None
        service = GateService(
            RecordingController(recorder, gate.gate_id),
            mock.devices,
            matching,
            policy,
            audit=audit,
            metrics=metrics,
            on_record=recorder.records.append,
        )
        stack.callback(service.close)
        service.start()
        missing = service.wait_for_devices(10.0, time.sleep)
        if missing:
            raise RuntimeError(f"mock gate devices did not answer: {', '.join(missing)}")
        started = time.perf_counter()
        give_up = time.monotonic() + PATIENCE_PER_TRANSACTION_S * transactions
        with progress_bar(transactions, "transactions") as show:
            while len(service.summary.own_seconds) < transactions:
                now = time.monotonic()
                if now > give_up:
                    raise RuntimeError(
                        f"only {service.summary.transactions} of {transactions} transactions "
                        f"finished; gate {service.controller.state.value}"
                    )
                mock.step(now)
                service.step()
                show(len(service.summary.own_seconds))
                time.sleep(LOOP_SLEEP_S)
        elapsed = time.perf_counter() - started
        own = list(service.summary.own_seconds[:transactions])
        outcomes = dict(service.summary.outcomes)
        travellers = [arrival.traveller for arrival in mock.arrivals]
    recorder.cuts = recorder.cuts[:transactions]
    audit_groups = group_audit(list(read_audit(audit_path)), recorder)
    audit_s = recorder.per_group(audit.writes)
    return Run(own, audit_s, travellers, audit_groups, outcomes, elapsed)


def group_audit(lines: list[dict[str, Any]], recorder: Recorder) -> list[list[dict[str, Any]]]:
    """The audit lines the service wrote within each transaction's own time."""
    groups: list[list[dict[str, Any]]] = []
    pending: list[dict[str, Any]] = []
    seen = 0
    cut_records = iter(records for _, records in recorder.cuts)
    until = next(cut_records, None)
    for line in lines:
        if until is None:
            break
        if line["kind"] not in FED_AUDIT_KINDS:
            continue
        pending.append(line)
        if line["kind"] == "transaction":
            seen += 1
            if seen >= until:
                groups.append(pending)
                pending = []
                until = next(cut_records, None)
    return groups


def time_controller(groups: list[list[tuple[Event, float]]], repeat: int) -> list[float]:
    """Per group, the median time of handing its events to a fresh controller (replayed)."""
    runs: list[list[float]] = [[] for _ in groups]
    for _ in range(repeat):
        controller = GateController(mock_gate_config().gate_id)
        for index, group in enumerate(groups):
            started = time.perf_counter()
            for event, now in group:
                controller.handle(event, now)
            runs[index].append(time.perf_counter() - started)
    return [statistics.median(times) for times in runs]


def time_audit(groups: list[list[dict[str, Any]]], folder: Path) -> tuple[list[float], list[float]]:
    """Per group, the time of writing its lines with fsync and without (interleaved)."""
    with_fsync: list[float] = []
    without: list[float] = []
    with (
        AuditTrail(folder / "replay-fsync.jsonl") as flushed,
        AuditTrail(folder / "replay-nofsync.jsonl", fsync=False) as unflushed,
    ):
        for group in groups:
            for trail, times in ((flushed, with_fsync), (unflushed, without)):
                started = time.perf_counter()
                for line in group:
                    trail.write(line)
                times.append(time.perf_counter() - started)
    return with_fsync, without


def time_metrics(groups: list[list[TransactionRecord]], repeat: int) -> list[float]:
    """Per group, the median time of ``GateMetrics.transaction`` for its records."""
    metrics = GateMetrics(mock_gate_config().gate_id, CollectorRegistry())
    runs: list[list[float]] = [[] for _ in groups]
    for _ in range(repeat):
        for index, records in enumerate(groups):
            started = time.perf_counter()
            for record in records:
                metrics.transaction(record)
            runs[index].append(time.perf_counter() - started)
    return [statistics.median(times) for times in runs]


def _padded(values: list[float], length: int) -> list[float]:
    """``values`` with zeros for the transactions that had none (no chip photo, say)."""
    return values[:length] + [0.0] * max(0, length - len(values))


def time_outside(travellers: list[SampleTraveller], repeat: int) -> tuple[list[float], list[float]]:
    """Per traveller, the policy's verdict and the chip photo's decoding (medians)."""
    policy = DocumentPolicy.from_settings(mock_gate_config().policy, Pseudonymizer(SALT))
    today = date.today()
    moment = datetime.now().astimezone()
    verdicts: list[float] = []
    decodes: list[float] = []
    for traveller in travellers:
        mrz = parse_mrz(traveller.document.mrz, today)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            policy.evaluate(mrz, moment)
            times.append(time.perf_counter() - started)
        verdicts.append(statistics.median(times))
        chip = traveller.document.chip
        if chip is not None and chip.dg2_image is not None:
            times = []
            for _ in range(max(1, repeat // 4)):
                started = time.perf_counter()
                decode_chip_photo(chip.dg2_image, "chip DG2")
                times.append(time.perf_counter() - started)
            decodes.append(statistics.median(times))
    return verdicts, decodes


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--transactions", type=int, default=50, help="transactions to run [50]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the traveller stream [0]")
    parser.add_argument(
        "--matching",
        choices=("process", "thread"),
        default=MatchingConfig().kind,
        help="matching core workers [%(default)s, as a gate runs them]",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=MatchingConfig().workers,
        help="matching workers [%(default)s]",
    )
    parser.add_argument(
        "--repeat", type=int, default=20, help="replays of the controller and metrics [20]"
    )
    parser.add_argument(
        "--audit-dir", type=Path, help="where the audit files go [the system's temporary folder]"
    )
    args = parser.parse_args(argv)
    if args.transactions < 1 or args.repeat < 1 or args.workers < 1:
        parser.error("--transactions, --repeat and --workers must be at least 1")
    # The service logs alarms as warnings; without a handler they would land amid the table.
    logging.getLogger("egate").addHandler(logging.NullHandler())
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 100)
    recorder = Recorder()
    matching = TimedMatchingCore(
        recorder, MatchingConfig().verifier, workers=args.workers, kind=args.matching
    )
    with (
        matching,
        tempfile.TemporaryDirectory(prefix="egate-overhead-", dir=args.audit_dir) as where,
    ):
        folder = Path(where)
        matching.wait_ready()
        run = run_service(args.transactions, args.seed, matching, recorder, folder, EMULATION)
        controller_s = time_controller(recorder.groups(), args.repeat)
        replay_fsync_s, replay_nofsync_s = time_audit(run.audit_groups, folder)
        metrics_s = time_metrics(recorder.records_by_group(), args.repeat)
        verify_s = recorder.per_group(matching.verify_handovers)
        enroll_s = recorder.per_group(matching.enroll_handovers)
        verdict_s, decode_s = time_outside(run.travellers[: args.transactions], args.repeat)
        fs = file_system(folder)
    # Since the policy verdict, the chip photo's decoding and the enrol hand-off
    # count as the service's own time, they come out of the rest as well.
    parts = zip(
        run.own_s,
        controller_s,
        run.audit_s,
        metrics_s,
        verify_s,
        enroll_s,
        _padded(verdict_s, len(run.own_s)),
        _padded(decode_s, len(run.own_s)),
        strict=True,
    )
    rest_s = [own - sum(measured) for own, *measured in parts]

    outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(run.outcomes.items()))
    out.print(
        f"{args.transactions} transactions in {run.elapsed_s:.1f} s ({outcomes}); "
        f"matching core: {args.workers} {args.matching} worker(s); audit on {fs} ({where})"
    )
    own_median = statistics.median(run.own_s)
    table = Table(title="time per transaction (ms)")
    table.add_column("what")
    for column in ("median", "p95", "max", "of own"):
        table.add_column(column, justify="right")

    def row(name: str, values: Sequence[float], share: bool = True) -> None:
        median = statistics.median(values) if values else 0.0
        if not values:
            table.add_row(name, "-", "-", "-", "")
            return
        of_own = f"{median / own_median:.0%}" if share and own_median > 0 else ""
        table.add_row(name, ms(median), ms(percentile(values, 0.95)), ms(max(values)), of_own)

    row("own time (service and controller, less devices)", run.own_s)
    row("  controller alone (handle, replayed)", controller_s)
    row("  audit write with fsync", run.audit_s)
    row("  metrics (GateMetrics.transaction)", metrics_s)
    row("  verify job hand-off to matching core", verify_s)
    row("  enrol job hand-off", enroll_s)
    row("  policy verdict (replayed)", verdict_s)
    row("  chip photo decoding (replayed)", decode_s)
    row("  rest (event translation, commands, bookkeeping)", rest_s)
    row("audit replayed: with fsync", replay_fsync_s, share=False)
    row("audit replayed: without fsync (baseline)", replay_nofsync_s, share=False)
    table.caption = "of own: median of the row over median own time"
    out.print(table)

    p95 = percentile(run.own_s, 0.95)
    fsync_cost = statistics.median(
        [with_ - without for with_, without in zip(replay_fsync_s, replay_nofsync_s, strict=True)]
    )
    audit_share = statistics.median(run.audit_s) / own_median if own_median > 0 else 0.0
    fsync_share = fsync_cost / own_median if own_median > 0 else 0.0
    out.print(
        f"audit write with fsync: {audit_share:.0%} of the median own time; fsync alone "
        f"{ms(fsync_cost)} ms per transaction in the replay (median), {fsync_share:.0%} of it"
    )
    within = p95 <= BUDGET_S
    verdict = "within" if within else "OVER"
    out.print(
        f"own time p95 {ms(p95)} ms = {p95 / BUDGET_S:.2f} x the {BUDGET_S * 1000:g} ms budget: "
        f"{verdict}"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
