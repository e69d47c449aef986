"""The ISO/IEC 14443 air-time model: bit times, chaining, chip latency, the calibration."""

from __future__ import annotations

import pytest

from hardware.emulators.emrtd.airtime import AirTime

# A 256-byte READ BINARY under secure messaging: 0C B0 P1 P2 Lc 97 01 00 8E 08 <mac> 00,
# answered by 87 82 01 11 01 <272 encrypted bytes> 99 02 90 00 8E 08 <mac> 90 00.
SM_READ_COMMAND = 19
SM_READ_RESPONSE = 4 + 1 + 272 + 4 + 10 + 2


def dg2_read_seconds(air_time: AirTime, size: int = 20 * 1024) -> float:
    commands = -(-size // 256)
    return commands * air_time.seconds(SM_READ_COMMAND, SM_READ_RESPONSE, 0xB0)


def test_bit_times_follow_the_carrier():
    assert AirTime(bit_rate_kbps=106).bit_seconds == pytest.approx(9.44e-6, rel=1e-3)
    assert AirTime(bit_rate_kbps=212).bit_seconds == pytest.approx(4.72e-6, rel=1e-3)
    assert AirTime(bit_rate_kbps=424).bit_seconds == pytest.approx(2.36e-6, rel=1e-3)
    assert AirTime(bit_rate_kbps=848).bit_seconds == pytest.approx(1.18e-6, rel=1e-3)


def test_one_frame_costs_its_bytes_framing_and_start_and_end():
    air = AirTime(bit_rate_kbps=106)
    # 10 bytes + PCB + CRC = 13 bytes of 10 bits, plus 22 bits of SOF/EOF.
    assert air.transfer_seconds(10) == pytest.approx((13 * 10 + 22) * air.bit_seconds)


def test_chaining_adds_a_block_header_and_an_acknowledgement_per_frame():
    air = AirTime(bit_rate_kbps=106, frame_size=256)
    one = air.transfer_seconds(253)  # fills one frame exactly
    two = air.transfer_seconds(254)
    extra_bits = 3 * 10 + 22 + (3 * 10 + 22)  # the second block's header, the ACK
    assert two - one == pytest.approx(
        (1 * 10 + extra_bits) * air.bit_seconds + 2 * air.turnaround_s
    )
    smaller_frames = AirTime(bit_rate_kbps=106, frame_size=64)
    assert smaller_frames.transfer_seconds(1000) > air.transfer_seconds(1000)


def test_the_chip_takes_longer_for_public_key_commands():
    air = AirTime()
    read = air.seconds(5, 2, 0xB0)
    assert air.seconds(5, 2, 0x82) - read == pytest.approx(air.auth_latency_s - air.latency_s)
    assert air.seconds(5, 2, 0x86) - read == pytest.approx(air.public_key_latency_s - air.latency_s)
    assert air.seconds(5, 2, 0x88) == air.seconds(5, 2, 0x86)


def test_a_20_kb_dg2_takes_seconds_at_106_and_under_one_at_848():
    slow = dg2_read_seconds(AirTime(bit_rate_kbps=106))
    fast = dg2_read_seconds(AirTime(bit_rate_kbps=848))
    assert 2.0 < slow < 4.0
    assert 0.3 < fast < 1.0
    assert dg2_read_seconds(AirTime(bit_rate_kbps=212)) < slow
    # Extended-length reads of 4 KB save most of the per-command latency.
    air = AirTime(bit_rate_kbps=848)
    extended = 5 * air.seconds(21, 4096 + 40, 0xB0)
    assert extended < fast / 2


def test_zero_spends_nothing():
    air = AirTime.zero()
    assert air.seconds(65535, 65538, 0x86) == 0.0
    assert air.transfer_seconds(1000) == 0.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bit_rate_kbps", 100, "bit rate"),
        ("frame_size", 255, "frame size"),
        ("latency_s", -0.1, "latency_s"),
        ("turnaround_s", float("nan"), "turnaround_s"),
    ],
)
def test_settings_are_checked(field, value, message):
    with pytest.raises(ValueError, match=message):
        AirTime(**{field: value})


def test_lengths_are_not_negative():
    with pytest.raises(ValueError):
        AirTime().seconds(-1, 2, 0xB0)
