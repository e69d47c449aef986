"""The serial link: settings, opening errors, reads and writes, loss and reconnection."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from hardware.emulators.pty import PseudoTerminal
from hardware.link import LinkDown, LinkError, LinkState, SerialLink, SerialSettings

pytestmark = pytest.mark.hardware


class FakeTime:
    """A clock that only moves when slept on, and remembers every sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


# --- settings ---------------------------------------------------------------------


def test_settings_defaults_are_9600_8n1():
    settings = SerialSettings(port="/dev/ttyUSB0")
    assert (settings.baudrate, settings.bytesize, settings.parity, settings.stopbits) == (
        9600,
        8,
        "N",
        1,
    )
    assert (settings.read_timeout_s, settings.reconnect_initial_s, settings.reconnect_max_s) == (
        0.05,
        0.2,
        5.0,
    )


def test_settings_accept_urls_and_every_framing_of_a_character():
    settings = SerialSettings(port="socket://reader:4001", bytesize=7, parity="E", stopbits=1.5)
    assert settings.stopbits == 1.5


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("baudrate", 9601, "not a standard baud rate (expected e.g. 9600, 19200"),
        ("baudrate", "fast", "valid integer"),
        ("bytesize", 9, "Input should be 5, 6, 7 or 8"),
        ("parity", "X", "Input should be 'N', 'E', 'O', 'M' or 'S'"),
        ("stopbits", 3, "expected 1, 1.5 or 2"),
        ("read_timeout_s", -1, "greater than or equal to 0"),
        ("port", "", "expected a device path or a pyserial URL"),
        ("port", " /dev/ttyS0", "expected a device path or a pyserial URL"),
        ("flow", "rtscts", "Extra inputs are not permitted"),
    ],
)
def test_settings_refuse_bad_values(field, value, message):
    values = {"port": "/dev/ttyS0", field: value}
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SerialSettings.model_validate(values)


def test_settings_refuse_a_backoff_that_shrinks():
    with pytest.raises(ValidationError, match="reconnect_max_s must be at least"):
        SerialSettings(port="loop://", reconnect_initial_s=2, reconnect_max_s=1)


def test_settings_are_frozen():
    settings = SerialSettings(port="loop://")
    with pytest.raises(ValidationError):
        settings.baudrate = 19200  # type: ignore[misc]


# --- opening ----------------------------------------------------------------------


def test_loop_url_carries_bytes_back(fast_settings):
    with SerialLink(fast_settings("loop://")) as link:
        assert link.state is LinkState.CONNECTED
        link.write(b"P<UTO\r")
        assert link.read() == b"P<UTO\r"
        assert link.read() == b""  # nothing more within the read timeout
    assert link.state is LinkState.DISCONNECTED


def test_a_missing_port_is_a_one_line_error_naming_it(fast_settings, tmp_path):
    missing = tmp_path / "ttyUSB9"
    link = SerialLink(fast_settings(str(missing)))
    with pytest.raises(LinkError) as caught:
        link.open()
    assert str(caught.value) == f"serial port {missing}: cannot open: no such device"
    assert link.state is LinkState.DISCONNECTED
    assert link.last_error == str(caught.value)


def test_a_file_is_not_a_serial_port(fast_settings, tmp_path):
    plain = tmp_path / "not-a-tty"
    plain.write_bytes(b"")
    with pytest.raises(
        LinkError, match=r"^serial port .*not-a-tty: cannot open: not a serial port$"
    ):
        SerialLink(fast_settings(str(plain))).open()


def test_an_unknown_url_scheme_is_a_link_error(fast_settings):
    with pytest.raises(LinkError, match=r"^serial port nope://x: cannot open: .*'nope'"):
        SerialLink(fast_settings("nope://x")).open()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may open anything")
def test_permission_denied_says_so(fast_settings, tmp_path):
    locked = tmp_path / "ttyLOCKED"
    locked.write_bytes(b"")
    locked.chmod(0)
    with pytest.raises(LinkError, match="permission denied"):
        SerialLink(fast_settings(str(locked))).open()


def test_a_port_held_by_another_link_is_busy(fast_settings, pty):
    busy = r"cannot open: port is busy \(another program"
    with SerialLink(fast_settings(pty.path)), pytest.raises(LinkError, match=busy):
        SerialLink(fast_settings(pty.path)).open()


def test_opening_twice_is_harmless(fast_settings):
    states = []
    link = SerialLink(fast_settings("loop://"), on_state=states.append)
    link.open()
    link.open()
    link.close()
    link.close()
    assert states == [LinkState.CONNECTED, LinkState.DISCONNECTED]


# --- over a pseudo-terminal -------------------------------------------------------


def test_bytes_go_both_ways_untranslated(fast_settings, pty):
    with SerialLink(fast_settings(pty.port)) as link:
        pty.write(b"L898902C<3\r\n\x00\x03\xff")
        received = b""
        while len(received) < 14:
            received += link.read()
        assert received == b"L898902C<3\r\n\x00\x03\xff"
        link.write(b"STATUS\r")
        assert pty.read(100, timeout_s=2.0) == b"STATUS\r"


def test_read_takes_at_most_max_bytes(fast_settings, pty):
    with SerialLink(fast_settings(pty.port)) as link:
        pty.write(b"0123456789")
        first = b""
        while not first:
            first = link.read(4)
        assert len(first) <= 4
        rest = b""
        while len(first + rest) < 10:
            rest += link.read(4)
        assert first + rest == b"0123456789"


def test_a_hang_up_is_link_down_and_disconnected(fast_settings, pty):
    states = []
    link = SerialLink(fast_settings(pty.port), on_state=states.append)
    link.open()
    pty.hang_up()
    with pytest.raises(LinkDown, match=r"^serial port .*ttyEMU0: lost: "):
        link.read()
    assert not link.is_open
    assert states == [LinkState.CONNECTED, LinkState.DISCONNECTED]
    with pytest.raises(LinkDown, match="not open"):
        link.write(b"x")


def test_writing_to_a_hung_up_port_is_link_down(fast_settings, pty):
    link = SerialLink(fast_settings(pty.port))
    link.open()
    pty.hang_up()
    with pytest.raises(LinkDown):
        link.write(b"OPEN ENTRY\r")
    assert link.state is LinkState.DISCONNECTED


# --- reconnection -------------------------------------------------------------------


def test_reconnect_backs_off_exponentially_up_to_the_maximum(tmp_path):
    fake = FakeTime()
    settings = SerialSettings(
        port=str(tmp_path / "gone"), reconnect_initial_s=0.2, reconnect_max_s=5.0
    )
    states = []
    link = SerialLink(
        settings,
        sleep=fake.sleep,
        clock=fake.clock,
        should_stop=lambda: len(fake.sleeps) >= 8,
        on_state=states.append,
    )
    assert link.reconnect() is False
    assert fake.sleeps == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    assert states == [LinkState.CONNECTING, LinkState.DISCONNECTED]
    assert "no such device" in (link.last_error or "")


def test_reconnect_stops_at_once_when_asked(tmp_path):
    fake = FakeTime()
    link = SerialLink(
        SerialSettings(port=str(tmp_path / "gone")),
        sleep=fake.sleep,
        clock=fake.clock,
        should_stop=lambda: True,
    )
    assert link.reconnect() is False
    assert fake.sleeps == []


def test_reconnect_finds_the_device_when_it_comes_back(fast_settings, pty):
    fake = FakeTime()
    pty.hang_up()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        if len(fake.sleeps) == 3:
            pty.plug_back()

    states = []
    link = SerialLink(
        fast_settings(pty.port, reconnect_initial_s=1.0, reconnect_max_s=30.0),
        sleep=sleep,
        clock=fake.clock,
        on_state=states.append,
    )
    assert link.reconnect() is True
    assert fake.sleeps == [1.0, 2.0, 4.0]
    assert states == [LinkState.CONNECTING, LinkState.CONNECTED]
    pty.write(b"back")
    received = b""
    while len(received) < 4:
        received += link.read()
    assert received == b"back"


def test_reconnect_counts_the_time_an_attempt_took(tmp_path):
    fake = FakeTime()

    class SlowClock:
        # Every reading of the clock costs 0.15 s, as a slow failing open might.
        def __call__(self) -> float:
            fake.now += 0.15
            return fake.now

    link = SerialLink(
        SerialSettings(port=str(tmp_path / "gone"), reconnect_initial_s=1.0),
        sleep=fake.sleep,
        clock=SlowClock(),
        should_stop=lambda: len(fake.sleeps) >= 2,
    )
    link.reconnect()
    # The next attempt is due 1 s after the last began, not 1 s after it failed.
    assert fake.sleeps == [0.85, 1.85]


def test_try_reconnect_never_waits_and_keeps_its_schedule(tmp_path, pty):
    missing = tmp_path / "ttyLATER"
    link = SerialLink(SerialSettings(port=str(missing), reconnect_initial_s=0.5))
    assert link.try_reconnect(10.0) is False  # first attempt: at once
    assert link.retry_at == 10.5
    assert link.try_reconnect(10.4) is False  # not due: no attempt made
    assert link.retry_at == 10.5
    assert link.try_reconnect(10.5) is False
    assert link.retry_at == 11.5
    missing.symlink_to(pty.path)
    assert link.try_reconnect(11.0) is False  # the device is there, but not due yet
    assert link.try_reconnect(11.5) is True
    assert link.state is LinkState.CONNECTED
    assert link.retry_at is None
    link.close()


# --- the pseudo-terminal that stands in for a port ---------------------------------


def test_the_link_follows_the_pseudo_terminal_across_replugs(pty):
    assert pty.link is not None and str(pty.link) == pty.port
    assert os.readlink(pty.link) == pty.path
    pty.hang_up()
    assert not pty.plugged and pty.master is None
    assert not pty.link.exists() and not pty.link.is_symlink()  # the device node is gone
    with pytest.raises(OSError, match="unplugged"):
        pty.write(b"x")
    pty.plug_back()
    assert os.readlink(pty.link) == pty.path


def test_the_link_never_replaces_a_file(tmp_path):
    precious = tmp_path / "ttyS0"
    precious.write_text("keep me")
    with pytest.raises(FileExistsError, match="not a symbolic link"):
        PseudoTerminal(link=precious).open()
    assert precious.read_text() == "keep me"


def test_a_stale_link_is_replaced_and_removed_at_the_end(tmp_path):
    stale = tmp_path / "ttyOLD"
    stale.symlink_to("/dev/pts/does-not-exist")
    with PseudoTerminal(link=stale) as terminal:
        assert os.readlink(stale) == terminal.path
    assert not stale.is_symlink()


def test_the_master_sees_when_a_driver_opens_and_flushes(fast_settings, pty):
    assert not pty.peer_open()
    assert not pty.take_flush()
    link = SerialLink(fast_settings(pty.port))
    link.open()
    assert pty.peer_open()
    assert pty.take_flush()  # pyserial flushes its input as it opens
    assert not pty.take_flush()
    pty.write(b"12345")
    while pty.unread() == 0:
        pass  # the kernel hands the bytes over a moment later
    assert pty.unread() == 5
    link.read()
    assert pty.unread() == 0
    link.close()
    assert not pty.peer_open()
