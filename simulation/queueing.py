"""Closed-form queueing results: what a simulation must reproduce where theory knows the answer.

A queue is described by its arrivals, its service times and its servers.
Kendall's notation names the simplest cases: in M/M/c, travellers arrive at
random (a Poisson process, rate ``arrival_rate`` per second), each takes an
exponential service time (rate ``service_rate``, so a mean of
``1 / service_rate`` seconds) and ``servers`` gates work in parallel from one
queue. M/D/1 has one server and a fixed service time, M/G/1 one server and
any service-time distribution with a known mean and standard deviation.

The load is ``rho = arrival_rate / (servers * service_rate)``, the share of
time each server is busy. Only below 1 does the queue settle; at or above it,
it grows without end and there is no steady-state waiting time, so the
functions here raise ``ValueError``.

Erlang's C formula gives the probability that a traveller must queue at all
in M/M/c; from it follow the mean wait in the queue (Wq), its quantiles and
the mean queue length (Lq, by Little's law ``Lq = arrival_rate * Wq``). The
Pollaczek-Khinchine formula gives Wq for M/D/1 and M/G/1.

A simulation of such a queue, run long enough, must land on these numbers:
that is how the capacity model is validated. Its estimates come from
several independent replications, summarised by ``mean_confidence_interval``
(Student's t, computed here since scipy is not a dependency).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable


def _check_rates(arrival_rate: float, service_rate: float) -> None:
    if not (math.isfinite(arrival_rate) and arrival_rate >= 0):
        raise ValueError(f"arrival_rate must be a finite number >= 0 (got {arrival_rate})")
    if not (math.isfinite(service_rate) and service_rate > 0):
        raise ValueError(f"service_rate must be a finite number > 0 (got {service_rate})")


def _check_servers(servers: int) -> None:
    if isinstance(servers, bool) or not isinstance(servers, int) or servers < 1:
        raise ValueError(f"servers must be a whole number >= 1 (got {servers!r})")


def _stable(rho: float, what: str) -> None:
    if rho >= 1:
        raise ValueError(
            f"unstable queue: load rho = {rho:.4g} >= 1 ({what}); the queue grows without end"
        )


def utilisation(servers: int, arrival_rate: float, service_rate: float) -> float:
    """The load rho: the share of time each server is busy (1 or more: unstable)."""
    _check_servers(servers)
    _check_rates(arrival_rate, service_rate)
    return arrival_rate / (servers * service_rate)


def erlang_b(servers: int, offered_load: float) -> float:
    """Erlang's B formula: the share of arrivals that find all ``servers`` busy with no queue.

    ``offered_load`` is ``arrival_rate / service_rate`` (in erlangs).
    """
    _check_servers(servers)
    if not (math.isfinite(offered_load) and offered_load >= 0):
        raise ValueError(f"offered_load must be a finite number >= 0 (got {offered_load})")
    # B(k) = a B(k-1) / (k + a B(k-1)), B(0) = 1: every term stays within
    # [0, 1], where the textbook form's a^c / c! overflows beyond c ~ 170.
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Erlang's C formula: the probability that an arrival must queue in M/M/c."""
    rho = _mmc_load(servers, arrival_rate, service_rate)
    blocking = erlang_b(servers, arrival_rate / service_rate)
    # The standard identity between the loss system (B) and the queue (C).
    return blocking / (1 - rho * (1 - blocking))


def _mmc_load(servers: int, arrival_rate: float, service_rate: float) -> float:
    rho = utilisation(servers, arrival_rate, service_rate)
    _stable(
        rho,
        f"arrivals {arrival_rate:.4g}/s against {servers} server(s) of {service_rate:.4g}/s",
    )
    return rho


def mmc_mean_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Wq of M/M/c: the mean time in the queue before service, in seconds."""
    waiting = erlang_c(servers, arrival_rate, service_rate)
    return waiting / (servers * service_rate - arrival_rate)


def mmc_mean_queue_length(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Lq of M/M/c: the mean number waiting (not in service), by Little's law."""
    return arrival_rate * mmc_mean_wait(servers, arrival_rate, service_rate)


def mmc_wait_quantile(
    servers: int, arrival_rate: float, service_rate: float, probability: float
) -> float:
    """The wait in the queue that ``probability`` (0-1) of travellers do not exceed in M/M/c.

    For example ``probability=0.95`` gives the 95th percentile of waiting, in seconds.
    """
    if not 0 <= probability < 1:
        raise ValueError(f"probability must be in [0, 1) (got {probability})")
    waiting = erlang_c(servers, arrival_rate, service_rate)
    # P(Wq > t) = C exp(-(c mu - lambda) t): nobody waits with probability
    # 1 - C, and the waits of those who do are exponential.
    if probability <= 1 - waiting:
        return 0.0
    return math.log(waiting / (1 - probability)) / (servers * service_rate - arrival_rate)


def mm1_mean_wait(arrival_rate: float, service_rate: float) -> float:
    """Wq of M/M/1, ``rho / (mu - lambda)``: the one-server case, in its own textbook form."""
    rho = utilisation(1, arrival_rate, service_rate)
    _stable(rho, f"arrivals {arrival_rate:.4g}/s against one server of {service_rate:.4g}/s")
    return rho / (service_rate - arrival_rate)


def mg1_mean_wait(arrival_rate: float, mean_service: float, service_sd: float) -> float:
    """Wq of M/G/1 by Pollaczek-Khinchine, from the service time's mean and sd (seconds)."""
    if not (math.isfinite(mean_service) and mean_service > 0):
        raise ValueError(f"mean_service must be a finite number > 0 (got {mean_service})")
    if not (math.isfinite(service_sd) and service_sd >= 0):
        raise ValueError(f"service_sd must be a finite number >= 0 (got {service_sd})")
    rho = utilisation(1, arrival_rate, 1 / mean_service)
    _stable(rho, f"arrivals {arrival_rate:.4g}/s, service {mean_service:.4g} s on one server")
    # Wq = lambda E[S^2] / (2 (1 - rho)), with E[S^2] = sd^2 + mean^2.
    second_moment = service_sd**2 + mean_service**2
    return arrival_rate * second_moment / (2 * (1 - rho))


def md1_mean_wait(arrival_rate: float, service_time: float) -> float:
    """Wq of M/D/1: a fixed service time (seconds); half the M/M/1 wait at the same load."""
    return mg1_mean_wait(arrival_rate, service_time, 0.0)


# --- confidence intervals -----------------------------------------------------------------------


def mean_confidence_interval(
    values: Iterable[float], level: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high): the mean of ``values`` and its Student's t confidence interval.

    For estimates from independent replications. With one value the
    interval is unknown: ``low`` and ``high`` are NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (got {level})")
    data = [float(value) for value in values]
    if not data:
        raise ValueError("a confidence interval needs at least one value")
    mean = statistics.fmean(data)
    if len(data) == 1:
        return mean, math.nan, math.nan
    half_width = student_t_quantile((1 + level) / 2, len(data) - 1) * (
        statistics.stdev(data) / math.sqrt(len(data))
    )
    return mean, mean - half_width, mean + half_width


def student_t_quantile(probability: float, df: float) -> float:
    """The ``probability`` quantile of Student's t with ``df`` degrees of freedom.

    ``df`` may be ``math.inf`` (the normal distribution). Accurate to about
    1e-11: the t distribution function is evaluated through the regularised
    incomplete beta function and inverted by bisection.
    """
    if not 0 < probability < 1:
        raise ValueError(f"probability must be between 0 and 1 (got {probability})")
    if not df > 0:
        raise ValueError(f"df must be greater than 0 (got {df})")
    if df >= _MANY_DF:
        return _t_from_normal(probability, df)
    if probability == 0.5:
        return 0.0
    # Symmetric about 0: solve in the upper tail, where P(T > t) = tail.
    tail = min(probability, 1 - probability)
    # P(T > t) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2), increasing in x.
    # Bisection in x over [0, 1] keeps the tails' tiny x values as accurate
    # as the rest.
    low, high = 0.0, 1.0
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if _incomplete_beta(middle, df / 2, 0.5) / 2 < tail:
            low = middle
        else:
            high = middle
    x = (low + high) / 2
    t = math.sqrt(df * (1 - x) / x)
    return t if probability > 0.5 else -t


# From here on the Cornish-Fisher series below is exact to double precision,
# while the log-gamma terms of the incomplete beta start losing digits.
_MANY_DF = 1e4


def _t_from_normal(probability: float, df: float) -> float:
    """Student's t quantile for many degrees of freedom, as a correction of the normal one.

    The Cornish-Fisher expansion in powers of 1 / df (Abramowitz and Stegun
    26.7.5), to the third power.
    """
    z = statistics.NormalDist().inv_cdf(probability)
    if math.isinf(df):
        return z
    first = (z**3 + z) / 4
    second = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    third = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + first / df + second / df**2 + third / df**3


def _incomplete_beta(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    # The continued fraction converges fast below the mean of Beta(a, b);
    # above it, the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) brings x there.
    if x > (a + 1) / (a + b + 2):
        return 1 - _incomplete_beta(1 - x, b, a)
    log_front = (
        a * math.log(x) + b * math.log1p(-x) + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    )
    return math.exp(log_front) / a * _beta_fraction(x, a, b)


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction 1 / (1 + d1 / (1 + d2 / (1 + ...))) of I_x(a, b).

    The denominator is evaluated forwards by the modified Lentz method, which
    needs no choice of depth in advance.
    """
    tiny = 1e-300  # stands in for a zero denominator
    fraction = 1.0
    c = 1.0
    d = 0.0
    for step in range(1, 1000):
        m = step // 2
        # The coefficients alternate between the even and odd forms.
        if step % 2:
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1 + numerator * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + numerator / c
        c = c if abs(c) > tiny else tiny
        change = c * d
        fraction *= change
        if abs(change - 1) < 1e-15:
            break
    return 1 / fraction
