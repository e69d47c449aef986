"""Pseudonyms for travellers' document identifiers.

Stop lists, the duplicate-document check and the audit trail must recognise a
document again without keeping its number in clear.  They use a keyed hash
(HMAC-SHA-256) of issuing state and document number under a secret salt: the
same document gives the same key under the same salt, and without the salt a
key cannot be tested against guessed numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

MIN_SALT_BYTES = 16
SALT_ENVIRONMENT_VARIABLE = "EGATE_SALT"


class SaltError(ValueError):
    """The configured salt is missing, unreadable or too short."""


class Pseudonymizer:
    """Turns document identifiers into salted keys."""

    __slots__ = ("_salt",)

    def __init__(self, salt: bytes) -> None:
        if len(salt) < MIN_SALT_BYTES:
            raise SaltError(
                f"the salt must have at least {MIN_SALT_BYTES} bytes, it has {len(salt)}"
            )
        self._salt = salt

    def __repr__(self) -> str:
        return "Pseudonymizer(<salt hidden>)"

    @classmethod
    def ephemeral(cls) -> Pseudonymizer:
        """A pseudonymizer with a fresh random salt: keys link only within this process."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_hex(cls, text: str, source: str) -> Pseudonymizer:
        """A pseudonymizer whose salt is written in hexadecimal; ``source`` names it in errors."""
        try:
            return cls(bytes.fromhex(text.strip()))
        except ValueError as error:
            raise SaltError(f"{source}: {error}") from None

    @classmethod
    def configured(cls, salt_file: Path | None) -> Pseudonymizer:
        """The salt from ``salt_file`` (hexadecimal), else ``$EGATE_SALT``, else a random one."""
        if salt_file is not None:
            try:
                text = salt_file.read_text(encoding="ascii")
            except OSError as error:
                raise SaltError(
                    f"{salt_file}: cannot read the salt: {error.strerror or error}"
                ) from None
            except UnicodeDecodeError:
                # The decoder's message would show a byte of the secret.
                raise SaltError(f"{salt_file}: the salt is not hexadecimal text") from None
            return cls.from_hex(text, str(salt_file))
        variable = os.environ.get(SALT_ENVIRONMENT_VARIABLE)
        if variable:
            return cls.from_hex(variable, f"${SALT_ENVIRONMENT_VARIABLE}")
        return cls.ephemeral()

    def document_key(self, issuing_state: str, document_number: str) -> str:
        """The pseudonym of a document: hex of HMAC-SHA-256 over state and number."""
        message = f"{issuing_state.strip('<').upper()}\x1f{document_number.strip('<').upper()}"
        return hmac.new(self._salt, message.encode("ascii", "replace"), hashlib.sha256).hexdigest()
