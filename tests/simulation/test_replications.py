"""Replications: seeds per replication, summaries, several configurations in one go."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simulation.config import HallConfig
from simulation.replications import (
    replication_seeds,
    run_configurations,
    run_replication,
    run_replications,
)

SMALL = {
    "name": "small",
    "start": "06:00",
    "horizon": "07:00",
    "arrivals": {"rate": [{"from": "06:00", "per_hour": 900}]},
    "gates": {"count": 3, "steps": {"document": {"kind": "exponential", "mean": 10}}},
    "replications": 3,
    "seed": 42,
}


def small(**changes: object) -> HallConfig:
    return HallConfig.model_validate({**SMALL, **changes})


def text(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def test_replication_seeds_are_children_of_the_seed():
    seeds = replication_seeds(42, 3)
    assert [seed.spawn_key for seed in seeds] == [(0,), (1,), (2,)]
    assert all(seed.entropy == 42 for seed in seeds)


def test_a_replication_is_the_same_however_it_is_asked_for():
    config = small()
    by_index = run_replication(config, Path(), 1)
    by_seed = run_replication(config, Path(), replication_seeds(42, 2)[1])
    summary = run_replications(config, processes=1)
    assert text(by_index.to_json()) == text(by_seed.to_json())
    assert text(summary.runs[1].to_json()) == text(by_index.to_json())
    assert by_index.seed == (1,)
    # More replications leave the first ones unchanged.
    more = run_replications(config, replications=5, processes=1)
    assert [text(run.to_json()) for run in more.runs[:3]] == [
        text(run.to_json()) for run in summary.runs
    ]
    with pytest.raises(ValueError):
        run_replication(config, Path(), -1)


def test_replications_take_the_configuration_defaults_unless_told_otherwise():
    calls: list[tuple[int, int]] = []
    summary = run_replications(small(), processes=1, progress=lambda *done: calls.append(done))
    assert len(summary.runs) == 3 and calls == [(1, 3), (2, 3), (3, 3)]
    assert summary["arrivals"].replications == 3
    assert summary["arrivals"].low < summary["arrivals"].mean < summary["arrivals"].high
    other = run_replications(small(), replications=2, seed=7, processes=1)
    assert len(other.runs) == 2
    assert text(other.runs[0].to_json()) != text(summary.runs[0].to_json())


def test_configurations_share_their_random_numbers():
    three, six = small(), small(gates={**SMALL["gates"], "count": 6}, name="six gates")
    summaries = run_configurations([three, six], replications=2, processes=1)
    assert [summary.name for summary in summaries] == ["small", "six gates"]
    for fewer, more in zip(summaries[0].runs, summaries[1].runs, strict=True):
        # The same travellers arrive; more gates, less waiting.
        assert fewer.arrivals == more.arrivals
        assert more.waits.mean_s < fewer.waits.mean_s


def test_relative_files_are_read_from_the_base_folder(tmp_path: Path):
    (tmp_path / "times.csv").write_text("seconds\n8\n9\n12\n", encoding="utf-8")
    config = small(
        gates={
            "count": 3,
            "steps": {"document": {"kind": "empirical", "file": "times.csv", "column": "seconds"}},
        }
    )
    result = run_replication(config, tmp_path, 0)
    assert result.gate_transactions == result.arrivals > 0
    summary = run_configurations([config], [tmp_path], replications=1, processes=1)[0]
    assert text(summary.runs[0].to_json()) == text(result.to_json())


def test_mistakes_in_the_request():
    config = small()
    with pytest.raises(ValueError, match="base folders"):
        run_configurations([config, config], [Path()], processes=1)
    with pytest.raises(ValueError, match="replications"):
        run_replications(config, replications=0)
    with pytest.raises(ValueError, match="processes"):
        run_replications(config, processes=0)


def test_the_same_seed_sequence_object_can_be_used_twice():
    config = small()
    seed = np.random.SeedSequence(3)
    first = run_replication(config, Path(), seed)
    seed.spawn(4)  # whatever the caller did with it meanwhile
    again = run_replication(config, Path(), seed)
    assert text(first.to_json()) == text(again.to_json())
