"""The reader framings, byte by byte: encoders, decoders, and what they do with bad input."""

from __future__ import annotations

import itertools
import re
from functools import reduce
from operator import xor

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from egate.documents.layout import MrzFormat
from egate.documents.specimens import SPECIMENS
from hardware.deskoframing import DESKO_EOD, DESKO_SOD, DeskoBytes, DeskoFraming
from hardware.frames import (
    CR,
    ETX,
    LF,
    MAX_FRAME_BYTES,
    SOH,
    STX,
    Frame,
    FrameEvent,
    Framing,
    Misread,
)
from hardware.framing import FRAMING_NAMES, LinesFraming, make_framing
from hardware.rteframing import RteFraming

TD1 = SPECIMENS[MrzFormat.TD1]
TD2 = SPECIMENS[MrzFormat.TD2]
TD3 = SPECIMENS[MrzFormat.TD3]
ALL_SPECIMENS = list(SPECIMENS.values())
SPECIMEN_IDS = [fmt.value for fmt in SPECIMENS]
# Longer than any idle timeout used here: a gap the decoders notice.
GAP_S = 1.0


def decode(name: str, *chunks: bytes, now: float = 0.0) -> list[FrameEvent]:
    """Feed ``chunks`` (all at ``now``) to a new decoder, then let the line go idle."""
    framing = make_framing(name)
    events: list[FrameEvent] = []
    for chunk in chunks:
        events += framing.feed(chunk, now)
    return events + framing.flush(now + GAP_S)


def frames(events: list[FrameEvent]) -> list[tuple[str, ...]]:
    return [event.lines for event in events if isinstance(event, Frame)]


def misread_bytes(events: list[FrameEvent]) -> bytes:
    return b"".join(event.raw for event in events if isinstance(event, Misread))


def kinds(events: list[FrameEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


def encode(name: str, lines: tuple[str, ...]) -> bytes:
    return make_framing(name).encode(lines)


# --- every framing -------------------------------------------------------------


@pytest.mark.parametrize("name", FRAMING_NAMES)
@pytest.mark.parametrize("lines", ALL_SPECIMENS, ids=SPECIMEN_IDS)
def test_each_specimen_round_trips(name, lines):
    data = encode(name, lines)
    assert decode(name, data) == [Frame(lines, data)]


@pytest.mark.parametrize("name", FRAMING_NAMES)
def test_documents_back_to_back_come_out_in_order(name):
    stream = b"".join(encode(name, lines) for lines in ALL_SPECIMENS)
    assert frames(decode(name, stream)) == ALL_SPECIMENS


@pytest.mark.parametrize("name", FRAMING_NAMES)
def test_byte_at_a_time_gives_the_same_frame(name):
    data = encode(name, TD3)
    chunks = [data[i : i + 1] for i in range(len(data))]
    assert decode(name, *chunks) == [Frame(TD3, data)]


@pytest.mark.parametrize("name", FRAMING_NAMES)
def test_a_frame_that_stops_half_way_is_a_misread_after_the_idle_timeout(name):
    framing = make_framing(name)
    half = encode(name, TD3)[:50]
    assert framing.feed(half, 10.0) == []
    assert framing.flush(10.2) == []  # still within the inter-character timeout
    events = framing.flush(10.3)
    assert kinds(events) == ["Misread"]
    assert events[0].raw == half
    assert "no data for 0.3 s" in events[0].reason
    assert framing.buffered == 0


@pytest.mark.parametrize("name", FRAMING_NAMES)
def test_a_gap_inside_a_frame_ends_it_before_the_next_bytes(name):
    framing = make_framing(name)
    data = encode(name, TD3)
    framing.feed(data[:30], 0.0)
    events = framing.feed(data, 0.5)
    assert kinds(events) == ["Misread", "Frame"]
    assert events[0].raw == data[:30]


@pytest.mark.parametrize("name", FRAMING_NAMES)
def test_abandon_reports_what_is_buffered(name):
    framing = make_framing(name)
    framing.feed(encode(name, TD3)[:40], 0.0)
    events = framing.abandon("link lost")
    assert [(event.raw, event.reason) for event in events if isinstance(event, Misread)] == [
        (encode(name, TD3)[:40], "link lost")
    ]
    assert framing.buffered == 0
    assert framing.abandon("again") == []


@pytest.mark.parametrize("name", FRAMING_NAMES)
def test_a_flood_without_frames_is_reported_in_bounded_pieces(name):
    framing = make_framing(name)
    flood = bytes(range(0x20, 0x7F)) * 40  # printable, no control bytes, ~3.8 KB
    events = framing.feed(flood, 0.0)
    assert framing.buffered < MAX_FRAME_BYTES
    events += framing.flush(GAP_S)
    assert all(isinstance(event, Misread) for event in events)
    assert all(len(event.raw) <= MAX_FRAME_BYTES for event in events)
    assert misread_bytes(events) == flood


def test_make_framing_refuses_unknown_names():
    with pytest.raises(ValueError, match=r"unknown framing 'cute' \(expected one of: lines"):
        make_framing("cute")


@pytest.mark.parametrize("timeout", [0.0, -1.0])
def test_the_idle_timeout_must_be_positive(timeout):
    with pytest.raises(ValueError, match="idle_timeout_s"):
        make_framing("desko", idle_timeout_s=timeout)


def test_events_keep_mrz_text_out_of_their_repr():
    frame, misread = Frame(TD3, b"P<UTO"), Misread(b"P<UTO", "why")
    assert "UTO" not in repr(frame) and "ERIKSSON" not in repr(frame)
    assert repr(misread) == "Misread(raw=<5 bytes>, reason='why')"


# --- lines ---------------------------------------------------------------------


def test_lines_encoding_is_each_line_and_a_cr():
    assert encode("lines", TD3) == f"{TD3[0]}\r{TD3[1]}\r".encode()


@pytest.mark.parametrize("terminator", [b"\r", b"\r\n", b"\n"])
def test_lines_accepts_cr_cr_lf_and_lf(terminator):
    data = LinesFraming(terminator=terminator).encode(TD3) * 2
    assert frames(decode("lines", data)) == [TD3, TD3]


def test_lines_count_comes_from_the_first_line_width():
    # 30 characters: TD1, three lines; 36 and 44: two.
    stream = encode("lines", TD1) + encode("lines", TD2) + encode("lines", TD3)
    assert frames(decode("lines", stream)) == [TD1, TD2, TD3]


def test_lines_split_between_cr_and_lf_stays_one_document():
    data = LinesFraming(terminator=b"\r\n").encode(TD3)
    cut = data.index(b"\n")
    assert frames(decode("lines", data[:cut], data[cut:])) == [TD3]


def test_lines_blank_lines_between_documents_are_ignored():
    data = b"\r\n\r\n" + encode("lines", TD3) + b"\r\r\n" + encode("lines", TD2)
    events = decode("lines", data)
    assert kinds(events) == ["Frame", "Frame"]


def test_lines_a_blank_line_cuts_a_document_short():
    data = f"{TD1[0]}\r{TD1[1]}\r\r".encode()
    events = decode("lines", data + encode("lines", TD3))
    assert kinds(events) == ["Misread", "Frame"]
    assert events[0].raw == data
    assert events[0].reason == "document cut short by a blank line after 2 of 3 lines"


def test_lines_a_line_that_cannot_open_an_mrz_is_a_misread_of_its_own():
    junk = b"HELLO\r", b"\x00\x7f\xff" * 10 + b"\r", b"A" * 60 + b"\r"
    events = decode("lines", *junk, encode("lines", TD3))
    assert kinds(events) == ["Misread", "Misread", "Misread", "Frame"]
    assert [event.raw for event in events[:3]] == list(junk)
    assert events[0].reason == "a line of 5 characters cannot open an MRZ"
    assert events[1].reason == "a line of non-printable bytes cannot open an MRZ"


def test_lines_misread_characters_still_make_a_frame():
    # The reader sends what it saw; the MRZ checks judge it, not the framing.
    damaged = (TD3[0], TD3[1].replace("0", "?"))
    assert frames(decode("lines", encode("lines", damaged))) == [damaged]


def test_lines_noise_glued_to_a_document_needs_an_idle_gap():
    framing = make_framing("lines")
    assert framing.feed(b"\x00garbage", 0.0) == []
    events = framing.feed(encode("lines", TD3), GAP_S)
    assert kinds(events) == ["Misread", "Frame"]
    assert events[0].raw == b"\x00garbage"


# --- desko ---------------------------------------------------------------------


def test_desko_bytes():
    text = f"{TD3[0]}\r{TD3[1]}\r".encode()
    assert encode("desko", TD3) == bytes([0x1C, 0x02]) + text + bytes([0x03, 0x1D])
    assert (DESKO_SOD, DESKO_EOD) == (0x1C, 0x1D)


def test_desko_noise_before_a_frame_is_reported_when_the_frame_starts():
    framing = make_framing("desko")
    assert framing.feed(b"noise", 0.0) == []
    events = framing.feed(encode("desko", TD3), 0.0)
    assert kinds(events) == ["Misread", "Frame"]
    assert (events[0].raw, events[0].reason) == (b"noise", "5 bytes outside a frame")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (bytes([DESKO_SOD, 0x41]) + b"TEXT\r" + bytes([ETX, DESKO_EOD]), "not STX"),
        (bytes([DESKO_SOD, STX]) + b"TEXT\r" + bytes([ETX, 0x41]), "not end of data"),
        (bytes([DESKO_SOD, STX]) + b"TE\x02XT\r" + bytes([ETX, DESKO_EOD]), "unexpected 0x02"),
        (bytes([DESKO_SOD, STX]) + b"TEXT\r", "cut short by the start of the next one"),
    ],
    ids=["no STX", "no EOD", "STX inside", "cut short"],
)
def test_desko_a_malformed_frame_is_a_misread_and_the_next_frame_survives(bad, reason):
    good = encode("desko", TD3)
    events = decode("desko", bad + good)
    assert frames(events) == [TD3]
    assert reason in next(event for event in events if isinstance(event, Misread)).reason
    assert misread_bytes(events) == bad


def test_desko_tolerates_cr_lf_and_a_last_line_without_cr():
    body = f"{TD3[0]}\r\n{TD3[1]}".encode()
    data = bytes([DESKO_SOD, STX]) + body + bytes([ETX, DESKO_EOD])
    assert frames(decode("desko", data)) == [TD3]


def test_desko_an_empty_frame_is_a_frame_without_lines():
    assert frames(decode("desko", bytes([DESKO_SOD, STX, ETX, DESKO_EOD]))) == [()]


def test_desko_delimiters_can_be_configured():
    framing = DeskoFraming(sod=0x0E, eod=0x0F)
    data = framing.encode(TD3)
    assert data[0] == 0x0E and data[-1] == 0x0F
    assert frames(framing.feed(data, 0.0)) == [TD3]
    with pytest.raises(ValueError, match="SOD: 02 is STX"):
        DeskoFraming(sod=STX)
    with pytest.raises(ValueError, match="SOD and EOD must differ"):
        DeskoFraming(sod=0x1E, eod=0x1E)
    with pytest.raises(ValueError, match="EOD: 41 is printable ASCII"):
        DeskoFraming(eod=ord("A"))


def desko(start: str, end: str) -> DeskoBytes:
    return DeskoBytes.model_validate({"start": start, "end": end})


def test_desko_bytes_default_to_the_ocr_readers_pair():
    assert (DeskoBytes().start, DeskoBytes().end) == (DESKO_SOD, DESKO_EOD)
    framing = make_framing("desko", desko=DeskoBytes())
    assert framing.encode(TD3) == make_framing("desko").encode(TD3)


@pytest.mark.parametrize("written", ["1E", "1e", "0x1E", " 1E "])
def test_desko_bytes_are_read_as_two_hex_digits(written):
    assert desko(written, "1F").start == 0x1E


def test_desko_bytes_are_written_back_as_they_are_configured():
    chosen = desko("1E", "9F")
    assert chosen.model_dump() == {"start": "1E", "end": "9F"}
    assert DeskoBytes.model_validate(chosen.model_dump()) == chosen


@pytest.mark.parametrize(
    ("start", "end", "complaint"),
    [
        (30, "1F", 'two hexadecimal digits in quotes, e.g. "1E"'),
        ("1G", "1F", "expected two hexadecimal digits"),
        ("100", "1F", "expected two hexadecimal digits"),
        ("02", "1F", "02 is STX, which the framing itself uses"),
        ("1E", "0D", "0D is CR, which the framing itself uses"),
        ("1E", "41", "41 is printable ASCII ('A'), the text of an MRZ"),
        ("1E", "1e", "start and end are both 1E; they must differ"),
    ],
)
def test_desko_bytes_that_cannot_frame_a_document_are_refused(start, end, complaint):
    with pytest.raises(ValidationError, match=re.escape(complaint)):
        desko(start, end)


def test_a_desko_reader_sending_1e_1f_is_read_only_when_configured_so():
    # Issue 12: such a reader gave 0 of 10 documents with the fixed 1C/1D.
    sender = make_framing("desko", desko=desko("1E", "1F"))
    stream = b"".join(sender.encode(ALL_SPECIMENS[index % 3]) for index in range(10))
    assert stream[0] == 0x1E and stream[-1] == 0x1F
    assert frames(decode("desko", stream)) == []
    configured = make_framing("desko", desko=desko("1E", "1F"))
    events = configured.feed(stream, 0.0) + configured.flush(GAP_S)
    assert frames(events) == [ALL_SPECIMENS[index % 3] for index in range(10)]
    assert misread_bytes(events) == b""


# --- rte -----------------------------------------------------------------------


def rte_check(data: bytes) -> int:
    return reduce(xor, data[1:-1], 0)


def test_rte_bytes_of_a_passport():
    data = encode("rte", TD3)
    # 1 SOH + 2 length + "OU" + STX + flag + 3 line slots + ETX + BCC
    text = b"\r" + f"{TD3[0]}\r{TD3[1]}\r".encode()
    assert data == (
        bytes([SOH, len(data), 0x00]) + b"OU" + bytes([STX]) + b"0" + text + bytes([ETX])
    ) + bytes([rte_check(data)])
    assert len(data) == 100


def test_rte_pads_short_lines_with_underscores_to_44_or_30():
    data = encode("rte", TD2)
    assert f"\r{TD2[0]}{'_' * 8}\r{TD2[1]}{'_' * 8}\r".encode() in data
    td1 = encode("rte", TD1)
    assert f"{TD1[0]}\r{TD1[1]}\r{TD1[2]}\r".encode() in td1  # already 30 wide
    assert td1[1] | td1[2] << 8 == len(td1) == 102


def test_rte_padding_and_missing_lines_are_removed():
    framing = RteFraming()
    # Only the bottom line found: the two lines above send just their CR.
    one_line = framing.encode(("", "", TD3[1]))
    assert frames(decode("rte", one_line)) == [(TD3[1],)]
    # A line in the middle not found keeps its place as an empty line.
    gap = framing.encode((TD1[0], "", TD1[2]))
    assert frames(decode("rte", gap)) == [(TD1[0], "", TD1[2])]


def test_rte_a_bad_bcc_is_a_misread_of_the_whole_frame():
    data = bytearray(encode("rte", TD3))
    data[-1] ^= 0x55
    events = decode("rte", bytes(data) + encode("rte", TD2))
    assert kinds(events) == ["Misread", "Frame"]
    assert events[0].raw == bytes(data)
    assert (
        events[0].reason == f"bad BCC: computed 0x{rte_check(data):02X}, received 0x{data[-1]:02X}"
    )


def test_rte_a_bcc_byte_that_is_soh_may_open_the_next_frame():
    # A frame that lost its BCC, then the next frame: its SOH takes the BCC's place.
    good = encode("rte", TD2)
    lost_bcc = encode("rte", TD3)[:-1]
    events = decode("rte", lost_bcc + good)
    assert kinds(events) == ["Misread", "Frame"]
    assert events[0].raw == lost_bcc


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[:1] + b"\xff\xff" + data[3:], "length field 65535 is no block length"),
        (lambda data: data[:1] + bytes([data[1] + 1]) + data[2:], "length field says 101"),
        (lambda data: data[:1] + bytes([data[1] - 1]) + data[2:], "no ETX where"),
        (lambda data: data[:3] + b"OX" + data[5:], 'does not read "OU"'),
        (lambda data: data[:5] + b"\x04" + data[6:], "not STX"),
        (lambda data: data[:20] + b"\x02" + data[21:], "unexpected 0x02"),
    ],
    ids=["length too big", "length too long", "length too short", "not OU", "no STX", "STX"],
)
def test_rte_a_malformed_frame_is_a_misread_and_the_next_frame_survives(damage, reason):
    bad = damage(encode("rte", TD3))
    events = decode("rte", bad + encode("rte", TD2))
    assert frames(events) == [TD2]
    assert reason in next(event for event in events if isinstance(event, Misread)).reason
    assert misread_bytes(events) == bad


@pytest.mark.parametrize("name", FRAMING_NAMES)
@pytest.mark.parametrize("lines", ALL_SPECIMENS, ids=SPECIMEN_IDS)
def test_a_frame_cut_anywhere_costs_only_itself(name, lines):
    """Every cut of every specimen, followed by a good frame: misreads, then the good frame."""
    whole = encode(name, lines)
    good = encode(name, TD2 if lines != TD2 else TD3)
    for cut in range(1, len(whole)):
        truncated = whole[:cut]
        if name == "lines":
            # Nothing marks where a line-framed document starts: the idle gap does.
            framing = make_framing(name)
            events = framing.feed(truncated, 0.0) + framing.feed(good, GAP_S)
        else:
            events = decode(name, truncated + good)
        assert kinds(events)[-1] == "Frame", cut
        assert set(kinds(events)[:-1]) == {"Misread"}, cut
        assert misread_bytes(events) == truncated, cut


# --- properties over random input -------------------------------------------------

CHUNKS = st.lists(
    st.tuples(st.binary(max_size=300), st.floats(min_value=0.0, max_value=0.5)),
    max_size=20,
)


@pytest.mark.parametrize("name", FRAMING_NAMES)
@settings(max_examples=150, deadline=None, derandomize=True)
@given(chunks=CHUNKS)
def test_random_bytes_never_raise_and_stay_bounded(name, chunks):
    framing = make_framing(name)
    now = 0.0
    events: list[FrameEvent] = []
    for data, pause in chunks:
        now += pause
        events += framing.feed(data, now)
        assert framing.buffered <= MAX_FRAME_BYTES
    events += framing.flush(now + GAP_S)
    assert framing.buffered == 0
    assert all(len(event.raw) <= MAX_FRAME_BYTES for event in events)
    if name != "lines":
        # Every byte shows up once, in order: nothing is lost, nothing doubled.
        # (The lines framing drops blank lines and the LF of CR LF.)
        assert b"".join(event.raw for event in events) == b"".join(data for data, _ in chunks)


def noise_for(framing: Framing, max_size: int = 40) -> st.SearchStrategy[bytes]:
    control = framing.control_bytes
    return st.binary(max_size=max_size).map(lambda data: bytes(b for b in data if b not in control))


@pytest.mark.parametrize("name", FRAMING_NAMES)
@settings(max_examples=100, deadline=None, derandomize=True)
@given(data=st.data())
def test_every_good_frame_in_noise_is_recovered(name, data):
    framing = make_framing(name)
    noise = noise_for(framing)
    documents = data.draw(st.lists(st.sampled_from(ALL_SPECIMENS), min_size=1, max_size=6))
    pieces = [(data.draw(noise), lines) for lines in documents]
    trailing = data.draw(noise)
    now = 0.0
    events: list[FrameEvent] = []
    for junk, lines in pieces:
        events += framing.feed(junk, now)
        if name == "lines":
            now += GAP_S  # the lines framing can only tell noise from a line by a gap
        events += framing.feed(framing.encode(lines), now)
    events += framing.feed(trailing, now)
    events += framing.flush(now + GAP_S)
    assert frames(events) == documents
    assert misread_bytes(events) == b"".join(junk for junk, _ in pieces) + trailing


def stream_of(name: str) -> st.SearchStrategy[bytes]:
    """Good frames, frames cut short, and raw noise (control bytes included), mixed."""
    good = st.sampled_from([encode(name, lines) for lines in ALL_SPECIMENS])
    cut = st.tuples(good, st.integers(1, 120)).map(lambda pair: pair[0][: pair[1]])
    part = st.one_of(good, cut, st.binary(max_size=30))
    return st.lists(part, max_size=8).map(b"".join)


@pytest.mark.parametrize("name", FRAMING_NAMES)
@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data())
def test_chunking_does_not_change_the_events(name, data):
    stream = data.draw(stream_of(name))
    points = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert decode(name, *chunks) == decode(name, stream)


@pytest.mark.parametrize("name", FRAMING_NAMES)
@settings(max_examples=100, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_truncated_frame_then_a_good_one_gives_misread_then_frame(name, data):
    whole = encode(name, data.draw(st.sampled_from(ALL_SPECIMENS)))
    lines = data.draw(st.sampled_from(ALL_SPECIMENS))
    truncated = whole[: data.draw(st.integers(1, len(whole) - 1))]
    framing = make_framing(name)
    gap = GAP_S if name == "lines" else 0.0
    events = framing.feed(truncated, 0.0) + framing.feed(framing.encode(lines), gap)
    assert isinstance(events[0], Misread)
    assert events[-1] == Frame(lines, framing.encode(lines))
    assert misread_bytes(events) == truncated


# --- totality: whatever the bytes, however cut ------------------------------------

# Every decoder a reader may be configured with, the DESKO one also with other bytes.
DECODERS = {
    "lines": lambda: make_framing("lines"),
    "desko": lambda: make_framing("desko"),
    "desko-1E1F": lambda: make_framing("desko", desko=desko("1E", "1F")),
    "rte": lambda: make_framing("rte"),
}


def hostile_stream(framing: Framing) -> st.SearchStrategy[bytes]:
    """What a bad line, a wrong device or broken firmware sends a decoder.

    Good frames, frames cut, spliced and bit-flipped, storms of the framing's
    control bytes and of CR/LF, printable runs past every size limit, and
    high bytes, mixed.
    """
    good = st.sampled_from([framing.encode(lines) for lines in ALL_SPECIMENS])
    control = sorted(framing.control_bytes | {CR, LF})
    flipped = st.tuples(good, st.integers(0, 10_000), st.integers(0, 7)).map(
        lambda t: (
            t[0][: t[1] % len(t[0])]
            + bytes([t[0][t[1] % len(t[0])] ^ (1 << t[2])])
            + t[0][t[1] % len(t[0]) + 1 :]
        )
    )
    spliced = st.tuples(good, good, st.integers(0, 200), st.integers(0, 200)).map(
        lambda t: t[0][: t[2]] + t[1][t[3] :]
    )
    part = st.one_of(
        good,
        flipped,
        spliced,
        st.lists(st.sampled_from(control), max_size=40).map(bytes),
        st.sampled_from([b"\r\n" * 30, b"\r" * 5, b"\n" * 9]),
        st.sampled_from(
            [MAX_FRAME_BYTES - 1, MAX_FRAME_BYTES, MAX_FRAME_BYTES + 1, 48, 49]
        ).flatmap(lambda n: st.sampled_from(b"<A0 _").map(lambda b: bytes([b]) * n)),
        st.binary(min_size=1, max_size=6).map(lambda d: bytes(0x80 | b for b in d)),
        st.binary(max_size=40),
    )
    return st.lists(part, max_size=10).map(b"".join)


def pieces(stream: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cut for cut in cuts if cut <= len(stream)), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("name", DECODERS)
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_hostile_bytes_never_raise_and_every_byte_is_accounted_for(name, data):
    framing = DECODERS[name]()
    stream = data.draw(hostile_stream(framing))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    now = 0.0
    events: list[FrameEvent] = []
    for chunk in pieces(stream, cuts):
        # Now and then the line goes idle long enough to end what is pending.
        now += data.draw(st.sampled_from([0.0, 0.001, 0.5]))
        events += framing.feed(chunk, now)
        assert framing.buffered <= MAX_FRAME_BYTES
    events += framing.flush(now + GAP_S)
    assert framing.buffered == 0
    assert all(isinstance(event, Frame | Misread) for event in events)
    assert all(len(event.raw) <= MAX_FRAME_BYTES for event in events)
    if not name.startswith("lines"):
        assert b"".join(event.raw for event in events) == stream


@pytest.mark.parametrize("name", DECODERS)
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_hostile_bytes_give_the_same_events_however_they_are_cut(name, data):
    stream = data.draw(hostile_stream(DECODERS[name]()))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))

    def run(chunks: list[bytes]) -> list[FrameEvent]:
        framing = DECODERS[name]()
        events = [event for chunk in chunks for event in framing.feed(chunk, 0.0)]
        return events + framing.flush(GAP_S)

    whole = run([stream])
    assert run(pieces(stream, cuts)) == whole
    assert run([stream[i : i + 1] for i in range(len(stream))]) == whole


@pytest.mark.parametrize("name", DECODERS)
@settings(max_examples=120, deadline=None)
@given(data=st.data())
@example(data=None)
def test_a_good_frame_after_hostile_bytes_and_an_idle_gap_is_recovered(name, data):
    framing = DECODERS[name]()
    if data is None:
        # The door board's line on a reader's port, then the reader's frame.
        noise, lines = b"#12 OK ENTRY=OPEN EXIT=CLOSED *57\r\n" * 3, TD3
    else:
        noise = data.draw(hostile_stream(framing))
        lines = data.draw(st.sampled_from(ALL_SPECIMENS))
    # Whatever the noise left pending ends at the idle timeout; the frame is whole.
    events = framing.feed(noise, 0.0) + framing.feed(framing.encode(lines), GAP_S)
    events += framing.flush(2 * GAP_S)
    assert frames(events)[-1] == lines
