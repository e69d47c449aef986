"""The replay report's timeline: the gates over scenario time, drawn as an inline SVG.

A lane per gate, a bar per transaction coloured by outcome, a marker on each
transaction not as expected and on each device event or alarm.  The page
around it is ``station.training.report``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from html import escape

from station.training.scorecard import Transaction, transactions
from station.training.transcript import Line, ReplayRun, Step, clock_text

# Outcomes with a colour of their own (any other is drawn as "other").
OUTCOMES = ("accepted", "referred", "rejected", "aborted")
# Transcript steps drawn on the timeline as markers.
EVENT_STEPS = (Step.DEVICE, Step.ALARM)

# Timeline geometry, in SVG user units (pixels at 100%).
_LEFT, _RIGHT, _TOP, _LANE, _AXIS = 64, 24, 12, 40, 28
_MIN_PLOT, _MAX_PLOT, _PX_PER_S = 880.0, 24_000.0, 8.0
_TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400)
_CHAR_PX = 6.6  # width of a label character at the bar label's size
# Scenario seconds to a horizontal position on the timeline.
_Scale = Callable[[float], float]


def _lanes(run: ReplayRun, found: Sequence[Transaction]) -> list[str]:
    lanes = list(run.scenario.gates.names)
    for gate in [t.gate for t in found] + [line.gate for line in run.lines]:
        if gate and gate != "-" and gate not in lanes:
            lanes.append(gate)
    return lanes


def _tick_step(scale: float) -> int:
    """Seconds between axis ticks: the first that puts them 90 px or more apart."""
    for step in _TICKS:
        if step * scale >= 90:
            return step
    return _TICKS[-1]


def _bounds(transaction: Transaction) -> tuple[float, float] | None:
    begin = transaction.started_at
    if begin is None:
        return None
    end = transaction.ended_at
    if end is None:
        end = begin + (transaction.duration_s or 0.0)
    return begin, max(end, begin)


def timeline_svg(run: ReplayRun) -> str:
    """An SVG of the gates over scenario time: a lane per gate, a bar per transaction.

    Bars are coloured by outcome and labelled with the passengers' ids (in the
    bar's tooltip too, for a bar too short to hold them); a bar whose outcome
    was not as expected carries a ``!`` marker; device events and alarms of the
    transcript are vertical markers.  Long runs widen the drawing (the page
    scrolls it) rather than squeeze the bars.  A transaction with no start time
    or no gate cannot be placed and is left out.
    """
    found = transactions(run)
    lanes = _lanes(run, found)
    placed = [(t, bounds) for t in found if (bounds := _bounds(t)) is not None]
    events = [line for line in run.lines if line.step in EVENT_STEPS]
    span = max(
        [run.duration, 1.0] + [end for _, (_, end) in placed] + [line.at for line in run.lines]
    )
    plot = min(max(_MIN_PLOT, span * _PX_PER_S), _MAX_PLOT)
    scale = plot / span
    width = _LEFT + plot + _RIGHT
    height = _TOP + _LANE * len(lanes) + _AXIS
    bottom = _TOP + _LANE * len(lanes)

    def x(at: float) -> float:
        return _LEFT + max(at, 0.0) * scale

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="timeline of the gates">'
    ]
    lane_of = {gate: index for index, gate in enumerate(lanes)}
    for index, gate in enumerate(lanes):
        top = _TOP + index * _LANE
        odd = " odd" if index % 2 else ""
        out.append(
            f'<g class="lane" data-gate="{escape(gate)}">'
            f'<rect class="lane-bg{odd}" x="0" y="{top}" width="{width:.0f}" height="{_LANE}"/>'
            f'<text class="gate-label" x="8" y="{top + _LANE / 2 + 4:.1f}">{escape(gate)}</text>'
            "</g>"
        )
    step = _tick_step(scale)
    start = run.scenario.start
    for at in range(0, int(span) + 1, step):
        px = x(at)
        label = (start + timedelta(seconds=at)).strftime("%H:%M:%S")
        out.append(
            f'<line class="tick" x1="{px:.1f}" y1="{_TOP}" x2="{px:.1f}" y2="{bottom + 4}"/>'
            f'<text x="{px:.1f}" y="{bottom + 18}" text-anchor="middle">{label}</text>'
        )
    for transaction, (begin, end) in placed:
        if transaction.gate not in lane_of:
            continue
        out.append(_bar(transaction, begin, end, x, lane_of[transaction.gate], start))
    for line in events:
        out.append(_event(line, x, lane_of, len(lanes), start))
    out.append("</svg>")
    return "".join(out)


def _bar(
    transaction: Transaction,
    begin: float,
    end: float,
    x: _Scale,
    lane: int,
    start: datetime,
) -> str:
    top = _TOP + lane * _LANE + 8
    height = _LANE - 16
    left = x(begin)
    span = max(x(end) - left, 3.0)
    outcome = transaction.outcome if transaction.outcome in OUTCOMES else "other"
    miss = "" if transaction.matched else " miss"
    label = "+".join(transaction.passengers)
    tip = (
        f"{label}: {transaction.outcome or 'no outcome'} "
        f"{clock_text(start, begin)}-{clock_text(start, end)}"
        + ("" if transaction.matched else " (not as expected)")
    )
    parts = [
        f'<g class="transaction"><rect class="bar outcome-{outcome}{miss}" x="{left:.1f}" '
        f'y="{top}" width="{span:.1f}" height="{height}" rx="3"><title>{escape(tip)}</title></rect>'
    ]
    if span >= len(label) * _CHAR_PX + 6:
        parts.append(
            f'<text class="bar-label" x="{left + 4:.1f}" y="{top + height / 2 + 4:.1f}">'
            f"{escape(label)}</text>"
        )
    if not transaction.matched:
        cx, cy = left + span, top
        parts.append(
            f'<circle class="mismatch" cx="{cx:.1f}" cy="{cy}" r="7"><title>not as expected'
            f'</title></circle><text class="mismatch-mark" x="{cx:.1f}" y="{cy + 4}">!</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _event(line: Line, x: _Scale, lane_of: dict[str, int], lanes: int, start: datetime) -> str:
    lane = lane_of.get(line.gate)
    top = _TOP + (0 if lane is None else lane * _LANE)
    bottom = _TOP + (lanes if lane is None else lane + 1) * _LANE
    px = x(line.at)
    tip = f"{clock_text(start, line.at)} {line.gate} {line.step}: {line.text}"
    return (
        f'<g class="event event-{escape(line.step)}"><title>{escape(tip)}</title>'
        f'<line x1="{px:.1f}" y1="{top + 2}" x2="{px:.1f}" y2="{bottom - 2}"/>'
        f'<path d="M{px:.1f} {top + 1} l5 6 l-5 6 l-5 -6 z"/></g>'
    )
