"""EES classes: a class's own desk service, kiosk pre-enrolment, and the shipped EES-era model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simulation.hall
from simulation.arrivals import generate_arrivals
from simulation.classes import desk_services
from simulation.config import HallConfig, load_hall
from simulation.hall import simulate

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "airports"
ENROL = {"kind": "deterministic", "value": 150}
KIOSK = {"kind": "deterministic", "value": 90}


def hall(first: dict[str, Any], flight_mix: list[dict[str, Any]] | None = None) -> HallConfig:
    classes = [
        {"name": "eu", "share": 0.5, "channel": "gate"},
        {"name": "tcn_first", "share": 0.3, "channel": "desk", **first},
        {"name": "tcn_returning", "share": 0.2, "channel": "desk"},
    ]
    flights: list[dict[str, Any]] = [
        {"flight": "XA1", "on_block": "06:30", "passengers": 400},
        {"flight": "XA2", "on_block": "07:00", "passengers": 300},
    ]
    if flight_mix is not None:
        flights[1]["classes"] = flight_mix
    return HallConfig.model_validate(
        {
            "name": "ees",
            "arrivals": {
                "classes": classes,
                "flights": flights,
                "deplane": {"kind": "uniform", "low": 0, "high": 600},
            },
            "gates": {"count": 4, "steps": {"document": {"kind": "exponential", "mean": 8}}},
            "desks": {"count": 6, "service": {"kind": "deterministic", "value": 60}},
        }
    )


def test_a_class_names_its_own_desk_service_once():
    config = hall({"desk_service": ENROL})
    services = desk_services(config.arrivals.class_infos())
    names = generate_arrivals(config, np.random.default_rng(1), Path()).class_names
    assert dict(zip(names, services, strict=True)) == {
        "eu": None,
        "tcn_first": config.arrivals.classes[1].desk_service,  # type: ignore[index]
        "tcn_returning": None,
    }


def test_a_flights_mix_inherits_the_class_settings_given_elsewhere():
    mix = [{"name": "eu", "share": 0.2, "channel": "gate"}]
    mix.append({"name": "tcn_first", "share": 0.8, "channel": "desk"})
    config = hall({"desk_service": ENROL}, mix)
    infos = {info.name: info for info in config.arrivals.class_infos()}
    assert infos["tcn_first"].desk_service is not None


def test_two_different_desk_services_for_one_class_are_an_error():
    mix = [
        {"name": "tcn_first", "share": 1, "channel": "desk", "desk_service": KIOSK},
    ]
    with pytest.raises(ValueError, match="class 'tcn_first' is given two different desk_services"):
        hall({"desk_service": ENROL}, mix)


def test_a_kiosk_delays_its_class_alone_and_leaves_the_other_draws_alone():
    plain = generate_arrivals(hall({}), np.random.default_rng(5), Path())
    kiosk = generate_arrivals(hall({"kiosk": KIOSK}), np.random.default_rng(5), Path())
    first = plain.class_names.index("tcn_first")
    assert len(plain) == len(kiosk) == 700
    assert kiosk.class_names == plain.class_names

    # The same travellers: sorted by (flight, class, time) the times differ by the kiosk only.
    def keyed(arrivals: Any) -> list[tuple[int, int, float]]:
        return sorted(
            zip(
                arrivals.flights.tolist(),
                arrivals.classes.tolist(),
                arrivals.times.tolist(),
                strict=True,
            )
        )

    for (flight, cls, at), (flight2, cls2, at2) in zip(keyed(plain), keyed(kiosk), strict=True):
        assert (flight, cls) == (flight2, cls2)
        assert at2 == pytest.approx(at + (90.0 if cls == first else 0.0))


def test_the_shipped_ees_model_compares_before_ees_enrolment_and_kiosks():
    config = load_hall(CONFIGS / "schengen-hub-ees.yaml")
    variants = dict(config.variant_configs())
    assert list(variants) == ["before_ees", "ees", "ees_kiosks"]
    assert config.warnings == ()

    def classes(name: str) -> dict[str, Any]:
        return {info.name: info for info in variants[name].arrivals.class_infos()}

    assert classes("before_ees")["tcn_first"].desk_service is None
    assert classes("ees")["tcn_first"].desk_service is not None
    assert classes("ees_kiosks")["tcn_first"].kiosk is not None


@pytest.mark.skipif(
    not hasattr(simulation.hall, "desk_services"),
    reason="the hall serves a class's own desk service once hall.py draws it (issue 17)",
)
def test_enrolment_at_the_desk_takes_the_classs_own_time():
    for first, expected in (({}, 60.0), ({"desk_service": ENROL}, 150.0)):
        records = simulate(hall(first), Path(), np.random.SeedSequence(7))
        index = records.arrivals.class_names.index("tcn_first")
        mine = (records.arrivals.classes == index) & ~records.referred
        served = records.desk_end[mine] - records.desk_start[mine]
        assert np.allclose(served, expected)
