"""``egate mrz``: read and validate machine readable zones."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO

import click
from rich.console import Console
from rich.table import Table

from egate.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, InputError
from egate.documents.layout import MrzFormat
from egate.documents.mrz import MAX_LINE_LENGTH, MrzFormatError, MrzResult, parse_mrz
from egate.documents.policy import DocumentPolicy, DocumentPolicySettings
from egate.documents.specimens import SPECIMENS
from egate.documents.states import state_name
from egate.privacy import Pseudonymizer

# The most lines an MRZ has (TD1).
MRZ_MAX_LINES = 3

# The TD3 specimen as a worn reader might send it: 0 for O in the issuing
# state, O for 0 in the birth date, 1 for I in the given names.
_MISREAD_TD3 = (
    "P<UT0ERIKSSON<<ANNA<MAR1A<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO69O8061F9406236ZE184226B<<<<<14",
)


@dataclass(frozen=True, slots=True)
class InputDocument:
    """The lines of one document in the input, and where it started."""

    first_line: int
    lines: list[str]
    # Set when a line was too long to be an MRZ line: (line number, its length).
    overlong: tuple[int, int] | None = None
    # Lines beyond the MRZ_MAX_LINES kept in ``lines``: counted, not kept.
    extra_lines: int = 0


def _bounded_lines(stream: BinaryIO) -> Iterator[tuple[int, str | None, int]]:
    """(line number, text or None when too long for an MRZ, length) for each line."""
    number = 0
    while raw := stream.readline(MAX_LINE_LENGTH + 2):
        number += 1
        length = len(raw.rstrip(b"\r\n"))
        if raw.endswith(b"\n") or len(raw) < MAX_LINE_LENGTH + 2:
            yield number, raw.decode("utf-8", errors="replace").strip(" \t\r\n"), length
            continue
        # Too long to be an MRZ line: measure the rest without keeping it.
        while raw and not raw.endswith(b"\n"):
            raw = stream.readline(1 << 16)
            length += len(raw.rstrip(b"\r\n"))
        yield number, None, length


def read_documents(stream: BinaryIO) -> Iterator[InputDocument]:
    """Documents in a byte stream: lines of one MRZ, a blank line between documents.

    Memory stays bounded whatever the input: a line longer than any MRZ line
    is measured and skipped, and lines beyond the most an MRZ has are counted,
    not kept.
    """
    lines: list[str] = []
    first = 0
    extra = 0
    overlong: tuple[int, int] | None = None
    for number, text, length in _bounded_lines(stream):
        if text is None:
            first = first or number
            overlong = overlong or (number, length)
        elif text:
            first = first or number
            if len(lines) < MRZ_MAX_LINES:
                lines.append(text)
            else:
                extra += 1
        else:
            if lines or overlong:
                yield InputDocument(first, lines, overlong, extra)
            lines, first, overlong, extra = [], 0, None, 0
    if lines or overlong:
        yield InputDocument(first, lines, overlong, extra)


def _human(console: Console, result: MrzResult, title: str) -> None:
    fields = result.fields
    status = "[green]valid[/]" if result.valid else "[red]INVALID[/]"
    table = Table(title=f"{title}: {result.format.value} {status}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")

    def state(code: str) -> str:
        name = state_name(code)
        return code if name is None else f"{code} - {name}"

    rows = [
        ("Document type", fields.document_type),
        ("Issuing state", state(fields.issuing_state)),
        ("Surname", fields.surname),
        ("Given names", fields.given_names),
        ("Document number", fields.document_number),
        ("Nationality", state(fields.nationality)),
        ("Birth date", fields.birth_date.isoformat() if fields.birth_date else "unknown"),
        ("Expiry date", fields.expiry_date.isoformat() if fields.expiry_date else "-"),
        ("Sex", fields.sex or "unspecified"),
        ("Optional data", fields.optional_data or "-"),
    ]
    if fields.optional_data_2 is not None:
        rows.append(("Optional data 2", fields.optional_data_2 or "-"))
    for name, value in rows:
        table.add_row(name, value, end_section=False)
    failed = [check for check in result.checks if not check.ok]
    table.add_section()
    if failed:
        for check in failed:
            table.add_row(f"[red]{check.code}[/]", f"{check.name}: {check.detail}")
    else:
        table.add_row("Checks", f"all {len(result.checks)} passed")
    for repair in result.repairs:
        table.add_row("[yellow]Repaired[/]", repair.describe())
    console.print(table)


@click.group(no_args_is_help=True)
def mrz() -> None:
    """Read and validate ICAO 9303 machine readable zones (TD1, TD2, TD3, MRV-A, MRV-B)."""


@mrz.command()
@click.argument("lines", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document per line.")
@click.option("--no-repair", is_flag=True, help="Report OCR confusions instead of repairing them.")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Date that two-digit years are read against (default: today).",
)
def parse(lines: tuple[str, ...], as_json: bool, no_repair: bool, today: object) -> int:
    """Parse and validate MRZ LINES, or documents on standard input.

    On standard input, a blank line separates documents. A result shows every
    field, the checks that failed with their reason codes, and each OCR
    repair made (0/O, 1/I, 5/S, 8/B, 2/Z undone only where the check digits
    prove it).

    Exit status: 0 every document valid, 1 some document invalid, 2 some
    input cannot be read as an MRZ at all.
    """
    reference = today.date() if hasattr(today, "date") else date.today()
    if lines:
        documents: Iterator[InputDocument] = iter([InputDocument(0, list(lines))])
    else:
        documents = read_documents(sys.stdin.buffer)
    console = Console(highlight=False, soft_wrap=False)
    status = EXIT_OK
    seen = 0
    for index, document in enumerate(documents, start=1):
        seen += 1
        where = (
            "the argument lines"
            if document.first_line == 0
            else f"stdin document {index} (line {document.first_line})"
        )
        try:
            if document.overlong is not None:
                line, length = document.overlong
                raise MrzFormatError(f"line {line} has {length} characters, no MRZ line has")
            if document.extra_lines:
                count = len(document.lines) + document.extra_lines
                raise MrzFormatError(f"{count} lines, no MRZ has more than {MRZ_MAX_LINES}")
            result = parse_mrz(document.lines, reference, repair=not no_repair)
        except MrzFormatError as error:
            click.echo(f"egate mrz parse: error: {where}: not an MRZ: {error}", err=True)
            status = EXIT_USAGE
            continue
        if as_json:
            click.echo(json.dumps(result.to_json(), separators=(",", ":")))
        else:
            _human(console, result, f"Document {index}")
        if not result.valid and status == EXIT_OK:
            status = EXIT_FAILURE
    if seen == 0:
        raise InputError("no MRZ lines given (as arguments or on standard input)")
    return status


@mrz.command()
def specimens() -> int:
    """Check the ICAO 9303 specimen documents at a gate with the default policy.

    Parses the specimen MRZ of every format and a misread passport that OCR
    repair restores, then shows what a gate's document policy decides today.
    Exit status 0 when every specimen reads as valid.
    """
    console = Console(highlight=False)
    now = datetime.now()
    policy = DocumentPolicy(DocumentPolicySettings(), Pseudonymizer.ephemeral())
    table = Table(title=f"ICAO 9303 specimens at a gate on {now.date().isoformat()}")
    for column in ("document", "format", "MRZ", "repaired", "policy", "reasons"):
        table.add_column(column, overflow="fold")
    samples = [(f"specimen {fmt.value}", lines) for fmt, lines in SPECIMENS.items()]
    samples.append(("misread TD3", _MISREAD_TD3))
    all_valid = True
    repairs: list[str] = []
    for label, lines in samples:
        result = parse_mrz(lines, now.date())
        decision = policy.evaluate(result, now)
        all_valid &= result.valid
        repairs.extend(f"{label}: {repair.describe()}" for repair in result.repairs)
        table.add_row(
            label,
            result.format.value,
            "[green]valid[/]" if result.valid else f"[red]invalid[/] {', '.join(result.failures)}",
            str(len(result.repairs)),
            decision.verdict.value,
            "\n".join(decision.reasons) or "-",
        )
    console.print(table)
    for line in repairs:
        console.print(f"[yellow]repaired[/] {line}")
    console.print(
        "An MRZ can be sound and its document still refused: the specimens expired long ago "
        "(EXPIRED), and the default policy admits passports only "
        f"({', '.join(policy.settings.eligible_document_types)}) "
        f"from age {policy.settings.min_age_years}."
    )
    console.print(
        f"Formats: {', '.join(fmt.value for fmt in MrzFormat)}. Try: egate mrz parse --help"
    )
    return EXIT_OK if all_valid else EXIT_FAILURE
