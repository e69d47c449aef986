"""The device naming guide and its udev rules: the rules parse, the examples are real settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from udev_rules import Pair, UdevRuleError, load_udev_rules, parse_rules

from egate.config import load_config
from egate.documents.layout import MrzFormat
from egate.documents.specimens import SPECIMENS
from hardware.devices import DeviceSettings, HardwareGateConfig

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "configs" / "udev" / "99-egate.rules"
GUIDE = ROOT / "docs" / "devices.md"
JPEG = b"\xff\xd8\xff\xe0 a photo"


def values(rule: list[Pair], key: str) -> list[str]:
    return [pair.value for pair in rule if pair.key == key]


def yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, flags=re.DOTALL)


class TestShippedRules:
    def test_every_rule_names_a_device_and_hands_it_to_egate(self):
        rules = load_udev_rules(RULES)
        assert len(rules) >= 4
        for rule in rules:
            [symlink] = values(rule, "SYMLINK")
            assert symlink.startswith("egate-")
            assert [p.operator for p in rule if p.key == "SYMLINK"] == ["+="]
            assert values(rule, "GROUP") == ["egate"]
            assert values(rule, "MODE") == ["0660"]
            [subsystem] = values(rule, "SUBSYSTEM")
            assert subsystem in ("tty", "video4linux")
            if subsystem == "tty":
                # ModemManager must not probe a door board with AT commands.
                assert Pair("ENV", "ID_MM_DEVICE_IGNORE", "=", "1") in rule

    def test_each_name_is_given_once(self):
        names = [values(rule, "SYMLINK")[0] for rule in load_udev_rules(RULES)]
        assert len(names) == len(set(names))

    def test_the_guide_uses_the_rules_names(self):
        names = {f"/dev/{values(rule, 'SYMLINK')[0]}" for rule in load_udev_rules(RULES)}
        used = set(re.findall(r"/dev/egate-[a-z-]+", GUIDE.read_text()))
        assert used and used <= names


class TestParser:
    def test_a_rule(self):
        text = (
            '# a comment\n\nSUBSYSTEM=="tty", ATTRS{serial}!="X", \\\n'
            '  SYMLINK+="egate-x", MODE="660", ENV{ID_MM_DEVICE_IGNORE}="1"\n'
        )
        assert parse_rules(text) == [
            [
                Pair("SUBSYSTEM", None, "==", "tty"),
                Pair("ATTRS", "serial", "!=", "X"),
                Pair("SYMLINK", None, "+=", "egate-x"),
                Pair("MODE", None, "=", "660"),
                Pair("ENV", "ID_MM_DEVICE_IGNORE", "=", "1"),
            ]
        ]

    @pytest.mark.parametrize(
        ("line", "problem"),
        [
            ('SUBSYSTEM="tty", GROUP="egate"', "SUBSYSTEM: cannot be assigned"),
            ('SUBSYSTEM=="tty", MODE=="0660"', "MODE: cannot be matched"),
            ('SUBSYSTEM=="tty", COLOUR="red"', "COLOUR: unknown key"),
            ('SUBSYSTEM=="tty" GROUP="egate"', "expected ','"),
            ("SUBSYSTEM==tty, GROUP=egate", 'not KEY<op>"value"'),
            ('SUBSYSTEM=="tty", MODE="rw"', "not an octal mode"),
            ('ATTRS=="x", GROUP="egate"', "ATTRS: needs an {attribute}"),
            ('SUBSYSTEM{x}=="tty", GROUP="egate"', "takes no {attribute}"),
            ('SUBSYSTEM=="tty", KERNEL=="ttyUSB0"', "a rule that does nothing"),
            ('GROUP="egate"', "a rule that matches nothing"),
            ('SUBSYSTEM=="tty", GROUP="egate" \\', "a continuation with nothing after it"),
        ],
    )
    def test_bad_rules(self, line, problem):
        with pytest.raises(UdevRuleError, match=re.escape(problem)):
            parse_rules(f"# rules\n{line}\n")


class TestGuideExamples:
    def test_the_example_gate_file_is_valid(self, tmp_path):
        [gate] = [block for block in yaml_blocks(GUIDE.read_text()) if "gate_id:" in block]
        documents = tmp_path / "test-documents"
        documents.mkdir()
        (documents / "specimen.mrz").write_text("\n".join(SPECIMENS[MrzFormat.TD3]))
        (documents / "specimen.jpg").write_bytes(JPEG)
        path = tmp_path / "gate.yaml"
        path.write_text(gate)
        config = load_config(path, HardwareGateConfig)
        devices = config.devices
        assert devices.doors is not None and devices.doors.identity == "T2-07-DOORS"
        assert devices.occupancy is not None and devices.occupancy.identity == "T2-07-OCC"
        assert devices.chip is not None and devices.chip.documents == documents

    def test_the_fragments_are_valid_device_settings(self, tmp_path):
        fragments = [block for block in yaml_blocks(GUIDE.read_text()) if "gate_id:" not in block]
        assert fragments
        for fragment in fragments:
            path = tmp_path / "gate.yaml"
            path.write_text("gate_id: lab-1\n" + fragment)
            load_config(path, HardwareGateConfig)

    def test_the_settings_table_names_real_keys(self):
        rows = re.findall(r"^\| (`[a-z_.]+`(?:, `[a-z_.]+`)*) \|", GUIDE.read_text(), re.MULTILINE)
        keys = [key for row in rows for key in re.findall(r"`([a-z_.]+)`", row)]
        assert "doors.identity" in keys and "occupancy.kind" in keys
        for key in keys:
            model: object = DeviceSettings
            for part in key.split("."):
                fields = getattr(model, "model_fields", {})
                assert part in fields, f"docs/devices.md names {key}, which is no setting"
                annotation = fields[part].annotation
                model = next(
                    (
                        arg
                        for arg in (*getattr(annotation, "__args__", ()), annotation)
                        if hasattr(arg, "model_fields")
                    ),
                    annotation,
                )
