"""One entry point for the inspection: a file's name and bytes in, its content out.

``read_lds_file("DG1", raw)`` gives a ``Dg1``, ``"EF.CardAccess"`` and
``"DG14"`` give ``SecurityInfos``, and so on; a file this package does not
read (DG3, DG7, EF.SOD, ...) comes back as a ``RawFile`` once its outer tag
and length are checked.  Whatever the bytes, only ``LdsError`` is raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from egate.documents.lds.com import Com, parse_com
from egate.documents.lds.dg1 import Dg1, parse_dg1
from egate.documents.lds.dg2 import Dg2, parse_dg2
from egate.documents.lds.dg11 import PersonalDetails, parse_dg11
from egate.documents.lds.dg12 import DocumentDetails, parse_dg12
from egate.documents.lds.dg15 import Dg15, parse_dg15
from egate.documents.lds.files import lds_file
from egate.documents.lds.securityinfos import SecurityInfos, parse_dg14, parse_security_infos
from egate.documents.lds.tlv import read_file_tlv


@dataclass(frozen=True, slots=True)
class RawFile:
    """A file whose content this package does not read: its name, outer tag and bytes."""

    name: str
    tag: int
    data: bytes = field(repr=False)


LdsContent = Com | Dg1 | Dg2 | PersonalDetails | DocumentDetails | Dg15 | SecurityInfos | RawFile

PARSERS: dict[str, Callable[[bytes], LdsContent]] = {
    "EF.COM": parse_com,
    "DG1": parse_dg1,
    "DG2": parse_dg2,
    "DG11": parse_dg11,
    "DG12": parse_dg12,
    "DG14": parse_dg14,
    "DG15": parse_dg15,
    "EF.CardAccess": parse_security_infos,
}


def read_lds_file(name: str, raw: bytes) -> LdsContent:
    """The content of LDS file ``name`` ("DG1", "EF.COM", ...); ``KeyError`` for no such file."""
    file = lds_file(name)
    parser = PARSERS.get(file.name)
    if parser is not None:
        return parser(raw)
    read_file_tlv(raw, file.name, file.tag)  # the outer tag, and a length that fits the bytes
    return RawFile(file.name, file.tag, bytes(raw))
