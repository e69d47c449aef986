"""The protocol OIDs of Doc 9303 part 11 (BSI TR-03110 arcs) and what their arcs mean.

PACE is id-PACE.<mapping>.<cipher>, chip authentication id-CA.<key agreement>.
<cipher>, its public key id-PK.<key agreement>; this module names those arcs
("ECDH", "GM", "AES-128"), builds the OIDs from names and names the OIDs as
Doc 9303 does ("id-PACE-ECDH-GM-AES-CBC-CMAC-128"), and maps PACE's
standard domain parameter ids and active authentication's signature
algorithms to curves and hashes.  It is the vocabulary of the chip stack:
the drivers (``hardware.emrtd``) build their tables of what they run from it.
"""

from __future__ import annotations

BSI_DE = "0.4.0.127.0.7"
ID_PK = f"{BSI_DE}.2.2.1"  # .1 DH, .2 ECDH
ID_TA = f"{BSI_DE}.2.2.2"
ID_CA = f"{BSI_DE}.2.2.3"  # .1 DH, .2 ECDH, then the cipher
ID_PACE = f"{BSI_DE}.2.2.4"  # mapping, then the cipher
AA_PROTOCOL = "2.23.136.1.1.5"

KEY_AGREEMENTS = {1: "DH", 2: "ECDH"}
PACE_MAPPINGS = {
    1: ("DH", "GM"),
    2: ("ECDH", "GM"),
    3: ("DH", "IM"),
    4: ("ECDH", "IM"),
    6: ("ECDH", "CAM"),
}
CIPHERS = {1: "3DES", 2: "AES-128", 3: "AES-192", 4: "AES-256"}
# PACE's standard domain parameters (Doc 9303 part 11 §9.5.1); curves by SEC / RFC 5639 name.
STANDARD_DOMAIN_PARAMETERS = {
    0: "modp1024_160",
    1: "modp2048_224",
    2: "modp2048_256",
    8: "secp192r1",
    9: "brainpoolP192r1",
    10: "secp224r1",
    11: "brainpoolP224r1",
    12: "secp256r1",
    13: "brainpoolP256r1",
    14: "brainpoolP320r1",
    15: "secp384r1",
    16: "brainpoolP384r1",
    17: "brainpoolP512r1",
    18: "secp521r1",
}
# The curves' ids by name: the parameter id of a named curve (a key's), if it is one.
STANDARD_DOMAIN_PARAMETER_IDS = {name: pid for pid, name in STANDARD_DOMAIN_PARAMETERS.items()}
# BSI TR-03111 ecdsa-plain-signatures (r || s, not DER) -> the hash they sign with.
ECDSA_PLAIN_SIGNATURES = f"{BSI_DE}.1.1.4.1"
ECDSA_PLAIN_HASHES = {
    f"{ECDSA_PLAIN_SIGNATURES}.1": "sha1",
    f"{ECDSA_PLAIN_SIGNATURES}.2": "sha224",
    f"{ECDSA_PLAIN_SIGNATURES}.3": "sha256",
    f"{ECDSA_PLAIN_SIGNATURES}.4": "sha384",
    f"{ECDSA_PLAIN_SIGNATURES}.5": "sha512",
}
# ActiveAuthenticationInfo's signature algorithm -> its hash: X9.62 ECDSA and BSI plain ECDSA.
AA_HASHES = {
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
    **ECDSA_PLAIN_HASHES,
}


def _pick(table: dict[int, str], value: str) -> int:
    return next(key for key, name in table.items() if name == value)


def pace_protocol(key_agreement: str, mapping: str, cipher: str) -> str:
    """The PACE OID for e.g. ("ECDH", "GM", "AES-128") -> 0.4.0.127.0.7.2.2.4.2.2."""
    try:
        arc = next(k for k, v in PACE_MAPPINGS.items() if v == (key_agreement, mapping))
        return f"{ID_PACE}.{arc}.{_pick(CIPHERS, cipher)}"
    except StopIteration:
        raise ValueError(f"no PACE protocol {key_agreement}-{mapping} {cipher}") from None


def pk_protocol(key_agreement: str) -> str:
    """The chip authentication public key OID for "DH" or "ECDH" (id-PK-ECDH: ...2.2.1.2)."""
    try:
        return f"{ID_PK}.{_pick(KEY_AGREEMENTS, key_agreement)}"
    except StopIteration:
        raise ValueError(f"no chip authentication public key protocol {key_agreement}") from None


def ca_protocol(key_agreement: str, cipher: str) -> str:
    """The chip authentication OID for e.g. ("ECDH", "AES-128")."""
    try:
        return f"{ID_CA}.{_pick(KEY_AGREEMENTS, key_agreement)}.{_pick(CIPHERS, cipher)}"
    except StopIteration:
        raise ValueError(f"no chip authentication protocol {key_agreement} {cipher}") from None


def arcs_after(protocol: str, prefix: str) -> list[int] | None:
    """The arcs after ``prefix`` in ``protocol``, or None if it does not start so."""
    if not protocol.startswith(prefix + "."):
        return None
    return [int(arc) for arc in protocol[len(prefix) + 1 :].split(".")]


def pace_parts(protocol: str) -> tuple[str, str, str]:
    """A PACE OID's key agreement, mapping and cipher; ``ValueError`` if it is none."""
    arcs = arcs_after(protocol, ID_PACE)
    if arcs is None or len(arcs) != 2 or arcs[0] not in PACE_MAPPINGS or arcs[1] not in CIPHERS:
        raise ValueError(f"{protocol} is not a PACE protocol")
    return (*PACE_MAPPINGS[arcs[0]], CIPHERS[arcs[1]])


def ca_parts(protocol: str) -> tuple[str, str]:
    """A chip authentication OID's key agreement and cipher; ``ValueError`` if it is none."""
    arcs = arcs_after(protocol, ID_CA)
    if arcs is None or len(arcs) != 2 or arcs[0] not in KEY_AGREEMENTS or arcs[1] not in CIPHERS:
        raise ValueError(f"{protocol} is not a chip authentication protocol")
    return KEY_AGREEMENTS[arcs[0]], CIPHERS[arcs[1]]


def pk_key_agreement(protocol: str) -> str:
    """An id-PK OID's key agreement ("DH", "ECDH"); ``ValueError`` if it is none."""
    arcs = arcs_after(protocol, ID_PK)
    if arcs is None or len(arcs) != 1 or arcs[0] not in KEY_AGREEMENTS:
        raise ValueError(f"{protocol} is not a chip authentication public key protocol")
    return KEY_AGREEMENTS[arcs[0]]


def _cipher_suite(cipher: str) -> str:
    """A cipher as protocol names spell it: 3DES-CBC-CBC, AES-CBC-CMAC-128."""
    return "3DES-CBC-CBC" if cipher == "3DES" else f"AES-CBC-CMAC-{cipher.removeprefix('AES-')}"


def protocol_name(protocol: str) -> str:
    """The Doc 9303 name of a PACE, chip authentication or id-PK OID, else the OID itself.

    E.g. "id-PACE-ECDH-GM-AES-CBC-CMAC-128", "id-CA-ECDH-3DES-CBC-CBC", "id-PK-ECDH".
    """
    try:
        key_agreement, mapping, cipher = pace_parts(protocol)
        return f"id-PACE-{key_agreement}-{mapping}-{_cipher_suite(cipher)}"
    except ValueError:
        pass
    try:
        key_agreement, cipher = ca_parts(protocol)
        return f"id-CA-{key_agreement}-{_cipher_suite(cipher)}"
    except ValueError:
        pass
    try:
        return f"id-PK-{pk_key_agreement(protocol)}"
    except ValueError:
        return protocol
