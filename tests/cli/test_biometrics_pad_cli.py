"""``egate biometrics pad-clips`` and ``pad-eval``, through their command objects.

One sample photo and three-frame clips keep them cheap; the face models are
loaded once for the module.  The commands raise InputError for bad input,
which ``egate``'s main turns into one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from egate.biometrics.face import FaceModels
from egate.cli import biometrics_pad
from egate.cli.errors import InputError
from egate.samples import SampleError, fetch_samples


@pytest.fixture(scope="module")
def module_models() -> FaceModels:
    return FaceModels()


@pytest.fixture(autouse=True)
def models_loaded_once(monkeypatch, module_models):
    monkeypatch.setattr(biometrics_pad, "load_models", lambda: module_models)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A folder with one sample photo (a symbolic link to the fetched one)."""
    try:
        samples = fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable: {error}")
    folder = tmp_path_factory.mktemp("photos")
    (folder / "obama2.jpg").symlink_to(samples.image("obama2.jpg"))
    return folder


@pytest.fixture(scope="module")
def clips(tmp_path_factory, photos, module_models) -> Path:
    out = tmp_path_factory.mktemp("made") / "clips"
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(biometrics_pad, "load_models", lambda: module_models)
        result = runner.invoke(
            biometrics_pad.pad_clips,
            [str(out), "--photos", str(photos), "--frames", "4", "--seed", "3"],
            standalone_mode=False,
        )
    assert result.exception is None, result.output
    return out


def test_pad_clips_writes_the_documented_layout(clips):
    manifest = json.loads((clips / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["frames"] == 4
    assert manifest["clips"] == {"bona_fide": 0, "print": 2, "screen_photo": 2, "screen_video": 0}
    for species in ("print", "screen_photo"):
        for clip in ("obama2-0", "obama2-1"):
            frames = sorted(path.name for path in (clips / "attack" / species / clip).iterdir())
            assert frames == ["frame000.jpg", "frame001.jpg", "frame002.jpg", "frame003.jpg"]
    # Written under a temporary name, renamed when complete: nothing else is left beside it.
    assert [path.name for path in clips.parent.iterdir()] == ["clips"]


def test_pad_eval_reports_per_species_with_counts(clips, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        biometrics_pad.pad_eval,
        [str(clips), "--json", "--frames", "4", "--out", str(tmp_path / "out")],
        standalone_mode=False,
    )
    assert result.exception is None, result.output
    summary = json.loads(result.output)
    assert summary["frames_per_clip"] == 4
    assert set(summary["attacks"]) == {"print", "screen_photo"}
    assert summary["attacks"]["print"]["clips"] == 2
    assert summary["bona_fide"]["clips"] == 0
    assert any("no scored bona fide clip" in note for note in summary["notes"])
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == summary
    lines = (tmp_path / "out" / "scores.csv").read_text().splitlines()
    assert lines[0] == "clip,class,score,decision" and len(lines) == 5


def test_pad_eval_table(clips):
    result = CliRunner().invoke(
        biometrics_pad.pad_eval, [str(clips), "--frames", "3"], standalone_mode=False
    )
    assert result.exception is None, result.output
    assert "print" in result.output and "screen_photo" in result.output
    assert "APCER (worst species)" in result.output


def run_failing(command, arguments) -> str:
    result = CliRunner().invoke(command, arguments, standalone_mode=False)
    assert isinstance(result.exception, InputError), result.output
    message = str(result.exception)
    assert "\n" not in message
    return message


def test_pad_eval_refuses_a_folder_without_the_layout(tmp_path):
    message = run_failing(biometrics_pad.pad_eval, [str(tmp_path)])
    assert "neither bona_fide/ nor attack/<species>/" in message


def test_pad_eval_names_an_unreadable_clip(tmp_path):
    clip = tmp_path / "attack" / "print" / "broken"
    clip.mkdir(parents=True)
    (clip / "frame0.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    assert "frame0.jpg" in run_failing(biometrics_pad.pad_eval, [str(tmp_path)])


def test_pad_clips_refuses_a_folder_that_is_not_empty(tmp_path, photos):
    (tmp_path / "kept.txt").write_text("mine")
    message = run_failing(biometrics_pad.pad_clips, [str(tmp_path), "--photos", str(photos)])
    assert "exists and is not an empty folder" in message
    assert [path.name for path in tmp_path.iterdir()] == ["kept.txt"]


def test_pad_clips_names_an_unreadable_video(tmp_path, photos):
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"nothing")
    message = run_failing(
        biometrics_pad.pad_clips,
        [str(tmp_path / "out"), "--photos", str(photos), "--video", str(video), "--frames", "2"],
    )
    assert "broken.mp4" in message
    assert not (tmp_path / "out").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["broken.mp4"]
