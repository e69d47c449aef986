"""The replay report's face decisions: thumbnails beside them, and near-threshold warnings."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

import station.training.report as report
from station.training.facedecisions import (
    Face,
    Margin,
    face_decisions,
    face_of,
    margin_of,
    near_threshold_notes,
)
from station.training.report import NearThreshold, report_html, write_outputs
from station.training.reportphotos import PassengerPhotos, thumbnail_jpeg
from station.training.scenario import Expectation, PassengerKind, Scenario
from station.training.scorecard import Scorecard
from station.training.transcript import Line, PassengerResult, ReplayRun, Step

START = "2026-03-02T07:30:00+08:00"


def photo(path: Path, size: tuple[int, int] = (300, 240)) -> Path:
    """An image whose left half is dark and right half light (BGR on disk)."""
    rows, columns = size
    image = np.full((rows, columns, 3), 30, dtype=np.uint8)
    image[:, columns // 2 :] = 220
    cv2.imwrite(str(path), image)
    return path


def passenger(pid: str, kind: str, expected: object, number: int, **more: object) -> dict:
    return {
        "id": pid,
        "kind": kind,
        "document": {
            "issuing_state": "UTO",
            "surname": "TRAVELLER",
            "number": f"Y{number:07d}",
            "birth_date": "1985-05-05",
            "expiry_date": "2032-01-01",
        },
        "chip": "chip.png",
        "face": "face.png",
        "expected": expected,
        **more,
    }


# id, kind, expected, actual outcome, reasons, distance (None: from a verify line)
PEOPLE = [
    ("G1", "genuine", "accepted", "accepted", (), 0.55),  # near: 0.05 under 0.6
    ("G2", "genuine", "accepted", "accepted", (), 0.31),  # clear
    ("G3", "genuine", "accepted", "referred", ("BIOMETRIC_MISMATCH",), 0.65),  # over
    ("I1", "impostor", {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"}, "referred",
     ("BIOMETRIC_MISMATCH",), None),  # near: 0.641 from its verify line
    ("I2", "impostor", {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"}, "referred",
     ("BIOMETRIC_MISMATCH",), 0.82),  # clear
    ("D1", "document_fraud", {"outcome": "rejected", "reason": "MRZ_INVALID"}, "rejected",
     ("MRZ_INVALID",), None),  # no face decision at all
]  # fmt: skip


def make_run(
    tmp_path: Path, changes: dict[str, dict] | None = None, **scenario_keys: object
) -> ReplayRun:
    """The run of PEOPLE; ``changes`` replaces scenario keys of some passengers."""
    photo(tmp_path / "chip.png")
    photo(tmp_path / "face.png")
    specs = [
        passenger(pid, kind, expected, number, **(changes or {}).get(pid, {}))
        for number, (pid, kind, expected, *_) in enumerate(PEOPLE, start=1)
    ]
    scenario = Scenario.model_validate(
        {"name": "Faces", "start": START, "gates": {"count": 2}, "passengers": specs}
        | scenario_keys,
        context={"base_dir": tmp_path},
    )
    results: list[PassengerResult] = []
    lines: list[Line] = []
    for index, ((_, _, _, outcome, reasons, distance), spec) in enumerate(
        zip(PEOPLE, scenario.passengers, strict=True)
    ):
        result = PassengerResult(spec.id, spec.kind, spec.expected)
        result.gate, result.transaction = "G1", f"T{index}"
        result.started_at, result.ended_at = 10.0 * index, 10.0 * index + 8
        result.outcome, result.reasons = outcome, reasons
        result.match_distance = distance
        results.append(result)
    lines.append(Line(33.0, "G1", "I1", Step.VERIFY, "mismatch, distance 0.702", {
        "decision": "mismatch", "distance": 0.702, "reason": None}))  # fmt: skip
    lines.append(Line(36.0, "G1", "I1", Step.VERIFY, "mismatch, distance 0.641", {
        "decision": "mismatch", "distance": 0.641, "reason": None}))  # fmt: skip
    return ReplayRun(scenario, "faces.yaml", 1.0, False, lines, results, {}, 60.0)


class Page(HTMLParser):
    """Rows of the page's tables by passenger, images and paragraphs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str | None]] = []
        self.face_rows: dict[str, list[str]] = {}
        self.warned_cells: list[str] = []
        self.paragraphs: list[str] = []
        self._row: str | None = None
        self._in: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "img":
            self.images.append(found)
            return
        if tag == "tr" and found.get("data-passenger"):
            self._row = str(found["data-passenger"])
            self.face_rows[self._row] = []
        if tag in ("td", "p", "span"):
            self._in.append((tag, found.get("class") or ""))
            if tag == "td" and self._row is not None:
                self.face_rows[self._row].append("")
            if "near-threshold" in (found.get("class") or "").split() and tag == "td":
                self.warned_cells.append("")
            if tag == "p":
                self.paragraphs.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        if tag in ("td", "p", "span") and self._in and self._in[-1][0] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        # Text counts for every open cell or paragraph around it (a span inside a cell).
        if any(tag == "td" for tag, _ in self._in) and self._row is not None:
            self.face_rows[self._row][-1] += data
        if any(tag == "td" and "near-threshold" in css.split() for tag, css in self._in):
            self.warned_cells[-1] += data
        if any(tag == "p" for tag, _ in self._in):
            self.paragraphs[-1] += data


def page_of(run: ReplayRun, limits: NearThreshold | None = None) -> tuple[str, Page]:
    html = (
        report_html(run, Scorecard.of(run))
        if limits is None
        else report_html(run, Scorecard.of(run), near_threshold=limits)
    )
    parsed = Page()
    parsed.feed(html)
    parsed.close()
    return html, parsed


def decode(uri: str | None) -> np.ndarray:
    assert uri is not None
    prefix = "data:image/jpeg;base64,"
    assert uri.startswith(prefix)
    data = np.frombuffer(base64.b64decode(uri[len(prefix) :], validate=True), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    assert image is not None
    return image


# -- the decisions and their margins --------------------------------------------------


def test_every_passenger_with_a_distance_or_a_verify_line_has_a_face_decision(tmp_path):
    found = {d.passenger: d for d in face_decisions(make_run(tmp_path))}
    assert list(found) == ["G1", "G2", "G3", "I1", "I2"]  # D1 never reached the camera
    assert found["I1"].distance == 0.641  # the last verify line's
    assert found["I1"].decision == "mismatch"
    assert found["I1"].at == 36.0
    assert found["G1"].distance == 0.55
    assert {pid: d.threshold for pid, d in found.items()} == dict.fromkeys(found, 0.6)
    assert [found[pid].face for pid in ("G1", "I1")] == [Face.GENUINE, Face.IMPOSTOR]
    assert {pid: d.margin for pid, d in found.items()} == {
        "G1": Margin.NEAR,
        "G2": Margin.CLEAR,
        "G3": Margin.CROSSED,
        "I1": Margin.NEAR,
        "I2": Margin.CLEAR,
    }


def test_the_summary_names_who_came_near_the_threshold(tmp_path):
    run = make_run(tmp_path)
    limits = NearThreshold()
    assert near_threshold_notes(face_decisions(run, limits), limits) == [
        "1 look-alike came within 0.1 of the threshold 0.6: I1 at 0.641",
        "1 genuine traveller went over the threshold 0.6: G3 at 0.650",
        "1 genuine traveller came within 0.1 of the threshold 0.6: G1 at 0.550",
    ]
    _, page = page_of(run)
    notes = [text for text in page.paragraphs if text.startswith("⚠")]
    assert notes[0] == "⚠ 1 look-alike came within 0.1 of the threshold 0.6: I1 at 0.641"
    assert len(notes) == 3


def test_the_passenger_table_warns_on_the_near_ones_only(tmp_path):
    html, page = page_of(make_run(tmp_path))
    assert 'title="near the threshold: 0.641, 0.041 over 0.6"' in html
    warned = " | ".join(page.warned_cells)
    assert "0.641 ⚠near the threshold: 0.041 over 0.6" in warned
    assert "0.550 ⚠near the threshold: 0.050 under 0.6" in warned
    assert "0.650 ⚠over the threshold 0.6" in warned
    assert "0.310" not in warned
    assert "0.820" not in warned
    assert len(page.warned_cells) == 3
    # And beside the photos, in the face decisions.
    assert page.face_rows["I1"][-1] == "near the threshold: 0.641, 0.041 over 0.6"
    assert page.face_rows["G2"][-1] == ""


def test_the_limits_are_configurable(tmp_path):
    run = make_run(tmp_path)
    limits = NearThreshold(genuine_above=0.56, impostor_below=0.9)
    margins = {d.passenger: d.margin for d in face_decisions(run, limits)}
    assert margins["G1"] is Margin.CLEAR  # 0.55 is under 0.56
    assert margins["I2"] is Margin.NEAR  # 0.82 is under 0.9
    notes = near_threshold_notes(face_decisions(run, limits), limits)
    assert (
        notes[0] == "2 look-alikes came within 0.3 of the threshold 0.6: I1 at 0.641, I2 at 0.820"
    )
    _, page = page_of(run, limits)
    assert any(text.endswith("I2 at 0.820") for text in page.paragraphs)


def test_the_threshold_is_the_scenarios(tmp_path):
    run = make_run(tmp_path, matching={"verifier": {"threshold": 0.5}})
    found = {d.passenger: d for d in face_decisions(run)}
    assert found["G1"].threshold == 0.5
    assert found["G1"].margin is Margin.CROSSED  # 0.55 does not match at 0.5
    assert found["I1"].margin is Margin.NEAR
    html, _ = page_of(run)
    assert "came within 0.2 of the threshold 0.5: I1 at 0.641" in html


def test_an_impostor_under_the_threshold_is_a_look_alike_that_matched(tmp_path):
    run = make_run(tmp_path)
    run.results[4].match_distance = 0.6  # a distance equal to the threshold is a match
    limits = NearThreshold()
    notes = near_threshold_notes(face_decisions(run, limits), limits)
    assert notes[0] == "1 look-alike matched, at or under the threshold 0.6: I2 at 0.600"


@pytest.mark.parametrize(
    ("face", "distance", "margin"),
    [
        (Face.GENUINE, 0.5, Margin.CLEAR),  # the limit itself is not near
        (Face.GENUINE, 0.6, Margin.NEAR),  # the threshold itself still matches
        (Face.GENUINE, 0.6001, Margin.CROSSED),
        (Face.IMPOSTOR, 0.7, Margin.CLEAR),
        (Face.IMPOSTOR, 0.6001, Margin.NEAR),
        (Face.IMPOSTOR, 0.6, Margin.CROSSED),
        (Face.OTHER, 0.6, Margin.CLEAR),
        (Face.GENUINE, None, Margin.CLEAR),
    ],
)
def test_margins_at_their_edges(face, distance, margin):
    assert margin_of(face, distance, 0.6, NearThreshold()) is margin


@pytest.mark.parametrize(
    ("kind", "expected", "face"),
    [
        ("genuine", "accepted", Face.GENUINE),
        ("impostor", {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"}, Face.IMPOSTOR),
        ("impostor", "accepted", Face.IMPOSTOR),  # a look-alike the trainer expects to pass
        ("ineligible", "accepted", Face.GENUINE),
        ("document_fraud", {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"}, Face.IMPOSTOR),
        ("stop_list", {"outcome": "referred", "reason": "STOP_LIST_HIT"}, Face.OTHER),
    ],
)
def test_whose_face_it_is(kind, expected, face):
    assert face_of(PassengerKind(kind), Expectation.model_validate(expected)) is face


@pytest.mark.parametrize(
    "limits",
    [{"genuine_above": -0.1}, {"impostor_below": 2.0}, {"genuine_above": float("nan")}, {"x": 1}],
)
def test_impossible_limits_are_refused(limits):
    with pytest.raises(ValidationError):
        NearThreshold.model_validate(limits)


# -- the thumbnails ---------------------------------------------------------------------


def test_each_face_decision_has_its_photos_as_decodable_jpegs(tmp_path):
    _, page = page_of(make_run(tmp_path))
    chips = [img for img in page.images if img.get("class") == "chip-photo"]
    captures = [img for img in page.images if img.get("class") == "capture-photo"]
    assert len(chips) == len(captures) == 5
    assert [img["alt"] for img in chips][:2] == ["chip photo of G1", "chip photo of G2"]
    for img in chips + captures:
        image = decode(img["src"])
        assert image.shape == (96, 77, 3)  # 300 x 240 brought down to 96 px high
    # The decision row beside them: passenger, gate, decision, distance.
    assert page.face_rows["I1"][:4] == ["I1", "G1", "mismatch", "0.641"]


def test_the_capture_shows_the_scenarios_variation(tmp_path):
    run = make_run(tmp_path, {"G1": {"face": {"photo": "face.png", "variation": {"mirror": True}}}})
    photos = PassengerPhotos(run.scenario)
    chip = decode("data:image/jpeg;base64," + base64.b64encode(photos.chip("G1") or b"").decode())
    live = decode(
        "data:image/jpeg;base64," + base64.b64encode(photos.capture("G1") or b"").decode()
    )
    # Dark on the left in the chip photo, dark on the right once mirrored.
    assert chip[:, :20].mean() < 80 < chip[:, -20:].mean()
    assert live[:, -20:].mean() < 80 < live[:, :20].mean()


def test_an_unreadable_or_missing_photo_is_a_no_photo_cell(tmp_path, caplog):
    run = make_run(tmp_path)
    (tmp_path / "chip.png").write_bytes(b"not an image")
    (tmp_path / "face.png").unlink()
    html, page = page_of(run)
    assert page.images == []
    assert html.count('<span class="no-photo">no photo</span>') == 10
    assert page.face_rows["G1"][4:6] == ["no photo", "no photo"]
    # Logged by passenger id, not by the file's name (which may be a person's).
    assert "passenger G1: no thumbnail (ImageError)" in caplog.text
    assert "chip.png" not in caplog.text
    # write_outputs renders the same page without raising.
    written = write_outputs(run, Scorecard.of(run), tmp_path / "out")
    assert written[-1].read_text(encoding="utf-8").count("no photo") >= 10


def test_a_chip_without_a_photo_has_none(tmp_path):
    run = make_run(tmp_path, {"G2": {"chip": "none"}})
    photos = PassengerPhotos(run.scenario)
    assert photos.chip("G2") is None
    assert photos.capture("G2") is not None
    assert photos.chip("nobody") is None
    _, page = page_of(run)
    assert page.face_rows["G2"][4:6] == ["no photo", ""]


def test_no_name_or_document_number_reaches_the_page(tmp_path):
    html, _ = page_of(make_run(tmp_path))
    assert "TRAVELLER" not in html
    assert not re.search(r"Y0{4}\d{3}", html)


def test_thumbnails_are_never_enlarged():
    small = np.zeros((40, 30, 3), dtype=np.uint8)
    image = cv2.imdecode(np.frombuffer(thumbnail_jpeg(small), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (40, 30, 3)


def test_a_real_face_photo_makes_a_small_thumbnail(face_folder, tmp_path):
    found = sorted((face_folder / "identities").rglob("*.jpg"))
    if not found:
        pytest.skip(f"no JPEG under {face_folder / 'identities'}")
    run = make_run(tmp_path, {"G1": {"chip": str(found[0])}})
    jpeg = PassengerPhotos(run.scenario).chip("G1")
    assert jpeg is not None
    assert len(jpeg) < 20_000
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[0] == min(96, cv2.imread(str(found[0])).shape[0])


def test_past_the_photo_limit_only_the_warned_and_the_missed_keep_their_photos(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(report, "MAX_PHOTO_ROWS", 2)
    _, page = page_of(make_run(tmp_path))
    shown = sorted(str(img["alt"]).rsplit(" ", 1)[1] for img in page.images)
    # G1, I1 near the threshold; G3 over it (and referred, not as expected).
    assert shown == ["G1", "G1", "G3", "G3", "I1", "I1"]
    assert page.face_rows["G2"][4:6] == ["left out", "left out"]
    assert any("only those near the threshold" in text for text in page.paragraphs)
