"""The scorecard and the transcript in a terminal, with rich."""

from __future__ import annotations

from datetime import datetime

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from station.training.desk import DeskMark, DeskScore, answer_text
from station.training.scorecard import ACCEPTED, Scorecard, outcome_text, speed_note
from station.training.transcript import Line, Step, clock_text


def render_scorecard(card: Scorecard, console: Console) -> None:
    """Print the scorecard as tables: the passengers first, then the figures."""
    verdict = f"{card.matched} of {card.total} passengers as expected"
    style = "bold green" if card.all_matched else "bold red"
    console.print(Text(f"{card.scenario}: {verdict}", style=style))
    console.print(_passenger_table(card))
    console.print(_count_table(card))
    if card.desk is not None:
        console.print(_desk_table(card.desk))
    console.print(_timing_table(card))
    console.print(_throughput_table(card))
    note = speed_note(card.speed)
    if note is not None:
        console.print(Text(f"Note: {note}.", style="yellow"))
    if card.time_spent:
        console.print(_time_table(card))


def _passenger_table(card: Scorecard) -> Table:
    table = Table(title="Passengers", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("kind", max_width=14)
    table.add_column("gate", no_wrap=True)
    table.add_column("expected", overflow="fold", ratio=1)
    table.add_column("actual", overflow="fold", ratio=1)
    for result in card.results:
        expected = outcome_text(result.expected.outcome.value, result.expected.reasons)
        kind = result.kind.value.replace("_", " ")
        if result.follows is not None:
            kind += f" of {result.follows}"
        mark = Text("✓", style="green") if result.matched else Text("✗", style="bold red")
        table.add_row(
            mark,
            result.id,
            kind,
            result.gate or "-",
            expected,
            outcome_text(result.outcome, result.reasons),
            style=None if result.matched else "red",
        )
    return table


def _count_table(card: Scorecard) -> Table:
    table = Table(title="What the gate caught", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("count")
    table.add_column("passengers", justify="right", no_wrap=True)
    table.add_row("as expected", Text(f"{card.matched} of {card.total}"))
    for count in card.counts:
        if count.of == 0:
            continue
        table.add_row(count.label, Text(count.text, style="green" if count.ok else "bold red"))
    for code, times in card.guidance.items():
        # Not a score: how often travellers were told to help the camera.
        table.add_row(f"guidance {code}", Text(f"{times} time{'s' if times != 1 else ''}"))
    return table


# How each desk verdict stands out: full marks green, half yellow, none red.
_MARK_STYLES = {
    DeskMark.CORRECT: "green",
    DeskMark.REASON_WRONG: "yellow",
    DeskMark.ESCALATED: "yellow",
    DeskMark.WRONG: "bold red",
    DeskMark.UNDECIDED: "red",
}


def _desk_table(desk: DeskScore) -> Table:
    title = f"Trainee desk: {desk.text} points, {desk.decided} of {desk.of} decided"
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("gate", no_wrap=True)
    table.add_column("the gate said", overflow="fold")
    table.add_column("expected", overflow="fold")
    table.add_column("decided", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    for case in desk.cases:
        verdict = case.verdict
        table.add_row(
            case.passenger,
            case.gate or "-",
            outcome_text(case.outcome, case.reasons),
            answer_text(verdict.expected.decision, verdict.expected.reason),
            answer_text(verdict.decision, verdict.reason),
            Text(verdict.mark.value.replace("_", " "), style=_MARK_STYLES[verdict.mark]),
            f"{verdict.points:g}",
        )
    return table


def _timing_table(card: Scorecard) -> Table:
    table = Table(title="Step timings, seconds", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("step")
    for column in ("transactions", "median", "p95"):
        table.add_column(column, justify="right", no_wrap=True)
    for timing in card.timings:
        table.add_row(
            timing.step,
            str(timing.count),
            _seconds(timing.median_s),
            _seconds(timing.p95_s),
        )
    return table


def _throughput_table(card: Scorecard) -> Table:
    table = Table(
        title=f"Throughput per gate over {card.scenario_s:,.0f} s of scenario time",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    table.add_column("gate")
    for column in ("transactions", "accepted", "per hour"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in card.throughput:
        if row.gate == "all" and row is card.throughput[-1]:
            table.add_section()
        per_hour = "-" if row.per_hour is None else f"{row.per_hour:,.1f}"
        table.add_row(row.gate, str(row.transactions), str(row.accepted), per_hour)
    return table


def _time_table(card: Scorecard) -> Table:
    table = Table(
        title="Where the time went (wall clock)", box=box.SIMPLE_HEAD, title_justify="left"
    )
    table.add_column("part")
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    for part in card.time_spent:
        if part.key == "total":
            table.add_section()
        share = "-" if part.share is None else f"{part.share:.0%}"
        table.add_row(part.label, f"{part.seconds:,.2f}", share)
    return table


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_line(
    line: Line, start: datetime, *, gate_width: int = 3, passenger_width: int = 6
) -> str:
    """A transcript line for the terminal: ``07:31:05.2  G1  P007   verify     match, ...``.

    Columns are fixed-width (wider ids push the rest right); the text is plain,
    not rich markup, so print it with ``markup=False``.
    """
    passenger = line.passenger or "-"
    return (
        f"{clock_text(start, line.at)}  {line.gate:<{gate_width}} "
        f"{passenger:<{passenger_width}} {line.step:<10} {line.text}"
    )


def line_style(line: Line) -> str | None:
    """A rich style to print a transcript line in: alarms and faults stand out."""
    if line.step in (Step.ALARM, Step.DEVICE):
        return "bold red"
    if line.step == Step.DECISION:
        outcome = line.detail.get("outcome")
        return "green" if outcome == ACCEPTED else "yellow"
    return None
