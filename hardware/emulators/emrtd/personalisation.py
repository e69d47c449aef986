"""Personalisation: the files and keys of a virtual chip, as a document printer writes a real one.

``personalise`` takes the MRZ, the holder's photo and a document signer and
returns an ``IssuedChip``: the LDS files as stored on a chip (EF.COM, DG1,
DG2, DG14 and DG15 when the chip has the protocols that need them, EF.SOD
signed by the document signer over every data group, EF.CardAccess for
PACE) and the chip's private keys (active authentication, chip
authentication), which never leave a real chip.

The protocols follow what states issue today: PACE with ECDH generic
mapping, AES-128 and brainpoolP256r1 (parameter id 13), listed in
EF.CardAccess and again in DG14 (which passive authentication covers); chip
authentication with ECDH and AES-128 on the same curve; active
authentication with RSA (ISO/IEC 9796-2, SHA-1 as most issued chips) or
ECDSA with SHA-256 named by DG14's ActiveAuthenticationInfo.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PIL import Image, UnidentifiedImageError

from egate.documents.lds.com import encode_com
from egate.documents.lds.dg1 import encode_dg1
from egate.documents.lds.dg2 import ImageType, encode_dg2
from egate.documents.lds.dg15 import encode_dg15
from egate.documents.lds.protocols import (
    STANDARD_DOMAIN_PARAMETER_IDS,
    ca_protocol,
    pace_protocol,
    pk_protocol,
)
from egate.documents.lds.securityinfos import (
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PaceInfo,
    SecurityInfo,
    encode_dg14,
    encode_security_infos,
)
from egate.documents.mrz import parse_mrz
from egate.documents.pki.sod import sign_sod
from egate.documents.pki.testpki import PrivateKey, private_key_pem
from hardware.chip import mrz_information
from hardware.emrtd.activeauth import SHA256, signature_algorithm_for
from hardware.emulators.emrtd.folder import AirTimeConfig, ChipConfig, ChipFolder

AaKeyType = Literal["rsa1024", "rsa2048", "ecdsa"]
AA_KEY_TYPES: tuple[AaKeyType, ...] = ("rsa1024", "rsa2048", "ecdsa")

# The chip's curve (PACE, chip authentication, ECDSA active authentication),
# and its id among Doc 9303's standardized domain parameters (13).
CHIP_CURVE = ec.BrainpoolP256R1
PACE_PARAMETER_ID = STANDARD_DOMAIN_PARAMETER_IDS[CHIP_CURVE.name]
# The hash of active authentication with ECDSA, named by DG14's ActiveAuthenticationInfo.
AA_ECDSA_HASH = SHA256
# A photo bigger than this is no passport photo (ICAO's are 15-20 KB).
MAX_PHOTO_BYTES = 16 << 20
# What a document printer stores: the ISO/IEC 19794-5 full frontal image at
# about 480 x 640 pixels, a JPEG of some 15 to 30 KB.
PRINTED_SIZE = (480, 640)
PRINTED_BYTES = 40_000
PRINTED_QUALITY = 75


class PersonalisationError(ValueError):
    """What was given cannot make a chip: the MRZ, the photo or a key."""


@dataclass(frozen=True, slots=True)
class Photo:
    """The holder's image as DG2 stores it."""

    data: bytes = field(repr=False)
    image_type: ImageType
    width: int
    height: int


@dataclass(frozen=True, repr=False)
class IssuedChip:
    """A personalised chip: its files, its secrets and the keys that open it."""

    files: dict[str, bytes]
    mrz_information: str
    can: str | None = None
    aa_key: PrivateKey | None = None
    ca_key: ec.EllipticCurvePrivateKey | None = None

    @property
    def pace(self) -> bool:
        """Whether the chip offers PACE (it has EF.CardAccess)."""
        return "EF.CardAccess" in self.files

    def folder(self, air_time: AirTimeConfig | None = None) -> ChipFolder:
        """The chip as a chip folder (its files and chip.yaml), for ``save_chip_folder``."""
        config = ChipConfig(
            air_time=air_time if air_time is not None else AirTimeConfig(),
            pace=self.pace,
            can=self.can,
            aa_key=None if self.aa_key is None else _pem(self.aa_key),
            aa_hash=AA_ECDSA_HASH if isinstance(self.aa_key, ec.EllipticCurvePrivateKey) else None,
            ca_key=None if self.ca_key is None else _pem(self.ca_key),
        )
        return ChipFolder(dict(self.files), config)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(raw)}B" for name, raw in self.files.items())
        return f"IssuedChip({sizes}, aa={self.aa_key is not None}, ca={self.ca_key is not None})"


def _pem(key: PrivateKey) -> str:
    return private_key_pem(key).decode("ascii")


def photo_of(data: bytes, source: str = "photo", *, as_printed: bool = False) -> Photo:
    """A photo for DG2: JPEG and JPEG 2000 kept as they are, anything else made a JPEG.

    ``as_printed``: as a document printer does, a photo larger than a
    passport's (over ``PRINTED_SIZE`` pixels or ``PRINTED_BYTES`` bytes) is
    scaled to fit ``PRINTED_SIZE`` and stored as a JPEG of quality
    ``PRINTED_QUALITY``, some 15 to 30 KB, so that reads take as long as a
    real chip's.  PersonalisationError (naming ``source``) when the bytes
    are no image Pillow reads.
    """
    if len(data) > MAX_PHOTO_BYTES:
        raise PersonalisationError(f"{source}: {len(data)} bytes, more than a passport photo")
    try:
        with Image.open(io.BytesIO(data)) as image:
            # The header tells format and size: a JPEG or JPEG 2000 is not decoded.
            kind, width, height = image.format, image.width, image.height
            too_big = (
                len(data) > PRINTED_BYTES or width > PRINTED_SIZE[0] or height > (PRINTED_SIZE[1])
            )
            if not (as_printed and too_big):
                if kind == "JPEG":
                    return Photo(data, ImageType.JPEG, width, height)
                if kind == "JPEG2000":
                    return Photo(data, ImageType.JPEG2000, width, height)
            image.load()
            picture = image.convert("RGB")
            if as_printed:
                picture.thumbnail(PRINTED_SIZE)
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=PRINTED_QUALITY)
            return Photo(out.getvalue(), ImageType.JPEG, picture.width, picture.height)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise PersonalisationError(f"{source}: not an image ({error})") from None


def _aa_key(kind: AaKeyType) -> PrivateKey:
    if kind == "ecdsa":
        return ec.generate_private_key(CHIP_CURVE())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))


def _public_key_info(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def personalise(
    mrz_lines: Sequence[str],
    photo: Photo | None,
    ds_certificate: x509.Certificate,
    ds_key: PrivateKey,
    *,
    signed_at: datetime,
    pace: bool = False,
    active_authentication: AaKeyType | None = None,
    chip_authentication: bool = False,
    can: str | None = None,
    aa_key: PrivateKey | None = None,
    ca_key: ec.EllipticCurvePrivateKey | None = None,
) -> IssuedChip:
    """A chip for the document whose MRZ is ``mrz_lines`` (see the module docstring).

    ``aa_key`` and ``ca_key`` reuse keys instead of generating them (a
    re-issued chip, or a clone with another chip's keys).
    """
    try:
        result = parse_mrz(list(mrz_lines), date(2000, 1, 1), repair=False)
    except ValueError as error:
        raise PersonalisationError(f"MRZ: {error}") from None
    if can is not None and not (len(can) == 6 and can.isascii() and can.isdigit()):
        raise PersonalisationError(f"CAN: {can!r} is not six digits")
    files = {"DG1": encode_dg1(list(result.lines))}
    # A chip without a photo is no valid eMRTD, but drills have damaged ones.
    if photo is not None:
        files["DG2"] = encode_dg2(photo.data, photo.image_type, photo.width, photo.height)
    infos: list[SecurityInfo] = []
    card_access: bytes | None = None
    if pace:
        pace_info = PaceInfo(pace_protocol("ECDH", "GM", "AES-128"), 2, PACE_PARAMETER_ID)
        infos.append(pace_info)
        card_access = encode_security_infos([pace_info])
    if chip_authentication:
        ca_key = ca_key if ca_key is not None else ec.generate_private_key(CHIP_CURVE())
        infos.append(ChipAuthenticationInfo(ca_protocol("ECDH", "AES-128"), 1))
        infos.append(ChipAuthenticationPublicKeyInfo(pk_protocol("ECDH"), _public_key_info(ca_key)))
    else:
        ca_key = None
    if active_authentication is not None:
        aa_key = aa_key if aa_key is not None else _aa_key(active_authentication)
        if isinstance(aa_key, ec.EllipticCurvePrivateKey):
            infos.append(ActiveAuthenticationInfo(signature_algorithm_for(AA_ECDSA_HASH)))
        files["DG15"] = encode_dg15(aa_key.public_key())
    else:
        aa_key = None
    if infos:
        files["DG14"] = encode_dg14(infos)
    groups = {int(name[2:]): raw for name, raw in files.items()}
    files = {
        "EF.COM": encode_com(sorted(groups)),
        **{f"DG{n}": groups[n] for n in sorted(groups)},
        "EF.SOD": sign_sod(groups, ds_certificate, ds_key, signing_time=signed_at),
    }
    if card_access is not None:
        files["EF.CardAccess"] = card_access
    return IssuedChip(files, mrz_information(result), can, aa_key, ca_key)
