"""Hall configurations: the documented example loads; each mistake is one line naming its field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import simulation.config
from egate.config import ConfigError
from egate.gate.settings import Topology
from simulation.config import HallConfig, clock, load_hall, parse_clock

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulation.md"
RATES_CSV = """\
threshold,fmr,fnmr,false_matches,impostor_comparisons,false_non_matches,genuine_comparisons
0.5000,0.000100,0.050000,1,10000,50,1000
0.6000,0.001000,0.010000,10,10000,10,1000
"""

MINIMAL = """\
name: minimal
horizon: "08:00"
arrivals:
  rate: [{from: "06:00", per_hour: 600}]
gates:
  count: 4
  steps:
    document: {kind: exponential, mean: 10}
"""

FLIGHTS = """\
name: flights
start: "06:00"
arrivals:
  egate_share: 0.6
  flights:
    - {flight: MU588, on_block: "06:40", passengers: 290}
    - {flight: LH728, on_block: "07:05", passengers: 320}
gates:
  count: 10
  steps:
    document: {kind: lognormal, mean: 6, sd: 3}
  outcomes:
    failure_to_acquire: 0.03
  banks:
    - {from: "06:00", to: "08:00", open: 6}
    - {from: "08:00", open: 10}
desks:
  roster:
    - {from: "06:00", to: "09:00", desks: 8}
    - {from: "09:00", desks: 5}
  service: {kind: lognormal, mean: 60, sd: 25}
"""


def write(folder: Path, text: str, name: str = "hall.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(folder: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_hall(write(folder, text))
    message = str(caught.value)
    assert "\n" not in message
    return message


def documented_example() -> str:
    """The YAML block of docs/simulation.md's "An example with every section"."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### An example with every section") :]
    start = section.index("```yaml\n") + len("```yaml\n")
    return section[start : section.index("```\n", start)]


def test_the_example_in_the_documentation_loads(tmp_path: Path):
    example = documented_example()
    calibration = {
        "format": "egate-matching-calibration/1",
        "service_time_seconds": {"samples": [0.4, 0.5, 0.6]},
    }
    write(tmp_path, json.dumps(calibration), "bench.json")

    config = load_hall(write(tmp_path, example))

    assert config.name == "Pudong T2 arrivals, morning bank"
    assert config.start == 6 * 3600 and config.horizon == 12 * 3600
    assert config.gates.count == 20 and config.gates.topology is Topology.TWO_STEP
    assert config.gates.rates().fnmr == 0.01
    assert config.desks is not None and config.desks.most == 8
    assert config.matching is not None and config.matching.workers == 4
    assert config.arrivals.class_table() == (
        ("egate", "gate"),
        ("desk", "desk"),
        ("chinese", "gate"),
        ("visitors", "desk"),
    )


def test_a_minimal_rate_file_takes_the_defaults(tmp_path: Path):
    config = load_hall(write(tmp_path, MINIMAL))
    assert config.start == 6 * 3600
    assert config.desks is None and config.matching is None
    assert config.service_level.max_wait_min == 5
    assert config.service_level.share == 0.95
    assert config.service_level.clearance_min == 45
    assert config.interval_min == 15 and config.replications == 10 and config.seed == 0
    assert config.gates.steps.exit.kind == "deterministic"


def test_clock_times():
    assert parse_clock("06:30") == 6.5 * 3600
    assert parse_clock("25:00:30") == 25 * 3600 + 30
    assert parse_clock(390) == 6.5 * 3600  # YAML's reading of an unquoted 6:30
    assert clock(6.5 * 3600) == "06:30" and clock(25 * 3600 + 30) == "25:00:30"
    for bad in ("9000:00", "6h30", "06:60", 1_000_000, 6.5, True):
        with pytest.raises(ValueError):
            parse_clock(bad)


def test_unquoted_clock_times_are_clock_times_not_base_60_numbers(tmp_path: Path):
    # YAML 1.1 would read 8:00 as 480 and 10:30:00 as 37800; egate's loader
    # reads a colon as a string, as YAML 1.2 does.
    for text in ("8:00", "8:00:00", "08:00"):
        config = load_hall(write(tmp_path, MINIMAL.replace('"08:00"', text)))
        assert config.horizon == 8 * 3600


def test_biometric_rates_come_from_the_evaluation_table(tmp_path: Path):
    write(tmp_path, RATES_CSV, "rates.csv")
    text = FLIGHTS.replace(
        "    failure_to_acquire: 0.03\n",
        "    failure_to_acquire: 0.03\n  biometrics: {rates_file: rates.csv, threshold: 0.55}\n",
    )
    rates = load_hall(write(tmp_path, text)).gates.rates()
    assert rates.fnmr == pytest.approx(0.03)
    assert rates.fmr == pytest.approx(0.00055)
    exact = load_hall(write(tmp_path, text.replace("0.55", "0.6"))).gates.rates()
    assert (exact.fnmr, exact.fmr) == (0.01, 0.001)


def case(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


ERRORS = {
    "negative rate": (
        case(MINIMAL, "per_hour: 600", "per_hour: -5"),
        "arrivals.rate.0.per_hour",
        "greater than or equal to 0",
    ),
    "probability above 1": (
        case(FLIGHTS, "failure_to_acquire: 0.03", "failure_to_acquire: 1.5"),
        "gates.outcomes.failure_to_acquire",
        "less than or equal to 1",
    ),
    "egate share above 1": (
        case(FLIGHTS, "egate_share: 0.6", "egate_share: 1.2"),
        "arrivals.egate_share",
        "less than or equal to 1",
    ),
    "unknown distribution kind": (
        case(MINIMAL, "kind: exponential", "kind: weibull"),
        "gates.steps.document",
        "kind one of",
    ),
    "a schedule with no flights": (
        "name: x\narrivals: {flights: []}\ngates: {count: 1}\n",
        "arrivals.flights",
        "no flights",
    ),
    "banks open more gates than exist": (
        case(FLIGHTS, "open: 10", "open: 12"),
        "gates.banks.1.open",
        "opens 12 gates but there are 10",
    ),
    "rate periods out of order": (
        case(
            MINIMAL,
            '[{from: "06:00", per_hour: 600}]',
            '[{from: "07:00", per_hour: 1}, {from: "06:30", per_hour: 2}]',
        ),
        "arrivals.rate.1.from",
        "out of order",
    ),
    "roster period ending before it starts": (
        case(
            FLIGHTS,
            '{from: "06:00", to: "09:00", desks: 8}',
            '{from: "06:00", to: "05:00", desks: 8}',
        ),
        "desks.roster.0.to",
        "out of order",
    ),
    "overlapping banks": (
        case(FLIGHTS, '{from: "08:00", open: 10}', '{from: "07:00", open: 10}'),
        "gates.banks.1.from",
        "overlaps",
    ),
    "a flight before the start": (
        case(FLIGHTS, 'on_block: "06:40"', 'on_block: "05:40"'),
        "arrivals.flights.0.on_block",
        "before the start 06:00",
    ),
    "horizon before the start": (
        case(MINIMAL, 'horizon: "08:00"', 'horizon: "05:00"'),
        "horizon",
        "out of order",
    ),
    "a rate without a horizon": (
        case(MINIMAL, 'horizon: "08:00"\n', ""),
        "horizon",
        "required with a rate",
    ),
    "flights and rate": (
        case(
            FLIGHTS,
            "  egate_share: 0.6\n",
            '  egate_share: 0.6\n  rate: [{from: "06:00", per_hour: 1}]\n',
        ),
        "arrivals.rate",
        "either flights or rate",
    ),
    "class shares not adding up": (
        case(
            FLIGHTS,
            '    - {flight: LH728, on_block: "07:05", passengers: 320}\n',
            '    - flight: LH728\n      on_block: "07:05"\n      passengers: 320\n'
            "      classes:\n        - {name: eu, share: 0.5, channel: gate}\n"
            "        - {name: visa, share: 0.4, channel: desk}\n",
        ),
        "arrivals.flights.1.classes",
        "add up to 1",
    ),
    "share and classes together": (
        case(
            FLIGHTS,
            "passengers: 290}",
            "passengers: 290, egate_share: 0.5, classes: [{name: a, share: 1, channel: gate}]}",
        ),
        "arrivals.flights.0.egate_share",
        "not both",
    ),
    "referrals without desks": (
        FLIGHTS[: FLIGHTS.index("desks:")],
        "desks",
        "required",
    ),
    "gate users without gates": (
        case(MINIMAL, "count: 4", "count: 0"),
        "gates.count",
        "no",
    ),
    "a verify time with a matching core": (
        MINIMAL + "    verify: {kind: deterministic, value: 1}\n"
        "matching: {workers: 2, service: {kind: exponential, mean: 1}}\n",
        "gates.steps.verify",
        "matching core",
    ),
    "FNMR twice": (
        case(
            FLIGHTS,
            "failure_to_acquire: 0.03",
            "biometric_mismatch: 0.01\n  biometrics: {rates_file: rates.csv, threshold: 0.5}",
        ),
        "gates.outcomes.biometric_mismatch",
        "not both",
    ),
    "a threshold outside the table": (
        case(
            FLIGHTS,
            "failure_to_acquire: 0.03",
            "failure_to_acquire: 0.03\n  biometrics: {rates_file: rates.csv, threshold: 0.9}",
        ),
        "gates.biometrics.threshold",
        "outside the thresholds",
    ),
    "a missing rate table": (
        case(
            FLIGHTS,
            "failure_to_acquire: 0.03",
            "failure_to_acquire: 0.03\n  biometrics: {rates_file: nowhere.csv, threshold: 0.5}",
        ),
        "gates.biometrics.rates_file",
        "no such file",
    ),
    "a document total above 1": (
        case(
            FLIGHTS,
            "failure_to_acquire: 0.03",
            "document_rejection: 0.6\n    document_referral: 0.5",
        ),
        "gates.outcomes.document_rejection",
        "more than 1",
    ),
    "an unknown field": (
        case(MINIMAL, "count: 4", "count: 4\n  lanes: 3"),
        "gates.lanes",
        "unknown field",
    ),
    "a desk section with neither count nor roster": (
        MINIMAL.replace("rate:", "egate_share: 0.5\n  rate:")
        + "desks: {service: {kind: exponential, mean: 60}}\n",
        "desks.count",
        "either count or roster",
    ),
}


@pytest.mark.parametrize(("text", "field", "expected"), ERRORS.values(), ids=ERRORS.keys())
def test_errors_name_the_field_in_one_line(tmp_path: Path, text: str, field: str, expected: str):
    write(tmp_path, RATES_CSV, "rates.csv")
    message = error_of(tmp_path, text)
    where = re.escape(str(tmp_path / "hall.yaml"))
    assert re.match(rf"^{where}:\d+: {re.escape(field)}: ", message), message
    assert expected in message


def test_the_line_points_at_the_offending_value(tmp_path: Path):
    message = error_of(tmp_path, case(FLIGHTS, "open: 10", "open: 12"))
    line = FLIGHTS.splitlines().index('    - {from: "08:00", open: 10}') + 1
    assert f"hall.yaml:{line}: " in message


def test_configurations_are_frozen_and_round_trip(tmp_path: Path):
    config = load_hall(write(tmp_path, FLIGHTS))
    with pytest.raises(ValueError):
        config.seed = 3  # type: ignore[misc]
    data = simulation.config.dump(config)
    assert data["gates"]["banks"][0] == {"from": "06:00", "to": "08:00", "open": 6}
    assert HallConfig.model_validate(data) == config
