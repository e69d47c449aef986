"""Serving a virtual chip to vpcd: the socket protocol against a fake vpcd on loopback."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import reduce

import pytest

from egate.documents.lds.dg1 import encode_dg1
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.card import ChipSettings, VirtualChip
from hardware.emulators.emrtd.vpcd import DEFAULT_ATR, VpcdError, contactless_atr, serve_vpcd

SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
)
SELECT_AID = bytes.fromhex("00A4040C07A0000002471001")
SELECT_DG1 = bytes.fromhex("00A4020C020101")
# A generous bound for a thread to answer on loopback; never reached when all is well.
WAIT = 10.0


def make_chip(**overrides: object) -> VirtualChip:
    return VirtualChip(
        {"DG1": encode_dg1(SPECIMEN)},
        mrz_information="L898902C<369080619406236",
        settings=ChipSettings(pace=False, plain_access=True, **overrides),
        air_time=AirTime.zero(),
    )


class FakeVpcd:
    """vpcd's side of the protocol on a loopback port: accepts the card, sends, receives."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(WAIT)
        self.port = self.server.getsockname()[1]
        self.connection: socket.socket | None = None

    def accept(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection, _ = self.server.accept()
        self.connection.settimeout(WAIT)

    def send(self, payload: bytes) -> None:
        assert self.connection is not None
        self.connection.sendall(len(payload).to_bytes(2, "big") + payload)

    def receive(self) -> bytes:
        length = int.from_bytes(self._exactly(2), "big")
        return self._exactly(length)

    def exchange(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.receive()

    def closed_by_card(self) -> bool:
        assert self.connection is not None
        return self.connection.recv(1) == b""

    def _exactly(self, count: int) -> bytes:
        assert self.connection is not None
        data = b""
        while len(data) < count:
            chunk = self.connection.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the card hung up")
            data += chunk
        return data

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.server.close()


@contextmanager
def serving(chip: VirtualChip, vpcd: FakeVpcd, **options: object) -> Iterator[threading.Event]:
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            serve_vpcd(chip, "127.0.0.1", vpcd.port, stop=stop, **options)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(WAIT)
        vpcd.close()
    assert not thread.is_alive()
    assert not errors, errors


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_the_contactless_atr_has_its_check_byte():
    assert DEFAULT_ATR[:4] == bytes.fromhex("3B8B8001")
    assert DEFAULT_ATR[4:-1] == b"egate vchip"
    assert reduce(lambda a, b: a ^ b, DEFAULT_ATR[1:]) == 0  # TCK makes T0..TCK XOR to 0
    assert contactless_atr(b"") == bytes.fromhex("3B80800101")
    with pytest.raises(ValueError):
        contactless_atr(bytes(16))


def test_power_atr_and_apdus_over_vpcd():
    chip = make_chip()
    vpcd = FakeVpcd()
    with serving(chip, vpcd, reconnect=False):
        vpcd.accept()
        vpcd.send(b"\x01")  # power on: no answer due
        assert vpcd.exchange(b"\x04") == DEFAULT_ATR
        assert vpcd.exchange(SELECT_AID) == b"\x90\x00"
        assert vpcd.exchange(SELECT_DG1) == b"\x90\x00"
        dg1 = encode_dg1(SPECIMEN)
        assert vpcd.exchange(bytes.fromhex("00B0000004")) == dg1[:4] + b"\x90\x00"
        # A reset (or power off) closes the application, as on a real card.
        vpcd.send(b"\x02")
        assert vpcd.exchange(SELECT_DG1) == b"\x6a\x82"
        vpcd.send(b"\x00")
        vpcd.send(b"\x09")  # an unknown control byte is ignored
        assert vpcd.exchange(b"\x04") == DEFAULT_ATR


def test_air_time_holds_each_answer_back():
    chip = VirtualChip(
        {"DG1": encode_dg1(SPECIMEN)},
        mrz_information="L898902C<369080619406236",
        settings=ChipSettings(pace=False, plain_access=True),
        air_time=AirTime(bit_rate_kbps=424),
    )
    slept: list[float] = []
    vpcd = FakeVpcd()
    with serving(chip, vpcd, reconnect=False, sleep=slept.append):
        vpcd.accept()
        assert vpcd.exchange(b"\x04") == DEFAULT_ATR
        assert vpcd.exchange(SELECT_AID) == b"\x90\x00"
    assert slept == [chip.air_time.seconds(len(SELECT_AID), 2, 0xA4)]


def test_a_chip_that_falls_silent_leaves_the_reader():
    chip = make_chip(mute_after=1)
    vpcd = FakeVpcd()
    with serving(chip, vpcd, reconnect=False):
        vpcd.accept()
        assert vpcd.exchange(SELECT_AID) == b"\x90\x00"
        vpcd.send(SELECT_DG1)
        assert vpcd.closed_by_card()
        assert not chip.present


def test_with_reconnect_the_card_comes_back_after_vpcd_hangs_up():
    chip = make_chip()
    vpcd = FakeVpcd()
    with serving(chip, vpcd, reconnect=True, retry_seconds=0.05):
        vpcd.accept()
        assert vpcd.exchange(b"\x04") == DEFAULT_ATR
        vpcd.accept()  # closes the first connection, waits for the card to come back
        assert vpcd.exchange(b"\x04") == DEFAULT_ATR


def test_with_reconnect_a_removed_chip_comes_back_once_inserted():
    chip = make_chip(mute_after=1)
    vpcd = FakeVpcd()
    with serving(chip, vpcd, reconnect=True, retry_seconds=0.05):
        vpcd.accept()
        assert vpcd.exchange(SELECT_AID) == b"\x90\x00"
        vpcd.send(SELECT_AID)
        assert vpcd.closed_by_card()
        chip.insert()  # the chip answers one APDU again
        vpcd.accept()
        assert vpcd.exchange(SELECT_AID) == b"\x90\x00"


def test_vpcd_not_listening_is_one_line():
    port = free_port()
    with pytest.raises(VpcdError) as raised:
        serve_vpcd(make_chip(), "127.0.0.1", port, stop=threading.Event(), reconnect=False)
    message = str(raised.value)
    assert message == (
        f"vpcd is not listening on 127.0.0.1:{port} "
        "(is pcscd running, with vsmartcard-vpcd installed?)"
    )
    assert "\n" not in message


def test_vpcd_hanging_up_without_reconnect_is_an_error():
    vpcd = FakeVpcd()
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            serve_vpcd(make_chip(), "127.0.0.1", vpcd.port, stop=stop, reconnect=False)
        except VpcdError as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    vpcd.accept()
    vpcd.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert [str(error) for error in errors] == ["vpcd closed the connection"]


def test_with_reconnect_an_absent_vpcd_is_logged_once_and_stop_ends_it(caplog):
    port = free_port()
    stop = threading.Event()
    caplog.set_level(logging.WARNING, logger="hardware.emulators.emrtd.vpcd")
    thread = threading.Thread(
        target=serve_vpcd,
        args=(make_chip(), "127.0.0.1", port),
        kwargs={"stop": stop, "reconnect": True, "retry_seconds": 0.02},
        daemon=True,
    )
    thread.start()
    stop.wait(0.2)
    stop.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"vpcd is not listening on 127.0.0.1:{port}")


def test_an_atr_must_fit():
    with pytest.raises(ValueError, match="ATR"):
        serve_vpcd(make_chip(), stop=threading.Event(), atr=b"")
