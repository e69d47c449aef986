"""``egate biometrics quality``: tables, JSON and exit statuses on sample photos.

Run through the command object with click's CliRunner (``standalone_mode``
off, so the command's exit status is its return value and an input error is
raised as egate's ``main`` would see it).  One set of loaded face models is
shared by every test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from egate.biometrics.face import FaceModels
from egate.cli import biometrics as biometrics_cli
from egate.cli.biometrics_quality import quality
from egate.cli.errors import InputError
from egate.samples import grace_hopper


@pytest.fixture(scope="module")
def module_models() -> FaceModels:
    return FaceModels()


@pytest.fixture(autouse=True)
def models_loaded_once(monkeypatch, module_models):
    monkeypatch.setattr(biometrics_cli, "load_models", lambda: module_models)


@pytest.fixture(scope="module")
def hopper() -> str:
    path = grace_hopper()
    if path is None:
        pytest.skip("matplotlib's grace_hopper.jpg is not installed")
    return str(path)


@pytest.fixture
def dark_hopper(tmp_path, hopper) -> str:
    path = tmp_path / "dark.png"
    pixels = np.asarray(Image.open(hopper).convert("RGB"))
    Image.fromarray((pixels * 0.2).astype(np.uint8)).save(path)
    return str(path)


@pytest.fixture
def blank(tmp_path) -> str:
    path = tmp_path / "nobody.png"
    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(path)
    return str(path)


def run(*args: str) -> Result:
    return CliRunner().invoke(quality, list(args), standalone_mode=False, env={"COLUMNS": "160"})


def test_a_good_portrait_passes_with_its_table(hopper):
    ran = run(hopper)
    assert ran.exception is None, ran.output
    assert ran.return_value == 0
    assert "grace_hopper.jpg: quality" in ran.output
    for label in ("inter-eye distance", "yaw", "eyes open", "exposure", "sharpness", "guidance"):
        assert label in ran.output
    assert "problem:" not in ran.output


def test_json_has_one_record_per_photo(hopper, dark_hopper):
    ran = run(hopper, dark_hopper, "--json")
    assert ran.exception is None, ran.output
    records = json.loads(ran.output)
    assert [Path(record["photo"]).name for record in records] == ["grace_hopper.jpg", "dark.png"]
    good, dark = (record["quality"] for record in records)
    assert good["guidance"] is None and good["problems"] == []
    assert dark["guidance"] == "TOO_DARK"
    assert dark["measures"]["exposure"] < good["measures"]["exposure"] / 3
    assert dark["score"] < good["score"]
    # A photo with a problem makes the status 1.
    assert ran.return_value == 1


def test_a_photo_without_a_face_exits_1(blank):
    ran = run(blank)
    assert ran.return_value == 1
    assert "nobody.png: no face found" in ran.output
    as_json = json.loads(run(blank, "--json").output)
    assert as_json == [{"photo": blank, "faces": 0, "quality": None}]


def test_an_unreadable_file_is_an_input_error_and_nothing_is_printed(tmp_path, hopper):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    ran = run(hopper, str(broken))
    assert isinstance(ran.exception, InputError)
    message = str(ran.exception)
    assert "broken.jpg" in message and "\n" not in message
    assert ran.output == ""


def test_a_photo_is_required():
    ran = CliRunner().invoke(quality, [])
    assert ran.exit_code == 2
    assert "Missing argument" in ran.output
