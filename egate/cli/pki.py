"""``egate pki``: the test document PKI that signs virtual chips, and trust folders.

``egate pki import`` puts CSCA certificates and CRLs into a trust folder
(``egate.documents.pki.trustfolder``); ``egate pki list`` shows a trust
store's CSCAs by country and its CRLs, flagging what has expired, expires
soon or is stale (``egate.documents.pki.trustreport``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.documents.pki.errors import PkiError
from egate.documents.pki.testpki import KEY_TYPES, PKI_FILES, init_test_pki
from egate.documents.pki.trustfolder import (
    Action,
    Imported,
    ImportPlan,
    plan_import,
    write_import,
)
from egate.documents.pki.trustreport import CrlState, CrlStatus, CscaState, CscaStatus, assess
from egate.documents.pki.truststore import TrustStore


@click.group()
def pki() -> None:
    """Trust folders of CSCAs and CRLs, and test PKIs to issue virtual chips with.

    import and list keep a gate's trust store (the CSCAs passive
    authentication trusts). init writes a test CSCA and Document Signer: the
    keys are unencrypted and every certificate says TEST; they are for
    drills, commissioning and tests, never for real documents.
    """


@pki.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--country",
    default="UTO",
    show_default=True,
    help="Issuing state: ICAO code (as in the MRZ) or ISO 3166-1 alpha-2.",
)
@click.option(
    "--key-type",
    type=click.Choice(KEY_TYPES),
    default="brainpoolP256r1",
    show_default=True,
    help="Key type of the CSCA and the Document Signer.",
)
def init(directory: Path, country: str, key_type: str) -> int:
    """Write a test CSCA and Document Signer into DIRECTORY.

    Files: csca.pem, csca.key, ds.pem, ds.key. An existing PKI is never
    overwritten. Exit status: 0 written; 2 bad input or the folder is not
    writable.
    """
    try:
        made = init_test_pki(
            directory,
            country=country,
            now=datetime.now(UTC),
            key_type=key_type,  # type: ignore[arg-type]  # click.Choice checked it
        )
    except (PkiError, ValueError) as error:
        raise InputError(str(error)) from None
    subject = made.csca_certificate.subject.rfc4514_string()
    click.echo(f"test PKI written to {directory}: {', '.join(PKI_FILES)}")
    click.echo(f"CSCA {subject}, valid until {made.csca_certificate.not_valid_after_utc:%Y-%m-%d}")
    click.echo(
        "document signer valid until "
        f"{made.ds_certificate.not_valid_after_utc:%Y-%m-%d}; trust store: --trust {directory}"
    )
    click.echo("these keys are TEST keys: never sign a real document with them")
    return EXIT_OK


@pki.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--trust",
    "folder",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The trust folder to import into (made if missing).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be written; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def import_(sources: tuple[Path, ...], folder: Path, dry_run: bool, as_json: bool) -> int:
    """Import CSCA certificates and CRLs from SOURCE... into a trust folder.

    A SOURCE is an ICAO CSCA master list (its signature is checked, and its
    signer must be issued by a CSCA it lists), a certificate file (PEM or
    DER), a CRL file, or a folder of such files. Each CSCA is written as a
    file of its own named after its country and fingerprint, each CRL as one
    file per CSCA key (a newer CRL replaces an older); what the folder holds
    already is not written again. Certificates that are no CA are skipped.
    Nothing is written unless every source can be used.

    Exit status: 0 imported (or nothing new); 2 a source or the trust folder
    cannot be used (a master list whose signature fails is refused whole).
    """
    try:
        plan = plan_import(folder, list(sources), at=datetime.now(UTC))
        if not dry_run:
            write_import(plan)
    except PkiError as error:
        raise InputError(str(error)) from None
    if as_json:
        click.echo(json.dumps({**plan.to_dict(), "written": not dry_run}, indent=2))
        return EXIT_OK
    for master in plan.master_lists:
        signed = "" if master.signing_time is None else f" on {master.signing_time:%Y-%m-%d}"
        left_out = len(master.skipped)
        skipped = f" ({_count(left_out, 'entry', 'entries')} skipped)" if left_out else ""
        click.echo(
            f"master list {master.source}: signature OK, signed by {master.signer}{signed}, "
            f"{_count(len(master.certificates), 'CSCA certificate')}{skipped}"
        )
    for entry in plan.entries:
        click.echo(_import_line(entry, dry_run))
    for line in plan.skipped:
        click.echo(f"skipped: {line}")
    click.echo(f"trust folder {folder}: {_summary(plan, dry_run)}")
    return EXIT_OK


def _count(number: int, thing: str, plural: str | None = None) -> str:
    return f"{number} {thing if number == 1 else plural or thing + 's'}"


def _summary(plan: ImportPlan, dry_run: bool) -> str:
    """The import's counts that are not zero, or that nothing changed."""
    parts = [
        (plan.count(Action.ADDED, "csca"), "CSCA certificate", "added"),
        (plan.count(Action.ADDED, "crl"), "CRL", "added"),
        (plan.count(Action.REPLACED, "crl"), "CRL", "replaced an older one"),
        (plan.count(Action.PRESENT, "csca"), "CSCA certificate", "already there"),
        (plan.count(Action.PRESENT, "crl"), "CRL", "already there"),
        (plan.count(Action.OLDER, "crl"), "CRL", "older than one kept, not written"),
        (len(plan.skipped), "certificate", "skipped (no CA)"),
    ]
    said = "; ".join(f"{_count(n, thing)} {what}" for n, thing, what in parts if n) or "nothing"
    if dry_run:
        return f"{said} (dry run: nothing written)"
    return said if plan.writes else f"{said} (nothing changed)"


def _import_line(entry: Imported, dry_run: bool) -> str:
    action = entry.action.value
    if dry_run and entry.action in (Action.ADDED, Action.REPLACED):
        action = f"would be {action}"
    where = f"in {entry.file}" if entry.action is Action.PRESENT else entry.file
    note = "" if entry.note is None else f"; {entry.note}"
    if entry.certificate is not None:
        certificate = entry.certificate
        return (
            f"{action}: {certificate.country or '?'} {certificate.subject}, serial "
            f"{certificate.serial_number:X}, valid until {certificate.not_after:%Y-%m-%d} "
            f"({where}{note})"
        )
    assert entry.crl is not None
    item = entry.crl
    following = "none" if item.next_update is None else f"{item.next_update:%Y-%m-%d}"
    return (
        f"{action}: CRL of {item.issuer}, issued {item.this_update:%Y-%m-%d}, next update "
        f"{following}, {_count(len(item.revoked_serials), 'certificate')} revoked "
        f"({where}{note})"
    )


@pki.command("list")
@click.option(
    "--trust",
    "path",
    required=True,
    type=click.Path(path_type=Path),
    help="A trust folder, or one ICAO master list file.",
)
@click.option(
    "--soon",
    "soon_days",
    type=click.IntRange(min=0),
    default=90,
    show_default=True,
    help="Flag a CSCA that expires within this many days.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_(path: Path, soon_days: int, as_json: bool) -> int:
    """List the CSCAs of a trust store by country, with their validity, and its CRLs.

    A CSCA that has expired is flagged EXPIRED, one that expires within
    --soon days EXPIRES SOON; a CRL past its next update STALE (SUPERSEDED
    when a newer CRL of the same CSCA key is there, which is the one used).

    Exit status: 0 listed; 1 the store would make the gate refuse good
    documents: a CRL is stale (every document signer of its CSCA key reads
    DS_UNTRUSTED), or the store holds no CSCA at all (an expired CSCA is
    no such problem: master lists keep them); 2 the store cannot be loaded.
    """
    try:
        store = TrustStore.load(path)
    except PkiError as error:
        raise InputError(str(error)) from None
    report = assess(store, datetime.now(UTC), timedelta(days=soon_days))
    problems = report.problems()
    if as_json:
        click.echo(json.dumps({"trust": str(path), **report.to_dict()}, indent=2))
        return EXIT_FAILURE if problems else EXIT_OK
    countries = report.by_country()
    click.echo(
        f"trust store {path}: {_count(len(report.cscas), 'CSCA certificate')} of "
        f"{_count(len(countries), 'country', 'countries')}, {_count(len(report.crls), 'CRL')} "
        f"(at {report.at:%Y-%m-%d %H:%M} UTC; expiring soon: within {soon_days} days)"
    )
    for country, statuses in countries.items():
        click.echo(country)
        for status in statuses:
            click.echo(f"  {_csca_line(status)}")
    if report.crls:
        click.echo("CRLs")
        for crl_status in report.crls:
            click.echo(f"  {_crl_line(crl_status)}")
    if report.skipped:
        click.echo("skipped")
        for line in report.skipped:
            click.echo(f"  {line}")
    click.echo(
        f"{report.count(CscaState.EXPIRED)} expired, "
        f"{report.count(CscaState.EXPIRES_SOON)} expiring within {soon_days} days, "
        f"{report.count(CscaState.NOT_YET_VALID)} not yet valid; "
        f"{_count(report.count(CrlState.STALE), 'stale CRL')}"
    )
    for problem in problems:
        click.echo(f"PROBLEM {problem}")
    return EXIT_FAILURE if problems else EXIT_OK


def _csca_line(status: CscaStatus) -> str:
    certificate = status.certificate
    left = ""
    if status.state is CscaState.EXPIRES_SOON:
        left = f" ({_count(status.days_left, 'day')} left)"
    return (
        f"{status.state.value:<13} {certificate.not_before:%Y-%m-%d} to "
        f"{certificate.not_after:%Y-%m-%d}{left}  {certificate.subject}  "
        f"serial {certificate.serial_number:X}"
        f"{'' if certificate.self_signed else '  (link certificate)'}  [{certificate.source}]"
    )


def _crl_line(status: CrlStatus) -> str:
    item = status.crl
    following = "none" if item.next_update is None else f"{item.next_update:%Y-%m-%d %H:%M}"
    unused = "" if status.csca_found else "  (no CSCA of its issuer in the store)"
    return (
        f"{status.state.value:<13} next update {following}  {item.issuer}  "
        f"{_count(len(item.revoked_serials), 'certificate')} revoked{unused}  [{item.source}]"
    )
