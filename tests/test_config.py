"""Loading gate configuration files: values, relative paths, and one-line errors."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

import egate.config
from egate.config import MAX_CONFIG_BYTES, ConfigError, GateConfig, load_config
from hardware.devices import DeviceSettings, EmulationSettings, HardwareGateConfig
from hardware.emulators.occupancy import PassageOrder

STOP_LIST = "issuing_state,document_number\nUTO,X00000001\n"


def write(folder: Path, text: str, name: str = "gate.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, GateConfig)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_complete_file(tmp_path: Path):
    (tmp_path / "stop.csv").write_text(STOP_LIST)
    (tmp_path / "salt.hex").write_text("00" * 32)
    path = write(
        tmp_path,
        """\
# Terminal 2, lane 4
gate_id: T2-lane.4_a
policy:
  min_age_years: 16
  eligible_nationalities: [D, FRA, UTO]
  eligible_document_types: [P, ID, "I<"]
  min_remaining_validity_days: 90
  duplicate_window_s: 1800.5
  stop_list: stop.csv
privacy:
  salt_file: salt.hex
""",
    )
    config = load_config(path, GateConfig)

    assert config.gate_id == "T2-lane.4_a"
    assert config.policy.min_age_years == 16
    assert config.policy.eligible_nationalities == ("D", "FRA", "UTO")
    assert config.policy.eligible_document_types == ("P", "ID", "I<")
    assert config.policy.min_remaining_validity_days == 90
    assert config.policy.duplicate_window_s == 1800.5
    assert config.policy.stop_list == tmp_path / "stop.csv"
    assert config.privacy.salt_file == tmp_path / "salt.hex"


def test_only_the_gate_id_is_required(tmp_path: Path):
    config = load_config(write(tmp_path, "gate_id: g1\n"), GateConfig)
    assert config.gate_id == "g1"
    assert config.policy.min_age_years == 12
    assert config.policy.eligible_document_types == ("P",)
    assert config.policy.stop_list is None
    assert config.privacy.salt_file is None


def test_relative_paths_are_read_from_the_configuration_folder(tmp_path: Path, monkeypatch):
    gates = tmp_path / "configs" / "gates"
    lists = tmp_path / "configs" / "stoplists"
    gates.mkdir(parents=True)
    lists.mkdir()
    (lists / "stop.csv").write_text(STOP_LIST)
    (gates / "salt.hex").write_text("00" * 32)
    path = write(
        gates,
        "gate_id: g1\n"
        "policy:\n  stop_list: ../stoplists/stop.csv\n"
        "privacy:\n  salt_file: salt.hex\n",
    )
    # Wherever the process runs from.
    monkeypatch.chdir(tmp_path)

    config = load_config(Path("configs/gates/gate.yaml"), GateConfig)

    assert config.policy.stop_list is not None
    assert config.policy.stop_list.resolve() == (lists / "stop.csv").resolve()
    assert config.privacy.salt_file is not None
    assert config.privacy.salt_file.resolve() == (gates / "salt.hex").resolve()
    assert load_config(path, GateConfig).policy.stop_list == gates / "../stoplists/stop.csv"


def test_an_absolute_stop_list_path(tmp_path: Path):
    (tmp_path / "stop.csv").write_text(STOP_LIST)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    path = write(folder, f"gate_id: g1\npolicy:\n  stop_list: {tmp_path / 'stop.csv'}\n")
    assert load_config(path, GateConfig).policy.stop_list == tmp_path / "stop.csv"


# Each bad file: its text, then the message after "<path>:".
BAD_FILES = {
    "unknown field": (
        "gate_id: g1\npolicy:\n  min_age: 10\n",
        "3: policy.min_age: unknown field (expected one of: min_age_years, "
        "eligible_nationalities, eligible_document_types, min_remaining_validity_days, "
        "duplicate_window_s, stop_list, chip)",
    ),
    "unknown top-level field": (
        "gate_id: g1\n\ngates: 3\n",
        "3: gates: unknown field (expected one of: gate_id, policy, privacy, service)",
    ),
    "wrong type": (
        "gate_id: g1\npolicy:\n  min_age_years: twelve\n",
        "3: policy.min_age_years: Input should be a valid integer (got 'twelve')",
    ),
    "a yes for a number": (
        "gate_id: g1\npolicy:\n  duplicate_window_s: off\n",
        "3: policy.duplicate_window_s: Input should be a valid number (got False)",
    ),
    "a string for a list": (
        "gate_id: g1\npolicy:\n  eligible_nationalities: UTO\n",
        "3: policy.eligible_nationalities: Input should be a valid tuple (got 'UTO')",
    ),
    "out of range": (
        "gate_id: g1\npolicy:\n  min_age_years: -3\n",
        "3: policy.min_age_years: Input should be greater than or equal to 0 (got -3)",
    ),
    "too large": (
        "gate_id: g1\npolicy:\n\n  duplicate_window_s: 1.0e+12\n",
        "4: policy.duplicate_window_s: Input should be less than or equal to 2678400 "
        "(got 1000000000000.0)",
    ),
    "missing gate_id": (
        "policy:\n  min_age_years: 10\n",
        "1: gate_id: required field is missing",
    ),
    "empty file": ("", " gate_id: required field is missing"),
    "only comments": ("# nothing yet\n", " gate_id: required field is missing"),
    "bad gate_id": (
        "gate_id: 'lane 4'\n",
        "1: gate_id: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' "
        "(got 'lane 4')",
    ),
    "unknown nationality": (
        "gate_id: g1\npolicy:\n  eligible_nationalities:\n    - UTO\n    - XYZ\n",
        "4: policy.eligible_nationalities: 'XYZ' is not an ICAO state code (or '*') "
        "(got ['UTO', 'XYZ'])",
    ),
    "malformed document code": (
        "gate_id: g1\npolicy:\n  eligible_document_types: [P, passport]\n",
        "3: policy.eligible_document_types: 'passport' is not a document code such as P, "
        "P< or ID (got ['P', 'passport'])",
    ),
    "a list inside the list": (
        "gate_id: g1\npolicy:\n  eligible_nationalities:\n    - UTO\n    - [D]\n",
        "5: policy.eligible_nationalities.1: Input should be a valid string (got ['D'])",
    ),
    "missing stop list": (
        "gate_id: g1\npolicy:\n  stop_list: lists/none.csv\n",
        "3: policy.stop_list: no such file: {folder}/lists/none.csv (got 'lists/none.csv')",
    ),
    "missing salt file": (
        "gate_id: g1\nprivacy:\n  salt_file: secret.hex\n",
        "3: privacy.salt_file: no such file: {folder}/secret.hex (got 'secret.hex')",
    ),
    "an empty section": (
        "gate_id: g1\npolicy:\n",
        "2: policy: Input should be a valid dictionary or instance of DocumentPolicySettings "
        "(got None)",
    ),
    "several errors": (
        "gate_id: g1\npolicy:\n  min_age_years: -1\n  min_remaining_validity_days: -1\n",
        "3: policy.min_age_years: Input should be greater than or equal to 0 (got -1) (and 1 more)",
    ),
    "a key set twice": (
        "gate_id: g1\npolicy:\n  min_age_years: 10\n  stop_list: null\n  min_age_years: 14\n",
        "5: policy.min_age_years: set twice (first on line 3)",
    ),
    "a section set twice": (
        "gate_id: g1\npolicy:\n  min_age_years: 10\nprivacy: {}\npolicy:\n  min_age_years: 1\n",
        "5: policy: set twice (first on line 2)",
    ),
    "invalid YAML": (
        "gate_id: g1\npolicy:\n  min_age_years: 12\n   stop_list: x\nprivacy: {}\n",
        "4: not valid YAML: mapping values are not allowed here",
    ),
    "an unclosed list": (
        "gate_id: g1\npolicy:\n  eligible_nationalities: [UTO,\n",
        "4: not valid YAML: expected the node content, but found '<stream end>'",
    ),
    "a number YAML reads as text": (
        "gate_id: g1\npolicy:\n  duplicate_window_s: 1e3\n",
        "3: policy.duplicate_window_s: Input should be a valid number (got '1e3')",
    ),
    "a tab": (
        "gate_id: g1\npolicy:\n\tmin_age_years: 3\n",
        "3: not valid YAML: found character '\\t' that cannot start any token",
    ),
    "two documents": (
        "gate_id: g1\n---\ngate_id: g2\n",
        "2: not valid YAML: but found another document",
    ),
    "a python tag": (
        "gate_id: !!python/object/apply:os.system [echo]\n",
        "1: not valid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    "a list at the top": (
        "- gate_id: g1\n- gate_id: g2\n",
        " expected a mapping of settings, found list",
    ),
    "a scalar at the top": ("g1\n", " expected a mapping of settings, found str"),
    "nested too deeply": (
        "gate_id: g1\nx: " + "[" * 600 + "]" * 600 + "\n",
        " not valid YAML: nested too deeply",
    ),
}


@pytest.mark.parametrize(("text", "expected"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_errors_are_one_line_naming_file_line_field_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}:" + expected.replace("{folder}", str(tmp_path))


def test_an_alias_chain_gives_a_short_message(tmp_path: Path):
    # Each alias nests the list before it one level deeper; a plain repr of
    # the value would recurse thousands of levels.
    lines = ["anchors:", "  a0: &a0 [UTO]"]
    lines += [f"  a{level}: &a{level} [*a{level - 1}]" for level in range(1, 1200)]
    lines += ["gate_id: g1", "policy:", "  eligible_nationalities: [*a1199]"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert error_of(path) == (
        f"{path}:1201: policy.eligible_nationalities.0: Input should be a valid string "
        "(got [[...]]) (and 2 more)"
    )


def test_an_alias_bomb_gives_a_short_message(tmp_path: Path):
    lines = ["anchors:", "  a0: &a0 [UTO, UTO, UTO, UTO, UTO, UTO, UTO, UTO, UTO]"]
    lines += [
        f"  a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]" for level in range(1, 6)
    ]
    lines += ["gate_id: g1", "policy:", "  eligible_nationalities: [*a5]"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    message = error_of(path)
    # The line is where the offending value is defined: the last anchor.
    assert message.startswith(f"{path}:7: policy.eligible_nationalities.0: ")
    assert len(message) < len(str(path)) + 150


def test_control_characters_in_a_value_stay_on_one_line(tmp_path: Path):
    path = write(tmp_path, 'gate_id: g1\npolicy:\n  stop_list: "a\\nb\\u001b[31m.csv"\n')
    message = error_of(path)
    assert message.startswith(f"{path}:3: policy.stop_list: no such file: ")
    assert "\x1b" not in message
    assert "\\n" in message


def test_bytes_that_are_not_utf8_name_the_line(tmp_path: Path):
    path = tmp_path / "gate.yaml"
    path.write_bytes("gate_id: g1\npolicy:\n  # Zürich\n".encode("latin-1"))
    assert error_of(path) == f"{path}:3: not UTF-8 text (byte 26)"


def test_a_missing_file(tmp_path: Path):
    path = tmp_path / "absent.yaml"
    assert error_of(path) == f"{path}: cannot read: No such file or directory"


def test_a_folder_is_not_a_configuration(tmp_path: Path):
    assert error_of(tmp_path) == f"{tmp_path}: cannot read: Is a directory"


def test_an_oversized_file(tmp_path: Path):
    path = tmp_path / "gate.yaml"
    path.write_bytes(b"gate_id: g1\n" + b"# padding\n" * (MAX_CONFIG_BYTES // 10))
    assert path.stat().st_size > MAX_CONFIG_BYTES
    assert error_of(path) == (
        f"{path}: more than {MAX_CONFIG_BYTES} bytes, too big for a configuration file"
    )


def test_the_limit_itself_is_allowed(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(egate.config, "MAX_CONFIG_BYTES", 40)
    path = tmp_path / "gate.yaml"
    path.write_bytes(b"gate_id: g1\n" + b"#" * 28)
    assert load_config(path, GateConfig).gate_id == "g1"
    path.write_bytes(b"gate_id: g1\n" + b"#" * 29)
    assert error_of(path) == f"{path}: more than 40 bytes, too big for a configuration file"


def test_the_configuration_is_frozen(tmp_path: Path):
    config = load_config(write(tmp_path, "gate_id: g1\n"), GateConfig)
    with pytest.raises(ValueError, match="frozen"):
        config.gate_id = "g2"


# --- docs/configuration.md against the device settings ------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
# Device settings whose own keys are documented on another page.
DOCUMENTED_ELSEWHERE = {"mock_camera.variation": "docs/cameras.md"}
REQUIRED = "required"
# A row of a settings table: its keys (`a.b`, `c`) and its default column.
ROW = re.compile(r"^\| (?P<keys>`[a-z_.]+`(?:, `[a-z_.]+`)*) \| (?P<default>[^|]*?) \|")


@dataclass(frozen=True)
class DocumentedKey:
    key: str  # under devices, e.g. occupancy.commands.reopen_after
    default: str  # as the table gives it, backticks removed ("see below" and the like too)


def devices_section() -> str:
    return DOCS.read_text("utf-8").split("\n## `devices`\n", 1)[1].split("\n## ", 1)[0]


def documented_device_keys() -> list[DocumentedKey]:
    """The keys of the tables of the devices section, each with its documented default.

    A table's keys are under the names its ``###`` heading gives in backticks
    (each of them: `reader.serial`, `doors.serial`, ...), or under ``devices``
    itself before the first heading.
    """
    found: list[DocumentedKey] = []
    prefixes = [""]
    for line in devices_section().splitlines():
        if line.startswith("### "):
            prefixes = [f"{name}." for name in re.findall(r"`([a-z_.]+)`", line)] or [""]
        row = ROW.match(line)
        if row is None:
            continue
        names = re.findall(r"`([a-z_.]+)`", row["keys"])
        defaults = [value.strip().strip("`") for value in row["default"].split(", ")]
        if len(defaults) != len(names):
            defaults = [row["default"].replace("`", "").strip()] * len(names)
        for name, default in zip(names, defaults, strict=True):
            found += [DocumentedKey(prefix + name, default) for prefix in prefixes]
    return found


def settings_model(annotation: object) -> type[BaseModel] | None:
    """The settings model a field holds, through None, unions and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        model = settings_model(argument)
        if model is not None:
            return model
    return None


def device_fields(
    model: type[BaseModel] = DeviceSettings, prefix: str = ""
) -> dict[str, FieldInfo]:
    """Every setting under ``devices``, by its dotted key."""
    fields: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        key = prefix + name
        fields[key] = field
        inner = settings_model(field.annotation)
        if inner is not None and key not in DOCUMENTED_ELSEWHERE:
            fields |= device_fields(inner, key + ".")
    return fields


def default_as_documented(field: FieldInfo) -> object:
    """A field's default as a documented default reads: required, none, true, 4096, "1C"."""
    if field.is_required():
        return REQUIRED
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return value


def read_default(text: str) -> object:
    """A documented default as a value: "1C" a byte, numbers as numbers, words as words."""
    if re.fullmatch(r'"[0-9A-F]{2}"', text):
        return int(text.strip('"'), 16)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def test_every_documented_device_key_is_a_setting_with_that_default():
    fields = device_fields()
    documented = documented_device_keys()
    # What issue 12 added is documented (and the rest, see the next test).
    keys = {entry.key for entry in documented}
    assert {
        "reader.desko.start",
        "reader.desko.end",
        "reader.no_frame_limit_bytes",
        "doors.identity",
        "occupancy.identity",
        "doors.commands.reopen_after",
        "occupancy.kind",
        "occupancy.passage_window_s",
        "chip.documents",
        "emulation.interlock",
        "emulation.occupancy_order",
    } <= keys
    for entry in documented:
        assert entry.key in fields, f"docs/configuration.md documents devices.{entry.key}"
        model_default = default_as_documented(fields[entry.key])
        documented_default = read_default(entry.default)
        if isinstance(model_default, int | float):
            # Numbers compare as numbers (10 is 10.0); a DESKO byte is "1C" in the docs.
            assert documented_default == model_default, entry
        else:
            assert str(documented_default) == str(model_default), entry


def test_every_device_setting_is_documented():
    documented = {entry.key for entry in documented_device_keys()}
    # A key documented whole (a DESKO pair as desko.start and desko.end) counts.
    missing = [
        key
        for key, field in device_fields().items()
        if key not in documented
        and (settings_model(field.annotation) is None or key in DOCUMENTED_ELSEWHERE)
    ]
    assert missing == [], f"devices settings missing from docs/configuration.md: {missing}"


def test_the_devices_example_in_the_docs_loads(tmp_path: Path):
    [example] = re.findall(r"```yaml\n(.*?)```", devices_section(), flags=re.DOTALL)
    config = load_config(write(tmp_path, "gate_id: lab-1\n" + example), HardwareGateConfig)
    devices = config.devices
    assert devices.reader is not None and devices.reader.serial.port.startswith("/dev/serial/")
    assert devices.doors is not None and devices.doors.identity == "T2-07-DOORS"
    assert devices.occupancy is not None
    assert (devices.occupancy.identity, devices.occupancy.kind) == ("T2-07-OCC", "beams")


def test_emulation_settings_of_the_mock_gate(tmp_path: Path):
    text = "gate_id: lab-1\ndevices:\n  emulation: {interlock: true, occupancy_order: %s}\n"
    config = load_config(write(tmp_path, text % "broken_count_clear"), HardwareGateConfig)
    emulation = config.devices.emulation
    assert emulation.door_board().interlock is True
    assert emulation.door_board().travel_s == 2.0
    assert emulation.occupancy_sensor().order is PassageOrder.BROKEN_COUNT_CLEAR
    # Today's behaviour by default.
    default = EmulationSettings()
    assert default.door_board().interlock is False
    assert default.occupancy_sensor().order is PassageOrder.BROKEN_CLEAR_COUNT
    # The protocol's own spelling has commas, which a YAML flow mapping would split.
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text % "count-broken-clear"), HardwareGateConfig)
    assert str(caught.value).startswith(
        f"{tmp_path / 'gate.yaml'}:3: devices.emulation.occupancy_order: Input should be "
        "'broken_clear_count', 'broken_count_clear' or 'count_broken_clear'"
    )
