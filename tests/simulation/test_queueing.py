"""Closed-form queueing results, checked against textbook values and independent formulas.

The M/M/c references are computed here the direct way, with factorials
(or exact fractions for many servers), not by the recursion under test.
"""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulation.distributions import Deterministic, Distribution, Exponential, Gamma
from simulation.queueing import (
    erlang_b,
    erlang_c,
    md1_mean_wait,
    mean_confidence_interval,
    mg1_mean_wait,
    mm1_mean_wait,
    mmc_mean_queue_length,
    mmc_mean_wait,
    mmc_wait_quantile,
    student_t_quantile,
    utilisation,
)


def erlang_c_by_factorials(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Erlang-C as printed in textbooks: the queueing term over the sum of all terms."""
    load = arrival_rate / service_rate
    rho = load / servers
    queueing = load**servers / math.factorial(servers) / (1 - rho)
    idle = sum(load**k / math.factorial(k) for k in range(servers))
    return queueing / (idle + queueing)


def erlang_c_exact(servers: int, load: Fraction) -> Fraction:
    """The same formula in exact rational arithmetic: no overflow for any number of servers."""
    rho = load / servers
    queueing = load**servers / math.factorial(servers) / (1 - rho)
    idle = sum(load**k / math.factorial(k) for k in range(servers))
    return queueing / (idle + queueing)


# --- textbook values ----------------------------------------------------------------------------


def test_mm1_textbook_values():
    # lambda = 0.5, mu = 1: rho = 0.5, Wq = rho / (mu - lambda) = 1, Lq = rho^2 / (1 - rho) = 0.5.
    assert utilisation(1, 0.5, 1.0) == 0.5
    assert erlang_c(1, 0.5, 1.0) == pytest.approx(0.5)
    assert mmc_mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)
    assert mm1_mean_wait(0.5, 1.0) == pytest.approx(1.0)
    assert mmc_mean_queue_length(1, 0.5, 1.0) == pytest.approx(0.5)


def test_mm2_textbook_values():
    # lambda = mu = 1 on two servers: a = 1, rho = 0.5, C = 1/3, Wq = C / (2 mu - lambda) = 1/3.
    assert erlang_c(2, 1.0, 1.0) == pytest.approx(1 / 3)
    assert mmc_mean_wait(2, 1.0, 1.0) == pytest.approx(1 / 3)
    assert mmc_mean_queue_length(2, 1.0, 1.0) == pytest.approx(1 / 3)


def test_a_call_centre_example():
    # 10 agents, 2 calls a minute of 4 minutes each on average: 8 erlangs.
    assert erlang_c(10, 2.0, 0.25) == pytest.approx(0.40918, abs=5e-5)
    assert mmc_mean_wait(10, 2.0, 0.25) == pytest.approx(0.40918 / (10 * 0.25 - 2.0), abs=1e-4)


@pytest.mark.parametrize("servers", range(1, 11))
@pytest.mark.parametrize("rho", [0.05, 0.3, 0.5, 0.8, 0.95, 0.999])
def test_erlang_c_matches_the_factorial_formula(servers: int, rho: float):
    service_rate = 1 / 12.0
    arrival_rate = rho * servers * service_rate
    expected = erlang_c_by_factorials(servers, arrival_rate, service_rate)
    assert erlang_c(servers, arrival_rate, service_rate) == pytest.approx(expected, rel=1e-10)
    expected_wait = expected / (servers * service_rate - arrival_rate)
    assert mmc_mean_wait(servers, arrival_rate, service_rate) == pytest.approx(
        expected_wait, rel=1e-10
    )


@pytest.mark.parametrize(("servers", "load"), [(50, 45), (171, 160), (200, 190), (200, 199)])
def test_erlang_c_stays_exact_for_many_servers(servers: int, load: int):
    # 171! overflows a float: the textbook formula in floats fails here.
    expected = float(erlang_c_exact(servers, Fraction(load)))
    assert erlang_c(servers, float(load), 1.0) == pytest.approx(expected, rel=1e-10)


def test_erlang_b_single_server_and_no_load():
    assert erlang_b(1, 3.0) == pytest.approx(3 / 4)
    assert erlang_b(5, 0.0) == 0.0
    assert erlang_c(3, 0.0, 1.0) == 0.0
    assert mmc_mean_wait(3, 0.0, 1.0) == 0.0


# --- limits and identities ----------------------------------------------------------------------


def test_md1_waits_half_as_long_as_mm1():
    for rho in (0.1, 0.5, 0.9):
        assert md1_mean_wait(rho, 1.0) == pytest.approx(mm1_mean_wait(rho, 1.0) / 2)
    # lambda = 0.5, S = 1: Wq = rho S / (2 (1 - rho)) = 0.5.
    assert md1_mean_wait(0.5, 1.0) == pytest.approx(0.5)


def test_mg1_with_exponential_spread_is_mm1():
    # An exponential service time has sd = mean.
    assert mg1_mean_wait(0.3, 2.0, 2.0) == pytest.approx(mm1_mean_wait(0.3, 0.5))
    assert mg1_mean_wait(0.3, 2.0, 0.0) == pytest.approx(md1_mean_wait(0.3, 2.0))


def test_mmc_wait_quantiles():
    # M/M/1, lambda = 0.5, mu = 1: P(Wq > t) = 0.5 exp(-0.5 t).
    assert mmc_wait_quantile(1, 0.5, 1.0, 0.95) == pytest.approx(2 * math.log(10))
    assert mmc_wait_quantile(1, 0.5, 1.0, 0.5) == 0.0  # half never wait
    assert mmc_wait_quantile(1, 0.5, 1.0, 0.0) == 0.0
    assert mmc_wait_quantile(3, 2.0, 1.0, 0.9) > mmc_wait_quantile(3, 2.0, 1.0, 0.8)


# --- stability and input checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mmc_mean_wait(2, 2.0, 1.0), r"unstable queue: load rho = 1 >= 1 \(arrivals 2/s"),
        (lambda: erlang_c(3, 4.0, 1.0), r"load rho = 1.333 >= 1"),
        (lambda: mmc_mean_queue_length(1, 1.5, 1.0), r"load rho = 1.5 >= 1"),
        (lambda: mmc_wait_quantile(1, 1.0, 1.0, 0.5), r"load rho = 1 >= 1"),
        (lambda: mm1_mean_wait(2.0, 1.0), r"load rho = 2 >= 1 \(arrivals 2/s against one"),
        (lambda: md1_mean_wait(0.5, 3.0), r"load rho = 1.5 >= 1 \(arrivals 0.5/s, service 3 s"),
        (lambda: mg1_mean_wait(1.0, 1.0, 0.5), r"load rho = 1 >= 1"),
        (lambda: erlang_c(0, 1.0, 1.0), r"servers must be a whole number >= 1 \(got 0\)"),
        (lambda: erlang_c(2.5, 1.0, 1.0), r"servers must be a whole number >= 1 \(got 2.5\)"),
        (lambda: erlang_c(True, 0.1, 1.0), r"servers must be a whole number >= 1 \(got True\)"),
        (lambda: erlang_c(2, -1.0, 1.0), r"arrival_rate must be a finite number >= 0"),
        (lambda: erlang_c(2, math.nan, 1.0), r"arrival_rate must be a finite number >= 0"),
        (lambda: erlang_c(2, 1.0, 0.0), r"service_rate must be a finite number > 0"),
        (lambda: erlang_b(2, -1.0), r"offered_load must be a finite number >= 0"),
        (lambda: mg1_mean_wait(0.1, 0.0, 1.0), r"mean_service must be a finite number > 0"),
        (lambda: mg1_mean_wait(0.1, 1.0, -1.0), r"service_sd must be a finite number >= 0"),
        (lambda: mmc_wait_quantile(2, 1.0, 1.0, 1.0), r"probability must be in \[0, 1\)"),
    ],
)
def test_unstable_or_meaningless_inputs_are_refused(call: object, message: str):
    assert callable(call)
    with pytest.raises(ValueError, match=message):
        call()


def test_utilisation_reports_overload_without_refusing_it():
    assert utilisation(2, 3.0, 1.0) == 1.5


# --- properties ---------------------------------------------------------------------------------

servers_st = st.integers(min_value=1, max_value=200)
load_st = st.floats(min_value=0.0, max_value=0.995)
service_rate_st = st.floats(min_value=1e-3, max_value=1e3)


@given(servers_st, load_st, service_rate_st)
def test_erlang_c_is_a_probability(servers: int, rho: float, service_rate: float):
    arrival_rate = rho * servers * service_rate
    probability = erlang_c(servers, arrival_rate, service_rate)
    assert 0.0 <= probability <= 1.0
    # Waiting is never likelier than finding the one server busy at the same load.
    assert probability <= rho + 1e-12


@given(servers_st, load_st, service_rate_st)
def test_more_servers_never_wait_longer(servers: int, rho: float, service_rate: float):
    arrival_rate = rho * servers * service_rate
    now = mmc_mean_wait(servers, arrival_rate, service_rate)
    more = mmc_mean_wait(servers + 1, arrival_rate, service_rate)
    assert more <= now * (1 + 1e-12)
    assert erlang_c(servers + 1, arrival_rate, service_rate) <= erlang_c(
        servers, arrival_rate, service_rate
    ) * (1 + 1e-12)


@given(load_st, service_rate_st)
def test_one_server_is_mm1(rho: float, service_rate: float):
    arrival_rate = rho * service_rate
    assert mmc_mean_wait(1, arrival_rate, service_rate) == pytest.approx(
        mm1_mean_wait(arrival_rate, service_rate), rel=1e-9, abs=1e-300
    )
    assert erlang_c(1, arrival_rate, service_rate) == pytest.approx(rho, rel=1e-12, abs=1e-300)


@given(servers_st, load_st, st.floats(min_value=0.01, max_value=0.999))
def test_quantiles_solve_the_waiting_tail(servers: int, rho: float, probability: float):
    arrival_rate, service_rate = rho * servers, 1.0
    quantile = mmc_wait_quantile(servers, arrival_rate, service_rate, probability)
    waiting = erlang_c(servers, arrival_rate, service_rate)
    tail = waiting * math.exp(-(servers * service_rate - arrival_rate) * quantile)
    if quantile == 0:
        assert 1 - waiting >= probability
    else:
        assert 1 - tail == pytest.approx(probability, rel=1e-9)


# --- against a simulation -----------------------------------------------------------------------


def lindley_mean_wait(
    arrivals: Distribution, service: Distribution, count: int, seed: int
) -> float:
    """Mean queueing time of one FIFO server, by Lindley's recursion over ``count`` travellers."""
    rng = np.random.default_rng(seed)
    gaps = arrivals.sample_many(rng, count).tolist()
    services = service.sample_many(rng, count).tolist()
    wait, total = 0.0, 0.0
    for gap, served in zip(gaps[1:], services, strict=False):
        wait = max(0.0, wait + served - gap)
        total += wait
    return total / (count - 1)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (Exponential(1.0), mm1_mean_wait(0.5, 1.0)),
        (Deterministic(1.0), md1_mean_wait(0.5, 1.0)),
        (Gamma(1.0, 0.5), mg1_mean_wait(0.5, 1.0, 0.5)),
    ],
    ids=["M/M/1", "M/D/1", "M/G/1"],
)
def test_sampled_single_server_queues_land_on_the_formulas(service: Distribution, expected: float):
    simulated = lindley_mean_wait(Exponential(2.0), service, 400_000, seed=11)
    assert simulated == pytest.approx(expected, rel=0.03)


# --- Student's t and confidence intervals -------------------------------------------------------


@pytest.mark.parametrize(
    ("df", "expected"),
    [
        (1, 12.706),
        (2, 4.303),
        (4, 2.776),
        (10, 2.228),
        (29, 2.045),
        (120, 1.980),
        (math.inf, 1.960),
    ],
)
def test_t_quantiles_match_the_tables(df: float, expected: float):
    assert student_t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize(
    ("probability", "df", "expected"),
    [(0.95, 1, 6.314), (0.995, 4, 4.604), (0.9995, 29, 3.659), (0.9, 5, 1.476), (0.99, 60, 2.390)],
)
def test_other_table_values(probability: float, df: float, expected: float):
    assert student_t_quantile(probability, df) == pytest.approx(expected, abs=5e-4)


@given(st.floats(min_value=1e-6, max_value=1 - 1e-6))
def test_t_quantile_closed_forms_for_one_and_two_degrees(probability: float):
    # df = 1 is the Cauchy distribution; df = 2 has an algebraic inverse.
    cauchy = math.tan(math.pi * (probability - 0.5))
    two = (2 * probability - 1) / math.sqrt(2 * probability * (1 - probability))
    assert student_t_quantile(probability, 1) == pytest.approx(cauchy, rel=1e-9, abs=1e-9)
    assert student_t_quantile(probability, 2) == pytest.approx(two, rel=1e-9, abs=1e-9)


@given(st.floats(min_value=1e-6, max_value=0.5), st.floats(min_value=0.5, max_value=1e6))
def test_t_quantile_is_symmetric_and_beyond_the_normal(probability: float, df: float):
    lower = student_t_quantile(probability, df)
    assert student_t_quantile(1 - probability, df) == pytest.approx(-lower, rel=1e-9, abs=1e-9)
    normal = statistics.NormalDist().inv_cdf(probability)
    assert lower <= normal + 1e-9  # heavier tails than the normal


def test_t_quantile_is_continuous_where_the_method_changes():
    assert student_t_quantile(0.975, 9999.999) == pytest.approx(
        student_t_quantile(0.975, 10000.0), rel=1e-9
    )


@pytest.mark.parametrize(
    ("probability", "df", "message"),
    [(0.0, 3, "probability must be between 0 and 1"), (0.5, 0, "df must be greater than 0")],
)
def test_t_quantile_refuses_meaningless_arguments(probability: float, df: float, message: str):
    with pytest.raises(ValueError, match=message):
        student_t_quantile(probability, df)


def test_confidence_interval_of_a_known_sample():
    # mean 3, sd sqrt(2.5), t(0.975, 4) = 2.7764: half-width 2.7764 * sqrt(2.5 / 5) = 1.9632.
    mean, low, high = mean_confidence_interval([1, 2, 3, 4, 5])
    assert mean == 3.0
    assert (low, high) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)
    _, low99, high99 = mean_confidence_interval([1, 2, 3, 4, 5], level=0.99)
    assert low99 < low and high99 > high


def test_confidence_intervals_cover_the_true_mean_at_their_level():
    rng = np.random.default_rng(2)
    covered = 0
    for _ in range(2000):
        _, low, high = mean_confidence_interval(rng.normal(10.0, 3.0, 5).tolist())
        covered += low <= 10.0 <= high
    # Three standard errors of a share estimated from 2000 trials.
    assert covered / 2000 == pytest.approx(0.95, abs=0.015)


def test_confidence_interval_edge_cases():
    mean, low, high = mean_confidence_interval([4.0])
    assert mean == 4.0 and math.isnan(low) and math.isnan(high)
    assert mean_confidence_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    assert mean_confidence_interval(iter([1.0, 3.0]))[0] == 2.0
    with pytest.raises(ValueError, match="at least one value"):
        mean_confidence_interval([])
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        mean_confidence_interval([1.0, 2.0], level=95)
