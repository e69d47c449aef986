"""The staffing optimiser's answer for a planner: the roster to paste, the proofs, the files.

``roster_yaml`` is the ``desks.roster`` block in the hall file's own form
(dated times when the file has a date), to paste over the file's roster;
``statements`` says in plain lines what the search proved and where it
stopped; ``slots_csv``, ``shifts_csv``, ``optimise_json`` and ``roster_png``
are what ``--out`` writes (matplotlib is imported when the plot is drawn).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from simulation.optimiser import OptimiserResult
from simulation.summary import Estimate

__all__ = [
    "interval_text",
    "optimise_json",
    "roster_periods",
    "roster_png",
    "roster_yaml",
    "shifts_csv",
    "slots_csv",
    "statements",
]


def _time(result: OptimiserResult, seconds: float) -> str:
    """Clock seconds as the hall file writes them: dated when the file has a date."""
    day0 = result.config.date
    whole = round(seconds)
    if day0 is not None:
        moment = dt.datetime.combine(day0, dt.time()) + dt.timedelta(seconds=whole)
        return moment.strftime("%Y-%m-%d %H:%M") + (
            f":{moment.second:02d}" if moment.second else ""
        )
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def interval_text(result: OptimiserResult, slot: int) -> str:
    """``07:00 to 07:30`` (with its date first when the file has one)."""
    begin = _time(result, result.slot_start(slot))
    end = _time(result, result.slot_start(slot + 1))
    if result.config.date is not None and begin[:10] == end[:10]:
        end = end[11:]
    return f"{begin} to {end}"


def roster_periods(result: OptimiserResult) -> list[tuple[str, str, int]]:
    """(from, to, desks) of the roster found, equal neighbouring slots merged."""
    desks = result.desks
    periods = []
    begin = 0
    for index in range(1, len(desks) + 1):
        if index == len(desks) or desks[index] != desks[begin]:
            periods.append(
                (
                    _time(result, result.slot_start(begin)),
                    _time(result, result.slot_start(index)),
                    desks[begin],
                )
            )
            begin = index
    return periods


def roster_yaml(result: OptimiserResult) -> str:
    """The roster as the hall file's ``desks:`` block takes it (service times left as they are)."""
    lines = ["desks:", "  roster:"]
    lines += [
        f'    - {{from: "{begin}", to: "{end}", desks: {count}}}'
        for begin, end, count in roster_periods(result)
    ]
    return "\n".join(lines) + "\n"


def _share(estimate: Estimate) -> str:
    if not math.isfinite(estimate.mean):
        return "-"
    return f"{estimate.mean:.1%}, 95% CI {estimate.low:.1%} to {estimate.high:.1%}"


def statements(result: OptimiserResult, proofs: int | None = 10) -> list[str]:
    """What the search found, proved and where it stopped, one sentence each.

    ``proofs`` caps how many per-interval proofs are listed (None: all).
    """
    rules, level = result.rules, result.config.service_level
    target = (
        f"{level.share:.0%} of each interval's arrivals waiting at most {level.max_wait_min:g} min"
    )
    counted = [index for index, slot in enumerate(result.evaluation.slots) if slot.travellers > 0]
    lines = [
        f"roster: {len(result.shifts)} shifts of {rules.length_min / 60:g} h"
        + (f" with a {rules.break_min}-minute break" if rules.break_min else "")
        + f" = {result.officer_hours:,.0f} officer-hours over {len(result.desks)} intervals of "
        f"{rules.step_min} min (the file's roster: {result.baseline_hours:,.0f} officer-hours on "
        f"duty, meeting {sum(1 for i in counted if result.baseline.slots[i].met)} of "
        f"{len(counted)} intervals with arrivals)"
    ]
    missed = result.evaluation.missed()
    if not missed:
        lines.append(
            f"the roster meets every interval with 95% confidence ({target}, on the lower end "
            f"of the 95% confidence interval over {result.replications} replications)"
        )
    else:
        for slot in missed:
            why = (
                f"even with {result.max_desks} desks, the most allowed"
                if slot in result.impossible
                else "no roster meeting it was found within the evaluations"
            )
            share = _share(result.evaluation.slots[slot].share)
            lines.append(f"interval {interval_text(result, slot)} misses ({share}): {why}")
    shown = result.proofs if proofs is None else result.proofs[:proofs]
    for proof in shown:
        where = interval_text(result, proof.slot)
        who = (
            "it"
            if proof.slot == proof.failed
            else f"interval {interval_text(result, proof.failed)}"
        )
        how = "misses with 95% confidence" if proof.certain else "is not shown to meet"
        lines.append(
            f"interval {where} needs ≥ {proof.needs} desks: with {proof.needs - 1}, {who} {how} "
            f"({_share(proof.share)})"
        )
    if len(shown) < len(result.proofs):
        lines.append(f"... and {len(result.proofs) - len(shown)} more such proofs (--out's files)")
    certain = sum(proof.certain for proof in result.proofs)
    lines.append(
        f"{len(result.proofs)} of {len(result.desks)} intervals are staffed at a level one desk "
        f"below which the search saw a miss ({certain} with 95% confidence); the others sit "
        "above their requirement because shifts are whole, or were not lowered further"
    )
    exact = (
        " (the more of: the fewest that cover it without breaks, and the officer-time"
        " it needs over each shift's time at a desk)"
        if rules.break_min
        else "; without breaks the greedy cover takes the fewest possible"
    )
    spare = ", as trimming found part of the requirement spare"
    lines.append(
        f"any cover of the requirement found per interval takes at least {result.bound} shifts "
        f"({result.bound * rules.length_min / 60:,.0f} officer-hours){exact}; the roster has "
        f"{len(result.shifts)}" + (spare if len(result.shifts) < result.bound else "")
    )
    if result.trimmed:
        lines.append(
            f"stopped after {result.evaluations} of {result.budget} evaluations: every shift was "
            "tried for removal, and taking out any one of them makes an interval miss"
        )
    else:
        lines.append(
            f"stopped after {result.evaluations} of {result.budget} evaluations (the budget): "
            + (
                "the roster found meets every interval; a roster with fewer officer-hours was "
                "not found within the search"
                if not missed
                else "no roster meeting every interval was found"
            )
        )
    return lines


def _cell(value: float) -> str:
    return repr(value) if math.isfinite(value) else ""


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return stream.getvalue().encode()


def slots_csv(result: OptimiserResult) -> bytes:
    """Per interval: requirement, desks on the roster and on the file's, its arrivals and share."""
    rows = []
    for slot, found in enumerate(result.evaluation.slots):
        share = found.share
        rows.append(
            (
                _time(result, result.slot_start(slot)),
                _time(result, result.slot_start(slot + 1)),
                result.requirement[slot],
                result.desks[slot],
                result.baseline.desks[slot],
                _cell(found.travellers),
                _cell(share.mean),
                _cell(share.low),
                _cell(share.high),
                found.met,
            )
        )
    header = (
        "from",
        "to",
        "requirement",
        "desks",
        "file_desks",
        "arrivals",
        "share",
        "share_low",
        "share_high",
        "met",
    )
    return _csv(header, rows)


def shifts_csv(result: OptimiserResult) -> bytes:
    """One row per shift: its start and end, and its break's."""
    rules = result.rules
    rows = []
    for number, shift in enumerate(result.shifts, start=1):
        pause: tuple[str, str] = ("", "")
        if shift.break_start is not None:
            pause = (
                _time(result, result.slot_start(shift.break_start)),
                _time(result, result.slot_start(shift.break_start + rules.break_slots)),
            )
        rows.append(
            (
                number,
                _time(result, result.slot_start(shift.start)),
                _time(result, result.slot_start(shift.start + rules.length_slots)),
                *pause,
            )
        )
    return _csv(("shift", "from", "to", "break_from", "break_to"), rows)


def _estimate(estimate: Estimate) -> dict[str, Any]:
    def number(value: float) -> float | None:
        return value if math.isfinite(value) else None

    return {
        "mean": number(estimate.mean),
        "low": number(estimate.low),
        "high": number(estimate.high),
        "replications": estimate.replications,
    }


def optimise_json(result: OptimiserResult) -> dict[str, Any]:
    """The whole answer as plain data (``egate-optimise/1``)."""
    rules = result.rules
    return {
        "format": "egate-optimise/1",
        "name": result.config.name,
        "settings": {
            "shift_length_min": rules.length_min,
            "break_min": rules.break_min,
            "step_min": rules.step_min,
            "min_staff": rules.min_staff,
            "max_desks": result.max_desks,
            "evaluations": result.budget,
        },
        "met": result.met,
        "officer_hours": result.officer_hours,
        "shifts": len(result.shifts),
        "lower_bound_shifts": result.bound,
        "file_officer_hours": result.baseline_hours,
        "evaluations": result.evaluations,
        "trimmed": result.trimmed,
        "roster": [
            {"from": begin, "to": end, "desks": count}
            for begin, end, count in roster_periods(result)
        ],
        "intervals": [
            {
                "from": _time(result, result.slot_start(slot)),
                "requirement": result.requirement[slot],
                "desks": result.desks[slot],
                "arrivals": found.travellers,
                "share": _estimate(found.share),
                "met": found.met,
            }
            for slot, found in enumerate(result.evaluation.slots)
        ],
        "proofs": [
            {
                "interval": interval_text(result, proof.slot),
                "needs": proof.needs,
                "missed": interval_text(result, proof.failed),
                "share": _estimate(proof.share),
                "with_confidence": proof.certain,
            }
            for proof in result.proofs
        ],
        "impossible": [interval_text(result, slot) for slot in result.impossible],
        "statements": statements(result, proofs=None),
    }


def roster_png(result: OptimiserResult) -> bytes:
    """Desks per interval: the roster found, the requirement, the file's; arrivals beside them."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    hours = [slot * result.slot_s / 3600.0 for slot in range(len(result.desks) + 1)]
    figure = Figure(figsize=(max(8.0, min(40.0, len(result.desks) / 12)), 6))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    for values, label, style in (
        (result.desks, "roster found", {"linewidth": 2.0}),
        (result.requirement, "requirement (step 1)", {"linestyle": "--"}),
        (result.baseline.desks, "the file's roster", {"alpha": 0.6}),
    ):
        top.stairs(values, hours, label=label, **style)
    missed = result.evaluation.missed()
    if missed:
        top.scatter(
            [hours[slot] + result.slot_s / 7200.0 for slot in missed],
            [result.desks[slot] for slot in missed],
            color="red",
            label="misses",
            zorder=3,
        )
    top.set_ylabel("desks staffed")
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.legend(loc="upper right")
    top.set_title(f"{result.config.name}: {result.officer_hours:,.0f} officer-hours")
    bottom.stairs([slot.travellers for slot in result.evaluation.slots], hours)
    bottom.set_ylabel("arrivals")
    bottom.set_xlabel(f"hours from {_time(result, result.start_s)}")
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
