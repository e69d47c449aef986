"""``egate replay`` as a user runs it: a real process, real emulators, real face matching."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from egate.samples import SampleError, fetch_samples

DRILL = """\
name: two travellers
description: one genuine, one impostor
start: 2026-03-14T07:30:00+08:00
gates: {count: 1, door_travel_s: 1.0}
passengers:
  - id: P1
    arrives: 07:30:02
    document: {issuing_state: CHN, surname: GAO, given_names: JUN, number: EC1000001,
               birth_date: 1979-11-23, sex: M, expiry_date: 2030-08-01}
    chip: samples:obama
    face: samples:obama3
    expected: accepted
  - id: P2
    kind: impostor
    arrives: 07:30:04
    document: {issuing_state: CHN, surname: SUN, given_names: MEILIN, number: EC1000002,
               birth_date: 1992-02-11, sex: F, expiry_date: 2033-03-01}
    chip: samples:obama
    face: samples:biden
    expected: {outcome: referred, reason: BIOMETRIC_MISMATCH}
    learn: the chip photo is someone else
"""


@pytest.fixture(scope="module", autouse=True)
def samples() -> None:
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")


def egate(*args: object, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "egate", "replay", *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write(tmp_path: Path, text: str = DRILL) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class _Checker(HTMLParser):
    """Collects tags; void elements aside, every tag must close in order."""

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.seen: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
        self.open.pop()


def test_a_replay_prints_transcript_and_scorecard_and_writes_its_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = egate(write(tmp_path), "--fast", "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith("egate replay: two travellers")
    assert any(" G1  P1 " in line and "verify" in line and "match, distance" in line
               for line in lines)  # fmt: skip
    assert "2 of 2 passengers as expected" in done.stdout
    transcript = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]
    assert transcript[0]["time"].startswith("07:30:") and transcript[0]["passenger"] == "P1"
    decisions = [entry for entry in transcript if entry["step"] == "decision"]
    assert [(d["passenger"], d["detail"]["outcome"]) for d in decisions] == [
        ("P1", "accepted"),
        ("P2", "referred"),
    ]
    card = json.loads((out / "scorecard.json").read_text())
    assert card["all_matched"] is True and card["matched"] == 2
    assert [p["actual"]["outcome"] for p in card["passengers"]] == ["accepted", "referred"]
    checker = _Checker()
    checker.feed((out / "report.html").read_text())
    checker.close()
    assert checker.open == [] and "svg" in checker.seen
    assert sorted(path.name for path in out.iterdir()) == [
        "report.html",
        "scorecard.json",
        "transcript.jsonl",
    ]
    # No traveller's name or document number in anything written.
    for path in out.iterdir():
        text = path.read_text()
        assert "GAO" not in text and "EC1000001" not in text


def test_a_wrong_expectation_exits_1_and_shows_the_mismatch(tmp_path: Path) -> None:
    wrong = DRILL.replace(
        "expected: {outcome: referred, reason: BIOMETRIC_MISMATCH}", "expected: accepted"
    )
    out = tmp_path / "out"
    done = egate(write(tmp_path, wrong), "--fast", "--out", out)
    assert done.returncode == 1, done.stderr
    assert "NOT as expected: accepted" in done.stdout
    assert "1 of 2 passengers as expected" in done.stdout
    row = next(line for line in done.stdout.splitlines() if " P2 " in line and "impostor" in line)
    assert "✗" in row and "referred: BIOMETRIC_MISMATCH" in row
    card = json.loads((out / "scorecard.json").read_text())
    assert card["all_matched"] is False
    impostor = next(p for p in card["passengers"] if p["id"] == "P2")
    assert impostor["matched"] is False
    assert impostor["expected"]["outcome"] == "accepted"
    assert impostor["actual"] == {"outcome": "referred", "reasons": ["BIOMETRIC_MISMATCH"]}


def test_json_output_is_the_scorecard_alone(tmp_path: Path) -> None:
    done = egate(write(tmp_path), "--fast", "--json")
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["all_matched"] is True and card["matched"] == card["total"] == 2


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("face: samples:obama3", "face: nowhere.jpg", ":11: passenger P1: face.photos.0: no such"),
        ("birth_date: 1992-02-11", "birth_date: 1992-02-30", ":17: passenger P2: document.birth"),
        ("id: P2", "id: P1", ":13: passenger P1: id: passenger id 'P1' is used twice"),
        (
            "someone else\n",
            "someone else\n  - id: T1\n    kind: tailgater\n    behaviour: {tailgates: P9}\n"
            "    expected: {outcome: referred, reason: TAILGATING}\n",
            ":24: passenger T1: behaviour.tailgates: no passenger 'P9'",
        ),
    ],
)
def test_bad_input_is_one_line_and_nothing_runs(
    tmp_path: Path, old: str, new: str, says: str
) -> None:
    out = tmp_path / "out"
    path = write(tmp_path, DRILL.replace(old, new))
    done = egate(path, "--fast", "--out", out)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"egate: error: {path}{says}")
    assert "steps up" not in done.stdout
    assert not any(out.iterdir())


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path)
    both = egate(path, "--fast", "--speed", "2")
    assert both.returncode == 2 and "give --speed or --fast, not both" in both.stderr
    assert egate(path, "--speed", "0").returncode == 2
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    done = egate(path, "--out", not_a_folder)
    assert done.returncode == 2 and "is a file" in done.stderr
    missing = egate(tmp_path / "none.yaml")
    assert missing.returncode == 2 and "none.yaml: cannot read" in missing.stderr


def test_an_interrupted_replay_stops_cleanly_with_status_130(tmp_path: Path) -> None:
    # At speed 4 the first passenger is done about 3 s in: stop before that.
    process = subprocess.Popen(
        [sys.executable, "-m", "egate", "replay", "--speed", "4", str(write(tmp_path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "lays the passport on the reader" in line:
            break
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=60)
    assert process.returncode == 130, errors
    assert "interrupted" in errors
    assert "passengers as expected" in rest
