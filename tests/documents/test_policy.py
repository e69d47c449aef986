"""The document policy: verdicts, reasons, the duplicate window and the settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.dates import MrzDate
from egate.documents.layout import MrzFormat
from egate.documents.mrz import MrzResult, parse_mrz
from egate.documents.policy import (
    DocumentPolicy,
    DocumentPolicySettings,
    PolicyDecision,
    Verdict,
    age_on,
)
from egate.documents.stoplist import StopList
from egate.privacy import Pseudonymizer

NOW = datetime(2026, 11, 26, 10, 0)
TODAY = NOW.date()
SALT = bytes(range(32))
NUMBER = "C7KX41920"

# An adult with a passport valid for years: accepted by the default policy.
ADULT_PASSPORT = DocumentData(
    format=MrzFormat.TD3,
    document_type="P",
    issuing_state="UTO",
    surname="ERIKSSON",
    given_names="ANNA MARIA",
    document_number=NUMBER,
    nationality="UTO",
    birth_date=date(1980, 3, 14),
    sex="F",
    expiry_date=date(2031, 5, 2),
)


def read(data: DocumentData = ADULT_PASSPORT, **changes: object) -> MrzResult:
    """The parsed MRZ of ``data`` with ``changes``; it must be a sound MRZ."""
    result = parse_mrz(compose_mrz(replace(data, **changes)), TODAY)
    assert result.valid, result.failures
    return result


def policy(stop_list: StopList | None = None, **settings: object) -> DocumentPolicy:
    return DocumentPolicy(
        DocumentPolicySettings(**settings),
        Pseudonymizer(SALT),
        stop_list,
    )


def decide(result: MrzResult, now: datetime = NOW, **settings: object) -> PolicyDecision:
    return policy(**settings).evaluate(result, now)


def test_an_adult_with_a_valid_passport_is_accepted():
    decision = decide(read())
    assert decision.verdict is Verdict.ACCEPT
    assert decision.reasons == ()
    assert decision.document_key == Pseudonymizer(SALT).document_key("UTO", NUMBER)


def test_an_invalid_mrz_is_rejected_with_its_failure_codes():
    lines = list(compose_mrz(ADULT_PASSPORT))
    # The birth date check digit (line 2, column 20), a digit changed to
    # another digit: no OCR repair can explain it.
    wrong = "0" if lines[1][19] != "0" else "1"
    lines[1] = lines[1][:19] + wrong + lines[1][20:]
    result = parse_mrz(lines, TODAY)
    assert not result.valid
    assert "CHECK_DIGIT_BIRTH_DATE" in result.failures

    decision = decide(result)

    assert decision.verdict is Verdict.REJECT
    assert decision.reasons == ("MRZ_INVALID", *result.failures)
    assert decision.document_key is None


@pytest.mark.parametrize(
    ("expiry", "verdict", "reasons"),
    [
        (TODAY - timedelta(days=1), Verdict.REJECT, ("EXPIRED",)),
        (TODAY, Verdict.ACCEPT, ()),  # valid through its expiry date
        (TODAY + timedelta(days=1), Verdict.ACCEPT, ()),
    ],
)
def test_expiry(expiry, verdict, reasons):
    decision = decide(read(expiry_date=expiry))
    assert (decision.verdict, decision.reasons) == (verdict, reasons)


@pytest.mark.parametrize(
    ("issued", "verdict", "reasons"),
    [
        (TODAY + timedelta(days=1), Verdict.REJECT, ("NOT_YET_VALID",)),
        (TODAY, Verdict.ACCEPT, ()),
        (None, Verdict.ACCEPT, ()),  # no chip read: nothing to say
    ],
)
def test_issue_date_from_the_chip(issued, verdict, reasons):
    decision = policy().evaluate(read(), NOW, issue_date=issued)
    assert (decision.verdict, decision.reasons) == (verdict, reasons)


def test_a_document_on_the_stop_list_is_rejected(tmp_path: Path):
    csv_file = tmp_path / "stop.csv"
    csv_file.write_text(
        f"issuing_state,document_number,reason\nUTO,{NUMBER},stolen\nD,C01X00T47,lost\n",
        encoding="utf-8",
    )
    stop_list = StopList.load(csv_file, Pseudonymizer(SALT))

    listed = policy(stop_list).evaluate(read(), NOW)
    other = policy(stop_list).evaluate(read(document_number="C7KX41921"), NOW)

    assert (listed.verdict, listed.reasons) == (Verdict.REJECT, ("STOP_LIST_HIT",))
    assert (other.verdict, other.reasons) == (Verdict.ACCEPT, ())


def test_from_settings_loads_the_configured_stop_list(tmp_path: Path):
    csv_file = tmp_path / "stop.csv"
    csv_file.write_text(f"issuing_state,document_number\nUTO,{NUMBER}\n", encoding="utf-8")
    settings = DocumentPolicySettings(stop_list=csv_file)

    loaded = DocumentPolicy.from_settings(settings, Pseudonymizer(SALT))

    assert loaded.evaluate(read(), NOW).reasons == ("STOP_LIST_HIT",)
    without = DocumentPolicy.from_settings(DocumentPolicySettings(), Pseudonymizer(SALT))
    assert without.evaluate(read(), NOW).reasons == ()


def test_a_document_that_passed_within_the_window_is_a_duplicate():
    gate = policy(duplicate_window_s=600)
    first = gate.evaluate(read(), NOW)
    assert first.verdict is Verdict.ACCEPT
    assert first.document_key is not None
    gate.record_passage(first.document_key, NOW)

    soon = gate.evaluate(read(), NOW + timedelta(seconds=599))
    later = gate.evaluate(read(), NOW + timedelta(seconds=600))
    another = gate.evaluate(read(document_number="C7KX41921"), NOW + timedelta(seconds=1))

    assert (soon.verdict, soon.reasons) == (Verdict.REJECT, ("DUPLICATE_DOCUMENT",))
    assert (later.verdict, later.reasons) == (Verdict.ACCEPT, ())
    assert (another.verdict, another.reasons) == (Verdict.ACCEPT, ())


def test_a_later_passage_restarts_the_window():
    gate = policy(duplicate_window_s=600)
    key = Pseudonymizer(SALT).document_key("UTO", NUMBER)
    gate.record_passage(key, NOW)
    gate.record_passage(key, NOW + timedelta(seconds=500))

    assert gate.evaluate(read(), NOW + timedelta(seconds=900)).reasons == ("DUPLICATE_DOCUMENT",)
    assert gate.evaluate(read(), NOW + timedelta(seconds=1100)).reasons == ()


def test_passages_of_other_documents_do_not_forget_a_recent_one():
    gate = policy(duplicate_window_s=600)
    pseudonyms = Pseudonymizer(SALT)
    gate.record_passage(pseudonyms.document_key("UTO", NUMBER), NOW)
    for second in range(1, 300):
        other = pseudonyms.document_key("UTO", f"Z{second:08d}")
        gate.record_passage(other, NOW + timedelta(seconds=second))

    assert gate.evaluate(read(), NOW + timedelta(seconds=300)).reasons == ("DUPLICATE_DOCUMENT",)


def test_a_window_of_zero_turns_the_duplicate_check_off():
    gate = policy(duplicate_window_s=0)
    decision = gate.evaluate(read(), NOW)
    assert decision.document_key is not None
    gate.record_passage(decision.document_key, NOW)

    assert gate.evaluate(read(), NOW).verdict is Verdict.ACCEPT
    assert gate.evaluate(read(), NOW + timedelta(seconds=1)).reasons == ()


@pytest.mark.parametrize(
    ("birth", "minor"),
    [
        (date(2014, 11, 26), False),  # twelfth birthday today: old enough
        (date(2014, 11, 27), True),  # twelfth birthday tomorrow
        (date(2014, 11, 25), False),
        (date(2020, 1, 1), True),
    ],
)
def test_travellers_under_the_minimum_age_are_referred(birth, minor):
    decision = decide(read(birth_date=birth), min_age_years=12)
    expected = (Verdict.REFER, ("MINOR",)) if minor else (Verdict.ACCEPT, ())
    assert (decision.verdict, decision.reasons) == expected


def test_a_minimum_age_of_zero_admits_everyone():
    decision = decide(read(birth_date=date(2026, 1, 1)), min_age_years=0)
    assert decision.verdict is Verdict.ACCEPT


def test_a_wholly_unknown_birth_date_is_referred():
    result = read(birth_date=None)
    assert result.fields.birth_date is None
    decision = decide(result)
    assert (decision.verdict, decision.reasons) == (Verdict.REFER, ("AGE_UNKNOWN",))


@pytest.mark.parametrize(
    ("birth", "minor"),
    [
        # Born some day in November 2014: on 2026-11-26 anywhere from 11 to 12.
        (MrzDate(2014, 11, None), True),
        (MrzDate(2014, 10, None), False),  # 12 whatever the day
        (MrzDate(2014, None, None), True),  # born in December would still be 11
        (MrzDate(2013, None, None), False),
    ],
)
def test_a_partly_unknown_birth_date_counts_the_youngest_possible_age(birth, minor):
    result = read(birth_date=birth)
    assert result.fields.birth_date == birth
    decision = decide(result, min_age_years=12)
    assert decision.reasons == (("MINOR",) if minor else ())


@pytest.mark.parametrize(
    ("allowed", "document_type", "eligible"),
    [
        (("P",), "P", True),
        (("P",), "PD", True),  # one letter admits every code starting with it
        (("P<",), "P", True),
        (("P<",), "PD", False),  # two characters admit exactly that code
        (("PD",), "PD", True),
        (("PD",), "P", False),
        (("I",), "P", False),
        (("I", "P<"), "P", True),
        (("*",), "PO", True),
    ],
)
def test_document_types(allowed, document_type, eligible):
    decision = decide(read(document_type=document_type), eligible_document_types=allowed)
    if eligible:
        assert (decision.verdict, decision.reasons) == (Verdict.ACCEPT, ())
    else:
        assert (decision.verdict, decision.reasons) == (
            Verdict.REFER,
            ("DOCUMENT_TYPE_NOT_ELIGIBLE",),
        )


def test_identity_cards_are_not_eligible_under_the_default_policy():
    card = replace(ADULT_PASSPORT, format=MrzFormat.TD1, document_type="I")
    assert decide(read(card)).reasons == ("DOCUMENT_TYPE_NOT_ELIGIBLE",)
    assert decide(read(card), eligible_document_types=("I",)).reasons == ()


@pytest.mark.parametrize(
    ("allowed", "nationality", "eligible"),
    [
        (("*",), "UTO", True),
        (("UTO",), "UTO", True),
        (("D", "FRA"), "UTO", False),
        (("D", "FRA"), "D", True),
    ],
)
def test_nationalities(allowed, nationality, eligible):
    decision = decide(read(nationality=nationality), eligible_nationalities=allowed)
    assert decision.reasons == (() if eligible else ("NATIONALITY_NOT_ELIGIBLE",))
    assert decision.verdict is (Verdict.ACCEPT if eligible else Verdict.REFER)


@pytest.mark.parametrize(
    ("days_left", "too_short"),
    [(29, True), (30, False), (0, True), (400, False)],
)
def test_remaining_validity(days_left, too_short):
    result = read(expiry_date=TODAY + timedelta(days=days_left))
    decision = decide(result, min_remaining_validity_days=30)
    assert decision.reasons == (("VALIDITY_TOO_SHORT",) if too_short else ())
    assert decision.verdict is (Verdict.REFER if too_short else Verdict.ACCEPT)


def test_an_expired_document_is_not_also_too_short():
    result = read(expiry_date=TODAY - timedelta(days=1))
    assert decide(result, min_remaining_validity_days=30).reasons == ("EXPIRED",)


def test_every_reason_is_given_and_rejection_wins(tmp_path: Path):
    csv_file = tmp_path / "stop.csv"
    csv_file.write_text(f"issuing_state,document_number\nUTO,{NUMBER}\n", encoding="utf-8")
    stop_list = StopList.load(csv_file, Pseudonymizer(SALT))
    gate = policy(stop_list, eligible_nationalities=("D",), eligible_document_types=("I",))
    child = read(
        birth_date=date(2020, 6, 1),
        expiry_date=TODAY - timedelta(days=3),
    )
    gate.record_passage(Pseudonymizer(SALT).document_key("UTO", NUMBER), NOW)

    decision = gate.evaluate(child, NOW + timedelta(minutes=1), issue_date=TODAY + timedelta(1))

    assert decision.verdict is Verdict.REJECT
    # Rejections first, then referrals, each in the policy's fixed order.
    assert decision.reasons == (
        "EXPIRED",
        "NOT_YET_VALID",
        "STOP_LIST_HIT",
        "DUPLICATE_DOCUMENT",
        "DOCUMENT_TYPE_NOT_ELIGIBLE",
        "NATIONALITY_NOT_ELIGIBLE",
        "MINOR",
    )


def test_several_referrals_give_refer():
    decision = decide(
        read(birth_date=None),
        eligible_nationalities=("D",),
        eligible_document_types=("I",),
    )
    assert decision.verdict is Verdict.REFER
    assert decision.reasons == (
        "DOCUMENT_TYPE_NOT_ELIGIBLE",
        "NATIONALITY_NOT_ELIGIBLE",
        "AGE_UNKNOWN",
    )


def test_one_rejection_outweighs_referrals():
    result = read(birth_date=date(2020, 6, 1), expiry_date=TODAY - timedelta(days=1))
    decision = decide(result)
    assert (decision.verdict, decision.reasons) == (Verdict.REJECT, ("EXPIRED", "MINOR"))


def test_verdicts_are_ordered_names():
    assert [verdict.value for verdict in Verdict] == ["accept", "refer", "reject"]


class TestDocumentKey:
    def test_same_document_same_salt_same_key(self):
        first = decide(read()).document_key
        again = policy().evaluate(read(surname="OTHER"), NOW + timedelta(days=9)).document_key
        assert first == again

    def test_another_salt_gives_another_key(self):
        mine = decide(read()).document_key
        theirs = DocumentPolicy(DocumentPolicySettings(), Pseudonymizer(bytes(32))).evaluate(
            read(), NOW
        )
        assert theirs.document_key is not None
        assert mine != theirs.document_key

    def test_another_document_gives_another_key(self):
        assert decide(read()).document_key != decide(read(issuing_state="D")).document_key
        assert decide(read()).document_key != decide(read(document_number="C7KX4192")).document_key

    def test_the_key_is_a_hash_that_does_not_contain_the_number(self):
        key = decide(read()).document_key
        assert key is not None
        assert len(key) == 64
        assert set(key) <= set("0123456789abcdef")
        assert NUMBER.lower() not in key
        assert NUMBER not in key


class TestAge:
    @pytest.mark.parametrize(
        ("born", "on", "years"),
        [
            (date(2000, 5, 20), date(2026, 5, 19), 25),
            (date(2000, 5, 20), date(2026, 5, 20), 26),
            (date(2012, 2, 29), date(2024, 2, 28), 11),
            (date(2012, 2, 29), date(2024, 2, 29), 12),
            # Born on 29 February: a year older from 1 March in common years.
            (date(2012, 2, 29), date(2025, 2, 28), 12),
            (date(2012, 2, 29), date(2025, 3, 1), 13),
            (date(2026, 11, 26), date(2026, 11, 26), 0),
        ],
    )
    def test_completed_years(self, born, on, years):
        assert age_on(born, on) == years


class TestSettings:
    def test_defaults(self):
        settings = DocumentPolicySettings()
        assert settings.min_age_years == 12
        assert settings.eligible_nationalities == ("*",)
        assert settings.eligible_document_types == ("P",)
        assert settings.min_remaining_validity_days == 0
        assert settings.duplicate_window_s == 4 * 3600
        assert settings.stop_list is None

    @pytest.mark.parametrize("code", ["ZZZ", "uto", "", "UTOPIA", "GER"])
    def test_unknown_nationality_codes_are_rejected(self, code):
        with pytest.raises(ValidationError, match="not an ICAO state code"):
            DocumentPolicySettings(eligible_nationalities=("UTO", code))

    def test_known_nationality_codes_are_accepted(self):
        settings = DocumentPolicySettings(eligible_nationalities=("D", "UTO", "XXA", "FRA"))
        assert settings.eligible_nationalities == ("D", "UTO", "XXA", "FRA")

    @pytest.mark.parametrize("code", ["p", "PPP", "", "1", "P1", "<P", "P ", "É", "pD", "**"])
    def test_malformed_document_codes_are_rejected(self, code):
        with pytest.raises(ValidationError, match="not a document code"):
            DocumentPolicySettings(eligible_document_types=("P", code))

    @pytest.mark.parametrize("codes", [("P",), ("P<",), ("PD", "I", "AC"), ("*",), ("V",)])
    def test_document_codes_are_accepted(self, codes):
        assert (
            DocumentPolicySettings(eligible_document_types=codes).eligible_document_types == codes
        )

    @pytest.mark.parametrize("field", ["eligible_nationalities", "eligible_document_types"])
    def test_an_empty_list_is_rejected(self, field):
        with pytest.raises(ValidationError, match="at least 1 item"):
            DocumentPolicySettings(**{field: ()})

    @pytest.mark.parametrize(
        "values",
        [
            {"min_age_years": -1},
            {"min_age_years": 121},
            {"min_age_years": True},
            {"min_age_years": "12"},
            {"min_age_years": 12.5},
            {"min_remaining_validity_days": -1},
            {"min_remaining_validity_days": 10**10},
            {"duplicate_window_s": -0.5},
            {"duplicate_window_s": float("inf")},
            {"duplicate_window_s": float("nan")},
            {"duplicate_window_s": 1e20},
            {"duplicate_window_s": False},
            {"unknown_setting": 1},
        ],
    )
    def test_values_out_of_range_or_of_the_wrong_type_are_rejected(self, values):
        with pytest.raises(ValidationError):
            DocumentPolicySettings(**values)

    def test_whole_seconds_are_a_valid_window(self):
        assert DocumentPolicySettings(duplicate_window_s=60).duplicate_window_s == 60.0

    def test_the_largest_settings_still_decide(self):
        settings = DocumentPolicySettings(
            min_remaining_validity_days=3660, duplicate_window_s=31 * 24 * 3600
        )
        gate = DocumentPolicy(settings, Pseudonymizer(SALT))
        decision = gate.evaluate(read(), NOW)
        assert decision.reasons == ("VALIDITY_TOO_SHORT",)
        assert decision.document_key is not None
        gate.record_passage(decision.document_key, NOW)
        later = NOW + timedelta(days=30)
        assert gate.evaluate(read(), later).reasons == ("DUPLICATE_DOCUMENT", "VALIDITY_TOO_SHORT")

    def test_the_stop_list_is_found_relative_to_the_configuration(self, tmp_path: Path):
        (tmp_path / "lists").mkdir()
        (tmp_path / "lists" / "stop.csv").write_text("issuing_state,document_number\n")
        settings = DocumentPolicySettings.model_validate(
            {"stop_list": "lists/stop.csv"}, context={"base_dir": tmp_path}
        )
        assert settings.stop_list == tmp_path / "lists" / "stop.csv"

    def test_an_absolute_stop_list_path_is_kept(self, tmp_path: Path):
        csv_file = tmp_path / "stop.csv"
        csv_file.write_text("issuing_state,document_number\n")
        settings = DocumentPolicySettings.model_validate(
            {"stop_list": str(csv_file)}, context={"base_dir": tmp_path / "elsewhere"}
        )
        assert settings.stop_list == csv_file

    def test_the_stop_list_must_exist(self, tmp_path: Path):
        with pytest.raises(ValidationError, match="no such file"):
            DocumentPolicySettings.model_validate(
                {"stop_list": "missing.csv"}, context={"base_dir": tmp_path}
            )

    def test_a_folder_is_no_stop_list(self, tmp_path: Path):
        with pytest.raises(ValidationError, match="no such file"):
            DocumentPolicySettings.model_validate(
                {"stop_list": "."}, context={"base_dir": tmp_path}
            )

    def test_settings_are_frozen(self):
        settings = DocumentPolicySettings()
        with pytest.raises(ValidationError):
            settings.min_age_years = 3
