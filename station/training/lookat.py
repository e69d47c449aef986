"""What the officer should look at, per reason code the gate gave: the report's advice column.

A gate that refers or rejects a traveller hands them to an officer with a
reason code.  ``LOOK_AT`` says, in an officer's words, what to examine for
each chip reason (and the document reasons that go with forged documents);
``look_at`` joins the advice for a transaction's reasons.  The replay's
scorecard (``scorecard.json``) and report carry it next to every passenger.
"""

from __future__ import annotations

from collections.abc import Iterable

LOOK_AT: dict[str, str] = {
    "CHIP_HASH_MISMATCH": (
        "The chip's data is not what the state signed: compare the chip photo and data "
        "with the page, look for a substituted photo or a rewritten chip; seize the passport."
    ),
    "CHIP_PA_SIGNATURE_INVALID": (
        "The chip's signature does not hold: a rewritten chip. Examine the page by hand; seize."
    ),
    "CHIP_SOD_INVALID": (
        "The chip's security object is damaged or forged: examine the page by hand."
    ),
    "CHIP_DS_UNTRUSTED": (
        "Signed by a signer we do not trust: check the issuing state is in the trust store "
        "(a missing master list) before suspecting a forger's own PKI; examine the page by hand."
    ),
    "CHIP_DS_EXPIRED": (
        "Signed by a Document Signer whose certificate has expired: look at the issue date "
        "on the page; a passport issued after the signer expired is forged."
    ),
    "CHIP_DS_REVOKED": (
        "The state revoked the signer (a stolen or compromised signing key): treat as forged; "
        "check the document against the stop list and the issuer's alerts."
    ),
    "CHIP_SOD_MISSING": (
        "The chip holds no security object, so nothing on it is proven: examine the page and "
        "the chip's window by hand; a genuine passport always has one."
    ),
    "CHIP_CLONE_SUSPECTED": (
        "The chip's data is genuine but the chip is not (its keys are missing): a copied chip "
        "in another booklet; examine the booklet's binding, laminate and chip window."
    ),
    "CHIP_PA_NOT_RUN": "The reader did not check the chip: examine the page by hand.",
    "CHIP_ACCESS_DOWNGRADED": (
        "The chip hid PACE and was read with BAC: a manipulated chip; examine by hand."
    ),
    "CHIP_MRZ_MISMATCH": (
        "The chip and the printed page disagree: a substituted data page; compare names and "
        "numbers; the chip's data is the state's."
    ),
    "CHIP_ACCESS_DENIED": (
        "The page's data does not open the chip: a misread, a damaged chip, or altered printed "
        "dates; compare the page's dates with the visa and entry stamps."
    ),
    "REFERENCE_UNVERIFIED": (
        "The chip photo is not proven: compare the traveller with the printed photo yourself."
    ),
    "PRESENTATION_ATTACK": (
        "The camera saw a picture, not a live face (a print or a screen held up): keep the "
        "traveller and what they held, compare them with the passport photo, call a supervisor."
    ),
    "BIOMETRIC_MISMATCH": (
        "The face does not match the chip photo: compare the traveller with both photos; "
        "ask questions only the holder can answer."
    ),
}


def look_at(reasons: Iterable[str]) -> str:
    """The advice for ``reasons`` that have any, in their order, each once; "" for none."""
    seen: list[str] = []
    for reason in reasons:
        advice = LOOK_AT.get(reason)
        if advice is not None and advice not in seen:
            seen.append(advice)
    return " ".join(seen)
