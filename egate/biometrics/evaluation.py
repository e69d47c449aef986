"""Accuracy of 1:1 verification in the terms of ISO/IEC 19795.

Given labelled comparisons (genuine: same person; impostor: different
people) with their descriptor distances, this computes per threshold

* FMR, the false match rate: the share of impostor comparisons declared a
  match (distance at most the threshold);
* FNMR, the false non-match rate: the share of genuine comparisons declared
  no match;

and from them the equal error rate (EER), the FNMR where the FMR reaches a
target (the EU Entry/Exit System asks FNMR < 1% at FMR = 0.05%), and the
threshold that meets a target FMR.  Samples from which no template could be
made count towards the failure-to-acquire rate (FTA) and take part in no
comparison, as 19795 prescribes for FMR and FNMR.

A rate is only as fine as the number of comparisons behind it: with N
impostor comparisons the smallest non-zero FMR is 1/N, and when none of them
is a false match, the FMR is below 3/N with 95% confidence (the rule of
three).  Results carry those counts so that reports can say so.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Comparison:
    """One labelled comparison and its distance."""

    genuine: bool
    distance: float


@dataclass(frozen=True, slots=True)
class RateAt:
    """FMR and FNMR at one threshold, with the counts behind them."""

    threshold: float
    fmr: float
    fnmr: float
    false_matches: int
    impostors: int
    false_non_matches: int
    genuines: int


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """The threshold chosen for a target FMR and what it costs in FNMR."""

    target_fmr: float
    threshold: float | None
    fmr: float | None
    fnmr: float | None
    # Below this many impostor comparisons the target cannot be measured,
    # only bounded: 1 / target.
    impostors_needed: int
    # Upper 95% bound on the FMR when no false match was seen (3 / impostors).
    fmr_upper_bound: float | None


class ErrorRates:
    """FMR and FNMR at any threshold, from sorted genuine and impostor distances."""

    def __init__(self, comparisons: Iterable[Comparison]) -> None:
        genuine: list[float] = []
        impostor: list[float] = []
        for comparison in comparisons:
            (genuine if comparison.genuine else impostor).append(comparison.distance)
        self.genuine = sorted(genuine)
        self.impostor = sorted(impostor)

    def at(self, threshold: float) -> RateAt:
        """Rates when a distance at most ``threshold`` is a match."""
        false_matches = bisect.bisect_right(self.impostor, threshold)
        false_non_matches = len(self.genuine) - bisect.bisect_right(self.genuine, threshold)
        return RateAt(
            threshold=threshold,
            fmr=false_matches / len(self.impostor) if self.impostor else math.nan,
            fnmr=false_non_matches / len(self.genuine) if self.genuine else math.nan,
            false_matches=false_matches,
            impostors=len(self.impostor),
            false_non_matches=false_non_matches,
            genuines=len(self.genuine),
        )

    def grid(self, thresholds: Sequence[float]) -> list[RateAt]:
        """Rates at each threshold."""
        return [self.at(threshold) for threshold in thresholds]

    def equal_error_rate(self) -> tuple[float, float] | None:
        """(EER, threshold): where FMR and FNMR cross, interpolated between observed distances."""
        if not self.genuine or not self.impostor:
            return None
        candidates = sorted({0.0, *self.genuine, *self.impostor})
        previous: RateAt | None = None
        for threshold in candidates:
            rate = self.at(threshold)
            if rate.fmr >= rate.fnmr:
                if previous is None:
                    return rate.fmr, threshold
                # Linear interpolation of both curves between the two thresholds.
                gap_before = previous.fnmr - previous.fmr
                gap_after = rate.fmr - rate.fnmr
                share = gap_before / (gap_before + gap_after) if gap_before + gap_after else 0.0
                eer = previous.fmr + share * (rate.fmr - previous.fmr)
                crossing = previous.threshold + share * (threshold - previous.threshold)
                return eer, crossing
            previous = rate
        assert previous is not None
        return previous.fnmr, previous.threshold

    def operating_point(self, target_fmr: float) -> OperatingPoint:
        """The largest threshold whose FMR does not exceed ``target_fmr``, and its FNMR."""
        needed = math.ceil(1 / target_fmr) if target_fmr > 0 else 0
        if not self.impostor:
            return OperatingPoint(target_fmr, None, None, None, needed, None)
        impostors = len(self.impostor)
        # The tolerance keeps 0.3 * 10 (2.9999999999999996) at 3 false matches;
        # the loop takes back any that would put the FMR above the target.
        allowed = math.floor(target_fmr * impostors + 1e-9)
        while allowed > 0 and allowed / impostors > target_fmr:
            allowed -= 1
        if allowed >= len(self.impostor):
            threshold = max(self.impostor[-1], self.genuine[-1] if self.genuine else 0.0)
        else:
            # Just below the (allowed + 1)-th smallest impostor distance.
            threshold = math.nextafter(self.impostor[allowed], -math.inf)
        rate = self.at(threshold)
        bound = 3 / len(self.impostor) if rate.false_matches == 0 else None
        return OperatingPoint(target_fmr, threshold, rate.fmr, rate.fnmr, needed, bound)


def default_thresholds() -> list[float]:
    """0.30 to 0.90 in steps of 0.01: the useful range of dlib's face descriptor distances."""
    return [round(0.30 + step * 0.01, 2) for step in range(61)]


# The EU Entry/Exit System's operating point, and a looser common one.
EES_FMR = 0.0005
COMMON_FMR = 0.001


def _rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def _point(point: OperatingPoint, impostors: int) -> dict[str, object]:
    return {
        "target_fmr": point.target_fmr,
        "threshold": _rounded(point.threshold),
        "fmr": _rounded(point.fmr),
        "fnmr": _rounded(point.fnmr),
        "impostor_comparisons_needed": point.impostors_needed,
        "measurable": impostors >= point.impostors_needed,
        "fmr_upper_bound_95": _rounded(point.fmr_upper_bound),
    }


def summarise(
    rates: ErrorRates,
    photos: int,
    failures: dict[str, str],
    skipped_pairs: int,
    target_fmr: float,
) -> dict[str, object]:
    """The evaluation as plain data: FTA, counts, EER, operating points, notes on resolution.

    ``failures`` maps each photo that gave no template to its reason code.
    """
    impostors, genuines = len(rates.impostor), len(rates.genuine)
    reasons: dict[str, int] = {}
    for reason in failures.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    eer = rates.equal_error_rate()
    targets = sorted({EES_FMR, COMMON_FMR, target_fmr})
    points = [rates.operating_point(target) for target in targets]
    notes = []
    for point in points:
        if impostors < point.impostors_needed:
            bound = (
                f"; with no false match seen, FMR < {3 / impostors:.2%} (95%)" if impostors else ""
            )
            notes.append(
                f"FMR {point.target_fmr:.2%} needs at least {point.impostors_needed} impostor "
                f"comparisons to be measured; this rests on {impostors}{bound}"
            )
    return {
        "photos": photos,
        "failure_to_acquire": {
            "count": len(failures),
            "rate": _rounded(len(failures) / photos if photos else math.nan),
            "reasons": reasons,
        },
        "comparisons": {"genuine": genuines, "impostor": impostors, "skipped": skipped_pairs},
        "eer": None if eer is None else {"rate": _rounded(eer[0]), "threshold": _rounded(eer[1])},
        "operating_points": [_point(point, impostors) for point in points],
        "target_fmr": target_fmr,
        "at_thresholds": {
            f"{threshold:.2f}": {
                "fmr": _rounded(rates.at(threshold).fmr),
                "fnmr": _rounded(rates.at(threshold).fnmr),
            }
            for threshold in (0.5, 0.6)
        },
        "notes": notes,
    }
