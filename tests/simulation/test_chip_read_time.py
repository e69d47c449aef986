"""The chip read step's time: egate.chiptime's arithmetic, against real inspections and as drawn.

``read_seconds`` predicts the air time of a whole inspection from a chip's
protocol, checks and file sizes; a virtual chip served in process spends the
air time of every APDU it answers, so the two must agree to the microsecond.
The capacity model's ``ChipReadTime`` draws from the same arithmetic.
"""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PIL import Image

from egate.chiptime import ChipAirTime, ChipProfile, ChipWork, read_exchanges, read_seconds
from egate.documents.pki.testpki import TestPki, generate_test_pki
from hardware.emrtd.activeauth import ActiveAuthenticator
from hardware.emrtd.chipauth import ChipAuthenticator
from hardware.emrtd.inspection import AccessKey, inspect_chip
from hardware.emrtd.transport import VirtualTransport
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.card import ChipSettings, VirtualChip, pace_parameters_of
from hardware.emulators.emrtd.personalisation import personalise, photo_of
from simulation.chipread import ChipKind, ChipReadTime
from simulation.distributions import Deterministic, Lognormal, Uniform

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINES = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
MRZ_INFORMATION = "L898902C3674081221204159"


class FakeClock:
    """A monotonic clock that moves only when the transport spends air time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def seeded(seed: int):  # type: ignore[no-untyped-def]
    return random.Random(seed).randbytes


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return generate_test_pki(now=NOW)


def noise_photo(width: int, height: int):  # type: ignore[no-untyped-def]
    """A JPEG of noise: it compresses badly, so a small image makes a large DG2."""
    generator = random.Random(3)
    image = Image.frombytes("RGB", (width, height), generator.randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=75)
    return photo_of(out.getvalue())


@pytest.mark.parametrize(
    ("pace", "aa", "ca", "size", "chunk", "rate"),
    [
        (False, "rsa1024", False, (120, 150), 223, 106),
        # A photo past 32 KB: the last pieces are read with B1 and the offset in DO'54.
        (False, "ecdsa", True, (220, 260), 223, 212),
        (True, "ecdsa", True, (220, 260), 4096, 424),
        (True, None, False, (60, 80), 223, 848),
    ],
    ids=["bac-aa", "bac-ca-aa-32k", "pace-ca-aa-extended", "pace-only"],
)
def test_read_seconds_is_the_air_time_of_a_real_inspection(pki, pace, aa, ca, size, chunk, rate):
    aa_key = {
        None: None,
        "rsa1024": rsa.generate_private_key(public_exponent=65537, key_size=1024),
        "ecdsa": ec.generate_private_key(ec.BrainpoolP256R1()),
    }[aa]
    ca_key = ec.generate_private_key(ec.BrainpoolP256R1()) if ca else None
    chip = personalise(
        LINES,
        noise_photo(*size),
        pki.ds_certificate,
        pki.ds_key,
        signed_at=NOW,
        pace=pace,
        active_authentication=aa,
        chip_authentication=ca,
        can="123456" if pace else None,
        aa_key=aa_key,
        ca_key=ca_key,
    )
    files = dict(chip.files)
    air = AirTime(bit_rate_kbps=rate)
    card = VirtualChip(
        files,
        mrz_information=chip.mrz_information,
        can=chip.can,
        pace_parameters=list(pace_parameters_of(files["EF.CardAccess"])) if pace else None,
        settings=ChipSettings(pace=pace),
        active_authenticator=None
        if aa_key is None
        else ActiveAuthenticator(aa_key, random=seeded(4)),
        chip_authenticator=None if ca_key is None else ChipAuthenticator(ca_key),
        air_time=air,
        random=seeded(5),
    )
    clock = FakeClock()
    transport = VirtualTransport(card, sleep=clock.sleep)
    result = inspect_chip(
        transport, AccessKey(MRZ_INFORMATION), random=seeded(6), clock=clock, chunk=chunk
    )
    assert result.status.value == "ok"

    sizes = {name: len(raw) for name, raw in files.items()}
    profile = ChipProfile(
        "pace" if pace else "bac",
        sizes["DG2"],
        active_authentication=aa or "none",
        chip_authentication=ca,
        chunk=chunk,
        dg1_bytes=sizes["DG1"],
        sod_bytes=sizes["EF.SOD"],
    )
    # The small files as egate's virtual chips write them (EF.SOD varies by a byte or two
    # with the length of its DER signature, and is given).
    for name in ("EF.COM", "DG14", "DG15"):
        assert profile.file_bytes(name) == sizes.get(name, 0), name
    assert len(read_exchanges(profile)) == result.apdus == transport.exchanges
    assert read_seconds(profile, ChipAirTime(bit_rate_kbps=rate)) == pytest.approx(
        result.seconds, abs=1e-9
    )
    if size == (220, 260):
        assert sizes["DG2"] > 0x7FFF


def test_airtime_keeps_its_api_on_the_core_arithmetic():
    air = AirTime(bit_rate_kbps=212, latency_s=0.01)
    core = ChipAirTime(bit_rate_kbps=212, latency_s=0.01)
    assert isinstance(air, ChipAirTime)
    assert air.seconds(19, 244, 0xB0) == core.exchange_seconds(19, 244, ChipWork.PLAIN)
    assert air.seconds(75, 71, 0x86) == core.exchange_seconds(75, 71, ChipWork.PUBLIC_KEY)
    assert air.processing_seconds(0x82) == core.auth_latency_s
    assert AirTime.zero().seconds(100, 100, 0x88) == 0.0
    assert isinstance(AirTime.zero(), AirTime)


def test_pace_takes_longer_than_bac_and_faster_air_takes_less():
    def seconds(protocol: str, rate: int = 106, dg2: int = 20_000, **checks: object) -> float:
        profile = ChipProfile(protocol, dg2, **checks)  # type: ignore[arg-type]
        return read_seconds(profile, ChipAirTime(bit_rate_kbps=rate))

    # PACE's key agreement: four public-key operations where BAC has one symmetric one.
    pace, bac = seconds("pace"), seconds("bac")
    assert pace - bac == pytest.approx(4 * 0.15, abs=0.1)
    assert seconds("pace", chip_authentication=True) > pace
    rates = [seconds("bac", rate) for rate in (106, 212, 424, 848)]
    assert rates == sorted(rates, reverse=True)
    assert seconds("bac", dg2=40_000) > seconds("bac", dg2=20_000)
    # The field's 3 to 15 s: a 20 KB photo at 106 kbit/s is at the low end.
    assert 2.5 < bac < 4


def test_draws_are_the_arithmetic_of_each_drawn_chip():
    kinds = [
        ChipKind(0.5, ChipProfile("pace", 8, "ecdsa", True), ChipAirTime(424)),
        ChipKind(0.3, ChipProfile("bac", 8, chunk=4096), ChipAirTime(106)),
        ChipKind(
            0.2,
            ChipProfile("bac", 8, "none"),
            ChipAirTime(212, latency_s=0.02),
            Uniform(30_000, 90_000),
        ),
    ]
    population = ChipReadTime(kinds, Lognormal(20_000, 8_000))
    drawn = population.sample_many(np.random.default_rng(5), 800)
    # The same generator: a kind for each draw, then the photos' sizes.
    rng = np.random.default_rng(5)
    which = rng.choice(3, size=800, p=[0.5, 0.3, 0.2])
    sizes = population.photo_sizes(rng, which)
    expected = [
        read_seconds(kinds[kind].profile.with_dg2(int(size)), kinds[kind].air)
        for kind, size in zip(which, sizes, strict=True)
    ]
    np.testing.assert_allclose(drawn, expected, rtol=0, atol=1e-9)
    assert sizes.min() >= 8
    # The mean of the step is the mean of the arithmetic over the chips (within
    # four standard errors of these 800 draws).
    error = 4 * float(np.std(expected)) / np.sqrt(len(expected))
    assert population.mean == pytest.approx(float(np.mean(expected)), abs=error)


def test_one_kind_with_a_fixed_photo_always_takes_the_same_time():
    profile = ChipProfile("bac", 8)
    population = ChipReadTime([ChipKind(1.0, profile, ChipAirTime())], Deterministic(23_456))
    draws = population.sample_many(np.random.default_rng(1), 100)
    assert np.all(draws == draws[0])
    assert draws[0] == pytest.approx(read_seconds(profile.with_dg2(23_456), ChipAirTime()))
    assert population.mean == pytest.approx(draws[0])
