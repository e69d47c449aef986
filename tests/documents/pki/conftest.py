"""Test PKIs shared by the PKI tests: made once per session (RSA keys take a moment)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from egate.documents.pki.testpki import TestPki, generate_test_pki

# The moment the test PKIs are issued; checks happen shortly after.
ISSUED = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)


def _counter_random():
    """Deterministic serial numbers: 16 bytes counting up."""
    state = {"n": 0}

    def random(size: int) -> bytes:
        state["n"] += 1
        return state["n"].to_bytes(size, "big")

    return random


@pytest.fixture(scope="session")
def brainpool_pki() -> TestPki:
    return generate_test_pki(now=ISSUED, key_type="brainpoolP256r1", random=_counter_random())


@pytest.fixture(scope="session")
def rsa_pki() -> TestPki:
    return generate_test_pki(now=ISSUED, key_type="rsa2048", random=_counter_random())


@pytest.fixture(scope="session")
def other_pki() -> TestPki:
    """Another Utopia with the same names but other keys: a forger's PKI."""
    return generate_test_pki(now=ISSUED, key_type="brainpoolP256r1")
