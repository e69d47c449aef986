"""A virtual chip on disk (CHIPDIR): its LDS files as raw bytes, and chip.yaml with keys, settings.

A chip folder holds one file per LDS file, named as Doc 9303 names it
(``EF.COM``, ``DG1``, ``DG2``, ``DG11``, ``DG12``, ``DG14``, ``DG15``,
``EF.SOD``, ``EF.CardAccess``, ...), each the bytes exactly as a chip stores
them, so other tools read them too (``openssl cms -in EF.SOD -inform DER``).
``chip.yaml`` says how the chip behaves::

    # egate virtual chip.  The keys below are TEST keys.
    bac: true
    pace: true            # default: PACE when the folder has EF.CardAccess
    can: "123456"         # PACE's card access number (optional)
    mrz_information: ...  # the BAC/PACE key, when it differs from DG1's MRZ
    aa_key: |             # active authentication's private key (RSA or EC), PEM
      -----BEGIN PRIVATE KEY-----
      ...
    aa_hash: SHA-256      # the hash of ECDSA active authentication (DG14's)
    ca_key: |             # chip authentication's private key (EC), PEM
      ...
    ca_key_id: 1          # the key id DG14 gives it, if any
    plain_access: false
    read_buffer: 65280
    air_time: {bit_rate_kbps: 106, latency_s: 0.005}
    faults: {mute_after: 12, corrupt: {DG2: 100}}

``load_chip_folder`` reads and checks a folder (``ChipFolderError``, one line
naming the file and the field); ``save_chip_folder`` writes one whole or not
at all: into a temporary folder beside it, renamed into place, so a reader
never finds half a chip.  ``ChipFolder.chip()`` makes the ``VirtualChip``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from egate.config import ConfigError, load_config
from egate.documents.lds.dg1 import parse_dg1
from egate.documents.lds.errors import LdsError
from egate.documents.mrz import MrzFormatError, parse_mrz
from hardware.chip import mrz_information as mrz_information_of
from hardware.emrtd.activeauth import ActiveAuthenticator, hash_name
from hardware.emrtd.chipauth import ChipAuthenticator
from hardware.emulators.emrtd.airtime import FRAME_SIZES, AirTime
from hardware.emulators.emrtd.card import FILE_NAMES, ChipSettings, VirtualChip

CHIP_YAML = "chip.yaml"
# Larger than any LDS file (READ BINARY reaches 16 MB offsets, chips hold far less).
MAX_FILE_BYTES = 4 * 1024 * 1024
_HEADER = "# egate virtual chip.  The keys below are TEST keys, never a real document's.\n"
# The MRZ information's characters; parse_mrz needs a day only for two-digit years.
_MRZ_CHARACTERS = re.compile(r"^[0-9A-Z<]+$")
_ANY_DAY = date(2000, 1, 1)

Random = Callable[[int], bytes]


class ChipFolderError(ValueError):
    """A chip folder that cannot be used or written; the message is one line."""


class AirTimeConfig(BaseModel):
    """``air_time`` of chip.yaml: the ISO/IEC 14443 model (``AirTime``) of the chip."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bit_rate_kbps: Literal[106, 212, 424, 848] = Field(
        default=106, description="The ISO/IEC 14443 bit rate."
    )
    frame_size: int = Field(default=256, description="FSC/FSD: the largest frame, in bytes.")
    turnaround_s: float = Field(default=100e-6, ge=0, le=1, allow_inf_nan=False)
    latency_s: float = Field(default=0.005, ge=0, le=10, allow_inf_nan=False)
    auth_latency_s: float = Field(default=0.02, ge=0, le=10, allow_inf_nan=False)
    public_key_latency_s: float = Field(default=0.15, ge=0, le=10, allow_inf_nan=False)
    instant: bool = Field(default=False, description="No air time at all (tests, benchmarks).")

    @field_validator("frame_size")
    @classmethod
    def _frame_size(cls, value: int) -> int:
        if value not in FRAME_SIZES:
            raise ValueError(f"one of {', '.join(str(size) for size in FRAME_SIZES)}")
        return value

    def air_time(self) -> AirTime:
        """The model these settings describe."""
        if self.instant:
            return AirTime.zero()
        return AirTime(
            bit_rate_kbps=self.bit_rate_kbps,
            frame_size=self.frame_size,
            turnaround_s=self.turnaround_s,
            latency_s=self.latency_s,
            auth_latency_s=self.auth_latency_s,
            public_key_latency_s=self.public_key_latency_s,
        )


def _lds_name(name: str) -> str:
    if name not in FILE_NAMES:
        raise ValueError(f"{name!r} is not an LDS file name")
    return name


class FaultsConfig(BaseModel):
    """``faults`` of chip.yaml: what the chip does wrong on purpose."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mute_after: int | None = Field(
        default=None, ge=0, description="Fall silent after this many APDUs (a card taken away)."
    )
    corrupt: dict[Annotated[str, Field(min_length=1)], Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Files served with the byte at this offset flipped."
    )

    @field_validator("corrupt")
    @classmethod
    def _corrupt(cls, value: dict[str, int]) -> dict[str, int]:
        for name in value:
            _lds_name(name)
        return value


class ChipConfig(BaseModel):
    """chip.yaml: the chip's access control, keys, air time and faults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bac: bool = Field(default=True, description="Basic Access Control.")
    pace: bool | None = Field(
        default=None, description="PACE; default: when the folder has EF.CardAccess."
    )
    can: str | None = Field(
        default=None, pattern=r"^[0-9]{6}$", description="The card access number (6 digits)."
    )
    mrz_information: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The BAC/PACE key when it is not DG1's (document number, dates, checks).",
    )
    aa_key: str | None = Field(default=None, description="Active authentication's key, PEM.")
    aa_hash: str | None = Field(default=None, description="ECDSA active authentication's hash.")
    ca_key: str | None = Field(default=None, description="Chip authentication's EC key, PEM.")
    ca_key_id: int | None = Field(default=None, ge=0, description="DG14's key id for ca_key.")
    plain_access: bool = Field(
        default=False, description="Answer SELECT and READ BINARY without access control."
    )
    read_buffer: int = Field(
        default=0xFF00, ge=1, le=0xFF00, description="The most bytes one READ BINARY answers."
    )
    air_time: AirTimeConfig = Field(default_factory=AirTimeConfig)
    faults: FaultsConfig = Field(default_factory=FaultsConfig)

    @field_validator("mrz_information")
    @classmethod
    def _mrz_information(cls, value: str | None) -> str | None:
        if value is not None and not _MRZ_CHARACTERS.match(value):
            raise ValueError("MRZ characters only: A-Z, 0-9 and <")
        return value

    @field_validator("aa_hash")
    @classmethod
    def _aa_hash(cls, value: str | None) -> str | None:
        return None if value is None else hash_name(value)


@dataclass(frozen=True, slots=True)
class ChipFolder:
    """A chip's files and its chip.yaml.  Personal data: the repr shows names and sizes."""

    files: Mapping[str, bytes]
    config: ChipConfig

    def __post_init__(self) -> None:
        unknown = sorted(set(self.files) - set(FILE_NAMES))
        if unknown:
            raise ChipFolderError(f"not LDS file names: {', '.join(unknown)}")
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(data)}B" for name, data in sorted(self.files.items()))
        return f"ChipFolder({sizes})"

    @property
    def pace(self) -> bool:
        """Whether the chip runs PACE (chip.yaml's ``pace``, else: it has EF.CardAccess)."""
        if self.config.pace is not None:
            return self.config.pace
        return "EF.CardAccess" in self.files

    def mrz_information(self, where: str = "chip folder") -> str:
        """The chip's BAC/PACE key: chip.yaml's, else built from DG1's MRZ."""
        if self.config.mrz_information is not None:
            return self.config.mrz_information
        dg1 = self.files.get("DG1")
        if dg1 is None:
            raise ChipFolderError(f"{where}: no DG1, so chip.yaml needs mrz_information")
        try:
            lines = parse_dg1(dg1).lines
            return mrz_information_of(parse_mrz(lines, _ANY_DAY, repair=False))
        except (LdsError, MrzFormatError) as error:
            raise ChipFolderError(f"{where}: DG1: {error}") from None

    def chip(self, *, random: Random = os.urandom, where: str = "chip folder") -> VirtualChip:
        """The virtual chip these files and settings make (ChipFolderError if they do not)."""
        config = self.config
        try:
            settings = ChipSettings(
                bac=config.bac,
                pace=self.pace,
                plain_access=config.plain_access,
                read_buffer=config.read_buffer,
                mute_after=config.faults.mute_after,
                corrupt=MappingProxyType(dict(config.faults.corrupt)),
            )
            active = None
            if config.aa_key is not None:
                aa_key = _private_key(config.aa_key, where, "aa_key")
                if not isinstance(aa_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                    raise ChipFolderError(f"{where}: aa_key: an RSA or EC key is needed")
                active = ActiveAuthenticator(aa_key, config.aa_hash, random=random)
            chip_auth = None
            if config.ca_key is not None:
                ca_key = _private_key(config.ca_key, where, "ca_key")
                if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
                    raise ChipFolderError(f"{where}: ca_key: an EC key is needed")
                chip_auth = ChipAuthenticator(ca_key, key_id=config.ca_key_id)
            return VirtualChip(
                self.files,
                mrz_information=self.mrz_information(where),
                can=config.can,
                settings=settings,
                active_authenticator=active,
                chip_authenticator=chip_auth,
                air_time=config.air_time.air_time(),
                random=random,
            )
        except ValueError as error:
            if isinstance(error, ChipFolderError):
                raise
            raise ChipFolderError(f"{where}: {error}") from None


def _private_key(pem: str, where: str, field: str) -> object:
    try:
        return serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        # The key's text stays out of the message.
        raise ChipFolderError(f"{where}: {field}: not an unencrypted PEM private key") from None


# -- reading ------------------------------------------------------------------------


def load_chip_folder(path: Path) -> ChipFolder:
    """Read the chip folder at ``path`` (ChipFolderError, one line naming file and field)."""
    if not path.is_dir():
        raise ChipFolderError(f"{path}: not a chip folder (no such directory)")
    settings = path / CHIP_YAML
    if not settings.is_file():
        raise ChipFolderError(f"{settings}: missing: a chip folder has a {CHIP_YAML}")
    try:
        config = load_config(settings, ChipConfig)
    except ConfigError as error:
        raise ChipFolderError(str(error)) from None
    files = {name: _read_file(path / name) for name in FILE_NAMES if (path / name).exists()}
    folder = ChipFolder(files, config)
    if folder.pace and "EF.CardAccess" not in files:
        raise ChipFolderError(f"{settings}: pace: PACE needs {path / 'EF.CardAccess'}")
    for name, offset in config.faults.corrupt.items():
        if name not in files:
            raise ChipFolderError(f"{settings}: faults.corrupt: the folder has no {name}")
        if offset >= len(files[name]):
            raise ChipFolderError(
                f"{settings}: faults.corrupt.{name}: offset {offset} is beyond its "
                f"{len(files[name])} bytes"
            )
    return folder


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        raise ChipFolderError(f"{path}: not a regular file")
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ChipFolderError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ChipFolderError(f"{path}: more than {MAX_FILE_BYTES} bytes, too big for a chip")
    return data


def open_virtual_chip(path: Path, *, random: Random = os.urandom) -> VirtualChip:
    """The virtual chip of the folder at ``path`` (ChipFolderError if it cannot be used)."""
    return load_chip_folder(path).chip(random=random, where=str(path / CHIP_YAML))


# -- writing ------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the PEM keys) as literal blocks."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def chip_yaml(config: ChipConfig) -> str:
    """chip.yaml's text for ``config`` (settings left at None are not written)."""
    data: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    faults = data.get("faults", {})
    data["faults"] = {key: value for key, value in faults.items() if value not in ({}, None)}
    if not data["faults"]:
        del data["faults"]
    return _HEADER + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=False)


def save_chip_folder(path: Path, folder: ChipFolder) -> None:
    """Write ``folder`` to ``path`` whole or not at all, replacing an earlier chip folder.

    The files go into a temporary folder beside ``path``, are flushed to disk,
    and the folder is renamed into place; an existing chip folder at ``path``
    is set aside first and removed after.  ``path`` must be absent, empty or
    a chip folder (with chip.yaml): anything else is left alone.  chip.yaml,
    which holds private keys, is readable by its owner only.
    """
    if path.exists() and not _replaceable(path):
        raise ChipFolderError(f"{path}: exists and is not a chip folder: not replaced")
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    staging = parent / f".{path.name}.{token}.new"
    aside = parent / f".{path.name}.{token}.old"
    try:
        staging.mkdir(mode=0o700)
        for name, data in folder.files.items():
            _write(staging / name, data, 0o644)
        _write(staging / CHIP_YAML, chip_yaml(folder.config).encode("ascii"), 0o600)
        staging.chmod(0o755)
        _sync_directory(staging)
        if path.exists():
            os.rename(path, aside)
        os.rename(staging, path)
        _sync_directory(parent)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if aside.exists() and not path.exists():
            os.rename(aside, path)  # put the old chip back
        raise ChipFolderError(f"{path}: cannot write: {error.strerror or error}") from None
    shutil.rmtree(aside, ignore_errors=True)


def _replaceable(path: Path) -> bool:
    if not path.is_dir() or path.is_symlink():
        return False
    return (path / CHIP_YAML).is_file() or not any(path.iterdir())


def _write(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
