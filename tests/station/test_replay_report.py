"""The files a replay leaves: transcript, scorecard and the self-contained HTML report."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import egate.outputs
import station.training.report as report
from station.training.report import report_html, write_outputs
from station.training.scenario import Scenario
from station.training.scorecard import Scorecard
from station.training.transcript import Line, PassengerResult, ReplayRun, Step

START = "2026-03-02T07:30:00+08:00"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def document(number: int) -> dict[str, object]:
    return {
        "issuing_state": "UTO",
        "surname": "TRAVELLER",
        "number": f"Y{number:07d}",
        "birth_date": "1985-05-05",
        "expiry_date": "2032-01-01",
    }


def make_run(tmp_path: Path, description: str = "A short drill.") -> ReplayRun:
    photo = tmp_path / "face.jpg"
    cv2.imwrite(str(photo), np.full((24, 24, 3), 128, dtype=np.uint8))
    people = [
        ("A1", "genuine", "accepted"),
        ("A2", "impostor", {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"}),
        ("A3", "genuine", "accepted"),
        ("A4", "document_fraud", {"outcome": "rejected", "reason": "CHIP_MRZ_MISMATCH"}),
    ]
    passengers: list[dict[str, object]] = [
        {
            "id": pid,
            "kind": kind,
            "document": document(number),
            "chip": "face.jpg",
            "face": "face.jpg",
            "expected": expected,
            "learn": f"<b>watch</b> {pid} & move on",
        }
        for number, (pid, kind, expected) in enumerate(people, start=1)
    ]
    passengers.append(
        {
            "id": "A5",
            "kind": "tailgater",
            "behaviour": {"tailgates": "A3"},
            "expected": {"outcome": "referred", "reason": "TAILGATING"},
        }
    )
    scenario = Scenario.model_validate(
        {
            "name": "Evening <bank>",
            "description": description,
            "start": START,
            "gates": {"ids": ["E1", "E2", "E3"]},
            "passengers": passengers,
        },
        context={"base_dir": tmp_path},
    )
    actual = {  # gate, start, end, outcome, reasons
        "A1": ("E1", 2.0, 14.0, "accepted", ()),
        "A2": ("E2", 3.0, 20.0, "referred", ("BIOMETRIC_MISMATCH",)),
        "A3": ("E1", 16.0, 30.0, "accepted", ()),  # A5 slipped through behind
        "A4": ("E3", 5.0, 12.0, "accepted", ()),  # a forged document let through
    }
    results = []
    for spec in scenario.passengers:
        result = PassengerResult(spec.id, spec.kind, spec.expected, learn=spec.learn)
        if spec.id in actual:
            gate, begin, end, outcome, reasons = actual[spec.id]
            result.gate, result.transaction = gate, f"T-{spec.id}"
            result.started_at, result.ended_at, result.duration_s = begin, end, end - begin
            result.outcome, result.reasons = outcome, reasons
            result.steps = {"document": 2.0, "verify": 0.4}
        else:
            result.follows = spec.behaviour.tailgates
        results.append(result)
    lines = [
        Line(2.0, "E1", "A1", Step.ARRIVAL, "steps up"),
        Line(4.5, "E1", "A1", Step.DOCUMENT, "MRZ read: valid", {"valid": True}),
        Line(8.0, "E2", None, Step.DEVICE, "camera unplugged <usb>"),
        Line(12.0, "E1", "A1", Step.VERIFY, "match, distance 0.41", {"distance": 0.41}),
        Line(14.0, "E1", "A1", Step.DECISION, "accepted", {"outcome": "accepted", "reasons": []}),
        Line(25.0, "E1", "A3", Step.ALARM, "two people in the gate"),
    ]
    return ReplayRun(
        scenario=scenario,
        source="drills/evening.yaml",
        speed=5.0,
        fast=True,
        lines=lines,
        results=results,
        timing={"total": 4.0, "setup": 1.0, "replay": 3.0, "matching": 0.5},
        duration=40.0,
    )


class Checker(HTMLParser):
    """Collects elements by class and checks that every tag is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.classes: dict[str, list[dict[str, str | None]]] = {}
        self.tags: list[str] = []
        self.text_in: dict[str, list[str]] = {}
        self.doctype: str | None = None

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def _seen(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        for name in (found.get("class") or "").split():
            self.classes.setdefault(name, []).append(found)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._seen(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)
            self.text_in.setdefault(tag, [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._seen(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.text_in.setdefault(self.stack[-1], []).append(data)


def check(html: str) -> Checker:
    checker = Checker()
    checker.feed(html)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    assert checker.doctype is not None
    assert checker.doctype.lower() == "doctype html"
    return checker


@pytest.fixture
def run(tmp_path: Path) -> ReplayRun:
    return make_run(tmp_path)


# -- the three files ----------------------------------------------------------------


def test_outputs_are_written(run, tmp_path):
    folder = tmp_path / "out" / "nested"
    card = Scorecard.of(run)
    paths = write_outputs(run, card, folder)
    assert paths == [folder / "transcript.jsonl", folder / "scorecard.json", folder / "report.html"]
    assert sorted(path.name for path in folder.iterdir()) == sorted(path.name for path in paths)

    rows = [json.loads(text) for text in paths[0].read_text(encoding="utf-8").splitlines()]
    assert rows == [line.to_json(run.scenario.start) for line in run.lines]
    assert rows[3] == {
        "at_s": 12.0,
        "time": "07:30:12.0",
        "gate": "E1",
        "passenger": "A1",
        "step": "verify",
        "text": "match, distance 0.41",
        "detail": {"distance": 0.41},
    }

    saved = json.loads(paths[1].read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(card.to_json()))
    assert saved["counts"]["false_accepts"]["text"] == "2 of 3"  # A4, and A5 behind A3
    assert paths[1].read_text(encoding="utf-8").startswith('{\n  "format"')

    check(paths[2].read_text(encoding="utf-8"))


def test_an_empty_transcript_is_an_empty_file(run, tmp_path):
    run.lines = []
    paths = write_outputs(run, Scorecard.of(run), tmp_path / "out")
    assert paths[0].read_bytes() == b""
    check(paths[2].read_text(encoding="utf-8"))


# -- the page ----------------------------------------------------------------------


def test_the_page_is_well_formed_and_self_contained(run):
    html = report_html(run, Scorecard.of(run))
    page = check(html)
    assert "script" not in page.tags
    for attrs in page.classes.get("lane", []) + page.classes.get("bar", []):
        assert not any(str(value).startswith("http") for value in attrs.values())
    # The only sources are the thumbnails, inline.
    sources = [attrs.get("src") for attrs in page.classes.get("chip-photo", [])]
    sources += [attrs.get("src") for attrs in page.classes.get("capture-photo", [])]
    assert sources
    assert all(str(source).startswith("data:image/jpeg;base64,") for source in sources)
    assert html.count("src=") == len(sources)
    assert "href=" not in html
    assert "url(" not in html
    assert page.tags.count("svg") == 1
    assert page.tags.count("style") == 1


def test_one_lane_per_gate_and_one_bar_per_transaction(run):
    page = check(report_html(run, Scorecard.of(run)))
    assert [attrs["data-gate"] for attrs in page.classes["lane"]] == ["E1", "E2", "E3"]
    bars = page.classes["bar"]
    assert len(bars) == 4  # A5 shares A3's transaction
    assert len(page.classes["outcome-accepted"]) >= 3
    # Not as expected: A4 (a forged document accepted), A3's (a tailgater slipped in).
    assert len(page.classes["mismatch"]) == 2
    assert sum("miss" in str(attrs["class"]).split() for attrs in bars) == 2
    # The camera fault on E2 and the alarm on E1, on the timeline and in the transcript.
    assert len(page.classes["event"]) == 2
    assert len(page.classes["line-event"]) == 2


def test_bars_are_labelled_with_the_passengers(run):
    page = check(report_html(run, Scorecard.of(run)))
    labels = page.text_in["text"]
    assert "A1" in labels
    assert "A3+A5" in labels
    assert "07:30:00" in labels  # the axis is in the scenario's clock time


def test_the_passenger_table_shows_what_to_learn(run):
    html = report_html(run, Scorecard.of(run))
    page = check(html)
    cells = page.text_in["td"]
    assert "<b>watch</b> A2 & move on" in cells
    assert "&lt;b&gt;watch&lt;/b&gt; A2 &amp; move on" in html
    assert "<b>watch" not in html
    assert len(page.classes["miss"]) >= 2  # rows and bars not as expected
    assert "✗" in cells
    assert "rejected: CHIP_MRZ_MISMATCH" in cells


def test_the_transcript_is_a_table(run):
    page = check(report_html(run, Scorecard.of(run)))
    cells = page.text_in["td"]
    assert "camera unplugged <usb>" in cells
    assert "two people in the gate" in cells
    assert "07:30:25.0" in cells


def test_a_script_in_the_description_is_text(tmp_path):
    run = make_run(tmp_path, description='<script>alert("hi")</script>')
    html = report_html(run, Scorecard.of(run))
    page = check(html)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt;" in html
    assert "script" not in page.tags
    assert '<script>alert("hi")</script>' in page.text_in["p"]
    assert "Evening <bank>" in page.text_in["h1"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("<>&\"'/"),
        min_size=1,
    ).filter(lambda text: text.strip() != "")
)
def test_any_description_comes_back_as_written(run, text):
    changed = ReplayRun(
        scenario=run.scenario.model_copy(update={"description": text}),
        source=run.source,
        speed=run.speed,
        fast=run.fast,
        lines=run.lines,
        results=run.results,
        timing=run.timing,
        duration=run.duration,
    )
    page = check(report_html(changed, Scorecard.of(changed)))
    assert "script" not in page.tags
    assert text in page.text_in["p"]


def test_facts_of_the_run_in_the_header(run):
    page = check(report_html(run, Scorecard.of(run)))
    facts = page.text_in["dd"]
    assert "drills/evening.yaml" in facts
    assert "5x, fast" in facts
    assert "E1, E2, E3" in facts
    assert any("2026-03-02 07:30:00" in fact for fact in facts)
    notes = " ".join(page.text_in["p"])
    assert "not sped up" in notes


def test_a_long_run_scrolls_instead_of_squeezing_bars(run):
    run.duration = 3 * 3600.0
    html = report_html(run, Scorecard.of(run))
    check(html)
    width = int(html.split('<svg xmlns="http://www.w3.org/2000/svg" width="')[1].split('"')[0])
    assert 880 < width <= 24_000 + 100


# -- never a half-written file --------------------------------------------------------


def test_a_failed_write_leaves_no_partial_file(run, tmp_path, monkeypatch):
    folder = tmp_path / "out"
    card = Scorecard.of(run)
    write_outputs(run, card, folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    real_replace = egate.outputs.os.replace

    def failing_replace(source, target):
        if Path(target).name == "report.html":
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(egate.outputs.os, "replace", failing_replace)
    run.lines.append(Line(39.0, "E3", None, Step.DEVICE, "reader back"))
    with pytest.raises(OSError, match="No space"):
        write_outputs(run, Scorecard.of(run), folder)
    # No temporary file left behind; the old report is whole.
    assert sorted(path.name for path in folder.iterdir()) == sorted(before)
    assert (folder / "report.html").read_bytes() == before["report.html"]
    assert b"reader back" in (folder / "transcript.jsonl").read_bytes()


def test_a_failure_while_rendering_writes_nothing(run, tmp_path, monkeypatch):
    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("cannot render")

    monkeypatch.setattr(report, "report_html", broken)
    folder = tmp_path / "out"
    with pytest.raises(RuntimeError):
        write_outputs(run, Scorecard.of(run), folder)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_failure_midway_through_a_file_leaves_nothing(run, tmp_path, monkeypatch):
    def failing_fsync(descriptor: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(egate.outputs.os, "fsync", failing_fsync)
    folder = tmp_path / "out"
    with pytest.raises(OSError, match="Input/output"):
        write_outputs(run, Scorecard.of(run), folder)
    assert list(folder.iterdir()) == []
