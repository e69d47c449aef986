"""DG15 on BSI TR-03105-5's reference key; RSA and EC round trips; the read_lds_file dispatcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st
from ldsfuzz import damaged, only_lds_errors

from egate.documents.lds.com import Com, encode_com
from egate.documents.lds.der import encode_oid
from egate.documents.lds.dg1 import Dg1, encode_dg1
from egate.documents.lds.dg2 import Dg2, ImageType, encode_dg2
from egate.documents.lds.dg11 import PersonalDetails, encode_dg11
from egate.documents.lds.dg12 import DocumentDetails, encode_dg12
from egate.documents.lds.dg15 import Dg15, encode_dg15, parse_dg15
from egate.documents.lds.errors import LdsError
from egate.documents.lds.read import RawFile, read_lds_file
from egate.documents.lds.securityinfos import (
    PaceInfo,
    SecurityInfos,
    encode_dg14,
    encode_security_infos,
    parse_dg14,
)
from egate.documents.lds.tlv import encode_tlv

DATA = Path(__file__).parent / "data"
BSI_DG15 = (DATA / "bsi_tr03105_dg15.bin").read_bytes()
BSI_MODULUS_START = 0x8130E120BB785A45


class TestDg15:
    def test_the_bsi_rsa_key(self):
        dg15 = parse_dg15(BSI_DG15)
        assert dg15.algorithm == "rsa" and dg15.public_key_info == BSI_DG15[3:]
        key = dg15.public_key()
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 1024
        numbers = key.public_numbers()
        assert numbers.e == 65537 and numbers.n >> (1024 - 64) == BSI_MODULUS_START

    def test_the_bsi_key_written_byte_for_byte(self):
        dg15 = parse_dg15(BSI_DG15)
        assert encode_dg15(dg15.public_key_info) == BSI_DG15
        assert encode_dg15(dg15.public_key()) == BSI_DG15

    @pytest.mark.parametrize("curve", [ec.BrainpoolP256R1(), ec.SECP384R1()])
    def test_ec_keys(self, curve):
        key = ec.generate_private_key(curve).public_key()
        dg15 = parse_dg15(encode_dg15(key))
        assert dg15.algorithm == "ec" and dg15.public_key() == key

    def test_a_curve_by_explicit_parameters(self):
        spki = parse_dg14((DATA / "bsi_tr03105_dg14.bin").read_bytes())
        dg15 = parse_dg15(encode_tlv(0x6F, spki.chip_authentication_keys[0].public_key))
        key = dg15.public_key()
        assert dg15.algorithm == "ec" and isinstance(key, ec.EllipticCurvePublicKey)
        assert key.curve.name == "brainpoolP224r1"

    def test_a_key_that_does_not_load(self):
        algorithm = encode_tlv(0x30, encode_oid("1.2.840.10045.2.1") + encode_oid("1.2.3"))
        spki = encode_tlv(0x30, algorithm + encode_tlv(0x03, b"\x00\x04" + bytes(64)))
        dg15 = parse_dg15(encode_tlv(0x6F, spki))
        with pytest.raises(LdsError, match=r"^DG15: byte 2: the public key cannot be loaded"):
            dg15.public_key()

    def test_repr_leaves_the_key_out(self):
        assert repr(parse_dg15(BSI_DG15)) == "Dg15(algorithm='rsa')"

    def test_faults(self):
        dh = bytes.fromhex("3011 300B 0609 2A864886F70D010301 0302 0000".replace(" ", ""))
        with pytest.raises(LdsError, match=r"^DG15: byte 2: public key algorithm 1\.2\.840"):
            parse_dg15(encode_tlv(0x6F, dh))
        with pytest.raises(LdsError, match=r"^DG15: byte 0: DG15 holds 2 data objects"):
            parse_dg15(encode_tlv(0x6F, BSI_DG15[3:] * 2))
        odd_bits = bytearray(BSI_DG15)
        odd_bits[24] = 1  # the BIT STRING's unused-bits byte
        with pytest.raises(LdsError, match=r"^DG15: byte 21: 03: public key bits"):
            parse_dg15(bytes(odd_bits))
        with pytest.raises(ValueError):
            encode_dg15(b"\x30\x00")

    @given(st.binary(max_size=80))
    def test_arbitrary_bytes(self, data):
        only_lds_errors(parse_dg15, data, "DG15")

    @given(damaged(BSI_DG15))
    def test_damaged_files(self, data):
        only_lds_errors(parse_dg15, data, "DG15")


PACE = PaceInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 13)
MRZ = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]


class TestReadLdsFile:
    @pytest.mark.parametrize(
        ("name", "raw", "kind"),
        [
            ("EF.COM", encode_com([1, 2]), Com),
            ("DG1", encode_dg1(MRZ), Dg1),
            ("DG2", encode_dg2(b"jpeg", ImageType.JPEG, 1, 1), Dg2),
            ("DG11", encode_dg11(PersonalDetails(full_name="X")), PersonalDetails),
            ("DG12", encode_dg12(DocumentDetails(issuing_authority="X")), DocumentDetails),
            ("DG14", encode_dg14([PACE]), SecurityInfos),
            ("DG15", BSI_DG15, Dg15),
            ("EF.CardAccess", encode_security_infos([PACE]), SecurityInfos),
        ],
    )
    def test_each_file_its_parser(self, name, raw, kind):
        assert isinstance(read_lds_file(name, raw), kind)

    def test_other_files_come_back_raw_once_their_tag_is_checked(self):
        raw = encode_tlv(0x63, b"fingerprints")
        assert read_lds_file("DG3", raw) == RawFile("DG3", 0x63, raw)
        assert read_lds_file("EF.SOD", encode_tlv(0x77, b"")).tag == 0x77
        with pytest.raises(LdsError, match=r"^DG3: byte 0: tag 77 where 63 was expected"):
            read_lds_file("DG3", encode_tlv(0x77, b""))

    def test_errors_name_the_file(self):
        with pytest.raises(LdsError, match=r"^EF\.CardAccess: byte 0"):
            read_lds_file("EF.CardAccess", b"\x30\x00")
        with pytest.raises(KeyError):
            read_lds_file("DG99", b"")

    @given(
        st.sampled_from(["EF.COM", "DG1", "DG2", "DG3", "DG11", "DG12", "DG14", "DG15", "EF.SOD"])
    )
    def test_arbitrary_bytes(self, name):
        for data in (b"", b"\x61\x00", bytes(range(40))):
            only_lds_errors(lambda raw, name=name: read_lds_file(name, raw), data, name)
