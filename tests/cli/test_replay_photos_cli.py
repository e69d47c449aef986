"""``egate replay --photos DIR``: a shared photo library the scenario's photo paths resolve in."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from egate.samples import SampleError, fetch_samples, installed_samples

DRILL = """\
name: library drill
start: 2026-03-14T07:30:00+08:00
gates: {count: 1, door_travel_s: 1.0}
passengers:
  - id: P1
    document: {issuing_state: CHN, surname: GAO, given_names: JUN, number: EC1000001,
               birth_date: 1979-11-23, sex: M, expiry_date: 2030-08-01}
    chip: people/obama.jpg
    face: people/obama3.jpg
    expected: accepted
"""


def egate(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "egate", "replay", *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture
def drill(tmp_path: Path) -> Path:
    folder = tmp_path / "drills"
    folder.mkdir()
    path = folder / "drill.yaml"
    path.write_text(DRILL, encoding="utf-8")
    return path


def test_a_replay_finds_its_photos_under_the_photos_folder(tmp_path: Path, drill: Path) -> None:
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    samples = installed_samples()
    assert samples is not None
    people = tmp_path / "library" / "people"
    people.mkdir(parents=True)
    for name in ("obama", "obama3"):
        shutil.copy(samples.image(f"{name}.jpg"), people / f"{name}.jpg")
    done = egate(drill, "--fast", "--json", "--photos", tmp_path / "library")
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["passengers"][0]["id"] == "P1"
    assert card["passengers"][0]["actual"]["outcome"] == "accepted"


def test_without_it_the_photos_are_looked_for_beside_the_scenario(drill: Path) -> None:
    done = egate(drill, "--fast")
    assert done.returncode == 2
    assert done.stderr == (
        f"egate: error: {drill}:8: passenger P1: chip.photo: no such image file: "
        f"{drill.parent}/people/obama.jpg (got 'people/obama.jpg') (and 2 more)\n"
    )


def test_a_photos_folder_that_is_missing_is_refused(tmp_path: Path, drill: Path) -> None:
    done = egate(drill, "--fast", "--photos", tmp_path / "none")
    assert done.returncode == 2
    assert done.stderr == (
        f"egate: error: --photos {tmp_path}/none: no such folder: {tmp_path}/none\n"
    )
