"""``egate run`` as a real process: a fast mock gate end to end, signals, kill -9, Prometheus.

Each test writes a mock gate file into its tmp_path whose doors and sample
travellers are quick (a transaction takes about a second) and starts
``python -m egate run`` in a session of its own, so that a signal or a
SIGKILL reaches the matching worker processes too and no process outlives
the test.  The gate's stdout and stderr are read by threads while it runs.

The sample travellers need the sample photos (``egate samples fetch``, once
per machine); without them and without a network these tests skip.  Every
time limit here bounds a wait for a process; none asserts on speed.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_server import running_prometheus

import egate
from egate.audit import read_audit
from egate.auditrecord import find_personal_data
from egate.documents.mrz import parse_mrz
from egate.gate.transaction import STEPS
from egate.privacy import Pseudonymizer
from egate.samples import SampleError, fetch_samples
from station.people.travellers import SamplePhotos, SampleTraveller, sample_travellers

GATE = "test-gate"
# Seven cases of traveller among the first eight (the stream is drawn for today).
SEED = 1602
# P0002 of this seed is genuine: a long transaction to interrupt.
SEED_GENUINE_SECOND = 30
# The first two travellers of this seed carry a cloned chip and a substituted chip photo.
SEED_FORGED_CHIPS = 226
PACE = 0.05
SALT = "5eed" * 16
# Waiting limits for processes, generous on purpose; never performance assertions.
WAIT_S = 120.0
GONE_S = 30.0
POLL_S = 0.05

ENV = {key: value for key, value in os.environ.items() if key not in ("FORCE_COLOR", "EGATE_SALT")}
# rich wraps lines at the terminal width, 80 columns when stdout is a pipe.
ENV["COLUMNS"] = "1000"

FIRST_LINE = re.compile(
    rf"^egate run: gate {GATE}, metrics on http://127\.0\.0\.1:(?P<port>\d+)/metrics, "
    r"audit to (?P<audit>.+)$",
    re.MULTILINE,
)
TRANSACTION_LINE = re.compile(
    rf"^(?P<id>{GATE}-(?P<number>\d{{6}}))\s+(?P<outcome>\w+)\s+(?P<reasons>\S.*?)\s+"
    r"(?P<duration>\d+\.\d) s(?:\s+distance (?P<distance>\d+\.\d\d))?\s+"
    r"\[(?P<label>P\d{4}) (?P<kind>\w+), expected (?P<expected>\w+)\]$",
    re.MULTILINE,
)
NORMAL_OUTCOMES = {"accepted", "referred", "rejected"}


# --- a gate file, a gate process --------------------------------------------------


@pytest.fixture(scope="session")
def sample_photos() -> SamplePhotos:
    """The sample photos the mock gate's travellers show, fetched once per machine."""
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    photos = SamplePhotos.installed()
    if photos is None:
        pytest.skip("sample photos are not installed (egate samples fetch)")
    return photos


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def gate_file(folder: Path, changes: dict[str, Any] | None = None, name: str = "gate.yaml") -> Path:
    """A fast mock gate's file in ``folder`` (audit.jsonl and salt.hex next to it)."""
    emulated = {"port": "emulated"}
    config: dict[str, Any] = {
        "gate_id": GATE,
        "privacy": {"salt_file": "salt.hex"},
        "devices": {
            "emulated": True,
            "reader": {"framing": "desko", "serial": emulated},
            "doors": {"serial": emulated},
            "occupancy": {"serial": emulated},
            "chip": {"kind": "mock"},
            "mock_camera": {"images": "samples"},
            "emulation": {"door_travel_s": 0.2, "pace": PACE, "gap_s": 0.1, "seed": SEED},
        },
        "service": {
            "audit": {"path": "audit.jsonl"},
            "metrics": {"port": 0},
            "matching": {"workers": 1},
            "controller": {
                "document_timeout_s": 5,
                "entry_timeout_s": 5,
                "capture_timeout_s": 10,
                "verify_timeout_s": 10,
                "exit_timeout_s": 5,
                "retreat_timeout_s": 5,
            },
            "stop_grace_s": 5,
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "salt.hex").write_text(SALT, encoding="ascii")
    path = folder / name
    path.write_text(yaml.safe_dump(_merge(config, changes or {}), sort_keys=False), "utf-8")
    return path


def group_members(pgid: int) -> list[int]:
    """The live processes (zombies aside) of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def wait_until_gone(pgid: int, timeout_s: float = GONE_S) -> list[int]:
    """Wait for the group to die out; the members still alive after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (members := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return members


class GateProcess:
    """``python -m egate run ARGS`` in a session of its own, its output read as it comes.

    ``program`` replaces ``-m egate`` (a script that wraps the command line);
    ``env`` adds to the environment.
    """

    def __init__(
        self,
        args: tuple[str, ...],
        cwd: Path,
        program: tuple[str, ...] = ("-m", "egate"),
        env: dict[str, str] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *program, "run", *args],
            cwd=cwd,
            env={**ENV, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.pgid = self.process.pid
        self._lines: dict[str, list[str]] = {"out": [], "err": []}
        self._changed = threading.Condition()
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self._lines["out"]),
                (self.process.stderr, self._lines["err"]),
            )
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for raw in stream:
            with self._changed:
                lines.append(raw.decode("utf-8", "replace"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def out(self) -> str:
        with self._changed:
            return "".join(self._lines["out"])

    @property
    def err(self) -> str:
        with self._changed:
            return "".join(self._lines["err"])

    def wait_for_output(self, pattern: re.Pattern[str], after: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in stdout past character ``after``, once it is there."""
        deadline = time.monotonic() + WAIT_S
        with self._changed:
            while True:
                found = pattern.search("".join(self._lines["out"]), after)
                if found:
                    return found
                ended = self.process.poll() is not None and not any(
                    reader.is_alive() for reader in self._readers
                )
                if ended or time.monotonic() > deadline:
                    raise AssertionError(
                        f"no {pattern.pattern!r} in the output (exit status "
                        f"{self.process.poll()}):\n{''.join(self._lines['out'])}\n"
                        f"{''.join(self._lines['err'])}"
                    )
                self._changed.wait(0.5)

    def wait_for_first_line(self) -> re.Match[str]:
        return self.wait_for_output(FIRST_LINE)

    def finish(self) -> int:
        """Wait for the exit (and the end of its output); the exit status."""
        status = self.process.wait(timeout=WAIT_S)
        for reader in self._readers:
            reader.join(timeout=WAIT_S)
        return status

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL to every process left in the gate's group, and reap the gate."""
        if group_members(self.pgid):
            with suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        self.process.wait(timeout=WAIT_S)
        for reader in self._readers:
            reader.join(timeout=WAIT_S)


@contextmanager
def running_gate(
    *args: str | Path,
    cwd: Path,
    program: tuple[str, ...] = ("-m", "egate"),
    env: dict[str, str] | None = None,
) -> Iterator[GateProcess]:
    """A running ``egate run``; whatever is left of it is killed when the block ends."""
    gate = GateProcess(tuple(str(arg) for arg in args), cwd, program, env)
    try:
        yield gate
    finally:
        gate.kill_group()


def records_so_far(path: Path) -> list[dict[str, Any]]:
    """The whole lines of an audit file being written (a line in flight is left out)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    whole = data[: data.rfind(b"\n") + 1]
    return [json.loads(line) for line in whole.splitlines()]


def wait_for_records(
    path: Path, predicate: Callable[[list[dict[str, Any]]], bool], gate: GateProcess
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT_S
    while True:
        records = records_so_far(path)
        if predicate(records):
            return records
        if gate.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"audit {path}: {records!r}\nexit status {gate.process.poll()}\n"
                f"{gate.out}\n{gate.err}"
            )
        time.sleep(POLL_S)


def transactions(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["kind"] == "transaction"]


def numbers(records: list[dict[str, Any]]) -> list[int]:
    """The numbers of the transaction records, ``test-gate-000007`` -> 7."""
    return [int(record["transaction"].removeprefix(f"{GATE}-")) for record in records]


def is_service(record: dict[str, Any], event: str) -> bool:
    return record["kind"] == "service" and record["event"] == event and record["gate_id"] == GATE


def travellers(photos: SamplePhotos, seed: int, count: int) -> dict[str, SampleTraveller]:
    """The first ``count`` travellers the mock gate sends in today, by label."""
    stream = sample_travellers(photos, date.today(), np.random.default_rng(seed), pace=PACE)
    return {traveller.label: traveller for traveller in (next(stream) for _ in range(count))}


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


# --- 1, 2: eight travellers end to end, and what the outputs never show -----------------


@dataclass(frozen=True)
class Finished:
    """A run of the fast mock gate with --max-passengers 8."""

    status: int
    out: str
    err: str
    audit: Path
    lines: list[re.Match[str]]
    travellers: dict[str, SampleTraveller]


@pytest.fixture(scope="module")
def eight_travellers(sample_photos, tmp_path_factory) -> Finished:
    folder = tmp_path_factory.mktemp("eight")
    config = gate_file(folder)
    with running_gate("--config", config, "--max-passengers", 8, cwd=folder) as gate:
        status = gate.finish()
        assert wait_until_gone(gate.pgid) == [], "processes outlived egate run"
    return Finished(
        status,
        gate.out,
        gate.err,
        folder / "audit.jsonl",
        list(TRANSACTION_LINE.finditer(gate.out)),
        # One or two more than went through, in case the stream was drawn further.
        travellers(sample_photos, SEED, 10),
    )


def followed(ran: Finished, line: re.Match[str]) -> bool:
    """Whether a tailgater followed the traveller of this transaction line in.

    The traveller counts as genuine; the tailgater is shown on the next line.
    """
    follower = ran.travellers[line["label"]].follower
    if follower is None:
        return False
    shown = f"[{follower.id} tailgater, expected {follower.expected.outcome.value}]"
    assert ran.out[line.end() :].lstrip(" \n").startswith(shown), ran.out
    return True


@pytest.mark.slow
def test_eight_travellers_end_to_end(eight_travellers):
    ran = eight_travellers
    assert ran.status == 0, ran.err
    assert_no_traceback(ran.err)
    first = FIRST_LINE.match(ran.out)
    assert first, ran.out
    assert first["audit"] == str(ran.audit)
    assert [line["id"] for line in ran.lines] == [f"{GATE}-{n:06d}" for n in range(1, 9)], ran.out
    assert [line["label"] for line in ran.lines] == [f"P{n:04d}" for n in range(1, 9)]

    records = list(read_audit(ran.audit))
    assert is_service(records[0], "start")
    assert is_service(records[-1], "stop")
    kinds = {"service", "transaction", "alarm", "chip", "capture", "guidance"}
    assert {record["kind"] for record in records} <= kinds
    done = transactions(records)
    assert len(done) == 8
    # Each capture window the matching core judged, and each instruction given, names
    # its transaction and holds codes and scores only.
    ids = {record["transaction"] for record in done}
    captures = [record for record in records if record["kind"] == "capture"]
    assert captures and {record["transaction"] for record in captures} <= ids
    for record in captures:
        assert record["frames"] == 1 and record["liveness"] == "off", record
    codes = {"LOOK_AT_CAMERA", "STEP_CLOSER", "REMOVE_OBSTRUCTION", "TOO_DARK"}
    for record in records:
        if record["kind"] == "guidance":
            assert record["code"] in codes and record["transaction"] in ids, record
    # Each traveller's chip checks are in the trail, as codes and a signer's fingerprint.
    chips = [record for record in records if record["kind"] == "chip"]
    assert {record["transaction"] for record in chips} <= {r["transaction"] for r in done}
    for record in chips:
        assert record["inspected"] is True
        assert len(record["ds_fingerprint"]) == 64 and record["issuing_state"] is not None
    assert numbers(done) == list(range(1, 9))
    assert len({record["transaction"] for record in done}) == 8
    assert [record["time"] for record in records] == sorted(record["time"] for record in records)
    assert f"audit trail: {len(records)} records written to {ran.audit}" in ran.out

    for record, line in zip(done, ran.lines, strict=True):
        traveller = ran.travellers[line["label"]]
        assert line["kind"] == traveller.kind.value
        assert line["expected"] == traveller.expected
        assert record["gate_id"] == GATE
        assert record["transaction"] == line["id"]
        # What the gate decided is what this traveller deserves, on stdout and in the audit.
        assert record["outcome"] == line["outcome"] == traveller.expected, (record, line)
        assert tuple(record["reasons"]) == traveller.expected_reasons, (record, line)
        assert line["reasons"] == (" ".join(record["reasons"]) or "-")
        assert set(record["steps"]) <= set(STEPS)
        assert "document" in record["steps"]
        assert all(seconds >= 0 for seconds in record["steps"].values())
        assert record["duration_s"] >= 0
        assert record["duration_s"] == pytest.approx(sum(record["steps"].values()), abs=1e-3)
        if "entry" in record["steps"]:
            # Past the document, the traveller took time walking in.
            assert record["duration_s"] > 0
        if record["outcome"] == "accepted":
            assert record["capture_attempts"] >= 1
            assert 0 <= record["match_distance"] < 0.6
        assert record["document_type"] == "P"
        fields = parse_mrz(traveller.document.mrz, date.today(), repair=False).fields
        assert record["issuing_state"] == fields.issuing_state

    # Each tailgater raised an alarm.
    alarms = [record for record in records if record["kind"] == "alarm"]
    tailgaters = [line["id"] for line in ran.lines if followed(ran, line)]
    assert [alarm["reason"] for alarm in alarms] == ["TAILGATING"] * len(tailgaters)


@pytest.mark.slow
def test_the_mock_gate_catches_a_pa_failure_and_a_clone(sample_photos, tmp_path):
    config = gate_file(tmp_path, {"devices": {"emulation": {"seed": SEED_FORGED_CHIPS}}})
    with running_gate("--config", config, "--max-passengers", 2, cwd=tmp_path) as gate:
        assert gate.finish() == 0, gate.err
        assert wait_until_gone(gate.pgid) == []
    drawn = travellers(sample_photos, SEED_FORGED_CHIPS, 3)
    lines = list(TRANSACTION_LINE.finditer(gate.out))
    assert [line["label"] for line in lines] == ["P0001", "P0002"], gate.out
    for line in lines:
        traveller = drawn[line["label"]]
        assert line["kind"] == "document_fraud"
        assert line["outcome"] == traveller.expected == "rejected", gate.out
        assert line["reasons"] == " ".join(traveller.expected_reasons)
    assert {line["reasons"] for line in lines} == {"CHIP_CLONE_SUSPECTED", "CHIP_HASH_MISMATCH"}


@pytest.mark.slow
def test_the_tailgating_alarm_names_its_transaction(eight_travellers):
    records = list(read_audit(eight_travellers.audit))
    alarms = [record for record in records if record["kind"] == "alarm"]
    tailgaters = [line["id"] for line in eight_travellers.lines if followed(eight_travellers, line)]
    if not tailgaters:
        pytest.skip("no tailgater among today's first eight travellers of this seed")
    assert [alarm["transaction"] for alarm in alarms] == tailgaters


@pytest.mark.slow
def test_no_name_document_number_or_mrz_in_the_audit_or_the_output(eight_travellers):
    ran = eight_travellers
    assert ran.status == 0, ran.err
    audit_bytes = ran.audit.read_bytes()
    shown = {"audit": audit_bytes.decode("utf-8"), "stdout": ran.out, "stderr": ran.err}
    salted = Pseudonymizer.from_hex(SALT, "test salt")
    for traveller in ran.travellers.values():
        document = traveller.document
        chip_mrz = document.chip.dg1_mrz if document.chip is not None else ()
        fields = parse_mrz(document.mrz, date.today(), repair=False).fields
        secrets = {fields.document_number, *document.mrz, *chip_mrz}
        names = {fields.surname, *fields.given_names.split()}
        for where, text in shown.items():
            for secret in secrets:
                assert secret not in text, f"{traveller.label}: document data in {where}"
            for name in names:
                # As a word: LI is a surname, and NOT_ELIGIBLE is no name.
                pattern = rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])"
                assert not re.search(pattern, text), f"{traveller.label}: a name in {where}"

    records = list(read_audit(ran.audit))
    for record in records:
        assert find_personal_data(record) is None, record
    for record, line in zip(transactions(records), ran.lines, strict=True):
        traveller = ran.travellers[line["label"]]
        fields = parse_mrz(traveller.document.mrz, date.today(), repair=False).fields
        document_hash = record["document_hash"]
        assert re.fullmatch(r"[0-9a-f]{64}", document_hash), record
        assert fields.document_number not in document_hash
        # The salted hash of the gate file's salt: the same document, the same key.
        assert document_hash == salted.document_key(fields.issuing_state, fields.document_number)


@pytest.mark.slow
def test_indicator_lines_name_the_gate(eight_travellers):
    assert f"[gate {GATE}] READY (green): place your passport on the reader" in (
        eight_travellers.out
    )


# --- 3: SIGTERM and SIGINT in the middle of a transaction ---------------------------------


def _stop_mid_transaction(tmp_path: Path, signum: int, to_group: bool) -> GateProcess:
    """Run a gate, signal it while P0002 is in the gate; return the finished process."""
    config = gate_file(
        tmp_path,
        {
            "devices": {"emulation": {"seed": SEED_GENUINE_SECOND}},
            # Short, so that the traveller inside is aborted rather than waited for.
            "service": {"stop_grace_s": 0.5},
        },
    )
    with running_gate("--config", config, cwd=tmp_path) as gate:
        first = gate.wait_for_output(TRANSACTION_LINE)
        # The next traveller laid their document down: a transaction is in progress.
        gate.wait_for_output(re.compile(r"WAIT \(amber\)"), after=first.end())
        time.sleep(0.1)
        if to_group:
            os.killpg(gate.pgid, signum)  # as Ctrl-C in a terminal
        else:
            gate.signal(signum)
        status = gate.finish()
        assert status == 0, gate.err
        # The matching workers stopped with the service.
        assert wait_until_gone(gate.pgid) == []
    return gate


def _check_stopped_cleanly(gate: GateProcess, audit: Path) -> None:
    records = list(read_audit(audit))
    assert is_service(records[0], "start")
    assert is_service(records[-1], "stop")
    assert all(record["kind"] != "service" for record in records[1:-1])
    done = transactions(records)
    assert len(done) >= 1
    assert numbers(done) == list(range(1, len(done) + 1))
    lines = list(TRANSACTION_LINE.finditer(gate.out))
    assert [line["id"] for line in lines] == [record["transaction"] for record in done]
    for record, line in zip(done[:-1], lines, strict=False):
        assert record["outcome"] == line["expected"], (record, line)
    last = done[-1]
    assert last["outcome"] in NORMAL_OUTCOMES or (
        last["outcome"] == "aborted" and last["reasons"] == ["SERVICE_STOP"]
    ), last
    assert f"audit trail: {len(records)} records written to {audit}" in gate.out


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_transaction_stops_the_service_cleanly(sample_photos, tmp_path, signum):
    gate = _stop_mid_transaction(tmp_path, signum, to_group=False)
    assert_no_traceback(gate.err)
    _check_stopped_cleanly(gate, tmp_path / "audit.jsonl")


@pytest.mark.slow
def test_ctrl_c_to_the_process_group_stops_the_service_without_a_traceback(sample_photos, tmp_path):
    gate = _stop_mid_transaction(tmp_path, signal.SIGINT, to_group=True)
    _check_stopped_cleanly(gate, tmp_path / "audit.jsonl")
    assert_no_traceback(gate.err)


# --- 4: kill -9 ------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_leaves_a_readable_audit_and_a_restart_appends(sample_photos, tmp_path):
    config = gate_file(tmp_path)
    audit = tmp_path / "audit.jsonl"
    with running_gate("--config", config, cwd=tmp_path) as gate:
        wait_for_records(audit, lambda records: len(transactions(records)) >= 2, gate)
        os.killpg(gate.pgid, signal.SIGKILL)
        assert gate.process.wait(timeout=WAIT_S) == -signal.SIGKILL
        assert wait_until_gone(gate.pgid) == [], "orphans outlived the kill"
    before = list(read_audit(audit))  # every line parses
    assert is_service(before[0], "start")
    assert not any(is_service(record, "stop") for record in before)
    done = transactions(before)
    assert len(done) >= 2
    assert numbers(done) == list(range(1, len(done) + 1))
    # The audit line comes before the stdout line: at most the one in flight is not printed.
    printed = [line["id"] for line in TRANSACTION_LINE.finditer(gate.out)]
    assert printed == [record["transaction"] for record in done][: len(printed)]
    assert len(done) - len(printed) <= 1

    with running_gate("--config", config, "--max-passengers", 1, cwd=tmp_path) as again:
        assert again.finish() == 0, again.err
        assert wait_until_gone(again.pgid) == []
    assert_no_traceback(again.err)
    after = list(read_audit(audit))
    assert after[: len(before)] == before
    added = after[len(before) :]
    assert is_service(added[0], "start")
    assert is_service(added[-1], "stop")
    assert len(transactions(added)) == 1


@pytest.mark.slow
def test_kill_9_of_the_service_alone_leaves_no_worker_behind(sample_photos, tmp_path):
    config = gate_file(tmp_path)
    with running_gate("--config", config, cwd=tmp_path) as gate:
        gate.wait_for_output(TRANSACTION_LINE)
        gate.process.kill()  # the service process only, as the OOM killer would
        gate.process.wait(timeout=WAIT_S)
        assert wait_until_gone(gate.pgid, timeout_s=5) == []


# --- 5: a real Prometheus scrapes the running gate ---------------------------------------


def _total(result: list[dict[str, Any]]) -> float:
    return sum(float(series["value"][1]) for series in result)


@pytest.mark.slow
def test_prometheus_scrapes_the_running_gate(sample_photos, tmp_path):
    config = gate_file(tmp_path)
    with running_gate("--config", config, cwd=tmp_path) as gate:
        port = int(gate.wait_for_first_line()["port"])
        with running_prometheus([f"127.0.0.1:{port}"], tmp_path / "prometheus") as prometheus:
            prometheus.wait_for_targets_up()
            selector = f'gate="{GATE}"'
            outcomes = prometheus.wait_for(
                f"egate_gate_transactions_total{{{selector}}}", lambda r: _total(r) > 0
            )
            counted = {series["metric"]["outcome"] for series in outcomes if _total([series])}
            assert counted <= NORMAL_OUTCOMES
            prometheus.wait_for(
                f'egate_gate_device_up{{{selector},device="doors"}}',
                lambda r: len(r) == 1 and float(r[0]["value"][1]) == 1,
            )
            assert _total(prometheus.wait_for(f"egate_matching_jobs_total{{{selector}}}")) > 0
            (workers,) = prometheus.wait_for(f"egate_matching_workers{{{selector}}}")
            assert float(workers["value"][1]) == 1
            (build,) = prometheus.wait_for(f"egate_build_info{{{selector}}}")
            assert build["metric"]["version"] == egate.__version__
        gate.signal(signal.SIGTERM)
        assert gate.finish() == 0, gate.err
    assert_no_traceback(gate.err)


# --- 6: bad input: one line on stderr, exit 2, nothing left behind ------------------------


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


def _run_briefly(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "egate", "run", *(str(arg) for arg in args)],
        cwd=cwd,
        env=ENV,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )


def _assert_one_line_error(ran: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert ran.returncode == 2, (ran.stdout, ran.stderr)
    assert_no_traceback(ran.stderr)
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def test_a_missing_gate_file(tmp_path):
    missing = tmp_path / "missing.yaml"
    ran = _run_briefly("--config", missing, cwd=tmp_path)
    line = _assert_one_line_error(ran, str(missing), "cannot read")
    assert line.startswith("egate: error: ")
    assert _files(tmp_path) == []


def test_a_bad_field_names_file_line_and_field(tmp_path):
    config = gate_file(tmp_path, {"service": {"controller": {"capture_attempts": 0}}})
    number = next(
        index
        for index, text in enumerate(config.read_text("utf-8").splitlines(), start=1)
        if "capture_attempts" in text
    )
    before = _files(tmp_path)
    ran = _run_briefly("--config", config, cwd=tmp_path)
    _assert_one_line_error(ran, f"{config}:{number}: service.controller.capture_attempts: ")
    assert _files(tmp_path) == before


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def test_a_busy_metrics_port(tmp_path, busy_port):
    config = gate_file(tmp_path, {"service": {"metrics": {"port": busy_port}}})
    ran = _run_briefly("--config", config, cwd=tmp_path)
    _assert_one_line_error(ran, f"127.0.0.1:{busy_port}")


def test_a_busy_metrics_port_on_the_command_line(tmp_path, busy_port):
    config = gate_file(tmp_path)
    ran = _run_briefly("--config", config, "--metrics-port", busy_port, cwd=tmp_path)
    _assert_one_line_error(ran, f"127.0.0.1:{busy_port}")


def test_a_busy_metrics_port_leaves_no_audit_file(tmp_path, busy_port):
    config = gate_file(tmp_path, {"service": {"metrics": {"port": busy_port}}})
    before = _files(tmp_path)
    ran = _run_briefly("--config", config, cwd=tmp_path)
    assert ran.returncode == 2
    assert _files(tmp_path) == before


@pytest.mark.slow
def test_a_mock_gate_without_photos_leaves_no_audit_file(sample_photos, tmp_path):
    config = gate_file(tmp_path, {"devices": {"mock_camera": {"images": "no-photos"}}})
    before = _files(tmp_path)
    ran = _run_briefly("--config", config, cwd=tmp_path)
    _assert_one_line_error(ran, "no photos in", "no-photos")
    assert _files(tmp_path) == before


@pytest.mark.parametrize("under", ["a-file", "a-file/folder"])
def test_an_audit_path_under_a_regular_file(tmp_path, under):
    config = gate_file(tmp_path)
    (tmp_path / "a-file").write_text("not a folder\n", "utf-8")
    audit = tmp_path / under / "audit.jsonl"
    before = _files(tmp_path)
    ran = _run_briefly("--config", config, "--audit", audit, cwd=tmp_path)
    _assert_one_line_error(ran, f"audit trail: {audit}: ", str(audit.parent))
    assert _files(tmp_path) == before


def test_neither_config_nor_mock_is_a_usage_error(tmp_path):
    ran = _run_briefly(cwd=tmp_path)
    line = _assert_one_line_error(ran, "--config", "--mock")
    assert line.startswith("egate run: error: ")
    assert ran.stdout == ""
    assert _files(tmp_path) == []


# --- 7: devices missing at start: the gate opens degraded ----------------------------------


def _metric(port: int, name: str, **labels: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode("utf-8")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no {name} {labels} in:\n{text}")


@pytest.mark.slow
def test_missing_devices_at_start_leave_the_gate_degraded(sample_photos, tmp_path):
    reader_port, doors_port = tmp_path / "no-such-reader", tmp_path / "no-such-doors"
    config = tmp_path / "gate.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "gate_id": GATE,
                "devices": {
                    "reader": {"framing": "desko", "serial": {"port": str(reader_port)}},
                    "doors": {"serial": {"port": str(doors_port)}},
                    "chip": {"kind": "mock"},
                    "mock_camera": {"images": "samples"},
                },
                "service": {
                    "audit": {"path": "audit.jsonl"},
                    "metrics": {"port": 0},
                    "matching": {"workers": 1},
                    "startup_grace_s": 0.5,
                },
            }
        ),
        "utf-8",
    )
    audit = tmp_path / "audit.jsonl"
    with running_gate("--config", config, cwd=tmp_path) as gate:
        port = int(gate.wait_for_first_line()["port"])
        gate.wait_for_output(re.compile(r"^egate run: degraded, waiting for reader, doors$", re.M))
        records = wait_for_records(
            audit, lambda records: sum(r["kind"] == "device_fault" for r in records) >= 2, gate
        )
        faults = {r["device"]: r["reason"] for r in records if r["kind"] == "device_fault"}
        assert set(faults) == {"reader", "doors"}
        assert str(reader_port) in faults["reader"]
        assert _metric(port, "egate_gate_degraded", gate=GATE) == 1
        assert _metric(port, "egate_gate_device_up", gate=GATE, device="doors") == 0
        assert _metric(port, "egate_gate_device_up", gate=GATE, device="camera") == 1
        # Alive, but not ready: the probe names what is missing.
        status, body = get_json(port, "/healthz")
        assert (status, body["status"]) == (200, "ok"), body
        status, body = get_json(port, "/readyz")
        assert (status, body["ready"]) == (503, False), body
        assert set(body["not_ready"]) == {"reader", "doors"}
        assert str(reader_port) in body["not_ready"]["reader"]
        assert body["devices"]["camera"] == "ok"
        gate.signal(signal.SIGTERM)
        assert gate.finish() == 0, gate.err
        assert wait_until_gone(gate.pgid) == []
    assert_no_traceback(gate.err)
    records = list(read_audit(audit))
    assert is_service(records[0], "start")
    assert is_service(records[-1], "stop")
    assert transactions(records) == []
    assert "CLOSED (red): gate closed" in gate.out


# --- 8: transaction ids are never given twice, even after kill -9 ----------------------------

# Runs egate's command line with the audit trail's write wrapped: right after the
# first record that names a transaction without being its transaction record (an
# alarm), the whole process group gets SIGKILL, as a power cut or the OOM killer
# might deliver it at that worst moment.
KILL_AFTER_ALARM = textwrap.dedent(
    """
    import os, signal, sys
    from egate import audit
    from egate.cli.main import main

    write = audit.AuditTrail.write

    def write_then_die(self, record):
        write(self, record)
        if record.get("kind") == "alarm" and record.get("transaction"):
            os.killpg(os.getpgrp(), signal.SIGKILL)

    # Matching workers are spawned: they import this file, and must not run it.
    if __name__ == "__main__":
        audit.AuditTrail.write = write_then_die
        sys.exit(main(sys.argv[1:]))
    """
)


def seed_with_early_tailgater(photos: SamplePhotos) -> int:
    """A traveller stream, as drawn today, with a tailgater among its first five."""
    for seed in itertools.count(SEED):
        drawn = travellers(photos, seed, 5)
        if any(traveller.follower is not None for traveller in drawn.values()):
            return seed
    raise AssertionError("unreachable")


def runs_naming(records: list[dict[str, Any]]) -> dict[str, set[int]]:
    """Each transaction id and the runs (0, 1, ... by service start) whose records name it."""
    run = -1
    named: dict[str, set[int]] = {}
    for record in records:
        if is_service(record, "start"):
            run += 1
        if isinstance(record.get("transaction"), str):
            named.setdefault(record["transaction"], set()).add(run)
    return named


@pytest.mark.slow
def test_kill_9_between_an_alarm_and_its_transaction_never_reuses_the_id(sample_photos, tmp_path):
    seed = seed_with_early_tailgater(sample_photos)
    config = gate_file(tmp_path, {"devices": {"emulation": {"seed": seed}}})
    audit = tmp_path / "audit.jsonl"
    wrapper = tmp_path / "kill_after_alarm.py"
    wrapper.write_text(KILL_AFTER_ALARM, "utf-8")
    with running_gate("--config", config, cwd=tmp_path, program=(str(wrapper),)) as gate:
        assert gate.process.wait(timeout=WAIT_S) == -signal.SIGKILL, gate.err
        assert wait_until_gone(gate.pgid) == []
    before = list(read_audit(audit))
    alarm = before[-1]
    assert alarm["kind"] == "alarm", alarm  # the tailgater's, or any other naming a transaction
    killed = alarm["transaction"]
    # The traveller's transaction never got its own record.
    assert killed not in {record["transaction"] for record in transactions(before)}

    with running_gate("--config", config, "--max-passengers", 2, cwd=tmp_path) as again:
        assert again.finish() == 0, again.err
        assert wait_until_gone(again.pgid) == []
    assert_no_traceback(again.err)
    after = list(read_audit(audit))
    added = transactions(after[len(before) :])
    assert len(added) == 2
    # The restart numbers on after the id the alarm took.
    killed_number = int(killed.removeprefix(f"{GATE}-"))
    assert numbers(added) == [killed_number + 1, killed_number + 2]
    assert killed not in {record["transaction"] for record in added}
    # No id is named by the records of two runs: no id means two travellers.
    assert {tid: runs for tid, runs in runs_naming(after).items() if len(runs) > 1} == {}


# --- 9: SIGHUP reloads the stop list ---------------------------------------------------------


def document_of(traveller: SampleTraveller) -> tuple[str, str]:
    fields = parse_mrz(traveller.document.mrz, date.today(), repair=False).fields
    return fields.issuing_state, fields.document_number


def reloads(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if is_service(record, "reload")]


@pytest.mark.slow
def test_sighup_reloads_the_stop_list_without_a_restart(sample_photos, tmp_path):
    stop_list = tmp_path / "stop.csv"
    stop_list.write_text("issuing_state,document_number\n", "utf-8")
    config = gate_file(
        tmp_path,
        {
            "policy": {"stop_list": "stop.csv"},
            "devices": {"emulation": {"seed": SEED_GENUINE_SECOND}},
        },
    )
    audit = tmp_path / "audit.jsonl"
    stream = travellers(sample_photos, SEED_GENUINE_SECOND, 40)
    with running_gate("--config", config, cwd=tmp_path) as gate:
        first = gate.wait_for_output(TRANSACTION_LINE)
        assert "STOP_LIST_HIT" not in first["reasons"]

        # A broken file: the old (empty) list stays in force, one line says why.
        stop_list.write_text("issuing_state,document_number\nNOWHERE,X1\n", "utf-8")
        gate.signal(signal.SIGHUP)
        records = wait_for_records(audit, lambda records: len(reloads(records)) == 1, gate)
        kept = (
            f"stop list not reloaded, the previous one stays in force (0 documents): {stop_list}:2"
        )
        assert reloads(records)[0]["detail"].startswith(kept)
        gate.wait_for_output(re.compile(re.escape(f"egate run: {kept}")))

        # Every traveller of the stream is listed now.
        rows = "".join(f"{state},{number}\n" for state, number in map(document_of, stream.values()))
        stop_list.write_text(f"issuing_state,document_number\n{rows}", "utf-8")
        gate.signal(signal.SIGHUP)
        records = wait_for_records(audit, lambda records: len(reloads(records)) == 2, gate)
        listed = len({document_of(traveller) for traveller in stream.values()})
        assert reloads(records)[1]["detail"] == (
            f"stop list reloaded: {listed} documents from {stop_list}"
        )
        # The transaction in progress at the reload may have been judged before it;
        # the one after it cannot have been.
        reloaded_at = records.index(reloads(records)[1])
        records = wait_for_records(
            audit, lambda records: len(transactions(records[reloaded_at:])) >= 2, gate
        )
        judged_after = transactions(records[reloaded_at:])[1]
        gate.signal(signal.SIGTERM)
        assert gate.finish() == 0, gate.err
    assert_no_traceback(gate.err)
    assert judged_after["outcome"] == "rejected", judged_after
    assert "STOP_LIST_HIT" in judged_after["reasons"], judged_after
    # The service went on: one start, one stop, no restart in between.
    records = list(read_audit(audit))
    assert [record["event"] for record in records if record["kind"] == "service"] == [
        "start",
        "reload",
        "reload",
        "stop",
    ]
    # One warning line on stderr for the bad file, and no document number anywhere.
    assert [line for line in gate.err.splitlines() if "not reloaded" in line] != []
    assert len([line for line in gate.err.splitlines() if "not reloaded" in line]) == 1
    text = audit.read_text("utf-8") + gate.out + gate.err
    for _, number in map(document_of, stream.values()):
        assert number not in text


# --- 10: under systemd: sd_notify, /healthz and /readyz ----------------------------------------


class NotifySocket:
    """What systemd listens on for a Type=notify service: a Unix datagram socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(WAIT_S)
        self.messages: list[dict[str, str]] = []

    def wait_for(
        self, key: str, predicate: Callable[[str], bool] = lambda value: True
    ) -> dict[str, str]:
        """The next message whose ``key`` satisfies ``predicate`` (all are kept in ``messages``)."""
        while True:
            data = self.socket.recv(4096).decode("utf-8")
            message = dict(line.split("=", 1) for line in data.split("\n"))
            self.messages.append(message)
            if key in message and predicate(message[key]):
                return message

    def close(self) -> None:
        self.socket.close()


def get_json(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.mark.slow
def test_under_systemd_the_gate_notifies_and_answers_its_probes(sample_photos, tmp_path):
    config = gate_file(tmp_path)
    # AF_UNIX paths are short (108 bytes): a pytest tmp_path may be too long.
    with tempfile.TemporaryDirectory(prefix="egate-") as short:
        notify = NotifySocket(Path(short) / "notify")
        try:
            env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "2000000"}
            with running_gate("--config", config, cwd=tmp_path, env=env) as gate:
                port = int(gate.wait_for_first_line()["port"])
                ready = notify.wait_for("READY")
                assert ready["READY"] == "1"
                assert ready["STATUS"].startswith("gate ")
                assert notify.wait_for("WATCHDOG") == {"WATCHDOG": "1"}
                status, body = get_json(port, "/healthz")
                assert (status, body["status"], body["phase"]) == (200, "ok", "running"), body
                status, body = get_json(port, "/readyz")
                assert (status, body["ready"]) == (200, True), body
                assert body["devices"] == dict.fromkeys(
                    ["reader", "doors", "camera", "occupancy"], "ok"
                )
                assert body["matching"] == "ready"
                assert get_json(port, "/nowhere")[0] == 404
                # systemctl status follows the transactions.
                counted = re.compile(r"gate \w+, [1-9]\d* transactions?")
                notify.wait_for("STATUS", counted.fullmatch)
                gate.signal(signal.SIGHUP)  # systemctl reload
                assert notify.wait_for("RELOADING")["RELOADING"] == "1"
                reloaded = notify.wait_for("READY")
                assert reloaded["STATUS"] == "no stop list configured: nothing to reload"
                gate.signal(signal.SIGTERM)
                stopping = notify.wait_for("STOPPING")
                assert stopping == {"STOPPING": "1", "STATUS": "stopping: closing the gate"}
                assert gate.finish() == 0, gate.err
        finally:
            notify.close()
    assert_no_traceback(gate.err)
    assert {"STATUS": "loading the face models"} in notify.messages
