"""The files of an eMRTD chip (Doc 9303 part 10 §3 and §4): names, file ids, short ids, tags.

``EF.CardAccess`` and ``EF.CardSecurity`` sit in the master file, read
before the eMRTD application is selected; the others are in the application
(AID ``A0000002471001``).  ``EF.SOD`` and ``EF.CardSecurity`` share the
file id 011D, one in each.
"""

from __future__ import annotations

from dataclasses import dataclass

# The eMRTD application's identifier (Doc 9303 part 10 §3.11.2).
EMRTD_AID = bytes.fromhex("A0000002471001")

# Data group number -> the tag its file starts with (Doc 9303 part 10 table 34).
DATA_GROUP_TAGS = {
    1: 0x61,
    2: 0x75,
    3: 0x63,
    4: 0x76,
    5: 0x65,
    6: 0x66,
    7: 0x67,
    8: 0x68,
    9: 0x69,
    10: 0x6A,
    11: 0x6B,
    12: 0x6C,
    13: 0x6D,
    14: 0x6E,
    15: 0x6F,
    16: 0x70,
}


@dataclass(frozen=True, slots=True)
class LdsFile:
    """One elementary file: how it is named, selected and recognised."""

    name: str
    fid: int
    sfi: int
    tag: int
    data_group: int | None = None
    master_file: bool = False

    @property
    def fid_bytes(self) -> bytes:
        """The file id as SELECT takes it (two bytes)."""
        return self.fid.to_bytes(2, "big")


def _data_group_file(number: int) -> LdsFile:
    return LdsFile(f"DG{number}", 0x0100 + number, number, DATA_GROUP_TAGS[number], number)


FILES: tuple[LdsFile, ...] = (
    LdsFile("EF.COM", 0x011E, 0x1E, 0x60),
    *(_data_group_file(number) for number in sorted(DATA_GROUP_TAGS)),
    LdsFile("EF.SOD", 0x011D, 0x1D, 0x77),
    # SecurityInfos is a SET; CardSecurity a CMS ContentInfo (a SEQUENCE).
    LdsFile("EF.CardAccess", 0x011C, 0x1C, 0x31, master_file=True),
    LdsFile("EF.CardSecurity", 0x011D, 0x1D, 0x30, master_file=True),
)

_BY_NAME = {file.name: file for file in FILES}


def lds_file(name: str) -> LdsFile:
    """The file called ``name`` ("EF.COM", "DG1".."DG16", "EF.SOD", "EF.CardAccess", ...)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no LDS file is called {name!r}") from None


def data_group(number: int) -> LdsFile:
    """Data group ``number`` (1 to 16)."""
    if number not in DATA_GROUP_TAGS:
        raise KeyError(f"no data group {number}")
    return _BY_NAME[f"DG{number}"]


def file_by_fid(fid: int, master_file: bool = False) -> LdsFile | None:
    """The file with this file id, in the application or (``master_file``) the MF."""
    return next((f for f in FILES if f.fid == fid and f.master_file == master_file), None)


def file_by_sfi(sfi: int, master_file: bool = False) -> LdsFile | None:
    """The file with this short EF identifier, in the application or the MF."""
    return next((f for f in FILES if f.sfi == sfi and f.master_file == master_file), None)


def file_by_tag(tag: int) -> LdsFile | None:
    """The application file that starts with ``tag`` (EF.COM, a data group, EF.SOD)."""
    return next((f for f in FILES if f.tag == tag and not f.master_file), None)
