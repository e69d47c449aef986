"""A virtual chip read through the real PC/SC stack: vpcd in pcscd, pyscard, egate's transport.

Needs pcscd, vsmartcard's vpcd driver and pyscard::

    apt-get install pcscd vsmartcard-vpcd libpcsclite-dev swig
    pip install 'egate[pcsc]'

A running pcscd is used as it is; otherwise, as root, the test starts
``pcscd --foreground`` for the module and stops it after.  Without them the
tests skip saying what is missing, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import random as random_module
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from egate.documents.lds.dg1 import encode_dg1
from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.bac import bac
from hardware.emrtd.errors import TransportError
from hardware.emrtd.pcsc import PcscTransport, list_readers
from hardware.emrtd.securemessaging import SecureTransport
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.card import ChipSettings, VirtualChip
from hardware.emulators.emrtd.pcscd import (
    SETTLE_SECONDS,
    VPCD_READER,
    PcscdUnavailable,
    running_pcscd,
)
from hardware.emulators.emrtd.vpcd import DEFAULT_ATR, VPCD_PORT, serve_vpcd

SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
)
MRZ_INFORMATION = "L898902C<369080619406236"
AID = bytes.fromhex("A0000002471001")
READER = VPCD_READER


def unavailable(reason: str) -> None:
    """Skip, or fail under CI, where the PC/SC stack is installed on purpose."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PC/SC stack test under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    log = tmp_path_factory.mktemp("pcscd") / "pcscd.log"
    try:
        with running_pcscd(log):
            yield
    except PcscdUnavailable as error:
        unavailable(str(error))


@pytest.fixture
def served(pcscd: None) -> Iterator[VirtualChip]:
    """A virtual chip in vpcd's first slot, for one test."""
    generator = random_module.Random(7)
    chip = VirtualChip(
        {"DG1": encode_dg1(SPECIMEN), "DG2": bytes(range(256)) * 120},
        mrz_information=MRZ_INFORMATION,
        settings=ChipSettings(pace=False),
        air_time=AirTime.zero(),
        random=generator.randbytes,
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=serve_vpcd,
        args=(chip, "127.0.0.1", VPCD_PORT),
        kwargs={"stop": stop, "reconnect": True, "retry_seconds": 0.1},
        daemon=True,
    )
    thread.start()
    try:
        yield chip
    finally:
        stop.set()
        thread.join(SETTLE_SECONDS)
        assert not thread.is_alive()


def connect() -> PcscTransport:
    """The transport to the served chip, once pcscd has seen it (it polls for cards)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        try:
            transport = PcscTransport("Virtual PCD")
        except TransportError:
            if time.monotonic() > deadline:
                raise
        else:
            # vpcd notices a card that left only when it polls: try this one.
            try:
                if transport.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID)).ok:
                    return transport
            except TransportError:
                if time.monotonic() > deadline:
                    transport.close()
                    raise
            transport.close()
            if time.monotonic() > deadline:
                pytest.fail("the virtual chip never answered SELECT through pcscd")
        time.sleep(0.1)


def test_the_virtual_chip_is_a_card_in_a_pcsc_reader(served: VirtualChip) -> None:
    assert READER in list_readers()
    with connect() as transport:
        assert transport.reader == READER
        assert transport.atr == DEFAULT_ATR
        assert transport.protocol == "T=1"
        select = CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID)
        assert transport.transmit(select) == ResponseApdu(b"", 0x9000)
        # Without access control the chip keeps its files to itself.
        select_dg1 = CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")
        assert transport.transmit(select_dg1).sw == 0x6982


def test_bac_and_secure_messaging_through_pcscd(served: VirtualChip) -> None:
    generator = random_module.Random(8)
    with connect() as transport:
        secure = SecureTransport(transport, bac(transport, MRZ_INFORMATION, generator.randbytes))
        assert secure.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID)).ok
        assert secure.transmit(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x01\x02")).ok
        # One extended-length READ BINARY brings the whole DG2 through pcscd and vpcd.
        dg2 = secure.transmit(CommandApdu(0x00, 0xB0, 0, 0, ne=65536))
        assert dg2 == ResponseApdu(bytes(range(256)) * 120, 0x6282)
        assert served.secure_messaging


def test_egate_chip_emulate_and_chip_read_through_pcscd(pcscd: None, tmp_path: Path) -> None:
    """The issue's check, as an engineer runs it: two egate processes and the real PC/SC stack."""
    egate = [sys.executable, "-m", "egate"]
    photo = tmp_path / "face.png"
    from PIL import Image

    Image.new("RGB", (120, 160), (150, 120, 100)).save(photo)
    subprocess.run([*egate, "pki", "init", str(tmp_path / "pki")], check=True, capture_output=True)
    mrz = [option for line in SPECIMEN for option in ("--mrz", line)]
    subprocess.run(
        [*egate, "chip", "issue", *mrz, "--photo", str(photo), "--pki", str(tmp_path / "pki"),
         "--out", str(tmp_path / "chip"), "--aa", "--pace", "--ca", "--air-time", "848"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    emulator = subprocess.Popen(
        [*egate, "chip", "emulate", str(tmp_path / "chip")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            read = subprocess.run(
                [*egate, "chip", "read", "--reader", "Virtual PCD", *mrz, "--trust",
                 str(tmp_path / "pki"), "--json"],
                capture_output=True,
                text=True,
            )  # fmt: skip
            # Until pcscd has polled the card in, the reader is empty: ABSENT, exit 1.
            absent = read.returncode == 1 and json.loads(read.stdout)["status"] == "ABSENT"
            if not absent or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert read.returncode == 0, read.stderr
        document = json.loads(read.stdout)
        assert document["source"] == f"PC/SC reader {READER}"
        assert document["access"] == "PACE id-PACE-ECDH-GM-AES-CBC-CMAC-128"
        assert document["dg1_mrz"] == list(SPECIMEN)
        assert document["passive_authentication"]["status"] == "OK"
        assert document["active_authentication"]["status"] == "OK"
        assert document["chip_authentication"]["status"] == "OK"
    finally:
        emulator.terminate()
        emulator.wait(10)
    assert emulator.returncode == 0, emulator.stderr.read().decode() if emulator.stderr else ""
