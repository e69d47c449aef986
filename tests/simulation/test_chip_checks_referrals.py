"""Chips that fail their checks in the capacity model: PA failures and clones go to the desks.

``gates.chip_checks`` gives the share of gate users whose chip fails passive
authentication (split by reason) and the share of clones; the gate's chip
policy and controller then decide, as on a gate, and the referral breakdown
counts each reason.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from egate.config import ConfigError
from simulation.config import HallConfig, load_hall
from simulation.hall import Hall
from simulation.statistics import summarise_run

PA_FAILURE = 0.03
CLONE = 0.01


def config(**checks: object) -> HallConfig:
    return HallConfig.model_validate(
        {
            "name": "chip checks",
            "start": "06:00",
            "horizon": "10:00",
            "arrivals": {"rate": [{"from": "06:00", "per_hour": 6000}]},
            "gates": {
                "count": 20,
                "steps": {"document": {"kind": "deterministic", "value": 10}},
                "chip_checks": {
                    "pa_failure": PA_FAILURE,
                    "pa_reasons": {
                        "CHIP_DS_UNTRUSTED": 0.5,
                        "CHIP_HASH_MISMATCH": 0.25,
                        "CHIP_DS_EXPIRED": 0.25,
                    },
                    "clone": CLONE,
                    **checks,
                },
            },
            "desks": {"count": 30, "service": {"kind": "deterministic", "value": 60}},
        }
    )


def run(hall: HallConfig, *, replay: bool = True):  # type: ignore[no-untyped-def]
    return summarise_run(
        Hall(hall, Path(), np.random.SeedSequence(11), replay_decisions=replay).run()
    )


def near(count: int, travellers: int, rate: float) -> bool:
    """``count`` is within four standard deviations of ``travellers * rate``."""
    expected = travellers * rate
    return abs(count - expected) <= 4 * math.sqrt(travellers * rate * (1 - rate))


def test_pa_failures_and_clones_are_referred_at_their_rates_with_their_reasons():
    result = run(config())
    travellers = result.arrivals
    assert travellers > 20_000
    reasons = result.referral_reasons
    assert near(reasons["CHIP_DS_UNTRUSTED"], travellers, PA_FAILURE * 0.5)
    assert near(reasons["CHIP_HASH_MISMATCH"], travellers, PA_FAILURE * 0.25)
    assert near(reasons["CHIP_DS_EXPIRED"], travellers, PA_FAILURE * 0.25)
    assert near(reasons["CHIP_CLONE_SUSPECTED"], travellers, CLONE)
    assert result.referrals == sum(reasons.values())
    # The gate's default policy: a forged photo and a clone are rejected, an
    # untrusted or expired signer referred; all of them go to the desks.
    rejected = reasons["CHIP_HASH_MISMATCH"] + reasons["CHIP_CLONE_SUSPECTED"]
    assert result.outcomes["rejected"] == rejected
    assert result.outcomes["referred"] == reasons["CHIP_DS_UNTRUSTED"] + reasons["CHIP_DS_EXPIRED"]


def test_the_chip_policy_decides_as_on_a_gate():
    lenient = run(
        config(policy={"require_pa": False, "on_failure": {"CHIP_HASH_MISMATCH": "refer"}})
    )
    reasons = lenient.referral_reasons
    # Without require_pa an untrusted signer passes the policy, but its photo is not
    # proven the issuer's: the face is not compared with it, and an officer sees why.
    assert "CHIP_DS_UNTRUSTED" not in reasons and "CHIP_DS_EXPIRED" not in reasons
    assert near(reasons["REFERENCE_UNVERIFIED"], lenient.arrivals, PA_FAILURE * 0.75)
    # A mismatched photo is not a PA check that require_pa lifts; here it is referred.
    assert reasons["CHIP_HASH_MISMATCH"] > 0
    assert lenient.outcomes["rejected"] == reasons["CHIP_CLONE_SUSPECTED"]


def test_remembered_decision_paths_give_the_same_results():
    hall = config(policy={"require_pa": False})
    assert run(hall).to_json() == run(hall, replay=False).to_json()


def test_without_chip_checks_nobody_is_referred_for_them():
    result = run(config(pa_failure=0, clone=0))
    assert not any(reason.startswith("CHIP_") for reason in result.referral_reasons)


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        (
            {"pa_failure": 0.01, "pa_reasons": {"CHIP_DS_UNTRUSTED": 0.5}},
            r"gates\.chip_checks\.pa_reasons: .*add up to 1",
        ),
        (
            {"pa_failure": 0.01, "pa_reasons": {"CHIP_CLONE_SUSPECTED": 1}},
            r"gates\.chip_checks\.pa_reasons\.CHIP_CLONE_SUSPECTED: not a failure of passive",
        ),
        ({"pa_failure": 0.7, "clone": 0.4}, r"gates\.chip_checks\.pa_failure: .*more than 1"),
        ({"clone": 2}, r"gates\.chip_checks\.clone: Input should be less than or equal to 1"),
    ],
    ids=["shares", "not-pa", "total", "clone"],
)
def test_bad_chip_checks_are_one_line_errors(tmp_path, checks, message):
    data = config().model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["gates"]["chip_checks"] = checks
    path = tmp_path / "hall.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match=rf"hall\.yaml:\d+: {message}"):
        load_hall(path)
