"""The typed errors of the document PKI: every bad byte, file or key comes out as one of these.

Each message is one line and starts with what was being read, a file name
(``EF.SOD``, ``csca.pem``, ``ICAO_ml.ml``) and, when known, the byte offset:
``EF.SOD: byte 17: length runs past the end of the data``.

EF.SOD is a chip file like the others: its error is an
:class:`~egate.documents.lds.errors.LdsError` (always with an offset: that of
the fault, or of the smallest structure known to hold it).  Trust store,
master list and test PKI files raise :class:`PkiError`.
"""

from __future__ import annotations

from egate.documents.lds.errors import LdsError


class PkiError(ValueError):
    """A certificate, key, CRL, master list or Security Object that cannot be used."""

    def __init__(self, file: str, message: str, offset: int | None = None) -> None:
        where = f"{file}: " if offset is None else f"{file}: byte {offset}: "
        super().__init__(where + " ".join(message.split()))
        self.file = file
        self.offset = offset
        self.reason = message


class SodError(LdsError):
    """EF.SOD is not a well-formed Document Security Object (ICAO Doc 9303 part 10)."""

    def __init__(self, message: str, offset: int, file: str = "EF.SOD") -> None:
        super().__init__(file, offset, " ".join(message.split()))


class TrustStoreError(PkiError):
    """A file of a trust store (CSCA certificate, CRL, master list) cannot be loaded."""


class TestPkiError(PkiError):
    """A test PKI cannot be written or read (existing keys, missing files)."""

    __test__ = False  # not a pytest test class, whatever its name
