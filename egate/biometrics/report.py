"""Accuracy reports: the rate table as CSV and the DET curve as PNG.

A DET (detection error trade-off) plot draws FNMR against FMR on normal
deviate scales, where the curves of most matchers become near straight lines
and the low error rates that gates care about stay readable.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from statistics import NormalDist

from egate.biometrics.evaluation import ErrorRates, OperatingPoint, RateAt

_TICKS = (0.0005, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
_NORMAL = NormalDist()


def _probit(rate: float, floor: float) -> float:
    """Normal deviate of a rate, with 0 and 1 clipped so they stay on the plot."""
    return _NORMAL.inv_cdf(min(max(rate, floor), 1 - floor))


def rates_csv(rows: Sequence[RateAt]) -> bytes:
    """The rate table as CSV bytes."""
    lines = [
        "threshold,fmr,fnmr,false_matches,impostor_comparisons,false_non_matches,"
        "genuine_comparisons"
    ]
    rows_text = [
        f"{row.threshold:.4f},{row.fmr:.6f},{row.fnmr:.6f},{row.false_matches},"
        f"{row.impostors},{row.false_non_matches},{row.genuines}"
        for row in rows
    ]
    return ("\n".join(lines + rows_text) + "\n").encode("ascii")


def det_png(rates: ErrorRates, points: Sequence[OperatingPoint], title: str) -> bytes:
    """The DET curve over every observed threshold, with the operating points marked."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a gate or a CI machine
    from matplotlib import pyplot as plt

    thresholds = sorted({0.0, *rates.genuine, *rates.impostor, 2.0})
    curve = [rates.at(threshold) for threshold in thresholds]
    # Half a comparison below the finest measurable rate keeps zeros visible.
    floor = min(0.5 / max(len(rates.impostor), len(rates.genuine), 1), _TICKS[0] / 2)
    figure, axes = plt.subplots(figsize=(6, 6), dpi=100)
    axes.plot(
        [_probit(row.fmr, floor) for row in curve],
        [_probit(row.fnmr, floor) for row in curve],
        drawstyle="steps-post",
        label=f"{len(rates.genuine)} genuine, {len(rates.impostor)} impostor comparisons",
    )
    for point in points:
        if point.fmr is None or point.fnmr is None:
            continue
        axes.plot(
            _probit(point.fmr, floor),
            _probit(point.fnmr, floor),
            "o",
            label=f"FMR target {point.target_fmr:.2%}: threshold {point.threshold:.3f}",
        )
    # Rates of zero sit on the floor, drawn as the first tick and labelled 0.
    ticks = [_probit(floor, floor)] + [_probit(tick, floor) for tick in _TICKS]
    labels = ["0"] + [f"{tick * 100:g}%" for tick in _TICKS]
    low, high = _probit(floor, floor) - 0.25, _probit(0.5, floor)
    for set_ticks, set_limits in (
        (axes.set_xticks, axes.set_xlim),
        (axes.set_yticks, axes.set_ylim),
    ):
        set_ticks(ticks, labels, fontsize=7)
        set_limits(low, high)
    axes.tick_params(axis="x", labelrotation=45)
    axes.set_xlabel("False match rate (FMR)")
    axes.set_ylabel("False non-match rate (FNMR)")
    axes.set_title(title)
    axes.grid(True, linestyle=":")
    axes.legend(loc="upper right", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def finite(value: float | None) -> float | None:
    """``value``, or None where it is not a finite number (for JSON)."""
    return None if value is None or math.isnan(value) or math.isinf(value) else value
