"""The serial MRZ reader driver against the emulated reader, over real pseudo-terminals."""

from __future__ import annotations

import itertools
import logging
import statistics
import time
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egate.documents.layout import MrzFormat
from egate.documents.specimens import SPECIMENS
from hardware.emulators.pty import PseudoTerminal
from hardware.emulators.reader import FaultPlan, ReaderEmulator
from hardware.framing import FRAMING_NAMES, make_framing
from hardware.link import LinkError, LinkState
from hardware.reader import (
    DocumentRead,
    PassportReader,
    ReaderCondition,
    ReaderDecoder,
    ReaderEvent,
    ReadFailed,
    SerialMrzReader,
)

pytestmark = pytest.mark.hardware

ALL_SPECIMENS = list(SPECIMENS.values())
TD1 = SPECIMENS[MrzFormat.TD1]
TD2 = SPECIMENS[MrzFormat.TD2]
TD3 = SPECIMENS[MrzFormat.TD3]


def documents(events: list[ReaderEvent]) -> list[DocumentRead]:
    return [event for event in events if isinstance(event, DocumentRead)]


def failures(events: list[ReaderEvent]) -> list[ReadFailed]:
    return [event for event in events if isinstance(event, ReadFailed)]


@pytest.fixture
def make_reader(fast_settings, today):
    """``make_reader(port, framing, **settings)``: a reader closed at the end of the test."""
    readers: list[SerialMrzReader] = []

    def make(port: str, framing: str, states: list[LinkState] | None = None, **overrides):
        reader = SerialMrzReader(
            fast_settings(port, **overrides),
            framing,
            lambda: today,
            on_state=None if states is None else states.append,
        )
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        reader.close()


@pytest.mark.parametrize("framing", FRAMING_NAMES)
def test_every_framing_delivers_every_specimen(framing, pty, make_reader, poll_until):
    reader = make_reader(pty.port, framing)
    with ReaderEmulator(framing, pty) as emulator:
        for lines in ALL_SPECIMENS:
            emulator.send(lines)
        events = poll_until(reader, lambda events: len(documents(events)) == len(ALL_SPECIMENS))
    assert failures(events) == []
    assert [event.lines for event in events] == ALL_SPECIMENS
    assert [event.result.format for event in documents(events)] == list(SPECIMENS)
    assert all(event.result.valid for event in documents(events))
    assert [event.raw for event in events] == [sent.data for sent in emulator.sent]


@pytest.mark.parametrize("framing", FRAMING_NAMES)
def test_faults_become_read_failures_with_their_bytes(framing, pty, make_reader, poll_until):
    plan = FaultPlan(
        garbage=0.5, split=0.5, split_pause_s=0.01, bad_bcc=0.4 if framing == "rte" else 0.0, seed=7
    )
    reader = make_reader(pty.port, framing)
    reader.open()  # the emulator talks only to a driver that has the port open
    with ReaderEmulator(framing, pty, plan) as emulator:
        for lines in ALL_SPECIMENS * 2:
            emulator.send(lines)
        assert emulator.wait_until_sent(10.0)
    sent = emulator.sent
    bad = [item for item in sent if item.kind == "garbage" or "bad_bcc" in item.faults]
    good = [item for item in sent if item not in bad]
    faults = {fault for item in sent for fault in item.faults}
    assert any(item.kind == "garbage" for item in sent)
    assert "split" in faults
    assert ("bad_bcc" in faults) is (framing == "rte")

    events = poll_until(
        reader,
        lambda events: len(documents(events)) == len(good) and len(failures(events)) == len(bad),
    )
    assert [event.lines for event in documents(events)] == [item.lines for item in good]
    assert [event.raw for event in failures(events)] == [item.data for item in bad]
    reasons = {event.reason for event in failures(events)}
    if framing == "rte":
        assert any(reason.startswith("bad BCC") for reason in reasons)


@pytest.mark.parametrize("framing", FRAMING_NAMES)
def test_unplug_mid_stream_then_replug_loses_no_later_document(
    framing, pty, make_reader, poll_until
):
    states: list[LinkState] = []
    reader = make_reader(pty.port, framing, states)
    with ReaderEmulator(framing, pty) as emulator:
        emulator.send(TD3)
        poll_until(reader, documents)
        # Half a frame, then the cable is pulled and put back.
        emulator.send_raw(make_framing(framing).encode(TD2)[:40])
        emulator.unplug()
        emulator.pause(0.05)
        emulator.plug_back()
        for lines in ALL_SPECIMENS:
            emulator.send(lines)
        events = poll_until(reader, lambda events: len(documents(events)) == len(ALL_SPECIMENS))
    assert [event.lines for event in documents(events)] == ALL_SPECIMENS
    # The half frame is reported, with its bytes, when the link goes down.
    assert [(event.raw, event.reason) for event in failures(events)] == [
        (make_framing(framing).encode(TD2)[:40], "link lost in the middle of a frame")
    ]
    assert states[:2] == [LinkState.CONNECTING, LinkState.CONNECTED]
    assert states[2] is LinkState.DISCONNECTED
    assert states[-1] is LinkState.CONNECTED
    assert reader.state is LinkState.CONNECTED


def test_a_document_read_while_unplugged_is_lost_and_the_replug_still_comes(
    pty, make_reader, poll_until
):
    reader = make_reader(pty.port, "desko", [])
    with ReaderEmulator("desko", pty) as emulator:
        emulator.send(TD3)
        poll_until(reader, documents)
        emulator.unplug()
        emulator.send(TD2)  # laid down while the cable is out: goes nowhere
        emulator.plug_back()
        assert emulator.wait_until_sent(5.0)
        assert pty.plugged
        assert emulator.errors == ["document: not sent, the reader is unplugged"]
        emulator.send(TD1)
        events = poll_until(reader, documents)
    # The next document after the replug arrives; the one sent unplugged never does.
    assert [event.lines for event in documents(events)] == [TD1]


def test_random_disconnects_lose_only_the_frame_they_cut(pty, make_reader, poll_until):
    plan = FaultPlan(disconnect=0.3, disconnect_for_s=0.02, seed=3)
    reader = make_reader(pty.port, "desko")
    with ReaderEmulator("desko", pty, plan) as emulator:
        for lines in ALL_SPECIMENS * 2:
            emulator.send(lines)
        # The driver has to keep up (and reconnect) while the emulator sends.
        events = poll_until(reader, lambda events: emulator.wait_until_sent(0))
        whole = [item.lines for item in emulator.sent if "disconnect" not in item.faults]
        cut = [item.data for item in emulator.sent if "disconnect" in item.faults]
        assert cut  # the plan did cut some frames
        events += poll_until(reader, lambda more: len(documents(events + more)) == len(whole))
    assert [event.lines for event in documents(events)] == whole
    assert [event.raw for event in failures(events)] == cut


def test_the_emulator_waits_for_the_driver_to_open_the_port(pty, make_reader, poll_until):
    with ReaderEmulator("rte", pty) as emulator:
        emulator.send(TD3)
        # Nobody has the port open: the document waits, as in a USB adapter.
        assert not emulator.wait_until_sent(0.1)
        reader = make_reader(pty.port, "rte")
        events = poll_until(reader, documents)
    assert [event.lines for event in events] == [TD3]


def test_a_document_can_be_sent_as_one_text(pty, make_reader, poll_until):
    reader = make_reader(pty.port, "lines")
    with ReaderEmulator("lines", pty) as emulator:
        emulator.send("\n".join(TD3) + "\n")
        events = poll_until(reader, documents)
    assert [event.lines for event in events] == [TD3]


def test_a_slow_device_is_read_whole_and_the_driver_adds_little(
    pty, make_reader, poll_until, capsys
):
    """Measured, never asserted: what the driver adds on top of the time on the wire."""
    reader = make_reader(pty.port, "rte", read_timeout_s=0.05)
    latencies: list[float] = []
    received: list[ReaderEvent] = []
    with ReaderEmulator("rte", pty, FaultPlan(baudrate=9600)) as emulator:
        for lines in ALL_SPECIMENS:
            emulator.send(lines)
        give_up = time.monotonic() + 10.0
        while len(documents(received)) < len(ALL_SPECIMENS) and time.monotonic() < give_up:
            events = reader.poll()
            at = time.monotonic()
            received += events
            latencies += [at for _ in documents(events)]
        assert emulator.wait_until_sent(5.0)
        sent = emulator.sent
    assert [event.lines for event in documents(received)] == ALL_SPECIMENS
    added = [(at - item.finished_at) * 1000 for at, item in zip(latencies, sent, strict=True)]
    wire = [(item.finished_at - item.started_at) * 1000 for item in sent]
    with capsys.disabled():
        print(
            f"\n  reader latency (rte, 9600 baud): wire {statistics.median(wire):.1f} ms "
            f"per document; driver adds median {statistics.median(added):.3f} ms, "
            f"max {max(added):.3f} ms"
        )


def test_a_loop_url_works(make_reader, poll_until):
    reader = make_reader("loop://", "desko")
    reader.open()
    reader.link.write(make_framing("desko").encode(TD3))
    events = poll_until(reader, documents)
    assert [event.lines for event in events] == [TD3]


def test_a_socket_url_works(make_reader, poll_until):
    # A reader behind a serial-to-network converter: a TCP server on loopback.
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    opened = threading.Event()

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            # Opening a port flushes what arrived before: send once it is open,
            # as a reader sends when a document is laid on it.
            opened.wait(5)
            connection.sendall(make_framing("desko").encode(TD3))
            connection.recv(1)  # hold the connection until the reader closes it

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        reader = make_reader(f"socket://127.0.0.1:{port}", "desko")
        reader.open()
        opened.set()
        events = poll_until(reader, documents)
        assert [event.lines for event in events] == [TD3]
        reader.close()
        thread.join(5)
    finally:
        server.close()


def test_frames_that_hold_no_mrz_are_read_failures(make_reader, poll_until):
    reader = make_reader("loop://", "desko")
    reader.open()
    reader.link.write(make_framing("desko").encode(["HELLO WORLD"]))
    events = poll_until(reader, failures)
    assert events[0].reason.startswith("not an MRZ: 1 line of 11 characters")


def test_an_mrz_that_fails_its_checks_is_still_a_document(make_reader, poll_until):
    damaged = (TD3[0], TD3[1][:9] + "9" + TD3[1][10:])  # wrong document number check digit
    reader = make_reader("loop://", "lines")
    reader.open()
    reader.link.write(make_framing("lines").encode(damaged))
    (event,) = poll_until(reader, documents)
    assert not event.result.valid
    assert "CHECK_DIGIT_DOCUMENT_NUMBER" in event.result.failures


def test_opening_a_missing_port_is_a_one_line_error(make_reader, tmp_path):
    missing = tmp_path / "ttyUSB7"
    reader = make_reader(str(missing), "rte")
    with pytest.raises(LinkError) as caught:
        reader.open()
    message = str(caught.value)
    assert message == f"serial port {missing}: cannot open: no such device"
    assert "\n" not in message


def test_polling_a_missing_port_never_raises_and_keeps_trying(make_reader, tmp_path, pty):
    missing = tmp_path / "ttyUSB8"
    states: list[LinkState] = []
    reader = make_reader(str(missing), "lines", states)
    assert reader.poll(0.0) == []
    assert reader.state is LinkState.CONNECTING
    assert "no such device" in (reader.last_error or "")
    assert reader.poll(0.001) == []  # not due yet: no attempt, no wait
    missing.symlink_to(pty.path)
    give_up = time.monotonic() + 5.0
    while reader.state is not LinkState.CONNECTED and time.monotonic() < give_up:
        reader.poll(time.monotonic() + 1.0)
    assert states == [LinkState.CONNECTING, LinkState.CONNECTED]


def test_an_unknown_framing_is_refused(fast_settings, today):
    with pytest.raises(ValueError, match="unknown framing 'cute'"):
        SerialMrzReader(fast_settings("loop://"), "cute", lambda: today)


def test_bad_bcc_needs_the_rte_framing():
    with PseudoTerminal() as pty, pytest.raises(ValueError, match="bad_bcc needs the rte"):
        ReaderEmulator("desko", pty, FaultPlan(bad_bcc=0.5))


def test_the_serial_reader_is_a_passport_reader(make_reader):
    reader: PassportReader = make_reader("loop://", "rte")
    assert reader.poll(0.0) == []
    assert reader.state is LinkState.CONNECTED


def test_events_keep_the_mrz_out_of_their_repr(make_reader, poll_until):
    reader = make_reader("loop://", "lines")
    reader.open()
    reader.link.write(make_framing("lines").encode(TD3) + b"JUNK\r")
    events = poll_until(reader, lambda events: len(events) == 2)
    text = repr(events)
    assert "ERIKSSON" not in text and "L898902C" not in text and "JUNK" not in text
    assert "ReadFailed(raw=<5 bytes>" in text


# --- the decoder: total, and what it says of the device -------------------------

DOOR_BOARD_LINES = b"#12 OK ENTRY=OPEN EXIT=CLOSED *57\r\n! OPENED ENTRY *60\r\n"
NO_VALID_DESKO = "no valid desko frame in 4096 bytes: wrong framing or another device on this port"


# The gate's date for the property tests (hypothesis refuses function-scoped fixtures).
TODAY = date(2026, 11, 26)


def decoder_for(name: str, today: date = TODAY, **options) -> ReaderDecoder:
    return ReaderDecoder(make_framing(name), lambda: today, **options)


def outcome(events: list[ReaderEvent]) -> list[tuple[str, bytes, object]]:
    """Events as comparable values (documents by their lines, failures by their reason)."""
    return [
        ("document", event.raw, event.lines)
        if isinstance(event, DocumentRead)
        else ("failed", event.raw, event.reason)
        for event in events
    ]


# Lines a frame may carry: MRZ-like and not, of any width, with characters
# outside the MRZ set and outside ASCII (which the framings turn into U+FFFD).
frame_lines = st.lists(
    st.one_of(
        st.text(alphabet="<ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=0, max_size=50),
        st.text(min_size=0, max_size=50).map(lambda text: text.replace("\r", "").replace("\n", "")),
    ),
    max_size=4,
)


def reader_stream(name: str) -> st.SearchStrategy[bytes]:
    framing = make_framing(name)
    good = st.sampled_from([framing.encode(lines) for lines in ALL_SPECIMENS])
    odd_frames = frame_lines.map(framing.encode)
    noise = st.one_of(
        st.binary(max_size=60),
        st.sampled_from([DOOR_BOARD_LINES, b"\r\n" * 20, b"<" * 1030]),
    )
    return st.lists(st.one_of(good, odd_frames, noise), max_size=8).map(b"".join)


@pytest.mark.parametrize("name", FRAMING_NAMES)
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_the_decoder_never_raises_and_cutting_changes_nothing(name, data):
    stream = data.draw(reader_stream(name))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))

    def run(chunks: list[bytes]) -> list[ReaderEvent]:
        decoder = decoder_for(name)
        events = [event for chunk in chunks for event in decoder.feed(chunk, 0.0)]
        return events + decoder.flush(1.0)

    bounds = [0, *cuts, len(stream)]
    whole = run([stream])
    assert all(isinstance(event, DocumentRead | ReadFailed) for event in whole)
    assert outcome(run([stream[a:b] for a, b in itertools.pairwise(bounds)])) == outcome(whole)


@pytest.mark.parametrize("name", FRAMING_NAMES)
@settings(max_examples=150, deadline=None)
@given(lines=frame_lines)
def test_a_frame_of_any_lines_is_a_document_or_a_failed_read(name, lines):
    framing = make_framing(name)
    data = framing.encode(lines)
    decoder = decoder_for(name)
    events = decoder.feed(data, 0.0) + decoder.flush(1.0)
    assert all(isinstance(event, DocumentRead | ReadFailed) for event in events)
    if any(isinstance(event, DocumentRead) for event in events):
        assert decoder.frames == 1


@pytest.mark.parametrize("name", FRAMING_NAMES)
@settings(max_examples=60, deadline=None)
@given(noise=st.binary(max_size=200))
def test_a_good_frame_after_noise_and_a_gap_is_read(name, noise):
    decoder = decoder_for(name)
    events = decoder.feed(noise, 0.0)
    events += decoder.feed(make_framing(name).encode(TD3), 1.0)
    assert [event.lines for event in documents(events)] == [TD3]


def test_bytes_of_another_device_are_a_problem_until_a_valid_frame(today):
    decoder = decoder_for("desko", today)
    assert (decoder.frame_seen, decoder.problem) == (False, None)
    sent = 0
    while sent < 4096 - len(DOOR_BOARD_LINES):
        decoder.feed(DOOR_BOARD_LINES, 0.0)
        sent += len(DOOR_BOARD_LINES)
        assert decoder.problem is None
    # The noise itself is reported as failed reads, in pieces of at most a frame.
    failed = decoder.feed(DOOR_BOARD_LINES, 0.0)
    assert failed and all(isinstance(event, ReadFailed) for event in failed)
    assert decoder.no_valid_frame
    assert decoder.problem == NO_VALID_DESKO
    # One valid frame of the configured framing (an MRZ or not) clears it.
    decoder.feed(make_framing("desko").encode(["NOT AN MRZ"]), 0.0)
    assert (decoder.frame_seen, decoder.problem, decoder.bytes_since_frame) == (True, None, 0)


def test_bytes_after_the_last_good_frame_are_what_counts(today):
    decoder = decoder_for("desko", today)
    frame = make_framing("desko").encode(TD3)
    decoder.feed(b"\x00" * 5000 + frame + b"\x00" * 7, 0.0)
    # Seven bytes of noise pending after the frame, none before it counted.
    assert (decoder.frames, decoder.bytes_since_frame, decoder.problem) == (1, 7, None)


def test_restart_forgets_what_identified_the_device(today):
    decoder = decoder_for("rte", today)
    decoder.feed(make_framing("rte").encode(TD3), 0.0)
    assert decoder.frame_seen
    decoder.restart()
    assert (decoder.frame_seen, decoder.bytes_since_frame) == (False, 0)


def test_a_limit_below_one_frame_is_refused(today):
    with pytest.raises(ValueError, match="at least 1024 bytes"):
        decoder_for("lines", today, no_frame_limit=100)


def test_noise_is_not_logged_per_chunk_and_changes_at_most_once_a_minute(today, caplog):
    caplog.set_level(logging.DEBUG, logger="hardware.reader")
    decoder = decoder_for("desko", today)
    frame = make_framing("desko").encode(TD3)
    now = 0.0
    # 20 KiB of noise in 1 KiB chunks, a document, the same again: four changes in 40 s.
    for _ in range(2):
        for _ in range(20):
            now += 1.0
            decoder.feed(b"\x00" * 1024, now)
        decoder.feed(frame, now)
    assert [record.getMessage() for record in caplog.records] == [f"reader: {NO_VALID_DESKO}"]
    caplog.clear()
    now += 60.0
    for _ in range(20):
        now += 1.0
        decoder.feed(b"\x00" * 1024, now)
    # A minute after the last line: logged, with what was held back.
    assert [record.getMessage() for record in caplog.records] == [
        f"reader: {NO_VALID_DESKO} (3 earlier changes not logged)"
    ]


# --- the driver: identity and problems on its port --------------------------------


def test_an_open_port_is_no_frame_yet_until_the_first_frame(make_reader, poll_until):
    reader = make_reader("loop://", "desko")
    reader.open()
    assert reader.condition is ReaderCondition.NO_FRAME_YET
    assert reader.problem is None  # silence is what a reader does between documents
    reader.link.write(make_framing("desko").encode(TD1))
    poll_until(reader, documents)
    assert reader.condition is ReaderCondition.CONNECTED
    assert reader.problem is None


def test_another_device_on_the_port_is_a_problem_the_gate_can_see(make_reader, poll_until):
    reader = make_reader("loop://", "desko")
    reader.open()
    for _ in range(4096 // len(DOOR_BOARD_LINES) + 1):
        reader.link.write(DOOR_BOARD_LINES)
        reader.poll()
    poll_until(reader, lambda _: reader.condition is ReaderCondition.NO_VALID_FRAME)
    assert reader.state is LinkState.CONNECTED  # the link is fine; the device is not a reader
    assert reader.problem == NO_VALID_DESKO
    reader.link.write(make_framing("desko").encode(TD3))
    poll_until(reader, documents)
    assert (reader.condition, reader.problem) == (ReaderCondition.CONNECTED, None)


def test_a_port_that_cannot_open_is_a_problem(make_reader, tmp_path):
    missing = tmp_path / "ttyUSB6"
    reader = make_reader(str(missing), "lines")
    assert reader.poll(0.0) == []
    assert reader.condition is ReaderCondition.CONNECTING
    assert reader.problem == f"serial port {missing}: cannot open: no such device"


def test_a_reconnected_port_is_identified_afresh(pty, make_reader, poll_until):
    reader = make_reader(pty.port, "rte")
    with ReaderEmulator("rte", pty) as emulator:
        emulator.send(TD3)
        poll_until(reader, documents)
        assert reader.condition is ReaderCondition.CONNECTED
        emulator.unplug()
        emulator.plug_back()
        seen: list[ReaderCondition] = []

        def reopened(events: list[ReaderEvent]) -> bool:
            seen.append(reader.condition)
            return ReaderCondition.DISCONNECTED in seen and reader.state is LinkState.CONNECTED

        poll_until(reader, reopened)
        # Reopened: until it sends a frame, it could be any device on that port.
        assert reader.condition is ReaderCondition.NO_FRAME_YET
        emulator.send(TD2)
        poll_until(reader, documents)
    assert reader.condition is ReaderCondition.CONNECTED
