"""The audit trail: round trips, rotation, torn-tail recovery, privacy, and kill -9."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from egate.audit import (
    AuditError,
    AuditFormatError,
    AuditSettings,
    AuditTrail,
    last_transaction_number,
    read_audit,
    read_audit_rotated,
    rotated_files,
)
from egate.auditrecord import encode_record, find_personal_data
from egate.gate.commands import Outcome
from egate.gate.transaction import TransactionRecord

ROOT = Path(__file__).resolve().parent.parent

# One source for the numbered records, run by the test and by the child process.
# Every line is LINE_BYTES long, so that no line straddles a page of the file:
# Linux may cut short a write that spans pages when SIGKILL arrives between
# them, and then the kill -9 test could not insist on whole lines.
LINE_BYTES = 128
RECORD_SOURCE = f"""
from egate.auditrecord import encode_record

def record(seq):
    item = {{"kind": "test", "seq": seq, "text": "gate \\u00e9 \\u2028", "pad": ""}}
    item["pad"] = "x" * ({LINE_BYTES} - len(encode_record(item)))
    return item
"""
_namespace: dict[str, Any] = {}
exec(RECORD_SOURCE, _namespace)
record = _namespace["record"]


def test_numbered_records_fill_a_fixed_line():
    assert {len(encode_record(record(seq))) for seq in [0, 9, 10, 99_999, 10**12]} == {LINE_BYTES}
    assert record(3)["text"] == "gate \u00e9 \u2028"


def write_all(path: Path, records: list[dict[str, Any]], **options: Any) -> None:
    with AuditTrail(path, **options) as trail:
        for item in records:
            trail.write(item)


def sequence(path: Path) -> list[int]:
    return [item["seq"] for item in read_audit_rotated(path)]


# --- round trips ---------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
records = st.dictionaries(st.text(), json_values, max_size=6).filter(
    lambda item: find_personal_data(item) is None
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(records, max_size=5))
def test_records_read_back_equal(tmp_path_factory, written):
    path = tmp_path_factory.mktemp("trail") / "audit.jsonl"
    write_all(path, written, fsync=False)
    assert list(read_audit(path)) == written
    data = path.read_bytes()
    assert data.count(b"\n") == len(written)
    # Whatever the strings hold, a line is a line to every reader.
    assert len(data.decode("utf-8").splitlines()) == len(written)


def test_a_transaction_line_is_compact_and_keeps_its_order(tmp_path):
    transaction = TransactionRecord(
        transaction="t-000042",
        gate_id="t2-lane-4",
        finished_at=1_795_680_000.25,
        outcome=Outcome.ACCEPTED,
        reasons=(),
        steps={"document": 1.5, "entry": 2.0},
        duration_s=9.125,
        capture_attempts=1,
        match_distance=0.41,
        document_type="P",
        issuing_state="UTO",
        document_hash="ab" * 32,
    )
    path = tmp_path / "audit.jsonl"
    write_all(path, [transaction.to_json()])
    line = path.read_bytes()
    assert line.startswith(b'{"kind":"transaction","time":"2026-11-26T')
    assert b", " not in line and b": " not in line
    (read,) = read_audit(path)
    assert list(read) == list(transaction.to_json())
    assert read == transaction.to_json()


def test_every_record_counts(tmp_path):
    with AuditTrail(tmp_path / "audit.jsonl") as trail:
        for seq in range(3):
            trail.write(record(seq))
        assert trail.records_written == 3
        assert trail.path == tmp_path / "audit.jsonl"


def test_the_folder_is_created(tmp_path):
    path = tmp_path / "deep" / "er" / "audit.jsonl"
    write_all(path, [record(0)])
    assert sequence(path) == [0]


# --- rotation --------------------------------------------------------------------


def test_rotation_keeps_files_under_the_limit_and_drops_the_oldest(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_all(path, [record(seq) for seq in range(600)], max_bytes=4096, backups=3, fsync=False)
    files = rotated_files(path)
    assert [file.name for file in files] == [
        "audit.jsonl.3",
        "audit.jsonl.2",
        "audit.jsonl.1",
        "audit.jsonl",
    ]
    assert all(file.stat().st_size <= 4096 for file in files)
    seqs = sequence(path)
    # The newest records, none lost between the files kept, none split.
    assert seqs == list(range(seqs[0], 600))
    assert seqs[0] > 0
    for older, newer in itertools.pairwise(files):
        first = next(read_audit(newer))
        # A file was rotated only because the next line would not fit.
        assert older.stat().st_size + len(encode_record(first)) > 4096


def test_rotation_without_backups_starts_the_file_again(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_all(path, [record(seq) for seq in range(300)], max_bytes=4096, backups=0, fsync=False)
    assert rotated_files(path) == [path]
    seqs = sequence(path)
    assert seqs == list(range(seqs[0], 300))
    assert path.stat().st_size <= 4096


def test_a_record_larger_than_the_limit_gets_a_file_of_its_own(tmp_path):
    path = tmp_path / "audit.jsonl"
    big = {"kind": "test", "seq": 1, "pad": "y" * 10_000}
    write_all(path, [record(0), big, record(2)], max_bytes=4096, backups=5)
    files = rotated_files(path)
    assert [[item["seq"] for item in read_audit(file)] for file in files] == [[0], [1], [2]]
    assert files[1].stat().st_size > 4096


def test_rotation_counts_what_the_file_held_before_opening(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_all(path, [record(seq) for seq in range(30)], fsync=False)
    size = path.stat().st_size
    with AuditTrail(path, max_bytes=size + 10, fsync=False) as trail:
        trail.write(record(30))
    assert [file.name for file in rotated_files(path)] == ["audit.jsonl.1", "audit.jsonl"]
    assert sequence(path) == list(range(31))


def test_a_rotation_that_failed_halfway_is_finished_by_the_next_write(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, max_bytes=4096, backups=3, fsync=False)
    for seq in range(4096 // LINE_BYTES):
        trail.write(record(seq))

    def cannot_open() -> int:
        raise AuditError(f"{path}: cannot open the audit file: Too many open files")

    monkeypatch.setattr(trail, "_open", cannot_open)
    with pytest.raises(AuditError, match="Too many open files"):
        trail.write(record(32))
    monkeypatch.undo()
    trail.write(record(32))
    trail.write(record(33))
    trail.close()
    assert sequence(path) == list(range(34))
    assert [file.name for file in rotated_files(path)] == ["audit.jsonl.2", "audit.jsonl"]


def test_rotated_files_are_read_oldest_first_across_gaps(tmp_path):
    path = tmp_path / "audit.jsonl"
    for name, seq in [("audit.jsonl.10", 0), ("audit.jsonl.3", 1), ("audit.jsonl.1", 2)]:
        write_all(tmp_path / name, [record(seq)])
    write_all(path, [record(3)])
    (tmp_path / "audit.jsonl.old").write_text("not part of the trail")
    (tmp_path / "other.jsonl.2").write_text("nor this")
    assert sequence(path) == [0, 1, 2, 3]


def test_a_trail_caught_between_renames_reads_without_its_current_file(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_all(tmp_path / "audit.jsonl.1", [record(0)])
    assert sequence(path) == [0]


def test_no_trail_at_all_is_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"audit\.jsonl"):
        list(read_audit_rotated(tmp_path / "audit.jsonl"))


# --- torn tails --------------------------------------------------------------------


@pytest.mark.parametrize("tail", [b'{"kind":"test","se', b"\x00" * 300, b"z" * 200_000])
def test_a_torn_tail_is_cut_on_opening(tmp_path, tail):
    path = tmp_path / "audit.jsonl"
    write_all(path, [record(0), record(1)])
    whole = path.stat().st_size
    with path.open("ab") as stream:
        stream.write(tail)
    with AuditTrail(path) as trail:
        assert trail.recovered_bytes == len(tail)
        assert path.stat().st_size == whole
        trail.write(record(2))
    assert sequence(path) == [0, 1, 2]


def test_a_file_of_one_torn_line_is_emptied(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"kind":"tran')
    with AuditTrail(path) as trail:
        assert trail.recovered_bytes == 13
        trail.write(record(0))
    assert sequence(path) == [0]


def test_a_whole_file_is_left_alone(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_all(path, [record(0)])
    with AuditTrail(path) as trail:
        assert trail.recovered_bytes == 0
    with AuditTrail(tmp_path / "new.jsonl") as trail:
        assert trail.recovered_bytes == 0


# --- privacy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ({"kind": "transaction", "surname": "ERIKSSON"}, "'surname'"),
        ({"kind": "transaction", "name": "Anna"}, "'name'"),
        ({"kind": "transaction", "Given-Names": "ANNA MARIA"}, "'Given-Names'"),
        ({"kind": "transaction", "documentNumber": "L898902C3"}, "'documentNumber'"),
        ({"kind": "transaction", "MRZ": "..."}, "'MRZ'"),
        ({"kind": "x", "detail": {"face": [0.1, 0.2]}}, "'detail.face'"),
        ({"kind": "x", "detail": {"deeper": {"template": "..."}}}, "'detail.deeper.template'"),
        ({"kind": "x", "captures": [{"ok": 1}, {"image": "..."}]}, "'captures[1].image'"),
        ({"kind": "x", "descriptor": None}, "'descriptor'"),
        ({"kind": "x", "photo": ""}, "'photo'"),
        (
            {"kind": "device_fault", "reason": "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"},
            "'reason' looks like an MRZ line",
        ),
    ],
)
def test_personal_data_is_refused(tmp_path, item, named):
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail, pytest.raises(ValueError, match=re.escape(named)) as caught:
        trail.write(item)
    assert "\n" not in str(caught.value)
    assert path.read_bytes() == b""


def test_pseudonymous_fields_are_accepted(tmp_path):
    item = {
        "kind": "transaction",
        "document_hash": "0f" * 32,
        "document_type": "P",
        "issuing_state": "UTO",
        "match_distance": 0.4,
        "reasons": ["face_mismatch"],
        "transaction": "T-20261126-000042",
    }
    assert find_personal_data(item) is None
    write_all(tmp_path / "audit.jsonl", [item])
    assert list(read_audit(tmp_path / "audit.jsonl")) == [item]


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        ({"distance": float("nan")}, ValueError, "Out of range float"),
        ({"distance": float("inf")}, ValueError, "Out of range float"),
        ({"when": object()}, TypeError, "not JSON serializable"),
        ({"steps": {1: 2.0}}, TypeError, "key 1 is not a string"),
        ({"text": "\ud800"}, ValueError, "not UTF-8"),
    ],
)
def test_records_json_cannot_hold_exactly_are_refused(tmp_path, item, error, message):
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail, pytest.raises(error, match=message):
        trail.write(item)
    assert path.read_bytes() == b""


def test_a_record_is_a_mapping(tmp_path):
    with AuditTrail(tmp_path / "audit.jsonl") as trail, pytest.raises(TypeError, match="list"):
        trail.write([1, 2])  # type: ignore[arg-type]


# --- errors ------------------------------------------------------------------------


def test_a_folder_in_place_of_the_file_is_an_audit_error(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.mkdir()
    with pytest.raises(AuditError, match=r"audit\.jsonl: cannot open the audit file: Is a dir"):
        AuditTrail(path)


def test_a_file_in_place_of_the_folder_is_an_audit_error(tmp_path):
    (tmp_path / "audit").write_text("")
    with pytest.raises(AuditError, match=r"audit.jsonl: cannot create its folder") as caught:
        AuditTrail(tmp_path / "audit" / "sub" / "audit.jsonl")
    assert isinstance(caught.value, OSError)
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_a_read_only_folder_is_an_audit_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(AuditError, match=r"audit\.jsonl: .*[Pp]ermission denied"):
            AuditTrail(folder / "audit.jsonl")
    finally:
        folder.chmod(0o700)


def test_writing_after_close_raises(tmp_path):
    trail = AuditTrail(tmp_path / "audit.jsonl")
    trail.write(record(0))
    trail.close()
    trail.close()
    with pytest.raises(AuditError, match=r"audit\.jsonl: the audit trail is closed"):
        trail.write(record(1))
    assert sequence(tmp_path / "audit.jsonl") == [0]


def test_a_write_the_disk_cuts_short_leaves_no_torn_line(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path)
    trail.write(record(0))
    real_write, ours = os.write, trail._fd

    def short(fd: int, data: bytes) -> int:
        return real_write(fd, data[:10] if fd == ours else data)

    def full(fd: int, data: bytes) -> int:
        if fd == ours:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", short)
    with pytest.raises(AuditError, match=f"only 10 of {LINE_BYTES} bytes written"):
        trail.write(record(1))
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(AuditError, match="No space left on device") as caught:
        trail.write(record(1))
    assert caught.value.errno == 28
    monkeypatch.undo()
    trail.write(record(1))
    trail.close()
    assert sequence(path) == [0, 1]
    assert trail.records_written == 2


# --- reading -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"seq":0}\n{"seq":\n', r"audit.jsonl:2: not JSON: Expecting value \(column 8\)"),
        (b'{"seq":0}\n[1,2]\n', "audit.jsonl:2: not a JSON object"),
        (b'{"seq":0}\n\n', "audit.jsonl:2: not JSON"),
        (b'{"seq":0}\n{"seq":1}', "audit.jsonl:2: the last line has no newline"),
        (b'{"text":"\xff"}\n', "audit.jsonl:1: not UTF-8"),
        (b'{"x":NaN}\n', "audit.jsonl:1: NaN is not JSON"),
    ],
)
def test_a_bad_line_names_its_file_and_line(tmp_path, data, message):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(data)
    with pytest.raises(AuditFormatError, match=message) as caught:
        list(read_audit(path))
    assert str(caught.value).startswith(f"{path}:")


# --- threads -----------------------------------------------------------------------


def test_threads_share_a_trail_without_mixing_lines(tmp_path):
    path = tmp_path / "audit.jsonl"
    threads_count, each = 8, 150
    with AuditTrail(path, max_bytes=8192, backups=1000, fsync=False) as trail:

        def writer(thread: int) -> None:
            for seq in range(each):
                trail.write({"kind": "test", "thread": thread, "seq": seq, "pad": "x" * seq})

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert trail.records_written == threads_count * each
    read = list(read_audit_rotated(path))
    assert len(read) == threads_count * each
    for thread in range(threads_count):
        assert [item["seq"] for item in read if item["thread"] == thread] == list(range(each))


# --- settings ----------------------------------------------------------------------


def test_settings_defaults_and_bounds():
    defaults = AuditSettings()
    assert defaults.path == Path("audit/egate-audit.jsonl")
    assert (defaults.max_bytes, defaults.backups, defaults.fsync) == (10 * 1024 * 1024, 5, True)
    for wrong in [{"max_bytes": 4095}, {"backups": -1}, {"fsync": "yes"}, {"max_bytes": True}]:
        with pytest.raises(ValidationError):
            AuditSettings.model_validate(wrong)
    with pytest.raises(ValidationError, match="extra"):
        AuditSettings.model_validate({"rotate": 1})


def test_from_settings_resolves_a_relative_path_against_the_base(tmp_path):
    settings_ = AuditSettings(path=Path("logs/a.jsonl"), max_bytes=4096, backups=1, fsync=False)
    with AuditTrail.from_settings(settings_, tmp_path) as trail:
        assert trail.path == tmp_path / "logs" / "a.jsonl"
    absolute = AuditSettings(path=tmp_path / "b.jsonl")
    with AuditTrail.from_settings(absolute, tmp_path / "elsewhere") as trail:
        assert trail.path == tmp_path / "b.jsonl"


# --- kill -9 ------------------------------------------------------------------------

WRITER = (
    RECORD_SOURCE
    + """
import itertools, sys
from pathlib import Path
from egate.audit import AuditTrail

path, max_bytes, backups, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
trail = AuditTrail(Path(path), max_bytes=max_bytes, backups=backups)
recovered = trail.recovered_bytes
for seq in itertools.count(start):
    trail.write(record(seq))
    if seq == start + 5:
        # A few records are on disk: the test may kill us from now on.
        print("ready", recovered, flush=True)
"""
)


def written_so_far(path: Path, backups: int) -> list[int]:
    """The sequence numbers in the trail, checking that every line is whole and in order."""
    seqs: list[int] = []
    for file in rotated_files(path):
        *lines, rest = file.read_bytes().split(b"\n")
        assert rest == b"", f"{file} ends in a torn line"
        seqs.extend(json.loads(line)["seq"] for line in lines)
    if not path.with_name(f"{path.name}.{backups}").exists():
        # Nothing was dropped by rotation: the trail starts at the beginning.
        assert seqs[:1] == [0]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    return seqs


@pytest.mark.parametrize(
    ("max_bytes", "backups"),
    [(10 * 1024 * 1024, 5), (4096, 40)],
    ids=["one-file", "rotating"],
)
def test_kill_9_leaves_whole_lines_in_order(tmp_path, max_bytes, backups):
    path = tmp_path / "audit.jsonl"
    rng = random.Random(f"kill-9-{max_bytes}")
    start = 0
    for _ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(max_bytes), str(backups), str(start)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stdout is not None
        ready = child.stdout.readline().split()
        if not ready:
            child.wait()
            pytest.fail(f"the writer stopped: {child.stderr.read().decode()}")  # type: ignore[union-attr]
        # Nothing was torn by the previous kill, so nothing had to be cut.
        assert ready == [b"ready", b"0"]
        time.sleep(rng.uniform(0.0, 0.08))
        child.kill()
        child.communicate()
        seqs = written_so_far(path, backups)
        # What this run wrote follows what the previous runs wrote; at most
        # the record in flight is missing, and the next run writes it.
        assert seqs[-1] >= start + 5
        start = seqs[-1] + 1
    with AuditTrail(path, max_bytes=max_bytes, backups=backups):
        pass
    files = rotated_files(path)
    assert all(file.read_bytes().endswith(b"\n") for file in files)
    seqs = sequence(path)
    assert seqs == list(range(seqs[0], start))
    if max_bytes == 4096:
        assert len(files) > 1
        assert all(file.stat().st_size <= max_bytes for file in files)
        for older, newer in itertools.pairwise(files):
            # A kill just after a rotation can leave the newest file empty.
            for first in list(read_audit(newer))[:1]:
                assert older.stat().st_size + len(encode_record(first)) > max_bytes


# --- transaction numbering across restarts ----------------------------------------------


def write_trail(path: Path, *records: dict[str, Any]) -> None:
    with AuditTrail(path, fsync=False) as trail:
        for fields in records:
            trail.write({"time": "2026-11-26T08:14:03.512Z", "gate_id": "t2-4", **fields})


def test_no_trail_numbers_from_zero(tmp_path):
    assert last_transaction_number(tmp_path / "audit.jsonl", "t2-4") == 0


def test_every_record_that_names_a_transaction_counts(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_trail(
        path,
        {"kind": "service", "event": "start", "detail": ""},
        {"kind": "transaction", "transaction": "t2-4-000002", "outcome": "accepted"},
        # Killed after these: no transaction record holds 3 or 4.
        {"kind": "officer", "action": "refer", "transaction": "t2-4-000003"},
        {"kind": "alarm", "reason": "TAILGATING", "detail": "", "transaction": "t2-4-000004"},
        {"kind": "alarm", "reason": "DOOR_WATCHDOG", "detail": "", "transaction": None},
    )
    assert last_transaction_number(path, "t2-4") == 4


def test_other_gates_and_other_shapes_of_id_do_not_count(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_trail(
        path,
        {"kind": "transaction", "transaction": "t2-4-000005"},
        # Another gate whose id starts with this one's, and ids of no known shape.
        {"kind": "transaction", "transaction": "t2-4-1-000009"},
        {"kind": "transaction", "transaction": "t2-40-000009"},
        {"kind": "alarm", "transaction": "t2-4-\u0669\u0669"},
        {"kind": "alarm", "transaction": "t2-4-" + "9" * 40},
        {"kind": "alarm", "transaction": 12},
    )
    assert last_transaction_number(path, "t2-4") == 5
    assert last_transaction_number(path, "t2-4-1") == 9
    assert last_transaction_number(path, "t2-5") == 0


def test_numbering_reads_every_rotated_file(tmp_path):
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, max_bytes=4096, backups=3, fsync=False) as trail:
        for number in range(1, 41):
            trail.write(
                {"kind": "transaction", "transaction": f"t2-4-{number:06d}", "pad": "x" * 200}
            )
        # The newest file holds no transaction yet.
        for _ in range(20):
            trail.write({"kind": "device_fault", "device": "doors", "reason": "x" * 200})
    assert rotated_files(path)[-1] == path
    assert len(rotated_files(path)) == 4
    assert not any("transaction" in record for record in read_audit(path))
    assert last_transaction_number(path, "t2-4") == 40


def test_numbering_stops_at_a_line_that_is_not_a_record(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"kind":"alarm","transaction":"t2-4-000001"}\n{oops}\n')
    with pytest.raises(AuditFormatError, match=r"audit\.jsonl:2: not JSON"):
        last_transaction_number(path, "t2-4")
