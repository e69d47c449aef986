"""egate's own CPU time for one eMRTD chip read, against the plain read of the same bytes.

(Past the ~400-line guideline: one benchmark, its two parts measured and
printed side by side; the PC/SC part needs its own pcscd and vpcd handling.)

Usage: ``python benchmarks/chip_read.py [--runs N] [--chunk BYTES] [--pcsc-runs M]
[--no-pcsc]``

Two virtual chips are issued with the test PKI (brainpoolP256r1 CSCA and
document signer), each with DG1 and a 20 KB DG2 (a noise JPEG, which
compresses badly): a BAC chip with RSA-1024 active authentication, and a
PACE chip (ECDH generic mapping, AES-128, brainpoolP256r1) with chip
authentication and ECDSA active authentication.  Each is read whole by
``inspect_chip`` through the in-process transport at zero air time: access
control, EF.COM, EF.SOD, DG14/DG15, DG1, DG2 under secure messaging, chip and
active authentication, passive authentication against the trust store.

The virtual chip runs in the same process, so ``time.process_time`` around a
read counts the chip's own work too (its half of BAC or PACE, secure
messaging, the signatures of active authentication).  The time spent inside
the chip is measured per APDU and taken out: **egate terminal** is what a
gate's processor spends; **chip emulator** is what the virtual chip spent,
which a real chip does on its own processor.  Each figure is the median of
``--runs`` reads after two warm-up reads; the per-step breakdown comes from
the inspection's own step timings, driven by a clock that counts terminal
CPU time only.

The baseline, measured in the same run: the very same files read from a chip
that answers in plain (``ChipSettings(plain_access=True)``) with the
inspection's own file reader, the same transport and the same chunk size, so
in as many READ BINARY commands, but without access control, secure
messaging, parsing, or any check.  It is the cost of moving the bytes; the
ratio says what security and checking multiply it by.  The target is egate's
terminal CPU under 100 ms per read.

The second part, when pyscard, pcscd and vsmartcard's vpcd are installed,
reads the PACE chip through the real PC/SC stack (the chip served to vpcd,
pcscd, pyscard, ``PcscTransport``): the wall time of a read and of a single
SELECT round trip against the in-process transport, and so the overhead per
APDU.  A running pcscd is used as it is; otherwise, as root, one is started
for the run and stopped after.  Without them the part is skipped, saying why.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from PIL import Image

from egate.documents.lds.files import lds_file
from egate.documents.pki.passive import PaStatus
from egate.documents.pki.testpki import generate_test_pki
from egate.documents.pki.truststore import TrustStore
from egate.gate.events import ChipStatus
from hardware.emrtd.activeauth import ActiveAuthenticator
from hardware.emrtd.apdu import CommandApdu, ResponseApdu, Transport
from hardware.emrtd.chipauth import ChipAuthenticator
from hardware.emrtd.errors import ChipError, TransportError
from hardware.emrtd.filereader import SM_SHORT_CHUNK, read_file, select_application
from hardware.emrtd.inspection import AccessKey, ChipInspection, inspect_chip
from hardware.emrtd.pcsc import PcscTransport
from hardware.emrtd.transport import VirtualTransport
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.card import ChipSettings, VirtualChip, pace_parameters_of
from hardware.emulators.emrtd.pcscd import SETTLE_SECONDS, PcscdUnavailable, running_pcscd
from hardware.emulators.emrtd.personalisation import (
    AaKeyType,
    IssuedChip,
    Photo,
    personalise,
    photo_of,
)
from hardware.emulators.emrtd.vpcd import VPCD_PORT, serve_vpcd

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINES = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
DG2_BYTES = 20 * 1024
TARGET_MS = 100.0
AID = bytes.fromhex("A0000002471001")
SELECT_AID = CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID)
ROUND_TRIPS = 500


@dataclass(frozen=True)
class Scenario:
    """One kind of chip: how it is issued and what the read does."""

    name: str
    pace: bool
    active_authentication: AaKeyType
    chip_authentication: bool


SCENARIOS = (
    Scenario("BAC + AA RSA-1024 + PA", False, "rsa1024", False),
    Scenario("PACE + CA + AA ECDSA + PA", True, "ecdsa", True),
)


class TimedChip:
    """A virtual chip whose own CPU time is counted, so that it can be taken out."""

    def __init__(self, chip: VirtualChip) -> None:
        self.chip = chip
        self.cpu = 0.0

    @property
    def air_time(self) -> AirTime:
        return self.chip.air_time

    def process(self, apdu: bytes) -> bytes:
        start = time.process_time()
        try:
            return self.chip.process(apdu)
        finally:
            self.cpu += time.process_time() - start


@dataclass
class Figures:
    """Per-run CPU seconds of one way of reading, and the APDUs of one run."""

    terminal: list[float] = field(default_factory=list)
    chip: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    apdus: int = 0

    def median_ms(self, values: list[float]) -> float:
        return statistics.median(values) * 1000


def photo_of_size(size: int, seed: int) -> Photo:
    """A noise JPEG whose DG2 is at least ``size`` bytes: the size of a passport's photo."""
    generator = random.Random(seed)
    width = 120
    while True:
        height = width * 5 // 4
        image = Image.frombytes("RGB", (width, height), generator.randbytes(width * height * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=75)
        # DG2's templates and the facial record header add about 80 bytes.
        if len(out.getvalue()) + 80 >= size:
            return photo_of(out.getvalue())
        width += 1


def issue(scenario: Scenario, photo: Photo) -> tuple[IssuedChip, TrustStore]:
    pki = generate_test_pki(now=NOW)
    chip = personalise(
        LINES,
        photo,
        pki.ds_certificate,
        pki.ds_key,
        signed_at=NOW,
        pace=scenario.pace,
        active_authentication=scenario.active_authentication,
        chip_authentication=scenario.chip_authentication,
    )
    return chip, TrustStore.from_certificates([pki.csca_certificate])


def virtual_chip(issued: IssuedChip, *, plain: bool = False) -> VirtualChip:
    """The issued chip in software, answering at once (``plain``: without access control)."""
    card_access = issued.files.get("EF.CardAccess")
    return VirtualChip(
        issued.files,
        mrz_information=issued.mrz_information,
        pace_parameters=None if card_access is None else pace_parameters_of(card_access),
        settings=ChipSettings(pace=card_access is not None, plain_access=plain),
        active_authenticator=None
        if issued.aa_key is None
        else ActiveAuthenticator(issued.aa_key, random=os.urandom),
        chip_authenticator=None if issued.ca_key is None else ChipAuthenticator(issued.ca_key),
        air_time=AirTime.zero(),
    )


def read(
    transport: Transport,
    issued: IssuedChip,
    trust: TrustStore,
    chunk: int,
    clock: Callable[[], float] = time.monotonic,
) -> ChipInspection:
    """The whole inspection; a read that does not pass every check stops the benchmark."""
    result = inspect_chip(
        transport,
        AccessKey(issued.mrz_information),
        random=os.urandom,
        clock=clock,
        chunk=chunk,
        trust=trust,
        at=NOW,
    )
    passive = result.passive_authentication
    if result.status is not ChipStatus.OK or result.failures(LINES):
        raise RuntimeError(f"the read failed: {result.failures(LINES)}")
    if passive is None or passive.status is not PaStatus.OK:
        raise RuntimeError("passive authentication did not run")
    return result


def measure_inspection(issued: IssuedChip, trust: TrustStore, runs: int, chunk: int) -> Figures:
    figures = Figures()
    timed = TimedChip(virtual_chip(issued))
    transport = VirtualTransport(timed)
    for run in range(runs + 2):
        timed.cpu = 0.0

        def terminal_clock() -> float:
            return time.process_time() - timed.cpu

        start = time.process_time()
        result = read(transport, issued, trust, chunk, terminal_clock)
        total = time.process_time() - start
        if run < 2:
            continue  # warm-up: first calls into OpenSSL and the parsers
        figures.terminal.append(total - timed.cpu)
        figures.chip.append(timed.cpu)
        figures.apdus = result.apdus
        outside = total - timed.cpu
        for timing in result.timings:
            figures.steps.setdefault(timing.step, []).append(timing.seconds)
            outside -= timing.seconds
        # DG1 and DG2 are parsed after the last step.
        figures.steps.setdefault("outside the steps (DG1, DG2 parsed)", []).append(outside)
    return figures


def measure_baseline(issued: IssuedChip, names: Sequence[str], runs: int, chunk: int) -> Figures:
    """The same files read in plain: no access control, no secure messaging, no checks."""
    figures = Figures()
    timed = TimedChip(virtual_chip(issued, plain=True))
    transport = VirtualTransport(timed)
    for run in range(runs + 2):
        timed.cpu = 0.0
        before = transport.exchanges
        start = time.process_time()
        select_application(transport)
        for name in names:
            if read_file(transport, lds_file(name), chunk=chunk) != issued.files[name]:
                raise RuntimeError(f"the plain read of {name} differs from the chip's")
        total = time.process_time() - start
        if run < 2:
            continue
        figures.terminal.append(total - timed.cpu)
        figures.chip.append(timed.cpu)
        figures.apdus = transport.exchanges - before
    return figures


# -- the PC/SC stack -----------------------------------------------------------------


class Skipped(Exception):
    """The PC/SC part cannot run here; the message says why."""


def connect() -> PcscTransport:
    """The PC/SC transport to the served chip, once pcscd has noticed it (it polls)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        try:
            transport = PcscTransport("Virtual PCD")
        except TransportError:
            time.sleep(0.1)
            continue
        try:
            if transport.transmit(SELECT_AID).ok:
                return transport
        except TransportError:
            pass
        transport.close()
        time.sleep(0.1)
    raise Skipped("the virtual chip never answered SELECT through pcscd")


def round_trip(transport: Transport) -> float:
    """The wall time of one SELECT (no secure messaging) and its answer."""
    start = time.perf_counter()
    response: ResponseApdu = transport.transmit(SELECT_AID)
    seconds = time.perf_counter() - start
    if not response.ok:
        raise RuntimeError(f"SELECT answered {response.sw:04X}")
    return seconds


def wall_read(
    transport: Transport, issued: IssuedChip, trust: TrustStore, chunk: int
) -> tuple[float, int]:
    """The wall time of a whole read, and its APDUs."""
    start = time.perf_counter()
    result = read(transport, issued, trust, chunk)
    return time.perf_counter() - start, result.apdus


def pcsc_part(issued: IssuedChip, trust: TrustStore, runs: int, chunk: int) -> bool:
    """The PC/SC figures; False when a read through PC/SC failed (skipping is no failure)."""
    print()
    print(
        f"PC/SC: the PACE chip through vpcd, pcscd and pyscard against the in-process "
        f"transport, wall time, median of {runs} reads and {ROUND_TRIPS} SELECTs each, "
        f"the two taken in turn"
    )
    local = VirtualTransport(virtual_chip(issued))
    reads: dict[str, list[float]] = {"in-process": [], "PC/SC": []}
    trips: dict[str, list[float]] = {"in-process": [], "PC/SC": []}
    apdus: dict[str, int] = {}
    try:
        with running_pcscd() as how:
            chip = virtual_chip(issued)
            stop = threading.Event()
            server = threading.Thread(
                target=serve_vpcd,
                args=(chip, "127.0.0.1", VPCD_PORT),
                kwargs={"stop": stop, "reconnect": True, "retry_seconds": 0.1},
                daemon=True,
            )
            server.start()
            try:
                remote = connect()
                try:
                    ways: dict[str, Transport] = {"in-process": local, "PC/SC": remote}
                    for run in range(runs + 1):
                        for name, transport in ways.items():
                            seconds, apdus[name] = wall_read(transport, issued, trust, chunk)
                            if run:  # the first read of each warms up
                                reads[name].append(seconds)
                    for _ in range(ROUND_TRIPS):
                        for name, transport in ways.items():
                            trips[name].append(round_trip(transport))
                finally:
                    remote.close()
            finally:
                stop.set()
                server.join(SETTLE_SECONDS)
    except (Skipped, PcscdUnavailable, ChipError, OSError) as error:
        print(f"  skipped: {error}")
        return True
    except RuntimeError as error:
        # Another program's chip in vpcd's slot, say: said, and the run fails.
        print(f"  failed: {error}")
        return False
    read_s = {name: statistics.median(values) for name, values in reads.items()}
    trip_s = {name: statistics.median(values) for name, values in trips.items()}
    print(f"  ({how}; the chip served to vpcd on 127.0.0.1:{VPCD_PORT})")
    print(f"  {'transport':<12} {'read':>10} {'APDUs':>6} {'SELECT round trip':>18}")
    for name in reads:
        print(
            f"  {name:<12} {read_s[name] * 1000:>7.1f} ms {apdus[name]:>6} "
            f"{trip_s[name] * 1e6:>15.0f} us"
        )
    per_apdu = (read_s["PC/SC"] - read_s["in-process"]) / apdus["PC/SC"]
    print(
        f"  PC/SC adds {per_apdu * 1000:.3f} ms per APDU over a whole read "
        f"({(trip_s['PC/SC'] - trip_s['in-process']) * 1000:.3f} ms on a bare SELECT); "
        f"a read takes {read_s['PC/SC'] / read_s['in-process']:.2f}x its in-process time"
    )
    return True


# -- the report --------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures; exit 1 if egate misses the target or PC/SC fails."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="reads per scenario")
    parser.add_argument(
        "--chunk", type=int, default=SM_SHORT_CHUNK, help="READ BINARY piece in bytes"
    )
    parser.add_argument("--pcsc-runs", type=int, default=20, help="reads through PC/SC")
    parser.add_argument("--no-pcsc", action="store_true", help="skip the PC/SC part")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.pcsc_runs < 1:
        parser.error("--runs and --pcsc-runs must be at least 1")
    if not 1 <= args.chunk <= 0xFF00:
        parser.error("--chunk is 1 to 65280 bytes")

    photo = photo_of_size(DG2_BYTES, seed=1)
    print(
        f"One chip read, CPU time (time.process_time), median of {args.runs} reads; "
        f"virtual chip at zero air time, READ BINARY pieces of {args.chunk} bytes"
    )
    print(
        "egate terminal = the inspection's own CPU (what a gate spends); chip emulator = the "
        "virtual chip's (a real chip's processor does it); baseline = the same files read in "
        "plain from a plain-access chip with the same file reader and transport (no access "
        "control, secure messaging, parsing or checks)"
    )
    header = (
        f"{'scenario':<27} {'DG2':>8} {'APDUs':>6} {'egate terminal':>15} "
        f"{'chip emulator':>14} {'baseline':>9} {'(APDUs)':>8} {'ratio':>7}"
    )
    print(header)
    worst = 0.0
    breakdowns: list[tuple[str, Figures]] = []
    pace_chip: tuple[IssuedChip, TrustStore] | None = None
    for scenario in SCENARIOS:
        issued, trust = issue(scenario, photo)
        inspection = measure_inspection(issued, trust, args.runs, args.chunk)
        names = [name for name in issued.files if name != "EF.CardAccess"]
        baseline = measure_baseline(issued, names, args.runs, args.chunk)
        terminal = inspection.median_ms(inspection.terminal)
        plain = baseline.median_ms(baseline.terminal)
        worst = max(worst, terminal)
        print(
            f"{scenario.name:<27} {len(issued.files['DG2']):>6} B {inspection.apdus:>6} "
            f"{terminal:>12.2f} ms {inspection.median_ms(inspection.chip):>11.2f} ms "
            f"{plain:>6.2f} ms {baseline.apdus:>8} {terminal / plain:>6.1f}x"
        )
        breakdowns.append((scenario.name, inspection))
        if scenario.pace:
            pace_chip = (issued, trust)
    for name, figures in breakdowns:
        steps = ", ".join(
            f"{step} {figures.median_ms(values):.2f}" for step, values in figures.steps.items()
        )
        print(f"  {name}, egate terminal ms by step: {steps}")
    verdict = "within" if worst < TARGET_MS else "OVER"
    print(f"egate terminal CPU {worst:.2f} ms at worst: {verdict} the {TARGET_MS:g} ms target")

    if args.no_pcsc:
        print()
        print("PC/SC: skipped (--no-pcsc)")
    elif pace_chip is not None and not pcsc_part(*pace_chip, args.pcsc_runs, args.chunk):
        return 1
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
