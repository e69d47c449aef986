"""A policy's answer on a document or its chip: accept, refer or reject, with the reasons."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """What the policy answers, from best to worst."""

    ACCEPT = "accept"
    REFER = "refer"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The verdict on one document, the reasons for it and the document's pseudonym."""

    verdict: Verdict
    reasons: tuple[str, ...]
    document_key: str | None
