"""``egate biometrics``: verify, eval and bench on the sample faces.

The photos are the face_recognition samples in the per-user cache (fetched
once per machine; these tests skip without them) and matplotlib's portrait;
folders and pairs files are built in tmp_path from symbolic links to them.
Most tests reuse one set of loaded face models instead of loading them per
command.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from egate.biometrics.benchmark import CALIBRATION_FORMAT
from egate.biometrics.face import FaceModels
from egate.biometrics.verifier import VerifierSettings
from egate.cli import biometrics as biometrics_cli
from egate.samples import SampleError, SampleSet, fetch_samples, grace_hopper

VERIFY_KEYS = {"decision", "distance", "threshold", "reason", "timings"}


@pytest.fixture(scope="session")
def sample_faces() -> SampleSet:
    """The face_recognition 1.3.0 test photos, fetched once into the per-user cache."""
    try:
        sample_set = fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    if grace_hopper() is None:
        pytest.skip("matplotlib's grace_hopper.jpg is not installed")
    return sample_set


@pytest.fixture(scope="session")
def session_models() -> FaceModels:
    return FaceModels()


@pytest.fixture
def models_loaded_once(monkeypatch, session_models):
    """The commands use the session's face models instead of loading their own."""
    monkeypatch.setattr(biometrics_cli, "load_models", lambda: session_models)


@pytest.fixture
def photo(sample_faces):
    """``photo("obama.jpg")``: the path of a sample photo."""
    return lambda name: str(sample_faces.image(name))


@pytest.fixture
def blank_png(tmp_path) -> str:
    path = tmp_path / "empty-gate.png"
    Image.fromarray(np.full((480, 640, 3), 128, dtype=np.uint8)).save(path)
    return str(path)


def link(target: Path, *parts: str) -> Path:
    """A symbolic link at ``parts`` (under tmp_path) to a sample photo."""
    path = Path(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


@pytest.fixture
def identities(tmp_path, sample_faces) -> Path:
    """obama x3 (genuine pairs), biden and grace_hopper (impostors), as identity folders."""
    root = tmp_path / "identities"
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg"):
        link(sample_faces.image(name), root, "obama", name)
    link(sample_faces.image("biden.jpg"), root, "biden", "biden.jpg")
    link(sample_faces.image("grace_hopper.jpg"), root, "hopper", "grace_hopper.jpg")
    return root


# --- verify ------------------------------------------------------------------------


def test_verify_genuine_pair_json(cli, photo):
    # The one run that loads the face models the way the command does.
    ran = cli("biometrics", "verify", photo("obama.jpg"), photo("obama2.jpg"), "--json")
    assert ran.status == 0, ran.err
    result = json.loads(ran.out)
    assert set(result) >= VERIFY_KEYS
    assert result["decision"] == "match"
    assert 0 < result["distance"] < 0.6
    assert result["threshold"] == 0.6
    assert result["reason"] is None
    timings = result["timings"]
    assert {"decode", "reference_decode", "detect", "descriptor", "compare"} <= set(timings)
    assert {"reference_detect", "reference_descriptor"} <= set(timings)
    assert all(seconds >= 0 for seconds in timings.values())
    assert ran.err == ""


@pytest.mark.usefixtures("models_loaded_once")
def test_verify_impostor_exits_1(cli, photo):
    ran = cli("biometrics", "verify", photo("obama.jpg"), photo("biden.jpg"), "--json")
    assert ran.status == 1
    result = json.loads(ran.out)
    assert result["decision"] == "no_match"
    assert result["reason"] == "BIOMETRIC_MISMATCH"
    assert result["distance"] > 0.6


@pytest.mark.usefixtures("models_loaded_once")
def test_verify_threshold_option(cli, photo):
    # obama / obama2 lie about 0.37 apart: a match at 0.6, not at 0.3.
    ran = cli(
        "biometrics", "verify", photo("obama.jpg"), photo("obama2.jpg"), "--json",
        "--threshold", "0.3",
    )  # fmt: skip
    assert ran.status == 1
    result = json.loads(ran.out)
    assert (result["decision"], result["threshold"]) == ("no_match", 0.3)


@pytest.mark.usefixtures("models_loaded_once")
def test_verify_blank_frame_is_a_failure_to_acquire(cli, photo, blank_png):
    ran = cli("biometrics", "verify", photo("obama.jpg"), blank_png, "--json")
    assert ran.status == 1
    result = json.loads(ran.out)
    assert result["decision"] == "failure_to_acquire"
    assert result["reason"] == "FACE_NOT_FOUND"
    assert result["distance"] is None


@pytest.mark.usefixtures("models_loaded_once")
def test_verify_reference_without_face(cli, photo, blank_png):
    ran = cli("biometrics", "verify", blank_png, photo("obama.jpg"), "--json")
    assert ran.status == 1
    assert json.loads(ran.out)["reason"] == "REFERENCE_FACE_NOT_FOUND"


@pytest.mark.usefixtures("models_loaded_once")
def test_verify_table(cli, photo):
    ran = cli("biometrics", "verify", photo("obama.jpg"), photo("biden.jpg"))
    assert ran.status == 1
    assert "obama.jpg vs biden.jpg" in ran.out
    assert "no_match" in ran.out
    assert "BIOMETRIC_MISMATCH" in ran.out
    assert "(threshold 0.6)" in ran.out


def test_verify_non_image_exits_2_with_one_line(egate_process, photo, tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("this is not a photo\n")
    ran = egate_process("biometrics", "verify", photo("obama.jpg"), str(notes), "--json")
    assert ran.returncode == 2
    assert ran.stdout == b""
    assert ran.stderr.decode() == f"egate: error: {notes}: not an image in a format egate reads\n"


def test_verify_truncated_reference_exits_2(cli, photo, tmp_path):
    half = tmp_path / "half.jpg"
    whole = Path(photo("obama.jpg")).read_bytes()
    half.write_bytes(whole[: len(whole) // 2])
    ran = cli("biometrics", "verify", str(half), photo("obama2.jpg"))
    assert ran.status == 2
    assert ran.err.startswith(f"egate: error: {half}: damaged image data")
    assert ran.err.count("\n") == 1
    assert ran.out == ""


def test_verify_missing_file_exits_2(cli, photo, tmp_path):
    missing = tmp_path / "nobody.jpg"
    ran = cli("biometrics", "verify", photo("obama.jpg"), str(missing))
    assert ran.status == 2
    assert ran.err == f"egate: error: {missing}: cannot read: No such file or directory\n"


@pytest.mark.parametrize("threshold", ["0", "3", "-1", "2", "nan", "NaN", "inf", "sixty"])
def test_verify_threshold_out_of_range_exits_2(cli, photo, threshold):
    ran = cli(
        "biometrics", "verify", photo("obama.jpg"), photo("obama2.jpg"), "--threshold", threshold
    )
    assert ran.status == 2
    assert ran.err.startswith("egate biometrics verify: error: Invalid value for '--threshold'")
    assert ran.err.count("\n") == 1


# A DirectDraw Surface header Pillow's DDS plugin answers with NotImplementedError.
DDS = (
    b"DDS "
    + struct.pack("<I", 124)
    + struct.pack("<3I", 0x1007, 8, 8)
    + bytes(56)
    + struct.pack("<4I", 32, 0, 0, 0)
    + bytes(40)
)


def test_verify_dds_named_jpg_exits_2_with_one_line(egate_process, blank_png, tmp_path):
    # It used to escape as NotImplementedError: a traceback and exit 1, "no match".
    live = tmp_path / "live.jpg"
    live.write_bytes(DDS)
    ran = egate_process("biometrics", "verify", blank_png, str(live))
    assert ran.returncode == 2
    assert ran.stdout == b""
    assert ran.stderr.decode() == f"egate: error: {live}: not an image in a format egate reads\n"


def test_verify_fifo_exits_2_without_waiting_for_a_writer(blank_png, tmp_path):
    fifo = tmp_path / "live.jpg"
    os.mkfifo(fifo)
    ran = subprocess.run(
        [sys.executable, "-m", "egate", "biometrics", "verify", blank_png, str(fifo)],
        capture_output=True,
        timeout=120,  # a hang guard: open() on a FIFO used to block for ever
        check=False,
    )
    assert ran.returncode == 2
    assert ran.stdout == b""
    assert ran.stderr.decode() == f"egate: error: {fifo}: a FIFO (named pipe), not an image file\n"


def test_verify_reference_too_many_pixels_exits_2(cli, blank_png, tmp_path):
    big = tmp_path / "poster.png"
    Image.new("L", (8000, 5001)).save(big)
    ran = cli("biometrics", "verify", str(big), blank_png)
    assert ran.status == 2
    assert ran.err == (f"egate: error: {big}: 8000x5001 pixels, more than the 40,000,000 allowed\n")


# --- eval --------------------------------------------------------------------------


def check_summary(summary: dict, genuine: int, impostor: int) -> None:
    assert summary["photos"] == 5
    assert summary["comparisons"] == {"genuine": genuine, "impostor": impostor, "skipped": 0}
    assert summary["failure_to_acquire"]["count"] == 0
    assert summary["eer"]["rate"] == 0.0  # these people are far apart
    assert summary["at_thresholds"]["0.60"] == {"fmr": 0.0, "fnmr": 0.0}
    points = summary["operating_points"]
    assert [point["target_fmr"] for point in points] == [0.0005, 0.001]
    for point in points:
        assert point["measurable"] is False
        assert point["fmr"] == 0.0
        assert point["fmr_upper_bound_95"] == round(3 / impostor, 6)
    assert len(summary["notes"]) == 2
    assert f"this rests on {impostor}" in summary["notes"][0]


@pytest.mark.usefixtures("models_loaded_once")
def test_eval_folder_json_and_out(cli, identities, tmp_path):
    out = tmp_path / "report"
    ran = cli("biometrics", "eval", str(identities), "--json", "--out", str(out))
    assert ran.status == 0, ran.err
    summary = json.loads(ran.out)
    # obama: 3 photos -> 3 genuine pairs; 3 x 1 + 3 x 1 + 1 x 1 impostor pairs.
    check_summary(summary, genuine=3, impostor=7)
    assert sorted(path.name for path in out.iterdir()) == ["det.png", "rates.csv", "summary.json"]
    assert (out / "det.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    lines = (out / "rates.csv").read_text().splitlines()
    assert lines[0].startswith("threshold,fmr,fnmr,")
    assert len(lines) == 62  # 0.30 to 0.90 by 0.01
    assert json.loads((out / "summary.json").read_text()) == summary


@pytest.mark.usefixtures("models_loaded_once")
def test_eval_pairs_csv_and_table(cli, identities):
    pairs = identities / "pairs.csv"
    pairs.write_text(
        "file_x,file_y,same\n"
        "obama/obama.jpg,obama/obama2.jpg,yes\n"
        "obama/obama.jpg,obama/obama3.jpg,TRUE\n"
        "obama/obama.jpg,biden/biden.jpg,no\n"
        "hopper/grace_hopper.jpg,biden/biden.jpg,0\n"
        "obama/obama2.jpg,hopper/grace_hopper.jpg,False\n"
    )
    ran = cli("biometrics", "eval", str(pairs), "--target-fmr", "0.2")
    assert ran.status == 0, ran.err
    assert "2 genuine, 3 impostor, 0 skipped" in ran.out
    assert "FMR <= 20.00%" in ran.out
    assert "not measurable" in ran.out
    assert "note: FMR 0.05% needs at least 2000 impostor comparisons" in ran.out


@pytest.mark.usefixtures("models_loaded_once")
def test_eval_counts_failures_to_acquire(cli, identities, blank_png):
    Path(blank_png).rename(identities / "biden" / "nobody.png")
    ran = cli("biometrics", "eval", str(identities), "--json")
    assert ran.status == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["photos"] == 6
    assert summary["failure_to_acquire"] == {
        "count": 1,
        "rate": round(1 / 6, 6),
        "reasons": {"REFERENCE_FACE_NOT_FOUND": 1},
    }
    # The blank photo's pairs: 1 genuine (with biden) and 3 + 1 impostor pairs.
    assert summary["comparisons"] == {"genuine": 3, "impostor": 7, "skipped": 5}


@pytest.mark.usefixtures("models_loaded_once")
def test_eval_with_an_undecodable_photo_exits_2_naming_it(cli, identities):
    # An unreadable file is an error in the data set, not a failure to acquire.
    broken = identities / "biden" / "biden2.jpg"
    broken.write_bytes(DDS)
    ran = cli("biometrics", "eval", str(identities), "--json")
    assert ran.status == 2
    assert ran.out == ""
    assert ran.err == f"egate: error: {broken}: not an image in a format egate reads\n"


def test_eval_pairs_csv_naming_a_fifo_exits_2(cli, tmp_path):
    os.mkfifo(tmp_path / "live.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "ref.png")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("file_x,file_y,same\nref.png,live.jpg,yes\n")
    ran = cli("biometrics", "eval", str(pairs))
    assert ran.status == 2
    assert ran.err == (
        f"egate: error: {pairs}:2: file_y: not a regular file: {tmp_path / 'live.jpg'}\n"
    )


def test_bad_pairs_csv_exits_2_naming_file_and_line(cli, identities):
    pairs = identities / "pairs.csv"
    pairs.write_text(
        "file_x,file_y,same\nobama/obama.jpg,obama/obama2.jpg,yes\nobama/obama.jpg,biden/biden.jpg,perhaps\n"
    )
    ran = cli("biometrics", "eval", str(pairs))
    assert ran.status == 2
    assert ran.err == (f"egate: error: {pairs}:3: same: expected yes/no, true/false or 1/0\n")


@pytest.mark.parametrize("target", ["0", "1.5", "nan", "-0.1"])
def test_eval_target_fmr_out_of_range_exits_2(cli, identities, target):
    ran = cli("biometrics", "eval", str(identities), "--target-fmr", target)
    assert ran.status == 2
    assert ran.err.startswith("egate biometrics eval: error: Invalid value for '--target-fmr'")
    assert ran.err.count("\n") == 1


def test_eval_of_a_folder_without_identities_exits_2(cli, tmp_path):
    ran = cli("biometrics", "eval", str(tmp_path))
    assert ran.status == 2
    assert "no identity sub-folders with photos" in ran.err


# --- bench -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("models_loaded_once")
def test_bench_json_and_calibration(cli, sample_faces, tmp_path):
    if importlib.util.find_spec("face_recognition") is None:
        pytest.skip("face_recognition is not installed: no naive path to measure")
    images = tmp_path / "images"
    link(sample_faces.image("obama2.jpg"), images, "obama2.jpg")
    link(sample_faces.image("grace_hopper.jpg"), images, "grace_hopper.jpg")
    calibration = tmp_path / "calib.json"
    ran = cli(
        "biometrics", "bench", "--images", str(images), "--rounds", "1", "--workers", "1",
        "--json", "--out", str(calibration),
    )  # fmt: skip
    assert ran.status == 0, ran.err
    report = json.loads(ran.out)
    assert set(report["by_size"]) == {"photo"}
    photo_row = report["by_size"]["photo"]
    assert photo_row["images"] == 2
    assert photo_row["naive_mean_seconds"] > 0 and photo_row["egate_mean_seconds"] > 0
    assert photo_row["speedup"] == pytest.approx(
        photo_row["naive_mean_seconds"] / photo_row["egate_mean_seconds"]
    )
    for stage in ("decode", "detect", "descriptor"):
        assert 0 <= report["stages"][stage]["p50"] <= report["stages"][stage]["p95"]
    assert report["decisions"] == {"pairs_compared": 1, "differing": []}
    assert list(report["verifications_per_second"]) == ["1"]
    assert report["verifications_per_second"]["1"] > 0
    assert 0 < report["descriptor_share"] < 1
    assert report["naive_measured"] is True
    assert photo_row["naive_mean_cpu_seconds"] > 0 and photo_row["egate_mean_cpu_seconds"] > 0
    # egate's path on the threads a lone verifier takes here, and on one beside it.
    assert report["threads"] == VerifierSettings().threads_for()
    if report["threads"] > 1:
        assert photo_row["single_thread_mean_seconds"] > 0
        assert photo_row["single_thread_speedup"] == pytest.approx(
            photo_row["naive_mean_seconds"] / photo_row["single_thread_mean_seconds"]
        )
    else:
        assert photo_row["single_thread_mean_seconds"] is None
    # The descriptor on ONNX Runtime, with numpy and dlib timed on the same chips.
    assert report["descriptor_runtime"] == "onnx"
    assert report["descriptor_numpy"]["p50"] > 0
    reference = report["descriptor_reference"]
    assert reference["max_abs_difference"] < 1e-5 and reference["differing"] == []
    capture = report["capture_window"]
    assert (capture["frames"], capture["size"]) == (10, "1280x720")
    assert 0 < capture["cpu_seconds_best"] <= capture["cpu_seconds_p50"]
    assert capture["frames_with_a_face"] == 10
    # How busy the machine was besides the run (Linux's /proc/stat).
    host = report["host"]
    if Path("/proc/stat").exists():
        assert host["seconds"] > 0 and host["other_processors"] >= 0
        assert 0 <= host["steal_share"] <= 1
    else:
        assert host is None

    data = json.loads(calibration.read_text())
    assert data["format"] == CALIBRATION_FORMAT == "egate-matching-calibration/1"
    service = data["service_time_seconds"]
    assert service["distribution"] == "empirical"
    assert service["samples"] and all(value > 0 for value in service["samples"])
    assert min(service["samples"]) <= service["p50"] <= service["p95"] <= max(service["samples"])
    assert data["workers"] == 1
    assert data["verifications_per_second"]["1"] > 0


@pytest.mark.usefixtures("models_loaded_once")
def test_bench_with_a_damaged_image_exits_2(cli, sample_faces, tmp_path):
    link(sample_faces.image("grace_hopper.jpg"), tmp_path, "grace_hopper.jpg")
    whole = sample_faces.image("obama2.jpg").read_bytes()
    (tmp_path / "half.jpg").write_bytes(whole[: len(whole) // 2])
    ran = cli("biometrics", "bench", "--images", str(tmp_path), "--rounds", "1", "--workers", "1")
    assert ran.status == 2
    assert ran.err.startswith(f"egate: error: {tmp_path / 'half.jpg'}: damaged image data: ")
    assert ran.err.count("\n") == 1


def test_bench_without_images_exits_2(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("no photos here")
    ran = cli("biometrics", "bench", "--images", str(tmp_path), "--workers", "1")
    assert ran.status == 2
    assert ran.err == f"egate: error: {tmp_path}: no images (.jpg, .png, .jp2, ...) in it\n"


def test_the_bench_table_names_the_second_threads_gain_and_the_other_work(capsys):
    from egate.cli.biometrics import show_bench

    row = {
        "images": 15,
        "naive_mean_seconds": 0.350,
        "egate_mean_seconds": 0.018,
        "speedup": 0.350 / 0.018,
        "naive_mean_cpu_seconds": 0.350,
        "egate_mean_cpu_seconds": 0.027,
        "cpu_speedup": 0.350 / 0.027,
        "single_thread_mean_seconds": 0.024,
        "single_thread_speedup": 0.350 / 0.024,
        "single_thread_mean_cpu_seconds": 0.025,
        "single_thread_cpu_speedup": 0.350 / 0.025,
    }
    report = {
        "threads": 2,
        "by_size": {"photo": row},
        "stages": {"detect": {"p50": 0.006, "p95": 0.009}},
        "descriptor_share": 0.2,
        "descriptor_runtime": "onnx",
        "descriptor_reference": None,
        "descriptor_numpy": None,
        "capture_window": None,
        "naive_measured": True,
        "decisions": {"pairs_compared": 105, "differing": []},
        "verifications_per_second": {"1": 68.2, "2": 90.8},
        "host": {"seconds": 44.2, "other_processors": 0.013, "steal_share": 0.0021},
    }
    show_bench(report)
    out = " ".join(capsys.readouterr().out.split())
    assert "egate on one thread, photo: 24 ms (14.58x)" in out
    assert "2 threads ran 1.33x as fast" in out
    assert "other work on this machine during the run: 0.01 processors on average" in out
    assert "steal 0.2% (over 44 s)" in out
    assert "2 workers: 90.8/s" in out
