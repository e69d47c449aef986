"""Durations for the capacity model: their moments, bounds, streams, configuration and files.

Every draw comes from a seeded generator, so the statistical checks are
deterministic: 200,000 draws, tolerances of a few standard errors.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from egate.config import ConfigError, load_config
from simulation.distribution_specs import (
    KINDS,
    CalibrationSpec,
    DistributionSpec,
    EmpiricalSpec,
    ExponentialSpec,
)
from simulation.distributions import (
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Stream,
    Triangular,
    Uniform,
)
from simulation.measured import CALIBRATION_FORMAT, load_calibration, load_empirical_csv

DRAWS = 200_000
SPECS: TypeAdapter[Any] = TypeAdapter(DistributionSpec)


def rng(seed: int = 20260101) -> np.random.Generator:
    return np.random.default_rng(seed)


EMPIRICAL_VALUES = [2.0, 3.0, 5.0, 7.0, 11.0]

# (distribution, mean, standard deviation, lowest and highest possible value),
# the moments worked out by hand from the parameters.
CASES: dict[str, tuple[Distribution, float, float, float, float]] = {
    "exponential": (Exponential(12.0), 12.0, 12.0, 0.0, math.inf),
    "deterministic": (Deterministic(3.0), 3.0, 0.0, 3.0, 3.0),
    "uniform": (Uniform(1.0, 3.0), 2.0, 2.0 / math.sqrt(12), 1.0, 3.0),
    "triangular": (
        Triangular(5.0, 8.0, 15.0),
        28.0 / 3,
        math.sqrt((5**2 + 8**2 + 15**2 - 5 * 8 - 5 * 15 - 8 * 15) / 18),
        5.0,
        15.0,
    ),
    "lognormal": (Lognormal(10.0, 4.0), 10.0, 4.0, 0.0, math.inf),
    "gamma": (Gamma(10.0, 4.0), 10.0, 4.0, 0.0, math.inf),
    "empirical": (
        Empirical(EMPIRICAL_VALUES),
        float(np.mean(EMPIRICAL_VALUES)),
        float(np.std(EMPIRICAL_VALUES)),
        2.0,
        11.0,
    ),
}


@pytest.mark.parametrize("kind", CASES)
def test_sample_many_has_the_configured_mean_and_sd(kind: str):
    distribution, mean, sd, _, _ = CASES[kind]
    draws = distribution.sample_many(rng(), DRAWS)
    assert distribution.mean == pytest.approx(mean, rel=1e-12)
    assert draws.mean() == pytest.approx(mean, rel=0.01)
    assert draws.std() == pytest.approx(sd, rel=0.02, abs=1e-12)


@pytest.mark.parametrize("kind", CASES)
def test_sample_one_at_a_time_has_the_configured_mean(kind: str):
    distribution, mean, sd, _, _ = CASES[kind]
    generator = rng()
    draws = [distribution.sample(generator) for _ in range(20_000)]
    # 20,000 draws: five standard errors.
    assert np.mean(draws) == pytest.approx(mean, abs=5 * sd / math.sqrt(20_000) + 1e-12)


@pytest.mark.parametrize("kind", CASES)
def test_draws_stay_within_the_support(kind: str):
    distribution, _, _, lowest, highest = CASES[kind]
    draws = distribution.sample_many(rng(), DRAWS)
    assert draws.min() >= lowest
    assert draws.max() <= highest
    if kind == "empirical":
        assert set(draws.tolist()) == set(EMPIRICAL_VALUES)
    if kind in ("lognormal", "gamma"):
        assert draws.min() > 0


@pytest.mark.parametrize("kind", CASES)
def test_types_python_float_and_float64_arrays(kind: str):
    distribution = CASES[kind][0]
    assert type(distribution.sample(rng())) is float
    many = distribution.sample_many(rng(), 7)
    assert many.dtype == np.float64
    assert many.shape == (7,)
    assert distribution.sample_many(rng(), 0).shape == (0,)


@pytest.mark.parametrize("kind", CASES)
def test_the_same_seed_gives_the_same_draws(kind: str):
    distribution = CASES[kind][0]
    assert np.array_equal(
        distribution.sample_many(rng(5), 1000), distribution.sample_many(rng(5), 1000)
    )
    first, second = rng(5), rng(5)
    assert [distribution.sample(first) for _ in range(50)] == [
        distribution.sample(second) for _ in range(50)
    ]


def test_different_seeds_give_different_draws():
    assert not np.array_equal(
        Exponential(1.0).sample_many(rng(1), 10), Exponential(1.0).sample_many(rng(2), 10)
    )


@pytest.mark.parametrize("kind", CASES)
def test_a_stream_hands_out_exactly_the_batches_of_sample_many(kind: str):
    distribution = CASES[kind][0]
    stream = Stream(distribution, rng(9), batch=100)
    drawn = [stream() for _ in range(180)] + [stream.next() for _ in range(70)]
    reference = rng(9)
    batches = np.concatenate([distribution.sample_many(reference, 100) for _ in range(3)])
    assert drawn == batches[:250].tolist()
    assert all(type(value) is float for value in drawn)
    assert stream.distribution is distribution


def test_a_stream_draws_batches_of_4096_by_default():
    stream = Stream(Lognormal(10.0, 4.0), rng(3))
    drawn = [stream() for _ in range(5000)]
    reference = rng(3)
    expected = np.concatenate([Lognormal(10.0, 4.0).sample_many(reference, 4096) for _ in "ab"])
    assert drawn == expected[:5000].tolist()


def test_a_stream_of_batch_one_works_and_batch_zero_is_refused():
    stream = Stream(Exponential(2.0), rng(4), batch=1)
    reference = rng(4)
    assert [stream() for _ in range(3)] == [
        float(Exponential(2.0).sample_many(reference, 1)[0]) for _ in range(3)
    ]
    with pytest.raises(ValueError, match=r"batch must be at least 1 \(got 0\)"):
        Stream(Exponential(2.0), rng(), batch=0)


def test_lognormal_and_gamma_derive_their_parameters_from_mean_and_sd():
    lognormal = Lognormal(10.0, 4.0)
    # E = exp(mu + sigma^2 / 2), Var = E^2 (exp(sigma^2) - 1).
    assert math.exp(lognormal.mu + lognormal.sigma**2 / 2) == pytest.approx(10.0)
    assert 10.0**2 * math.expm1(lognormal.sigma**2) == pytest.approx(16.0)
    gamma = Gamma(10.0, 4.0)
    assert gamma.shape * gamma.scale == pytest.approx(10.0)
    assert gamma.shape * gamma.scale**2 == pytest.approx(16.0)


def test_distributions_are_frozen_values():
    assert Exponential(3.0) == Exponential(3.0)
    assert Lognormal(10.0, 4.0) == Lognormal(10.0, 4.0)
    assert repr(Lognormal(10.0, 4.0)) == "Lognormal(mean=10.0, sd=4.0)"
    with pytest.raises(AttributeError):
        Exponential(3.0).mean = 4.0  # type: ignore[misc]


def test_empirical_keeps_its_values_read_only_and_shows_briefly():
    empirical = Empirical(range(1000))
    assert empirical.values.shape == (1000,)
    with pytest.raises(ValueError, match="read-only"):
        empirical.values[0] = 5.0
    assert repr(empirical) == "Empirical(1000 values, mean=499.5)"
    assert empirical == Empirical(float(value) for value in range(1000))
    assert empirical != Empirical([1.0])
    assert hash(empirical) == hash(Empirical(range(1000)))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Exponential(0.0), r"mean must be greater than 0 \(got 0.0\)"),
        (lambda: Exponential(-1.0), r"mean must be greater than 0 \(got -1.0\)"),
        (lambda: Exponential(math.inf), r"mean must be a finite number \(got inf\)"),
        (lambda: Deterministic(-0.5), r"value must be at least 0 \(got -0.5\)"),
        (lambda: Uniform(-1.0, 2.0), r"low must be at least 0 \(got -1.0\)"),
        (lambda: Uniform(3.0, 1.0), r"low \(3.0\) must not be greater than high \(1.0\)"),
        (lambda: Triangular(5.0, 4.0, 15.0), r"mode \(4.0\) must lie between low \(5.0\)"),
        (lambda: Triangular(5.0, 5.0, 5.0), r"low \(5.0\) must be less than high \(5.0\)"),
        (lambda: Triangular(5.0, math.nan, 6.0), r"mode must be a finite number"),
        (lambda: Lognormal(0.0, 1.0), r"mean must be greater than 0"),
        (lambda: Lognormal(1.0, 0.0), r"sd must be greater than 0 \(got 0.0\); a fixed time"),
        (lambda: Gamma(10.0, -4.0), r"sd must be greater than 0 \(got -4.0\)"),
        (lambda: Empirical([]), r"an empirical distribution needs a flat list of values"),
        (lambda: Empirical([1.0, -1.0]), r"empirical values must be at least 0"),
        (lambda: Empirical([1.0, math.nan]), r"empirical values must be finite numbers"),
    ],
)
def test_meaningless_parameters_are_refused(build: Any, message: str):
    with pytest.raises(ValueError, match=message):
        build()


def test_uniform_of_zero_width_is_allowed():
    assert Uniform(2.0, 2.0).sample_many(rng(), 3).tolist() == [2.0, 2.0, 2.0]


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"kind": "exponential", "mean": 12.0}, Exponential(12.0)),
        ({"kind": "deterministic", "value": 3.0}, Deterministic(3.0)),
        ({"kind": "deterministic", "value": 0}, Deterministic(0.0)),
        ({"kind": "uniform", "low": 1, "high": 3}, Uniform(1.0, 3.0)),
        ({"kind": "triangular", "low": 5, "mode": 8, "high": 15}, Triangular(5.0, 8.0, 15.0)),
        ({"kind": "lognormal", "mean": 10, "sd": 4}, Lognormal(10.0, 4.0)),
        ({"kind": "gamma", "mean": 10, "sd": 4}, Gamma(10.0, 4.0)),
    ],
    ids=lambda value: value["kind"] if isinstance(value, dict) else "",
)
def test_each_kind_parses_and_builds(data: dict[str, Any], expected: Distribution):
    spec = SPECS.validate_python(data)
    assert spec.kind == data["kind"]
    assert spec.build(Path("/nowhere")) == expected


def test_the_kinds_are_all_listed():
    assert KINDS == (
        "exponential",
        "deterministic",
        "uniform",
        "triangular",
        "lognormal",
        "gamma",
        "empirical",
        "calibration",
    )


def test_a_spec_object_validates_as_itself():
    spec = ExponentialSpec(mean=4.0)
    assert SPECS.validate_python(spec) is spec
    assert spec.kind == "exponential"


def errors_of(data: object, context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        SPECS.validate_python(data, context=context)
    return [dict(error) for error in caught.value.errors()]


ALL_KINDS = (
    "expected a distribution with kind one of: exponential, deterministic, uniform, "
    "triangular, lognormal, gamma, empirical, calibration"
)


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "expo", "mean": 1.0},
        {"kind": "Exponential", "mean": 1.0},
        {"mean": 1.0},
        {"kind": 3},
        {"kind": None},
        {"kind": ["exponential"]},
        "exponential",
        12.0,
    ],
)
def test_an_unknown_or_missing_kind_names_the_kinds(data: object):
    errors = errors_of(data)
    assert [(error["loc"], error["msg"]) for error in errors] == [((), ALL_KINDS)]


@pytest.mark.parametrize(
    ("data", "location", "message"),
    [
        ({"kind": "exponential", "mean": 0}, ("exponential", "mean"), "greater than 0"),
        ({"kind": "exponential", "mean": -3}, ("exponential", "mean"), "greater than 0"),
        ({"kind": "exponential", "mean": math.inf}, ("exponential", "mean"), "finite number"),
        ({"kind": "exponential", "mean": "nan"}, ("exponential", "mean"), "finite number"),
        ({"kind": "exponential", "mean": "soon"}, ("exponential", "mean"), "valid number"),
        ({"kind": "exponential"}, ("exponential", "mean"), "Field required"),
        ({"kind": "exponential", "mean": 1, "sd": 1}, ("exponential", "sd"), "unknown field"),
        ({"kind": "deterministic", "value": -1}, ("deterministic", "value"), "greater than or"),
        ({"kind": "uniform", "low": -1, "high": 2}, ("uniform", "low"), "greater than or"),
        (
            {"kind": "uniform", "low": 3, "high": 1},
            ("uniform",),
            "Value error, low (3.0) must not be greater than high (1.0)",
        ),
        (
            {"kind": "triangular", "low": 5, "mode": 20, "high": 15},
            ("triangular",),
            "Value error, mode (20.0) must lie between low (5.0) and high (15.0)",
        ),
        (
            {"kind": "triangular", "low": 5, "mode": 2, "high": 15},
            ("triangular",),
            "Value error, mode (2.0) must lie between low (5.0) and high (15.0)",
        ),
        (
            {"kind": "triangular", "low": 15, "mode": 10, "high": 5},
            ("triangular",),
            "Value error, low (15.0) must be less than high (5.0)",
        ),
        ({"kind": "lognormal", "mean": 10, "sd": 0}, ("lognormal", "sd"), "greater than 0"),
        ({"kind": "lognormal", "mean": 0, "sd": 4}, ("lognormal", "mean"), "greater than 0"),
        ({"kind": "gamma", "mean": 10, "sd": -4}, ("gamma", "sd"), "greater than 0"),
        ({"kind": "gamma", "mean": -10, "sd": 4}, ("gamma", "mean"), "greater than 0"),
        ({"kind": "empirical", "file": "t.csv"}, ("empirical", "column"), "Field required"),
        ({"kind": "empirical", "column": "s"}, ("empirical", "file"), "Field required"),
        ({"kind": "calibration"}, ("calibration", "file"), "Field required"),
    ],
)
def test_invalid_parameters_name_the_field_and_the_problem(
    data: dict[str, Any], location: tuple[str, ...], message: str
):
    first = errors_of(data)[0]
    assert first["loc"] == location
    assert message in first["msg"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_an_empirical_spec_reads_its_file_relative_to_the_configuration(tmp_path: Path):
    write(tmp_path / "times.csv", "id,seconds\n1,3.5\n2,4\n")
    data = {"kind": "empirical", "file": "times.csv", "column": "seconds"}
    spec = SPECS.validate_python(data, context={"base_dir": tmp_path})
    assert isinstance(spec, EmpiricalSpec)
    assert spec.file == (tmp_path / "times.csv").absolute()
    # Already resolved and read: the folder given to build changes nothing.
    assert spec.build(Path("/elsewhere")) == Empirical([3.5, 4.0])


def test_an_empirical_spec_without_loader_context_resolves_at_build(tmp_path: Path):
    write(tmp_path / "times.csv", "seconds\n2\n")
    spec = SPECS.validate_python({"kind": "empirical", "file": "times.csv", "column": "seconds"})
    assert spec.file == Path("times.csv")
    assert spec.build(tmp_path) == Empirical([2.0])
    with pytest.raises(ValueError, match="cannot read"):
        spec.build(tmp_path / "missing")


def test_a_missing_file_is_a_field_error(tmp_path: Path):
    data = {"kind": "calibration", "file": "bench.json"}
    first = errors_of(data, context={"base_dir": tmp_path})[0]
    assert first["loc"] == ("calibration", "file")
    assert first["msg"] == f"Value error, no such file: {tmp_path / 'bench.json'}"


def test_a_bad_measurement_file_is_a_validation_error(tmp_path: Path):
    write(tmp_path / "times.csv", "seconds\n1\nslow\n")
    data = {"kind": "empirical", "file": "times.csv", "column": "seconds"}
    first = errors_of(data, context={"base_dir": tmp_path})[0]
    assert first["loc"] == ("empirical",)
    path = (tmp_path / "times.csv").absolute()
    assert first["msg"] == f"Value error, {path}:3: column 'seconds': 'slow' is not a number"


class Hall(BaseModel):
    """A stand-in for the capacity model's configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: DistributionSpec


def test_through_the_config_loader(tmp_path: Path):
    write(tmp_path / "times.csv", "seconds\n4\n6\n")
    text = "service:\n  kind: empirical\n  file: times.csv\n  column: seconds\n"
    config = write(tmp_path / "hall.yaml", text)
    hall = load_config(config, Hall)
    assert hall.service.build(tmp_path).mean == 5.0


@pytest.mark.parametrize(
    ("yaml_text", "line", "expected"),
    [
        ("service:\n  kind: expo\n  mean: 3\n", 2, ALL_KINDS),
        ("service:\n  mean: 3\n", 2, ALL_KINDS),
        ("service:\n  kind: exponential\n  mean: -3\n", 2, "greater than 0"),
        (
            "service:\n  kind: triangular\n  low: 5\n  mode: 20\n  high: 15\n",
            2,
            "mode (20.0) must lie between low (5.0) and high (15.0)",
        ),
        ("service:\n  kind: empirical\n  file: times.csv\n  column: seconds\n", 2, "no such file"),
    ],
)
def test_the_config_loader_reports_one_line(
    tmp_path: Path, yaml_text: str, line: int, expected: str
):
    config = write(tmp_path / "hall.yaml", yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_config(config, Hall)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{config}:")
    assert ": service" in message
    assert expected in message


# --- measurement files --------------------------------------------------------------------------


def test_a_csv_column_becomes_an_empirical_distribution(tmp_path: Path):
    path = write(tmp_path / "t.csv", "passenger,seconds,gate\n1,3.5,A\n\n2, 4 ,B\n3,0,A\n")
    assert load_empirical_csv(path, "seconds") == Empirical([3.5, 4.0, 0.0])


def test_a_csv_with_a_byte_order_mark_and_quotes(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbf"seconds","note"\r\n"1.5","a, b"\r\n2,"x"\r\n')
    assert load_empirical_csv(path, "seconds") == Empirical([1.5, 2.0])


def test_a_biometrics_rates_table_is_read_by_column(tmp_path: Path):
    # The layout of ``egate biometrics evaluate``'s rates.csv: any column can be read.
    path = write(
        tmp_path / "rates.csv",
        "threshold,fmr,fnmr,false_matches,impostor_comparisons,false_non_matches,"
        "genuine_comparisons\n0.5000,0.001000,0.020000,1,1000,2,100\n",
    )
    assert load_empirical_csv(path, "fnmr").values.tolist() == [0.02]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", ": empty, expected a header line naming 'seconds'"),
        (b"a,b\n1,2\n", ":1: no column 'seconds' (columns: 'a', 'b')"),
        (b"seconds\n1\nabc\n", ":3: column 'seconds': 'abc' is not a number"),
        (b"seconds\n1\n" + b"9" * 100 + b"x\n", ":3: column 'seconds': '999999999999"),
        (b"seconds\n-2\n", ":2: column 'seconds': -2 is negative (durations are >= 0)"),
        (b"seconds\nnan\n", ":2: column 'seconds': 'nan' is not a finite number"),
        (b"seconds\n1e999\n", ":2: column 'seconds': '1e999' is not a finite number"),
        (b"id,seconds\n1\n", ":2: column 'seconds' is empty"),
        (b"id,seconds\n1, \n", ":2: column 'seconds' is empty"),
        (b'id,seconds\n"a\nb",x\n', ":3: column 'seconds': 'x' is not a number"),
        (b"seconds\n", ": no values in column 'seconds'"),
        (b"seconds\n\n\n", ": no values in column 'seconds'"),
        (b"seconds\n\xff\n", ": not UTF-8 text (invalid start byte)"),
        (b'seconds\n"1\n', ":2: not valid CSV: unexpected end of data"),
        (b'seconds\n"1"x\n', ":2: not valid CSV: ',' expected after '\"'"),
        (b'seconds\n"' + b"1" * 200_000 + b'"\n', ":2: not valid CSV: field larger than"),
        (b"seconds\n1\0\n", ":2: column 'seconds': '1\\x00' is not a number"),
    ],
)
def test_csv_problems_are_one_line_with_file_and_line(tmp_path: Path, content: bytes, problem: str):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        load_empirical_csv(path, "seconds")
    message = str(caught.value)
    assert message.startswith(f"{path}{problem}")
    assert "\n" not in message


def test_an_unreadable_csv(tmp_path: Path):
    with pytest.raises(ValueError, match=r"missing.csv: cannot read: No such file"):
        load_empirical_csv(tmp_path / "missing.csv", "seconds")
    with pytest.raises(ValueError, match=r": cannot read: Is a directory"):
        load_empirical_csv(tmp_path, "seconds")


def calibration_data(samples: list[Any]) -> dict[str, Any]:
    return {"format": CALIBRATION_FORMAT, "service_time_seconds": {"samples": samples}}


def test_a_calibration_file_from_the_benchmark_loads(tmp_path: Path):
    pytest.importorskip("dlib")  # the benchmark records the dlib version
    from egate.biometrics.benchmark import CALIBRATION_FORMAT as WRITTEN_FORMAT
    from egate.biometrics.benchmark import calibration

    assert WRITTEN_FORMAT == CALIBRATION_FORMAT
    data = calibration([0.21, 0.19, 0.25], 2, {1: 4.5, 2: 8.9}, "samples", datetime.now(UTC))
    path = write(tmp_path / "bench.json", json.dumps(data, indent=2))
    loaded = load_calibration(path)
    assert loaded == Empirical([0.21, 0.19, 0.25])
    spec = SPECS.validate_python(
        {"kind": "calibration", "file": "bench.json"}, context={"base_dir": tmp_path}
    )
    assert isinstance(spec, CalibrationSpec)
    assert spec.build(tmp_path) == loaded


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", ":1: not valid JSON: Expecting property name enclosed in double quotes"),
        ('{\n"format": 1,\n}', ":3: not valid JSON: "),
        ("[1, 2]", ": not a calibration file (expected a JSON object)"),
        (
            '{"format": "egate-matching-calibration/2"}',
            ": not a calibration file (format 'egate-matching-calibration/2', "
            "expected 'egate-matching-calibration/1')",
        ),
        ("{}", ": not a calibration file (format None, expected"),
        (
            json.dumps({"format": CALIBRATION_FORMAT}),
            ": service_time_seconds.samples: expected a list of durations",
        ),
        (
            json.dumps({"format": CALIBRATION_FORMAT, "service_time_seconds": [1]}),
            ": service_time_seconds.samples: expected a list of durations",
        ),
        (
            json.dumps(calibration_data([])),
            ": service_time_seconds.samples: expected a list of durations",
        ),
        (
            json.dumps(calibration_data([0.2, "0.3"])),
            ": service_time_seconds.samples[1]: '0.3' is not a number",
        ),
        (
            json.dumps(calibration_data([True])),
            ": service_time_seconds.samples[0]: True is not a number",
        ),
        (
            json.dumps(calibration_data([0.2, 0.1, -0.1])),
            ": service_time_seconds.samples[2]: -0.1 is not a duration (a finite number >= 0)",
        ),
        (
            json.dumps(calibration_data([math.nan])),
            ": service_time_seconds.samples[0]: nan is not a duration",
        ),
        (
            '{"format": "egate-matching-calibration/1", '
            '"service_time_seconds": {"samples": [1' + "0" * 400 + "]}}",
            ": service_time_seconds.samples[0]: 1000",
        ),
    ],
)
def test_calibration_problems_are_one_line(tmp_path: Path, text: str, problem: str):
    path = write(tmp_path / "bench.json", text)
    with pytest.raises(ValueError) as caught:
        load_calibration(path)
    message = str(caught.value)
    assert message.startswith(f"{path}{problem}")
    assert "\n" not in message
    assert len(message) < len(str(path)) + 200


def test_an_unreadable_calibration_file(tmp_path: Path):
    with pytest.raises(ValueError, match=r"bench.json: cannot read: No such file"):
        load_calibration(tmp_path / "bench.json")
    path = tmp_path / "bench.json"
    path.write_bytes(b'{"format": "\xff"}')
    with pytest.raises(ValueError, match=r"bench.json: not UTF-8 text"):
        load_calibration(path)
