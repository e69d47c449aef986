"""The replay report's timeline: tooltips and labels on every bar, device faults as spans."""

from __future__ import annotations

import functools
import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.training.report import report_html
from station.training.scenario import Scenario
from station.training.scorecard import Scorecard
from station.training.timeline import MIN_BAR_PX, FaultSpan, fault_spans, timeline_svg
from station.training.transcript import Line, PassengerResult, ReplayRun, Step

START = "2026-03-02T07:30:00+08:00"
SVG = "{http://www.w3.org/2000/svg}"
# A 100 s run is drawn 880 px wide from x = 64: 8.8 px a second.
LEFT, PX_PER_S = 64.0, 8.8

# id, gate, start, end, outcome, reasons; B9 follows B3 in.
ACTUAL = {
    "B1": ("E1", 2.0, 14.0, "accepted", ()),
    "B2": ("E2", 3.0, 20.0, "referred", ("BIOMETRIC_MISMATCH",)),
    "B3": ("E1", 16.0, 30.0, "accepted", ()),
    "B4": ("E2", 50.0, 50.05, "aborted", ("DEVICE_FAULT",)),  # a twentieth of a second
    "B5": ("E1", 60.0, 60.2, "rejected", ("MRZ_INVALID",)),  # short, and B6 right after it
    "B6": ("E1", 60.3, 75.0, "rejected", ("MRZ_INVALID",)),
}
EXPECTED: dict[str, object] = {
    "B1": "accepted",
    "B2": {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"},
    "B3": "accepted",
    "B4": "aborted",
    "B5": {"outcome": "rejected", "reason": "MRZ_INVALID"},
    "B6": {"outcome": "rejected", "reason": "MRZ_INVALID"},
}


def make_run(tmp_path: Path, lines: list[Line] | None = None) -> ReplayRun:
    passengers: list[dict[str, object]] = [
        {
            "id": pid,
            "document": {
                "issuing_state": "UTO",
                "surname": "TRAVELLER",
                "number": f"Z{number:07d}",
                "birth_date": "1980-01-01",
                "expiry_date": "2032-01-01",
            },
            "chip": "none",
            "face": "none",
            "expected": expected,
        }
        for number, (pid, expected) in enumerate(EXPECTED.items(), start=1)
    ]
    passengers.append(
        {
            "id": "B9",
            "kind": "tailgater",
            "behaviour": {"tailgates": "B3"},
            "expected": {"outcome": "referred", "reason": "TAILGATING"},
        }
    )
    scenario = Scenario.model_validate(
        {"name": "Lanes", "start": START, "gates": {"ids": ["E1", "E2"]}, "passengers": passengers},
        context={"base_dir": tmp_path},
    )
    results = []
    for spec in scenario.passengers:
        result = PassengerResult(spec.id, spec.kind, spec.expected)
        if spec.id in ACTUAL:
            gate, begin, end, outcome, reasons = ACTUAL[spec.id]
            result.gate, result.transaction = gate, f"T-{spec.id}"
            result.started_at, result.ended_at, result.duration_s = begin, end, end - begin
            result.outcome, result.reasons = outcome, reasons
        else:
            result.follows = spec.behaviour.tailgates
        results.append(result)
    return ReplayRun(scenario, "lanes.yaml", 1.0, False, lines or [], results, {}, 100.0)


def svg_of(run: ReplayRun) -> ET.Element:
    """The timeline parsed as XML (so it is well-formed too)."""
    return ET.fromstring(timeline_svg(run))


def classes(element: ET.Element) -> list[str]:
    return (element.get("class") or "").split()


def groups(svg: ET.Element, css: str) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if css in classes(g)]


def title(element: ET.Element) -> str:
    found = element.find(f"{SVG}title")
    assert found is not None
    return found.text or ""


def x_of(at: float) -> float:
    return LEFT + at * PX_PER_S


@functools.cache
def _plain_run() -> ReplayRun:
    # For hypothesis: validated once (it needs no photo, so no folder of its own).
    return make_run(Path("."))


# -- bars -----------------------------------------------------------------------------


def test_every_transaction_has_a_tooltip(tmp_path):
    bars = groups(svg_of(make_run(tmp_path)), "transaction")
    assert [title(bar) for bar in bars] == [
        # Lane E1, then lane E2, each in time order.
        "B1: accepted, 12.0 s, 07:30:02.0-07:30:14.0",
        "B3+B9: accepted, 14.0 s, 07:30:16.0-07:30:30.0, not as expected",
        "B5: rejected (MRZ_INVALID), 0.20 s, 07:31:00.0-07:31:00.2",
        "B6: rejected (MRZ_INVALID), 14.7 s, 07:31:00.3-07:31:15.0",
        "B2: referred (BIOMETRIC_MISMATCH), 17.0 s, 07:30:03.0-07:30:20.0",
        "B4: aborted (DEVICE_FAULT), 0.05 s, 07:30:50.0-07:30:50.0",
    ]
    # The tooltip is the group's first child, so it covers the bar and its label.
    assert all(bar[0].tag == f"{SVG}title" for bar in bars)


def labels(bar: ET.Element) -> list[tuple[str, list[str], float]]:
    return [
        (text.text or "", classes(text), float(text.get("x", "nan")))
        for text in bar.iter(f"{SVG}text")
        if "bar-label" in classes(text)
    ]


def rect(bar: ET.Element) -> ET.Element:
    found = bar.find(f"{SVG}rect")
    assert found is not None
    return found


def test_a_very_short_transaction_gets_a_minimum_width_and_a_label_beside_it(tmp_path):
    bars = {
        title(bar).split(":")[0]: bar for bar in groups(svg_of(make_run(tmp_path)), "transaction")
    }
    short = rect(bars["B4"])
    assert float(short.get("x", "nan")) == pytest.approx(x_of(50.0), abs=0.05)
    assert float(short.get("width", "nan")) == MIN_BAR_PX
    # Nothing after it in lane E2: its label goes just right of the bar, in ink.
    ((text, css, x),) = labels(bars["B4"])
    assert text == "B4"
    assert "outside" in css
    assert x == pytest.approx(x_of(50.0) + MIN_BAR_PX + 3, abs=0.1)


def test_a_long_bar_holds_its_label_and_a_crowded_short_one_has_its_tooltip_only(tmp_path):
    bars = {
        title(bar).split(":")[0]: bar for bar in groups(svg_of(make_run(tmp_path)), "transaction")
    }
    ((text, css, x),) = labels(bars["B3+B9"])
    assert (text, css) == ("B3+B9", ["bar-label"])
    assert x == pytest.approx(x_of(16.0) + 4, abs=0.1)
    # B5 lasts 0.2 s and B6 starts 0.1 s after it: no room for a label beside it.
    assert float(rect(bars["B5"]).get("width", "nan")) == MIN_BAR_PX
    assert labels(bars["B5"]) == []
    assert title(bars["B5"]).startswith("B5: rejected")


def test_a_short_tailgated_transaction_shows_at_least_its_first_passenger(tmp_path):
    run = make_run(tmp_path)
    by_id = {result.id: result for result in run.results}
    # B3's transaction lasts half a second; B5 starts 5.2 s after it: some 40 px of room.
    by_id["B3"].ended_at, by_id["B3"].duration_s = 16.5, 0.5
    by_id["B5"].started_at, by_id["B5"].ended_at = 21.2, 21.4
    bars = {title(bar).split(":")[0]: bar for bar in groups(svg_of(run), "transaction")}
    ((text, css, x),) = labels(bars["B3+B9"])
    assert (text, css) == ("B3+", ["bar-label", "outside"])
    assert x == pytest.approx(x_of(16.0) + MIN_BAR_PX + 9, abs=0.1)  # clear of the "!"


# -- device faults --------------------------------------------------------------------

FAULT_LINES = [
    # The scenario unplugs the camera of E2; the gate notices, then both see it back.
    Line(10.0, "E2", "B2", Step.DEVICE, "scenario fault: camera unplugged for 20 s"),
    Line(10.5, "E2", "B2", Step.DEVICE, "camera down: no frame", {"device": "camera", "up": False}),
    Line(30.0, "E2", None, Step.DEVICE, "camera plugged back"),
    Line(30.4, "E2", None, Step.DEVICE, "camera back", {"device": "camera", "up": True}),
    # The reader of E1 is lost for good.
    Line(50.0, "E1", None, Step.DEVICE, "reader down: no answer",
         {"device": "reader", "up": False}),
    # A door jam the scenario clears, on E1 while the reader is down.
    Line(70.0, "E1", "B6", Step.DEVICE, "scenario fault: entry door jams for 5 s"),
    Line(75.0, "E1", None, Step.DEVICE, "entry door jam cleared"),
    Line(80.0, "E1", None, Step.ALARM, "two people in the gate"),
]  # fmt: skip


def test_fault_lines_make_spans_from_failure_to_recovery(tmp_path):
    assert fault_spans(make_run(tmp_path, FAULT_LINES)) == [
        FaultSpan("E2", "camera", 10.0, 30.4, "camera unplugged"),
        FaultSpan("E1", "reader", 50.0, None, "reader down: no answer"),
        FaultSpan("E1", "doors", 70.0, 75.0, "entry door jams"),
    ]


def test_a_fault_is_a_band_across_its_lane_with_the_right_extent(tmp_path):
    svg = svg_of(make_run(tmp_path, FAULT_LINES))
    spans = groups(svg, "fault-span")
    assert [(g.get("data-gate"), g.get("data-device")) for g in spans] == [
        ("E2", "camera"),
        ("E1", "reader"),
        ("E1", "doors"),
    ]
    camera = rect(spans[0])
    assert float(camera.get("x", "nan")) == pytest.approx(x_of(10.0), abs=0.05)
    assert float(camera.get("width", "nan")) == pytest.approx(20.4 * PX_PER_S, abs=0.1)
    # Lane E2 is the second: 12 + 44 down, the band 1 px inside it.
    assert (camera.get("y"), camera.get("height")) == ("57", "42")
    assert title(spans[0]) == "E2 camera unplugged: from 07:30:10.0, until 07:30:30.4"
    label = spans[0].find(f"{SVG}text")
    assert label is not None
    assert label.text == "camera unplugged"


def test_an_unrecovered_fault_spans_to_the_end(tmp_path):
    svg = svg_of(make_run(tmp_path, FAULT_LINES))
    reader = groups(svg, "fault-span")[1]
    assert "open" in classes(reader)
    band = rect(reader)
    assert float(band.get("x", "nan")) == pytest.approx(x_of(50.0), abs=0.05)
    assert float(band.get("x", "nan")) + float(band.get("width", "nan")) == pytest.approx(
        x_of(100.0), abs=0.1
    )
    assert title(reader) == "E1 reader down: no answer: from 07:30:50.0, not recovered"


def test_a_scenario_fault_line_with_detail_is_read_from_its_detail(tmp_path):
    lines = [
        Line(5.0, "E1", None, Step.DEVICE, "scenario fault: door board power-cycles for 8 s",
             {"device": "board", "up": False, "scenario": True}),
        Line(5.2, "E1", None, Step.DEVICE, "doors down: link lost",
             {"device": "doors", "up": False}),
        Line(13.0, "E1", None, Step.DEVICE, "door board back",
             {"device": "board", "up": True, "scenario": True}),
        Line(14.5, "E1", None, Step.DEVICE, "doors back", {"device": "doors", "up": True}),
    ]  # fmt: skip
    assert fault_spans(make_run(tmp_path, lines)) == [
        FaultSpan("E1", "doors", 5.0, 14.5, "scenario fault: door board power-cycles for 8 s")
    ]


def test_lines_that_are_no_failure_make_no_span(tmp_path):
    lines = [
        Line(5.0, "E1", None, Step.DEVICE, "camera unplugged <usb>"),
        Line(6.0, "E1", None, Step.DEVICE, "reader back", {"device": "reader", "up": True}),
        Line(7.0, "E1", None, Step.DEVICE, "replay gives up: nothing happened for 120 s"),
        Line(8.0, "E1", None, Step.ALARM, "camera down"),
    ]
    run = make_run(tmp_path, lines)
    assert fault_spans(run) == []
    assert groups(svg_of(run), "fault-span") == []


def test_the_report_shows_the_spans_and_their_legend(tmp_path):
    run = make_run(tmp_path, FAULT_LINES)
    html = report_html(run, Scorecard.of(run))
    assert html.count('class="fault"') == 3
    assert "device out of order" in html


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 100, allow_nan=False),
            st.sampled_from(["E1", "E2"]),
            st.sampled_from(["camera", "reader", "doors"]),
            st.booleans(),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_spans_of_one_device_never_overlap(changes):
    run = _plain_run()
    run.lines = []
    for at, gate, device, up, scenario in changes:
        detail = {"device": device, "up": up, "scenario": scenario}
        run.lines.append(Line(at, gate, None, Step.DEVICE, f"{device} changed", detail))
    spans = fault_spans(run)
    downs = sum(1 for *_, up, _ in changes if not up)
    assert len(spans) <= downs
    for span in spans:
        assert span.end is None or span.end >= span.begin
    for gate in ("E1", "E2"):
        for device in ("camera", "reader", "doors"):
            mine = [s for s in spans if (s.gate, s.device) == (gate, device)]
            for first, second in itertools.pairwise(mine):
                assert first.end is not None and first.end <= second.begin
    check = timeline_svg(run)
    assert check.count('class="fault"') == len(spans)
