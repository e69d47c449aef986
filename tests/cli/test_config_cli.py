"""``egate config check``: a gate file checked as ``egate run`` reads it, with no device opened."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import serial
import yaml

from egate.biometrics.matching import MatchingCore
from egate.cli.main import main
from egate.documents.stoplist import StopList
from egate.privacy import Pseudonymizer

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "configs" / "gates" / "example-hardware.yaml"
MOCK = REPO / "configs" / "gates" / "mock.yaml"
SALT = "5eed" * 16
# A hang guard for the one process test, never a measure.
WAIT_S = 120.0


@pytest.fixture(autouse=True)
def no_device_is_opened(monkeypatch):
    """Opening a port, a camera, a pseudo-terminal or the matching core fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"config check opened something: {args!r}")

    monkeypatch.setattr(serial, "serial_for_url", refuse)
    monkeypatch.setattr(cv2, "VideoCapture", refuse)
    monkeypatch.setattr(os, "openpty", refuse)
    monkeypatch.setattr(MatchingCore, "__init__", refuse)
    monkeypatch.delenv("EGATE_SALT", raising=False)


def check(path: Path, capsys) -> tuple[int, str, str]:
    status = main(["config", "check", str(path)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def copy_of_example(folder: Path, edit=None) -> Path:
    """The example gate file in ``folder``, its stop list given by an absolute path."""
    text = EXAMPLE.read_text("utf-8").replace(
        "stop_list: ../stoplists/sample.csv", f"stop_list: {REPO / 'configs/stoplists/sample.csv'}"
    )
    if edit is not None:
        text = edit(text)
    path = folder / "gate.yaml"
    path.write_text(text, "utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    """The number of the first line of ``path`` that holds ``text``."""
    lines = path.read_text("utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def assert_one_line_error(status: int, out: str, err: str, *expected: str) -> str:
    assert status == 2, (out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("egate: error: ")
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def test_the_example_gate_is_fit_to_run(capsys):
    status, out, err = check(EXAMPLE, capsys)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"{EXAMPLE}: gate t2-arrivals-07 is fit to run (no device was opened)"
    summary = dict(re.fullmatch(r"  (\w+): +(.*)", line).groups() for line in lines[1:])
    assert list(summary) == [
        "policy", "salt", "devices", "service", "capture", "audit", "metrics", "console"
    ]  # fmt: skip
    assert summary["capture"] == "8 frames 0.1 s apart, liveness passive"
    sample = REPO / "configs" / "stoplists" / "sample.csv"
    listed = len(StopList.load(sample, Pseudonymizer.ephemeral()))
    assert listed > 0
    assert summary["policy"] == f"stop list {os.path.normpath(sample)}, {listed} documents"
    assert summary["salt"].startswith("random in each process")
    assert summary["devices"] == (
        "reader desko on /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10READR-if00-port0, "
        "doors on /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10DOORS-if00-port0, "
        "occupancy on /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10OCCUP-if00-port0, "
        "camera /dev/video0, chip mock"
    )
    assert summary["audit"] == "/var/lib/egate/audit.jsonl (created at start)"
    assert summary["metrics"] == "http://127.0.0.1:9464/metrics, /healthz, /readyz"
    assert summary["console"] == "/run/egate/console.sock"


def test_a_mock_gate_is_checked_without_starting_its_emulators(capsys):
    status, out, _ = check(MOCK, capsys)
    assert status == 0
    assert "  devices: emulated: reader desko on emulated" in out
    assert re.search(r"^  camera: +mock camera, [1-9]\d* photos$", out, re.MULTILINE), out


def test_a_broken_setting_names_file_line_and_field(tmp_path, capsys):
    path = copy_of_example(
        tmp_path, lambda text: text.replace("capture_attempts: 3", "capture_attempts: 0")
    )
    number = line_of(path, "capture_attempts: 0")
    status, out, err = check(path, capsys)
    assert_one_line_error(
        status,
        out,
        err,
        f"{path}:{number}: service.controller.capture_attempts: ",
        "greater than or equal to 1",
    )


def test_an_unknown_key_names_its_line(tmp_path, capsys):
    path = copy_of_example(
        tmp_path, lambda text: text.replace("      baudrate: 9600", "      baud: 9600")
    )
    number = line_of(path, "baud: 9600")
    status, out, err = check(path, capsys)
    assert_one_line_error(
        status, out, err, f"{path}:{number}: devices.reader.serial.baud: unknown field"
    )


def test_a_missing_stop_list_is_an_error(tmp_path, capsys):
    path = copy_of_example(
        tmp_path,
        lambda text: text.replace(str(REPO / "configs/stoplists/sample.csv"), "lists/stop.csv"),
    )
    number = line_of(path, "stop_list:")
    status, out, err = check(path, capsys)
    assert_one_line_error(
        status,
        out,
        err,
        f"{path}:{number}: policy.stop_list: no such file: {tmp_path}/lists/stop.csv",
    )


def test_a_bad_stop_list_row_names_the_list_s_file_and_line(tmp_path, capsys):
    stop_list = tmp_path / "stop.csv"
    stop_list.write_text("issuing_state,document_number\nUTO,X00000001\nNOWHERE,X2\n", "utf-8")
    path = copy_of_example(
        tmp_path, lambda text: text.replace(str(REPO / "configs/stoplists/sample.csv"), "stop.csv")
    )
    status, out, err = check(path, capsys)
    assert_one_line_error(status, out, err, f"{stop_list}:3: issuing_state: not an ICAO state code")


def test_a_salt_file_that_is_no_salt_is_an_error(tmp_path, capsys):
    (tmp_path / "salt.hex").write_text("not hexadecimal\n", "ascii")
    path = copy_of_example(
        tmp_path, lambda text: text.replace("salt_file: null", "salt_file: salt.hex")
    )
    status, out, err = check(path, capsys)
    line = assert_one_line_error(status, out, err, str(tmp_path / "salt.hex"))
    assert "not hexadecimal" not in line  # the salt is never shown


def test_a_missing_salt_file_names_its_line(tmp_path, capsys):
    path = copy_of_example(
        tmp_path, lambda text: text.replace("salt_file: null", "salt_file: salt.hex")
    )
    number = line_of(path, "salt_file: salt.hex")
    status, out, err = check(path, capsys)
    assert_one_line_error(status, out, err, f"{path}:{number}: privacy.salt_file: no such file")


def test_the_salt_s_source_is_named(tmp_path, capsys, monkeypatch):
    (tmp_path / "salt.hex").write_text(SALT, "ascii")
    path = copy_of_example(
        tmp_path, lambda text: text.replace("salt_file: null", "salt_file: salt.hex")
    )
    status, out, _ = check(path, capsys)
    assert status == 0
    assert f"  salt:    from {tmp_path / 'salt.hex'}\n" in out
    monkeypatch.setenv("EGATE_SALT", SALT)
    status, out, _ = check(copy_of_example(tmp_path), capsys)
    assert status == 0
    assert "  salt:    from $EGATE_SALT\n" in out
    monkeypatch.setenv("EGATE_SALT", "short")
    status, out, err = check(copy_of_example(tmp_path), capsys)
    assert_one_line_error(status, out, err, "$EGATE_SALT")


def test_a_mock_camera_without_photos_names_its_line(tmp_path, capsys):
    config = yaml.safe_load(MOCK.read_text("utf-8"))
    config["policy"].pop("stop_list", None)
    config["devices"]["mock_camera"] = {"images": "no-photos"}
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    number = line_of(path, "images: no-photos")
    status, out, err = check(path, capsys)
    assert_one_line_error(
        status,
        out,
        err,
        f"{path}:{number}: devices.mock_camera.images: mock camera: no photos in",
        str(tmp_path / "no-photos"),
    )


def audit_line(**record: object) -> str:
    return json.dumps({"time": "2026-11-26T08:14:03.512Z", "gate_id": "t2-arrivals-07", **record})


def test_an_existing_audit_trail_is_read_for_the_numbering(tmp_path, capsys):
    trail = tmp_path / "audit.jsonl"
    trail.write_text(
        "\n".join(
            [
                audit_line(kind="transaction", transaction="t2-arrivals-07-000006"),
                # Killed after the alarm of the 7th: 7 is taken all the same.
                audit_line(kind="alarm", reason="TAILGATING", transaction="t2-arrivals-07-000007"),
            ]
        )
        + "\n",
        "utf-8",
    )
    path = copy_of_example(
        tmp_path, lambda text: text.replace("/var/lib/egate/audit.jsonl", "audit.jsonl")
    )
    status, out, _ = check(path, capsys)
    assert status == 0
    assert f"  audit:   {trail} (ids go on after t2-arrivals-07-000007)\n" in out


def test_an_audit_trail_with_a_bad_line_stops_the_check(tmp_path, capsys):
    trail = tmp_path / "audit.jsonl"
    trail.write_text(audit_line(kind="service", event="start") + "\nnot json\n", "utf-8")
    path = copy_of_example(
        tmp_path, lambda text: text.replace("/var/lib/egate/audit.jsonl", "audit.jsonl")
    )
    status, out, err = check(path, capsys)
    assert_one_line_error(status, out, err, f"audit trail: {trail}:2: not JSON")


def test_an_audit_path_that_is_a_folder_names_its_line(tmp_path, capsys):
    (tmp_path / "audit.jsonl").mkdir()
    path = copy_of_example(
        tmp_path, lambda text: text.replace("/var/lib/egate/audit.jsonl", "audit.jsonl")
    )
    number = line_of(path, "path: audit.jsonl")
    status, out, err = check(path, capsys)
    assert_one_line_error(
        status, out, err, f"{path}:{number}: service.audit.path: {tmp_path / 'audit.jsonl'}: not a"
    )


def test_a_missing_file_and_no_argument(tmp_path, capsys):
    status, out, err = check(tmp_path / "missing.yaml", capsys)
    assert_one_line_error(status, out, err, f"{tmp_path / 'missing.yaml'}: cannot read")
    assert main(["config", "check"]) == 2
    assert "Missing argument 'PATH'" in capsys.readouterr().err


def test_config_check_as_a_process():
    """The command an engineer types, exit status and all."""
    ran = subprocess.run(
        [sys.executable, "-m", "egate", "config", "check", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
        env={key: value for key, value in os.environ.items() if key != "EGATE_SALT"},
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"{EXAMPLE}: gate t2-arrivals-07 is fit to run")
    assert ran.stderr == ""
