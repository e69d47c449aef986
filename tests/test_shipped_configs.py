"""Every file shipped under configs/ loads with the loader of its folder.

A new folder under configs/ needs a loader here; until it has one, its files
fail this test rather than go unchecked.
"""

from __future__ import annotations

import configparser
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from udev_rules import load_udev_rules

from egate.config import ConfigError, load_config
from egate.documents.policy import DocumentPolicy
from egate.documents.stoplist import StopList
from egate.privacy import Pseudonymizer
from egate.samples import SampleError, fetch_samples
from hardware.devices import HardwareGateConfig, OccupancyDevice
from simulation.config import load_hall
from station.training.scenario import load_scenario

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SALT = b"shipped-configs-test-salt"


def load_gate(path: Path) -> None:
    config = load_config(path, HardwareGateConfig)
    # The files it names load too: a policy with its stop list.
    DocumentPolicy.from_settings(config.policy, Pseudonymizer(SALT))


def load_stop_list(path: Path) -> None:
    StopList.load(path, Pseudonymizer(SALT))


def load_airport(path: Path) -> None:
    config = load_hall(path)
    # Every distribution can be built (files named in it are found).
    steps = config.gates.steps
    for spec in (steps.document, steps.entry, steps.capture, steps.verify, steps.exit):
        spec.build(path.parent)


def load_airport_schedule(path: Path) -> None:
    # A CSV flight schedule is read by the hall files that name it: one must.
    halls = [hall for hall in path.parent.glob("*.yaml") if path.name in hall.read_text("utf-8")]
    assert halls, f"{path.name}: no hall file in {path.parent.name}/ names it"
    for hall in halls:
        assert load_hall(hall).arrivals.timetable()


def load_training_scenario(path: Path) -> None:
    # Scenarios show the sample photos: they must be there to check the paths.
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    assert load_scenario(path).passengers


# What a dashboard and a unit say (metric names, ExecStart, hardening) is
# checked in test_dashboard.py; here they must at least load.
def load_dashboard(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["panels"], f"{path.name}: a dashboard without panels"


def load_systemd_unit(path: Path) -> None:
    # strict=False: systemd allows a key more than once in a section.
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    assert {"Unit", "Service", "Install"} <= set(parser.sections())


def load_udev(path: Path) -> None:
    # The rules' contents are checked in test_device_docs.py.
    assert load_udev_rules(path)


# (folder under configs/, file suffix) -> how such a file is loaded
LOADERS: dict[tuple[str, str], Callable[[Path], None]] = {
    ("gates", ".yaml"): load_gate,
    ("airports", ".yaml"): load_airport,
    ("airports", ".csv"): load_airport_schedule,
    ("scenarios", ".yaml"): load_training_scenario,
    ("stoplists", ".csv"): load_stop_list,
    ("grafana", ".json"): load_dashboard,
    ("systemd", ".service"): load_systemd_unit,
    ("udev", ".rules"): load_udev,
}


def shipped_files() -> list[Path]:
    return sorted(path for path in CONFIGS.rglob("*") if path.is_file())


def test_there_are_shipped_files_of_every_known_kind():
    kinds = {(path.relative_to(CONFIGS).parts[0], path.suffix) for path in shipped_files()}
    assert set(LOADERS) <= kinds


@pytest.mark.parametrize("path", shipped_files(), ids=lambda path: str(path.relative_to(CONFIGS)))
def test_the_file_loads(path: Path):
    relative = path.relative_to(CONFIGS)
    kind = (relative.parts[0] if len(relative.parts) > 1 else "", path.suffix)
    loader = LOADERS.get(kind)
    if loader is None:
        pytest.fail(
            f"configs/{relative}: no loader for {kind[1] or 'suffix-less'} files in "
            f"configs/{kind[0]}; add one to LOADERS in {Path(__file__).name}"
        )
    loader(path)


def test_the_mock_gate():
    config = load_config(CONFIGS / "gates" / "mock.yaml", HardwareGateConfig)
    assert config.gate_id == "mock-1"
    assert config.policy.stop_list is not None
    assert config.policy.stop_list.resolve() == CONFIGS / "stoplists" / "sample.csv"
    assert config.policy.eligible_document_types == ("P", "I")
    assert config.privacy.salt_file is None


def test_the_hardware_example():
    example = CONFIGS / "gates" / "example-hardware.yaml"
    config = load_config(example, HardwareGateConfig)
    assert config.gate_id == "t2-arrivals-07"
    # Loadable from the repository: the sample list, relative to configs/gates/.
    assert config.policy.stop_list is not None
    assert config.policy.stop_list.resolve() == CONFIGS / "stoplists" / "sample.csv"
    devices = config.devices
    assert not devices.emulated
    assert devices.reader is not None and devices.reader.framing == "desko"
    assert devices.reader.desko is None  # 1C/1D; another pair is shown commented
    assert devices.doors is not None and devices.doors.identity == "T2-07-DOORS"
    assert devices.doors.commands.reopen_after == 3
    occupancy = devices.occupancy
    assert isinstance(occupancy, OccupancyDevice)
    assert (occupancy.identity, occupancy.kind, occupancy.passage_window_s) == (
        "T2-07-OCC",
        "auto",
        1.5,
    )
    # The commissioning option (test documents) is shown, commented.
    assert devices.chip is not None and (devices.chip.kind, devices.chip.documents) == (
        "mock",
        None,
    )
    text = example.read_text("utf-8")
    assert "# documents: /etc/egate/test-documents" in text
    # So is the PC/SC reader, with its trust store.
    assert "# kind: pcsc" in text and "# trust: /etc/egate/csca" in text


def test_the_hardware_example_shows_a_stable_name_for_every_serial_port():
    lines = (CONFIGS / "gates" / "example-hardware.yaml").read_text("utf-8").splitlines()
    ports = [number for number, line in enumerate(lines) if line.strip().startswith("port: /dev/")]
    assert len(ports) == 3
    by_id = "port: /dev/serial/by-id/usb-"
    for number in ports:
        # A by-id name, or a placeholder with the by-id name commented over it.
        shown = lines[number].strip() if "by-id" in lines[number] else lines[number - 1].strip()
        assert shown.startswith((by_id, f"# {by_id}")), f"line {number + 1}: {lines[number]}"


def test_the_hardware_example_copied_to_a_gate_needs_an_absolute_stop_list(tmp_path):
    # /etc/egate/gate.yaml, say: ../stoplists/sample.csv is not there, as the
    # comment over the stop list says.
    text = (CONFIGS / "gates" / "example-hardware.yaml").read_text("utf-8")
    copy = tmp_path / "gate.yaml"
    copy.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=r"policy\.stop_list: no such file"):
        load_config(copy, HardwareGateConfig)
    comment = text[: text.index("stop_list: ../stoplists/sample.csv")].rsplit("policy:", 1)[1]
    assert "GIVE AN ABSOLUTE PATH" in comment
    absolute = CONFIGS / "stoplists" / "sample.csv"
    copy.write_text(
        text.replace("stop_list: ../stoplists/sample.csv", f"stop_list: {absolute}"), "utf-8"
    )
    assert load_config(copy, HardwareGateConfig).policy.stop_list == absolute


def test_the_sample_stop_list_lists_its_fictitious_documents():
    stop_list = StopList.load(CONFIGS / "stoplists" / "sample.csv", Pseudonymizer(SALT))
    assert stop_list.lists("UTO", "X00000001")
    assert stop_list.lists("D", "C01X00T47")
    # The ICAO specimen passport itself (L898902C) is not listed.
    assert not stop_list.lists("UTO", "L898902C")
