"""Variants of a hall, compared: the merge, their errors, paired differences, the shipped model.

``configs/airports/pudong-bac-vs-pace.yaml`` compares BAC and PACE chips;
``egate simulate`` on it reports the difference in p95 wait with its
confidence interval (here with few replications, to stay quick).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from egate.config import ConfigError
from simulation.compare import CompareResult
from simulation.config import load_hall
from simulation.replications import run_configurations
from simulation.variants import merged

CONFIGS = Path(__file__).resolve().parent.parent.parent / "configs" / "airports"
SHIPPED = CONFIGS / "pudong-bac-vs-pace.yaml"

HALL = """\
name: two gates
start: "06:00"
horizon: "07:00"
arrivals:
  rate: [{from: "06:00", per_hour: 200}]
gates:
  count: 2
  steps:
    document: {kind: exponential, mean: 12}
replications: 4
seed: 3
variants:
VARIANTS
"""


def hall(tmp_path: Path, variants: str) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(HALL.replace("VARIANTS", variants))
    return path


def test_a_variant_merges_mappings_and_replaces_the_rest():
    base = {
        "gates": {"count": 2, "steps": {"document": {"kind": "exponential", "mean": 12}}},
        "arrivals": {"rate": [{"from": "06:00", "per_hour": 200}]},
    }
    override = {
        "gates": {"steps": {"document": {"kind": "deterministic", "value": 5}}},
        "arrivals": {"rate": [{"from": "06:00", "per_hour": 300}]},
    }
    assert merged(base, override) == {
        # A distribution (a mapping with a kind) replaces the base's whole.
        "gates": {"count": 2, "steps": {"document": {"kind": "deterministic", "value": 5}}},
        "arrivals": {"rate": [{"from": "06:00", "per_hour": 300}]},
    }
    assert merged(base, {"gates": {"count": 3}})["gates"]["steps"] == base["gates"]["steps"]


def test_variants_of_a_file(tmp_path):
    config = load_hall(
        hall(tmp_path, "  two: {}\n  three: {gates: {count: 3}}\n  renamed: {name: other}")
    )
    variants = dict(config.variant_configs())
    assert list(variants) == ["two", "three", "renamed"]
    assert [variant.gates.count for variant in variants.values()] == [2, 3, 2]
    assert variants["two"].name == "two gates [two]" and variants["renamed"].name == "other"
    assert all(variant.variant_configs() == () for variant in variants.values())


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ("  a: {}\n  b: {seed: 4}", r":14: variants\.b\.seed: the same in every variant"),
        (
            "  a: {}\n  b:\n    gates:\n      count: -1",
            r":16: variants\.b\.gates\.count: Input should be greater than or equal to 0",
        ),
        # The override is sound, but the hall it makes is not: named at the variant.
        (
            "  a: {}\n  b:\n    arrivals: {egate_share: 0.5}",
            r":15: variants\.b: desks: required: travellers are sent to desks",
        ),
        ("  only: {}", r":13: variants: Dictionary should have at least 2 items"),
    ],
    ids=["fixed", "inside", "across", "one"],
)
def test_a_bad_variant_is_a_one_line_error_at_its_line(tmp_path, variants, message):
    with pytest.raises(ConfigError, match=rf"hall\.yaml{message}") as caught:
        load_hall(hall(tmp_path, variants))
    assert "\n" not in str(caught.value)


def test_differences_are_paired_replication_by_replication(tmp_path):
    config = load_hall(hall(tmp_path, "  same: {}\n  again: {}\n  three: {gates: {count: 3}}"))
    names, configs = zip(*config.variant_configs(), strict=True)
    summaries = run_configurations(configs, tmp_path, processes=1)
    result = CompareResult(names, configs, tuple(summaries), (0.0, 0.0, 0.0))
    # The same settings and the same random numbers: the same runs exactly.
    same = result.difference(1, "waits.p95_s")
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)
    more = result.difference(2, "waits.mean_s")
    runs = [
        three - two
        for three, two in zip(
            summaries[2].values("waits.mean_s"), summaries[0].values("waits.mean_s"), strict=True
        )
    ]
    assert more.mean == pytest.approx(float(np.mean(runs))) and more.mean < 0
    assert more.replications == 4 and more.low < more.mean < more.high


def test_the_shipped_bac_vs_pace_model_reports_the_p95_difference(cli):
    ran = cli("simulate", str(SHIPPED), "-r", "3", "--processes", "1", "--json")
    assert ran.status == 0, ran.err
    report = json.loads(ran.out)
    assert report["format"] == "egate-compare/1" and report["baseline"] == "bac"
    variants = {variant["variant"]: variant for variant in report["variants"]}
    assert list(variants) == ["bac", "mixed", "pace"]
    # PACE reads take longer: four public-key steps and chip authentication.
    chip = [variants[name]["chip_read_mean_s"] for name in ("bac", "mixed", "pace")]
    assert chip == sorted(chip) and 0.6 < chip[2] - chip[0] < 1.2
    delta = variants["pace"]["difference"]["waits.p95_s"]
    assert delta["replications"] == 3
    assert 0 < delta["low"] < delta["mean"] < delta["high"]
    p95 = [variants[name]["waits"]["all"]["p95_s"]["mean"] for name in ("bac", "pace")]
    assert delta["mean"] == pytest.approx(p95[1] - p95[0])
    assert variants["bac"]["difference"]["waits.p95_s"]["mean"] == 0

    table = cli("simulate", str(SHIPPED), "-r", "2", "--processes", "1")
    assert table.status == 0, table.err
    line = next(text for text in table.out.splitlines() if text.startswith("pace vs bac"))
    assert "p95 wait +" in line and "s, 95% CI +" in line and line.endswith("(2 paired runs)")
    assert math.isfinite(delta["mean"])


def test_a_file_with_variants_does_not_sweep(cli):
    ran = cli("simulate", str(SHIPPED), "--sweep", "gates=4..6")
    assert ran.status == 2
    assert "has variants" in ran.err and "--sweep needs a file without them" in ran.err
