"""The replay report's timeline: the gates over scenario time, drawn as an inline SVG.

A lane per gate, a bar per transaction coloured by outcome, a marker on each
transaction not as expected and on each device event or alarm, and a shaded
band for each device fault from its failure to its recovery (``fault_spans``).
The page around it is ``station.training.report``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from station.training.scorecard import Transaction, transactions
from station.training.transcript import Line, PassengerResult, ReplayRun, Step, clock_text

__all__ = ["EVENT_STEPS", "OUTCOMES", "FaultSpan", "fault_spans", "timeline_svg"]

# Outcomes with a colour of their own (any other is drawn as "other").
OUTCOMES = ("accepted", "referred", "rejected", "aborted")
# Transcript steps drawn on the timeline as markers.
EVENT_STEPS = (Step.DEVICE, Step.ALARM)

# Timeline geometry, in SVG user units (pixels at 100%).  Bars sit in the upper
# part of a lane; a fault band's label goes below them.
_LEFT, _RIGHT, _TOP, _LANE, _AXIS = 64, 24, 12, 44, 28
_BAR_TOP, _BAR_HEIGHT, _FAULT_LABEL = 8, 22, 40
_MIN_PLOT, _MAX_PLOT, _PX_PER_S = 880.0, 24_000.0, 8.0
_TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400)
_CHAR_PX = 6.6  # width of a label character at the bar label's size
_FAULT_CHAR_PX = 5.4  # at the fault label's smaller size
# A transaction of a fraction of a second still shows as a bar this wide.
MIN_BAR_PX = 6.0
# Scenario seconds to a horizontal position on the timeline.
_Scale = Callable[[float], float]

# -- device faults -------------------------------------------------------------------

# The scenario's fault lines carry no detail: what they name, and the device
# the gate's own "down"/"back" lines call it (a jammed door is the door board's).
_SCENARIO_FAULT = "scenario fault: "
_NAMED = (
    ("camera", "camera"),
    ("reader", "reader"),
    ("entry door", "doors"),
    ("exit door", "doors"),
    ("door board", "doors"),
    ("board", "doors"),
)
_RECOVERED = (" back", " cleared")


@dataclass(frozen=True, slots=True)
class FaultSpan:
    """A device out of order on a gate, from its failure to its recovery."""

    gate: str
    device: str  # as the gate names it: camera, reader, doors, ...
    begin: float  # scenario seconds
    end: float | None  # None: not recovered by the end of the run
    text: str  # what failed: "camera unplugged", "reader down: no answer"


def _device_of(name: str) -> str | None:
    """The gate's name of the device that ``name`` (a device or a line's text) starts with."""
    words = name.lower().replace("_", " ")
    for prefix, device in _NAMED:
        if words.startswith(prefix):
            return device
    return None


def _fault_change(line: Line) -> tuple[str, bool, str, str] | None:
    """A device line as (device, up, source, text), or None when it is no failure or recovery."""
    device, up = line.detail.get("device"), line.detail.get("up")
    if isinstance(device, str) and isinstance(up, bool):
        source = "scenario" if line.detail.get("scenario") else "gate"
        return _device_of(device) or device, up, source, line.text
    if line.text.startswith(_SCENARIO_FAULT):
        what = line.text.removeprefix(_SCENARIO_FAULT)
        # "camera unplugged for 20 s": the band shows how long by itself.
        what = what.rsplit(" for ", 1)[0] if what.endswith(" s") else what
        named = _device_of(what)
        return None if named is None else (named, False, "scenario", what)
    named = _device_of(line.text)
    if named is not None and line.text.endswith(_RECOVERED):
        return named, True, "scenario", line.text
    return None


def fault_spans(run: ReplayRun) -> list[FaultSpan]:
    """The run's device faults per gate and device, in order of failure.

    A scenario's injected fault and the gate's own report of the same device
    overlap: they make one span, which ends when every line that opened it
    has seen the device back.  A failure never recovered ends at ``None``.
    """
    spans: list[FaultSpan] = []
    # (gate, device) -> (index in spans, the sources still reporting it down)
    open_: dict[tuple[str, str], tuple[int, set[str]]] = {}
    for line in sorted(run.lines, key=lambda line: line.at):
        if line.step != Step.DEVICE:
            continue
        change = _fault_change(line)
        if change is None:
            continue
        device, up, source, text = change
        key = (line.gate, device)
        if not up:
            if key in open_:
                open_[key][1].add(source)
            else:
                open_[key] = (len(spans), {source})
                spans.append(FaultSpan(line.gate, device, line.at, None, text))
        elif key in open_:
            index, sources = open_[key]
            sources.discard(source)
            if not sources:
                del open_[key]
                span = spans[index]
                spans[index] = FaultSpan(span.gate, span.device, span.begin, line.at, span.text)
    return spans


# -- the drawing ---------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class _Placed:
    """A transaction where it is drawn: its bar's left edge and width, and the room after it."""

    transaction: Transaction
    begin: float
    end: float
    left: float
    width: float
    room: float  # pixels free to the right, up to the next bar in the lane or the plot's end


def _place(
    found: Sequence[Transaction], lanes: Sequence[str], x: _Scale, right: float
) -> list[tuple[_Placed, int]]:
    """Each transaction that can be drawn, with its lane index."""
    placed: list[tuple[_Placed, int]] = []
    for gate_index, gate in enumerate(lanes):
        mine = sorted(
            ((t, b) for t in found if t.gate == gate and (b := _bounds(t)) is not None),
            key=lambda item: item[1][0],
        )
        lefts = [x(begin) for _, (begin, _) in mine] + [right]
        for index, (transaction, (begin, end)) in enumerate(mine):
            left = lefts[index]
            width = max(x(end) - left, MIN_BAR_PX)
            room = max(lefts[index + 1] - (left + width), 0.0)
            placed.append((_Placed(transaction, begin, end, left, width, room), gate_index))
    return placed


def timeline_svg(run: ReplayRun) -> str:
    """An SVG of the gates over scenario time: a lane per gate, a bar per transaction.

    Bars are coloured by outcome; each has a tooltip (passengers, outcome,
    reasons, duration, times) and a label with the passengers' ids inside it,
    or beside it when the bar is too short and there is room.  A bar is at
    least ``MIN_BAR_PX`` wide.  A bar whose outcome was not as expected
    carries a ``!`` marker; device events and alarms of the transcript are
    vertical markers; device faults are shaded bands across their gate's
    lane, to the end when not recovered.  Long runs widen the drawing (the
    page scrolls it) rather than squeeze the bars.  A transaction with no
    start time or no gate cannot be placed and is left out.
    """
    found = transactions(run)
    lanes = _lanes(run, found)
    events = [line for line in run.lines if line.step in EVENT_STEPS]
    ends = [end for t in found if (bounds := _bounds(t)) is not None for end in bounds]
    span = max([run.duration, 1.0, *ends] + [line.at for line in run.lines])
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
    for fault in fault_spans(run):
        if fault.gate in lane_of:
            out.append(_fault(fault, x, x(span), lane_of[fault.gate], start))
    results = {result.id: result for result in run.results}
    for placed, lane in _place(found, lanes, x, _LEFT + plot):
        out.append(_bar(placed, lane, start, results))
    for line in events:
        out.append(_event(line, x, lane_of, len(lanes), start))
    out.append("</svg>")
    return "".join(out)


def _fault(fault: FaultSpan, x: _Scale, right: float, lane: int, start: datetime) -> str:
    top = _TOP + lane * _LANE
    left = x(fault.begin)
    end = right if fault.end is None else x(fault.end)
    width = max(end - left, 2.0)
    until = "not recovered" if fault.end is None else f"until {clock_text(start, fault.end)}"
    tip = f"{fault.gate} {fault.text}: from {clock_text(start, fault.begin)}, {until}"
    open_end = " open" if fault.end is None else ""
    parts = [
        f'<g class="fault-span{open_end}" data-gate="{escape(fault.gate)}" '
        f'data-device="{escape(fault.device)}"><title>{escape(tip)}</title>'
        f'<rect class="fault" x="{left:.1f}" y="{top + 1}" width="{width:.1f}" '
        f'height="{_LANE - 2}"/>'
    ]
    for label in (fault.text, fault.device):
        if len(label) * _FAULT_CHAR_PX + 6 <= width:
            parts.append(
                f'<text class="fault-label" x="{left + 3:.1f}" y="{top + _FAULT_LABEL}">'
                f"{escape(label)}</text>"
            )
            break
    parts.append("</g>")
    return "".join(parts)


def _seconds(seconds: float) -> str:
    # A short transaction is the one a tooltip is read for: give it its hundredths.
    return f"{seconds:.2f} s" if seconds < 1 else f"{seconds:.1f} s"


def _tooltip(placed: _Placed, start: datetime, results: dict[str, PassengerResult]) -> str:
    transaction = placed.transaction
    lead = results.get(transaction.passengers[0]) if transaction.passengers else None
    reasons = ", ".join(lead.reasons) if lead is not None else ""
    outcome = transaction.outcome or "no outcome"
    seconds = transaction.duration_s
    if seconds is None:
        seconds = placed.end - placed.begin
    when = f"{clock_text(start, placed.begin)}-{clock_text(start, placed.end)}"
    return (
        f"{'+'.join(transaction.passengers)}: {outcome}"
        + (f" ({reasons})" if reasons else "")
        + f", {_seconds(seconds)}, {when}"
        + ("" if transaction.matched else ", not as expected")
    )


def _bar(placed: _Placed, lane: int, start: datetime, results: dict[str, PassengerResult]) -> str:
    transaction = placed.transaction
    top = _TOP + lane * _LANE + _BAR_TOP
    left, span = placed.left, placed.width
    outcome = transaction.outcome if transaction.outcome in OUTCOMES else "other"
    miss = "" if transaction.matched else " miss"
    parts = [
        f'<g class="transaction"><title>{escape(_tooltip(placed, start, results))}</title>'
        f'<rect class="bar outcome-{outcome}{miss}" x="{left:.1f}" '
        f'y="{top}" width="{span:.1f}" height="{_BAR_HEIGHT}" rx="3"/>'
    ]
    parts.append(_bar_label(placed, top + _BAR_HEIGHT / 2 + 4))
    if not transaction.matched:
        cx, cy = left + span, top
        parts.append(
            f'<circle class="mismatch" cx="{cx:.1f}" cy="{cy}" r="7"><title>not as expected'
            f'</title></circle><text class="mismatch-mark" x="{cx:.1f}" y="{cy + 4}">!</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _bar_label(placed: _Placed, baseline: float) -> str:
    """The passengers' ids in the bar, else beside it (clear of the ``!`` marker), else none.

    A tailgated transaction too short for ``P03+P04`` may still hold ``P03+``.
    """
    passengers = placed.transaction.passengers
    labels = ["+".join(passengers)] + ([passengers[0] + "+"] if len(passengers) > 1 else [])
    gap = 3.0 if placed.transaction.matched else 9.0
    for label in labels:
        needed = len(label) * _CHAR_PX + 6
        if placed.width >= needed:
            return (
                f'<text class="bar-label" x="{placed.left + 4:.1f}" y="{baseline:.1f}">'
                f"{escape(label)}</text>"
            )
        if placed.room >= needed + gap:
            return (
                f'<text class="bar-label outside" x="{placed.left + placed.width + gap:.1f}" '
                f'y="{baseline:.1f}">{escape(label)}</text>'
            )
    return ""


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
