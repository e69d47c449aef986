"""The chip policy: which failed chip checks reject, which refer, and what is required."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from egate.documents.chippolicy import (
    ChipCheck,
    ChipFinding,
    ChipPolicy,
    ChipPolicySettings,
    ChipVerdicts,
    Proof,
)
from egate.documents.policy import DocumentPolicySettings, Verdict

GENUINE = ChipVerdicts(inspected=True)


def judge(verdicts: ChipVerdicts, **settings: object) -> tuple[Verdict, tuple[str, ...]]:
    decision = ChipPolicy(ChipPolicySettings.model_validate(settings)).judge(verdicts)
    return decision.verdict, decision.reasons


def test_a_genuine_chip_is_accepted():
    assert judge(GENUINE) == (Verdict.ACCEPT, ())
    assert GENUINE.proves(2)


@pytest.mark.parametrize(
    ("finding", "expected"),
    [
        (ChipFinding(ChipCheck.HASH_MISMATCH, 2), (Verdict.REJECT, ("CHIP_HASH_MISMATCH",))),
        (
            ChipFinding(ChipCheck.SIGNATURE_INVALID),
            (Verdict.REJECT, ("CHIP_PA_SIGNATURE_INVALID",)),
        ),
        (ChipFinding(ChipCheck.DS_REVOKED), (Verdict.REJECT, ("CHIP_DS_REVOKED",))),
        (ChipFinding(ChipCheck.DS_UNTRUSTED), (Verdict.REFER, ("CHIP_DS_UNTRUSTED",))),
        (ChipFinding(ChipCheck.DS_EXPIRED), (Verdict.REFER, ("CHIP_DS_EXPIRED",))),
        (ChipFinding(ChipCheck.SOD_MISSING), (Verdict.REFER, ("CHIP_SOD_MISSING",))),
    ],
)
def test_each_failed_check_rejects_or_refers_by_default(finding, expected):
    verdicts = ChipVerdicts(True, (finding,))
    assert judge(verdicts) == expected
    assert not verdicts.proves(2)


def test_a_hash_mismatch_of_another_group_leaves_dg2_proven():
    verdicts = ChipVerdicts(True, (ChipFinding(ChipCheck.HASH_MISMATCH, 11),))
    assert verdicts.mismatched_data_groups == (11,)
    assert verdicts.proves(2) and not verdicts.proves(11)


@pytest.mark.parametrize("which", ["active_authentication", "chip_authentication"])
def test_a_failed_proof_of_the_chip_is_a_suspected_clone(which):
    verdicts = ChipVerdicts(True, **{which: Proof.FAILED})
    assert judge(verdicts) == (Verdict.REJECT, ("CHIP_CLONE_SUSPECTED",))
    setting = (
        "require_aa_when_present"
        if which == "active_authentication"
        else ("require_ca_when_present")
    )
    assert judge(verdicts, **{setting: False}) == (Verdict.ACCEPT, ())
    # A proof this gate cannot check is not held against the chip.
    assert judge(ChipVerdicts(True, **{which: Proof.UNSUPPORTED})) == (Verdict.ACCEPT, ())


def test_a_reader_that_does_not_inspect_is_referred_when_pa_is_required():
    assert judge(ChipVerdicts()) == (Verdict.REFER, ("CHIP_PA_NOT_RUN",))
    assert judge(ChipVerdicts(), require_pa=False) == (Verdict.ACCEPT, ())
    # Without PA the photo is not proven: the face is not compared with it.
    assert not ChipVerdicts().proves(2)


def test_the_gate_file_chooses_each_failures_action():
    verdicts = ChipVerdicts(
        True, (ChipFinding(ChipCheck.DS_UNTRUSTED), ChipFinding(ChipCheck.HASH_MISMATCH, 1))
    )
    # Rejections first, then referrals: every reason is kept for the officer.
    assert judge(verdicts) == (Verdict.REJECT, ("CHIP_HASH_MISMATCH", "CHIP_DS_UNTRUSTED"))
    lenient = judge(verdicts, on_failure={"CHIP_HASH_MISMATCH": "refer"})
    assert lenient[0] is Verdict.REFER
    assert set(lenient[1]) == {"CHIP_DS_UNTRUSTED", "CHIP_HASH_MISMATCH"}


def test_policy_chip_in_the_gate_files_policy():
    settings = DocumentPolicySettings.model_validate(
        {"chip": {"require_pa": False, "on_failure": {"CHIP_DS_UNTRUSTED": "reject"}}}
    )
    assert settings.chip.require_pa is False
    assert settings.chip.action(ChipCheck.DS_UNTRUSTED) == "reject"
    assert settings.chip.action(ChipCheck.SOD_MISSING) == "refer"
    with pytest.raises(ValidationError, match="CHIP_NONSENSE"):
        DocumentPolicySettings.model_validate({"chip": {"on_failure": {"CHIP_NONSENSE": "refer"}}})
    with pytest.raises(ValidationError):
        DocumentPolicySettings.model_validate(
            {"chip": {"on_failure": {"CHIP_DS_UNTRUSTED": "pass"}}}
        )
