"""A test document PKI: a CSCA and a Document Signer to issue and check virtual chips.

What ``egate pki init DIR`` writes: ``csca.pem`` ``csca.key`` ``ds.pem``
``ds.key`` (certificates PEM, keys PEM PKCS#8 unencrypted).  Every subject
says TEST (``O=egate TEST PKI``) so that nobody mistakes these for a real
state's certificates.  The certificates follow the profile of ICAO Doc 9303
part 12: the CSCA is a CA (basicConstraints pathlen 0, keyUsage keyCertSign
and cRLSign), the DS has keyUsage digitalSignature and names its CSCA's key;
both carry a private key usage period, and the DS certificate's validity is
its key usage period plus a document's lifetime, a few years short of the
CSCA's.

The certificates' country (C) is the ISO 3166-1 alpha-2 code: ``UTO``, the
Utopia of ICAO's specimens, which has none, becomes ``UT``.

Keys come from the operating system's randomness (cryptography takes no
other); serial numbers from the ``random`` given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

import pycountry
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from egate.documents.pki._cmssign import SigningKey
from egate.documents.pki.errors import TestPkiError

__all__ = [
    "CSCA_KEY_USAGE_PERIOD",
    "CSCA_VALIDITY",
    "DS_KEY_USAGE_PERIOD",
    "DS_VALIDITY",
    "KEY_TYPES",
    "PKI_FILES",
    "KeyType",
    "PrivateKey",
    "TestPki",
    "certificate_country",
    "generate_key",
    "generate_test_pki",
    "init_test_pki",
    "issue_crl",
    "issue_csca",
    "issue_ds",
    "load_test_pki",
    "private_key_pem",
]

KeyType = Literal[
    "brainpoolP256r1",
    "brainpoolP384r1",
    "brainpoolP512r1",
    "secp256r1",
    "secp384r1",
    "secp521r1",
    "rsa2048",
    "rsa3072",
    "rsa4096",
]
KEY_TYPES: tuple[str, ...] = get_args(KeyType)

# The keys of a CSCA and a DS: those CMS SignedData is signed with.
PrivateKey = SigningKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}

# Doc 9303 part 12, table 1: a CSCA key signs for 3 to 5 years, a DS key for up
# to 3 months; each certificate outlives its key by the longest lifetime of
# what the key signed (a DS's documents: 10 years; a CSCA's DS certificates).
DS_KEY_USAGE_PERIOD = timedelta(days=91)
DS_VALIDITY = DS_KEY_USAGE_PERIOD + timedelta(days=3653)
CSCA_KEY_USAGE_PERIOD = timedelta(days=1826)
CSCA_VALIDITY = CSCA_KEY_USAGE_PERIOD + DS_VALIDITY

PKI_FILES = ("csca.pem", "csca.key", "ds.pem", "ds.key")
_ORGANISATION = "egate TEST PKI"
# ICAO's id-icao-mrtd-security-extensions-documentTypeList (Doc 9303 part 12).
_DOCUMENT_TYPE_LIST = x509.ObjectIdentifier("2.23.136.1.1.6.2")
# MRZ codes that are not ISO 3166-1 alpha-3, with the alpha-2 a certificate uses.
_ALPHA2 = {"D": "DE", "UTO": "UT", "RKS": "XK", "EUE": "EU"}


@dataclass(frozen=True)
class TestPki:
    """A CSCA and one Document Signer, certificates and private keys."""

    __test__ = False  # not a pytest test class, whatever its name

    csca_certificate: x509.Certificate
    csca_key: PrivateKey = field(repr=False)
    ds_certificate: x509.Certificate
    ds_key: PrivateKey = field(repr=False)


def certificate_country(country: str) -> str:
    """The ISO 3166-1 alpha-2 code a certificate carries for an MRZ state code or alpha-2 code."""
    code = country.strip().upper()
    if code in _ALPHA2:
        return _ALPHA2[code]
    if len(code) == 2 and code.isalpha():
        return code
    found = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
    if found is None:
        raise ValueError(
            f"country {country!r} is neither an ISO 3166-1 code nor an ICAO state code"
        )
    return str(found.alpha_2)


def generate_key(key_type: KeyType) -> PrivateKey:
    """A fresh private key of ``key_type`` (an EC curve name or rsa2048/3072/4096)."""
    if key_type in _CURVES:
        return ec.generate_private_key(_CURVES[key_type]())
    if key_type in ("rsa2048", "rsa3072", "rsa4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    raise ValueError(f"key type {key_type!r} is not one of {', '.join(KEY_TYPES)}")


def _signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512:
    """The hash that goes with a key's strength (Doc 9303 part 12 / BSI TR-03116-2)."""
    size = key.curve.key_size if isinstance(key, ec.EllipticCurvePrivateKey) else 256
    if size > 384:
        return hashes.SHA512()
    if size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _serial(random: Callable[[int], bytes]) -> int:
    # Positive, at most 20 octets, never zero (RFC 5280 4.1.2.2).
    return (int.from_bytes(random(16), "big") >> 1) | 1


def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, certificate_country(country)),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public: PublicKey,
    now: datetime,
    validity: timedelta,
    random: Callable[[int], bytes],
) -> x509.CertificateBuilder:
    """A certificate's subject, issuer, key, serial number and validity from ``now``."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(_serial(random))
        .not_valid_before(now)
        .not_valid_after(now + validity)
    )


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    """A keyUsage of the uses given, none other (a CSCA signs certificates and CRLs, a DS data)."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_usage_period(
    now: datetime, period: timedelta, validity: timedelta
) -> x509.PrivateKeyUsagePeriod:
    """The key signs from ``now`` for ``period``, never past the certificate's ``validity``."""
    return x509.PrivateKeyUsagePeriod(not_before=now, not_after=now + min(period, validity))


def _document_type_list(types: Iterable[str]) -> x509.UnrecognizedExtension:
    # DocumentTypeListSyntax ::= SEQUENCE { version INTEGER (v0),
    #                                      docTypeList SET OF PrintableString }
    entries = sorted(bytes([0x13, len(t)]) + t.encode("ascii") for t in types)
    body = b"\x02\x01\x00" + bytes([0x31, sum(map(len, entries))]) + b"".join(entries)
    return x509.UnrecognizedExtension(_DOCUMENT_TYPE_LIST, bytes([0x30, len(body)]) + body)


def issue_csca(
    *,
    country: str = "UTO",
    now: datetime,
    key_type: KeyType = "brainpoolP256r1",
    validity: timedelta = CSCA_VALIDITY,
    random: Callable[[int], bytes] = os.urandom,
) -> tuple[x509.Certificate, PrivateKey]:
    """A self-signed test CSCA certificate, valid from ``now``, and its key."""
    key = generate_key(key_type)
    name = _name(country, f"egate TEST CSCA {country.strip().upper()}")
    public = key.public_key()
    certificate = (
        _certificate(name, name, public, now, validity, random)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .add_extension(_key_usage_period(now, CSCA_KEY_USAGE_PERIOD, validity), critical=False)
        .sign(key, _signature_hash(key))
    )
    return certificate, key


def issue_ds(
    csca_certificate: x509.Certificate,
    csca_key: PrivateKey,
    *,
    now: datetime,
    key_type: KeyType = "brainpoolP256r1",
    validity: timedelta = DS_VALIDITY,
    name: str = "egate TEST Document Signer",
    random: Callable[[int], bytes] = os.urandom,
) -> tuple[x509.Certificate, PrivateKey]:
    """A Document Signer certificate issued by the test CSCA, valid from ``now``, and its key."""
    key = generate_key(key_type)
    country = csca_certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    subject = _name(str(country[0].value) if country else "UTO", name)
    public = key.public_key()
    certificate = (
        _certificate(subject, csca_certificate.subject, public, now, validity, random)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(_key_usage_period(now, DS_KEY_USAGE_PERIOD, validity), critical=False)
        .add_extension(_document_type_list(["P"]), critical=False)
        .sign(csca_key, _signature_hash(csca_key))
    )
    return certificate, key


def issue_crl(
    csca_certificate: x509.Certificate,
    csca_key: PrivateKey,
    revoked_serials: Iterable[int],
    *,
    now: datetime,
    next_update: timedelta = timedelta(days=90),
    number: int = 1,
) -> x509.CertificateRevocationList:
    """A CRL of the test CSCA, issued ``now``, revoking ``revoked_serials`` from ``now``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(csca_certificate.subject)
        .last_update(now)
        .next_update(now + next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca_key.public_key()),
            critical=False,
        )
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign(csca_key, _signature_hash(csca_key))


def generate_test_pki(
    *,
    country: str = "UTO",
    now: datetime,
    key_type: KeyType = "brainpoolP256r1",
    ds_key_type: KeyType | None = None,
    random: Callable[[int], bytes] = os.urandom,
) -> TestPki:
    """A fresh test CSCA and DS (in memory), both valid from ``now``."""
    csca, csca_key = issue_csca(country=country, now=now, key_type=key_type, random=random)
    ds, ds_key = issue_ds(csca, csca_key, now=now, key_type=ds_key_type or key_type, random=random)
    return TestPki(csca, csca_key, ds, ds_key)


def private_key_pem(key: PrivateKey) -> bytes:
    """A private key as egate writes it: PEM, PKCS#8, unencrypted (test keys only)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def init_test_pki(
    directory: str | os.PathLike[str],
    *,
    country: str = "UTO",
    now: datetime,
    key_type: KeyType = "brainpoolP256r1",
    ds_key_type: KeyType | None = None,
    random: Callable[[int], bytes] = os.urandom,
) -> TestPki:
    """Write a fresh test PKI into ``directory`` (made if missing); never overwrite one.

    Raises TestPkiError (one line, naming the file) if any of the four files
    exists already: a key once written may have signed chips still in use.
    """
    folder = Path(directory)
    for name in PKI_FILES:
        if (folder / name).exists():
            raise TestPkiError(str(folder / name), "exists already: refusing to overwrite a PKI")
    pki = generate_test_pki(
        country=country, now=now, key_type=key_type, ds_key_type=ds_key_type, random=random
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        contents = {
            "csca.pem": pki.csca_certificate.public_bytes(serialization.Encoding.PEM),
            "csca.key": private_key_pem(pki.csca_key),
            "ds.pem": pki.ds_certificate.public_bytes(serialization.Encoding.PEM),
            "ds.key": private_key_pem(pki.ds_key),
        }
        for name, data in contents.items():
            # O_EXCL: fail rather than overwrite a file that appeared meanwhile;
            # keys readable by their owner only.
            mode = 0o600 if name.endswith(".key") else 0o644
            descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
    except FileExistsError as error:
        raise TestPkiError(
            str(error.filename), "exists already: refusing to overwrite a PKI"
        ) from None
    except OSError as error:
        raise TestPkiError(str(error.filename or folder), error.strerror or str(error)) from None
    return pki


def load_test_pki(directory: str | os.PathLike[str]) -> TestPki:
    """Read the four files of a test PKI written by :func:`init_test_pki`."""
    folder = Path(directory)
    certificates: dict[str, x509.Certificate] = {}
    keys: dict[str, PrivateKey] = {}
    for name in PKI_FILES:
        path = folder / name
        try:
            data = path.read_bytes()
        except OSError as error:
            raise TestPkiError(str(path), error.strerror or str(error)) from None
        try:
            if name.endswith(".pem"):
                certificates[name] = x509.load_pem_x509_certificate(data)
            else:
                loaded = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as error:
            what = "certificate" if name.endswith(".pem") else "private key"
            reason = " ".join(str(error).split()) or type(error).__name__
            raise TestPkiError(str(path), f"not a PEM {what}: {reason}") from None
        if name.endswith(".key"):
            if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise TestPkiError(
                    str(path), f"{type(loaded).__name__} is neither an RSA nor an EC key"
                )
            keys[name] = loaded
    pki = TestPki(
        certificates["csca.pem"], keys["csca.key"], certificates["ds.pem"], keys["ds.key"]
    )
    for certificate, key, name in (
        (pki.csca_certificate, pki.csca_key, "csca"),
        (pki.ds_certificate, pki.ds_key, "ds"),
    ):
        if certificate.public_key() != key.public_key():
            raise TestPkiError(
                str(folder / f"{name}.key"), f"does not match the public key of {name}.pem"
            )
    return pki
