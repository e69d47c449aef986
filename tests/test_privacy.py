"""Pseudonyms of documents: salted keys, where the salt comes from, what is never shown."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from egate.privacy import MIN_SALT_BYTES, Pseudonymizer, SaltError

SALT_HEX = "00112233445566778899aabbccddeeff0123456789abcdef"
SALT = bytes.fromhex(SALT_HEX)


@pytest.fixture(autouse=True)
def no_salt_in_the_environment(monkeypatch):
    monkeypatch.delenv("EGATE_SALT", raising=False)


def key_of(pseudonymizer: Pseudonymizer) -> str:
    return pseudonymizer.document_key("UTO", "L898902C3")


class TestSalt:
    @pytest.mark.parametrize("size", [0, 1, 8, MIN_SALT_BYTES - 1])
    def test_short_salts_are_refused(self, size):
        with pytest.raises(SaltError) as caught:
            Pseudonymizer(b"s" * size)
        assert str(caught.value) == f"the salt must have at least 16 bytes, it has {size}"

    def test_sixteen_bytes_are_enough(self):
        assert MIN_SALT_BYTES == 16
        assert len(key_of(Pseudonymizer(b"s" * 16))) == 64

    def test_repr_hides_the_salt(self):
        pseudonymizer = Pseudonymizer(SALT)
        shown = repr(pseudonymizer) + str(pseudonymizer)
        assert shown == "Pseudonymizer(<salt hidden>)" * 2
        assert not hasattr(pseudonymizer, "__dict__")


class TestKeys:
    def test_the_key_is_hmac_sha256_of_state_and_number(self):
        expected = hmac.new(SALT, b"UTO\x1fL898902C3", hashlib.sha256).hexdigest()
        assert key_of(Pseudonymizer(SALT)) == expected

    def test_same_salt_same_key(self):
        assert key_of(Pseudonymizer(SALT)) == key_of(Pseudonymizer(bytes(SALT)))

    def test_another_salt_another_key(self):
        assert key_of(Pseudonymizer(SALT)) != key_of(Pseudonymizer(SALT[:-1] + b"\x00"))

    def test_state_and_number_both_count(self):
        pseudonymizer = Pseudonymizer(SALT)
        keys = {
            pseudonymizer.document_key("UTO", "L898902C3"),
            pseudonymizer.document_key("D", "L898902C3"),
            pseudonymizer.document_key("UTO", "L898902C4"),
            # The separator keeps state and number apart.
            pseudonymizer.document_key("UT", "OL898902C3"),
        }
        assert len(keys) == 4

    def test_case_and_fillers_do_not_count(self):
        pseudonymizer = Pseudonymizer(SALT)
        assert pseudonymizer.document_key("d<<", "c01x00t47<") == pseudonymizer.document_key(
            "D", "C01X00T47"
        )

    def test_the_key_does_not_show_the_number(self):
        key = key_of(Pseudonymizer(SALT))
        assert "L898902C3" not in key.upper()
        assert set(key) <= set("0123456789abcdef")


class TestConfigured:
    def test_a_salt_file(self, tmp_path: Path):
        salt_file = tmp_path / "salt.hex"
        salt_file.write_text(SALT_HEX + "\n", encoding="ascii")
        assert key_of(Pseudonymizer.configured(salt_file)) == key_of(Pseudonymizer(SALT))

    def test_the_file_wins_over_the_environment(self, tmp_path: Path, monkeypatch):
        salt_file = tmp_path / "salt.hex"
        salt_file.write_text(SALT_HEX, encoding="ascii")
        monkeypatch.setenv("EGATE_SALT", "ff" * 32)
        assert key_of(Pseudonymizer.configured(salt_file)) == key_of(Pseudonymizer(SALT))

    def test_the_environment(self, monkeypatch):
        monkeypatch.setenv("EGATE_SALT", f"  {SALT_HEX.upper()}  ")
        assert key_of(Pseudonymizer.configured(None)) == key_of(Pseudonymizer(SALT))

    def test_otherwise_a_random_salt(self):
        first, second = Pseudonymizer.configured(None), Pseudonymizer.configured(None)
        assert key_of(first) == key_of(first)
        assert key_of(first) != key_of(second)
        assert key_of(first) != key_of(Pseudonymizer(SALT))

    def test_an_empty_variable_counts_as_unset(self, monkeypatch):
        monkeypatch.setenv("EGATE_SALT", "")
        assert key_of(Pseudonymizer.configured(None)) != key_of(Pseudonymizer.configured(None))

    def test_bad_hex_in_the_file_names_the_file(self, tmp_path: Path):
        salt_file = tmp_path / "salt.hex"
        salt_file.write_text("0011223344556677889900aabbccddXX", encoding="ascii")
        with pytest.raises(SaltError) as caught:
            Pseudonymizer.configured(salt_file)
        message = str(caught.value)
        assert message.startswith(f"{salt_file}: ")
        assert "non-hexadecimal" in message
        assert "0011223344" not in message

    def test_bad_hex_in_the_environment_names_the_variable(self, monkeypatch):
        monkeypatch.setenv("EGATE_SALT", "not hex at all, not at all")
        with pytest.raises(SaltError) as caught:
            Pseudonymizer.configured(None)
        assert str(caught.value).startswith("$EGATE_SALT: ")
        assert "not hex" not in str(caught.value)

    def test_a_short_salt_in_the_environment_names_the_variable(self, monkeypatch):
        monkeypatch.setenv("EGATE_SALT", "00112233")
        with pytest.raises(SaltError) as caught:
            Pseudonymizer.configured(None)
        assert str(caught.value) == "$EGATE_SALT: the salt must have at least 16 bytes, it has 4"

    def test_a_short_salt_in_a_file_names_the_file(self, tmp_path: Path):
        salt_file = tmp_path / "salt.hex"
        salt_file.write_text("abcd\n", encoding="ascii")
        with pytest.raises(SaltError) as caught:
            Pseudonymizer.configured(salt_file)
        assert str(caught.value) == f"{salt_file}: the salt must have at least 16 bytes, it has 2"

    def test_a_missing_salt_file(self, tmp_path: Path):
        salt_file = tmp_path / "missing.hex"
        with pytest.raises(SaltError) as caught:
            Pseudonymizer.configured(salt_file)
        assert str(caught.value) == f"{salt_file}: cannot read the salt: No such file or directory"

    def test_a_salt_file_that_is_not_text(self, tmp_path: Path):
        salt_file = tmp_path / "salt.bin"
        salt_file.write_bytes(bytes(range(200, 232)))
        with pytest.raises(SaltError) as caught:
            Pseudonymizer.configured(salt_file)
        assert str(caught.value) == f"{salt_file}: the salt is not hexadecimal text"

    def test_from_hex_names_its_source(self):
        with pytest.raises(SaltError, match=r"^vault entry 7: "):
            Pseudonymizer.from_hex("zz", "vault entry 7")
        assert key_of(Pseudonymizer.from_hex(SALT_HEX, "x")) == key_of(Pseudonymizer(SALT))

    def test_ephemeral_salts_differ(self):
        assert key_of(Pseudonymizer.ephemeral()) != key_of(Pseudonymizer.ephemeral())
