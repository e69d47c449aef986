"""The PC/SC transport on a stand-in for pyscard's bindings: readers, errors, 61xx and 6Cxx."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

import pytest

from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.errors import CardAbsent, ProtocolError, TransportError
from hardware.emrtd.pcsc import INSTALL_HINT, PcscTransport, choose_reader, list_readers

SUCCESS = 0
NO_SMARTCARD = 0x8010000C
NO_SERVICE = 0x8010001D
NO_READERS = 0x8010002E
REMOVED = 0x80100069
T0, T1 = 1, 2

Card = Callable[[bytes], bytes]


def fake_scard(
    readers: list[str],
    card: Card | None,
    *,
    context_result: int = SUCCESS,
    protocol: int = T1,
    transmit_result: int = SUCCESS,
) -> types.ModuleType:
    """A module with the few functions of ``smartcard.scard`` the transport calls."""
    module = types.ModuleType("smartcard.scard")
    log: list[object] = []
    module.log = log
    module.SCARD_S_SUCCESS = SUCCESS
    module.SCARD_SCOPE_USER = 0
    module.SCARD_SHARE_SHARED = 2
    module.SCARD_PROTOCOL_T0 = T0
    module.SCARD_PROTOCOL_T1 = T1
    module.SCARD_LEAVE_CARD = 0

    def establish(scope: int) -> tuple[int, int]:
        return context_result, 7

    def list_(context: int, groups: list[str]) -> tuple[int, list[str]]:
        return (SUCCESS, readers) if readers else (NO_READERS, [])

    def connect(context: int, reader: str, share: int, protocols: int) -> tuple[int, int, int]:
        log.append(("connect", reader, protocols))
        if card is None:
            return NO_SMARTCARD, 0, 0
        return SUCCESS, 9, protocol

    def transmit(handle: int, used: int, apdu: list[int]) -> tuple[int, list[int]]:
        log.append(bytes(apdu))
        if transmit_result != SUCCESS:
            return transmit_result, []
        assert card is not None
        return SUCCESS, list(card(bytes(apdu)))

    def status(handle: int) -> tuple[int, str, int, int, list[int]]:
        return SUCCESS, readers[0], 0, protocol, [0x3B, 0x80, 0x80, 0x01, 0x01]

    def message(code: int) -> str:
        return {
            NO_SMARTCARD: "No smart card inserted.",
            NO_SERVICE: "Service not available.",
            REMOVED: "The smart card has been removed.",
        }.get(code & 0xFFFFFFFF, "Unknown error.")

    module.SCardEstablishContext = establish
    module.SCardListReaders = list_
    module.SCardConnect = connect
    module.SCardTransmit = transmit
    module.SCardStatus = status
    module.SCardGetErrorMessage = message
    module.SCardDisconnect = lambda handle, disposition: log.append("disconnect")
    module.SCardReleaseContext = lambda context: log.append("release")
    return module


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Callable[..., types.ModuleType]:
    def put(readers: list[str], card: Card | None, **options: object) -> types.ModuleType:
        module = fake_scard(readers, card, **options)
        monkeypatch.setitem(sys.modules, "smartcard.scard", module)
        return module

    return put


READERS = ["ACS ACR122U PICC Interface 00 00", "Virtual PCD 00 00", "Virtual PCD 00 01"]


def test_without_pyscard_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "smartcard.scard", None)
    with pytest.raises(TransportError) as raised:
        list_readers()
    assert str(raised.value) == INSTALL_HINT == "PC/SC needs pyscard: pip install 'egate[pcsc]'"
    with pytest.raises(TransportError, match="pyscard"):
        PcscTransport()


def test_readers_are_listed_and_chosen_by_index_or_name(install):
    install(READERS, None)
    assert list_readers() == READERS
    assert choose_reader(READERS, None) == READERS[0]
    assert choose_reader(READERS, 2) == "Virtual PCD 00 01"
    assert choose_reader(READERS, "virtual pcd") == "Virtual PCD 00 00"
    with pytest.raises(TransportError, match="no reader 3: there are 3"):
        choose_reader(READERS, 3)
    with pytest.raises(TransportError, match="no reader matches 'OMNIKEY'"):
        choose_reader(READERS, "OMNIKEY")


def test_no_readers(install):
    install([], None)
    assert list_readers() == []
    with pytest.raises(TransportError, match="no reader is connected"):
        PcscTransport()


def test_pcscd_not_running(install):
    install(READERS, None, context_result=NO_SERVICE)
    with pytest.raises(TransportError) as raised:
        list_readers()
    assert str(raised.value) == (
        "PC/SC: cannot reach pcscd: pcscd is not running (Service not available (0x8010001D))"
    )


def test_no_card_is_card_absent(install):
    module = install(READERS, None)
    with pytest.raises(CardAbsent, match="Virtual PCD 00 00: cannot connect to the card"):
        PcscTransport("Virtual")
    assert module.log == [("connect", "Virtual PCD 00 00", T0 | T1), "release"]


def test_transmit_sends_the_bytes_and_decodes_the_answer(install):
    module = install(READERS, lambda apdu: b"\x01\x02\x90\x00")
    with PcscTransport(1) as transport:
        assert transport.reader == "Virtual PCD 00 00"
        assert transport.protocol == "T=1"
        assert transport.atr == bytes.fromhex("3B80800101")
        command = CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=65536)
        assert transport.transmit(command) == ResponseApdu(b"\x01\x02", 0x9000)
        assert "T=1" in repr(transport)
    assert module.log[1:] == [bytes.fromhex("00B00000000000"), "disconnect", "release"]
    transport.close()  # twice is harmless
    with pytest.raises(TransportError, match="closed"):
        transport.transmit(command)


def test_61xx_is_followed_by_get_response_until_the_data_is_whole(install):
    answers = iter(
        [b"\xaa" * 3 + b"\x61\x05", b"\xbb" * 5 + b"\x61\x00", b"\xcc" * 4 + b"\x90\x00"]
    )
    module = install(READERS, lambda apdu: next(answers), protocol=T0)
    transport = PcscTransport()
    assert transport.protocol == "T=0"
    response = transport.transmit(CommandApdu(0x01, 0xB0, 0, 0, ne=256))
    assert response == ResponseApdu(b"\xaa" * 3 + b"\xbb" * 5 + b"\xcc" * 4, 0x9000)
    sent = [entry for entry in module.log if isinstance(entry, bytes)]
    assert sent == [
        bytes.fromhex("01B0000000"),
        bytes.fromhex("01C0000005"),
        bytes.fromhex("01C0000000"),
    ]


def test_6cxx_sends_the_command_again_with_the_right_le(install):
    answers = iter([b"\x6c\x0a", b"\x11" * 10 + b"\x90\x00"])
    module = install(READERS, lambda apdu: next(answers), protocol=T0)
    response = PcscTransport().transmit(CommandApdu(0x00, 0x84, 0, 0, ne=256))
    assert response == ResponseApdu(b"\x11" * 10, 0x9000)
    sent = [entry for entry in module.log if isinstance(entry, bytes)]
    assert sent == [bytes.fromhex("0084000000"), bytes.fromhex("008400000A")]


def test_a_card_that_never_stops_asking_is_a_protocol_error(install):
    install(READERS, lambda apdu: b"\x61\x01")
    with pytest.raises(ProtocolError, match="GET RESPONSE"):
        PcscTransport().transmit(CommandApdu(0x00, 0xB0, 0, 0, ne=1))


def test_a_card_removed_during_transmit_is_card_absent(install):
    install(READERS, lambda apdu: b"\x90\x00", transmit_result=REMOVED)
    with pytest.raises(CardAbsent, match="00A4040C: The smart card has been removed"):
        PcscTransport().transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, b"\xa0"))


def test_an_answer_without_status_word_is_a_protocol_error(install):
    install(READERS, lambda apdu: b"\x90")
    with pytest.raises(ProtocolError, match="00A4040C"):
        PcscTransport().transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, b"\xa0"))
