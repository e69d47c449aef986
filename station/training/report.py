"""The files a replay leaves: the transcript, the scorecard and a report to open in a browser.

``write_outputs`` writes into a folder, each file whole or not at all:

* ``transcript.jsonl``: one JSON object per transcript line (``Line.to_json``);
* ``scorecard.json``: ``Scorecard.to_json``, indented;
* ``report.html``: one self-contained page (inline CSS and SVG, no script, no
  external resource) with the scenario, the counts, a timeline of each gate,
  the passengers' expected and actual outcomes with what to learn from them,
  each face decision with thumbnails of the chip photo and the live capture
  (``data:`` URIs) and a warning when its distance came near the threshold
  (``NearThreshold``), the step timings and the whole transcript.

Every text that reaches the page is escaped; passengers are their scenario ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from egate.outputs import atomic_write
from station.training.facedecisions import (
    FaceDecision,
    NearThreshold,
    face_decisions,
    near_threshold_notes,
)
from station.training.lookat import look_at
from station.training.reportphotos import PassengerPhotos, jpeg_data_uri
from station.training.reportstyle import REPORT_CSS
from station.training.scorecard import (
    Scorecard,
    outcome_text,
    speed_note,
)
from station.training.timeline import EVENT_STEPS, OUTCOMES, timeline_svg
from station.training.transcript import ReplayRun, clock_text

__all__ = [
    "HTML_FILE",
    "MAX_PHOTO_ROWS",
    "SCORECARD_FILE",
    "TRANSCRIPT_FILE",
    "NearThreshold",
    "report_html",
    "scorecard_json",
    "transcript_jsonl",
    "write_outputs",
]

TRANSCRIPT_FILE = "transcript.jsonl"
SCORECARD_FILE = "scorecard.json"
HTML_FILE = "report.html"
# Past this many face decisions, only those warned about or not as expected get
# thumbnails: a few kB each, thousands would make the page heavy.
MAX_PHOTO_ROWS = 300


def write_outputs(
    run: ReplayRun,
    scorecard: Scorecard,
    folder: Path,
    *,
    near_threshold: NearThreshold | None = None,
) -> list[Path]:
    """Write the transcript, the scorecard and the HTML report into ``folder``.

    Everything is rendered before the first file is written; each file is
    written atomically (an error leaves the old file or none, never part of
    one).  Returns the paths written, in that order.  ``OSError`` when the
    folder cannot be written.
    """
    files = {
        TRANSCRIPT_FILE: transcript_jsonl(run),
        SCORECARD_FILE: scorecard_json(scorecard),
        HTML_FILE: report_html(run, scorecard, near_threshold=near_threshold).encode("utf-8"),
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


def report_html(
    run: ReplayRun,
    scorecard: Scorecard,
    *,
    near_threshold: NearThreshold | None = None,
) -> str:
    """The whole report page; ``near_threshold`` says which face distances to warn about
    (default: the scenario's ``report.near_threshold``)."""
    near_threshold = near_threshold or run.scenario.report.near_threshold
    title = f"egate replay: {scorecard.scenario}"
    faces = face_decisions(run, near_threshold)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{REPORT_CSS}</style>",
        "</head>",
        "<body>",
        _header(run, scorecard),
        "<main>",
        _summary(scorecard, near_threshold_notes(faces, near_threshold)),
        _timeline_section(run),
        _passengers(scorecard, faces),
        _faces(run, faces),
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
        ("face threshold", f"{run.scenario.matching.verifier.threshold:g}"),
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


def _summary(scorecard: Scorecard, warnings: Sequence[str]) -> str:
    matched = f"{scorecard.matched} of {scorecard.total}"
    rows = [f"<tr>{_cell('as expected')}{_cell(matched, 'num')}</tr>"]
    for count in scorecard.counts:
        if count.of == 0:
            continue
        css = "num good" if count.ok else "num poor"
        rows.append(f"<tr>{_cell(count.label)}{_cell(count.text, css)}</tr>")
    table = _table((("count", False), ("passengers", True)), rows)
    notes = "".join(f'<p class="near-threshold">⚠ {escape(note)}</p>' for note in warnings)
    return f'<section id="summary"><h2>Summary</h2>{table}{notes}</section>'


def _distance_cell(decision: FaceDecision | None) -> str:
    """A passenger's face distance, with the near-threshold warning when there is one."""
    if decision is None or decision.distance is None:
        return _cell("-", "num")
    text = escape(f"{decision.distance:.3f}")
    if not decision.warned:
        return f'<td class="num">{text}</td>'
    title, flag = escape(decision.warning), escape(decision.flag)
    return f'<td class="num near-threshold" title="{title}">{text} ⚠<br>{flag}</td>'


def _passengers(scorecard: Scorecard, faces: Sequence[FaceDecision]) -> str:
    face_of = {decision.passenger: decision for decision in faces}
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
            f"{_distance_cell(face_of.get(result.id))}"
            f"{_cell(result.learn)}{_cell(look_at(result.reasons))}</tr>"
        )
    head = (
        ("", False),
        ("passenger", False),
        ("kind", False),
        ("gate", False),
        ("expected", False),
        ("actual", False),
        ("face distance", True),
        ("what to learn", False),
        ("what the officer should look at", False),
    )
    return f'<section id="passengers"><h2>Passengers</h2>{_table(head, rows)}</section>'


def _photo_cell(jpeg: bytes | None, css: str, alt: str) -> str:
    if jpeg is None:
        return '<td><span class="no-photo">no photo</span></td>'
    return f'<td><img class="{css}" src="{jpeg_data_uri(jpeg)}" alt="{escape(alt)}"></td>'


def _faces(run: ReplayRun, faces: Sequence[FaceDecision]) -> str:
    """Each face decision beside the chip photo and the live capture it compared."""
    if not faces:
        return ""
    photos = PassengerPhotos(run.scenario)
    matched = {result.id: result.matched for result in run.results}
    everyone = len(faces) <= MAX_PHOTO_ROWS
    rows = []
    for decision in faces:
        who = decision.passenger
        if everyone or decision.warned or not matched.get(who, True):
            chip = _photo_cell(photos.chip(who), "chip-photo", f"chip photo of {who}")
            live = _photo_cell(photos.capture(who), "capture-photo", f"live capture of {who}")
        else:
            chip = live = _cell("left out", "note")
        css = ' class="near-threshold"' if decision.warned else ""
        rows.append(
            f'<tr{css} data-passenger="{escape(who)}">{_cell(who, "mono")}'
            f"{_cell(decision.gate or '-')}{_cell(decision.decision or '-')}"
            f"{_cell(_number(decision.distance, '{:.3f}'), 'num')}{chip}{live}"
            f"{_cell(decision.warning)}</tr>"
        )
    head = (
        ("passenger", False),
        ("gate", False),
        ("decision", False),
        ("distance", True),
        ("chip photo", False),
        ("live capture", False),
        ("", False),
    )
    threshold = run.scenario.matching.verifier.threshold
    note = f"A distance up to the threshold {threshold:g} is a match."
    if not everyone:
        note += (
            f" With more than {MAX_PHOTO_ROWS} face decisions, only those near the threshold or "
            "not as expected show their photos."
        )
    return (
        f'<section id="faces"><h2>Face decisions</h2><p class="note">{escape(note)}</p>'
        f"{_table(head, rows, 'faces')}</section>"
    )


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
        '</span><span><b style="color:#6a1b9a">|</b> device event or alarm</span>'
        '<span><span class="swatch fault"></span>device out of order</span></div>'
    )
    return (
        f'<section id="timeline"><h2>Timeline</h2>{legend}'
        f'<div class="timeline-scroll">{timeline_svg(run)}</div></section>'
    )
