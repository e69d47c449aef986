"""The protocol vocabulary: OIDs built from names, and named as Doc 9303 names them."""

from __future__ import annotations

import pytest

from egate.documents.lds.der import encode_oid, oid_contents
from egate.documents.lds.protocols import (
    STANDARD_DOMAIN_PARAMETER_IDS,
    ca_protocol,
    pace_protocol,
    pk_protocol,
    protocol_name,
)


@pytest.mark.parametrize(
    ("oid", "name"),
    [
        ("0.4.0.127.0.7.2.2.4.2.1", "id-PACE-ECDH-GM-3DES-CBC-CBC"),
        ("0.4.0.127.0.7.2.2.4.2.2", "id-PACE-ECDH-GM-AES-CBC-CMAC-128"),
        ("0.4.0.127.0.7.2.2.4.1.4", "id-PACE-DH-GM-AES-CBC-CMAC-256"),
        ("0.4.0.127.0.7.2.2.4.6.3", "id-PACE-ECDH-CAM-AES-CBC-CMAC-192"),
        ("0.4.0.127.0.7.2.2.3.2.1", "id-CA-ECDH-3DES-CBC-CBC"),
        ("0.4.0.127.0.7.2.2.3.1.2", "id-CA-DH-AES-CBC-CMAC-128"),
        ("0.4.0.127.0.7.2.2.1.2", "id-PK-ECDH"),
        ("0.4.0.127.0.7.2.2.1.1", "id-PK-DH"),
        ("2.23.136.1.1.5", "2.23.136.1.1.5"),
        ("0.4.0.127.0.7.2.2.4.2.9", "0.4.0.127.0.7.2.2.4.2.9"),
    ],
)
def test_protocol_names(oid: str, name: str) -> None:
    assert protocol_name(oid) == name


def test_oids_from_names() -> None:
    assert pace_protocol("ECDH", "GM", "AES-128") == "0.4.0.127.0.7.2.2.4.2.2"
    assert ca_protocol("ECDH", "AES-256") == "0.4.0.127.0.7.2.2.3.2.4"
    assert pk_protocol("ECDH") == "0.4.0.127.0.7.2.2.1.2"
    with pytest.raises(ValueError, match="no chip authentication public key protocol RSA"):
        pk_protocol("RSA")


def test_curve_names_give_their_parameter_ids() -> None:
    assert STANDARD_DOMAIN_PARAMETER_IDS["brainpoolP256r1"] == 13
    assert STANDARD_DOMAIN_PARAMETER_IDS["secp256r1"] == 12


def test_oid_contents_are_the_der_encoding_without_tag_and_length() -> None:
    # Doc 9303 part 11 appendix G: id-PACE-ECDH-GM-AES-CBC-CMAC-128 in MSE:Set AT's 80.
    contents = oid_contents("0.4.0.127.0.7.2.2.4.2.2")
    assert contents == bytes.fromhex("04007F00070202040202")
    assert encode_oid("0.4.0.127.0.7.2.2.4.2.2") == b"\x06\x0a" + contents
