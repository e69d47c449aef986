"""``egate pki``: the test document PKI that signs virtual chips."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from egate.cli.errors import EXIT_OK, InputError
from egate.documents.pki.errors import PkiError
from egate.documents.pki.testpki import KEY_TYPES, PKI_FILES, init_test_pki


@click.group()
def pki() -> None:
    """Test PKIs: a CSCA and a Document Signer to issue virtual chips with.

    The keys are written unencrypted and every certificate says TEST: they
    are for drills, commissioning and tests, never for real documents.
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
