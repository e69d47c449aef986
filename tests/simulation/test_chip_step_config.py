"""``gates.steps.chip`` in a hall file: from the chips travellers carry, or from measured reads.

The measured reads come from ``egate chip read --json`` (one JSON object per
read, appended to a file) or a CSV with a ``seconds`` column; a file that
cannot be used is one line naming the file, the line and the field.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from egate.chiptime import ChipAirTime, ChipProfile, read_seconds
from egate.config import ConfigError
from simulation.chipread import ChipReadTime
from simulation.config import load_hall
from simulation.hall import Hall
from simulation.measured import load_chip_reads

TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)

HALL = """\
name: one gate reading chips
start: "06:00"
horizon: "07:00"
arrivals:
  rate: [{from: "06:00", per_hour: 60}]
gates:
  count: 1
  steps:
    chip: CHIP
replications: 1
"""


def hall_file(folder: Path, chip: str) -> Path:
    path = folder / "hall.yaml"
    path.write_text(HALL.replace("CHIP", chip))
    return path


def read(**fields: object) -> dict[str, object]:
    """A read as `egate chip read --json` prints it (the fields that matter here)."""
    return {
        "source": "virtual chip chips/anna",
        "status": "OK",
        "timings": [
            {"step": "access control", "seconds": 0.675282, "apdus": 9},
            {"step": "read DG2", "seconds": 2.645234, "apdus": 212},
        ],
        "seconds": 3.320516,
        "apdus": 221,
    } | fields


def write(path: Path, *reads: object) -> Path:
    path.write_text("".join(json.dumps(one, indent=2) + "\n" for one in reads))
    return path


def test_reads_of_egate_chip_read_json_appended_to_a_file(cli, tmp_path):
    image = tmp_path / "face.jpg"
    Image.new("RGB", (240, 320), (150, 120, 100)).save(image, "JPEG")
    assert cli("pki", "init", str(tmp_path / "pki")).status == 0
    mrz = [option for line in TD3 for option in ("--mrz", line)]
    issued = cli(
        "chip", "issue", *mrz, "--photo", str(image), "--pki", str(tmp_path / "pki"),
        "--out", str(tmp_path / "chip"), "--aa", "--air-time", "none",
    )  # fmt: skip
    assert issued.status == 0, issued.err
    reads = tmp_path / "reads.json"
    seconds = []
    for _ in range(2):
        ran = cli(
            "chip", "read", "--virtual", str(tmp_path / "chip"), *mrz,
            "--trust", str(tmp_path / "pki"), "--json",
        )  # fmt: skip
        assert ran.status == 0, ran.err
        seconds.append(json.loads(ran.out)["seconds"])
        with reads.open("a") as stream:
            stream.write(ran.out)
    assert list(load_chip_reads(reads).values) == seconds


def test_a_json_array_of_reads_reads_without_seconds_and_a_csv(tmp_path):
    array = tmp_path / "array.json"
    array.write_text(json.dumps([read(seconds=3.320516), read(seconds=3.320516)]))
    assert list(load_chip_reads(array).values) == [3.320516, 3.320516]
    timings_only = {key: value for key, value in read().items() if key != "seconds"}
    assert load_chip_reads(write(tmp_path / "t.json", timings_only)).values[0] == pytest.approx(
        3.320516
    )
    csv = tmp_path / "reads.csv"
    csv.write_text("reader,seconds\nA,3.5\nB,7.25\n\n")
    assert list(load_chip_reads(csv).values) == [3.5, 7.25]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            lambda p: write(p / "r.json", read(), read(seconds="fast")),
            r"r\.json:\d+: read 2: seconds: 'fast' is not a number$",
        ),
        (
            lambda p: write(p / "r.json", read(), read(status="ABSENT")),
            r"r\.json:21: read 2: status: 'ABSENT': only a chip that was read times a read$",
        ),
        (
            lambda p: write(p / "r.json", read(seconds=9.5)),
            r"r\.json:16: read 1: seconds: 9\.5 s, but its timings add up to 3\.32052 s$",
        ),
        (
            lambda p: write(p / "r.json", read(timings=[{"step": "x", "seconds": -1}])),
            r"r\.json:4: read 1: timings\[0\]\.seconds: -1 is not a duration",
        ),
        (
            lambda p: (p / "r.json").write_text('{"seconds": 3.1}\n{"seconds": 2.0,\n'),
            r"r\.json:3: not valid JSON: ",
        ),
        (lambda p: (p / "r.json").write_text("[]"), r"r\.json: no chip reads"),
        (lambda p: (p / "r.json").write_text("[3.5]"), r"r\.json:1: read 1: expected the JSON"),
        (
            lambda p: (p / "r.csv").write_text("seconds\n3.5\nslow\n"),
            r"r\.csv:3: column 'seconds': 'slow' is not a number$",
        ),
        (
            lambda p: (p / "r.csv").write_text("time\n3.5\n"),
            r"r\.csv:1: no column 'seconds' \(columns: 'time'\)$",
        ),
    ],
    ids=[
        "not-a-number",
        "not-read",
        "timings-disagree",
        "negative-step",
        "broken-json",
        "empty",
        "not-an-object",
        "csv-cell",
        "csv-column",
    ],
)
def test_a_bad_chip_reads_file_is_one_line_naming_file_line_and_field(tmp_path, content, message):
    content(tmp_path)
    path = next(tmp_path.glob("r.*"))
    with pytest.raises(ValueError, match=message) as caught:
        load_chip_reads(path)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_bad_chip_reads_file_named_in_a_hall_is_a_configuration_error(tmp_path):
    write(tmp_path / "reads.json", read(seconds=-2))
    hall = hall_file(tmp_path, "{kind: chip_reads, file: reads.json}")
    with pytest.raises(
        ConfigError,
        match=r"hall\.yaml:9: gates\.steps\.chip.*reads\.json:\d+: "
        r"read 1: seconds: -2 is not a duration",
    ):
        load_hall(hall)


def test_chips_population_in_yaml(tmp_path):
    chip = """
      kind: chip_air_time
      photo_bytes: {kind: deterministic, value: 20000}
      chips:
        - {share: 0.25, protocol: bac, air_kbps: 106}
        - {share: 0.75, protocol: pace, air_kbps: {212: 0.5, 424: 0.5},
           chip_authentication: true, active_authentication: ecdsa, latency_s: 0.01}"""
    config = load_hall(hall_file(tmp_path, textwrap.indent(chip, "  ")))
    step = config.gates.steps.chip.build(tmp_path)
    assert isinstance(step, ChipReadTime)
    kinds = [(k.share, k.profile.protocol, k.air.bit_rate_kbps) for k in step.kinds]
    assert kinds == [(0.25, "bac", 106), (0.375, "pace", 212), (0.375, "pace", 424)]
    assert step.kinds[1].air.latency_s == 0.01 and step.kinds[0].air.latency_s == 0.005
    draws = set(np.round(step.sample_many(np.random.default_rng(1), 2000), 9))
    assert draws == {
        round(read_seconds(kind.profile.with_dg2(20000), kind.air), 9) for kind in step.kinds
    }


@pytest.mark.parametrize(
    ("chip", "message"),
    [
        (
            "{kind: chip_air_time, photo_bytes: {kind: deterministic, value: 1}, "
            "chips: [{share: 0.5, protocol: bac}]}",
            "the chips' shares must add up to 1",
        ),
        (
            "{kind: chip_air_time, photo_bytes: {kind: deterministic, value: 1}, "
            "chips: [{share: 1, protocol: bac, air_kbps: 100}]}",
            "air_kbps: 100 kbit/s is not one of ISO/IEC 14443's 106, 212, 424, 848",
        ),
        ("{kind: chips}", "kind one of: .*chip_air_time, chip_reads"),
    ],
    ids=["shares", "bit-rate", "unknown-kind"],
)
def test_a_bad_chip_step_is_a_one_line_error(tmp_path, chip, message):
    with pytest.raises(ConfigError, match=rf"hall\.yaml:9: gates\.steps\.chip.*{message}"):
        load_hall(hall_file(tmp_path, chip))


def test_every_gate_transaction_spends_the_chip_read(tmp_path):
    chip = (
        "{kind: chip_air_time, photo_bytes: {kind: deterministic, value: 25000}, "
        "chips: [{share: 1, protocol: pace, air_kbps: 212}]}"
    )
    config = load_hall(hall_file(tmp_path, chip))
    records = Hall(config, tmp_path, np.random.SeedSequence(3)).run()
    expected = read_seconds(ChipProfile("pace", 25000), ChipAirTime(bit_rate_kbps=212))
    served = records.gate_end - records.gate_start
    assert served.size > 30
    np.testing.assert_allclose(served, expected, rtol=1e-12)
