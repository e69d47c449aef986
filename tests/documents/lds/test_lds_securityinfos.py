"""SecurityInfos of EF.CardAccess and DG14 on published files; DER OIDs and INTEGERs; faults."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import keys
from hypothesis import given
from hypothesis import strategies as st
from ldsfuzz import damaged, only_lds_errors

from egate.documents.lds.der import encode_integer, encode_oid, read_integer, read_oid
from egate.documents.lds.errors import LdsError
from egate.documents.lds.securityinfos import (
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PaceInfo,
    SecurityInfos,
    UnknownSecurityInfo,
    ca_protocol,
    encode_dg14,
    encode_security_infos,
    pace_protocol,
    parse_dg14,
    parse_security_infos,
)
from egate.documents.lds.tlv import encode_tlv, read_tlv

# Doc 9303 part 11 appendix G: EF.CardAccess for PACE ECDH generic mapping,
# AES-128, brainpoolP256r1.
ICAO_CARD_ACCESS = bytes.fromhex("31143012060A04007F0007020204020202010202010D")
# A German eID test card's EF.CardAccess (as published in AusweisApp's tests):
# TerminalAuthenticationInfo, ChipAuthenticationInfo, PACEInfo, chip
# authentication domain parameters, CardInfoLocator, PrivilegedTerminalInfo.
NPA_CARD_ACCESS = bytes.fromhex(
    "3181C1300D060804007F00070202020201023012060A04007F000702020302020201020201413012060A0400"
    "7F0007020204020202010202010D301C060904007F000702020302300C060704007F0007010202010D0201"
    "41302A060804007F0007020206161E687474703A2F2F6273692E62756E642E64652F6369662F6E70612E78"
    "6D6C303E060804007F000702020831323012060A04007F00070202030202020102020145301C060904007F"
    "000702020302300C060704007F0007010202010D020145"
)
BSI_DG14 = (Path(__file__).parent / "data" / "bsi_tr03105_dg14.bin").read_bytes()
PACE_ECDH_GM_AES128 = "0.4.0.127.0.7.2.2.4.2.2"


class TestPublishedFiles:
    def test_the_icao_card_access(self):
        infos = parse_security_infos(ICAO_CARD_ACCESS)
        assert infos == SecurityInfos((PaceInfo(PACE_ECDH_GM_AES128, 2, 13),))
        pace = infos.pace[0]
        assert (pace.key_agreement, pace.mapping, pace.cipher) == ("ECDH", "GM", "AES-128")
        assert pace.domain_parameters == "brainpoolP256r1"

    def test_the_icao_card_access_written(self):
        info = PaceInfo(pace_protocol("ECDH", "GM", "AES-128"), version=2, parameter_id=13)
        assert encode_security_infos([info]) == ICAO_CARD_ACCESS

    def test_the_german_eid_card_access(self):
        infos = parse_security_infos(NPA_CARD_ACCESS)
        assert [type(i).__name__ for i in infos.infos] == [
            "UnknownSecurityInfo",
            "ChipAuthenticationInfo",
            "PaceInfo",
            "UnknownSecurityInfo",
            "UnknownSecurityInfo",
            "UnknownSecurityInfo",
        ]
        assert infos.infos[0].protocol == "0.4.0.127.0.7.2.2.2"  # terminal authentication
        assert infos.chip_authentication == (
            ChipAuthenticationInfo("0.4.0.127.0.7.2.2.3.2.2", version=2, key_id=0x41),
        )
        assert infos.chip_authentication[0].cipher == "AES-128"
        assert infos.pace == (PaceInfo(PACE_ECDH_GM_AES128, 2, 13),)
        assert infos.active_authentication is None and infos.chip_authentication_keys == ()

    def test_the_german_eid_card_access_written_byte_for_byte(self):
        assert encode_security_infos(parse_security_infos(NPA_CARD_ACCESS).infos) == NPA_CARD_ACCESS

    def test_the_bsi_dg14(self):
        infos = parse_dg14(BSI_DG14)
        key = infos.chip_authentication_keys[0]
        assert (key.protocol, key.key_agreement, key.key_id) == (
            "0.4.0.127.0.7.2.2.1.2",
            "ECDH",
            None,
        )
        assert key.public_key == BSI_DG14[23:302]
        spki = keys.PublicKeyInfo.load(key.public_key)
        assert spki.algorithm == "ec" and spki["algorithm"]["parameters"].name == "specified"
        ca = infos.chip_authentication[0]
        assert (ca.key_agreement, ca.cipher, ca.version) == ("ECDH", "3DES", 1)
        assert infos.infos[2] == UnknownSecurityInfo("0.4.0.127.0.7.2.2.2", BSI_DG14[-15:])

    def test_the_bsi_dg14_written_in_der_order(self):
        infos = parse_dg14(BSI_DG14)
        written = encode_dg14(infos.infos)
        # The reference lists the public key first; DER sorts a SET's members.
        assert len(written) == len(BSI_DG14) and written != BSI_DG14
        assert set(parse_dg14(written).infos) == set(infos.infos)
        assert written[8:10] == b"\x30\x0d"  # the shortest member first


class TestWriting:
    def test_every_kind_round_trips(self):
        infos = (
            PaceInfo(pace_protocol("DH", "IM", "3DES"), 2, 0),
            PaceInfo(pace_protocol("ECDH", "CAM", "AES-256"), 2, None),
            ChipAuthenticationInfo(ca_protocol("ECDH", "AES-256"), 2, 300),
            ChipAuthenticationPublicKeyInfo(
                "0.4.0.127.0.7.2.2.1.2",
                parse_dg14(BSI_DG14).chip_authentication_keys[0].public_key,
                7,
            ),
            ActiveAuthenticationInfo("1.2.840.10045.4.3.2"),
            UnknownSecurityInfo("1.2.3", bytes.fromhex("3006 06022A03 0500")),
        )
        assert set(parse_security_infos(encode_security_infos(infos)).infos) == set(infos)
        assert set(parse_dg14(encode_dg14(infos)).infos) == set(infos)

    def test_active_authentication_hashes(self):
        assert ActiveAuthenticationInfo("1.2.840.10045.4.3.3").hash_algorithm == "sha384"
        assert ActiveAuthenticationInfo("0.4.0.127.0.7.1.1.4.1.3").hash_algorithm == "sha256"
        assert ActiveAuthenticationInfo("1.2.3").hash_algorithm is None
        aa = parse_dg14(encode_dg14([ActiveAuthenticationInfo("1.2.840.10045.4.1")]))
        assert aa.active_authentication == ActiveAuthenticationInfo("1.2.840.10045.4.1", 1)

    def test_protocol_names(self):
        assert pace_protocol("ECDH", "GM", "AES-128") == PACE_ECDH_GM_AES128
        assert ca_protocol("DH", "3DES") == "0.4.0.127.0.7.2.2.3.1.1"
        with pytest.raises(ValueError):
            pace_protocol("ECDH", "XM", "AES-128")
        with pytest.raises(ValueError):
            ca_protocol("ECDH", "AES-512")
        with pytest.raises(ValueError):
            encode_security_infos([PaceInfo("1.2.3")])
        with pytest.raises(ValueError, match="at least one"):
            encode_security_infos([])


def sequence(*parts: bytes) -> bytes:
    return encode_tlv(0x31, encode_tlv(0x30, b"".join(parts)))


PACE = encode_oid(PACE_ECDH_GM_AES128)


class TestFaults:
    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (bytes.fromhex("3100"), r"^EF\.CardAccess: byte 0: SecurityInfos is empty"),
            (bytes.fromhex("30020500"), r"^EF\.CardAccess: byte 0: tag 30 where 31 was expected"),
            (bytes.fromhex("310406020500"), r"^EF\.CardAccess: byte 2: tag 06 where 30 was"),
            (sequence(PACE), r"^EF\.CardAccess: byte 2: SecurityInfo without its required"),
            (sequence(encode_integer(1), PACE), r"^EF\.CardAccess: byte 4: tag 02 where 06"),
            (sequence(PACE, b"\x04\x00"), r"byte 16: tag 04 where 02 was expected"),
            (sequence(PACE, b"\x02\x01\xff"), r"byte 16: PACEInfo version is negative"),
            (sequence(PACE, b"\x02\x00"), r"byte 16: PACEInfo version is an INTEGER of 0 bytes"),
            (
                sequence(PACE, encode_integer(2), encode_integer(13), encode_integer(0)),
                r"byte 22: ",
            ),
            (sequence(b"\x06\x00", b"\x05\x00"), r"byte 4: object identifier empty"),
            (sequence(b"\x06\x02\x2a\x80", b"\x05\x00"), r"byte 4: object identifier empty or cut"),
            (sequence(b"\x06\x02\x80\x01", b"\x05\x00"), r"byte 6: object identifier arc padded"),
            (
                sequence(encode_oid("2.23.136.1.1.5"), encode_integer(1)),
                r"byte 2: ActiveAuthenticationInfo without its signature algorithm",
            ),
            (
                sequence(encode_oid("0.4.0.127.0.7.2.2.1.2"), b"\x30\x00"),
                r"byte 15: SubjectPublicKeyInfo of 0 parts",
            ),
        ],
    )
    def test_each_fault_names_its_byte(self, raw, message):
        with pytest.raises(LdsError, match=message):
            parse_security_infos(raw)

    def test_dg14_holds_one_set(self):
        with pytest.raises(LdsError, match=r"^DG14: byte 0: DG14 holds 2 data objects"):
            parse_dg14(encode_tlv(0x6E, ICAO_CARD_ACCESS * 2))
        with pytest.raises(LdsError, match=r"^DG14: byte 0: tag 31 where 6E was expected"):
            parse_dg14(ICAO_CARD_ACCESS)

    @given(st.binary(max_size=80))
    def test_arbitrary_bytes(self, data):
        only_lds_errors(parse_security_infos, data, "EF.CardAccess")
        only_lds_errors(parse_dg14, data, "DG14")

    @given(damaged(NPA_CARD_ACCESS))
    def test_damaged_card_access(self, data):
        only_lds_errors(parse_security_infos, data, "EF.CardAccess")

    @given(damaged(BSI_DG14))
    def test_damaged_dg14(self, data):
        only_lds_errors(parse_dg14, data, "DG14")


arcs = st.tuples(st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 2**70), max_size=8))


@given(arcs)
def test_object_identifiers_round_trip(value):
    first, second, rest = value
    dotted = ".".join(str(arc) for arc in (first, second, *rest))
    assert read_oid(read_tlv(encode_oid(dotted), "X")) == dotted


@given(st.integers(0, 2**127 - 1))
def test_integers_round_trip(number):
    raw = encode_integer(number)
    assert read_integer(read_tlv(raw, "X"), "n") == number
    assert len(raw) == 2 + number.bit_length() // 8 + 1


def test_known_oid_encodings():
    assert encode_oid(PACE_ECDH_GM_AES128).hex().upper() == "060A04007F00070202040202"
    assert encode_oid("2.999.3").hex() == "0603883703"
    assert read_oid(read_tlv(bytes.fromhex("0603883703"), "X")) == "2.999.3"
    for bad in ("1", "3.1", "1.40", "a.b", "1.-2"):
        with pytest.raises(ValueError):
            encode_oid(bad)
