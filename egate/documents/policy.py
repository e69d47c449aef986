"""The document policy of a gate: may this document's holder use the gate?

After the MRZ is read and found sound, a gate asks further questions that
depend on where it stands: is the document expired, is its holder old enough
to use a gate alone, is the nationality and kind of document eligible, is the
document on the stop list, has it already passed recently.  The answer is one
of three verdicts, with every reason that led to it:

* ``accept``: the traveller may go on to the face check;
* ``refer``: nothing is wrong, but this traveller belongs at an officer's desk
  (a child, an ineligible nationality or document type);
* ``reject``: the document must not be accepted (invalid MRZ, expired, not yet
  valid, on the stop list, used twice); the officer is alerted.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from datetime import date, datetime, timedelta

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    field_validator,
)

from egate.documents.chippolicy import ChipPolicySettings
from egate.documents.mrz import MrzResult
from egate.documents.states import is_known_state
from egate.documents.stoplist import StopList
from egate.documents.verdict import PolicyDecision as PolicyDecision
from egate.documents.verdict import Verdict as Verdict
from egate.paths import ConfigFile
from egate.privacy import Pseudonymizer

ANY = "*"
# Bounds that keep the settings meaningful (and within what timedelta holds):
# no document is valid for more than ten years, and a gate has no reason to
# remember passages for longer than a month.
MAX_VALIDITY_DAYS = 3660
MAX_DUPLICATE_WINDOW_S = 31 * 24 * 3600.0
_DOCUMENT_CODE = re.compile(r"[A-Z][A-Z<]?")


class DocumentPolicySettings(BaseModel):
    """A gate's document policy, as written in its configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Numbers are strict: YAML reads `yes` as true, and pydantic would
    # otherwise take it for 1 (and `off` for a duplicate window of 0).
    min_age_years: StrictInt = Field(
        default=12, ge=0, le=120, description="Travellers younger than this are referred."
    )
    eligible_nationalities: tuple[str, ...] = Field(
        default=(ANY,),
        min_length=1,
        description="ICAO codes allowed to use the gate, or '*' for all.",
    )
    eligible_document_types: tuple[str, ...] = Field(
        default=("P",),
        min_length=1,
        description=(
            "Document codes allowed: one letter admits every code starting with it "
            "(P: all passports), two characters admit exactly that code (P<, PD)."
        ),
    )
    min_remaining_validity_days: StrictInt = Field(
        default=0,
        ge=0,
        le=MAX_VALIDITY_DAYS,
        description="Days of validity a document must have left.",
    )
    duplicate_window_s: StrictFloat = Field(
        default=4 * 3600.0,
        ge=0,
        le=MAX_DUPLICATE_WINDOW_S,
        allow_inf_nan=False,
        description=(
            "A document that passed the gate within this many seconds is rejected; "
            "0 turns the check off."
        ),
    )
    stop_list: ConfigFile | None = Field(
        default=None,
        description="CSV file of lost and stolen documents (relative to the configuration file).",
    )
    chip: ChipPolicySettings = Field(
        default_factory=ChipPolicySettings,
        description="What the chip's checks must show (passive, active, chip authentication).",
    )

    @field_validator("eligible_nationalities")
    @classmethod
    def _known_codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        for code in codes:
            if code != ANY and not is_known_state(code):
                raise ValueError(f"{code!r} is not an ICAO state code (or '*')")
        return codes

    @field_validator("eligible_document_types")
    @classmethod
    def _document_codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        for code in codes:
            if not (code == ANY or _DOCUMENT_CODE.fullmatch(code)):
                raise ValueError(f"{code!r} is not a document code such as P, P< or ID")
        return codes


def _type_allowed(document_type: str, allowed: tuple[str, ...]) -> bool:
    code = document_type.ljust(2, "<")
    return any(
        entry == ANY or (code.startswith(entry) if len(entry) == 1 else code == entry)
        for entry in allowed
    )


def age_on(birth_date: date, today: date) -> int:
    """Completed years of life on ``today``."""
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


class DocumentPolicy:
    """Applies a gate's document policy; remembers passages for the duplicate check."""

    def __init__(
        self,
        settings: DocumentPolicySettings,
        pseudonymizer: Pseudonymizer,
        stop_list: StopList | None = None,
    ) -> None:
        self.settings = settings
        self._pseudonymizer = pseudonymizer
        self._stop_list = stop_list
        # document key -> time of its last passage, oldest first
        self._passages: OrderedDict[str, datetime] = OrderedDict()

    @classmethod
    def from_settings(
        cls, settings: DocumentPolicySettings, pseudonymizer: Pseudonymizer
    ) -> DocumentPolicy:
        """The policy of ``settings``, with its stop list file loaded (``StopListError`` if bad)."""
        stop_list = (
            None if settings.stop_list is None else StopList.load(settings.stop_list, pseudonymizer)
        )
        return cls(settings, pseudonymizer, stop_list)

    @property
    def stop_list(self) -> StopList | None:
        """The stop list in force (None: the policy has none)."""
        return self._stop_list

    def read_stop_list(self) -> StopList | None:
        """The settings' stop list file, read again; ``StopListError`` if it is bad.

        Reading changes nothing: the policy checks against its current list
        until ``use_stop_list``.  Safe to call from another thread, so that a
        long list is hashed off the service's loop.
        """
        path = self.settings.stop_list
        return None if path is None else StopList.load(path, self._pseudonymizer)

    def use_stop_list(self, stop_list: StopList | None) -> None:
        """Check documents against ``stop_list`` from now on (a reload)."""
        self._stop_list = stop_list

    def evaluate(
        self, mrz: MrzResult, now: datetime, *, issue_date: date | None = None
    ) -> PolicyDecision:
        """Judge the document read into ``mrz`` at ``now``.

        ``issue_date`` comes from the chip (DG12) when it was read; a document
        issued after today is not yet valid.
        """
        if not mrz.valid:
            return PolicyDecision(Verdict.REJECT, ("MRZ_INVALID", *mrz.failures), None)
        fields = mrz.fields
        settings = self.settings
        today = now.date()
        key = self._pseudonymizer.document_key(fields.issuing_state, fields.document_number)
        rejects: list[str] = []
        refers: list[str] = []

        if fields.expiry_date is not None and fields.expiry_date < today:
            rejects.append("EXPIRED")
        if issue_date is not None and issue_date > today:
            rejects.append("NOT_YET_VALID")
        if self._stop_list is not None and self._stop_list.lists(
            fields.issuing_state, fields.document_number
        ):
            rejects.append("STOP_LIST_HIT")
        if self._passed_recently(key, now):
            rejects.append("DUPLICATE_DOCUMENT")

        if (
            fields.expiry_date is not None
            and "EXPIRED" not in rejects
            and fields.expiry_date - today < timedelta(days=settings.min_remaining_validity_days)
        ):
            refers.append("VALIDITY_TOO_SHORT")
        if not _type_allowed(fields.document_type, settings.eligible_document_types):
            refers.append("DOCUMENT_TYPE_NOT_ELIGIBLE")
        if ANY not in settings.eligible_nationalities and (
            fields.nationality not in settings.eligible_nationalities
        ):
            refers.append("NATIONALITY_NOT_ELIGIBLE")
        if fields.birth_date is None:
            refers.append("AGE_UNKNOWN")
        elif age_on(fields.birth_date.latest(), today) < settings.min_age_years:
            # With the day or month unknown, the youngest possible age decides.
            refers.append("MINOR")

        if rejects:
            verdict = Verdict.REJECT
        elif refers:
            verdict = Verdict.REFER
        else:
            verdict = Verdict.ACCEPT
        return PolicyDecision(verdict, (*rejects, *refers), key)

    def record_passage(self, document_key: str, now: datetime) -> None:
        """Note that the document with this key has passed the gate at ``now``."""
        self._passages.pop(document_key, None)
        self._passages[document_key] = now
        window = timedelta(seconds=self.settings.duplicate_window_s)
        # Keys are kept in order of passage, so the stale ones are at the front.
        while self._passages:
            oldest_key, oldest_time = next(iter(self._passages.items()))
            if now - oldest_time < window:
                break
            del self._passages[oldest_key]

    def _passed_recently(self, key: str, now: datetime) -> bool:
        last = self._passages.get(key)
        window = self.settings.duplicate_window_s
        return last is not None and window > 0 and (now - last).total_seconds() < window
