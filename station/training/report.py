"""The files a replay leaves: the transcript, the scorecard and a report to open in a browser.

``write_outputs`` writes into a folder, each file whole or not at all:

* ``transcript.jsonl``: one JSON object per transcript line (``Line.to_json``);
* ``scorecard.json``: ``Scorecard.to_json``, indented;
* ``report.html``: one self-contained page (inline CSS and SVG, no script, no
  external resource) with the scenario, the counts, a timeline of each gate,
  the passengers' expected and actual outcomes with what to learn from them,
  the step timings and the whole transcript.

Every text that reaches the page is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from egate.outputs import atomic_write
from station.training.lookat import look_at
from station.training.scorecard import (
    Scorecard,
    outcome_text,
    speed_note,
)
from station.training.timeline import EVENT_STEPS, OUTCOMES, timeline_svg
from station.training.transcript import ReplayRun, clock_text

__all__ = [
    "HTML_FILE",
    "SCORECARD_FILE",
    "TRANSCRIPT_FILE",
    "report_html",
    "scorecard_json",
    "transcript_jsonl",
    "write_outputs",
]

TRANSCRIPT_FILE = "transcript.jsonl"
SCORECARD_FILE = "scorecard.json"
HTML_FILE = "report.html"


def write_outputs(run: ReplayRun, scorecard: Scorecard, folder: Path) -> list[Path]:
    """Write the transcript, the scorecard and the HTML report into ``folder``.

    Everything is rendered before the first file is written; each file is
    written atomically (an error leaves the old file or none, never part of
    one).  Returns the paths written, in that order.  ``OSError`` when the
    folder cannot be written.
    """
    files = {
        TRANSCRIPT_FILE: transcript_jsonl(run),
        SCORECARD_FILE: scorecard_json(scorecard),
        HTML_FILE: report_html(run, scorecard).encode("utf-8"),
    }
    written = []
    for name, data in files.items():
        path = folder / name
        atomic_write(path, data)
        written.append(path)
    return written


def transcript_jsonl(run: ReplayRun) -> bytes:
    """One JSON object per transcript line, in order."""
    start = run.scenario.start
    rows = (
        json.dumps(line.to_json(start), ensure_ascii=False, default=str) + "\n"
        for line in run.lines
    )
    return "".join(rows).encode("utf-8")


def scorecard_json(scorecard: Scorecard) -> bytes:
    """The scorecard, indented."""
    return (json.dumps(scorecard.to_json(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# -- the page ----------------------------------------------------------------------

_CSS = """
:root { --ok: #2e7d32; --bad: #c62828; --ink: #1f2933; --muted: #616e7c; --rule: #d9e2ec; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f5f7fa; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { margin: 32px 0 8px; font-size: 18px; border-bottom: 1px solid var(--rule); }
.description { white-space: pre-line; color: var(--muted); margin: 4px 0 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.verdict { display: inline-block; margin: 12px 0 0; padding: 4px 12px; border-radius: 4px;
  font-weight: 600; color: #fff; }
.verdict.ok { background: var(--ok); }
.verdict.bad { background: var(--bad); }
.note { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: left;
  vertical-align: top; }
th { background: #e4e7eb; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.miss td { background: #fdecea; }
td.mark { font-weight: 700; text-align: center; }
td.mark.ok, .good { color: var(--ok); }
td.mark.bad, .poor { color: var(--bad); font-weight: 600; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 12.5px; }
.transcript td { padding: 1px 8px; }
.transcript tr.line-event td { color: var(--bad); font-weight: 600; }
.transcript tr.line-decision td { font-weight: 600; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.timeline-scroll { overflow-x: auto; background: #fff; border: 1px solid var(--rule); }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 4px 0 8px; font-size: 13px; }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 4px;
  vertical-align: middle; border-radius: 2px; }
.outcome-accepted { fill: #2e7d32; background: #2e7d32; }
.outcome-referred { fill: #ef6c00; background: #ef6c00; }
.outcome-rejected { fill: #c62828; background: #c62828; }
.outcome-aborted { fill: #757575; background: #757575; }
.outcome-other { fill: #90a4ae; background: #90a4ae; }
svg text { font: 11px system-ui, sans-serif; fill: var(--ink); }
svg .lane-bg { fill: #f0f4f8; }
svg .lane-bg.odd { fill: #e6ecf2; }
svg .gate-label { font-weight: 600; }
svg .tick { stroke: #cbd2d9; stroke-width: 1; }
svg .bar.miss { stroke: #000; stroke-width: 2; stroke-dasharray: 4 2; }
svg .bar-label { fill: #fff; font-weight: 600; pointer-events: none; }
svg .mismatch { fill: #fff; stroke: var(--bad); stroke-width: 2; }
svg .mismatch-mark { fill: var(--bad); font-weight: 700; text-anchor: middle; }
svg .event line { stroke: #6a1b9a; stroke-width: 2; }
svg .event path { fill: #6a1b9a; }
footer { margin: 32px auto 24px; color: var(--muted); font-size: 12px; }
"""


def report_html(run: ReplayRun, scorecard: Scorecard) -> str:
    """The whole report page."""
    title = f"egate replay: {scorecard.scenario}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        _header(run, scorecard),
        "<main>",
        _summary(scorecard),
        _timeline_section(run),
        _passengers(scorecard),
        _timings(scorecard),
        _transcript(run),
        "</main>",
        "<footer>Written by <code>egate replay</code>. Passengers are named by their scenario "
        "id only.</footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _facts(pairs: Iterable[tuple[str, str]]) -> str:
    rows = "".join(f"<dt>{escape(key)}</dt><dd>{escape(value)}</dd>" for key, value in pairs)
    return f'<dl class="facts">{rows}</dl>'


def _header(run: ReplayRun, scorecard: Scorecard) -> str:
    start = scorecard.start
    speed = "scenario time" if scorecard.speed == 1 else f"{scorecard.speed:g}x"
    facts = [
        ("start", start.strftime("%Y-%m-%d %H:%M:%S %Z").strip()),
        ("scenario file", scorecard.source),
        ("speed", speed + (", fast" if scorecard.fast else "")),
        ("lasted", f"{scorecard.scenario_s:,.0f} s of scenario time"),
        ("gates", ", ".join(run.scenario.gates.names)),
        ("passengers", str(scorecard.total)),
    ]
    verdict = f"{scorecard.matched} of {scorecard.total} passengers as expected"
    status = "ok" if scorecard.all_matched else "bad"
    description = (
        f'<p class="description">{escape(scorecard.description)}</p>'
        if scorecard.description
        else ""
    )
    return (
        f"<header><h1>{escape(scorecard.scenario)}</h1>{description}{_facts(facts)}"
        f'<p class="verdict {status}">{escape(verdict)}</p></header>'
    )


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[str], css: str = "") -> str:
    """A table: ``head`` is (title, numeric) per column; ``rows`` are ready ``<tr>`` rows."""
    numeric_class = ' class="num"'
    cells = "".join(
        f'<th{numeric_class if numeric else ""} scope="col">{escape(name)}</th>'
        for name, numeric in head
    )
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(text: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f"<td{klass}>{escape(text)}</td>"


def _summary(scorecard: Scorecard) -> str:
    matched = f"{scorecard.matched} of {scorecard.total}"
    rows = [f"<tr>{_cell('as expected')}{_cell(matched, 'num')}</tr>"]
    for count in scorecard.counts:
        if count.of == 0:
            continue
        css = "num good" if count.ok else "num poor"
        rows.append(f"<tr>{_cell(count.label)}{_cell(count.text, css)}</tr>")
    table = _table((("count", False), ("passengers", True)), rows)
    return f'<section id="summary"><h2>Summary</h2>{table}</section>'


def _passengers(scorecard: Scorecard) -> str:
    rows = []
    for result in scorecard.results:
        kind = result.kind.value.replace("_", " ")
        if result.follows is not None:
            kind += f" of {result.follows}"
        expected = outcome_text(result.expected.outcome.value, result.expected.reasons)
        actual = outcome_text(result.outcome, result.reasons)
        mark = _cell("✓", "mark ok") if result.matched else _cell("✗", "mark bad")
        row_class = "" if result.matched else ' class="miss"'
        rows.append(
            f"<tr{row_class}>{mark}"
            f"{_cell(result.id, 'mono')}{_cell(kind)}{_cell(result.gate or '-')}"
            f"{_cell(expected, 'mono')}{_cell(actual, 'mono')}"
            f"{_cell(result.learn)}{_cell(look_at(result.reasons))}</tr>"
        )
    head = (
        ("", False),
        ("passenger", False),
        ("kind", False),
        ("gate", False),
        ("expected", False),
        ("actual", False),
        ("what to learn", False),
        ("what the officer should look at", False),
    )
    return f'<section id="passengers"><h2>Passengers</h2>{_table(head, rows)}</section>'


def _number(value: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _timings(scorecard: Scorecard) -> str:
    steps = _table(
        (("step", False), ("transactions", True), ("median s", True), ("p95 s", True)),
        (
            f"<tr>{_cell(t.step)}{_cell(str(t.count), 'num')}{_cell(_number(t.median_s), 'num')}"
            f"{_cell(_number(t.p95_s), 'num')}</tr>"
            for t in scorecard.timings
        ),
    )
    gates = _table(
        (("gate", False), ("transactions", True), ("accepted", True), ("per hour", True)),
        (
            f"<tr>{_cell(g.gate)}{_cell(str(g.transactions), 'num')}"
            f"{_cell(str(g.accepted), 'num')}{_cell(_number(g.per_hour, '{:,.1f}'), 'num')}</tr>"
            for g in scorecard.throughput
        ),
    )
    time = _table(
        (("part", False), ("seconds", True), ("share", True)),
        (
            f"<tr>{_cell(p.label)}{_cell(f'{p.seconds:,.2f}', 'num')}"
            f"{_cell(_number(p.share, '{:.0%}'), 'num')}</tr>"
            for p in scorecard.time_spent
        ),
    )
    note = speed_note(scorecard.speed)
    throughput_note = f"Over {scorecard.scenario_s:,.0f} s of scenario time" + (
        f"; {note}." if note else "."
    )
    blocks = [
        f"<div><h3>Steps</h3>{steps}</div>",
        f'<div><h3>Throughput</h3>{gates}<p class="note">{escape(throughput_note)}</p></div>',
    ]
    if scorecard.time_spent:
        blocks.append(f"<div><h3>Where the time went (wall clock)</h3>{time}</div>")
    return (
        f'<section id="timings"><h2>Timings</h2><div class="grid">{"".join(blocks)}</div></section>'
    )


def _transcript(run: ReplayRun) -> str:
    start = run.scenario.start
    rows = []
    for line in run.lines:
        css = "line-event" if line.step in EVENT_STEPS else f"line-{line.step}"
        rows.append(
            f'<tr class="{escape(css)}">{_cell(clock_text(start, line.at), "mono")}'
            f"{_cell(line.gate)}{_cell(line.passenger or '-', 'mono')}{_cell(line.step)}"
            f"{_cell(line.text)}</tr>"
        )
    head = (("time", False), ("gate", False), ("passenger", False), ("step", False), ("", False))
    table = _table(head, rows, "transcript") if rows else '<p class="note">No lines.</p>'
    return f'<section id="transcript"><h2>Transcript</h2>{table}</section>'


# -- the timeline ------------------------------------------------------------------


def _timeline_section(run: ReplayRun) -> str:
    swatches = "".join(
        f'<span><span class="swatch outcome-{name}"></span>{name}</span>' for name in OUTCOMES
    )
    legend = (
        f'<div class="legend">{swatches}<span><b class="poor">!</b> outcome not as expected'
        '</span><span><b style="color:#6a1b9a">|</b> device event or alarm</span></div>'
    )
    return (
        f'<section id="timeline"><h2>Timeline</h2>{legend}'
        f'<div class="timeline-scroll">{timeline_svg(run)}</div></section>'
    )
