"""PACE's elliptic curves: the mapping and key agreement of Doc 9303 part 11 G.1, point checks."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hardware.emrtd.ecmapping import (
    STANDARDIZED_PARAMETER_IDS,
    EcPoint,
    decode_point,
    domain_parameters,
    encode_point,
    generate_private_key,
    map_generator,
    shared_secret,
)
from hardware.emrtd.errors import ProtocolError

# Doc 9303 part 11 appendix G.1: PACE, ECDH Generic Mapping, brainpoolP256r1.
BP256 = domain_parameters(13)
NONCE_S = bytes.fromhex("3F00C4D39D153F2B2A214A078D899B22")
SK_MAP_IFD = 0x7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99
PK_MAP_IFD = bytes.fromhex(
    "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E"
    "544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D"
)
SK_MAP_IC = 0x498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560
PK_MAP_IC = bytes.fromhex(
    "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57"
    "30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
)
H = bytes.fromhex(
    "0460332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD5"
    "0840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181"
)
G_MAPPED = bytes.fromhex(
    "048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2"
    "8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522"
)
SK_DH_IFD = 0xA73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595
PK_DH_IFD = bytes.fromhex(
    "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
    "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
)
SK_DH_IC = 0x107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A
PK_DH_IC = bytes.fromhex(
    "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB"
    "7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
)
SHARED_SECRET = bytes.fromhex("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925")


def point(data: bytes) -> EcPoint:
    return decode_point(BP256, data, "a test point")


def test_the_mapping_keys_of_appendix_g1() -> None:
    assert encode_point(BP256, BP256.multiply(SK_MAP_IFD, BP256.generator)) == PK_MAP_IFD
    assert encode_point(BP256, BP256.multiply(SK_MAP_IC, BP256.generator)) == PK_MAP_IC


def test_both_sides_reach_the_same_point_h() -> None:
    assert encode_point(BP256, BP256.multiply(SK_MAP_IFD, point(PK_MAP_IC))) == H
    assert encode_point(BP256, BP256.multiply(SK_MAP_IC, point(PK_MAP_IFD))) == H


def test_the_mapped_generator_of_appendix_g1() -> None:
    assert encode_point(BP256, map_generator(BP256, NONCE_S, point(H))) == G_MAPPED


def test_the_ephemeral_keys_and_shared_secret_of_appendix_g1() -> None:
    mapped = point(G_MAPPED)
    assert encode_point(BP256, BP256.multiply(SK_DH_IFD, mapped)) == PK_DH_IFD
    assert encode_point(BP256, BP256.multiply(SK_DH_IC, mapped)) == PK_DH_IC
    assert shared_secret(BP256, SK_DH_IFD, point(PK_DH_IC), "the chip's key") == SHARED_SECRET
    assert shared_secret(BP256, SK_DH_IC, point(PK_DH_IFD), "the terminal's key") == SHARED_SECRET


def test_a_published_private_key_comes_back_from_its_bytes() -> None:
    draws = iter([SK_MAP_IFD.to_bytes(32, "big")])
    assert generate_private_key(BP256, lambda n: next(draws)) == SK_MAP_IFD


def test_private_keys_outside_1_to_n_minus_1_are_drawn_again() -> None:
    draws = iter(
        [bytes(32), BP256.order.to_bytes(32, "big"), b"\xff" * 32, (5).to_bytes(32, "big")]
    )
    assert generate_private_key(BP256, lambda n: next(draws)) == 5


def test_a_521_bit_order_draws_66_bytes_and_clears_the_excess_bits() -> None:
    p521 = domain_parameters(18)
    asked: list[int] = []

    def random(n: int) -> bytes:
        asked.append(n)
        return b"\xfe" + b"\x00" * 64 + b"\x07"

    assert generate_private_key(p521, random) == (0xFE & 0x01) << 520 | 7
    assert asked == [66]


def test_a_short_random_source_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="returned 3 bytes, 32 asked"):
        generate_private_key(BP256, lambda n: b"abc")


@pytest.mark.parametrize(
    ("parameter_id", "name", "size"),
    [
        (8, "secp192r1", 24),
        (9, "brainpoolP192r1", 24),
        (10, "secp224r1", 28),
        (11, "brainpoolP224r1", 28),
        (12, "secp256r1", 32),
        (13, "brainpoolP256r1", 32),
        (14, "brainpoolP320r1", 40),
        (15, "secp384r1", 48),
        (16, "brainpoolP384r1", 48),
        (17, "brainpoolP512r1", 64),
        (18, "secp521r1", 66),
    ],
)
def test_the_standardized_curves(parameter_id: int, name: str, size: int) -> None:
    domain = domain_parameters(parameter_id)
    assert (domain.name, domain.field_size) == (name, size)
    assert domain.contains(domain.generator)
    assert domain.multiply(domain.order - 1, domain.generator) == EcPoint(
        domain.generator.x, domain.prime - domain.generator.y
    )


@pytest.mark.parametrize("parameter_id", STANDARDIZED_PARAMETER_IDS)
def test_mapping_and_agreement_meet_on_every_curve(parameter_id: int) -> None:
    domain = domain_parameters(parameter_id)
    nonce = bytes(range(1, 17))
    sk_a, sk_b = 0x1234567 + parameter_id, domain.order - 0x7654321
    pk_a = domain.multiply(sk_a, domain.generator)
    pk_b = domain.multiply(sk_b, domain.generator)
    mapped_a = map_generator(domain, nonce, domain.multiply(sk_a, pk_b))
    mapped_b = map_generator(domain, nonce, domain.multiply(sk_b, pk_a))
    assert mapped_a == mapped_b
    assert decode_point(domain, encode_point(domain, mapped_a), "G~") == mapped_a
    eph_a, eph_b = 0xABCDEF, domain.order // 3
    secret_a = shared_secret(domain, eph_a, domain.multiply(eph_b, mapped_b), "b")
    secret_b = shared_secret(domain, eph_b, domain.multiply(eph_a, mapped_a), "a")
    assert secret_a == secret_b
    assert len(secret_a) == domain.field_size


@pytest.mark.parametrize("parameter_id", [0, 1, 2, 3, 7, 19, 31, -1])
def test_finite_field_and_unknown_parameters_are_refused(parameter_id: int) -> None:
    with pytest.raises(ProtocolError, match=f"domain parameters {parameter_id} are not supported"):
        domain_parameters(parameter_id)


def test_a_nonce_of_zero_is_refused() -> None:
    with pytest.raises(ProtocolError, match="nonce is a multiple of the group order"):
        map_generator(BP256, bytes(16), point(H))


def test_a_mapping_to_infinity_is_refused() -> None:
    # H = -s·G: the chip's mapping key chosen to cancel the nonce.
    s_g = BP256.multiply(int.from_bytes(NONCE_S, "big"), BP256.generator)
    minus_s_g = EcPoint(s_g.x, BP256.prime - s_g.y)
    with pytest.raises(ProtocolError, match="mapped generator is the point at infinity"):
        map_generator(BP256, NONCE_S, minus_s_g)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"",
            r"not an uncompressed brainpoolP256r1 point \(65 bytes starting 04 expected, got 0\)",
        ),
        (b"\x00", "got 1"),
        (PK_MAP_IC[:-1], "got 64"),
        (PK_MAP_IC + b"\x00", "got 66"),
        (b"\x02" + PK_MAP_IC[1:33], "got 33"),
        (b"\x03" + PK_MAP_IC[1:], "is not an uncompressed .* got 65"),
        (PK_MAP_IC[:-1] + bytes([PK_MAP_IC[-1] ^ 1]), "is not a point of brainpoolP256r1"),
        (b"\x04" + bytes(64), "is not a point of brainpoolP256r1"),
        (b"\x04" + b"\xff" * 64, "is not a point of brainpoolP256r1"),
    ],
)
def test_bad_points_are_refused_naming_the_key(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=f"^PACE: the chip's key .*{message}"):
        decode_point(BP256, data, "the chip's key")


def test_coordinates_beyond_the_prime_are_refused() -> None:
    # (x, y + p) satisfies the curve equation modulo p but is no field element.
    genuine = point(PK_MAP_IC)
    size = BP256.field_size
    wide = EcPoint(genuine.x, genuine.y + BP256.prime)
    assert wide.y < 1 << (8 * size)
    data = b"\x04" + wide.x.to_bytes(size, "big") + wide.y.to_bytes(size, "big")
    with pytest.raises(ProtocolError, match="is not a point"):
        decode_point(BP256, data, "k")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.binary(max_size=80), st.binary(min_size=64, max_size=64).map(lambda b: b"\x04" + b)
    )
)
@example(PK_DH_IC)
def test_any_bytes_decode_to_a_curve_point_or_a_protocol_error(data: bytes) -> None:
    try:
        decoded = decode_point(BP256, data, "k")
    except ProtocolError:
        return
    assert BP256.contains(decoded)
    assert encode_point(BP256, decoded) == data
